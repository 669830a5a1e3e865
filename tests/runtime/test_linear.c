/* test_linear.c — parameter sets without bootstrapping (lwe_dimension 0),
 * what the compiler chooses for a circuit with no table lookup.
 *
 * Why it exists: such a set has only the big key. The runtime must accept
 * exactly the sets the compiler writes (and nothing looser: decompositions
 * and the small key's noise must be 0, the GLWE side must be secure), make
 * keys for them, run the linear operations exactly, serialize the empty
 * server key, and refuse to bootstrap with a clear message instead of
 * reading keys that do not exist. */
#include "cml_test.h"
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What cmlc writes for examples/logistic_regression.cml and
 * linear_regression.cml (passes/params.c select_linear): k = 1, N = 2^11,
 * everything of the bootstrap 0, σ_glwe on the secure curve. */
static cml_params linear_set(void) {
    cml_params p = {0};
    p.precision = 18;
    p.glwe_dimension = 1;
    p.polynomial_size = 2048;
    p.glwe_noise_std = cml_secure_noise_std(2048);
    p.norm2 = 47668;
    return p;
}

#define EXPECT_ERR(call, status, phrase)                                                    \
    do {                                                                                    \
        cml_status st_ = (call);                                                            \
        const char *msg_ = cml_last_error();                                                \
        int ok_ = st_ == (status) && strstr(msg_, (phrase)) != NULL;                        \
        if (!ok_)                                                                           \
            printf("\n    %s:%d: got %s \"%s\", want %s with \"%s\"", __FILE__, __LINE__,   \
                   cml_status_name(st_), msg_, cml_status_name(status), (phrase));         \
        CU_ASSERT(ok_);                                                                     \
    } while (0)

static void test_validate(void) {
    cml_params p = linear_set();
    CU_ASSERT_EQUAL_FATAL(cml_params_validate(&p), CML_OK);
    /* cost 0 (no bootstrap); the failure figure is that of decrypting an
     * 18-bit value of norm2 47668: far below anything (cmlc reports
     * 2^-1.6e13 for linear_regression) but finite */
    CU_ASSERT_EQUAL(p.cost, 0.0);
    CU_ASSERT(isfinite(p.log2_p_error) && p.log2_p_error < -1e12);
    CU_ASSERT_EQUAL(p.log2_p_error, cml_params_log2_p_error(&p, p.norm2));
    CU_ASSERT_EQUAL(cml_noise_pbs(&p), 0.0);
    CU_ASSERT_EQUAL(cml_noise_keyswitch(&p), 0.0);
    CU_ASSERT_EQUAL(cml_noise_modswitch(&p), 0.0);
    /* the fingerprint is the one cmlc wrote into both examples' specs */
    CU_ASSERT_EQUAL(cml_params_fingerprint(&p), UINT64_C(0x2c92898029592cb3));

    const cml_params good = linear_set();
#define EXPECT(field_change, status, phrase)                                             \
    do {                                                                                 \
        p = good;                                                                        \
        field_change;                                                                    \
        EXPECT_ERR(cml_params_validate(&p), status, phrase);                             \
    } while (0)
    EXPECT(p.pbs_level = 1, CML_ERR_ARG, "needs every decomposition at 0");
    EXPECT(p.pbs_base_log = 1, CML_ERR_ARG, "needs every decomposition at 0");
    EXPECT(p.ks_level = 1, CML_ERR_ARG, "needs every decomposition at 0");
    EXPECT(p.ks_base_log = 1, CML_ERR_ARG, "needs every decomposition at 0");
    EXPECT(p.lwe_noise_std = 1e-3, CML_ERR_ARG, "no small key");
    EXPECT(p.precision = 0, CML_ERR_ARG, "precision = 0");
    EXPECT(p.precision = 63, CML_ERR_ARG, "outside 1..62");
    EXPECT(p.glwe_dimension = 0, CML_ERR_ARG, "glwe_dimension");
    EXPECT(p.polynomial_size = 1000, CML_ERR_ARG, "power of two");
    EXPECT(p.glwe_noise_std = 0.5 * cml_secure_noise_std(2048), CML_ERR_INSECURE,
           "glwe_noise_std");
    EXPECT(p.glwe_noise_std = NAN, CML_ERR_ARG, "glwe_noise_std");
    EXPECT(p.norm2 = INFINITY, CML_ERR_ARG, "norm2");
    /* k*N = 256 is below where the security curve is trusted, whatever the noise */
    EXPECT((p.polynomial_size = 256, p.glwe_noise_std = 0.25), CML_ERR_INSECURE, "k*N = 256");
#undef EXPECT
    /* the widest encodings are fine: no test polynomial to hold them */
    p = good;
    p.precision = 62;
    CU_ASSERT_EQUAL(cml_params_validate(&p), CML_OK);
    p = good;
    p.glwe_dimension = 2; /* k*N = 512 on its own curve */
    p.polynomial_size = 256;
    p.glwe_noise_std = cml_secure_noise_std(512);
    CU_ASSERT_EQUAL(cml_params_validate(&p), CML_OK);
    /* a set with a bootstrap still needs n >= 450 */
    cml_params q;
    CU_ASSERT_EQUAL_FATAL(cml_params_select(2, 1.0, ldexp(1, -40), &q), CML_OK);
    q.lwe_dimension = 1;
    q.lwe_noise_std = cml_secure_noise_std(1);
    CU_ASSERT_EQUAL(cml_params_validate(&q), CML_ERR_INSECURE);
}

