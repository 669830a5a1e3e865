/* test_noise.c — the noise model is measured, not assumed: the sample
 * variance of fresh encryption, keyswitch output, modulus switch error
 * (plain and centred) and PBS output must each lie within a factor 2 of
 * the prediction of params.c. The ratios measured/predicted are printed.
 *
 * Sample sizes at CML_TEST_SCALE=1: 20000 fresh, 1000 keyswitches, 1000
 * modulus switches, 600 bootstraps. The relative standard deviation of a
 * sample variance of m Gaussian samples is sqrt(2/m): at most 5.8% here
 * (13% at the sanitizer build's 0.2 scale), so a factor 2 either way is
 * many standard deviations: a failure means the model or the code is wrong. */
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

static noise_keys *keys;

static void keys_free(void) {
    if (!keys) return;
    cml_server_key_destroy(keys->sk);
    cml_client_key_destroy(keys->ck);
    cml_context_destroy(keys->ctx);
    free(keys);
    keys = NULL;
}

/* 4-bit parameters: the precision the demo and most examples use */
static noise_keys *get_keys(void) {
    if (keys) return keys;
    keys = calloc(1, sizeof *keys);
    CU_ASSERT_EQUAL_FATAL(cml_params_select(4, 1.0, ldexp(1, -40), &keys->params), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_context_create(0, &keys->ctx), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_client_key_create(&keys->params, &keys->ck), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_server_key_create(keys->ctx, keys->ck, &keys->sk), CML_OK);
    atexit(keys_free);
    return keys;
}

static size_t at_least(size_t base, size_t floor) {
    size_t n = cml_test_samples(base);
    return n < floor ? floor : n;
}

/* Checks measured/predicted in [1/2, 2] and prints it. */
static void check_ratio(const char *what, double measured, double predicted, size_t samples) {
    double r = measured / predicted;
    printf("\n    %-28s measured 2^%.2f predicted 2^%.2f ratio %.3f (%zu samples)", what,
           log2(measured), log2(predicted), r, samples);
    CU_ASSERT(r >= 0.5 && r <= 2.0);
}

static double torus_signed(uint64_t e) { return (double)(int64_t)e * 0x1p-64; }

static void test_fresh_encryption(void) {
    noise_keys *k = get_keys();
    const size_t m = at_least(20000, 2000), sz = cml_lwe_size(&k->params);
    uint64_t *ct = malloc(sz * 8);
    double sum2 = 0;
    for (size_t i = 0; i < m; i++) {
        uint64_t pt = cml_encode((int64_t)(i % 16), 4), ph;
        CU_ASSERT_EQUAL_FATAL(cml_lwe_encrypt(k->ck, ct, pt), CML_OK);
        cml_lwe_phase(k->ck, ct, &ph);
        double e = torus_signed(ph - pt);
        sum2 += e * e;
    }
    check_ratio("fresh GLWE-key encryption", sum2 / (double)m, cml_noise_fresh_glwe(&k->params), m);
    free(ct);
}

/* Keyswitch outputs and the modulus switches of those outputs. */
static void test_keyswitch_and_modswitch(void) {
    noise_keys *k = get_keys();
    const cml_params *p = &k->params;
    const size_t m = at_least(1000, 200), sz = cml_lwe_size(p), n = p->lwe_dimension;
    uint32_t log2_2n = 1;
    while ((UINT32_C(1) << log2_2n) < 2 * p->polynomial_size) log2_2n++;
    const double w = (double)(2 * p->polynomial_size);
    uint64_t *ct = malloc(sz * 8);
    uint32_t *small = malloc((n + 1) * 4), *sw = malloc((n + 1) * 4);
    double ks2 = 0, ms2 = 0, msc2 = 0;
    for (size_t i = 0; i < m; i++) {
        uint64_t pt = cml_encode((int64_t)(i % 16), 4);
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
    check_ratio("keyswitch output", ks2 / (double)m,
                cml_noise_keyswitch(p) + cml_noise_fresh_glwe(p), m);
    check_ratio("modulus switch (plain)", ms2 / (double)m, cml_noise_modswitch(p), m);
    check_ratio("modulus switch (centred)", msc2 / (double)m, cml_noise_modswitch_centered(p), m);
    free(ct);
    free(small);
    free(sw);
}

static void test_pbs_output(void) {
    noise_keys *k = get_keys();
    const cml_params *p = &k->params;
    const size_t m = at_least(600, 100), sz = cml_lwe_size(p);
    int64_t table[16], *msgs = malloc(m * 8);
    for (int i = 0; i < 16; i++) table[i] = (i * 5 + 2) % 16;
    for (size_t i = 0; i < m; i++) msgs[i] = (int64_t)(i % 16);
    cml_lut *lut;
    cml_ct *ct;
    CU_ASSERT_EQUAL_FATAL(cml_lut_create(p, 4, 0, 4, table, &lut), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_encrypt(k->ck, msgs, m, 4, &ct), CML_OK);
    const cml_lut *luts[1] = {lut};
    CU_ASSERT_EQUAL_FATAL(cml_pbs_batch(k->ctx, k->sk, luts, 1, cml_ct_data(ct), cml_ct_cdata(ct), m), CML_OK);
    double s2 = 0;
    for (size_t i = 0; i < m; i++) {
        uint64_t ph, pt = cml_encode(table[msgs[i]], 4);
        cml_lwe_phase(k->ck, cml_ct_cdata(ct) + i * sz, &ph);
        double e = torus_signed(ph - pt);
        s2 += e * e;
    }
    check_ratio("PBS output", s2 / (double)m, cml_noise_pbs(p), m);
    cml_lut_destroy(lut);
    cml_ct_destroy(ct);
    free(msgs);
}

CU_TestInfo cml_tests_noise[] = {
    {"fresh_encryption", test_fresh_encryption},
    {"keyswitch_and_modswitch", test_keyswitch_and_modswitch},
    {"pbs_output", test_pbs_output},
    CU_TEST_INFO_NULL,
};
