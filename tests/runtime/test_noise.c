/* test_noise.c — the noise model is measured, not assumed: the sample
 * variance of fresh encryption, keyswitch output, modulus switch error
 * (plain and centred) and PBS output must each lie within a factor 2 of
 * the prediction of params.c. The ratios measured/predicted are printed.
 *
 * Sample sizes at CML_TEST_SCALE=1: 20000 fresh, 1000 keyswitches, 1000
 * modulus switches, 40 bootstraps x N accumulator coefficients (81920 at
 * N = 2048). The relative standard deviation of a sample variance of m
 * Gaussian samples is sqrt(2/m): at most 4.5% here (10% at the sanitizer
 * build's 0.2 scale, where floors of 2000/200/200/10 runs apply), so a
 * factor 2 either way is many standard deviations: a failure means the
 * model or the code is wrong. */
#include "cml_test.h"
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct noise_keys {
    cml_params params;
    cml_context *ctx;
    cml_client_key *ck;
    cml_server_key *sk;
} noise_keys;

/* Measured at three precisions, whose sets differ in every dimension
 * (2: k=3 N=2^9; 4: k=1 N=2^11; 6: k=1 N=2^13), so a model right for one
 * set only cannot pass. */
enum { N_SETS = 3 };
static const uint32_t set_precision[N_SETS] = {2, 4, 6};
static noise_keys *keys[N_SETS];

static void keys_free(void) {
    for (int i = 0; i < N_SETS; i++) {
        if (!keys[i]) continue;
        cml_server_key_destroy(keys[i]->sk);
        cml_client_key_destroy(keys[i]->ck);
        cml_context_destroy(keys[i]->ctx);
        free(keys[i]);
        keys[i] = NULL;
    }
}

static noise_keys *get_keys(int set) {
    if (keys[set]) return keys[set];
    noise_keys *k = keys[set] = calloc(1, sizeof *k);
    int first = 1;
    for (int i = 0; i < N_SETS; i++) first &= i == set || !keys[i];
    if (first) atexit(keys_free);
    CU_ASSERT_EQUAL_FATAL(cml_params_select(set_precision[set], 1.0, ldexp(1, -40), &k->params), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_context_create(0, &k->ctx), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_client_key_create(&k->params, &k->ck), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_server_key_create(k->ctx, k->ck, &k->sk), CML_OK);
    return k;
}

static size_t at_least(size_t base, size_t floor) {
    size_t n = cml_test_samples(base);
    return n < floor ? floor : n;
}

/* Checks measured/predicted in [1/2, 2] and prints it. */
static void check_ratio(const char *what, double measured, double predicted, size_t samples) {
    double r = measured / predicted;
    printf("\n    %-32s measured 2^%.2f predicted 2^%.2f ratio %.3f (%zu samples)", what,
           log2(measured), log2(predicted), r, samples);
    CU_ASSERT(r >= 0.5 && r <= 2.0);
}

static double torus_signed(uint64_t e) { return (double)(int64_t)e * 0x1p-64; }

static void test_fresh_encryption_at(int set) {
    noise_keys *k = get_keys(set);
    const uint32_t P = set_precision[set];
    char what[64];
    const size_t m = at_least(20000, 2000), sz = cml_lwe_size(&k->params);
    uint64_t *ct = malloc(sz * 8);
    double sum2 = 0;
    for (size_t i = 0; i < m; i++) {
        uint64_t pt = cml_encode((int64_t)(i % (1u << P)), P), ph;
        CU_ASSERT_EQUAL_FATAL(cml_lwe_encrypt(k->ck, ct, pt), CML_OK);
        cml_lwe_phase(k->ck, ct, &ph);
        double e = torus_signed(ph - pt);
        sum2 += e * e;
    }
    snprintf(what, sizeof what, "p=%u fresh encryption", P);
    check_ratio(what, sum2 / (double)m, cml_noise_fresh_glwe(&k->params), m);
    free(ct);
}

/* Keyswitch outputs and the modulus switches of those outputs. */
static void test_keyswitch_and_modswitch_at(int set) {
    noise_keys *k = get_keys(set);
    const uint32_t P = set_precision[set];
    char what[64];
    const cml_params *p = &k->params;
    const size_t m = at_least(1000, 200), sz = cml_lwe_size(p), n = p->lwe_dimension;
    const uint32_t log2_2n = cml_log2_2n(p->polynomial_size);
    const double w = (double)(2 * p->polynomial_size);
    uint64_t *ct = malloc(sz * 8);
    uint32_t *small = malloc((n + 1) * 4), *sw = malloc((n + 1) * 4);
    double ks2 = 0, ms2 = 0, msc2 = 0;
    for (size_t i = 0; i < m; i++) {
        uint64_t pt = cml_encode((int64_t)(i % (1u << P)), P);
        CU_ASSERT_EQUAL_FATAL(cml_lwe_encrypt(k->ck, ct, pt), CML_OK);
        cml_keyswitch_raw(k->sk, small, ct);
        uint32_t ph = cml_lwe_phase_raw32(small, k->ck->lwe_key, n);
        double e = (double)(int32_t)(ph - cml_torus_to32(pt)) * 0x1p-32;
        ks2 += e * e;
        /* modulus switch error: switched phase vs the exact phase, in Z_2N units */
        double exact = (double)ph * 0x1p-32 * w;
        for (int centered = 0; centered < 2; centered++) {
            if (centered) {
                cml_modswitch_centered(small, (uint32_t)n, log2_2n, sw);
            } else {
                for (size_t j = 0; j <= n; j++) sw[j] = cml_modswitch(small[j], log2_2n);
            }
            uint64_t phi = sw[n];
            for (size_t j = 0; j < n; j++) phi -= (uint64_t)sw[j] * k->ck->lwe_key[j];
            phi &= (UINT64_C(1) << log2_2n) - 1;
            double d = (double)phi - exact;
            d -= w * nearbyint(d / w);
            double et = d / w;
            if (centered)
                msc2 += et * et;
            else
                ms2 += et * et;
        }
    }
    /* the keyswitch output carries the input's fresh noise too */
    snprintf(what, sizeof what, "p=%u keyswitch output", P);
    check_ratio(what, ks2 / (double)m, cml_noise_keyswitch(p) + cml_noise_fresh_glwe(p), m);
    snprintf(what, sizeof what, "p=%u modulus switch (plain)", P);
    check_ratio(what, ms2 / (double)m, cml_noise_modswitch(p), m);
    snprintf(what, sizeof what, "p=%u modulus switch (centred)", P);
    check_ratio(what, msc2 / (double)m, cml_noise_modswitch_centered(p), m);
    free(ct);
    free(small);
    free(sw);
}