/* Encrypt, linear operations, decrypt: exact at the set's 18 bits. */
static void test_linear_roundtrip(void) {
    cml_params p = linear_set();
    cml_client_key *ck;
    CU_ASSERT_EQUAL_FATAL(cml_client_key_create(&p, &ck), CML_OK);
    const cml_params *kp = cml_client_key_params(ck);
    CU_ASSERT_EQUAL(kp->lwe_dimension, 0);
    CU_ASSERT_EQUAL(cml_params_fingerprint(kp), cml_params_fingerprint(&p));
    const uint32_t bits = 18;
    const int64_t x[4] = {0, 255, 17, 128};
    const int64_t w[4] = {-99, 101, 37, -13}; /* a dense layer's weights, 8-bit */
    cml_ct *ct;
    CU_ASSERT_EQUAL_FATAL(cml_encrypt(ck, x, 4, bits, &ct), CML_OK);
    int64_t back[4];
    CU_ASSERT_EQUAL(cml_decrypt(ck, ct, bits, back), CML_OK);
    CU_ASSERT_EQUAL(memcmp(back, x, sizeof x), 0);

    const size_t d = cml_big_dim(kp), sz = cml_lwe_size(kp);
    cml_ct *y;
    CU_ASSERT_EQUAL_FATAL(cml_ct_create(kp, 3, &y), CML_OK);
    uint64_t *yd = cml_ct_data(y);
    const uint64_t *xd = cml_ct_cdata(ct);
    /* y0 = w . x + 1234, y1 = -(x0 - x1) * 200, y2 = x3 + x3 - x2 */
    cml_lwe_dot_clear(yd, xd, w, 4, d);
    cml_lwe_add_plain(yd, yd, cml_encode(1234, bits), d);
    cml_lwe_sub(yd + sz, xd, xd + sz, d);
    cml_lwe_neg(yd + sz, yd + sz, d);
    cml_lwe_mul_clear(yd + sz, yd + sz, 200, d);
    cml_lwe_add(yd + 2 * sz, xd + 3 * sz, xd + 3 * sz, d);
    cml_lwe_sub(yd + 2 * sz, yd + 2 * sz, xd + 2 * sz, d);
    int64_t got[3];
    CU_ASSERT_EQUAL(cml_decrypt(ck, y, bits, got), CML_OK);
    int64_t want0 = 1234;
    for (int i = 0; i < 4; i++) want0 += w[i] * x[i];
    CU_ASSERT_EQUAL(got[0], want0);
    CU_ASSERT_EQUAL(got[1], -(x[0] - x[1]) * 200);
    CU_ASSERT_EQUAL(got[2], 2 * x[3] - x[2]);
    /* the top of the signed 18-bit range and the unsigned reading of a
     * value with bit 17 set (cml_decode sign-extends from 19 bits) */
    const int64_t edge[4] = {(1 << 17) - 1, -(1 << 17), (1 << 18) - 1, 1 << 17};
    cml_ct *e;
    CU_ASSERT_EQUAL_FATAL(cml_encrypt(ck, edge, 4, bits, &e), CML_OK);
    CU_ASSERT_EQUAL(cml_decrypt(ck, e, bits, back), CML_OK);
    CU_ASSERT_EQUAL(memcmp(back, edge, sizeof edge), 0);
    cml_ct_destroy(e);
    cml_ct_destroy(y);
    cml_ct_destroy(ct);
    cml_client_key_destroy(ck);
}

