/* test_serialization.c — keys and ciphertexts to bytes and files and back.
 *
 * Why it exists: a loaded file is untrusted input. Round trips must be exact
 * (bytes, decryptions, bootstraps); every way a file can be wrong —
 * truncated, bit-flipped, edited, of another kind or version, for other
 * parameters — must give its status and a message saying which; the file
 * forms must be atomic and name the path; and a server key blob must not
 * carry the secret key it was derived from.
 *
 * Keys are made once (lazily) at a small precision (2 bits): keygen then
 * takes well under a second, the server key blob is ~60 MB. */
#include "cml_test.h"
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* The header layout of docs/serialization.md, for targeted edits. */
enum {
    OFF_VERSION = 8,
    OFF_KIND = 12,
    OFF_LWE_DIM = 28,
    OFF_KS_BASE = 40,
    OFF_NORM2 = 64,
    OFF_FINGERPRINT = 80,
    OFF_PAYLOAD_LEN = 88,
    HEADER = 96,
    SUM = 32,
};

enum { KIND_CK = 1, KIND_SK = 2, KIND_CT = 3 };

/* ---- fixture --------------------------------------------------------------- */

static const int64_t MSGS[] = {0, 1, 2, 3, 1, 2};
#define NMSGS (sizeof MSGS / sizeof MSGS[0])
#define BITS 2u

static struct {
    int ready;
    cml_params p, other;
    cml_context *ctx;
    cml_client_key *ck;
    cml_server_key *sk;
    cml_ct *ct;
    uint8_t *blob[4]; /* by kind */
    size_t len[4];
} fx;

static void fixture_free(void) {
    for (int k = 1; k <= 3; k++) cml_free(fx.blob[k]);
    cml_ct_destroy(fx.ct);
    cml_server_key_destroy(fx.sk);
    cml_client_key_destroy(fx.ck);
    cml_context_destroy(fx.ctx);
}

static void fixture(void) {
    if (fx.ready) return;
    CU_ASSERT_EQUAL_FATAL(cml_params_select(BITS, 1.0, ldexp(1, -40), &fx.p), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_params_select(3, 1.0, ldexp(1, -40), &fx.other), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_context_create(0, &fx.ctx), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_client_key_create(&fx.p, &fx.ck), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_server_key_create(fx.ctx, fx.ck, &fx.sk), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_encrypt(fx.ck, MSGS, NMSGS, BITS, &fx.ct), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_client_key_serialize(fx.ck, &fx.blob[KIND_CK], &fx.len[KIND_CK]), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_server_key_serialize(fx.sk, &fx.blob[KIND_SK], &fx.len[KIND_SK]), CML_OK);
    CU_ASSERT_EQUAL(fx.len[KIND_SK], cml_server_key_file_bytes(&fx.p, NULL));
    CU_ASSERT_EQUAL_FATAL(cml_ct_serialize(fx.ct, &fx.blob[KIND_CT], &fx.len[KIND_CT]), CML_OK);
    atexit(fixture_free);
    fx.ready = 1;
}

/* ---- helpers --------------------------------------------------------------- */

static uint8_t *dup_blob(int kind) {
    uint8_t *b = malloc(fx.len[kind] + 1); /* +1: room for a trailing byte */
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    memcpy(b, fx.blob[kind], fx.len[kind]);
    return b;
}

static void set_u32(uint8_t *b, size_t off, uint32_t v) {
    for (int i = 0; i < 4; i++) b[off + i] = (uint8_t)(v >> (8 * i));
}
static void set_u64(uint8_t *b, size_t off, uint64_t v) {
    for (int i = 0; i < 8; i++) b[off + i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get_u64(const uint8_t *b, size_t off) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)b[off + i] << (8 * i);
    return v;
}
static void set_f64(uint8_t *b, size_t off, double d) {
    uint64_t u;
    memcpy(&u, &d, 8);
    set_u64(b, off, u);
}

/* Recomputes the checksum, so a test can reach the checks behind it. */
static void reseal(uint8_t *b, size_t len) {
    crypto_generichash(b + len - SUM, SUM, b, len - SUM, NULL, 0);
}

/* Deserializes as `kind` and frees the result; checks the out-pointer
 * contract (NULL on failure, set on success). */
static cml_status load_as(int kind, const uint8_t *b, size_t len, const cml_params *expect) {
    cml_status st = CML_ERR_INTERNAL;
    if (kind == KIND_CK) {
        cml_client_key *o = (cml_client_key *)&fx; /* poison: must be overwritten */
        st = cml_client_key_deserialize(b, len, &o);
        CU_ASSERT(st ? o == NULL : o != NULL);
        cml_client_key_destroy(st ? NULL : o);
    } else if (kind == KIND_SK) {
        cml_server_key *o = (cml_server_key *)&fx;
        st = cml_server_key_deserialize(fx.ctx, b, len, &o);
        CU_ASSERT(st ? o == NULL : o != NULL);
        cml_server_key_destroy(st ? NULL : o);
    } else {
        cml_ct *o = (cml_ct *)&fx;
        st = cml_ct_deserialize(b, len, expect, &o);
        CU_ASSERT(st ? o == NULL : o != NULL);
        cml_ct_destroy(st ? NULL : o);
    }
    return st;
}

