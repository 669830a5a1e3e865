/* test_fft.c — the runtime's transform against FFTW's (the same values, in
 * the transform's own order) and against itself (the inverse undoes it), the
 * negacyclic product against an exact schoolbook product mod X^N+1, and the
 * exact 16-bit-limb product used at keygen.
 *
 * Error bound checked (documented in docs/runtime.md): for a torus
 * polynomial a (64-bit) times an integer polynomial d with |d_j| <= B/2, the
 * double-precision result differs from the exact one by at most
 *   2^-53 * 2^63 * (B/2) * N * c,   c = 8 (log-depth rounding growth),
 * measured errors are far below it; the test prints the worst seen. */
#include "cml_test.h"
#include "fft.h"
#include "internal.h"

#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* out = a * b mod (X^N + 1, 2^64), exact */
static void schoolbook(uint64_t *out, const uint64_t *a, const int64_t *b, uint32_t N) {
    memset(out, 0, N * sizeof *out);
    for (uint32_t i = 0; i < N; i++)
        for (uint32_t j = 0; j < N; j++) {
            uint64_t t = a[i] * (uint64_t)b[j];
            if (i + j < N)
                out[i + j] += t;
            else
                out[i + j - N] -= t;
        }
}

/* The forward transform of random points holds FFTW's DFT of them, each
 * value once (in an order of its own): matched greedily, every value within
 * 2^-40 of its partner (the inputs are below 1 in modulus, the outputs below
 * N/2). And the inverse brings the input back, times N/2, for every N the
 * parameters allow. */
static void test_transform_vs_fftw(void) {
    cml_context *ctx;
    CU_ASSERT_EQUAL_FATAL(cml_context_create(1, &ctx), CML_OK);
    cml_rng rng;
    cml_rng_init(&rng);
    for (uint32_t N = CML_FFT_MIN_N; N <= (UINT32_C(1) << 17); N *= 2) {
        const cml_fft *fft;
        CU_ASSERT_EQUAL_FATAL(cml_context_fft(ctx, N, &fft), CML_OK);
        const size_t h = N / 2;
        double *x = cml_fft_alloc(fft, 1), *orig = malloc(N * sizeof *orig);
        for (size_t j = 0; j < N; j++) {
            uint64_t r[1];
            cml_rng_uniform(&rng, r, 1);
            orig[j] = x[j] = (double)(r[0] >> 11) * 0x1p-53 * 2 - 1;
        }
        cml_fft_forward(fft, x, NULL);
        double worst_match = 0;
        if (N <= 4096) {
            fftw_complex *in = fftw_malloc(h * sizeof *in), *out = fftw_malloc(h * sizeof *out);
            fftw_plan plan = fftw_plan_dft_1d((int)h, in, out, FFTW_FORWARD, FFTW_ESTIMATE);
            for (size_t j = 0; j < h; j++) in[j][0] = orig[j], in[j][1] = orig[h + j];
            fftw_execute(plan);
            char *used = calloc(h, 1);
            for (size_t j = 0; j < h; j++) {
                double best = INFINITY;
                size_t at = 0;
                for (size_t q = 0; q < h; q++) {
                    double d = fabs(x[j] - out[q][0]) + fabs(x[h + j] - out[q][1]);
                    if (!used[q] && d < best) best = d, at = q;
                }
                used[at] = 1;
                if (best > worst_match) worst_match = best;
            }
            free(used);
            fftw_destroy_plan(plan);
            fftw_free(in), fftw_free(out);
            CU_ASSERT(worst_match <= 0x1p-40);
        }
        cml_fft_backward(fft, x, NULL);
        double worst_round = 0;
        for (size_t j = 0; j < N; j++) {
            double e = fabs(x[j] / (double)h - orig[j]);
            if (e > worst_round) worst_round = e;
        }
        if (N <= 4096)
            printf("\n    N=%u: against FFTW 2^%.1f, round trip 2^%.1f", N, log2(worst_match),
                   log2(worst_round));
        else /* the quadratic matching would dominate the suite */
            printf("\n    N=%u: round trip 2^%.1f", N, log2(worst_round));
        CU_ASSERT(worst_round <= 0x1p-44);
        free(x), free(orig);
    }
    CU_ASSERT_EQUAL(cml_context_fft(ctx, CML_FFT_MIN_N / 2, &(const cml_fft *){NULL}), CML_ERR_ARG);
    cml_context_destroy(ctx);
}