/* Every coefficient of the accumulator after blind rotation carries the
 * PBS output noise (coefficient 0 is what sample extraction returns), so
 * one bootstrap yields N samples. The expected coefficients follow from the
 * exact modulus-switched phase, which the test computes with the secret key. */
static void test_pbs_output_at(int set) {
    noise_keys *k = get_keys(set);
    const uint32_t P = set_precision[set];
    char what[64];
    const cml_params *p = &k->params;
    const uint32_t N = p->polynomial_size, kk = p->glwe_dimension, n = p->lwe_dimension;
    const size_t runs = at_least(40, 10), sz = cml_lwe_size(p);
    const uint32_t log2_2n = cml_log2_2n(N);
    const uint32_t M = 1u << P;
    int64_t table[64];
    for (uint32_t i = 0; i < M; i++) table[i] = (int64_t)((i * 5 + 2) % M);
    cml_lut *lut;
    CU_ASSERT_EQUAL_FATAL(cml_lut_create(p, P, 0, P, table, &lut), CML_OK);
    uint64_t *ct = malloc(sz * 8), *acc = malloc((size_t)(kk + 1) * N * 8), *phase = malloc(N * 8);
    uint32_t *small = malloc((n + 1) * 4);
    double s2 = 0;
    size_t m = 0;
    for (size_t r = 0; r < runs; r++) {
        CU_ASSERT_EQUAL_FATAL(cml_lwe_encrypt(k->ck, ct, cml_encode((int64_t)(r % M), P)), CML_OK);
        cml_keyswitch_raw(k->sk, small, ct);
        CU_ASSERT_EQUAL_FATAL(cml_blind_rotate_acc(k->ctx, k->sk, lut, small, acc), CML_OK);
        /* exact rotation amount: the switched phase */
        uint64_t phi = cml_modswitch(small[n], log2_2n);
        for (uint32_t i = 0; i < n; i++) phi -= (uint64_t)cml_modswitch(small[i], log2_2n) * k->ck->lwe_key[i];
        phi &= 2 * N - 1;
        /* phase of the accumulator: B - sum_c A_c * S_c (binary key: additions) */
        memcpy(phase, acc + (size_t)kk * N, N * 8);
        for (uint32_t c = 0; c < kk; c++) {
            const uint64_t *A = acc + (size_t)c * N, *S = k->ck->glwe_key + (size_t)c * N;
            for (uint32_t j = 0; j < N; j++) {
                if (!S[j]) continue;
                for (uint32_t i = 0; i < N - j; i++) phase[i + j] -= A[i];
                for (uint32_t i = N - j; i < N; i++) phase[i + j - N] += A[i];
            }
        }
        for (uint32_t j = 0; j < N; j++) {
            /* coefficient j of X^-phi * lut = +-lut[(j + phi) mod N] */
            uint64_t idx = (j + phi) % (2 * N);
            uint64_t want = idx < N ? lut->poly[idx] : (uint64_t)0 - lut->poly[idx - N];
            double e = torus_signed(phase[j] - want);
            s2 += e * e;
            m++;
        }
    }
    snprintf(what, sizeof what, "p=%u PBS output", P);
    check_ratio(what, s2 / (double)m, cml_noise_pbs(p), m);
    cml_lut_destroy(lut);
    free(ct);
    free(acc);
    free(phase);
    free(small);
}

static void test_fresh_encryption(void) {
    for (int i = 0; i < N_SETS; i++) test_fresh_encryption_at(i);
}
static void test_keyswitch_and_modswitch(void) {
    for (int i = 0; i < N_SETS; i++) test_keyswitch_and_modswitch_at(i);
}
static void test_pbs_output(void) {
    for (int i = 0; i < N_SETS; i++) test_pbs_output_at(i);
}

CU_TestInfo cml_tests_noise[] = {
    {"fresh_encryption", test_fresh_encryption},
    {"keyswitch_and_modswitch", test_keyswitch_and_modswitch},
    {"pbs_output", test_pbs_output},
    CU_TEST_INFO_NULL,
};