/* Status and a phrase of the message, printed when they differ. */
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

/* ---- round trips ------------------------------------------------------------- */

static void test_roundtrip_client_key(void) {
    fixture();
    cml_client_key *ck;
    CU_ASSERT_EQUAL_FATAL(cml_client_key_deserialize(fx.blob[KIND_CK], fx.len[KIND_CK], &ck), CML_OK);
    CU_ASSERT_EQUAL(cml_params_fingerprint(cml_client_key_params(ck)), cml_params_fingerprint(&fx.p));
    CU_ASSERT_EQUAL(memcmp(ck->lwe_key, fx.ck->lwe_key, fx.p.lwe_dimension * 8), 0);
    CU_ASSERT_EQUAL(memcmp(ck->glwe_key, fx.ck->glwe_key, cml_big_dim(&fx.p) * 8), 0);
    uint8_t *b;
    size_t len;
    CU_ASSERT_EQUAL_FATAL(cml_client_key_serialize(ck, &b, &len), CML_OK);
    CU_ASSERT_EQUAL(len, fx.len[KIND_CK]);
    CU_ASSERT(len == fx.len[KIND_CK] && memcmp(b, fx.blob[KIND_CK], len) == 0);
    /* n + kN bits, packed */
    CU_ASSERT_EQUAL(len, HEADER + (fx.p.lwe_dimension + cml_big_dim(&fx.p) + 7) / 8 + SUM);
    int64_t got[NMSGS];
    CU_ASSERT_EQUAL(cml_decrypt(ck, fx.ct, BITS, got), CML_OK);
    CU_ASSERT_EQUAL(memcmp(got, MSGS, sizeof got), 0);
    cml_free(b);
    cml_client_key_destroy(ck);
}

static void test_roundtrip_ciphertext(void) {
    fixture();
    cml_ct *ct;
    CU_ASSERT_EQUAL_FATAL(cml_ct_deserialize(fx.blob[KIND_CT], fx.len[KIND_CT], &fx.p, &ct), CML_OK);
    CU_ASSERT_EQUAL(cml_ct_count(ct), NMSGS);
    int64_t got[NMSGS];
    CU_ASSERT_EQUAL(cml_decrypt(fx.ck, ct, BITS, got), CML_OK);
    CU_ASSERT_EQUAL(memcmp(got, MSGS, sizeof got), 0);
    CU_ASSERT_EQUAL(memcmp(cml_ct_cdata(ct), cml_ct_cdata(fx.ct), NMSGS * cml_lwe_size(&fx.p) * 8), 0);
    uint8_t *b;
    size_t len;
    CU_ASSERT_EQUAL_FATAL(cml_ct_serialize(ct, &b, &len), CML_OK);
    CU_ASSERT(len == fx.len[KIND_CT] && memcmp(b, fx.blob[KIND_CT], len) == 0);
    cml_free(b);
    cml_ct_destroy(ct);

    /* an empty vector is a valid object too */
    cml_ct *empty;
    CU_ASSERT_EQUAL_FATAL(cml_ct_create(&fx.p, 0, &empty), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_ct_serialize(empty, &b, &len), CML_OK);
    CU_ASSERT_EQUAL(len, HEADER + 8 + SUM);
    CU_ASSERT_EQUAL(cml_ct_deserialize(b, len, NULL, &ct), CML_OK);
    CU_ASSERT_EQUAL(cml_ct_count(ct), 0);
    cml_ct_destroy(ct);
    cml_ct_destroy(empty);
    cml_free(b);
}

