/* internal.h — entities of the TFHE runtime and the helpers every
 * algorithm file shares. Not installed: the public API is cml/tfhe.h.
 *
 * Layout follows tfhe-rs core_crypto: entities (plain structs and flat
 * buffers, here) apart from algorithms (one file each: lwe_encryption.c,
 * lwe_keyswitch.c, programmable_bootstrap.c, ...).
 *
 * Flat buffer layouts (all uint64_t torus words unless said otherwise):
 *   LWE ciphertext, dimension d:  a[0..d) then b            (d+1 words)
 *   GLWE ciphertext:              A_0..A_{k-1} then B, each N coefficients
 *   keyswitch key:                [k*N inputs][ks_level][n+1] LWE ciphertexts
 *                                 under the small key on the 32-bit torus
 *                                 (uint32_t words); level j (1-based)
 *                                 encrypts s_big[i] * 2^(32 - j*ks_base_log)
 *   small-key ciphertexts:        32-bit torus (uint32_t), n+1 words
 *
 * Why a 32-bit torus after the keyswitch: the small ciphertext is modulus
 * switched to log2(2N) <= 18 bits straight away and carries noise of about
 * 2^-17 or more, so bits below 2^-32 are noise on noise. Halving the
 * keyswitch key halves the memory the keyswitch streams (it is memory
 * bound) and lets it use 32-bit vector multiplies. The rounding of the key
 * to 32 bits is in the noise model (params.c).
 *   Fourier bootstrap key:        [n GGSW][(k+1)*pbs_level rows][(k+1) polys]
 *                                 [N doubles: fft.h's split layout]; row (c, j) encrypts
 *                                 s_small[i] * 2^(64 - j*pbs_base_log) added to
 *                                 component c (c = k is the body)
 */
#ifndef CML_RUNTIME_INTERNAL_H
#define CML_RUNTIME_INTERNAL_H

