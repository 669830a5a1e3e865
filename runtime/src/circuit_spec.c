/* circuit_spec.c — reads and validates the circuit spec (docs/spec.md) with
 * libyaml's document API.
 *
 * Strict on purpose: every key must be known (a newer compiler's spec is
 * refused with the key's name rather than half-understood), required keys
 * must be there, numbers must be plain YAML scalars within their ranges.
 * Key order is the writer's rule (backend/emit_spec.c) and is not checked
 * here: reordering loses nothing. Every message gives the document's origin,
 * the key's path (`inputs[1].quant.scale`) and its line. */
#include "circuit_spec.h"
#include "internal.h"

#include <cml/circuit_abi.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct parser {
    yaml_document_t *doc;
    const char *origin;
} parser;

/* One key of a mapping: whether it may or must appear, and its value. */
typedef struct field {
    const char *key;
    bool allowed, required;
    yaml_node_t *node;
} field;

enum { WHERE_MAX = 96 };

static cml_status nomem(const parser *p) {
    return cml_error(CML_ERR_NOMEM, "%s: out of memory reading the circuit spec", p->origin);
}

static cml_status bad(const parser *p, const yaml_node_t *n, const char *where, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));
static cml_status bad(const parser *p, const yaml_node_t *n, const char *where, const char *fmt,
                      ...) {
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n)
        return cml_error(CML_ERR_FORMAT, "%s: invalid circuit spec, line %lu: %s%s%s", p->origin,
                         (unsigned long)n->start_mark.line + 1, where, *where ? ": " : "", msg);
    return cml_error(CML_ERR_FORMAT, "%s: invalid circuit spec: %s%s%s", p->origin, where,
                     *where ? ": " : "", msg);
}

/* buf = where.key, cut to WHERE_MAX - 1 characters (only a message uses it). */
static void join(char *buf, const char *where, const char *key) {
    size_t n = 0;
    for (const char *s = where; *s && n < WHERE_MAX - 1; s++) buf[n++] = *s;
    if (*where && n < WHERE_MAX - 1) buf[n++] = '.';
    for (const char *s = key; *s && n < WHERE_MAX - 1; s++) buf[n++] = *s;
    buf[n] = '\0';
}

/* Fills f[i].node from mapping n; unknown, repeated or missing keys fail. */
static cml_status read_map(const parser *p, yaml_node_t *n, const char *where, field *f,
                           size_t nf) {
    if (n->type != YAML_MAPPING_NODE) return bad(p, n, where, "expected a mapping");
    for (size_t i = 0; i < nf; i++) f[i].node = NULL;
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(p->doc, pr->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE)
            return bad(p, k, where, "keys must be plain names");
        const char *key = (const char *)k->data.scalar.value;
        size_t i = 0;
        while (i < nf && !(f[i].allowed && !strcmp(f[i].key, key))) i++;
        if (i == nf)
            return bad(p, k, where,
                       "unknown key '%.40s' (written by a newer cmlc? this runtime reads spec "
                       "format 1)",
                       key);
        if (f[i].node) return bad(p, k, where, "key '%s' appears twice", key);
        f[i].node = v;
    }
    for (size_t i = 0; i < nf; i++)
        if (f[i].required && !f[i].node) return bad(p, n, where, "missing key '%s'", f[i].key);
    return CML_OK;
}

static yaml_node_t *get(const field *f, size_t nf, const char *key) {
    for (size_t i = 0; i < nf; i++)
        if (!strcmp(f[i].key, key)) return f[i].node;
    return NULL;
}

/* A plain (unquoted) scalar: numbers and booleans must be written so. */
static const char *plain(const parser *p, const yaml_node_t *n, const char *where, const char *what,
                         cml_status *st) {
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
        n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE ||
        n->data.scalar.length != strlen((const char *)n->data.scalar.value)) {
        *st = bad(p, n, where, "expected %s", what);
        return NULL;
    }
    return (const char *)n->data.scalar.value;
}

static cml_status get_int(const parser *p, const yaml_node_t *n, const char *where, int64_t lo,
                          int64_t hi, int64_t *out) {
    cml_status st = CML_OK;
    const char *s = plain(p, n, where, "an integer", &st);
    if (!s) return st;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno == ERANGE || s[0] == ' ')
        return bad(p, n, where, "expected an integer, got '%.40s'", s);
    if (v < lo || v > hi)
        return bad(p, n, where, "%lld is out of range [%" PRId64 ", %" PRId64 "]", v, lo, hi);
    *out = (int64_t)v;
    return CML_OK;
}