static void test_server_key_and_serialization(void) {
    cml_params p = linear_set();
    cml_context *ctx;
    cml_client_key *ck;
    cml_server_key *sk;
    CU_ASSERT_EQUAL_FATAL(cml_context_create(1, &ctx), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_client_key_create(&p, &ck), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_server_key_create(ctx, ck, &sk), CML_OK);
    CU_ASSERT_EQUAL(cml_server_key_bsk_bytes(sk), 0);
    CU_ASSERT_EQUAL(cml_server_key_ksk_bytes(sk), 0);
    CU_ASSERT_EQUAL(cml_params_fingerprint(cml_server_key_params(sk)), cml_params_fingerprint(&p));

    /* server key: header and checksum only */
    uint8_t *b;
    size_t len;
    CU_ASSERT_EQUAL_FATAL(cml_server_key_serialize(sk, &b, &len), CML_OK);
    CU_ASSERT_EQUAL(len, 96 + 32);
    CU_ASSERT_EQUAL(len, cml_server_key_file_bytes(&p, NULL));
    cml_server_key *sk2;
    CU_ASSERT_EQUAL_FATAL(cml_server_key_deserialize(ctx, b, len, &sk2), CML_OK);
    CU_ASSERT_EQUAL(cml_params_fingerprint(cml_server_key_params(sk2)), cml_params_fingerprint(&p));
    CU_ASSERT_EQUAL(cml_server_key_bsk_bytes(sk2), 0);
    cml_server_key_destroy(sk2);
    /* a byte more or less is still refused */
    EXPECT_ERR(cml_server_key_deserialize(ctx, b, len - 1, &sk2),
               CML_ERR_FORMAT, "truncated");
    CU_ASSERT_PTR_NULL(sk2);
    cml_free(b);
    /* and a client key is refused where a server key is expected */
    CU_ASSERT_EQUAL_FATAL(cml_client_key_serialize(ck, &b, &len), CML_OK);
    CU_ASSERT_EQUAL(len, 96 + 2048 / 8 + 32); /* the GLWE key's bits, no small key */
    EXPECT_ERR(cml_server_key_deserialize(ctx, b, len, &sk2), CML_ERR_FORMAT,
               "client (secret) key, not a server key");

    /* client key round trip decrypts what the original encrypted */
    cml_client_key *ck2;
    CU_ASSERT_EQUAL_FATAL(cml_client_key_deserialize(b, len, &ck2), CML_OK);
    CU_ASSERT_EQUAL(memcmp(ck2->glwe_key, ck->glwe_key, 2048 * 8), 0);
    cml_free(b);
    const int64_t m[3] = {-5, 0, 70000};
    cml_ct *ct, *ct2;
    CU_ASSERT_EQUAL_FATAL(cml_encrypt(ck, m, 3, 18, &ct), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_ct_serialize(ct, &b, &len), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_ct_deserialize(b, len, &p, &ct2), CML_OK);
    cml_free(b);
    int64_t got[3];
    CU_ASSERT_EQUAL(cml_decrypt(ck2, ct2, 18, got), CML_OK);
    CU_ASSERT_EQUAL(memcmp(got, m, sizeof m), 0);

    /* files */
    char dir[] = "/tmp/cml_linear_XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char skp[64], ckp[64];
    snprintf(skp, sizeof skp, "%s/server.key", dir);
    snprintf(ckp, sizeof ckp, "%s/client.key", dir);
    CU_ASSERT_EQUAL(cml_server_key_save(sk, skp), CML_OK);
    CU_ASSERT_EQUAL(cml_client_key_save(ck, ckp), CML_OK);
    cml_server_key *sk3;
    CU_ASSERT_EQUAL(cml_server_key_load(ctx, skp, &sk3), CML_OK);
    cml_server_key_destroy(sk3);
    EXPECT_ERR(cml_server_key_load(ctx, ckp, &sk3), CML_ERR_FORMAT, "client.key: this is a client");
    unlink(skp);
    unlink(ckp);
    rmdir(dir);

    cml_ct_destroy(ct);
    cml_ct_destroy(ct2);
    cml_client_key_destroy(ck2);
    cml_server_key_destroy(sk);
    cml_client_key_destroy(ck);
    cml_context_destroy(ctx);
}

