/* cml/tfhe.h — the TFHE-level API of libcmlrt.
 *
 * Why this exists: it is the cryptographic engine every compiled model calls
 * into, and the API a C developer can use directly. Scheme: 64-bit torus
 * (uint64_t, arithmetic mod 2^64), binary secret keys, the KS->PBS atomic
 * pattern of Concrete / tfhe-rs. Ciphertexts between operations live under
 * the "big" LWE key (the GLWE key flattened, dimension k*N); a programmable
 * bootstrap first keyswitches to the small key (dimension n), then blind
 * rotates back to the big key.
 *
 * Conventions (Lua-style):
 *  - every function returns a cml_status; CML_OK is 0; on failure
 *    cml_last_error() gives a readable message for the calling thread;
 *  - opaque handles with create/destroy pairs; destroying NULL is a no-op;
 *  - the creator owns; nothing here calls exit() or abort() on user input.
 *
 * Ciphertexts are flat buffers of uint64_t: an LWE ciphertext of dimension d
 * is d mask words then one body word (d + 1 words). A cml_ct holds `count`
 * such ciphertexts back to back.
 *
 * Encoding of a p-bit message with one padding bit: m * 2^(63-p) mod 2^64,
 * for unsigned m in [0, 2^p) and signed m in [-2^(p-1), 2^(p-1)) alike
 * (negative values wrap; linear operations stay exact). See docs/runtime.md.
 */
#ifndef CML_TFHE_H
#define CML_TFHE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status ------------------------------------------------------------ */

typedef enum cml_status {
    CML_OK = 0,
    CML_ERR_ARG = 1,        /* invalid argument (NULL, out of range, wrong size) */
    CML_ERR_NOMEM = 2,      /* allocation failed */
    CML_ERR_IO = 3,         /* file could not be opened, read or written */
    CML_ERR_FORMAT = 4,     /* serialized data truncated, corrupted or of another version */
    CML_ERR_MISMATCH = 5,   /* object made for other parameters / another key */
    CML_ERR_INFEASIBLE = 6, /* no secure parameter set meets the request */
    CML_ERR_INSECURE = 7,   /* requested parameters below the security floor */
    CML_ERR_INTERNAL = 8    /* a bug in CML: please report it */
} cml_status;

/* Message describing the last failure on this thread ("" if none). */
const char *cml_last_error(void);
/* Short name of a status code ("CML_ERR_FORMAT", ...). */
const char *cml_status_name(cml_status s);

/* ---- parameters -------------------------------------------------------- */

/* A TFHE parameter set for the KS->PBS atomic pattern. Plain data: it may be
 * filled by cml_params_select() or by hand (then check it with
 * cml_params_validate()). Noise standard deviations are on the unit torus. */
typedef struct cml_params {
    uint32_t precision;        /* p: message bits a PBS can read (padding excluded) */
    uint32_t glwe_dimension;   /* k */
    uint32_t polynomial_size;  /* N, a power of two */
    uint32_t lwe_dimension;    /* n, the small key after keyswitch; 0: no bootstrap (below) */
    uint32_t pbs_base_log;     /* log2 of the bootstrap decomposition base */
    uint32_t pbs_level;        /* levels of the bootstrap decomposition */
    uint32_t ks_base_log;      /* log2 of the keyswitch decomposition base */
    uint32_t ks_level;         /* levels of the keyswitch decomposition */
    double lwe_noise_std;      /* sigma of small-key LWE (keyswitch key) */
    double glwe_noise_std;     /* sigma of GLWE / big-key LWE (bootstrap key, fresh ciphertexts) */
    double norm2;              /* squared 2-norm nu^2 the set was chosen for */
    double log2_p_error;       /* predicted log2 failure probability of one PBS */
    double cost;               /* cost model value (arbitrary units, comparable) */
} cml_params;

#define CML_P_ERROR_DEFAULT_LOG2 (-40.0)
#define CML_PRECISION_MAX 10u

/* Minimal secure noise standard deviation (unit torus) for an LWE secret of
 * dimension `dim` at 128-bit security: log2(sigma) = -0.025696778711484593*dim
 * + 2.675931372549016, floored at 4/2^64. */
double cml_secure_noise_std(uint32_t dim);

/* Choose the cheapest secure parameter set for messages of `precision` bits
 * (1..10) feeding a PBS through a linear combination of squared 2-norm `norm2`
 * (>= 1), with a failure probability of at most p_error per PBS. */
cml_status cml_params_select(uint32_t precision, double norm2, double p_error,
                             cml_params *out);

