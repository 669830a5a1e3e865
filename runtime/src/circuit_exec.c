/* circuit_exec.c — encrypted execution of a loaded model (cml/runtime.h):
 * keys for its parameters, encryption of input rows, the module's
 * cml_circuit_run row by row, decryption of output rows.
 *
 * Why it exists: the module's entry point (circuit_abi.h) is raw — one row,
 * bare buffers, no checks. This file is the guard in front of it: every key
 * and ciphertext must carry the spec's parameters (a key or a ciphertext of
 * another model is CML_ERR_MISMATCH, never a wrong answer), a ciphertext
 * vector must hold whole rows, encrypted values must lie in their declared
 * ranges, and a module failing without a message still gets one naming it.
 *
 * Layout (cml_circuit_row_cts): row after row; within a row, tensor after
 * tensor, `count` ciphertexts each. A row's tensors are therefore views into
 * the vectors: nothing is copied, and the only per-row state is the two
 * arrays of tensor pointers, allocated once per call. */
#include "circuit.h"
#include "internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

size_t cml_circuit_row_cts(const cml_circuit *c, int outputs) {
    if (!c) return 0;
    const cml_tensor_spec *t = outputs ? c->spec.outputs : c->spec.inputs;
    size_t n = outputs ? c->spec.noutputs : c->spec.ninputs, sum = 0;
    /* counts are at most 2^24 each and specs hold few tensors: no overflow
     * on 64-bit hosts; saturate elsewhere so a check below fails cleanly */
    for (size_t k = 0; k < n; k++)
        if (__builtin_add_overflow(sum, (size_t)t[k].count, &sum)) return SIZE_MAX;
    return sum;
}

int cml_circuit_can_run(const cml_circuit *c) { return c && c->run ? 1 : 0; }

/* ---- checks shared by the four entry points ------------------------------ */

static cml_status need_params(const cml_circuit *c, const cml_params **out) {
    *out = cml_circuit_params(c);
    if (!*out)
        return cml_error(CML_ERR_ARG,
                         "%s: the spec has no TFHE parameters (compiled before parameter "
                         "selection): it cannot run encrypted",
                         c->path);
    return CML_OK;
}

static int same_params(const cml_params *a, const cml_params *b) {
    return cml_params_fingerprint(a) == cml_params_fingerprint(b);
}

static cml_status check_params(const cml_circuit *c, const cml_params *have, const char *what) {
    if (same_params(have, &c->spec.params)) return CML_OK;
    return cml_error(CML_ERR_MISMATCH,
                     "%s: %s was made for other parameters than %s's (another model?)", c->path,
                     what, c->path);
}

/* Encrypted execution takes every input as ciphertexts. */
static cml_status check_all_encrypted(const cml_circuit *c) {
    for (size_t k = 0; k < c->spec.ninputs; k++)
        if (!c->spec.inputs[k].encrypted)
            return cml_error(CML_ERR_ARG,
                             "%s: input '%s' is a clear input; encrypted execution of circuits "
                             "with clear inputs is not supported",
                             c->path, c->spec.inputs[k].name);
    return CML_OK;
}

/* The number of rows a vector of `count` ciphertexts holds. */
static cml_status whole_rows(const cml_circuit *c, size_t count, int outputs, size_t *rows) {
    size_t per = cml_circuit_row_cts(c, outputs);
    const char *what = outputs ? "outputs" : "inputs";
    if (per == 0)
        return cml_error(CML_ERR_ARG, "%s: the circuit has no %s: nothing to run on ciphertexts",
                         c->path, what);
    if (count % per != 0)
        return cml_error(CML_ERR_FORMAT,
                         "%s: %zu ciphertexts are not a whole number of rows (a row of %s holds "
                         "%zu)",
                         c->path, count, what, per);
    *rows = count / per;
    return CML_OK;
}

/* Offsets (in ciphertexts) of each tensor within a row; NULL when out of
 * memory (n may be 0: one element is allocated anyway). */
static size_t *tensor_offsets(const cml_tensor_spec *t, size_t n) {
    size_t *off = malloc((n ? n : 1) * sizeof *off);
    if (!off) return NULL;
    size_t at = 0;
    for (size_t k = 0; k < n; k++) {
        off[k] = at;
        at += (size_t)t[k].count;
    }
    return off;
}

/* ---- keys -------------------------------------------------------------------- */

