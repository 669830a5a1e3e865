/* test_lwe.c — LWE encryption under the big key and the leveled linear
 * operations: every result decrypts to exactly the clear computation (in
 * the message space, with wrap-around), and misuse returns a status. */
#include "cml_test.h"
#include "decomposition.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static cml_client_key *shared_key;
static void key_free(void) { cml_client_key_destroy(shared_key); }
static cml_client_key *key4(void) {
    if (!shared_key) {
        cml_params p;
        CU_ASSERT_EQUAL_FATAL(cml_params_select(4, 1.0, ldexp(1, -40), &p), CML_OK);
        CU_ASSERT_EQUAL_FATAL(cml_client_key_create(&p, &shared_key), CML_OK);
        atexit(key_free);
    }
    return shared_key;
}

static uint64_t rand_u64(cml_rng *rng) {
    uint64_t r;
    cml_rng_uniform(rng, &r, 1);
    return r;
}

static void test_encrypt_decrypt(void) {
    cml_client_key *ck = key4();
    const size_t count = cml_test_samples(512);
    int64_t *m = malloc(count * 8), *out = malloc(count * 8);
    cml_rng rng;
    cml_rng_init(&rng);
    for (uint32_t bits = 1; bits <= 8; bits++) {
        for (size_t i = 0; i < count; i++)
            m[i] = (int64_t)(rand_u64(&rng) % (UINT64_C(1) << bits)) - (i % 2 ? (INT64_C(1) << (bits - 1)) : 0);
        cml_ct *ct;
        CU_ASSERT_EQUAL_FATAL(cml_encrypt(ck, m, count, bits, &ct), CML_OK);
        CU_ASSERT_EQUAL(cml_ct_count(ct), count);
        CU_ASSERT_EQUAL_FATAL(cml_decrypt(ck, ct, bits, out), CML_OK);
        CU_ASSERT_EQUAL(memcmp(m, out, count * 8), 0);
        cml_ct_destroy(ct);
    }
    free(m);
    free(out);
}

static void test_linear_ops_exact(void) {
    cml_client_key *ck = key4();
    const cml_params *p = cml_client_key_params(ck);
    const size_t d = cml_big_dim(p), sz = cml_lwe_size(p);
    const uint32_t bits = 8;
    cml_rng rng;
    cml_rng_init(&rng);
    uint64_t *out = malloc(sz * 8);
    for (size_t trial = 0; trial < cml_test_samples(200); trial++) {
        int64_t v[8], w[8];
        for (int i = 0; i < 8; i++) {
            v[i] = (int64_t)(rand_u64(&rng) % 16) - 8;
            w[i] = (int64_t)(rand_u64(&rng) % 7) - 3;
        }
        cml_ct *ct;
        CU_ASSERT_EQUAL_FATAL(cml_encrypt(ck, v, 8, bits, &ct), CML_OK);
        const uint64_t *a = cml_ct_cdata(ct), *b = a + sz;
        uint64_t ph;
        cml_lwe_add(out, a, b, d);
        cml_lwe_phase(ck, out, &ph);
        CU_ASSERT_EQUAL(cml_decode(ph, bits), v[0] + v[1]);
        cml_lwe_sub(out, a, b, d);
        cml_lwe_phase(ck, out, &ph);
        CU_ASSERT_EQUAL(cml_decode(ph, bits), v[0] - v[1]);
        cml_lwe_neg(out, a, d);
        cml_lwe_phase(ck, out, &ph);
        CU_ASSERT_EQUAL(cml_decode(ph, bits), -v[0]);
        cml_lwe_add_plain(out, a, cml_encode(w[0], bits), d);
        cml_lwe_phase(ck, out, &ph);
        CU_ASSERT_EQUAL(cml_decode(ph, bits), v[0] + w[0]);
        cml_lwe_mul_clear(out, a, w[1], d);
        cml_lwe_phase(ck, out, &ph);
        CU_ASSERT_EQUAL(cml_decode(ph, bits), v[0] * w[1]);
        int64_t dot = 0;
        for (int i = 0; i < 8; i++) dot += v[i] * w[i];
        cml_lwe_dot_clear(out, a, w, 8, d);
        cml_lwe_phase(ck, out, &ph);
        CU_ASSERT_EQUAL(cml_decode(ph, bits), dot);
        /* in place (out aliases an input) */
        memcpy(out, a, sz * 8);
        cml_lwe_mul_clear_acc(out, b, 3, d);
        cml_lwe_phase(ck, out, &ph);
        CU_ASSERT_EQUAL(cml_decode(ph, bits), v[0] + 3 * v[1]);
        cml_ct_destroy(ct);
    }
    free(out);
}