static void test_roundtrip_server_key(void) {
    fixture();
    cml_server_key *sk;
    CU_ASSERT_EQUAL_FATAL(cml_server_key_deserialize(fx.ctx, fx.blob[KIND_SK], fx.len[KIND_SK], &sk),
                          CML_OK);
    CU_ASSERT_EQUAL(memcmp(sk->ksk, fx.sk->ksk, cml_server_key_ksk_bytes(sk)), 0);
    CU_ASSERT_EQUAL(memcmp(sk->bsk, fx.sk->bsk, cml_server_key_bsk_bytes(sk)), 0);
    uint8_t *b;
    size_t len;
    CU_ASSERT_EQUAL_FATAL(cml_server_key_serialize(sk, &b, &len), CML_OK);
    CU_ASSERT(len == fx.len[KIND_SK] && memcmp(b, fx.blob[KIND_SK], len) == 0);
    CU_ASSERT_EQUAL(len, HEADER + cml_server_key_ksk_bytes(sk) + cml_server_key_bsk_bytes(sk) + SUM);
    cml_free(b);

    /* the loaded key bootstraps: f(m) = 3 - m through every message */
    const int64_t table[4] = {3, 2, 1, 0};
    cml_lut *lut;
    CU_ASSERT_EQUAL_FATAL(cml_lut_create(&fx.p, BITS, 0, BITS, table, &lut), CML_OK);
    cml_ct *ct;
    CU_ASSERT_EQUAL_FATAL(cml_encrypt(fx.ck, MSGS, NMSGS, BITS, &ct), CML_OK);
    uint64_t *d = cml_ct_data(ct);
    for (size_t i = 0; i < NMSGS; i++) {
        uint64_t *c = d + i * cml_lwe_size(&fx.p);
        CU_ASSERT_EQUAL(cml_pbs(fx.ctx, sk, lut, c, c), CML_OK);
    }
    int64_t got[NMSGS];
    CU_ASSERT_EQUAL(cml_decrypt(fx.ck, ct, BITS, got), CML_OK);
    for (size_t i = 0; i < NMSGS; i++) CU_ASSERT_EQUAL(got[i], table[MSGS[i]]);
    cml_ct_destroy(ct);
    cml_lut_destroy(lut);
    cml_server_key_destroy(sk);
}

/* ---- each validation failure, with its message -------------------------------- */

static void test_header_errors(void) {
    fixture();
    for (int kind = KIND_CK; kind <= KIND_CT; kind++) {
        const size_t len = fx.len[kind];
        uint8_t *b = dup_blob(kind);

        EXPECT_ERR(load_as(kind, b, 0, NULL), CML_ERR_FORMAT, "empty");
        EXPECT_ERR(load_as(kind, b, 50, NULL), CML_ERR_FORMAT, "truncated");
        EXPECT_ERR(load_as(kind, b, HEADER + SUM - 1, NULL), CML_ERR_FORMAT, "shorter than the");

        b[0] = 'X';
        EXPECT_ERR(load_as(kind, b, len, NULL), CML_ERR_FORMAT, "not a CML file");
        EXPECT_ERR(load_as(kind, b, 3, NULL), CML_ERR_FORMAT, "not a CML file");
        b[0] = 'C';

        /* version 1 held FFTW's Fourier layout for server keys */
        set_u32(b, OFF_VERSION, 1);
        EXPECT_ERR(load_as(kind, b, len, NULL), CML_ERR_FORMAT, "format version 1, this build reads 2");
        set_u32(b, OFF_VERSION, 3);
        EXPECT_ERR(load_as(kind, b, len, NULL), CML_ERR_FORMAT, "format version 3, this build reads 2");
        set_u32(b, OFF_VERSION, 2);

        set_u32(b, OFF_KIND, 9);
        EXPECT_ERR(load_as(kind, b, len, NULL), CML_ERR_FORMAT, "unknown object kind 9");
        set_u32(b, OFF_KIND, (uint32_t)kind);

        /* below the security curve's range */
        set_u32(b, OFF_LWE_DIM, 100);
        EXPECT_ERR(load_as(kind, b, len, NULL), CML_ERR_FORMAT, "invalid parameters");
        EXPECT_ERR(load_as(kind, b, len, NULL), CML_ERR_FORMAT, "lwe_dimension");
        /* valid, but not the set the fingerprint was made for */
        set_u32(b, OFF_LWE_DIM, fx.p.lwe_dimension + 1);
        EXPECT_ERR(load_as(kind, b, len, NULL), CML_ERR_FORMAT, "fingerprint mismatch");
        set_u32(b, OFF_LWE_DIM, fx.p.lwe_dimension);
        set_u32(b, OFF_KS_BASE, fx.p.ks_base_log + 1);
        EXPECT_ERR(load_as(kind, b, len, NULL), CML_ERR_FORMAT, "fingerprint mismatch");
        set_u32(b, OFF_KS_BASE, fx.p.ks_base_log);
        b[OFF_FINGERPRINT] ^= 1;
        EXPECT_ERR(load_as(kind, b, len, NULL), CML_ERR_FORMAT, "fingerprint mismatch");
        b[OFF_FINGERPRINT] ^= 1;

        /* norm2 is informative, outside the fingerprint: the checksum catches it */
        set_f64(b, OFF_NORM2, 2.0);
        EXPECT_ERR(load_as(kind, b, len, NULL), CML_ERR_FORMAT, "checksum mismatch: file corrupted");
        memcpy(b, fx.blob[kind], HEADER);

        uint64_t plen = get_u64(b, OFF_PAYLOAD_LEN);
        set_u64(b, OFF_PAYLOAD_LEN, plen + 8);
        EXPECT_ERR(load_as(kind, b, len, NULL), CML_ERR_FORMAT, kind == KIND_CT ? "not 8 + a multiple" : "parameters imply");
        set_u64(b, OFF_PAYLOAD_LEN, plen - 1);
        EXPECT_ERR(load_as(kind, b, len, NULL), CML_ERR_FORMAT, kind == KIND_CT ? "not 8 + a multiple" : "parameters imply");
        set_u64(b, OFF_PAYLOAD_LEN, UINT64_MAX);
        EXPECT_ERR(load_as(kind, b, len, NULL), CML_ERR_FORMAT, "payload length");
        set_u64(b, OFF_PAYLOAD_LEN, plen);

        EXPECT_ERR(load_as(kind, b, len - 1, NULL), CML_ERR_FORMAT, "truncated");
        b[len] = 0;
        EXPECT_ERR(load_as(kind, b, len + 1, NULL), CML_ERR_FORMAT, "trailing data: 1 bytes");

        b[len - SUM - 3] ^= 0x10; /* the payload's last word */
        EXPECT_ERR(load_as(kind, b, len, NULL), CML_ERR_FORMAT, "checksum mismatch: file corrupted");
        b[len - SUM - 3] ^= 0x10;
        b[len - 1] ^= 0x80;
        EXPECT_ERR(load_as(kind, b, len, NULL), CML_ERR_FORMAT, "checksum mismatch: file corrupted");
        b[len - 1] ^= 0x80;

        CU_ASSERT_EQUAL(load_as(kind, b, len, NULL), CML_OK); /* all edits undone */
        free(b);
    }
}

