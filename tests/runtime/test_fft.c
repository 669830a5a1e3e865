/* test_fft.c — the FFTW negacyclic product against an exact schoolbook
 * product mod X^N+1, and the exact 16-bit-limb product used at keygen.
 *
 * Error bound checked (documented in docs/runtime.md): for a torus
 * polynomial a (64-bit) times an integer polynomial d with |d_j| <= B/2, the
 * double-precision result differs from the exact one by at most
 *   2^-53 * 2^63 * (B/2) * N * c,   c = 8 (log-depth rounding growth),
 * measured errors are far below it; the test prints the worst seen. */
#include "cml_test.h"
#include "fft.h"
#include "internal.h"

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
            cml_cplx *fa = cml_fft_alloc(fft, 1), *fd = cml_fft_alloc(fft, 1), *acc = cml_fft_alloc(fft, 1);
            cml_rng_uniform(&rng, a, N);
            uint64_t r[1];
            for (uint32_t j = 0; j < N; j++) {
                cml_rng_uniform(&rng, r, 1);
                d[j] = (int64_t)(r[0] % (UINT64_C(1) << base_log)) - (INT64_C(1) << (base_log - 1));
            }
            schoolbook(exact, a, d, N);
            cml_fft_forward_torus(fft, fa, a);
            cml_fft_forward_i64(fft, fd, d);
            memset(acc, 0, fft->half * sizeof *acc);
            cml_fft_mac(fft, acc, fa, fd);
            cml_fft_backward_add_torus(fft, acc, got);
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
            cml_fft_free(fa), cml_fft_free(fd), cml_fft_free(acc);
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
    cml_cplx *fa = cml_fft_alloc(fft, 1), *fd = cml_fft_alloc(fft, 1), *acc = cml_fft_alloc(fft, 1);
    cml_fft_forward_torus(fft, fa, a);
    cml_fft_forward_i64(fft, fd, d);
    cml_fft_mul(fft, acc, fa, fd);
    cml_fft_backward_add_torus(fft, acc, got);
    CU_ASSERT_EQUAL(memcmp(got, exact, sizeof got), 0);
    cml_fft_free(fa), cml_fft_free(fd), cml_fft_free(acc);
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
    cml_cplx *kf = cml_fft_alloc(fft, k), *scratch = cml_fft_alloc(fft, 5);
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
    cml_fft_free(kf), cml_fft_free(scratch);
    cml_context_destroy(ctx);
}

CU_TestInfo cml_tests_fft[] = {
    {"product_vs_schoolbook", test_product_vs_schoolbook},
    {"small_products_exact", test_small_products_exact},
    {"glwe_encrypt_exact", test_glwe_encrypt_exact},
    CU_TEST_INFO_NULL,
};