static cml_status get_u32(const parser *p, const yaml_node_t *n, const char *where, uint32_t lo,
                          uint32_t hi, uint32_t *out) {
    int64_t v;
    cml_status st = get_int(p, n, where, lo, hi, &v);
    if (st == CML_OK) *out = (uint32_t)v;
    return st;
}

/* A real: decimal or exponent form, or YAML's .inf, -.inf, .nan spellings. */
static cml_status get_real(const parser *p, const yaml_node_t *n, const char *where, double *out) {
    cml_status st = CML_OK;
    const char *s = plain(p, n, where, "a number", &st);
    if (!s) return st;
    const char *t = s[0] == '+' || s[0] == '-' ? s + 1 : s;
    if (!strcmp(t, ".inf") || !strcmp(t, ".Inf") || !strcmp(t, ".INF")) {
        *out = s[0] == '-' ? -INFINITY : INFINITY;
        return CML_OK;
    }
    if (t == s && (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN"))) {
        *out = NAN;
        return CML_OK;
    }
    /* strtod would also take "inf", "nan" and hex floats: not YAML numbers */
    if (strspn(t, "0123456789.eE+-") != strlen(t) || !*t)
        return bad(p, n, where, "expected a number, got '%.40s'", s);
    char *end;
    *out = strtod(s, &end);
    if (*end) return bad(p, n, where, "expected a number, got '%.40s'", s);
    return CML_OK;
}

static cml_status get_bool(const parser *p, const yaml_node_t *n, const char *where, int *out) {
    cml_status st = CML_OK;
    const char *s = plain(p, n, where, "true or false", &st);
    if (!s) return st;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) *out = 1;
    else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) *out = 0;
    else return bad(p, n, where, "expected true or false, got '%.40s'", s);
    return CML_OK;
}

/* A string in any scalar style; a malloc'd copy. */
static cml_status get_str(const parser *p, const yaml_node_t *n, const char *where, char **out) {
    if (n->type != YAML_SCALAR_NODE) return bad(p, n, where, "expected a string");
    size_t len = n->data.scalar.length;
    if (len != strlen((const char *)n->data.scalar.value))
        return bad(p, n, where, "a NUL character in a string");
    char *s = malloc(len + 1);
    if (!s) return nomem(p);
    memcpy(s, n->data.scalar.value, len + 1);
    *out = s;
    return CML_OK;
}