/* One kind of PBS a circuit needs: its input is a linear combination of
 * squared 2-norm `norm2` of PBS outputs plus `norm2_fresh` of fresh
 * encryptions under the big key (the client's inputs, whose noise is the
 * GLWE noise of the set: far below a bootstrap's when k N is large). */
typedef struct cml_pbs_need {
    uint32_t precision;   /* message bits it reads, 1..10 (decrypt: the value's width, 1..62) */
    double norm2;         /* >= 0 */
    double norm2_fresh;   /* >= 0; norm2 + norm2_fresh >= 1 */
    int decrypt;          /* 0: a PBS; 1: a decryption with the big key (no keyswitch, no
                           * modulus switch): a circuit's output must decrypt too */
} cml_pbs_need;

/* The cheapest secure set meeting every need (1 to 64 of them, at least one
 * a PBS) at p_error per PBS or decryption: N >= 2^(widest PBS precision),
 * and for each PBS need
 *   norm2 V_pbs + norm2_fresh V_glwe + V_ks + V_ms <= (2^-(p+2) / kappa)^2,
 * for each decryption need the same without V_ks + V_ms.
 * cml_params_select(p, norm2, e) is this with one need {p, norm2, 0, 0}.
 * The set's precision is the widest PBS need's, its norm2 that need's as an
 * equivalent norm2 of PBS outputs, its log2_p_error the worst over the PBS
 * needs. */
cml_status cml_params_select_needs(const cml_pbs_need *needs, size_t count, double p_error,
                                   cml_params *out);
/* The worst log2 failure probability of a set over the needs (each PBS or
 * decryption). */
double cml_params_log2_p_error_needs(const cml_params *params, const cml_pbs_need *needs,
                                     size_t count);
/* Check a hand-made set: sizes in range, noise at or above the secure curve,
 * decompositions within 53 bits. Fills in log2_p_error and cost.
 * lwe_dimension == 0 is a set without bootstrap (a linear circuit's): valid
 * iff both decompositions' base logs and levels and lwe_noise_std are 0;
 * then only k*N >= 450 and glwe_noise_std are checked, precision is the
 * widest value decrypted (1..62), cost is 0 and log2_p_error that of
 * decrypting a combination of squared 2-norm norm2 of fresh ciphertexts.
 * Its keys have no small key and an empty server key; cml_lut_create and
 * cml_pbs* refuse it (CML_ERR_ARG). docs/params.md. */
cml_status cml_params_validate(cml_params *params);
/* Noise model (variances on the unit torus), exposed for tests and docs. */
double cml_noise_fresh_glwe(const cml_params *params);
double cml_noise_fresh_lwe_small(const cml_params *params);
double cml_noise_external_product(const cml_params *params);
double cml_noise_pbs(const cml_params *params);       /* n * external product */
double cml_noise_keyswitch(const cml_params *params); /* added by the keyswitch */
double cml_noise_modswitch(const cml_params *params); /* plain rounding to 2N */
double cml_noise_modswitch_centered(const cml_params *params);
/* Predicted log2 probability that one PBS with input norm2 decodes wrongly
 * (a set without bootstrap: that a decryption of such a sum does). */
double cml_params_log2_p_error(const cml_params *params, double norm2);
/* The cost model's figure for one bootstrap alone (the set's `cost` less
 * its keyswitch). */
double cml_params_cost_pbs(const cml_params *params);
/* The set of a light bootstrap key (cml_server_key_add_light) for the main
 * set `main`: main's with GLWE dimension k and polynomial size N (k N at
 * most main's: its GLWE key is the start of the main one; when k N is
 * smaller, glwe_noise_std is the secure one for k N), precision at most
 * log2 N, and bootstrap decomposition (base_log, level), validated. The
 * keyswitch stays main's. */
cml_status cml_params_light(const cml_params *main, uint32_t k, uint32_t N, uint32_t base_log,
                            uint32_t level, cml_params *out);
/* A stable 64-bit fingerprint of the cryptographic fields of a set. */
uint64_t cml_params_fingerprint(const cml_params *params);

/* ---- context ------------------------------------------------------------ */

/* Owns FFT plans (cached per polynomial size, made under a lock) and the
 * worker threads of batch bootstrapping. Thread-safe after creation. */
typedef struct cml_context cml_context;

/* threads == 0: use $CML_THREADS, or all online cores if unset. */
cml_status cml_context_create(unsigned threads, cml_context **out);
void cml_context_destroy(cml_context *ctx);
unsigned cml_context_threads(const cml_context *ctx);

/* ---- randomness ----------------------------------------------------------- */

