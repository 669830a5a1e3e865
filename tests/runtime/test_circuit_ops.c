/* test_circuit_ops.c — cml_circuit_tlu's folded lookups (cml/circuit_ops.h):
 * which tables fold (cml_circuit_tlu_precision), and that a folded lookup
 * decrypts to the table entry exactly, for every point of its domain, on
 * parameters one bit narrower than the unfolded lookup would need.
 *
 * Cases: a clipped relu (integer half-sum), a threshold in the middle of
 * its domain (half-integer half-sum), per-element tables with different
 * sums, a domain within half the slots (any table folds), a shifted input
 * (step 4), and a table that does not fold, which must be refused on the
 * narrow parameters. Every domain point is bootstrapped 4 times per case
 * (CML_TEST_SCALE=1): 560 bootstraps at 4 bits, each failing with
 * probability 2^-40, so one wrong result is a bug. */
#include "cml_test.h"

#include <cml/circuit_ops.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t clip(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

static void test_precision_rule(void) {
    int folded = -1;
    int64_t t[64];
    /* clip(x, 0, 3) over x in [-13, 16]: x and x + 16 sum to 3 */
    for (int j = 0; j < 30; j++) t[j] = clip(j - 13, 0, 3);
    CU_ASSERT_EQUAL(cml_circuit_tlu_precision(5, 0, 30, 3, t, 1, &folded), 4);
    CU_ASSERT_EQUAL(folded, 1);
    /* one more point at the bottom: -14 pairs with 2 (clip 2): no fold */
    for (int j = 0; j < 31; j++) t[j] = clip(j - 14, 0, 3);
    CU_ASSERT_EQUAL(cml_circuit_tlu_precision(5, 0, 31, 3, t, 1, &folded), 5);
    CU_ASSERT_EQUAL(folded, 0);
    /* the identity never folds; a constant always does */
    for (int j = 0; j < 64; j++) t[j] = j;
    CU_ASSERT_EQUAL(cml_circuit_tlu_precision(8, 2, 64, 7, t, 1, &folded), 6);
    CU_ASSERT_EQUAL(folded, 0);
    for (int j = 0; j < 64; j++) t[j] = -5;
    CU_ASSERT_EQUAL(cml_circuit_tlu_precision(8, 2, 64, 7, t, 1, &folded), 5);
    CU_ASSERT_EQUAL(folded, 1);
    /* a domain within half the slots folds whatever the table */
    for (int j = 0; j < 32; j++) t[j] = (j * 7919) % 13;
    CU_ASSERT_EQUAL(cml_circuit_tlu_precision(6, 0, 32, 4, t, 1, &folded), 5);
    CU_ASSERT_EQUAL(folded, 1);
    /* no room for the half-sum's extra bit, no bit to fold, NULL folded */
    CU_ASSERT_EQUAL(cml_circuit_tlu_precision(6, 0, 32, 62, t, 1, &folded), 6);
    CU_ASSERT_EQUAL(folded, 0);
    CU_ASSERT_EQUAL(cml_circuit_tlu_precision(3, 2, 2, 4, t, 1, &folded), 1);
    CU_ASSERT_EQUAL(folded, 0);
    CU_ASSERT_EQUAL(cml_circuit_tlu_precision(6, 0, 32, 4, t, 1, NULL), 5);
    /* two tables: each must fold (their sums may differ) */
    int64_t two[60];
    for (int j = 0; j < 30; j++) {
        two[j] = clip(j - 13, 0, 3);
        two[30 + j] = j < 16 ? 10 : -4; /* sums 6 */
    }
    CU_ASSERT_EQUAL(cml_circuit_tlu_precision(5, 0, 30, 5, two, 2, &folded), 4);
    CU_ASSERT_EQUAL(folded, 1);
    two[30 + 20] = 0;
    CU_ASSERT_EQUAL(cml_circuit_tlu_precision(5, 0, 30, 5, two, 2, &folded), 5);
    CU_ASSERT_EQUAL(folded, 0);
}

typedef struct fixture {
    cml_context *ctx;
    cml_params params;
    cml_client_key *ck;
    cml_server_key *sk;
} fixture;

/* 4-bit parameters sized for a folded lookup's doubled input */
static void fixture_make(fixture *f) {
    cml_pbs_need need = {4, 4.0, 4.0, 0};
    CU_ASSERT_EQUAL_FATAL(cml_context_create(0, &f->ctx), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_params_select_needs(&need, 1, ldexp(1, -40), &f->params), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_client_key_create(&f->params, &f->ck), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_server_key_create(f->ctx, f->ck, &f->sk), CML_OK);
}

static void fixture_free(fixture *f) {
    cml_server_key_destroy(f->sk);
    cml_client_key_destroy(f->ck);
    cml_context_destroy(f->ctx);
}