cml_status cml_circuit_keygen(const cml_circuit *c, cml_context *ctx, cml_client_key **ck,
                              cml_server_key **sk) {
    if (ck) *ck = NULL;
    if (sk) *sk = NULL;
    if (!c) return cml_error(CML_ERR_ARG, "cml_circuit_keygen: NULL circuit");
    if (sk && !ctx)
        return cml_error(CML_ERR_ARG, "cml_circuit_keygen: a server key needs a context");
    const cml_params *p;
    cml_status st = need_params(c, &p);
    if (st) return st;
    if (!ck && !sk) return CML_OK;
    cml_client_key *k;
    if ((st = cml_client_key_create(p, &k))) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", cml_last_error());
        return cml_error(st, "%s: %s", c->path, msg);
    }
    if (sk && (st = cml_server_key_create(ctx, k, sk))) {
        cml_client_key_destroy(k);
        return st;
    }
    const cml_params *lp = &c->spec.light;
    if (sk && c->spec.has_light &&
        (st = cml_server_key_add_light(ctx, k, *sk, lp->glwe_dimension, lp->polynomial_size,
                                       lp->pbs_base_log, lp->pbs_level))) {
        cml_server_key_destroy(*sk);
        *sk = NULL;
        cml_client_key_destroy(k);
        return st;
    }
    if (ck)
        *ck = k;
    else
        cml_client_key_destroy(k);
    return CML_OK;
}

/* ---- encryption ---------------------------------------------------------------- */

cml_status cml_circuit_encrypt(const cml_circuit *c, const cml_client_key *ck, size_t rows,
                               const int64_t *const *in, cml_ct **out) {
    if (!out) return cml_error(CML_ERR_ARG, "cml_circuit_encrypt: out is NULL");
    *out = NULL;
    if (!c || !ck || (!in && rows && c->spec.ninputs))
        return cml_error(CML_ERR_ARG, "cml_circuit_encrypt: NULL argument");
    const cml_params *p;
    cml_status st = need_params(c, &p);
    if (!st) st = check_params(c, cml_client_key_params(ck), "the client key");
    if (!st) st = check_all_encrypted(c);
    if (st) return st;
    const size_t per = cml_circuit_row_cts(c, 0), n = c->spec.ninputs;
    if (per == 0) return whole_rows(c, 0, 0, &(size_t){0}); /* the no-inputs message */
    if (rows > SIZE_MAX / per)
        return cml_error(CML_ERR_ARG, "cml_circuit_encrypt: %zu rows is too many", rows);
    for (size_t k = 0; rows && k < n; k++)
        if (!in[k]) return cml_error(CML_ERR_ARG, "cml_circuit_encrypt: input %zu is NULL", k);
    /* every value first: nothing is encrypted if one is out of range */
    for (size_t r = 0; r < rows; r++) {
        for (size_t k = 0; k < n; k++) {
            const cml_tensor_spec *t = &c->spec.inputs[k];
            const int64_t *v = in[k] + r * (size_t)t->count;
            for (int64_t i = 0; i < t->count; i++)
                if (v[i] < t->lo || v[i] > t->hi)
                    return cml_error(CML_ERR_ARG,
                                     "%s: row %zu: input '%s'[%" PRId64 "] = %" PRId64
                                     " is outside its range [%" PRId64 ", %" PRId64 "]",
                                     c->path, r + 1, t->name, i, v[i], t->lo, t->hi);
        }
    }
    if ((st = cml_random_ready())) return st;
    cml_ct *ct;
    if ((st = cml_ct_create(cml_client_key_params(ck), rows * per, &ct))) return st;
    const cml_params *kp = cml_client_key_params(ck);
    const size_t d = cml_big_dim(kp), sz = d + 1;
    cml_rng rng;
    cml_rng_init(&rng);
    uint64_t *w = ct->data;
    for (size_t r = 0; r < rows; r++) {
        for (size_t k = 0; k < n; k++) {
            const cml_tensor_spec *t = &c->spec.inputs[k];
            const int64_t *v = in[k] + r * (size_t)t->count;
            for (int64_t i = 0; i < t->count; i++, w += sz)
                cml_lwe_encrypt_raw(&rng, w, ck->glwe_key, d, cml_encode(v[i], t->encoding_bits),
                                    kp->glwe_noise_std);
        }
    }
    cml_rng_wipe(&rng);
    *out = ct;
    return CML_OK;
}

/* ---- evaluation ------------------------------------------------------------------- */

static cml_status module_failed(const cml_circuit *c, int rc, size_t row, size_t rows) {
    cml_status st = rc > 0 && rc <= CML_ERR_INTERNAL ? (cml_status)rc : CML_ERR_INTERNAL;
    if (cml_last_error()[0] == '\0')
        return cml_error(st, "%s: encrypted execution failed on row %zu of %zu (%s, status %d)",
                         c->path, row + 1, rows, cml_status_name(st), rc);
    return st;
}

