/* serialization.c — keys and ciphertexts to and from bytes and files.
 *
 * Why it exists: a client encrypts on one machine and a server evaluates on
 * another, so keys and ciphertexts travel as files, and a file is untrusted
 * input. The format (docs/serialization.md, byte by byte) is little-endian and
 * written field by field, so it does not depend on the host's struct layout;
 * a BLAKE2b-256 checksum closes it. Loading checks every header field, the
 * payload length the parameters imply and the checksum before allocating
 * anything sized by the file, then decodes into a fresh object. A bad file
 * yields CML_ERR_FORMAT / CML_ERR_MISMATCH and a message naming the problem,
 * never a crash, a leak or a half-built object.
 *
 * Saving goes through a temporary file in the target's directory, fsync and
 * rename, so a crash or a full disk never leaves a partial file under the
 * final name nor clobbers the previous one.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the format ------------------------------------------------------------ */

/* 2: the Fourier bootstrap key in CML's own transform's layout (fft.h);
 * version 1 held FFTW's, which this build cannot use. */
#define FORMAT_VERSION 2u
#define HEADER_BYTES 96u
/* A server key's optional light bootstrap key follows its main keys: u32
 * k, N, base_log, level, then its Fourier values (cml_server_key_add_light). */
#define LIGHT_HEAD_BYTES 16u
#define CHECKSUM_BYTES 32u
/* No legitimate object comes near this; it bounds what a header can make us
 * allocate or hash. */
#define PAYLOAD_MAX (UINT64_C(16) << 30)

static const uint8_t MAGIC[8] = {'C', 'M', 'L', 'T', 'F', 'H', 'E', '\0'};

enum {
    KIND_CLIENT_KEY = 1,
    KIND_SERVER_KEY = 2,
    KIND_CIPHERTEXT = 3,
};

static const char *kind_name(uint32_t kind) {
    switch (kind) {
    case KIND_CLIENT_KEY: return "client key";
    case KIND_SERVER_KEY: return "server key";
    case KIND_CIPHERTEXT: return "ciphertext";
    }
    return "unknown object";
}

/* ---- little-endian fields ----------------------------------------------------- */