/* Secret keys always come from the OS generator (libsodium randombytes).
 * Noise and masks come from a ChaCha20 stream keyed from the OS generator.
 * cml_unsafe_set_seed() makes every later key and encryption on this thread
 * deterministic: FOR REPRODUCIBLE TESTS ONLY, it destroys security. Passing
 * NULL returns to secure operation. */
void cml_unsafe_set_seed(const uint8_t seed[32]);

/* ---- keys ------------------------------------------------------------------ */

typedef struct cml_client_key cml_client_key; /* secret: small LWE key + GLWE key */
typedef struct cml_server_key cml_server_key; /* evaluation: keyswitch + bootstrap keys */

/* Generate a client key for `params`. */
cml_status cml_client_key_create(const cml_params *params, cml_client_key **out);
void cml_client_key_destroy(cml_client_key *ck);
const cml_params *cml_client_key_params(const cml_client_key *ck);

/* Derive the evaluation keys of a client key. The result holds no secret. */
cml_status cml_server_key_create(cml_context *ctx, const cml_client_key *ck,
                                 cml_server_key **out);
void cml_server_key_destroy(cml_server_key *sk);
const cml_params *cml_server_key_params(const cml_server_key *sk);
/* Bytes of the bootstrap key and of the keyswitch key as stored. */
size_t cml_server_key_bsk_bytes(const cml_server_key *sk);
size_t cml_server_key_ksk_bytes(const cml_server_key *sk);

/* A second, "light" bootstrap key of the same small key, which
 * cml_circuit_round uses for its bootstraps when present (a compiler that
 * sizes parameters for it records it in the circuit spec; docs/params.md).
 * Its GLWE key is the first k*N coefficients of the main one (flattened),
 * so it may be smaller than the main key (k * N <= the main k * N) and take
 * another gadget decomposition: cheaper, noisier bootstraps. Its outputs
 * are main-key ciphertexts (the mask is zero past k * N); its inputs go
 * through the main keyswitch key. Made by the client, who holds the secret
 * keys; sk must come from ck. base_log * level <= 53, N >= 8, and (k, N,
 * base_log, level) must differ from the main key's; replaces a previous
 * light key. */
cml_status cml_server_key_add_light(cml_context *ctx, const cml_client_key *ck,
                                    cml_server_key *sk, uint32_t k, uint32_t N,
                                    uint32_t base_log, uint32_t level);
/* The light key's parameters (NULL without one: then the main key does
 * it all) and its bytes. */
const cml_params *cml_server_key_light(const cml_server_key *sk);
size_t cml_server_key_light_bytes(const cml_server_key *sk);

/* ---- plaintext encoding ---------------------------------------------------- */

/* m * 2^(63-bits) mod 2^64 (bits in 1..62). */
uint64_t cml_encode(int64_t m, uint32_t bits);
/* Nearest message: rounds to a multiple of 2^(63-bits), then sign-extends
 * from bits+1 bits (so unsigned values and signed values both come back). */
int64_t cml_decode(uint64_t plaintext, uint32_t bits);

/* ---- ciphertext buffers ---------------------------------------------------- */

/* Words of one LWE ciphertext under the big key: k*N + 1. */
size_t cml_lwe_size(const cml_params *params);

/* A vector of `count` big-key LWE ciphertexts tagged with its parameters. */
typedef struct cml_ct cml_ct;
cml_status cml_ct_create(const cml_params *params, size_t count, cml_ct **out);
void cml_ct_destroy(cml_ct *ct);
size_t cml_ct_count(const cml_ct *ct);
uint64_t *cml_ct_data(cml_ct *ct);          /* count * cml_lwe_size() words */
const uint64_t *cml_ct_cdata(const cml_ct *ct);
const cml_params *cml_ct_params(const cml_ct *ct);

/* ---- encryption -------------------------------------------------------------- */

/* Encrypt messages[i] (encoded at `bits`) into ciphertext i of ct. */
cml_status cml_encrypt(const cml_client_key *ck, const int64_t *messages,
                       size_t count, uint32_t bits, cml_ct **out);
/* Decrypt every ciphertext of ct, decoding at `bits`. */
cml_status cml_decrypt(const cml_client_key *ck, const cml_ct *ct, uint32_t bits,
                       int64_t *messages);
/* Single-ciphertext forms on raw buffers (cml_lwe_size words). */
cml_status cml_lwe_encrypt(const cml_client_key *ck, uint64_t *ct, uint64_t plaintext);
/* The phase b - <a,s> (plaintext plus noise), for tests and noise measurement. */
cml_status cml_lwe_phase(const cml_client_key *ck, const uint64_t *ct, uint64_t *phase);