static void test_wrong_kind(void) {
    fixture();
    EXPECT_ERR(load_as(KIND_CT, fx.blob[KIND_CK], fx.len[KIND_CK], NULL), CML_ERR_FORMAT,
               "this is a client key, expected a ciphertext");
    EXPECT_ERR(load_as(KIND_CK, fx.blob[KIND_CT], fx.len[KIND_CT], NULL), CML_ERR_FORMAT,
               "this is a ciphertext, expected a client key");
    EXPECT_ERR(load_as(KIND_SK, fx.blob[KIND_CK], fx.len[KIND_CK], NULL), CML_ERR_FORMAT,
               "this is a client (secret) key, not a server key");
    EXPECT_ERR(load_as(KIND_CK, fx.blob[KIND_SK], fx.len[KIND_SK], NULL), CML_ERR_FORMAT,
               "this is a server key, expected a client key");
}

static void test_ciphertext_errors(void) {
    fixture();
    const size_t len = fx.len[KIND_CT];
    uint8_t *b = dup_blob(KIND_CT);
    /* count disagreeing with the payload length */
    set_u64(b, HEADER, NMSGS + 1);
    EXPECT_ERR(load_as(KIND_CT, b, len, NULL), CML_ERR_FORMAT, "count 7 does not match");
    set_u64(b, HEADER, UINT64_MAX / 3);
    EXPECT_ERR(load_as(KIND_CT, b, len, NULL), CML_ERR_FORMAT, "does not match");
    set_u64(b, HEADER, NMSGS);
    /* a length that is a whole number of ciphertexts but absurdly large */
    uint64_t row = (cml_big_dim(&fx.p) + 1) * 8;
    set_u64(b, OFF_PAYLOAD_LEN, 8 + row * (UINT64_C(1) << 32));
    EXPECT_ERR(load_as(KIND_CT, b, len, NULL), CML_ERR_FORMAT, "exceeds the 16 GiB");
    set_u64(b, OFF_PAYLOAD_LEN, 8 + row * (NMSGS + 1));
    EXPECT_ERR(load_as(KIND_CT, b, len, NULL), CML_ERR_FORMAT, "truncated");
    set_u64(b, OFF_PAYLOAD_LEN, 8 + row * NMSGS);

    /* parameters other than expected */
    EXPECT_ERR(load_as(KIND_CT, b, len, &fx.other), CML_ERR_MISMATCH,
               "ciphertext made for other parameters");
    cml_params noisier = fx.p;
    noisier.glwe_noise_std *= 2;
    EXPECT_ERR(load_as(KIND_CT, b, len, &noisier), CML_ERR_MISMATCH, "other parameters");
    cml_params same = fx.p;
    same.norm2 = 7; /* not a cryptographic field */
    CU_ASSERT_EQUAL(load_as(KIND_CT, b, len, &same), CML_OK);
    CU_ASSERT_EQUAL(load_as(KIND_CT, b, len, NULL), CML_OK);

    /* and the other way round: a ciphertext of the other set, expected at ours */
    cml_ct *o;
    uint8_t *ob;
    size_t olen;
    CU_ASSERT_EQUAL_FATAL(cml_ct_create(&fx.other, 2, &o), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_ct_serialize(o, &ob, &olen), CML_OK);
    EXPECT_ERR(load_as(KIND_CT, ob, olen, &fx.p), CML_ERR_MISMATCH, "other parameters");
    cml_free(ob);
    cml_ct_destroy(o);

    /* a corrupted file is corrupted, whatever was expected */
    b[len - 5] ^= 4;
    EXPECT_ERR(load_as(KIND_CT, b, len, &fx.other), CML_ERR_FORMAT, "checksum mismatch");
    free(b);
}

