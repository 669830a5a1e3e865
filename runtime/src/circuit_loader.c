/* circuit_loader.c — cml_circuit_load and the client-side helpers of
 * cml/runtime.h: the spec's accessors, the clear twin, quantization of
 * inputs, dequantization and post-processing of outputs.
 *
 * Loading is all-or-nothing: the module is dlopen'ed, its ABI version and
 * spec are checked and the entry points looked up before a cml_circuit
 * exists, so a caller never holds a half-valid handle. The float maths here
 * is the one `cmlc --simulate` prints with (tools/cmlc_simulate.c calls
 * cml_output_fprint), so `cml predict --simulate` and `cmlc --simulate`
 * cannot drift apart. */
#define _GNU_SOURCE /* dladdr1: the spec symbol's size, to bound its length */
#include "circuit.h"
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <link.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* dlerror() usually starts with the path; the caller's message has it already. */
static const char *dl_reason(const char *dlpath) {
    const char *e = dlerror();
    if (!e) return "unknown error";
    size_t n = strlen(dlpath);
    if (!strncmp(e, dlpath, n) && !strncmp(e + n, ": ", 2)) return e + n + 2;
    return e;
}

/* Looks up a symbol without tripping -Wpedantic's object/function pointer rules. */
static void *sym(void *handle, const char *name) {
    dlerror();
    return dlsym(handle, name);
}

/* The spec's length, bounded by its symbol's size when the loader knows it
 * (a module whose spec lacks its NUL must not send us reading past it). */
static cml_status spec_length(const char *path, const char *spec, size_t *len) {
    Dl_info info;
    const ElfW(Sym) *es = NULL;
    if (dladdr1(spec, &info, (void **)&es, RTLD_DL_SYMENT) && es && es->st_size > 0) {
        const char *nul = memchr(spec, '\0', es->st_size);
        if (!nul)
            return cml_error(CML_ERR_FORMAT, "%s: the circuit spec is not NUL-terminated", path);
        *len = (size_t)(nul - spec);
        return CML_OK;
    }
    *len = strlen(spec);
    return CML_OK;
}

