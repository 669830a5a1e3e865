/* fuzz_load.c — libFuzzer target for the three loaders (serialization.c).
 *
 * Why it exists: loaders read files from elsewhere; whatever the bytes, they
 * must fail cleanly or produce an object that serializes back to the same
 * bytes, without crashing, reading out of bounds or leaking. The same entry
 * point is replayed over tests/fuzz/corpus by replay.c in every build.
 *
 * Input: one mode byte, then the candidate file.
 *   bits 0-1  target: 0 client key, 1 server key, 2 ciphertext,
 *             3 ciphertext with an expected parameter set
 *   bit 2     recompute the trailing checksum first, so mutations get past
 *             it to the checks behind (payload decoding, padding, doubles)
 *   bit 3     expand: keep the 96-byte header, fill the payload length it
 *             announces (up to 8 MiB) by repeating the rest of the input,
 *             and seal it; this reaches server-key decoding, whose smallest
 *             real payload (~4 MiB) is far beyond -max_len
 */
#include <cml/tfhe.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER 96u
#define SUM 32u
#define EXPAND_MAX (8u << 20)

static cml_context *ctx;
static cml_params expect_tiny, expect_p2;
static int ready = -1;

static int setup(void) {
    if (ready >= 0) return ready;
    ready = 0;
    if (sodium_init() < 0 || cml_context_create(1, &ctx) != CML_OK) return 0;
    /* the smallest valid set (the one expanded server-key seeds use) and
     * the default 2-bit set (the ciphertext seeds) */
    expect_tiny = (cml_params){.precision = 1, .glwe_dimension = 1, .polynomial_size = 256,
                               .lwe_dimension = 450, .pbs_base_log = 10, .pbs_level = 1,
                               .ks_base_log = 4, .ks_level = 1,
                               .lwe_noise_std = cml_secure_noise_std(450),
                               .glwe_noise_std = cml_secure_noise_std(256), .norm2 = 1};
    if (cml_params_validate(&expect_tiny) != CML_OK) return 0;
    if (cml_params_select(2, 1.0, ldexp(1, -40), &expect_p2) != CML_OK) return 0;
    ready = 1;
    return 1;
}

static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* A successful load must serialize back to the input, except the stored
 * log2_p_error (bytes 72..80, recomputed by the loader) and so the checksum. */
static void check_same(const uint8_t *in, size_t len, uint8_t *out, size_t out_len) {
    if (out_len != len || memcmp(in, out, 72) != 0 ||
        memcmp(in + 80, out + 80, len - 80 - SUM) != 0)
        __builtin_trap();
    cml_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || !setup()) return 0;
    const unsigned mode = data[0];
    data++;
    size--;

    /* an exact-size copy, so any read past the end is caught by ASan */
    size_t len = size;
    if ((mode & 8) && size >= HEADER) {
        uint64_t plen = get_u64(data + 88);
        if (plen > EXPAND_MAX) return 0;
        len = HEADER + (size_t)plen + SUM;
    }
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) return 0;
    if (len == size) {
        if (size) memcpy(buf, data, size);
    } else {
        memcpy(buf, data, HEADER);
        /* repeat by doubling: a byte loop here would dominate the run time
         * under coverage instrumentation */
        uint8_t *payload = buf + HEADER;
        size_t need = len - HEADER - SUM, have = size - HEADER < need ? size - HEADER : need;
        memcpy(payload, data + HEADER, have);
        if (have == 0) {
            memset(payload, 0, need);
            have = need;
        }
        while (have < need) {
            size_t n = have < need - have ? have : need - have;
            memcpy(payload + have, payload, n);
            have += n;
        }
    }
    if ((mode & 12) && len >= SUM)
        crypto_generichash(buf + len - SUM, SUM, buf, len - SUM, NULL, 0);

    uint8_t *out;
    size_t out_len;
    switch (mode & 3) {
    case 0: {
        cml_client_key *ck = NULL;
        if (cml_client_key_deserialize(buf, len, &ck) == CML_OK) {
            if (cml_client_key_serialize(ck, &out, &out_len) == CML_OK) check_same(buf, len, out, out_len);
            cml_client_key_destroy(ck);
        } else if (ck) {
            __builtin_trap(); /* a failed load must not hand out an object */
        }
        break;
    }
    case 1: {
        cml_server_key *sk = NULL;
        if (cml_server_key_deserialize(ctx, buf, len, &sk) == CML_OK) {
            if (cml_server_key_serialize(sk, &out, &out_len) == CML_OK) check_same(buf, len, out, out_len);
            cml_server_key_destroy(sk);
        } else if (sk) {
            __builtin_trap();
        }
        break;
    }
    default: {
        cml_ct *ct = NULL;
        const cml_params *expect = NULL;
        if ((mode & 3) == 3) expect = (mode & 16) ? &expect_tiny : &expect_p2;
        if (cml_ct_deserialize(buf, len, expect, &ct) == CML_OK) {
            if (cml_ct_serialize(ct, &out, &out_len) == CML_OK) check_same(buf, len, out, out_len);
            cml_ct_destroy(ct);
        } else if (ct) {
            __builtin_trap();
        }
        break;
    }
    }
    free(buf);
    return 0;
}