static void test_key_payload_errors(void) {
    fixture();
    /* client key: the bits past n + kN must be zero */
    size_t bits = fx.p.lwe_dimension + cml_big_dim(&fx.p);
    if (bits % 8) {
        uint8_t *b = dup_blob(KIND_CK);
        b[HEADER + bits / 8] |= 0x80;
        reseal(b, fx.len[KIND_CK]);
        EXPECT_ERR(load_as(KIND_CK, b, fx.len[KIND_CK], NULL), CML_ERR_FORMAT, "padding bits");
        free(b);
    }
    /* server key: bootstrap key values must be finite and within 2^64 N */
    const size_t len = fx.len[KIND_SK];
    uint8_t *b = dup_blob(KIND_SK);
    const size_t bsk_off = HEADER + cml_server_key_ksk_bytes(fx.sk);
    const size_t last = len - SUM - 8; /* imaginary part of the last value */
    const double N = fx.p.polynomial_size;
    const struct {
        size_t off;
        double v;
        int ok;
    } cases[] = {
        {bsk_off, NAN, 0},
        {last, -INFINITY, 0},
        {bsk_off + 16 * 1000, ldexp(N, 64) * 1.0000001, 0},
        {last, -ldexp(N, 65), 0},
        {bsk_off + 8, -ldexp(N, 64), 1}, /* the bound itself is allowed */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t saved[8];
        memcpy(saved, b + cases[i].off, 8);
        set_f64(b, cases[i].off, cases[i].v);
        reseal(b, len);
        if (cases[i].ok) {
            CU_ASSERT_EQUAL(load_as(KIND_SK, b, len, NULL), CML_OK);
        } else {
            EXPECT_ERR(load_as(KIND_SK, b, len, NULL), CML_ERR_FORMAT, "bootstrap key value");
        }
        memcpy(b + cases[i].off, saved, 8);
    }
    reseal(b, len);
    CU_ASSERT_EQUAL(memcmp(b, fx.blob[KIND_SK], len), 0);
    free(b);
}

static void test_bad_arguments(void) {
    fixture();
    uint8_t *b = (uint8_t *)&fx;
    size_t len = 5;
    EXPECT_ERR(cml_client_key_serialize(NULL, &b, &len), CML_ERR_ARG, "NULL");
    CU_ASSERT(b == NULL && len == 0);
    EXPECT_ERR(cml_server_key_serialize(fx.sk, NULL, &len), CML_ERR_ARG, "NULL");
    EXPECT_ERR(cml_ct_serialize(fx.ct, &b, NULL), CML_ERR_ARG, "NULL");
    EXPECT_ERR(cml_client_key_deserialize(fx.blob[KIND_CK], fx.len[KIND_CK], NULL), CML_ERR_ARG, "NULL");
    EXPECT_ERR(load_as(KIND_CT, NULL, 10, NULL), CML_ERR_ARG, "NULL");
    EXPECT_ERR(load_as(KIND_CT, NULL, 0, NULL), CML_ERR_FORMAT, "empty");
    cml_server_key *sk = (cml_server_key *)&fx;
    EXPECT_ERR(cml_server_key_deserialize(NULL, fx.blob[KIND_SK], fx.len[KIND_SK], &sk), CML_ERR_ARG,
               "ctx is NULL");
    CU_ASSERT_PTR_NULL(sk);
    /* a ciphertext cannot be tagged with parameters that are not a valid set */
    cml_params bad = fx.p;
    bad.lwe_dimension = 10;
    cml_ct *ct = (cml_ct *)&fx;
    CU_ASSERT_NOT_EQUAL(cml_ct_create(&bad, 1, &ct), CML_OK);
    CU_ASSERT_PTR_NULL(ct);
    cml_free(NULL);
}

/* ---- truncation and bit flips everywhere --------------------------------------- */

static void truncations(int kind) {
    const size_t len = fx.len[kind];
    size_t failed_badly = 0, tried = 0;
    /* every length within the header (and all of a small blob), then ~200 */
    const size_t step = len <= 2000 ? 1 : (len - HEADER) / 200 + 1;
    for (size_t cut = 0; cut < len; cut += cut < HEADER + SUM ? 1 : step) {
        cml_status st = load_as(kind, fx.blob[kind], cut, NULL);
        if (st != CML_ERR_FORMAT) failed_badly++;
        tried++;
    }
    failed_badly += load_as(kind, fx.blob[kind], len - 1, NULL) != CML_ERR_FORMAT;
    CU_ASSERT_EQUAL(failed_badly, 0);
    CU_ASSERT(tried >= 300);
}