static cml_status load(cml_circuit *c, const char *path) {
    /* a name without a slash would be searched on the library path */
    size_t n = strlen(path);
    c->path = malloc(n + 3);
    if (!c->path) return cml_error(CML_ERR_NOMEM, "%s: out of memory", path);
    snprintf(c->path, n + 3, "%s%s", strchr(path, '/') ? "" : "./", path);
    FILE *f = fopen(c->path, "rb");
    if (!f) return cml_error(CML_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    fclose(f);
    c->handle = dlopen(c->path, RTLD_NOW | RTLD_LOCAL);
    if (!c->handle)
        return cml_error(CML_ERR_IO, "%s: cannot load as a shared object: %s", path,
                         dl_reason(c->path));
    const uint32_t *abi = sym(c->handle, CML_CIRCUIT_SYM_ABI);
    if (!abi)
        return cml_error(CML_ERR_FORMAT, "%s: not a compiled CML model (no %s symbol)", path,
                         CML_CIRCUIT_SYM_ABI);
    if (*abi != CML_CIRCUIT_ABI_VERSION)
        return cml_error(CML_ERR_MISMATCH,
                         "%s: compiled for circuit ABI %" PRIu32 ", this runtime implements %u "
                         "(recompile it with a matching cmlc)",
                         path, *abi, CML_CIRCUIT_ABI_VERSION);
    const char *spec = sym(c->handle, CML_CIRCUIT_SYM_SPEC);
    if (!spec)
        return cml_error(CML_ERR_FORMAT, "%s: no circuit spec (%s symbol)", path,
                         CML_CIRCUIT_SYM_SPEC);
    size_t len = 0;
    cml_status st = spec_length(path, spec, &len);
    if (st != CML_OK) return st;
    if ((st = cml_spec_parse(spec, len, path, &c->spec)) != CML_OK) return st;
    c->spec_text = spec;
    void *fn = sym(c->handle, CML_CIRCUIT_SYM_SIMULATE);
    if (!fn)
        return cml_error(CML_ERR_FORMAT, "%s: no clear twin (%s symbol)", path,
                         CML_CIRCUIT_SYM_SIMULATE);
    memcpy(&c->simulate, &fn, sizeof fn);
    fn = sym(c->handle, CML_CIRCUIT_SYM_RUN);
    if (fn) memcpy(&c->run, &fn, sizeof fn);
    return CML_OK;
}

cml_status cml_circuit_load(const char *path, cml_circuit **out) {
    if (!out) return cml_error(CML_ERR_ARG, "cml_circuit_load: NULL output");
    *out = NULL;
    if (!path || !*path) return cml_error(CML_ERR_ARG, "cml_circuit_load: no path");
    cml_circuit *c = calloc(1, sizeof *c);
    if (!c) return cml_error(CML_ERR_NOMEM, "%s: out of memory", path);
    cml_status st = load(c, path);
    if (st != CML_OK) {
        cml_circuit_free(c);
        return st;
    }
    cml_clear_error();
    *out = c;
    return CML_OK;
}

cml_status cml_circuit_from_spec(const char *yaml, size_t len, const char *origin,
                                 cml_circuit **out) {
    if (!out) return cml_error(CML_ERR_ARG, "cml_circuit_from_spec: NULL output");
    *out = NULL;
    if (!yaml || !origin) return cml_error(CML_ERR_ARG, "cml_circuit_from_spec: NULL argument");
    cml_circuit *c = calloc(1, sizeof *c);
    if (c) c->path = strdup(origin);
    if (c && c->path) c->spec_copy = malloc(len + 1);
    if (!c || !c->path || !c->spec_copy) {
        cml_circuit_free(c);
        return cml_error(CML_ERR_NOMEM, "%s: out of memory", origin);
    }
    memcpy(c->spec_copy, yaml, len);
    c->spec_copy[len] = '\0';
    cml_status st = cml_spec_parse(c->spec_copy, len, origin, &c->spec);
    if (st != CML_OK) {
        cml_circuit_free(c);
        return st;
    }
    c->spec_text = c->spec_copy;
    cml_clear_error();
    *out = c;
    return CML_OK;
}

void cml_circuit_free(cml_circuit *c) {
    if (!c) return;
    free(c->spec_copy);
    cml_spec_free(&c->spec);
    if (c->handle) dlclose(c->handle);
    free(c->path);
    free(c);
}

/* ---- accessors ---------------------------------------------------------- */

const char *cml_circuit_path(const cml_circuit *c) { return c ? c->path : NULL; }
const char *cml_circuit_name(const cml_circuit *c) { return c ? c->spec.name : NULL; }
const char *cml_circuit_compiler(const cml_circuit *c) { return c ? c->spec.compiler : NULL; }
int cml_circuit_is_model(const cml_circuit *c) { return c ? c->spec.is_model : 0; }
const char *cml_circuit_spec_text(const cml_circuit *c) { return c ? c->spec_text : NULL; }
size_t cml_circuit_num_inputs(const cml_circuit *c) { return c ? c->spec.ninputs : 0; }
size_t cml_circuit_num_outputs(const cml_circuit *c) { return c ? c->spec.noutputs : 0; }

const cml_tensor_spec *cml_circuit_input(const cml_circuit *c, size_t k) {
    return c && k < c->spec.ninputs ? &c->spec.inputs[k] : NULL;
}

const cml_tensor_spec *cml_circuit_output(const cml_circuit *c, size_t k) {
    return c && k < c->spec.noutputs ? &c->spec.outputs[k] : NULL;
}

const cml_params *cml_circuit_params(const cml_circuit *c) {
    return c && c->spec.has_params ? &c->spec.params : NULL;
}

const cml_spec_stats *cml_circuit_stats(const cml_circuit *c) { return c ? &c->spec.stats : NULL; }

const cml_params *cml_circuit_light(const cml_circuit *c) {
    return c && c->spec.has_light ? &c->spec.light : NULL;
}

/* ---- the clear twin ----------------------------------------------------- */

cml_status cml_circuit_simulate(const cml_circuit *c, const int64_t *const *in,
                                int64_t *const *out) {
    if (!c || (!in && c->spec.ninputs) || (!out && c->spec.noutputs))
        return cml_error(CML_ERR_ARG, "cml_circuit_simulate: NULL argument");
    for (size_t k = 0; k < c->spec.ninputs; k++) {
        const cml_tensor_spec *t = &c->spec.inputs[k];
        if (!in[k]) return cml_error(CML_ERR_ARG, "cml_circuit_simulate: input %zu is NULL", k);
        for (int64_t i = 0; i < t->count; i++)
            if (in[k][i] < t->lo || in[k][i] > t->hi)
                return cml_error(CML_ERR_ARG,
                                 "%s: input '%s'[%" PRId64 "] = %" PRId64
                                 " is outside its range [%" PRId64 ", %" PRId64 "]",
                                 c->path, t->name, i, in[k][i], t->lo, t->hi);
    }
    for (size_t k = 0; k < c->spec.noutputs; k++)
        if (!out[k]) return cml_error(CML_ERR_ARG, "cml_circuit_simulate: output %zu is NULL", k);
    if (!c->simulate)
        return cml_error(CML_ERR_FORMAT, "%s: known by its spec only: no clear twin (load the "
                                         "compiled model for it)", c->path);
    int rc = c->simulate(in, out);
    if (rc == 0) return CML_OK;
    if (rc == -1) return cml_error(CML_ERR_NOMEM, "%s: out of memory in the clear twin", c->path);
    if (rc < 0)
        return cml_error(CML_ERR_INTERNAL, "%s: the clear twin returned %d", c->path, rc);
    return cml_error(CML_ERR_ARG,
                     "%s: op %%%d of the circuit left its inferred width (input out of range or "
                     "calibration bounds too tight)",
                     c->path, rc - 1);
}

/* ---- client-side conversions ------------------------------------------- */

/* round(x) saturated at +-2^62, NaN to 0: the compiler's quant_round. */
static int64_t quant_round(double x) {
    if (x != x) return 0;
    const double lim = 4611686018427387904.0; /* 2^62 */
    if (x >= lim) return INT64_C(1) << 62;
    if (x <= -lim) return -(INT64_C(1) << 62);
    return (int64_t)round(x);
}

cml_status cml_quantize_input(const cml_circuit *c, size_t k, const double *x, int64_t *q) {
    const cml_tensor_spec *t = cml_circuit_input(c, k);
    if (!t || !x || !q)
        return cml_error(CML_ERR_ARG, "cml_quantize_input: %s",
                         t ? "NULL argument" : "no such input");
    for (int64_t i = 0; i < t->count; i++) {
        if (t->has_quant) {
            int64_t f = t->quant_features ? i % t->quant_features : 0;
            if (t->edges) { /* tree bins: edges below x (sorted; NaN: none) */
                int64_t lo = t->edge_at[f], hi = t->edge_at[f + 1];
                while (lo < hi) {
                    int64_t mid = lo + (hi - lo) / 2;
                    if (t->edges[mid] < x[i]) lo = mid + 1;
                    else hi = mid;
                }
                q[i] = lo - t->edge_at[f];
                continue;
            }
            double scale = t->quant_features ? t->scales[f] : t->scale;
            int64_t zp = t->quant_features ? t->zero_points[f] : t->zero_point;
            int64_t v = quant_round(x[i] / scale), qmax = (INT64_C(1) << t->quant_bits) - 1;
            if (__builtin_add_overflow(v, zp, &v)) v = zp < 0 ? 0 : qmax;
            q[i] = v < 0 ? 0 : v > qmax ? qmax : v;
            continue;
        }
        if (x[i] != floor(x[i]) || !(fabs(x[i]) < 9.2e18))
            return cml_error(CML_ERR_ARG, "input '%s'[%" PRId64 "] needs integers, got %g",
                             t->name, i, x[i]);
        q[i] = (int64_t)x[i];
        if (q[i] < t->lo || q[i] > t->hi)
            return cml_error(CML_ERR_ARG,
                             "input '%s'[%" PRId64 "] = %" PRId64
                             " is outside its range [%" PRId64 ", %" PRId64 "]",
                             t->name, i, q[i], t->lo, t->hi);
    }
    return CML_OK;
}

static void dequantize(const cml_tensor_spec *t, const int64_t *q, double *y) {
    for (int64_t i = 0; i < t->count; i++)
        y[i] = t->has_quant ? t->scale * ((double)q[i] - (double)t->zero_point) : (double)q[i];
}

cml_status cml_dequantize_output(const cml_circuit *c, size_t k, const int64_t *q, double *y) {
    const cml_tensor_spec *t = cml_circuit_output(c, k);
    if (!t || !q || !y)
        return cml_error(CML_ERR_ARG, "cml_dequantize_output: %s",
                         t ? "NULL argument" : "no such output");
    dequantize(t, q, y);
    return CML_OK;
}

size_t cml_post_apply(cml_post post, double *y, size_t n) {
    if (!y || n == 0) return n;
    switch (post) {
    case CML_POST_ARGMAX: {
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (y[i] > y[best]) best = i;
        y[0] = (double)best;
        return 1;
    }
    case CML_POST_SOFTMAX: {
        double mx = y[0], s = 0;
        for (size_t i = 1; i < n; i++) mx = y[i] > mx ? y[i] : mx;
        for (size_t i = 0; i < n; i++) s += (y[i] = exp(y[i] - mx));
        for (size_t i = 0; i < n; i++) y[i] /= s;
        return n;
    }
    case CML_POST_SIGMOID:
        for (size_t i = 0; i < n; i++) y[i] = 1.0 / (1.0 + exp(-y[i]));
        return n;
    case CML_POST_EXP:
        for (size_t i = 0; i < n; i++) y[i] = exp(y[i]);
        return n;
    case CML_POST_VOTE: {
        double best = y[0];
        size_t best_count = 0;
        for (size_t i = 0; i < n; i++) {
            size_t count = 0;
            for (size_t j = 0; j < n; j++) count += y[j] == y[i];
            if (count > best_count || (count == best_count && y[i] < best)) {
                best = y[i];
                best_count = count;
            }
        }
        y[0] = best;
        return 1;
    }
    case CML_POST_NONE: break;
    }
    return n;
}

const char *cml_post_name(cml_post post) {
    switch (post) {
    case CML_POST_NONE: return "none";
    case CML_POST_ARGMAX: return "argmax";
    case CML_POST_SOFTMAX: return "softmax";
    case CML_POST_SIGMOID: return "sigmoid";
    case CML_POST_EXP: return "exp";
    case CML_POST_VOTE: return "vote";
    }
    return "unknown";
}

cml_status cml_output_fprint(FILE *f, const cml_tensor_spec *t, const int64_t *q) {
    if (!f || !t || !q || t->count < 0)
        return cml_error(CML_ERR_ARG, "cml_output_fprint: NULL argument");
    bool real = t->has_quant || t->post != CML_POST_NONE;
    if (!real) {
        for (int64_t i = 0; i < t->count; i++) fprintf(f, "%s%" PRId64, i ? "," : "", q[i]);
        return ferror(f) ? cml_error(CML_ERR_IO, "write error") : CML_OK;
    }
    size_t n = (size_t)t->count;
    double *y = malloc((n ? n : 1) * sizeof *y);
    if (!y) return cml_error(CML_ERR_NOMEM, "out of memory");
    dequantize(t, q, y);
    size_t m = cml_post_apply(t->post, y, n);
    for (size_t i = 0; i < m; i++) {
        if (t->post == CML_POST_ARGMAX) fprintf(f, "%s%" PRId64, i ? "," : "", (int64_t)y[i]);
        else fprintf(f, "%s%.9g", i ? "," : "", y[i]);
    }
    free(y);
    return ferror(f) ? cml_error(CML_ERR_IO, "write error") : CML_OK;
}