/* Every domain point (dom_lo + j 2^shift) `reps` times, element i using
 * table table_of[i % period] (NULL: table 0); returns the mismatches. */
static size_t run_case(fixture *f, const char *name, uint32_t in_bits, uint32_t shift,
                       int64_t dom_lo, int64_t dom_count, uint32_t out_bits, const int64_t *tables,
                       size_t ntables, const int32_t *period_of, size_t period) {
    const size_t reps = cml_test_samples(4), count = (size_t)dom_count * reps;
    int64_t *x = malloc(count * sizeof *x), *got = malloc(count * sizeof *got);
    int32_t *table_of = ntables > 1 ? malloc(count * sizeof *table_of) : NULL;
    CU_ASSERT_FATAL(x && got && (ntables == 1 || table_of));
    for (size_t i = 0; i < count; i++) {
        x[i] = dom_lo + (int64_t)((i % (size_t)dom_count) << shift);
        if (table_of) table_of[i] = period_of[i % period];
    }
    cml_ct *in, *out;
    CU_ASSERT_EQUAL_FATAL(cml_encrypt(f->ck, x, count, in_bits, &in), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_ct_create(&f->params, count, &out), CML_OK);
    cml_status st = cml_circuit_tlu(f->ctx, f->sk, cml_ct_data(out), cml_ct_cdata(in), count,
                                    in_bits, shift, dom_lo, dom_count, out_bits, tables, ntables,
                                    table_of);
    if (st != CML_OK) printf("\n    %s: %s", name, cml_last_error());
    CU_ASSERT_EQUAL_FATAL(st, CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_decrypt(f->ck, out, out_bits, got), CML_OK);
    size_t bad = 0;
    for (size_t i = 0; i < count; i++) {
        size_t j = i % (size_t)dom_count, t = table_of ? (size_t)table_of[i] : 0;
        int64_t want = tables[t * (size_t)dom_count + j];
        if (got[i] != want && bad++ < 5)
            printf("\n    %s: x = %lld -> %lld, expected %lld", name, (long long)x[i],
                   (long long)got[i], (long long)want);
    }
    cml_ct_destroy(in);
    cml_ct_destroy(out);
    free(x);
    free(got);
    free(table_of);
    return bad;
}

static void test_fold_exact(void) {
    fixture f;
    fixture_make(&f);
    CU_ASSERT_EQUAL_FATAL(f.params.precision, 4);
    int64_t t[64];
    int folded = 0;

    /* clipped relu over [-13, 16] at 5 bits: a 4-bit PBS */
    for (int j = 0; j < 30; j++) t[j] = clip(j - 13, 0, 3);
    CU_ASSERT_EQUAL(cml_circuit_tlu_precision(5, 0, 30, 3, t, 1, &folded), 4);
    CU_ASSERT_EQUAL(run_case(&f, "clipped relu", 5, 0, -13, 30, 3, t, 1, NULL, 0), 0);

    /* x >= 0 over [-16, 15], output 0/1 at 2 bits: half-sum 1/2 */
    for (int j = 0; j < 32; j++) t[j] = j >= 16;
    CU_ASSERT_EQUAL(cml_circuit_tlu_precision(5, 0, 32, 2, t, 1, &folded), 4);
    CU_ASSERT_EQUAL(run_case(&f, "threshold", 5, 0, -16, 32, 2, t, 1, NULL, 0), 0);

    /* the threshold again, on a 7-bit input read in steps of 4 */
    CU_ASSERT_EQUAL(cml_circuit_tlu_precision(7, 2, 32, 2, t, 1, &folded), 4);
    CU_ASSERT_EQUAL(run_case(&f, "shifted", 7, 2, -64, 32, 2, t, 1, NULL, 0), 0);

    /* per-element tables with different half-sums, signed outputs */
    int64_t two[60];
    for (int j = 0; j < 30; j++) {
        two[j] = clip(j - 13, 0, 3) - 2;   /* sums -1 */
        two[30 + j] = j < 16 ? 9 : -4;     /* sums 5 */
    }
    const int32_t alternate[3] = {0, 1, 1};
    CU_ASSERT_EQUAL(cml_circuit_tlu_precision(5, 0, 30, 5, two, 2, &folded), 4);
    CU_ASSERT_EQUAL(run_case(&f, "two tables", 5, 0, -13, 30, 5, two, 2, alternate, 3), 0);

    /* a 16-point domain in 5 bits: any table folds */
    for (int j = 0; j < 16; j++) t[j] = (j * 7919) % 13 - 6;
    CU_ASSERT_EQUAL(cml_circuit_tlu_precision(5, 0, 16, 5, t, 1, &folded), 4);
    CU_ASSERT_EQUAL(run_case(&f, "narrow domain", 5, 0, 3, 16, 5, t, 1, NULL, 0), 0);

    /* the identity on 5 bits does not fold: refused on 4-bit parameters */
    for (int j = 0; j < 32; j++) t[j] = j;
    cml_ct *in, *out;
    int64_t zero = 0;
    CU_ASSERT_EQUAL_FATAL(cml_encrypt(f.ck, &zero, 1, 5, &in), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_ct_create(&f.params, 1, &out), CML_OK);
    CU_ASSERT_EQUAL(cml_circuit_tlu(f.ctx, f.sk, cml_ct_data(out), cml_ct_cdata(in), 1, 5, 0, 0,
                                    32, 6, t, 1, NULL),
                    CML_ERR_ARG);
    CU_ASSERT(strstr(cml_last_error(), "5-bit lookup") != NULL);
    cml_ct_destroy(in);
    cml_ct_destroy(out);
    fixture_free(&f);
}