static void test_product_vs_schoolbook(void) {
    cml_context *ctx;
    CU_ASSERT_EQUAL_FATAL(cml_context_create(1, &ctx), CML_OK);
    cml_rng rng;
    cml_rng_init(&rng);
    for (uint32_t N = 256; N <= 2048; N *= 2) {
        for (uint32_t base_log = 4; base_log <= 22; base_log += 9) {
            const cml_fft *fft;
            CU_ASSERT_EQUAL_FATAL(cml_context_fft(ctx, N, &fft), CML_OK);
            uint64_t *a = malloc(N * 8), *exact = malloc(N * 8), *got = calloc(N, 8);
            int64_t *d = malloc(N * 8);
            double *fa = cml_fft_alloc(fft, 1), *fd = cml_fft_alloc(fft, 1), *acc = cml_fft_alloc(fft, 1);
            cml_rng_uniform(&rng, a, N);
            uint64_t r[1];
            for (uint32_t j = 0; j < N; j++) {
                cml_rng_uniform(&rng, r, 1);
                d[j] = (int64_t)(r[0] % (UINT64_C(1) << base_log)) - (INT64_C(1) << (base_log - 1));
            }
            schoolbook(exact, a, d, N);
            cml_fft_forward_torus(fft, fa, a);
            cml_fft_forward_i64(fft, fd, d);
            memset(acc, 0, N * sizeof *acc);
            cml_fft_mac(fft, acc, fa, fd);
            cml_fft_backward_add_torus(fft, acc, got, NULL);
            double worst = 0;
            for (uint32_t j = 0; j < N; j++) {
                double e = fabs((double)(int64_t)(got[j] - exact[j]));
                if (e > worst) worst = e;
            }
            double bound = ldexp(1.0, -53 + 63 + (int)base_log - 1) * N * 8;
            printf("\n    N=%u base 2^%u: worst error 2^%.1f, bound 2^%.1f", N, base_log,
                   worst > 0 ? log2(worst) : -INFINITY, log2(bound));
            CU_ASSERT(worst <= bound);
            free(a), free(exact), free(got), free(d);
            free(fa), free(fd), free(acc);
        }
    }
    cml_context_destroy(ctx);
}

/* An integer-only product (small values) must come back exactly. */
static void test_small_products_exact(void) {
    cml_context *ctx;
    CU_ASSERT_EQUAL_FATAL(cml_context_create(1, &ctx), CML_OK);
    const uint32_t N = 1024;
    const cml_fft *fft;
    CU_ASSERT_EQUAL_FATAL(cml_context_fft(ctx, N, &fft), CML_OK);
    uint64_t a[1024], exact[1024], got[1024] = {0};
    int64_t d[1024];
    for (uint32_t j = 0; j < N; j++) {
        a[j] = (uint64_t)(int64_t)((int)(j * 37 % 201) - 100);
        d[j] = (int64_t)(j * 11 % 17) - 8;
    }
    schoolbook(exact, a, d, N);
    double *fa = cml_fft_alloc(fft, 1), *fd = cml_fft_alloc(fft, 1), *acc = cml_fft_alloc(fft, 1);
    cml_fft_forward_torus(fft, fa, a);
    cml_fft_forward_i64(fft, fd, d);
    cml_fft_mul(fft, acc, fa, fd);
    cml_fft_backward_add_torus(fft, acc, got, NULL);
    CU_ASSERT_EQUAL(memcmp(got, exact, sizeof got), 0);
    free(fa), free(fd), free(acc);
    cml_context_destroy(ctx);
}

/* The keygen GLWE product (limbs) is exact for full 64-bit masks: the body
 * minus the mask-key product must be exactly the noise-free message. */
static void test_glwe_encrypt_exact(void) {
    cml_context *ctx;
    CU_ASSERT_EQUAL_FATAL(cml_context_create(1, &ctx), CML_OK);
    const uint32_t N = 512, k = 2;
    const cml_fft *fft;
    CU_ASSERT_EQUAL_FATAL(cml_context_fft(ctx, N, &fft), CML_OK);
    uint64_t key[2 * 512], ct[3 * 512], msg[512], phase[512], tmp[512];
    cml_random_secret_bits(key, k * N);
    cml_rng rng;
    cml_rng_init(&rng);
    cml_rng_uniform(&rng, msg, N);
    double *kf = cml_fft_alloc(fft, k), *scratch = cml_fft_alloc(fft, 2);
    cml_glwe_key_fourier(fft, key, k, kf);
    cml_glwe_encrypt_raw(&rng, fft, ct, kf, k, msg, 0.0, scratch);
    memcpy(phase, ct + k * N, sizeof phase);
    for (uint32_t i = 0; i < k; i++) {
        int64_t kd[512];
        for (uint32_t j = 0; j < N; j++) kd[j] = (int64_t)key[i * N + j];
        schoolbook(tmp, ct + i * N, kd, N);
        for (uint32_t j = 0; j < N; j++) phase[j] -= tmp[j];
    }
    CU_ASSERT_EQUAL(memcmp(phase, msg, sizeof msg), 0);
    free(kf), free(scratch);
    cml_context_destroy(ctx);
}

CU_TestInfo cml_tests_fft[] = {
    {"transform_vs_fftw", test_transform_vs_fftw},
    {"product_vs_schoolbook", test_product_vs_schoolbook},
    {"small_products_exact", test_small_products_exact},
    {"glwe_encrypt_exact", test_glwe_encrypt_exact},
    CU_TEST_INFO_NULL,
};