#include <cml/tfhe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- errors (error.c) ---- */
/* Sets the thread's message (printf-style) and returns `s`. */
cml_status cml_error(cml_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cml_clear_error(void);
/* For internal bugs only: never on user input. */
#define CML_UNREACHABLE() __builtin_unreachable()

/* What cml_lut_create and cml_pbs say for a set with lwe_dimension 0. */
#define CML_NO_BOOTSTRAP_MSG \
    "parameters without a bootstrap key (a linear circuit) cannot bootstrap"

/* ---- entities ---- */
struct cml_client_key {
    cml_params params;
    uint64_t *lwe_key;   /* n words, each 0 or 1 (small key); one unused word if n = 0 */
    uint64_t *glwe_key;  /* k*N words, each 0 or 1; flattened = big LWE key */
};

struct cml_server_key {
    cml_params params;
    uint32_t *ksk;        /* k*N * ks_level * (n+1) words, 32-bit torus; NULL if n = 0 */
    double *bsk;          /* n * (k+1)*pbs_level * (k+1) Fourier polynomials of N doubles; NULL if n = 0 */
    /* optional light bootstrap key (cml_server_key_add_light): a server key
     * whose params differ in k, N (k N at most this key's; its GLWE key is
     * the start of this one's), glwe_noise_std, precision and the bootstrap
     * decomposition, sharing this key's ksk (light->ksk_borrowed, which
     * keyswitches from this key's k N); NULL if none */
    struct cml_server_key *light;
    int ksk_borrowed;
};

/* cml_pbs_batch keyswitching with sk and bootstrapping with bk (sk or
 * sk->light); outputs are sk-sized ciphertexts. */
cml_status cml_pbs_batch_on(cml_context *ctx, const cml_server_key *sk, const cml_server_key *bk,
                            const cml_lut *const *luts, size_t lut_count, uint64_t *out,
                            const uint64_t *in, size_t count);


struct cml_ct {
    cml_params params;
    size_t count;
    uint64_t *data;       /* count * (k*N + 1) words */
};

struct cml_lut {
    cml_params params;    /* the set it was built for (N, k) */
    uint32_t in_bits;
    int in_signed;
    uint32_t out_bits;
    uint64_t *poly;       /* N coefficients: the accumulator before rotation */
};

/* Allocate (uninitialised contents) for deserialization and keygen;
 * share_ksk: a light key's, borrowed from its main key (not freed with it). */
cml_status cml_client_key_alloc(const cml_params *params, cml_client_key **out);
cml_status cml_server_key_alloc(const cml_params *params, uint32_t *share_ksk,
                                cml_server_key **out);

/* ---- sizes ---- */
static inline size_t cml_big_dim(const cml_params *p) {
    return (size_t)p->glwe_dimension * p->polynomial_size;
}
/* 32-bit words */
static inline size_t cml_ksk_words(const cml_params *p) {
    return cml_big_dim(p) * p->ks_level * ((size_t)p->lwe_dimension + 1);
}
/* doubles of one Fourier GGSW, and of the whole Fourier bootstrap key */
static inline size_t cml_ggsw_fourier_doubles(const cml_params *p) {
    size_t k1 = (size_t)p->glwe_dimension + 1;
    return k1 * p->pbs_level * k1 * p->polynomial_size;
}
static inline size_t cml_bsk_fourier_doubles(const cml_params *p) {
    return (size_t)p->lwe_dimension * cml_ggsw_fourier_doubles(p);
}

/* ---- noise model (params.c) ---- */
/* Concrete's fitted FFT error constant, log2 (the runtime's own is smaller:
 * see params.c). */
#define CML_FFT_WEIGHT_LOG2_CONCRETE (-2.57722494)
/* Tests only: evaluate the noise model (and selection) on this thread with
 * another FFT error constant; NAN restores the runtime's. */
void cml_noise_set_fft_weight_log2(double log2_weight);

/* ---- randomness (random.c) ----
 * A cml_rng is a ChaCha20 keystream (a CSPRNG) keyed from the OS generator,
 * or, after cml_unsafe_set_seed(), from the test seed. Secret key bits come
 * straight from the OS generator unless the unsafe seed is set. Parallel
 * work forks one child generator per task from a parent so results do not
 * depend on scheduling. */
typedef struct cml_rng {
    uint8_t key[32];
    uint64_t nonce;
    size_t pos;
    uint8_t buf[4096];
} cml_rng;
/* CML_OK once libsodium (the OS generator behind every key) is usable;
 * called by every entry point that creates keys or ciphertexts. */
cml_status cml_random_ready(void);
void cml_rng_init(cml_rng *rng);                       /* fresh key */
void cml_rng_fork(cml_rng *parent, cml_rng *child);    /* child keyed from parent */
/* child keyed by BLAKE2b(master, index): independent streams for parallel
 * tasks, the same whatever thread runs which task */
void cml_rng_derive(const uint8_t master[32], uint64_t index, cml_rng *child);
void cml_rng_wipe(cml_rng *rng);
void cml_rng_bytes(cml_rng *rng, void *out, size_t len);
void cml_rng_uniform(cml_rng *rng, uint64_t *out, size_t count);      /* masks */
/* out[i] += round(N(0, std^2) * 2^64), std on the unit torus */
void cml_rng_add_gaussian(cml_rng *rng, uint64_t *out, size_t count, double std);
/* count words of 0/1 for a secret key (OS generator unless unsafe-seeded) */
void cml_random_secret_bits(uint64_t *out, size_t count);

/* ---- torus/decomposition helpers (decomposition.h) are inline there ---- */

/* ---- FFT (fft.c) ---- */
typedef struct cml_fft cml_fft; /* twiddles for one N */
/* The transform for N, cached in ctx (made once under the context's lock). */
cml_status cml_context_fft(cml_context *ctx, uint32_t N, const cml_fft **out);

/* ---- encryption primitives (lwe_encryption.c, glwe_encryption.c) ---- */
/* Encrypt plaintext under a binary key of `dim` words with noise std. */
void cml_lwe_encrypt_raw(cml_rng *rng, uint64_t *ct, const uint64_t *key, size_t dim,
                         uint64_t plaintext, double std);
uint64_t cml_lwe_phase_raw(const uint64_t *ct, const uint64_t *key, size_t dim);
/* GLWE encryption of the polynomial `msg` (N coefficients; NULL = zero)
 * under a key given in the Fourier domain (cml_glwe_key_fourier, k Fourier
 * polynomials); scratch holds 2 Fourier polynomials (cml_fft_alloc). */
void cml_glwe_key_fourier(const cml_fft *fft, const uint64_t *glwe_key, uint32_t k, double *out);
void cml_glwe_encrypt_raw(cml_rng *rng, const cml_fft *fft, uint64_t *ct,
                          const double *key_fourier, uint32_t k, const uint64_t *msg,
                          double std, double *scratch);

/* ---- bootstrapping internals (lwe_keyswitch.c, programmable_bootstrap.c) ---- */
/* out (n+1 words, small key, 32-bit torus) = keyswitch of in (k*N+1 words) */
void cml_keyswitch_raw(const cml_server_key *sk, uint32_t *out, const uint64_t *in);
/* The same for `count` ciphertexts at once (in + g*in_stride ->
 * out + g*out_stride), reading the keyswitch key from memory once. */
void cml_keyswitch_group(const cml_server_key *sk, uint32_t *out, size_t out_stride,
                         const uint64_t *in, size_t in_stride, size_t count);
/* 64-bit torus value rounded to the 32-bit torus */
static inline uint32_t cml_torus_to32(uint64_t x) { return (uint32_t)((x + (UINT64_C(1) << 31)) >> 32); }
/* Phase of a small-key ciphertext on the 32-bit torus. */
uint32_t cml_lwe_phase_raw32(const uint32_t *ct, const uint64_t *key, size_t dim);
/* log2(2N) for a power-of-two N: the modulus switch's target bits. */
static inline uint32_t cml_log2_2n(uint32_t N) { return (uint32_t)__builtin_ctz(N) + 1; }
/* Modulus switch of a 32-bit torus value to Z_{2N} (log2_2n = log2(2N)). */
static inline uint32_t cml_modswitch(uint32_t x, uint32_t log2_2n) {
    uint32_t shift = 32 - log2_2n;
    return (((x >> (shift - 1)) + 1) >> 1) & ((UINT32_C(1) << log2_2n) - 1);
}
/* The centred variant: switches a whole small ciphertext (n+1 words) into
 * out (n+1 values in Z_2N), correcting the body by half the sum of the mask
 * rounding errors (binary keys have mean 1/2), which halves the mask term of
 * the modulus switching noise. */
void cml_modswitch_centered(const uint32_t *ct, uint32_t n, uint32_t log2_2n, uint32_t *out);

/* Memory for key material streamed by the bootstrap and keyswitch (and by
 * the benchmark's bandwidth figure): 64-byte aligned, on 2 MB pages from
 * 2 MB up (server_key.c). Freed with free(). */
void *cml_key_alloc(size_t bytes);

/* For noise tests: the whole accumulator ((k+1)*N words) after blind
 * rotation of a small-key ciphertext (n+1 words, 32-bit torus). */
cml_status cml_blind_rotate_acc(cml_context *ctx, const cml_server_key *sk, const cml_lut *lut,
                                const uint32_t *small, uint64_t *acc);

/* For the benchmark: the blind rotation's arithmetic without streaming the
 * key. rotation_ms: one rotation's n CMuxes under parameters p, all on one
 * GGSW (arbitrary values) that stays in cache, to set beside the FFT floor;
 * then one CMux step by step, microseconds each: the whole CMux, its input
 * passes (rotation, digits, fold, twist), forward FFTs, pointwise products,
 * inverse FFTs, and the untwist with the conversion to the torus. Medians
 * of reps. */
typedef struct cml_rotation_timing {
    double rotation_ms;
    double cmux_us, input_us, forward_us, products_us, inverse_us, untwist_us;
} cml_rotation_timing;
cml_status cml_rotation_in_cache(cml_context *ctx, const cml_params *p, int reps,
                                 cml_rotation_timing *out);

/* ---- context internals (context.c) ---- */
typedef void (*cml_task_fn)(void *arg, size_t index, unsigned worker);
/* Run fn(arg, i, worker) for i in [0, count) across the context's workers;
 * returns when all are done. `worker` is in [0, threads). */
void cml_context_parallel_for(cml_context *ctx, size_t count, cml_task_fn fn, void *arg);

#endif