static void test_round_chunks(void) {
    uint32_t w[8];
    CU_ASSERT_EQUAL(cml_circuit_round_chunks(0, 3, w), 0);
    CU_ASSERT_EQUAL(cml_circuit_round_chunks(5, 0, w), 1);
    CU_ASSERT_EQUAL(w[0], 5);
    CU_ASSERT_EQUAL(cml_circuit_round_chunks(5, 9, w), 1);
    CU_ASSERT_EQUAL(w[0], 5);
    CU_ASSERT_EQUAL(cml_circuit_round_chunks(6, 5, w), 2); /* 3 + 3, not 5 + 1 */
    CU_ASSERT(w[0] == 3 && w[1] == 3);
    CU_ASSERT_EQUAL(cml_circuit_round_chunks(5, 2, w), 3);
    CU_ASSERT(w[0] == 2 && w[1] == 2 && w[2] == 1);
    CU_ASSERT_EQUAL(cml_circuit_round_chunks(7, 1, NULL), 7);
}

/* Rounding an 8-bit x by 5 bits at once and in chunks of at most 2 or 3
 * bits, on keys sized for every chunk's need (as the compiler computes
 * them: chunk [lo, lo + c) reads x, less one PBS output per chunk below,
 * lifted by 2^(8 - lo - c)), against the clear ((x + 16) >> 5) << 5. 32
 * values of x (one in each 8 of [-128, 127], at varying offsets, edges
 * included), 2 + 6 + 4 PBS each, then chunks of 2 with light bootstrap
 * keys, five times: 704 bootstraps at 2^-40. */