static size_t seq_len(const yaml_node_t *n) {
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static yaml_node_t *seq_item(const parser *p, const yaml_node_t *n, size_t i) {
    return yaml_document_get_node(p->doc, n->data.sequence.items.start[i]);
}

static cml_status read_shape(const parser *p, const yaml_node_t *n, const char *where,
                             cml_tensor_spec *t) {
    if (n->type != YAML_SEQUENCE_NODE) return bad(p, n, where, "expected a list of dimensions");
    size_t rank = seq_len(n);
    if (rank > CML_SHAPE_MAX_RANK)
        return bad(p, n, where, "%zu dimensions, at most %d are supported", rank,
                   CML_SHAPE_MAX_RANK);
    t->rank = (int)rank;
    t->count = 1;
    for (size_t i = 0; i < rank; i++) {
        yaml_node_t *d = seq_item(p, n, i);
        int64_t v;
        cml_status st = d ? get_int(p, d, where, INT64_MIN, INT64_MAX, &v)
                          : bad(p, n, where, "a missing dimension");
        if (st != CML_OK) return st;
        if (v < 1) return bad(p, d, where, "dimension %zu is %" PRId64 ", must be positive", i, v);
        if (v > CML_TENSOR_MAX_COUNT / t->count)
            return bad(p, d, where, "more than 2^24 elements");
        t->dims[i] = v;
        t->count *= v;
    }
    return CML_OK;
}

static cml_status read_range(const parser *p, const yaml_node_t *n, const char *where,
                             cml_tensor_spec *t) {
    if (n->type != YAML_SEQUENCE_NODE || seq_len(n) != 2)
        return bad(p, n, where, "expected [lo, hi]");
    int64_t v[2];
    for (size_t i = 0; i < 2; i++) {
        yaml_node_t *e = seq_item(p, n, i);
        cml_status st = e ? get_int(p, e, where, INT64_MIN, INT64_MAX, &v[i])
                          : bad(p, n, where, "expected [lo, hi]");
        if (st != CML_OK) return st;
    }
    if (v[0] > v[1]) return bad(p, n, where, "lo %" PRId64 " > hi %" PRId64, v[0], v[1]);
    /* the values must be encodable at encoding_bits (read before) */
    int64_t lo = t->is_signed ? -(INT64_C(1) << (t->encoding_bits - 1)) : 0;
    int64_t hi = t->is_signed ? (INT64_C(1) << (t->encoding_bits - 1)) - 1
                              : (INT64_C(1) << t->encoding_bits) - 1;
    if (v[0] < lo || v[1] > hi)
        return bad(p, n, where, "[%" PRId64 ", %" PRId64 "] does not fit %u-bit %s encoding",
                   v[0], v[1], t->encoding_bits, t->is_signed ? "signed" : "unsigned");
    t->lo = v[0];
    t->hi = v[1];
    return CML_OK;
}

/* A list of `count` reals (want_int: integers) at n. */
static cml_status read_list(const parser *p, yaml_node_t *n, const char *where, int64_t count,
                            double *reals, int64_t *ints) {
    if (n->type != YAML_SEQUENCE_NODE) return bad(p, n, where, "expected a list");
    if ((int64_t)seq_len(n) != count)
        return bad(p, n, where, "expected %" PRId64 " values (one per feature), got %zu", count,
                   seq_len(n));
    for (int64_t i = 0; i < count; i++) {
        char w[WHERE_MAX];
        snprintf(w, sizeof w, "%s[%" PRId64 "]", where, i);
        yaml_node_t *e = seq_item(p, n, (size_t)i);
        if (!e) return bad(p, n, w, "missing");
        cml_status st = reals ? get_real(p, e, w, &reals[i])
                              : get_int(p, e, w, INT64_MIN, INT64_MAX, &ints[i]);
        if (st != CML_OK) return st;
        if (reals && (!(reals[i] > 0) || !isfinite(reals[i])))
            return bad(p, e, w, "%g is not a positive finite scale", reals[i]);
    }
    return CML_OK;
}

/* Tree bins: one list of strictly increasing finite edges per feature. */
static cml_status read_edges(const parser *p, yaml_node_t *n, const char *where, int64_t nfeat,
                             cml_tensor_spec *t) {
    if (n->type != YAML_SEQUENCE_NODE) return bad(p, n, where, "expected a list");
    if ((int64_t)seq_len(n) != nfeat)
        return bad(p, n, where, "expected %" PRId64 " lists (one per feature), got %zu", nfeat,
                   seq_len(n));
    size_t total = 0;
    for (int64_t f = 0; f < nfeat; f++) {
        yaml_node_t *e = seq_item(p, n, (size_t)f);
        if (!e || e->type != YAML_SEQUENCE_NODE) {
            char w[WHERE_MAX + 48];
            snprintf(w, sizeof w, "%s[%" PRId64 "]", where, f);
            return bad(p, e ? e : n, w, "expected a list");
        }
        total += seq_len(e);
    }
    int64_t *at = calloc((size_t)nfeat + 1, sizeof *at);
    double *v = calloc(total ? total : 1, sizeof *v);
    t->edge_at = at; /* owned from here on */
    t->edges = v;
    if (!at || !v) return nomem(p);
    int64_t k = 0;
    for (int64_t f = 0; f < nfeat; f++) {
        yaml_node_t *e = seq_item(p, n, (size_t)f);
        at[f] = k;
        for (size_t j = 0; j < seq_len(e); j++, k++) {
            char w[WHERE_MAX + 48];
            snprintf(w, sizeof w, "%s[%" PRId64 "][%zu]", where, f, j);
            yaml_node_t *x = seq_item(p, e, j);
            cml_status st = x ? get_real(p, x, w, &v[k]) : bad(p, e, w, "missing");
            if (st != CML_OK) return st;
            if (!isfinite(v[k])) return bad(p, x, w, "%g is not a finite edge", v[k]);
            if (j > 0 && !(v[k] > v[k - 1]))
                return bad(p, x, w, "edges must increase (%g after %g)", v[k], v[k - 1]);
        }
    }
    at[nfeat] = k;
    return CML_OK;
}

/* quant: {scale, zero_point[, bits]}, or for inputs one per feature (the
 * last axis): {scales: [...], zero_points: [...], bits}, or tree bins
 * {edges: [[...], ...], bits}. */
static cml_status read_quant(const parser *p, yaml_node_t *n, const char *where, bool input,
                             cml_tensor_spec *t) {
    field f[] = {{"scale", true, false, NULL},
                 {"zero_point", true, false, NULL},
                 {"bits", input, input, NULL},
                 {"scales", input, false, NULL},
                 {"zero_points", input, false, NULL},
                 {"edges", input, false, NULL}};
    size_t nf = sizeof f / sizeof f[0];
    char w[WHERE_MAX];
    cml_status st = read_map(p, n, where, f, nf);
    if (st != CML_OK) return st;
    bool per = f[3].node || f[4].node, bins = f[5].node != NULL;
    if ((int)per + (int)bins + (f[0].node || f[1].node) > 1)
        return bad(p, n, where, "one of scale and zero_point, scales and zero_points, or edges");
    for (size_t i = per ? 3 : 0; !bins && i < (per ? 5u : 2u); i++)
        if (!f[i].node) return bad(p, n, where, "missing key '%s'", f[i].key);
    if (bins) {
        int64_t nfeat = t->rank ? t->dims[t->rank - 1] : 1;
        if (t->rank != 1) return bad(p, n, where, "tree bins need a vector input");
        t->quant_features = nfeat;
        join(w, where, "edges");
        if ((st = read_edges(p, f[5].node, w, nfeat, t)) != CML_OK) return st;
    } else if (per) {
        int64_t nfeat = t->rank ? t->dims[t->rank - 1] : 1;
        double *sc = calloc((size_t)nfeat, sizeof *sc);
        int64_t *zp = calloc((size_t)nfeat, sizeof *zp);
        t->scales = sc; /* owned from here on: cml_spec_free frees them */
        t->zero_points = zp;
        if (!sc || !zp) return nomem(p);
        t->quant_features = nfeat;
        join(w, where, "scales");
        if ((st = read_list(p, f[3].node, w, nfeat, sc, NULL)) != CML_OK) return st;
        join(w, where, "zero_points");
        if ((st = read_list(p, f[4].node, w, nfeat, NULL, zp)) != CML_OK) return st;
    } else {
        join(w, where, "scale");
        if ((st = get_real(p, f[0].node, w, &t->scale)) != CML_OK) return st;
        if (!(t->scale > 0) || !isfinite(t->scale))
            return bad(p, f[0].node, w, "%g is not a positive finite scale", t->scale);
        join(w, where, "zero_point");
        if ((st = get_int(p, f[1].node, w, INT64_MIN, INT64_MAX, &t->zero_point)) != CML_OK)
            return st;
    }
    if (input) {
        join(w, where, "bits");
        if ((st = get_u32(p, f[2].node, w, 1, 62, &t->quant_bits)) != CML_OK) return st;
    }
    t->has_quant = 1;
    return CML_OK;
}

static cml_status read_post(const parser *p, const yaml_node_t *n, const char *where,
                            cml_post *out) {
    cml_status st = CML_OK;
    const char *s = plain(p, n, where, "none, argmax, softmax, sigmoid, exp or vote", &st);
    if (!s) return st;
    for (int i = CML_POST_NONE; i <= CML_POST_VOTE; i++)
        if (!strcmp(s, cml_post_name((cml_post)i))) {
            *out = (cml_post)i;
            return CML_OK;
        }
    return bad(p, n, where, "unknown post-processing '%.40s' (none, argmax, softmax, sigmoid, exp or vote)",
               s);
}

static cml_status read_tensor(const parser *p, yaml_node_t *n, const char *where, bool input,
                              cml_tensor_spec *t) {
    field f[] = {{"name", true, true, NULL},          {"shape", true, true, NULL},
                 {"encrypted", input, input, NULL},   {"encoding_bits", true, true, NULL},
                 {"signed", true, true, NULL},        {"range", true, true, NULL},
                 {"quant", true, false, NULL},        {"post", !input, false, NULL}};
    size_t nf = sizeof f / sizeof f[0];
    char w[WHERE_MAX];
    cml_status st = read_map(p, n, where, f, nf);
    if (st != CML_OK) return st;
    char *name = NULL;
    join(w, where, "name");
    if ((st = get_str(p, get(f, nf, "name"), w, &name)) != CML_OK) return st;
    t->name = name;
    join(w, where, "shape");
    if ((st = read_shape(p, get(f, nf, "shape"), w, t)) != CML_OK) return st;
    t->encrypted = 1;
    join(w, where, "encrypted");
    if (input && (st = get_bool(p, get(f, nf, "encrypted"), w, &t->encrypted)) != CML_OK) return st;
    join(w, where, "encoding_bits");
    if ((st = get_u32(p, get(f, nf, "encoding_bits"), w, 1, 62, &t->encoding_bits)) != CML_OK)
        return st;
    join(w, where, "signed");
    if ((st = get_bool(p, get(f, nf, "signed"), w, &t->is_signed)) != CML_OK) return st;
    join(w, where, "range");
    if ((st = read_range(p, get(f, nf, "range"), w, t)) != CML_OK) return st;
    join(w, where, "quant");
    yaml_node_t *q = get(f, nf, "quant");
    if (q && (st = read_quant(p, q, w, input, t)) != CML_OK) return st;
    join(w, where, "post");
    yaml_node_t *post = get(f, nf, "post");
    if (post && (st = read_post(p, post, w, &t->post)) != CML_OK) return st;
    return CML_OK;
}

static cml_status read_tensors(const parser *p, yaml_node_t *n, const char *key, bool input,
                               cml_tensor_spec **out, size_t *count) {
    if (n->type != YAML_SEQUENCE_NODE) return bad(p, n, key, "expected a list");
    size_t len = seq_len(n);
    *out = calloc(len ? len : 1, sizeof **out);
    if (!*out) return nomem(p);
    for (size_t i = 0; i < len; i++) {
        char w[WHERE_MAX];
        snprintf(w, sizeof w, "%s[%zu]", key, i);
        yaml_node_t *e = seq_item(p, n, i);
        cml_status st = e ? read_tensor(p, e, w, input, &(*out)[i]) : bad(p, n, w, "missing");
        *count = i + 1; /* so that cml_spec_free frees the name just read */
        if (st != CML_OK) return st;
    }
    *count = len;
    return CML_OK;
}

static cml_status read_params(const parser *p, yaml_node_t *n, cml_spec *s) {
    static const char *const ints[] = {"precision",    "glwe_dimension", "polynomial_size",
                                       "lwe_dimension", "pbs_base_log",  "pbs_level",
                                       "ks_base_log",   "ks_level"};
    field f[] = {{ints[0], true, true, NULL},          {ints[1], true, true, NULL},
                 {ints[2], true, true, NULL},          {ints[3], true, true, NULL},
                 {ints[4], true, true, NULL},          {ints[5], true, true, NULL},
                 {ints[6], true, true, NULL},          {ints[7], true, true, NULL},
                 {"lwe_noise_std", true, true, NULL},  {"glwe_noise_std", true, true, NULL},
                 {"fingerprint", true, true, NULL},    {"light_base_log", true, false, NULL},
                 {"light_level", true, false, NULL},   {"light_glwe_dimension", true, false, NULL},
                 {"light_polynomial_size", true, false, NULL}};
    size_t nf = sizeof f / sizeof f[0];
    cml_status st = read_map(p, n, "params", f, nf);
    if (st != CML_OK) return st;
    uint32_t v[8];
    char w[WHERE_MAX];
    for (size_t i = 0; i < 8; i++) {
        join(w, "params", ints[i]);
        if ((st = get_u32(p, f[i].node, w, 0, UINT32_MAX, &v[i])) != CML_OK) return st;
    }
    cml_params *pr = &s->params;
    memset(pr, 0, sizeof *pr);
    pr->precision = v[0];
    pr->glwe_dimension = v[1];
    pr->polynomial_size = v[2];
    pr->lwe_dimension = v[3];
    pr->pbs_base_log = v[4];
    pr->pbs_level = v[5];
    pr->ks_base_log = v[6];
    pr->ks_level = v[7];
    double *noise[2] = {&pr->lwe_noise_std, &pr->glwe_noise_std};
    for (size_t i = 0; i < 2; i++) {
        join(w, "params", f[8 + i].key);
        if ((st = get_real(p, f[8 + i].node, w, noise[i])) != CML_OK) return st;
        if (!(*noise[i] >= 0) || !isfinite(*noise[i]))
            return bad(p, f[8 + i].node, w, "%g is not a noise standard deviation", *noise[i]);
    }
    /* the fingerprint ties the figures together: a corrupted digit shows */
    yaml_node_t *fp = f[10].node;
    const char *t = fp->type == YAML_SCALAR_NODE ? (const char *)fp->data.scalar.value : "";
    char *end = NULL;
    errno = 0;
    unsigned long long h = strncmp(t, "0x", 2) ? 0 : strtoull(t + 2, &end, 16);
    if (!end || end == t + 2 || *end || errno == ERANGE || strlen(t) > 18)
        return bad(p, fp, "params.fingerprint", "expected \"0x\" and 16 hex digits");
    uint64_t want = cml_params_fingerprint(pr);
    if (h != want)
        return bad(p, fp, "params.fingerprint",
                   "0x%016llx does not match the parameters given (0x%016" PRIx64 ")", h, want);
    /* optional: the light bootstrap key the compiler sized the rounding for
     * (base and level both or neither, its k and N both or neither, then
     * the main key's; not in the fingerprint: ciphertexts do not depend on
     * it) */
    if (!f[11].node != !f[12].node)
        return bad(p, f[11].node ? f[11].node : f[12].node, "params",
                   "light_base_log and light_level go together");
    if (!f[13].node != !f[14].node)
        return bad(p, f[13].node ? f[13].node : f[14].node, "params",
                   "light_glwe_dimension and light_polynomial_size go together");
    if (f[13].node && !f[11].node)
        return bad(p, f[13].node, "params",
                   "light_glwe_dimension and light_polynomial_size need light_base_log and "
                   "light_level");
    if (f[11].node) {
        uint32_t lv[4] = {pr->glwe_dimension, pr->polynomial_size, 0, 0};
        if ((f[13].node &&
             ((st = get_u32(p, f[13].node, "params.light_glwe_dimension", 1, 64, &lv[0])) ||
              (st = get_u32(p, f[14].node, "params.light_polynomial_size", 1, UINT32_MAX,
                            &lv[1])))) ||
            (st = get_u32(p, f[11].node, "params.light_base_log", 1, 64, &lv[2])) ||
            (st = get_u32(p, f[12].node, "params.light_level", 1, 64, &lv[3])))
            return st;
        if (cml_params_light(pr, lv[0], lv[1], lv[2], lv[3], &s->light) != CML_OK) {
            char msg[400];
            snprintf(msg, sizeof msg, "%s", cml_last_error());
            return bad(p, f[11].node, "params.light_base_log", "%s", msg);
        }
        s->has_light = 1;
    }
    s->has_params = 1;
    return CML_OK;
}

static cml_status read_stats(const parser *p, yaml_node_t *n, cml_spec_stats *s) {
    field f[] = {{"tlu_count", true, true, NULL},
                 {"pbs_count", true, true, NULL},
                 {"log2_p_error_pbs", true, false, NULL},
                 {"log2_p_error_circuit", true, false, NULL}};
    cml_status st = read_map(p, n, "stats", f, sizeof f / sizeof f[0]);
    if (st != CML_OK) return st;
    if ((st = get_int(p, f[0].node, "stats.tlu_count", 0, INT64_MAX, &s->tlu_count)) != CML_OK ||
        (st = get_int(p, f[1].node, "stats.pbs_count", 0, INT64_MAX, &s->pbs_count)) != CML_OK)
        return st;
    if (!f[2].node != !f[3].node)
        return bad(p, n, "stats", "log2_p_error_pbs and log2_p_error_circuit go together");
    if (f[2].node) {
        if ((st = get_real(p, f[2].node, "stats.log2_p_error_pbs", &s->log2_p_error_pbs)) !=
                CML_OK ||
            (st = get_real(p, f[3].node, "stats.log2_p_error_circuit",
                           &s->log2_p_error_circuit)) != CML_OK)
            return st;
        s->has_p_error = 1;
    }
    return CML_OK;
}

static cml_status read_spec(const parser *p, yaml_node_t *root, cml_spec *s) {
    if (root->type != YAML_MAPPING_NODE) return bad(p, root, "", "expected a mapping at the top");
    /* the format first: a future format's other keys are not worth naming */
    yaml_node_t *fmt = NULL;
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(p->doc, pr->key);
        if (k && k->type == YAML_SCALAR_NODE &&
            !strcmp((const char *)k->data.scalar.value, "format"))
            fmt = yaml_document_get_node(p->doc, pr->value);
    }
    if (!fmt) return bad(p, root, "", "missing key 'format'");
    int64_t format;
    cml_status st = get_int(p, fmt, "format", INT64_MIN, INT64_MAX, &format);
    if (st != CML_OK) return st;
    if (format != 1)
        return bad(p, fmt, "format", "unsupported spec format %" PRId64
                   " (this runtime reads format 1: use a matching cmlc)", format);
    s->format = 1;

    field f[] = {{"format", true, true, NULL},  {"abi", true, true, NULL},
                 {"name", true, true, NULL},    {"kind", true, true, NULL},
                 {"compiler", true, true, NULL}, {"inputs", true, true, NULL},
                 {"outputs", true, true, NULL}, {"params", true, false, NULL},
                 {"stats", true, true, NULL}};
    size_t nf = sizeof f / sizeof f[0];
    if ((st = read_map(p, root, "", f, nf)) != CML_OK) return st;
    if ((st = get_u32(p, f[1].node, "abi", 0, UINT32_MAX, &s->abi)) != CML_OK) return st;
    if (s->abi != CML_CIRCUIT_ABI_VERSION)
        return bad(p, f[1].node, "abi", "circuit ABI %u, this runtime implements %u", s->abi,
                   CML_CIRCUIT_ABI_VERSION);
    if ((st = get_str(p, f[2].node, "name", &s->name)) != CML_OK) return st;
    char *kind = NULL;
    if ((st = get_str(p, f[3].node, "kind", &kind)) != CML_OK) return st;
    bool model = !strcmp(kind, "model"), circuit = !strcmp(kind, "circuit");
    free(kind);
    if (!model && !circuit) return bad(p, f[3].node, "kind", "expected model or circuit");
    s->is_model = model;
    if ((st = get_str(p, f[4].node, "compiler", &s->compiler)) != CML_OK) return st;
    if ((st = read_tensors(p, f[5].node, "inputs", true, &s->inputs, &s->ninputs)) != CML_OK ||
        (st = read_tensors(p, f[6].node, "outputs", false, &s->outputs, &s->noutputs)) != CML_OK)
        return st;
    if (f[7].node && (st = read_params(p, f[7].node, s)) != CML_OK) return st;
    if ((st = read_stats(p, f[8].node, &s->stats)) != CML_OK) return st;
    if (s->has_params && s->stats.has_p_error) s->params.log2_p_error = s->stats.log2_p_error_pbs;
    return CML_OK;
}

