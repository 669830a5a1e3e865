/* test_pbs.c — programmable bootstrapping decrypts exactly, measured: for
 * every precision 1..8 at the default failure probability (2^-40), every
 * message goes through several tables (identity, negation into a wider
 * signed output, a random table, a signed-input table), with per-ciphertext
 * tables in one batch, and a chain PBS -> linear op -> PBS.
 *
 * Sample sizes (CML_TEST_SCALE=1): per table 1024 at p <= 4, 256 at p = 5-6,
 * 16 at p = 7-8 (one bootstrap there takes 0.2-1 s), plus up to 64 each for
 * the signed and chain cases: 3200 / 896 / 80 bootstraps per precision. At
 * 2^-40 per bootstrap the chance of any failure in the whole suite is below
 * 2^-26, so a single wrong result is a bug, not bad luck. */
#include "cml_test.h"
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static cml_context *shared_ctx;
static void ctx_free(void) { cml_context_destroy(shared_ctx); }
static cml_context *ctx(void) {
    if (!shared_ctx) {
        CU_ASSERT_EQUAL_FATAL(cml_context_create(0, &shared_ctx), CML_OK);
        atexit(ctx_free);
    }
    return shared_ctx;
}

typedef struct keyset {
    cml_params params;
    cml_client_key *ck;
    cml_server_key *sk;
} keyset;

static void keys_make(uint32_t p, keyset *ks) {
    CU_ASSERT_EQUAL_FATAL(cml_params_select(p, 1.0, ldexp(1, -40), &ks->params), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_client_key_create(&ks->params, &ks->ck), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_server_key_create(ctx(), ks->ck, &ks->sk), CML_OK);
}

static void keys_free(keyset *ks) {
    cml_server_key_destroy(ks->sk);
    cml_client_key_destroy(ks->ck);
}

/* Encrypts msgs, bootstraps each through luts (1 or count), decrypts at
 * out_bits, returns the number of results differing from want. */
static size_t bootstrap_and_count(const keyset *ks, const int64_t *msgs, size_t count,
                                  uint32_t in_bits, const cml_lut *const *luts, size_t lut_count,
                                  uint32_t out_bits, const int64_t *want) {
    cml_ct *ct;
    CU_ASSERT_EQUAL_FATAL(cml_encrypt(ks->ck, msgs, count, in_bits, &ct), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_pbs_batch(ctx(), ks->sk, luts, lut_count, cml_ct_data(ct),
                                        cml_ct_cdata(ct), count),
                          CML_OK);
    int64_t *got = malloc(count * sizeof *got);
    CU_ASSERT_EQUAL_FATAL(cml_decrypt(ks->ck, ct, out_bits, got), CML_OK);
    size_t bad = 0;
    for (size_t i = 0; i < count; i++) {
        if (got[i] != want[i]) {
            if (bad < 5)
                printf("\n    mismatch: input %lld -> %lld, expected %lld", (long long)msgs[i],
                       (long long)got[i], (long long)want[i]);
            bad++;
        }
    }
    free(got);
    cml_ct_destroy(ct);
    return bad;
}

