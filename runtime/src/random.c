/* random.c — all randomness of the runtime (see cml_rng in internal.h).
 *
 * Masks and noise come from a ChaCha20 keystream (libsodium), keyed from the
 * OS generator: a CSPRNG, fast enough to fill bootstrap keys. Gaussian noise
 * uses Box-Muller on 53-bit uniform doubles from that stream. Secret key bits
 * come from randombytes_buf() directly. The unsafe test seed (per thread)
 * replaces the OS generator for both, making runs reproducible. */
#include "internal.h"

#include <math.h>
#include <sodium.h>
#include <string.h>

static _Thread_local int unsafe_seeded;
static _Thread_local cml_rng unsafe_root;

static void ensure_sodium(void) {
    /* idempotent and thread-safe; cml_random_ready() reports a failure to
     * callers before they need randomness */
    (void)!sodium_init();
}

cml_status cml_random_ready(void) {
    if (sodium_init() < 0)
        return cml_error(CML_ERR_INTERNAL,
                         "libsodium could not initialise: no usable OS random generator");
    return CML_OK;
}

void cml_unsafe_set_seed(const uint8_t seed[32]) {
    if (!seed) {
        sodium_memzero(&unsafe_root, sizeof unsafe_root);
        unsafe_seeded = 0;
        return;
    }
    memcpy(unsafe_root.key, seed, 32);
    unsafe_root.nonce = 0;
    unsafe_root.pos = sizeof unsafe_root.buf;
    unsafe_seeded = 1;
}

void cml_rng_init(cml_rng *rng) {
    if (unsafe_seeded) {
        cml_rng_bytes(&unsafe_root, rng->key, sizeof rng->key);
    } else {
        ensure_sodium();
        randombytes_buf(rng->key, sizeof rng->key);
    }
    rng->nonce = 0;
    rng->pos = sizeof rng->buf;
}

void cml_rng_fork(cml_rng *parent, cml_rng *child) {
    cml_rng_bytes(parent, child->key, sizeof child->key);
    child->nonce = 0;
    child->pos = sizeof child->buf;
}

void cml_rng_wipe(cml_rng *rng) { sodium_memzero(rng, sizeof *rng); }

static void refill(cml_rng *rng) {
    uint8_t nonce[crypto_stream_chacha20_NONCEBYTES];
    uint64_t n = rng->nonce++;
    for (size_t i = 0; i < sizeof nonce; i++) nonce[i] = (uint8_t)(n >> (8 * i));
    crypto_stream_chacha20(rng->buf, sizeof rng->buf, nonce, rng->key);
    rng->pos = 0;
}

void cml_rng_bytes(cml_rng *rng, void *out, size_t len) {
    uint8_t *o = out;
    while (len) {
        if (rng->pos == sizeof rng->buf) refill(rng);
        size_t take = sizeof rng->buf - rng->pos;
        if (take > len) take = len;
        memcpy(o, rng->buf + rng->pos, take);
        rng->pos += take;
        o += take;
        len -= take;
    }
}

void cml_rng_uniform(cml_rng *rng, uint64_t *out, size_t count) {
    cml_rng_bytes(rng, out, count * sizeof *out);
}

/* Uniform in (0, 1]: never 0, so log() below is finite. */
static double unit_open(uint64_t r) { return ((double)(r >> 11) + 1.0) * 0x1p-53; }

void cml_rng_add_gaussian(cml_rng *rng, uint64_t *out, size_t count, double std) {
    const double scale = std * 0x1p64;
    const double two_pi = 6.283185307179586476925;
    uint64_t r[64];
    size_t i = 0;
    while (i < count) {
        size_t pairs = (count - i + 1) / 2;
        if (pairs > 32) pairs = 32;
        cml_rng_uniform(rng, r, 2 * pairs);
        for (size_t j = 0; j < pairs && i < count; j++) {
            double u1 = unit_open(r[2 * j]), u2 = unit_open(r[2 * j + 1]);
            double rad = sqrt(-2.0 * log(u1)) * scale;
            double th = two_pi * u2;
            out[i++] += (uint64_t)llround(rad * cos(th));
            if (i < count) out[i++] += (uint64_t)llround(rad * sin(th));
        }
    }
    sodium_memzero(r, sizeof r);
}

void cml_random_secret_bits(uint64_t *out, size_t count) {
    uint8_t buf[512];
    size_t i = 0;
    while (i < count) {
        size_t take = count - i < sizeof buf * 8 ? count - i : sizeof buf * 8;
        size_t bytes = (take + 7) / 8;
        if (unsafe_seeded) {
            cml_rng_bytes(&unsafe_root, buf, bytes);
        } else {
            ensure_sodium();
            randombytes_buf(buf, bytes);
        }
        for (size_t j = 0; j < take; j++) out[i + j] = (buf[j / 8] >> (j % 8)) & 1;
        i += take;
    }
    sodium_memzero(buf, sizeof buf);
}

void cml_rng_derive(const uint8_t master[32], uint64_t index, cml_rng *child) {
    uint8_t in[8];
    for (int i = 0; i < 8; i++) in[i] = (uint8_t)(index >> (8 * i));
    crypto_generichash(child->key, sizeof child->key, in, sizeof in, master, 32);
    child->nonce = 0;
    child->pos = sizeof child->buf;
}