static void test_no_bootstrap(void) {
    cml_params p = linear_set();
    cml_context *ctx;
    cml_client_key *ck;
    cml_server_key *sk;
    CU_ASSERT_EQUAL_FATAL(cml_context_create(1, &ctx), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_client_key_create(&p, &ck), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_server_key_create(ctx, ck, &sk), CML_OK);
    const int64_t table[4] = {0, 1, 2, 3};
    cml_lut *lut = (cml_lut *)ck; /* poison: must be reset to NULL */
    EXPECT_ERR(cml_lut_create(&p, 2, 0, 2, table, &lut), CML_ERR_ARG,
               "cml_lut_create: parameters without a bootstrap key (a linear circuit) cannot "
               "bootstrap");
    CU_ASSERT_PTR_NULL(lut);

    /* a table of another (bootstrappable) set with the same N: the server
     * key is what refuses */
    cml_params q;
    CU_ASSERT_EQUAL_FATAL(cml_params_select(2, 1.0, ldexp(1, -40), &q), CML_OK);
    q.polynomial_size = p.polynomial_size;
    CU_ASSERT_EQUAL_FATAL(cml_lut_create(&q, 2, 0, 2, table, &lut), CML_OK);
    cml_ct *ct;
    const int64_t m[2] = {1, 2};
    CU_ASSERT_EQUAL_FATAL(cml_encrypt(ck, m, 2, 2, &ct), CML_OK);
    uint64_t *d = cml_ct_data(ct);
    EXPECT_ERR(cml_pbs(ctx, sk, lut, d, d), CML_ERR_ARG,
               "cml_pbs: parameters without a bootstrap key (a linear circuit) cannot bootstrap");
    const cml_lut *luts[1] = {lut};
    EXPECT_ERR(cml_pbs_batch(ctx, sk, luts, 1, d, d, 2), CML_ERR_ARG,
               "cml_pbs_batch: parameters without a bootstrap key");
    /* the ciphertexts were not touched */
    int64_t got[2];
    CU_ASSERT_EQUAL(cml_decrypt(ck, ct, 2, got), CML_OK);
    CU_ASSERT(got[0] == 1 && got[1] == 2);
    cml_ct_destroy(ct);
    cml_lut_destroy(lut);
    cml_server_key_destroy(sk);
    cml_client_key_destroy(ck);
    cml_context_destroy(ctx);
}

CU_TestInfo cml_tests_linear[] = {
    {"validate", test_validate},
    {"roundtrip", test_linear_roundtrip},
    {"server_key_and_serialization", test_server_key_and_serialization},
    {"no_bootstrap", test_no_bootstrap},
    CU_TEST_INFO_NULL,
};
