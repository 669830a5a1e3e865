/* ciphertext.c — cml_ct, a vector of big-key LWE ciphertexts tagged with
 * the parameters they were made for (so a mismatch is caught, not decoded). */
#include "internal.h"

#include <stdlib.h>

cml_status cml_ct_create(const cml_params *params, size_t count, cml_ct **out) {
    if (!out) return cml_error(CML_ERR_ARG, "cml_ct_create: out is NULL");
    *out = NULL;
    if (!params) return cml_error(CML_ERR_ARG, "cml_ct_create: params is NULL");
    cml_params checked = *params;
    cml_status st = cml_params_validate(&checked);
    if (st) return st;
    size_t sz = cml_lwe_size(params);
    if (count && sz > SIZE_MAX / sizeof(uint64_t) / count)
        return cml_error(CML_ERR_ARG, "cml_ct_create: %zu ciphertexts is too many", count);
    cml_ct *ct = calloc(1, sizeof *ct);
    uint64_t *data = calloc(count ? count * sz : 1, sizeof *data);
    if (!ct || !data) {
        free(ct);
        free(data);
        return cml_error(CML_ERR_NOMEM, "out of memory allocating %zu ciphertexts", count);
    }
    ct->params = *params;
    ct->count = count;
    ct->data = data;
    *out = ct;
    return CML_OK;
}

void cml_ct_destroy(cml_ct *ct) {
    if (!ct) return;
    free(ct->data);
    free(ct);
}

size_t cml_ct_count(const cml_ct *ct) { return ct ? ct->count : 0; }
uint64_t *cml_ct_data(cml_ct *ct) { return ct ? ct->data : NULL; }
const uint64_t *cml_ct_cdata(const cml_ct *ct) { return ct ? ct->data : NULL; }
const cml_params *cml_ct_params(const cml_ct *ct) { return ct ? &ct->params : NULL; }