cml_status cml_circuit_run(const cml_circuit *c, cml_context *ctx, const cml_server_key *sk,
                           const cml_ct *in, cml_ct **out,
                           void (*progress)(size_t done, size_t rows, void *arg), void *arg) {
    if (!out) return cml_error(CML_ERR_ARG, "cml_circuit_run: out is NULL");
    *out = NULL;
    if (!c || !ctx || !sk || !in) return cml_error(CML_ERR_ARG, "cml_circuit_run: NULL argument");
    if (!c->run)
        return cml_error(CML_ERR_FORMAT,
                         c->spec_copy ? "%s: known by its spec only: the encrypted evaluation "
                                        "is in the compiled model"
                                      : "%s: compiled without encrypted execution (recompile "
                                        "with this cmlc)",
                         c->path);
    const cml_params *p;
    cml_status st = need_params(c, &p);
    if (!st) st = check_params(c, cml_server_key_params(sk), "the server key");
    if (!st) st = check_params(c, cml_ct_params(in), "the ciphertext");
    if (!st) st = check_all_encrypted(c);
    size_t rows = 0;
    if (!st) st = whole_rows(c, cml_ct_count(in), 0, &rows);
    if (st) return st;
    const size_t per_in = cml_circuit_row_cts(c, 0), per_out = cml_circuit_row_cts(c, 1);
    if (per_out == 0) return whole_rows(c, 0, 1, &rows); /* the no-outputs message */
    if (rows > SIZE_MAX / per_out)
        return cml_error(CML_ERR_ARG, "cml_circuit_run: %zu rows is too many", rows);
    cml_ct *res;
    if ((st = cml_ct_create(cml_ct_params(in), rows * per_out, &res))) return st;

    const size_t nin = c->spec.ninputs, nout = c->spec.noutputs, sz = cml_lwe_size(p);
    size_t *off_in = tensor_offsets(c->spec.inputs, nin);
    size_t *off_out = tensor_offsets(c->spec.outputs, nout);
    const uint64_t **row_in = malloc((nin ? nin : 1) * sizeof *row_in);
    uint64_t **row_out = malloc((nout ? nout : 1) * sizeof *row_out);
    if (!off_in || !off_out || !row_in || !row_out)
        st = cml_error(CML_ERR_NOMEM, "%s: out of memory", c->path);
    const uint64_t *src = cml_ct_cdata(in);
    uint64_t *dst = res->data;
    for (size_t r = 0; !st && r < rows; r++) {
        for (size_t k = 0; k < nin; k++) row_in[k] = src + (r * per_in + off_in[k]) * sz;
        for (size_t k = 0; k < nout; k++) row_out[k] = dst + (r * per_out + off_out[k]) * sz;
        cml_clear_error();
        int rc = c->run(ctx, sk, row_in, row_out);
        if (rc != 0) {
            st = module_failed(c, rc, r, rows);
            break;
        }
        if (progress) progress(r + 1, rows, arg);
    }
    free(off_in);
    free(off_out);
    free(row_in);
    free(row_out);
    if (st) {
        cml_ct_destroy(res);
        return st;
    }
    *out = res;
    return CML_OK;
}

/* ---- decryption ---------------------------------------------------------------------- */

cml_status cml_circuit_decrypt(const cml_circuit *c, const cml_client_key *ck, const cml_ct *out,
                               int64_t *const *q, size_t *rows) {
    if (rows) *rows = 0;
    if (!c || !ck || !out) return cml_error(CML_ERR_ARG, "cml_circuit_decrypt: NULL argument");
    const cml_params *p;
    cml_status st = need_params(c, &p);
    if (!st) st = check_params(c, cml_client_key_params(ck), "the client key");
    if (!st) st = check_params(c, cml_ct_params(out), "the ciphertext");
    size_t n = 0;
    if (!st) st = whole_rows(c, cml_ct_count(out), 1, &n);
    if (st) return st;
    const size_t nout = c->spec.noutputs;
    if (n && !q) return cml_error(CML_ERR_ARG, "cml_circuit_decrypt: NULL argument");
    for (size_t k = 0; n && k < nout; k++)
        if (!q[k]) return cml_error(CML_ERR_ARG, "cml_circuit_decrypt: output %zu is NULL", k);
    const size_t d = cml_big_dim(p), sz = d + 1;
    const uint64_t *ct = cml_ct_cdata(out);
    for (size_t r = 0; r < n; r++) {
        for (size_t k = 0; k < nout; k++) {
            const cml_tensor_spec *t = &c->spec.outputs[k];
            int64_t *v = q[k] + r * (size_t)t->count;
            /* cml_decode sign-extends from encoding_bits + 1 bits: an
             * unsigned value of [0, 2^bits) and a signed one of
             * [-2^(bits-1), 2^(bits-1)) both come back as themselves */
            for (int64_t i = 0; i < t->count; i++, ct += sz)
                v[i] = cml_decode(cml_lwe_phase_raw(ct, ck->glwe_key, d), t->encoding_bits);
        }
    }
    if (rows) *rows = n;
    return CML_OK;
}