static void test_misuse(void) {
    cml_client_key *ck = key4();
    cml_ct *ct = (cml_ct *)1;
    int64_t m = 1;
    CU_ASSERT_EQUAL(cml_encrypt(NULL, &m, 1, 4, &ct), CML_ERR_ARG);
    CU_ASSERT_PTR_NULL(ct);
    CU_ASSERT_EQUAL(cml_encrypt(ck, &m, 1, 0, &ct), CML_ERR_ARG);
    CU_ASSERT(strstr(cml_last_error(), "bit width") != NULL);
    /* a ciphertext of other parameters is refused, not decoded */
    cml_params other;
    CU_ASSERT_EQUAL_FATAL(cml_params_select(2, 1.0, ldexp(1, -40), &other), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_ct_create(&other, 1, &ct), CML_OK);
    CU_ASSERT_EQUAL(cml_decrypt(ck, ct, 4, &m), CML_ERR_MISMATCH);
    CU_ASSERT(strstr(cml_last_error(), "other parameters") != NULL);
    cml_ct_destroy(ct);
    cml_ct_destroy(NULL);
    cml_client_key_destroy(NULL);
    /* invalid parameters are refused at key creation */
    cml_params bad = other;
    bad.lwe_dimension = 100;
    cml_client_key *k2 = (cml_client_key *)1;
    CU_ASSERT_NOT_EQUAL(cml_client_key_create(&bad, &k2), CML_OK);
    CU_ASSERT_PTR_NULL(k2);
}

static void test_unsafe_seed_reproducible(void) {
    cml_params p;
    CU_ASSERT_EQUAL_FATAL(cml_params_select(2, 1.0, ldexp(1, -40), &p), CML_OK);
    uint8_t seed[32] = {7};
    cml_client_key *k1, *k2;
    cml_unsafe_set_seed(seed);
    CU_ASSERT_EQUAL_FATAL(cml_client_key_create(&p, &k1), CML_OK);
    cml_unsafe_set_seed(seed);
    CU_ASSERT_EQUAL_FATAL(cml_client_key_create(&p, &k2), CML_OK);
    cml_unsafe_set_seed(NULL);
    CU_ASSERT_EQUAL(memcmp(k1->glwe_key, k2->glwe_key, cml_big_dim(&p) * 8), 0);
    CU_ASSERT_EQUAL(memcmp(k1->lwe_key, k2->lwe_key, p.lwe_dimension * 8), 0);
    /* back to the OS generator: a third key differs */
    cml_client_key *k3;
    CU_ASSERT_EQUAL_FATAL(cml_client_key_create(&p, &k3), CML_OK);
    CU_ASSERT_NOT_EQUAL(memcmp(k1->glwe_key, k3->glwe_key, cml_big_dim(&p) * 8), 0);
    /* secret bits are 0/1 and roughly balanced: 2048+ bits, mean within 10% */
    size_t ones = 0;
    for (size_t i = 0; i < cml_big_dim(&p); i++) {
        CU_ASSERT_FATAL(k3->glwe_key[i] <= 1);
        ones += k3->glwe_key[i];
    }
    CU_ASSERT(fabs((double)ones / (double)cml_big_dim(&p) - 0.5) < 0.1);
    cml_client_key_destroy(k1);
    cml_client_key_destroy(k2);
    cml_client_key_destroy(k3);
}

/* The bootstrap's one-level digit (decomp_single_digit) is the general
 * decomposition's digit, ties included, and reconstructs the value to within
 * half a step: random values and every rounding edge, for every base. */
static void test_single_digit_decomposition(void) {
    uint64_t s = UINT64_C(0x9E3779B97F4A7C15);
    unsigned long mismatches = 0, far = 0;
    for (uint32_t bl = 1; bl <= 53; bl++) {
        const uint32_t shift = 64 - bl;
        const uint64_t half = UINT64_C(1) << (shift - 1);
        for (int i = 0; i < 20000; i++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17; /* xorshift64 */
            uint64_t x = s;
            switch (i % 6) {
            case 1: x = (x & ~(2 * half - 1)) | half; break;     /* exact tie */
            case 2: x = (x & ~(2 * half - 1)) | (half - 1); break; /* just below */
            case 3: x = (UINT64_C(1) << 63) | half; break;         /* +-B/2 tie */
            case 4: x = ~(uint64_t)0 << (shift - 1); break;        /* rounds up to 0 */
            default: break;
            }
            uint64_t state = decomp_round(x, bl);
            int64_t want = decomp_next_digit(&state, bl), got = decomp_single_digit(x, bl);
            mismatches += want != got;
            int64_t err = (int64_t)(x - ((uint64_t)got << shift));
            far += err > (int64_t)half || err < -(int64_t)half;
        }
    }
    CU_ASSERT_EQUAL(mismatches, 0);
    CU_ASSERT_EQUAL(far, 0);
}

CU_TestInfo cml_tests_lwe[] = {
    {"single_digit_decomposition", test_single_digit_decomposition},
    {"encrypt_decrypt", test_encrypt_decrypt},
    {"linear_ops_exact", test_linear_ops_exact},
    {"misuse", test_misuse},
    {"unsafe_seed_reproducible", test_unsafe_seed_reproducible},
    CU_TEST_INFO_NULL,
};