static uint8_t *put_u32(uint8_t *p, uint32_t v) {
    for (unsigned i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
    return p + 4;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v) {
    for (unsigned i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
    return p + 8;
}

/* Doubles travel as their IEEE-754 binary64 bit pattern. */
static uint8_t *put_f64(uint8_t *p, double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return put_u64(p, u);
}

static uint32_t get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (unsigned i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static double get_f64(const uint8_t *p) {
    uint64_t u = get_u64(p);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* Whole arrays: on a little-endian host (every target CML runs on today)
 * the file layout is the memory layout, and one memcpy replaces a loop that
 * dominates loading a 60 MB server key. Doubles are assumed to share the
 * integers' byte order, as on every IEEE-754 platform in use. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_LE 1
#else
#define HOST_LE 0
#endif
_Static_assert(sizeof(double) == 8, "binary64 doubles");

/* n words of `width` bytes (4 or 8: uint32_t, uint64_t, double), stored
 * little-endian. */
static uint8_t *put_words(uint8_t *p, const void *v, size_t n, size_t width) {
    if (n == 0) return p; /* v may be NULL (the empty keys of a linear set) */
    if (HOST_LE) {
        memcpy(p, v, n * width);
        return p + n * width;
    }
    const uint8_t *src = v;
    for (size_t i = 0; i < n; i++, src += width, p += width)
        for (size_t b = 0; b < width; b++) p[b] = src[width - 1 - b];
    return p;
}

static void get_words(void *v, const uint8_t *p, size_t n, size_t width) {
    if (n == 0) return;
    if (HOST_LE) {
        memcpy(v, p, n * width);
        return;
    }
    uint8_t *dst = v;
    for (size_t i = 0; i < n; i++, dst += width, p += width)
        for (size_t b = 0; b < width; b++) dst[b] = p[width - 1 - b];
}

/* ---- sizes --------------------------------------------------------------------- */

static int mul_u64(uint64_t a, uint64_t b, uint64_t *r) { return !__builtin_mul_overflow(a, b, r); }
static int add_u64(uint64_t a, uint64_t b, uint64_t *r) { return !__builtin_add_overflow(a, b, r); }

/* Bytes of one big-key LWE ciphertext: (k*N + 1) words. */
static uint64_t ct_row_bytes(const cml_params *p) {
    return ((uint64_t)p->glwe_dimension * p->polynomial_size + 1) * 8;
}

/* Payload bytes a key of these (validated, so bounded) parameters needs, in
 * *bytes; 0 (false) if the product overflows, which the caller reports as
 * too large. A server key without bootstrap (n = 0) has an empty payload. */
static int key_payload_bytes(uint32_t kind, const cml_params *p, uint64_t *bytes) {
    uint64_t kn = (uint64_t)p->glwe_dimension * p->polynomial_size, t;
    if (kind == KIND_CLIENT_KEY) {
        *bytes = (p->lwe_dimension + kn + 7) / 8;
        return 1;
    }
    /* server key: ksk words * 4 + bsk doubles * 8 (then, optionally, a
     * light bootstrap key: see light_section) */
    uint64_t k1 = (uint64_t)p->glwe_dimension + 1, ksk, bsk;
    if (!mul_u64(kn, p->ks_level, &t) || !mul_u64(t, (uint64_t)p->lwe_dimension + 1, &t) ||
        !mul_u64(t, 4, &ksk))
        return 0;
    if (!mul_u64(k1 * k1, p->pbs_level, &t) || !mul_u64(t, p->polynomial_size, &t) ||
        !mul_u64(t, p->lwe_dimension, &t) || !mul_u64(t, 8, &bsk))
        return 0;
    return add_u64(ksk, bsk, bytes);
}

/* A server key's payload: its keys, then the light bootstrap key's section
 * when light is not NULL. */
static int server_payload_bytes(const cml_params *p, const cml_params *light, uint64_t *bytes) {
    if (!key_payload_bytes(KIND_SERVER_KEY, p, bytes)) return 0;
    if (!light) return 1;
    uint64_t lb;
    return mul_u64(cml_bsk_fourier_doubles(light), 8, &lb) &&
           add_u64(*bytes, LIGHT_HEAD_BYTES + lb, bytes);
}

size_t cml_server_key_file_bytes(const cml_params *params, const cml_params *light) {
    uint64_t payload;
    if (!params || !server_payload_bytes(params, light, &payload) ||
        payload > SIZE_MAX - HEADER_BYTES - CHECKSUM_BYTES)
        return SIZE_MAX;
    return (size_t)(HEADER_BYTES + payload + CHECKSUM_BYTES);
}

/* ---- buffers handed to the caller ------------------------------------------------
 *
 * A serialized client key is the secret key, so cml_free() wipes before
 * freeing; it learns the length from a prefix stored just before the bytes
 * the caller sees (16 bytes keep malloc's alignment). */

#define BLOB_PREFIX 16u

static uint8_t *blob_alloc(size_t len) {
    if (len > SIZE_MAX - BLOB_PREFIX) return NULL;
    uint8_t *b = malloc(BLOB_PREFIX + len);
    if (!b) return NULL;
    memcpy(b, &len, sizeof len);
    return b + BLOB_PREFIX;
}

void cml_free(void *p) {
    if (!p) return;
    uint8_t *b = (uint8_t *)p - BLOB_PREFIX;
    size_t len;
    memcpy(&len, b, sizeof len);
    sodium_memzero(p, len);
    free(b);
}

/* ---- errors ------------------------------------------------------------------------ */

/* Re-raise the thread's current message behind a prefix (a path, a function
 * name). The message is copied first: cml_error formats into the same buffer. */
static cml_status with_prefix(cml_status st, const char *prefix) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", cml_last_error());
    return cml_error(st, "%s: %s", prefix, msg);
}

static int sodium_ready(void) { return sodium_init() >= 0; }

/* ---- writing ------------------------------------------------------------------------ */

/* Allocates the whole blob for an object of `kind` with `payload` bytes and
 * writes its header; the caller fills the payload and calls finish_blob.
 * The header carries the validated copy of the parameters, so the derived
 * field log2_p_error is the one this build computes and a load reproduces
 * it exactly. */
static cml_status begin_blob(const char *fn, uint32_t kind, const cml_params *params,
                             uint64_t payload, uint8_t **blob, size_t *len) {
    cml_params v = *params;
    cml_status st = cml_params_validate(&v);
    if (st) return with_prefix(CML_ERR_ARG, fn);
    if (payload > PAYLOAD_MAX)
        return cml_error(CML_ERR_ARG, "%s: a %llu-byte payload exceeds the 16 GiB format limit",
                         fn, (unsigned long long)payload);
    if (!sodium_ready()) return cml_error(CML_ERR_INTERNAL, "%s: libsodium failed to initialise", fn);
    uint64_t total = HEADER_BYTES + payload + CHECKSUM_BYTES;
    if (total > SIZE_MAX - BLOB_PREFIX)
        return cml_error(CML_ERR_NOMEM, "%s: %llu bytes do not fit in memory", fn,
                         (unsigned long long)total);
    uint8_t *b = blob_alloc((size_t)total);
    if (!b) return cml_error(CML_ERR_NOMEM, "%s: out of memory (%llu bytes)", fn,
                             (unsigned long long)total);
    uint8_t *p = b;
    memcpy(p, MAGIC, sizeof MAGIC);
    p += sizeof MAGIC;
    p = put_u32(p, FORMAT_VERSION);
    p = put_u32(p, kind);
    p = put_u32(p, v.precision);
    p = put_u32(p, v.glwe_dimension);
    p = put_u32(p, v.polynomial_size);
    p = put_u32(p, v.lwe_dimension);
    p = put_u32(p, v.pbs_base_log);
    p = put_u32(p, v.pbs_level);
    p = put_u32(p, v.ks_base_log);
    p = put_u32(p, v.ks_level);
    p = put_f64(p, v.lwe_noise_std);
    p = put_f64(p, v.glwe_noise_std);
    p = put_f64(p, v.norm2);
    p = put_f64(p, v.log2_p_error);
    p = put_u64(p, cml_params_fingerprint(&v));
    p = put_u64(p, payload);
    (void)p; /* == b + HEADER_BYTES */
    *blob = b;
    *len = (size_t)total;
    return CML_OK;
}

static void finish_blob(uint8_t *blob, size_t len) {
    crypto_generichash(blob + len - CHECKSUM_BYTES, CHECKSUM_BYTES, blob, len - CHECKSUM_BYTES,
                       NULL, 0);
}

static cml_status check_out_args(const char *fn, const void *obj, uint8_t **buf, size_t *len) {
    if (buf) *buf = NULL;
    if (len) *len = 0;
    if (!obj || !buf || !len) return cml_error(CML_ERR_ARG, "%s: NULL argument", fn);
    return CML_OK;
}

cml_status cml_client_key_serialize(const cml_client_key *ck, uint8_t **buf, size_t *len) {
    static const char fn[] = "cml_client_key_serialize";
    cml_status st = check_out_args(fn, ck, buf, len);
    if (st) return st;
    const cml_params *p = &ck->params;
    const size_t n = p->lwe_dimension, big = cml_big_dim(p);
    for (size_t i = 0; i < n + big; i++) {
        uint64_t w = i < n ? ck->lwe_key[i] : ck->glwe_key[i - n];
        if (w > 1) return cml_error(CML_ERR_ARG, "%s: key word %zu is not a bit", fn, i);
    }
    uint8_t *blob;
    size_t total;
    uint64_t payload_len;
    if (!key_payload_bytes(KIND_CLIENT_KEY, p, &payload_len))
        return cml_error(CML_ERR_ARG, "%s: client key size overflows", fn);
    if ((st = begin_blob(fn, KIND_CLIENT_KEY, p, payload_len, &blob, &total))) return st;
    /* bit i of the key sequence (small key, then GLWE key) is bit i%8 of byte i/8 */
    uint8_t *payload = blob + HEADER_BYTES;
    memset(payload, 0, (n + big + 7) / 8);
    for (size_t i = 0; i < n + big; i++) {
        uint64_t w = i < n ? ck->lwe_key[i] : ck->glwe_key[i - n];
        payload[i / 8] |= (uint8_t)(w << (i % 8));
    }
    finish_blob(blob, total);
    *buf = blob;
    *len = total;
    return CML_OK;
}

cml_status cml_server_key_serialize(const cml_server_key *sk, uint8_t **buf, size_t *len) {
    static const char fn[] = "cml_server_key_serialize";
    cml_status st = check_out_args(fn, sk, buf, len);
    if (st) return st;
    const cml_params *p = &sk->params;
    uint64_t payload;
    if (!server_payload_bytes(p, sk->light ? &sk->light->params : NULL, &payload))
        return cml_error(CML_ERR_ARG, "%s: server key size overflows", fn);
    const size_t light_doubles = sk->light ? cml_bsk_fourier_doubles(&sk->light->params) : 0;
    uint8_t *blob;
    size_t total;
    if ((st = begin_blob(fn, KIND_SERVER_KEY, p, payload, &blob, &total))) return st;
    uint8_t *w = blob + HEADER_BYTES;
    const size_t ksk = cml_ksk_words(p), bsk = cml_bsk_fourier_doubles(p);
    w = put_words(w, sk->ksk, ksk, 4);
    w = put_words(w, sk->bsk, bsk, 8);
    if (sk->light) {
        const cml_params *lp = &sk->light->params;
        w = put_u32(w, lp->glwe_dimension);
        w = put_u32(w, lp->polynomial_size);
        w = put_u32(w, lp->pbs_base_log);
        w = put_u32(w, lp->pbs_level);
        put_words(w, sk->light->bsk, light_doubles, 8);
    }
    finish_blob(blob, total);
    *buf = blob;
    *len = total;
    return CML_OK;
}

cml_status cml_ct_serialize(const cml_ct *ct, uint8_t **buf, size_t *len) {
    static const char fn[] = "cml_ct_serialize";
    cml_status st = check_out_args(fn, ct, buf, len);
    if (st) return st;
    const cml_params *p = &ct->params;
    uint64_t payload;
    if (!mul_u64(ct->count, ct_row_bytes(p), &payload) || !add_u64(payload, 8, &payload))
        return cml_error(CML_ERR_ARG, "%s: %zu ciphertexts overflow the size", fn, ct->count);
    uint8_t *blob;
    size_t total;
    if ((st = begin_blob(fn, KIND_CIPHERTEXT, p, payload, &blob, &total))) return st;
    uint8_t *w = put_u64(blob + HEADER_BYTES, ct->count);
    put_words(w, ct->data, ct->count * cml_lwe_size(p), 8);
    finish_blob(blob, total);
    *buf = blob;
    *len = total;
    return CML_OK;
}

/* ---- reading -------------------------------------------------------------------------- */

typedef struct header {
    cml_params params;       /* validated: log2_p_error and cost recomputed */
    uint64_t payload_len;
    const uint8_t *payload;
} header;

/* The light bootstrap key's parameters from its section header. */
static cml_status light_head(const cml_params *main, const uint8_t *h, cml_params *lp) {
    return cml_params_light(main, get_u32(h), get_u32(h + 4), get_u32(h + 8),
                                       get_u32(h + 12), lp);
}

/* Everything that can be checked without allocating: magic, version, kind,
 * parameters, fingerprint, payload length against the parameters and the
 * buffer, and the checksum. For a ciphertext the count (the first payload
 * word) is checked against the length too. Checks go from the outside in,
 * so a truncated file is called truncated, not corrupted. */
static cml_status read_header(const uint8_t *buf, size_t len, uint32_t want, header *h) {
    if (!buf && len) return cml_error(CML_ERR_ARG, "NULL buffer of %zu bytes", len);
    if (len == 0) return cml_error(CML_ERR_FORMAT, "empty input (0 bytes): not a CML file");
    if (memcmp(buf, MAGIC, len < sizeof MAGIC ? len : sizeof MAGIC) != 0)
        return cml_error(CML_ERR_FORMAT, "not a CML file (bad magic)");
    if (len < HEADER_BYTES + CHECKSUM_BYTES)
        return cml_error(CML_ERR_FORMAT,
                         "truncated: %zu bytes, shorter than the %u-byte header and checksum",
                         len, HEADER_BYTES + CHECKSUM_BYTES);
    uint32_t version = get_u32(buf + 8);
    if (version != FORMAT_VERSION)
        return cml_error(CML_ERR_FORMAT, "format version %u, this build reads %u", version,
                         FORMAT_VERSION);
    uint32_t kind = get_u32(buf + 12);
    if (kind < KIND_CLIENT_KEY || kind > KIND_CIPHERTEXT)
        return cml_error(CML_ERR_FORMAT, "unknown object kind %u (expected a %s)", kind,
                         kind_name(want));
    if (kind == KIND_CLIENT_KEY && want == KIND_SERVER_KEY)
        return cml_error(CML_ERR_FORMAT,
                         "this is a client (secret) key, not a server key: evaluation "
                         "needs only the server key");
    if (kind != want)
        return cml_error(CML_ERR_FORMAT, "this is a %s, expected a %s", kind_name(kind),
                         kind_name(want));

    cml_params p = {
        .precision = get_u32(buf + 16),
        .glwe_dimension = get_u32(buf + 20),
        .polynomial_size = get_u32(buf + 24),
        .lwe_dimension = get_u32(buf + 28),
        .pbs_base_log = get_u32(buf + 32),
        .pbs_level = get_u32(buf + 36),
        .ks_base_log = get_u32(buf + 40),
        .ks_level = get_u32(buf + 44),
        .lwe_noise_std = get_f64(buf + 48),
        .glwe_noise_std = get_f64(buf + 56),
        .norm2 = get_f64(buf + 64),
        .log2_p_error = get_f64(buf + 72),
    };
    if (cml_params_validate(&p) != CML_OK) return with_prefix(CML_ERR_FORMAT, "invalid parameters");
    uint64_t stored_fp = get_u64(buf + 80), fp = cml_params_fingerprint(&p);
    if (stored_fp != fp)
        return cml_error(CML_ERR_FORMAT,
                         "parameter fingerprint mismatch (header says %016llx, the fields give "
                         "%016llx): header edited or corrupted",
                         (unsigned long long)stored_fp, (unsigned long long)fp);

    uint64_t plen = get_u64(buf + 88);
    if (kind == KIND_CIPHERTEXT) {
        uint64_t row = ct_row_bytes(&p);
        if (plen < 8 || (plen - 8) % row != 0)
            return cml_error(CML_ERR_FORMAT,
                             "payload length %llu is not 8 + a multiple of %llu (one "
                             "ciphertext at these parameters)",
                             (unsigned long long)plen, (unsigned long long)row);
    } else {
        uint64_t want_len;
        if (!key_payload_bytes(kind, &p, &want_len) || want_len > PAYLOAD_MAX)
            return cml_error(CML_ERR_FORMAT,
                             "the parameters imply a %s above the 16 GiB format limit",
                             kind_name(kind));
        if (kind == KIND_SERVER_KEY && plen > want_len && plen <= PAYLOAD_MAX) {
            /* a light bootstrap key may follow: its decomposition says how long */
            if (plen - want_len < LIGHT_HEAD_BYTES ||
                (uint64_t)len < (uint64_t)HEADER_BYTES + want_len + LIGHT_HEAD_BYTES)
                return cml_error(CML_ERR_FORMAT,
                                 "payload length %llu bytes, but the parameters imply %llu (and "
                                 "what follows is too short for a light bootstrap key)",
                                 (unsigned long long)plen, (unsigned long long)want_len);
            const uint8_t *lh = buf + HEADER_BYTES + want_len;
            cml_params lp;
            if (light_head(&p, lh, &lp) != CML_OK) {
                char msg[400];
                snprintf(msg, sizeof msg, "%s", cml_last_error());
                return cml_error(CML_ERR_FORMAT,
                                 "payload length %llu bytes, but the parameters imply %llu (and "
                                 "what follows is no light bootstrap key: %s)",
                                 (unsigned long long)plen, (unsigned long long)want_len, msg);
            }
            if (!server_payload_bytes(&p, &lp, &want_len))
                return cml_error(CML_ERR_FORMAT,
                                 "the parameters imply a server key above the 16 GiB format limit");
        }
        if (plen != want_len)
            return cml_error(CML_ERR_FORMAT,
                             "payload length %llu bytes, but the parameters imply %llu",
                             (unsigned long long)plen, (unsigned long long)want_len);
    }
    if (plen > PAYLOAD_MAX)
        return cml_error(CML_ERR_FORMAT, "payload of %llu bytes exceeds the 16 GiB format limit",
                         (unsigned long long)plen);
    /* plen <= 16 GiB, so this cannot wrap in 64 bits */
    uint64_t total = HEADER_BYTES + plen + CHECKSUM_BYTES;
    if ((uint64_t)len < total)
        return cml_error(CML_ERR_FORMAT, "truncated: %zu bytes, the header announces %llu", len,
                         (unsigned long long)total);
    if ((uint64_t)len > total)
        return cml_error(CML_ERR_FORMAT, "trailing data: %llu bytes after the checksum",
                         (unsigned long long)((uint64_t)len - total));
    if (kind == KIND_CIPHERTEXT) {
        uint64_t count = get_u64(buf + HEADER_BYTES), bytes;
        if (!mul_u64(count, ct_row_bytes(&p), &bytes) || bytes != plen - 8)
            return cml_error(CML_ERR_FORMAT,
                             "ciphertext count %llu does not match the payload length %llu",
                             (unsigned long long)count, (unsigned long long)plen);
    }
    if (!sodium_ready()) return cml_error(CML_ERR_INTERNAL, "libsodium failed to initialise");
    uint8_t sum[CHECKSUM_BYTES];
    crypto_generichash(sum, sizeof sum, buf, len - CHECKSUM_BYTES, NULL, 0);
    if (memcmp(sum, buf + len - CHECKSUM_BYTES, CHECKSUM_BYTES) != 0)
        return cml_error(CML_ERR_FORMAT, "checksum mismatch: file corrupted");
    h->params = p;
    h->payload_len = plen;
    h->payload = buf + HEADER_BYTES;
    return CML_OK;
}

cml_status cml_client_key_deserialize(const uint8_t *buf, size_t len, cml_client_key **out) {
    if (!out) return cml_error(CML_ERR_ARG, "cml_client_key_deserialize: out is NULL");
    *out = NULL;
    header h;
    cml_status st = read_header(buf, len, KIND_CLIENT_KEY, &h);
    if (st) return st;
    const size_t n = h.params.lwe_dimension, bits = n + cml_big_dim(&h.params);
    /* The writer leaves the bits past the key zero; anything else did not
     * come from this format (the checksum is only integrity, not origin). */
    if (bits % 8 && (h.payload[bits / 8] >> (bits % 8)) != 0)
        return cml_error(CML_ERR_FORMAT, "client key: nonzero padding bits after the key");
    cml_client_key *ck;
    if ((st = cml_client_key_alloc(&h.params, &ck))) return st;
    for (size_t i = 0; i < bits; i++) {
        uint64_t bit = (h.payload[i / 8] >> (i % 8)) & 1u;
        if (i < n)
            ck->lwe_key[i] = bit;
        else
            ck->glwe_key[i - n] = bit;
    }
    *out = ck;
    return CML_OK;
}

/* A forward FFT of N/2 twisted points of at most 2^63 in modulus stays
 * below 2^63 * sqrt(2) * N/2 < 2^64 * N in each part; larger or non-finite
 * values would make the external product produce garbage (or NaN) silently.
 * (!(x <= bound) also catches NaN.) */
static cml_status check_bsk(const cml_server_key *sk, const char *what) {
    const size_t bsk = cml_bsk_fourier_doubles(&sk->params);
    const double bound = ldexp((double)sk->params.polynomial_size, 64);
    for (size_t i = 0; i < bsk; i++)
        if (!(fabs(sk->bsk[i]) <= bound))
            return cml_error(CML_ERR_FORMAT,
                             "server key: %s value %zu (%g) is not finite or exceeds "
                             "2^64*N in magnitude",
                             what, i, sk->bsk[i]);
    return CML_OK;
}

cml_status cml_server_key_deserialize(cml_context *ctx, const uint8_t *buf, size_t len,
                                      cml_server_key **out) {
    if (!out) return cml_error(CML_ERR_ARG, "cml_server_key_deserialize: out is NULL");
    *out = NULL;
    /* ctx is unused today; requiring it keeps the door open for preparing
     * FFT plans at load time without an API change. */
    if (!ctx) return cml_error(CML_ERR_ARG, "cml_server_key_deserialize: ctx is NULL");
    header h;
    cml_status st = read_header(buf, len, KIND_SERVER_KEY, &h);
    if (st) return st;
    cml_server_key *sk;
    if ((st = cml_server_key_alloc(&h.params, NULL, &sk))) return st;
    const size_t ksk = cml_ksk_words(&h.params), bsk = cml_bsk_fourier_doubles(&h.params);
    get_words(sk->ksk, h.payload, ksk, 4);
    get_words(sk->bsk, h.payload + ksk * 4, bsk, 8);
    const uint8_t *rest = h.payload + ksk * 4 + bsk * 8;
    if ((st = check_bsk(sk, "bootstrap key"))) goto fail;
    if (rest < h.payload + h.payload_len) { /* the light key read_header sized */
        cml_params lp;
        if ((st = light_head(&h.params, rest, &lp))) goto fail;
        if ((st = cml_server_key_alloc(&lp, sk->ksk, &sk->light))) goto fail;
        get_words(sk->light->bsk, rest + LIGHT_HEAD_BYTES, cml_bsk_fourier_doubles(&lp), 8);
        if ((st = check_bsk(sk->light, "light bootstrap key"))) goto fail;
    }
    *out = sk;
    return CML_OK;
fail:
    cml_server_key_destroy(sk);
    return st;
}

cml_status cml_ct_deserialize(const uint8_t *buf, size_t len, const cml_params *expect,
                              cml_ct **out) {
    if (!out) return cml_error(CML_ERR_ARG, "cml_ct_deserialize: out is NULL");
    *out = NULL;
    header h;
    cml_status st = read_header(buf, len, KIND_CIPHERTEXT, &h);
    if (st) return st;
    if (expect) {
        uint64_t have = cml_params_fingerprint(&h.params), want = cml_params_fingerprint(expect);
        if (have != want)
            return cml_error(CML_ERR_MISMATCH,
                             "ciphertext made for other parameters (fingerprint %016llx, "
                             "expected %016llx)",
                             (unsigned long long)have, (unsigned long long)want);
    }
    /* read_header checked count * row == payload - 8 <= 16 GiB */
    size_t count = (size_t)get_u64(h.payload);
    cml_ct *ct;
    if ((st = cml_ct_create(&h.params, count, &ct))) return st;
    get_words(ct->data, h.payload + 8, count * cml_lwe_size(&h.params), 8);
    *out = ct;
    return CML_OK;
}

/* ---- files ------------------------------------------------------------------------------ */

/* strerror() is not thread-safe; this is the XSI strerror_r. */
static const char *errstr(int err, char *buf, size_t size) {
    if (strerror_r(err, buf, size) != 0) snprintf(buf, size, "error %d", err);
    return buf;
}

static int write_all(int fd, const uint8_t *p, size_t len) {
    while (len) {
        ssize_t w = write(fd, p, len > (SIZE_MAX >> 2) ? (SIZE_MAX >> 2) : len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* The directory entry made by rename() is only durable once the directory
 * itself is synced. Best effort: some filesystems refuse fsync on a
 * directory, and the data is already safe under one name or the other. */
static void sync_parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = NULL;
    if (!slash) {
        dir = strdup(".");
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        dir = malloc(n + 1);
        if (dir) {
            memcpy(dir, path, n);
            dir[n] = '\0';
        }
    }
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

static cml_status save_blob(const char *path, const uint8_t *blob, size_t len, mode_t mode) {
    static const char suffix[] = ".tmp.XXXXXX";
    char eb[128];
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof suffix);
    if (!tmp) return cml_error(CML_ERR_NOMEM, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, suffix, sizeof suffix);
    /* mkstemp creates the file 0600, so a client key is never readable by
     * others, not even for an instant */
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int err = errno;
        free(tmp);
        return cml_error(CML_ERR_IO, "%s: cannot create a temporary file next to it: %s", path,
                         errstr(err, eb, sizeof eb));
    }
    const char *what = NULL;
    if (mode != 0600 && fchmod(fd, mode) != 0)
        what = "cannot set permissions";
    else if (write_all(fd, blob, len) != 0)
        what = "write failed";
    else if (fsync(fd) != 0)
        what = "fsync failed";
    int err = errno;
    if (close(fd) != 0 && !what) {
        what = "close failed";
        err = errno;
    }
    if (!what && rename(tmp, path) != 0) {
        what = "cannot rename the temporary file into place";
        err = errno;
    }
    if (what) {
        unlink(tmp);
        free(tmp);
        return cml_error(CML_ERR_IO, "%s: %s: %s", path, what, errstr(err, eb, sizeof eb));
    }
    free(tmp);
    sync_parent_dir(path);
    return CML_OK;
}

/* Reads the whole of a regular file. The caller frees *out (wiping it first
 * when it may hold a client key). */
static cml_status load_blob(const char *path, uint8_t **out, size_t *len) {
    char eb[128];
    *out = NULL;
    *len = 0;
    /* O_NONBLOCK: opening a FIFO must not hang; it is refused below anyway */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return cml_error(CML_ERR_IO, "%s: cannot open: %s", path, errstr(errno, eb, sizeof eb));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return cml_error(CML_ERR_IO, "%s: cannot stat: %s", path, errstr(err, eb, sizeof eb));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return cml_error(CML_ERR_IO, "%s: is a directory, not a CML file", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return cml_error(CML_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return cml_error(CML_ERR_FORMAT, "%s: file is empty", path);
    }
    if ((uint64_t)st.st_size > HEADER_BYTES + PAYLOAD_MAX + CHECKSUM_BYTES ||
        (uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return cml_error(CML_ERR_FORMAT, "%s: %lld bytes is larger than any CML object", path,
                         (long long)st.st_size);
    }
    size_t size = (size_t)st.st_size, got = 0;
    uint8_t *buf = malloc(size);
    if (!buf) {
        close(fd);
        return cml_error(CML_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, size);
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int err = errno;
            sodium_memzero(buf, got);
            free(buf);
            close(fd);
            if (r == 0) return cml_error(CML_ERR_IO, "%s: file shrank while being read", path);
            return cml_error(CML_ERR_IO, "%s: read failed: %s", path, errstr(err, eb, sizeof eb));
        }
        got += (size_t)r;
    }
    close(fd);
    *out = buf;
    *len = size;
    return CML_OK;
}

cml_status cml_client_key_save(const cml_client_key *ck, const char *path) {
    if (!ck || !path) return cml_error(CML_ERR_ARG, "cml_client_key_save: NULL argument");
    uint8_t *blob;
    size_t len;
    cml_status st = cml_client_key_serialize(ck, &blob, &len);
    if (st) return st;
    st = save_blob(path, blob, len, 0600);
    cml_free(blob); /* wipes the key bits */
    return st;
}

cml_status cml_server_key_save(const cml_server_key *sk, const char *path) {
    if (!sk || !path) return cml_error(CML_ERR_ARG, "cml_server_key_save: NULL argument");
    uint8_t *blob;
    size_t len;
    cml_status st = cml_server_key_serialize(sk, &blob, &len);
    if (st) return st;
    st = save_blob(path, blob, len, 0644);
    cml_free(blob);
    return st;
}

cml_status cml_ct_save(const cml_ct *ct, const char *path) {
    if (!ct || !path) return cml_error(CML_ERR_ARG, "cml_ct_save: NULL argument");
    uint8_t *blob;
    size_t len;
    cml_status st = cml_ct_serialize(ct, &blob, &len);
    if (st) return st;
    st = save_blob(path, blob, len, 0644);
    cml_free(blob);
    return st;
}

cml_status cml_client_key_load(const char *path, cml_client_key **out) {
    if (!out) return cml_error(CML_ERR_ARG, "cml_client_key_load: out is NULL");
    *out = NULL;
    if (!path) return cml_error(CML_ERR_ARG, "cml_client_key_load: path is NULL");
    uint8_t *buf;
    size_t len;
    cml_status st = load_blob(path, &buf, &len);
    if (st) return st;
    st = cml_client_key_deserialize(buf, len, out);
    sodium_memzero(buf, len);
    free(buf);
    return st ? with_prefix(st, path) : CML_OK;
}

cml_status cml_server_key_load(cml_context *ctx, const char *path, cml_server_key **out) {
    if (!out) return cml_error(CML_ERR_ARG, "cml_server_key_load: out is NULL");
    *out = NULL;
    if (!path || !ctx) return cml_error(CML_ERR_ARG, "cml_server_key_load: NULL argument");
    uint8_t *buf;
    size_t len;
    cml_status st = load_blob(path, &buf, &len);
    if (st) return st;
    st = cml_server_key_deserialize(ctx, buf, len, out);
    free(buf);
    return st ? with_prefix(st, path) : CML_OK;
}

cml_status cml_ct_load(const char *path, const cml_params *expect, cml_ct **out) {
    if (!out) return cml_error(CML_ERR_ARG, "cml_ct_load: out is NULL");
    *out = NULL;
    if (!path) return cml_error(CML_ERR_ARG, "cml_ct_load: path is NULL");
    uint8_t *buf;
    size_t len;
    cml_status st = load_blob(path, &buf, &len);
    if (st) return st;
    st = cml_ct_deserialize(buf, len, expect, out);
    free(buf);
    return st ? with_prefix(st, path) : CML_OK;
}
