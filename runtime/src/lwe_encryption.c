/* lwe_encryption.c — LWE encryption and decryption under binary keys, and
 * the client-facing encrypt/decrypt of message vectors into cml_ct.
 * A ciphertext (a, b) has phase b - <a, s> = plaintext + noise. */
#include "internal.h"

#include <stdlib.h>

void cml_lwe_encrypt_raw(cml_rng *rng, uint64_t *ct, const uint64_t *key, size_t dim,
                         uint64_t plaintext, double std) {
    cml_rng_uniform(rng, ct, dim);
    uint64_t b = plaintext;
    for (size_t i = 0; i < dim; i++) b += ct[i] * key[i];
    ct[dim] = b;
    cml_rng_add_gaussian(rng, &ct[dim], 1, std);
}

uint64_t cml_lwe_phase_raw(const uint64_t *ct, const uint64_t *key, size_t dim) {
    uint64_t s = 0;
    for (size_t i = 0; i < dim; i++) s += ct[i] * key[i];
    return ct[dim] - s;
}

size_t cml_lwe_size(const cml_params *params) { return params ? cml_big_dim(params) + 1 : 0; }

cml_status cml_lwe_encrypt(const cml_client_key *ck, uint64_t *ct, uint64_t plaintext) {
    if (!ck || !ct) return cml_error(CML_ERR_ARG, "cml_lwe_encrypt: NULL argument");
    cml_status st = cml_random_ready();
    if (st) return st;
    cml_rng rng;
    cml_rng_init(&rng);
    cml_lwe_encrypt_raw(&rng, ct, ck->glwe_key, cml_big_dim(&ck->params), plaintext,
                        ck->params.glwe_noise_std);
    cml_rng_wipe(&rng);
    return CML_OK;
}

cml_status cml_lwe_phase(const cml_client_key *ck, const uint64_t *ct, uint64_t *phase) {
    if (!ck || !ct || !phase) return cml_error(CML_ERR_ARG, "cml_lwe_phase: NULL argument");
    *phase = cml_lwe_phase_raw(ct, ck->glwe_key, cml_big_dim(&ck->params));
    return CML_OK;
}

static cml_status check_bits(const char *fn, uint32_t bits) {
    if (bits < 1 || bits > 62)
        return cml_error(CML_ERR_ARG, "%s: bit width %u outside 1..62", fn, bits);
    return CML_OK;
}

cml_status cml_encrypt(const cml_client_key *ck, const int64_t *messages, size_t count,
                       uint32_t bits, cml_ct **out) {
    if (!out) return cml_error(CML_ERR_ARG, "cml_encrypt: out is NULL");
    *out = NULL;
    if (!ck || (!messages && count)) return cml_error(CML_ERR_ARG, "cml_encrypt: NULL argument");
    cml_status st = check_bits("cml_encrypt", bits);
    if (!st) st = cml_random_ready();
    if (st) return st;
    cml_ct *ct;
    if ((st = cml_ct_create(&ck->params, count, &ct))) return st;
    size_t d = cml_big_dim(&ck->params);
    cml_rng rng;
    cml_rng_init(&rng);
    for (size_t i = 0; i < count; i++)
        cml_lwe_encrypt_raw(&rng, ct->data + i * (d + 1), ck->glwe_key, d,
                            cml_encode(messages[i], bits), ck->params.glwe_noise_std);
    cml_rng_wipe(&rng);
    *out = ct;
    return CML_OK;
}

cml_status cml_decrypt(const cml_client_key *ck, const cml_ct *ct, uint32_t bits,
                       int64_t *messages) {
    if (!ck || !ct || (!messages && ct->count))
        return cml_error(CML_ERR_ARG, "cml_decrypt: NULL argument");
    cml_status st = check_bits("cml_decrypt", bits);
    if (st) return st;
    if (cml_params_fingerprint(&ct->params) != cml_params_fingerprint(&ck->params))
        return cml_error(CML_ERR_MISMATCH,
                         "cml_decrypt: the ciphertexts were made for other parameters than this key");
    size_t d = cml_big_dim(&ck->params);
    for (size_t i = 0; i < ct->count; i++)
        messages[i] = cml_decode(cml_lwe_phase_raw(ct->data + i * (d + 1), ck->glwe_key, d), bits);
    return CML_OK;
}