static void run_precision(uint32_t p, size_t per_table) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    keyset ks;
    keys_make(p, &ks);
    const size_t M = (size_t)1 << p, count = cml_test_samples(per_table);
    int64_t *msgs = malloc(count * 8), *want = malloc(count * 8), *table = malloc(M * 8);
    cml_rng rng;
    cml_rng_init(&rng);
    size_t bad = 0, total = 0;

    /* unsigned inputs, every message in turn */
    for (size_t i = 0; i < count; i++) msgs[i] = (int64_t)(i % M);
    for (int kind = 0; kind < 3; kind++) {
        const uint32_t out_bits = p;
        for (size_t m = 0; m < M; m++) {
            if (kind == 0) table[m] = (int64_t)m;                /* identity */
            if (kind == 1) table[m] = (int64_t)((M - m) % M); /* negation mod 2^p */
            if (kind == 2) {                                     /* random */
                uint64_t r;
                cml_rng_uniform(&rng, &r, 1);
                table[m] = (int64_t)(r % M);
            }
        }
        cml_lut *lut;
        CU_ASSERT_EQUAL_FATAL(cml_lut_create(&ks.params, p, 0, out_bits, table, &lut), CML_OK);
        for (size_t i = 0; i < count; i++) want[i] = table[msgs[i]];
        const cml_lut *luts[1] = {lut};
        bad += bootstrap_and_count(&ks, msgs, count, p, luts, 1, out_bits, want);
        total += count;
        cml_lut_destroy(lut);
    }

    /* signed inputs in [-2^(p-1), 2^(p-1)) to signed outputs: f(v) = -v - 1
     * (a bijection of that range), one table object per ciphertext */
    {
        const int64_t lo = -(int64_t)(M / 2);
        for (size_t m = 0; m < M; m++) table[m] = -(lo + (int64_t)m) - 1;
        size_t n = count < 64 ? count : 64;
        cml_lut **luts = calloc(n, sizeof *luts);
        for (size_t i = 0; i < n; i++) {
            CU_ASSERT_EQUAL_FATAL(cml_lut_create(&ks.params, p, 1, p, table, &luts[i]), CML_OK);
            msgs[i] = lo + (int64_t)(i % M);
            want[i] = -msgs[i] - 1;
        }
        bad += bootstrap_and_count(&ks, msgs, n, p, (const cml_lut *const *)luts, n, p, want);
        total += n;
        for (size_t i = 0; i < n; i++) cml_lut_destroy(luts[i]);
        free(luts);
    }

    /* chain: y = PBS_id(x); z = PBS_f(y + 1 mod 2^p) with f = reverse */
    {
        size_t n = count < 64 ? count : 64;
        cml_lut *id, *rev;
        for (size_t m = 0; m < M; m++) table[m] = (int64_t)m;
        CU_ASSERT_EQUAL_FATAL(cml_lut_create(&ks.params, p, 0, p, table, &id), CML_OK);
        for (size_t m = 0; m < M; m++) table[m] = (int64_t)(M - 1 - m);
        CU_ASSERT_EQUAL_FATAL(cml_lut_create(&ks.params, p, 0, p, table, &rev), CML_OK);
        for (size_t i = 0; i < n; i++) msgs[i] = (int64_t)(i % (M - (M > 1)));
        cml_ct *ct;
        CU_ASSERT_EQUAL_FATAL(cml_encrypt(ks.ck, msgs, n, p, &ct), CML_OK);
        size_t sz = cml_lwe_size(&ks.params), d = sz - 1;
        uint64_t *data = cml_ct_data(ct);
        CU_ASSERT_EQUAL_FATAL(cml_pbs_batch(ctx(), ks.sk, (const cml_lut *const *)&id, 1, data, data, n), CML_OK);
        for (size_t i = 0; i < n; i++) cml_lwe_add_plain(data + i * sz, data + i * sz, cml_encode(1, p), d);
        CU_ASSERT_EQUAL_FATAL(cml_pbs_batch(ctx(), ks.sk, (const cml_lut *const *)&rev, 1, data, data, n), CML_OK);
        int64_t *got = malloc(n * 8);
        CU_ASSERT_EQUAL_FATAL(cml_decrypt(ks.ck, ct, p, got), CML_OK);
        for (size_t i = 0; i < n; i++) {
            int64_t w = (int64_t)(M - 1) - ((msgs[i] + 1) % (int64_t)M);
            if (got[i] != w) bad++;
        }
        total += n;
        free(got);
        cml_ct_destroy(ct);
        cml_lut_destroy(id);
        cml_lut_destroy(rev);
    }

    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("\n    p=%u (k=%u N=%u n=%u, predicted 2^%.1f): %zu bootstraps, %zu wrong, %.1f s",
           p, ks.params.glwe_dimension, ks.params.polynomial_size, ks.params.lwe_dimension,
           ks.params.log2_p_error, total, bad,
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    CU_ASSERT_EQUAL(bad, 0);
    free(msgs);
    free(want);
    free(table);
    keys_free(&ks);
}

static void test_p1(void) { run_precision(1, 1024); }
static void test_p2(void) { run_precision(2, 1024); }
static void test_p3(void) { run_precision(3, 1024); }
static void test_p4(void) { run_precision(4, 1024); }
static void test_p5(void) { run_precision(5, 256); }
static void test_p6(void) { run_precision(6, 256); }
static void test_p7(void) { run_precision(7, 16); }
static void test_p8(void) { run_precision(8, 16); }

static void test_misuse(void) {
    cml_params p;
    CU_ASSERT_EQUAL_FATAL(cml_params_select(2, 1.0, ldexp(1, -40), &p), CML_OK);
    int64_t table[8] = {0};
    cml_lut *lut = (cml_lut *)1;
    CU_ASSERT_EQUAL(cml_lut_create(&p, 3, 0, 2, table, &lut), CML_ERR_ARG); /* wider than params */
    CU_ASSERT_PTR_NULL(lut);
    CU_ASSERT(strstr(cml_last_error(), "precision") != NULL);
    CU_ASSERT_EQUAL(cml_lut_create(&p, 2, 0, 0, table, &lut), CML_ERR_ARG);
    CU_ASSERT_EQUAL(cml_lut_create(&p, 2, 0, 2, NULL, &lut), CML_ERR_ARG);
    CU_ASSERT_EQUAL_FATAL(cml_lut_create(&p, 2, 0, 2, table, &lut), CML_OK);
    const cml_lut *luts[2] = {lut, lut};
    uint64_t buf[1];
    CU_ASSERT_EQUAL(cml_pbs_batch(ctx(), NULL, luts, 1, buf, buf, 1), CML_ERR_ARG);
    cml_lut_destroy(lut);
    cml_lut_destroy(NULL);
    cml_server_key_destroy(NULL);
    cml_context_destroy(NULL);
}

CU_TestInfo cml_tests_pbs[] = {
    {"misuse", test_misuse},
    {"p1", test_p1}, {"p2", test_p2}, {"p3", test_p3}, {"p4", test_p4},
    {"p5", test_p5}, {"p6", test_p6}, {"p7", test_p7}, {"p8", test_p8},
    CU_TEST_INFO_NULL,
};