static void test_round_exact(void) {
    cml_pbs_need needs[] = {{5, 1, 64, 0},   {2, 1, 4096, 0}, {2, 257, 256, 0},
                            {1, 129, 64, 0}, {3, 1, 1024, 0}, {2, 65, 64, 0}};
    fixture f;
    CU_ASSERT_EQUAL_FATAL(cml_context_create(0, &f.ctx), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_params_select_needs(needs, 6, ldexp(1, -40), &f.params), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_client_key_create(&f.params, &f.ck), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_server_key_create(f.ctx, f.ck, &f.sk), CML_OK);
    const size_t count = 32;
    int64_t x[32], got[32];
    for (size_t i = 0; i < count; i++) x[i] = i == count - 1 ? 127 : -128 + 8 * (int64_t)i + (i & 7);
    cml_ct *in, *out;
    CU_ASSERT_EQUAL_FATAL(cml_encrypt(f.ck, x, count, 8, &in), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_ct_create(&f.params, count, &out), CML_OK);
    const uint32_t chunks[] = {0, 2, 3};
    for (size_t c = 0; c < 3; c++) {
        cml_status st = cml_circuit_round(f.ctx, f.sk, cml_ct_data(out), cml_ct_cdata(in), count,
                                          8, 5, chunks[c]);
        if (st != CML_OK) printf("\n    chunk %u: %s", chunks[c], cml_last_error());
        CU_ASSERT_EQUAL_FATAL(st, CML_OK);
        CU_ASSERT_EQUAL_FATAL(cml_decrypt(f.ck, out, 8, got), CML_OK);
        size_t bad = 0;
        for (size_t i = 0; i < count; i++) {
            /* 112..127 round up to 128: still within the padding's range */
            int64_t want = ((x[i] + 16) >> 5) * 32;
            if (got[i] != want && bad++ < 5)
                printf("\n    chunk %u: %lld -> %lld, expected %lld", chunks[c], (long long)x[i],
                       (long long)got[i], (long long)want);
        }
        CU_ASSERT_EQUAL(bad, 0);
    }
    /* a light bootstrap key (cml_server_key_add_light) is what the rounding
     * bootstraps with: a good one keeps it exact, also through a save and
     * load and with a smaller GLWE key (k 1, N 2048: the start of the main
     * key; outputs zero-extended to it); a hopeless one (1 level of 2^4:
     * noise far above a slot) breaks it. "Good" here means quiet enough for
     * the rounded 8-bit values to be decrypted directly (3 light outputs in
     * each: variance below ~6e-9), so 2 levels of 2^16 rather than the main
     * set's (a compiler sizes a light key for what its outputs feed:
     * docs/params.md) */
    const uint32_t K = f.params.glwe_dimension, N = f.params.polynomial_size;
    CU_ASSERT_FATAL(K * N > 2048);
    const struct {
        uint32_t k, N, base_log, level;
        int exact, reload;
    } lights[] = {{K, N, 4, 1, 0, 0}, {K, N, 16, 2, 1, 0}, {K, N, 16, 2, 1, 1},
                  {1, 2048, 16, 2, 1, 0}, {1, 2048, 16, 2, 1, 1}};
    for (size_t t = 0; t < sizeof lights / sizeof *lights; t++) {
        cml_server_key *sk = f.sk;
        CU_ASSERT_EQUAL_FATAL(cml_server_key_add_light(f.ctx, f.ck, f.sk, lights[t].k, lights[t].N,
                                                       lights[t].base_log, lights[t].level),
                              CML_OK);
        if (lights[t].reload) {
            uint8_t *buf;
            size_t len;
            CU_ASSERT_EQUAL_FATAL(cml_server_key_serialize(f.sk, &buf, &len), CML_OK);
            CU_ASSERT_EQUAL(len, cml_server_key_file_bytes(&f.params, cml_server_key_light(f.sk)));
            CU_ASSERT_EQUAL_FATAL(cml_server_key_deserialize(f.ctx, buf, len, &sk), CML_OK);
            /* a truncated light key is refused */
            cml_server_key *bad = NULL;
            CU_ASSERT_EQUAL(cml_server_key_deserialize(f.ctx, buf, len - 40, &bad), CML_ERR_FORMAT);
            CU_ASSERT_PTR_NULL(bad);
            cml_free(buf);
        }
        const cml_params *lp = cml_server_key_light(sk);
        CU_ASSERT_FATAL(lp != NULL);
        CU_ASSERT(lp->glwe_dimension == lights[t].k && lp->polynomial_size == lights[t].N &&
                  lp->pbs_base_log == lights[t].base_log && lp->pbs_level == lights[t].level);
        CU_ASSERT_EQUAL(cml_server_key_light_bytes(sk),
                        (size_t)lp->lwe_dimension * (lp->glwe_dimension + 1) * lp->pbs_level *
                            (lp->glwe_dimension + 1) * (lp->polynomial_size / 2) * 16);
        CU_ASSERT_EQUAL_FATAL(cml_circuit_round(f.ctx, sk, cml_ct_data(out), cml_ct_cdata(in),
                                                count, 8, 5, 2),
                              CML_OK);
        CU_ASSERT_EQUAL_FATAL(cml_decrypt(f.ck, out, 8, got), CML_OK);
        size_t bad = 0;
        for (size_t i = 0; i < count; i++) bad += got[i] != ((x[i] + 16) >> 5) * 32;
        if (!lights[t].exact) {
            CU_ASSERT(bad > count / 2);
        } else {
            if (bad) printf("\n    light key %zu: %zu of %zu wrong", t, bad, count);
            CU_ASSERT_EQUAL(bad, 0);
        }
        if (sk != f.sk) cml_server_key_destroy(sk);
    }
    /* refused: the main key's own shape; a decomposition past 53 bits; a
     * GLWE key longer than the main one */
    CU_ASSERT_EQUAL(cml_server_key_add_light(f.ctx, f.ck, f.sk, K, N, f.params.pbs_base_log,
                                             f.params.pbs_level),
                    CML_ERR_ARG);
    CU_ASSERT_EQUAL(cml_server_key_add_light(f.ctx, f.ck, f.sk, K, N, 30, 2), CML_ERR_ARG);
    CU_ASSERT_EQUAL(cml_server_key_add_light(f.ctx, f.ck, f.sk, K, 2 * N, 16, 2), CML_ERR_ARG);
    CU_ASSERT_EQUAL(cml_server_key_add_light(f.ctx, f.ck, f.sk, 0, N, 16, 2), CML_ERR_ARG);
    /* chunks wider than the parameters read are refused */
    CU_ASSERT_EQUAL(cml_circuit_round(f.ctx, f.sk, cml_ct_data(out), cml_ct_cdata(in), count, 8,
                                      7, 0),
                    f.params.precision >= 7 ? CML_OK : CML_ERR_ARG);
    cml_ct_destroy(in);
    cml_ct_destroy(out);
    fixture_free(&f);
}

CU_TestInfo cml_tests_circuit_ops[] = {
    {"precision_rule", test_precision_rule},
    {"fold_exact", test_fold_exact},
    {"round_chunks", test_round_chunks},
    {"round_exact", test_round_exact},
    CU_TEST_INFO_NULL,
};
