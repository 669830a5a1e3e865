/* client_key.c — the secret key pair: the small LWE key (dimension n, what
 * bootstraps decrypt under after the keyswitch) and the GLWE key (k
 * polynomials of N bits; flattened, the big LWE key every ciphertext between
 * operations lives under). Bits come from the OS generator. A set without
 * bootstrap (n = 0, a linear circuit) has no small key: lwe_key is then a
 * one-word placeholder nothing reads. */
#include "internal.h"

#include <sodium.h>
#include <stdlib.h>

cml_status cml_client_key_alloc(const cml_params *params, cml_client_key **out) {
    cml_client_key *ck = calloc(1, sizeof *ck);
    if (!ck) return cml_error(CML_ERR_NOMEM, "out of memory allocating a client key");
    ck->params = *params;
    /* calloc(0) may return NULL: keep one word so that NULL means failure */
    ck->lwe_key = calloc(params->lwe_dimension ? params->lwe_dimension : 1, sizeof *ck->lwe_key);
    ck->glwe_key = calloc(cml_big_dim(params), sizeof *ck->glwe_key);
    if (!ck->lwe_key || !ck->glwe_key) {
        cml_client_key_destroy(ck);
        return cml_error(CML_ERR_NOMEM, "out of memory allocating a client key");
    }
    *out = ck;
    return CML_OK;
}

cml_status cml_client_key_create(const cml_params *params, cml_client_key **out) {
    if (!out) return cml_error(CML_ERR_ARG, "cml_client_key_create: out is NULL");
    *out = NULL;
    if (!params) return cml_error(CML_ERR_ARG, "cml_client_key_create: params is NULL");
    cml_params p = *params;
    cml_status st = cml_params_validate(&p);
    if (!st) st = cml_random_ready();
    if (st) return st;
    cml_client_key *ck;
    if ((st = cml_client_key_alloc(&p, &ck))) return st;
    cml_random_secret_bits(ck->lwe_key, p.lwe_dimension);
    cml_random_secret_bits(ck->glwe_key, cml_big_dim(&p));
    *out = ck;
    return CML_OK;
}

void cml_client_key_destroy(cml_client_key *ck) {
    if (!ck) return;
    if (ck->lwe_key) sodium_memzero(ck->lwe_key, ck->params.lwe_dimension * sizeof *ck->lwe_key);
    if (ck->glwe_key) sodium_memzero(ck->glwe_key, cml_big_dim(&ck->params) * sizeof *ck->glwe_key);
    free(ck->lwe_key);
    free(ck->glwe_key);
    free(ck);
}

const cml_params *cml_client_key_params(const cml_client_key *ck) { return ck ? &ck->params : NULL; }