/* ---- linear operations on raw buffers (dimension d = k*N) ------------------- */
/* Out may alias an input. These never fail; they do no checking. */
void cml_lwe_add(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t d);
void cml_lwe_sub(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t d);
void cml_lwe_neg(uint64_t *out, const uint64_t *a, size_t d);
void cml_lwe_add_plain(uint64_t *out, const uint64_t *a, uint64_t plaintext, size_t d);
void cml_lwe_mul_clear(uint64_t *out, const uint64_t *a, int64_t c, size_t d);
/* out = sum_i w[i] * cts[i], cts being `count` consecutive ciphertexts. */
void cml_lwe_dot_clear(uint64_t *out, const uint64_t *cts, const int64_t *w,
                       size_t count, size_t d);
/* out += c * a */
void cml_lwe_mul_clear_acc(uint64_t *out, const uint64_t *a, int64_t c, size_t d);

/* ---- programmable bootstrapping ---------------------------------------------- */

/* A lookup table ready for bootstrapping: the accumulator polynomial of
 * `table` (2^in_bits entries). For unsigned input, table[v] is the output for
 * v in [0, 2^in_bits); for signed input, table[v + 2^(in_bits-1)] is the
 * output for v in [-2^(in_bits-1), 2^(in_bits-1)). Outputs are encoded at
 * out_bits (signed or unsigned values alike). in_bits <= params->precision. */
typedef struct cml_lut cml_lut;
cml_status cml_lut_create(const cml_params *params, uint32_t in_bits, int in_signed,
                          uint32_t out_bits, const int64_t *table, cml_lut **out);
void cml_lut_destroy(cml_lut *lut);

/* Keyswitch then bootstrap one ciphertext: out = Enc(table[in]). out and in
 * are big-key ciphertexts (cml_lwe_size words) and may alias. */
cml_status cml_pbs(cml_context *ctx, const cml_server_key *sk, const cml_lut *lut,
                   uint64_t *out, const uint64_t *in);
/* count independent bootstraps spread over the context's threads. luts has
 * one entry per ciphertext, or lut_count == 1 to use luts[0] for all. */
cml_status cml_pbs_batch(cml_context *ctx, const cml_server_key *sk,
                         const cml_lut *const *luts, size_t lut_count,
                         uint64_t *out, const uint64_t *in, size_t count);

/* ---- serialization ------------------------------------------------------------ */
/* Versioned binary format: magic, format version, kind, parameter
 * fingerprint, sizes, data, BLAKE2b-256 checksum. Loading validates all of it
 * and fails with CML_ERR_FORMAT / CML_ERR_MISMATCH and a message naming the
 * problem; it never returns a half-built object. Buffers from *_serialize are
 * freed with cml_free(). */
void cml_free(void *p);
cml_status cml_client_key_serialize(const cml_client_key *ck, uint8_t **buf, size_t *len);
cml_status cml_client_key_deserialize(const uint8_t *buf, size_t len, cml_client_key **out);
cml_status cml_server_key_serialize(const cml_server_key *sk, uint8_t **buf, size_t *len);
/* The length cml_server_key_serialize gives a server key of these
 * parameters, with a light bootstrap key of the set `light` (NULL: none);
 * SIZE_MAX if it does not fit. What a server expects a key upload to be. */
size_t cml_server_key_file_bytes(const cml_params *params, const cml_params *light);
cml_status cml_server_key_deserialize(cml_context *ctx, const uint8_t *buf, size_t len,
                                      cml_server_key **out);
cml_status cml_ct_serialize(const cml_ct *ct, uint8_t **buf, size_t *len);
/* expect may be NULL; otherwise the ciphertext's parameters must match it. */
cml_status cml_ct_deserialize(const uint8_t *buf, size_t len, const cml_params *expect,
                              cml_ct **out);
/* File forms: write atomically (temporary file then rename), so a failed save
 * leaves no partial file behind. */
cml_status cml_client_key_save(const cml_client_key *ck, const char *path);
cml_status cml_client_key_load(const char *path, cml_client_key **out);
cml_status cml_server_key_save(const cml_server_key *sk, const char *path);
cml_status cml_server_key_load(cml_context *ctx, const char *path, cml_server_key **out);
cml_status cml_ct_save(const cml_ct *ct, const char *path);
cml_status cml_ct_load(const char *path, const cml_params *expect, cml_ct **out);

#ifdef __cplusplus
}
#endif
#endif