static void test_truncation(void) {
    fixture();
    for (int kind = KIND_CK; kind <= KIND_CT; kind++) truncations(kind);
}

/* Flips `count` bits spread over the blob (and every header bit when asked);
 * each must fail with CML_ERR_FORMAT. */
static void bit_flips(int kind, size_t count, int whole_header) {
    const size_t len = fx.len[kind], bits = len * 8;
    uint8_t *b = dup_blob(kind);
    size_t bad = 0;
    for (size_t i = 0; i < count + (whole_header ? HEADER * 8 : 0); i++) {
        size_t bit = i < count ? (i * (bits - 1)) / (count - 1) : i - count;
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        cml_status st = load_as(kind, b, len, NULL);
        if (st != CML_ERR_FORMAT) {
            if (bad < 5) printf("\n    flip of bit %zu: %s", bit, cml_status_name(st));
            bad++;
        }
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    CU_ASSERT_EQUAL(bad, 0);
    free(b);
}

static void test_bit_flips(void) {
    fixture();
    bit_flips(KIND_CK, 200, 1);
    bit_flips(KIND_CT, 200, 1);
    /* each server-key flip hashes the whole ~60 MB blob: fewer, still spread
     * over header, keyswitch key, bootstrap key and checksum */
    bit_flips(KIND_SK, 24, 0);
}

/* ---- files ------------------------------------------------------------------------ */

static char *path_in(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static size_t dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    size_t n = 0;
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static int file_equals(const char *path, const uint8_t *b, size_t len) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    uint8_t *got = malloc(len + 1);
    size_t n = got ? fread(got, 1, len + 1, f) : 0;
    fclose(f);
    int eq = got && n == len && memcmp(got, b, len) == 0;
    free(got);
    return eq;
}

static void rm_rf(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = path_in(dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_rf(p);
        else
            unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

static void test_file_roundtrip(void) {
    fixture();
    char dir[] = "/tmp/cml_ser_XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char *ckp = path_in(dir, "client.key"), *skp = path_in(dir, "server.key"),
         *ctp = path_in(dir, "input.ct");

    CU_ASSERT_EQUAL(cml_client_key_save(fx.ck, ckp), CML_OK);
    CU_ASSERT_EQUAL(cml_server_key_save(fx.sk, skp), CML_OK);
    CU_ASSERT_EQUAL(cml_ct_save(fx.ct, ctp), CML_OK);
    CU_ASSERT_EQUAL(dir_entries(dir), 3); /* no temporary left behind */
    CU_ASSERT(file_equals(ckp, fx.blob[KIND_CK], fx.len[KIND_CK]));
    CU_ASSERT(file_equals(skp, fx.blob[KIND_SK], fx.len[KIND_SK]));
    CU_ASSERT(file_equals(ctp, fx.blob[KIND_CT], fx.len[KIND_CT]));
    struct stat st;
    CU_ASSERT_EQUAL(stat(ckp, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600); /* the secret key is private */

    cml_client_key *ck;
    cml_server_key *sk;
    cml_ct *ct;
    CU_ASSERT_EQUAL_FATAL(cml_client_key_load(ckp, &ck), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_server_key_load(fx.ctx, skp, &sk), CML_OK);
    CU_ASSERT_EQUAL_FATAL(cml_ct_load(ctp, &fx.p, &ct), CML_OK);
    int64_t got[NMSGS];
    CU_ASSERT_EQUAL(cml_decrypt(ck, ct, BITS, got), CML_OK);
    CU_ASSERT_EQUAL(memcmp(got, MSGS, sizeof got), 0);
    CU_ASSERT_EQUAL(memcmp(sk->bsk, fx.sk->bsk, cml_server_key_bsk_bytes(sk)), 0);
    cml_client_key_destroy(ck);
    cml_server_key_destroy(sk);

    /* saving over an existing file replaces it */
    cml_ct *two;
    CU_ASSERT_EQUAL_FATAL(cml_encrypt(fx.ck, MSGS, 2, BITS, &two), CML_OK);
    CU_ASSERT_EQUAL(cml_ct_save(two, ctp), CML_OK);
    cml_ct_destroy(ct);
    CU_ASSERT_EQUAL_FATAL(cml_ct_load(ctp, NULL, &ct), CML_OK);
    CU_ASSERT_EQUAL(cml_ct_count(ct), 2);
    cml_ct_destroy(ct);
    cml_ct_destroy(two);
    CU_ASSERT_EQUAL(dir_entries(dir), 3);

    /* loading with the wrong expectation names the file */
    EXPECT_ERR(cml_ct_load(ctp, &fx.other, &ct), CML_ERR_MISMATCH, "input.ct: ciphertext made for other");
    EXPECT_ERR(cml_client_key_load(ctp, &ck), CML_ERR_FORMAT,
               "input.ct: this is a ciphertext, expected a client key");

    rm_rf(dir);
    free(ckp);
    free(skp);
    free(ctp);
}

static void test_file_errors(void) {
    fixture();
    char dir[] = "/tmp/cml_ser_XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char *missing_dir = path_in(dir, "no/such/dir/x.ct"), *missing = path_in(dir, "missing.ct"),
         *empty = path_in(dir, "empty.ct"), *sub = path_in(dir, "sub"),
         *corrupt = path_in(dir, "server.key");
    cml_ct *ct = (cml_ct *)&fx;
    cml_server_key *sk = (cml_server_key *)&fx;

    /* save into a directory that does not exist: an error naming the path, no file */
    EXPECT_ERR(cml_ct_save(fx.ct, missing_dir), CML_ERR_IO, missing_dir);
    EXPECT_ERR(cml_ct_save(fx.ct, missing_dir), CML_ERR_IO, "No such file or directory");
    CU_ASSERT_EQUAL(dir_entries(dir), 0);

    EXPECT_ERR(cml_ct_load(missing, NULL, &ct), CML_ERR_IO, "missing.ct: cannot open: No such file");
    CU_ASSERT_PTR_NULL(ct);

    CU_ASSERT_EQUAL_FATAL(mkdir(sub, 0700), 0);
    EXPECT_ERR(cml_ct_load(sub, NULL, &ct), CML_ERR_IO, "sub: is a directory");
    /* saving onto a directory fails at the rename and cleans up */
    EXPECT_ERR(cml_ct_save(fx.ct, sub), CML_ERR_IO, "sub: cannot rename");
    CU_ASSERT_EQUAL(dir_entries(dir), 1);

    FILE *f = fopen(empty, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
    EXPECT_ERR(cml_ct_load(empty, NULL, &ct), CML_ERR_FORMAT, "empty.ct: file is empty");

    /* a corrupted file: the message names it */
    CU_ASSERT_EQUAL_FATAL(cml_server_key_save(fx.sk, corrupt), CML_OK);
    int fd = open(corrupt, O_WRONLY);
    CU_ASSERT_FATAL(fd >= 0);
    uint8_t junk = 0x5a;
    CU_ASSERT_EQUAL(pwrite(fd, &junk, 1, 1000), 1);
    close(fd);
    EXPECT_ERR(cml_server_key_load(fx.ctx, corrupt, &sk), CML_ERR_FORMAT,
               "server.key: checksum mismatch: file corrupted");
    CU_ASSERT_PTR_NULL(sk);
    /* truncated on disk */
    CU_ASSERT_EQUAL(truncate(corrupt, 4096), 0);
    EXPECT_ERR(cml_server_key_load(fx.ctx, corrupt, &sk), CML_ERR_FORMAT, "server.key: truncated");

    /* a save that fails half-way (file size limit: EFBIG) leaves the
     * previous file intact and no temporary behind. Works as root too. */
    CU_ASSERT_EQUAL_FATAL(cml_ct_save(fx.ct, corrupt), CML_OK);
    struct rlimit old, lim;
    CU_ASSERT_EQUAL_FATAL(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 1 << 20;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_FSIZE, &lim), 0);
    cml_status st = cml_server_key_save(fx.sk, corrupt);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", cml_last_error());
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
    CU_ASSERT_EQUAL(st, CML_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "server.key: write failed"));
    CU_ASSERT(file_equals(corrupt, fx.blob[KIND_CT], fx.len[KIND_CT]));
    CU_ASSERT_EQUAL(dir_entries(dir), 3); /* sub, empty.ct, server.key */

    EXPECT_ERR(cml_ct_load(NULL, NULL, &ct), CML_ERR_ARG, "NULL");
    EXPECT_ERR(cml_ct_save(NULL, empty), CML_ERR_ARG, "NULL");

    rm_rf(dir);
    free(missing_dir);
    free(missing);
    free(empty);
    free(sub);
    free(corrupt);
}

/* ---- the server key holds no secret --------------------------------------------- */

/* Rabin-Karp over the haystack for every needle window of W bytes: one pass,
 * however many windows. Any copy of a secret array at least 2W-1 bytes long
 * contains one of the windows taken at stride W. */
#define W 32u
#define BASE UINT64_C(0x100000001b3)

typedef struct windows {
    const uint8_t **at;
    uint64_t *hash;
    size_t count, cap;
} windows;

static uint64_t hash_window(const uint8_t *p) {
    uint64_t h = 0;
    for (size_t i = 0; i < W; i++) h = h * BASE + p[i];
    return h;
}

static void add_windows(windows *w, const uint8_t *secret, size_t len) {
    for (size_t off = 0; off + W <= len; off += W) {
        if (w->count == w->cap) {
            w->cap = w->cap ? 2 * w->cap : 256;
            w->at = realloc(w->at, w->cap * sizeof *w->at);
            w->hash = realloc(w->hash, w->cap * sizeof *w->hash);
        }
        w->at[w->count] = secret + off;
        w->hash[w->count++] = hash_window(secret + off);
    }
}

/* Offset of the first occurrence of any window in hay, or SIZE_MAX. */
static size_t find_any(const windows *w, const uint8_t *hay, size_t len) {
    if (len < W) return SIZE_MAX;
    /* a 2^16-bit filter on the hash keeps the inner loop to one test */
    uint8_t *filter = calloc(1 << 13, 1);
    for (size_t i = 0; i < w->count; i++) filter[(w->hash[i] >> 48) >> 3] |= (uint8_t)(1u << ((w->hash[i] >> 48) & 7));
    uint64_t top = 1;
    for (size_t i = 0; i < W - 1; i++) top *= BASE; /* BASE^(W-1) */
    uint64_t h = hash_window(hay);
    size_t found = SIZE_MAX;
    for (size_t pos = 0;; pos++) {
        unsigned t = (unsigned)(h >> 48);
        if (filter[t >> 3] & (1u << (t & 7)))
            for (size_t i = 0; i < w->count; i++)
                if (w->hash[i] == h && memcmp(w->at[i], hay + pos, W) == 0) found = pos;
        if (found != SIZE_MAX || pos + W >= len) break;
        h = (h - hay[pos] * top) * BASE + hay[pos + W];
    }
    free(filter);
    return found;
}

static void test_server_key_has_no_secret(void) {
    fixture();
    const size_t n = fx.p.lwe_dimension, big = cml_big_dim(&fx.p);
    uint8_t *small_packed = calloc((n + 7) / 8, 1), *glwe_packed = calloc((big + 7) / 8, 1);
    for (size_t i = 0; i < n; i++) small_packed[i / 8] |= (uint8_t)(fx.ck->lwe_key[i] << (i % 8));
    for (size_t i = 0; i < big; i++) glwe_packed[i / 8] |= (uint8_t)(fx.ck->glwe_key[i] << (i % 8));

    windows w = {0};
    add_windows(&w, small_packed, (n + 7) / 8);
    add_windows(&w, glwe_packed, (big + 7) / 8);
    /* the client key file's own payload (bits packed across both keys) */
    add_windows(&w, fx.blob[KIND_CK] + HEADER, fx.len[KIND_CK] - HEADER - SUM);
    add_windows(&w, (const uint8_t *)fx.ck->lwe_key, n * 8);
    add_windows(&w, (const uint8_t *)fx.ck->glwe_key, big * 8);
    CU_ASSERT(w.count > 400);

    /* the search works: a planted copy is found */
    const size_t plant = 12345;
    uint8_t *probe = malloc(fx.len[KIND_SK]);
    memcpy(probe, fx.blob[KIND_SK], fx.len[KIND_SK]);
    memcpy(probe + plant, glwe_packed + 7, 2 * W);
    size_t at = find_any(&w, probe, fx.len[KIND_SK]);
    CU_ASSERT(at >= plant && at <= plant + W);
    free(probe);

    CU_ASSERT_EQUAL(find_any(&w, fx.blob[KIND_SK], fx.len[KIND_SK]), SIZE_MAX);
    CU_ASSERT_EQUAL(memcmp(fx.blob[KIND_SK] + OFF_KIND, fx.blob[KIND_CK] + OFF_KIND, 4) != 0, 1);
    CU_ASSERT_EQUAL(fx.blob[KIND_SK][OFF_KIND], KIND_SK);

    free(w.at);
    free(w.hash);
    sodium_memzero(small_packed, (n + 7) / 8);
    sodium_memzero(glwe_packed, (big + 7) / 8);
    free(small_packed);
    free(glwe_packed);
}

CU_TestInfo cml_tests_serialization[] = {
    {"roundtrip_client_key", test_roundtrip_client_key},
    {"roundtrip_ciphertext", test_roundtrip_ciphertext},
    {"roundtrip_server_key", test_roundtrip_server_key},
    {"header_errors", test_header_errors},
    {"wrong_kind", test_wrong_kind},
    {"ciphertext_errors", test_ciphertext_errors},
    {"key_payload_errors", test_key_payload_errors},
    {"bad_arguments", test_bad_arguments},
    {"truncation", test_truncation},
    {"bit_flips", test_bit_flips},
    {"file_roundtrip", test_file_roundtrip},
    {"file_errors", test_file_errors},
    {"server_key_has_no_secret", test_server_key_has_no_secret},
    CU_TEST_INFO_NULL,
};