cml_status cml_spec_parse(const char *yaml, size_t len, const char *origin, cml_spec *out) {
    memset(out, 0, sizeof *out);
    if (!yaml || !origin) return cml_error(CML_ERR_ARG, "cml_spec_parse: NULL argument");
    parser p = {NULL, origin};
    yaml_parser_t yp;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&yp))
        return cml_error(CML_ERR_NOMEM, "%s: out of memory reading the circuit spec", origin);
    yaml_parser_set_input_string(&yp, (const unsigned char *)yaml, len);
    cml_status st = CML_OK;
    if (!yaml_parser_load(&yp, &doc)) {
        if (yp.error == YAML_MEMORY_ERROR)
            st = cml_error(CML_ERR_NOMEM, "%s: out of memory reading the circuit spec", origin);
        else
            st = cml_error(CML_ERR_FORMAT, "%s: invalid circuit spec, line %lu: %s", origin,
                           (unsigned long)yp.problem_mark.line + 1,
                           yp.problem ? yp.problem : "YAML syntax error");
        yaml_parser_delete(&yp);
        return st;
    }
    p.doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root)
        st = cml_error(CML_ERR_FORMAT, "%s: invalid circuit spec: the document is empty", origin);
    else
        st = read_spec(&p, root, out);
    yaml_document_delete(&doc);
    yaml_parser_delete(&yp);
    if (st != CML_OK) cml_spec_free(out);
    return st;
}

void cml_spec_free(cml_spec *s) {
    if (!s) return;
    for (size_t i = 0; s->inputs && i < s->ninputs; i++) {
        free((char *)s->inputs[i].name);
        free((int64_t *)s->inputs[i].edge_at);
        free((double *)s->inputs[i].edges);
        free((double *)s->inputs[i].scales);
        free((int64_t *)s->inputs[i].zero_points);
    }
    for (size_t i = 0; s->outputs && i < s->noutputs; i++) free((char *)s->outputs[i].name);
    free(s->inputs);
    free(s->outputs);
    free(s->name);
    free(s->compiler);
    memset(s, 0, sizeof *s);
}
