/* knn.c — the `knn` layer's integer IR (knn.h): distances, sort keys and the
 * bitonic top-k selection network, built from ops the passes already know
 * (broadcast, matmul by a 0/1 matrix, elementwise chains that fusion turns
 * into lookups, slices and concats). */
#include "knn.h"

#include <stdlib.h>
#include <string.h>

int knn_label_bits(int64_t max_label) {
    int lb = 1;
    while (lb < 16 && (INT64_C(1) << lb) - 1 <= max_label) lb++;
    return lb;
}

static int ilog2(int64_t v) {
    int r = 0;
    while ((INT64_C(1) << r) < v) r++;
    return r;
}

/* Group width K2 and group count G of the network. */
static void network_shape(const knn_shape *s, int64_t *k2, int64_t *g) {
    *k2 = INT64_C(1) << ilog2(s->k);
    *g = INT64_C(1) << ilog2((s->n + *k2 - 1) / *k2);
}

typedef struct net {
    ir_func *f;
    diag_ctx *d;
    diag_loc loc;
    int64_t kmax; /* every key lies in [0, kmax] */
} net;

static ir_op *ivec(net *c, int rank, const int64_t *dims, const int64_t *v) {
    ir_type t = {0};
    t.rank = rank;
    memcpy(t.dims, dims, (size_t)rank * sizeof *dims);
    return ir_build_const_int(c->f, c->loc, t, v);
}

static ir_op *scalar(net *c, int64_t v) { return ir_build_scalar_int(c->f, c->loc, v); }

static ir_op *op2(net *c, ir_opcode code, ir_op *a, ir_op *b) {
    return a && b ? ir_build2(c->f, c->d, code, c->loc, a, b) : NULL;
}

/* min/max of keys stay keys: the bound interval analysis cannot see
 * through `a - relu(a - b)` when the pair work budget is spent. */
static ir_op *bounded(net *c, ir_op *x) {
    if (x) {
        x->has_bound = true;
        x->bound_lo = 0;
        x->bound_hi = c->kmax;
    }
    return x;
}

/* Column j of w [G, K2] as [G, 1]. */
static ir_op *column(net *c, ir_op *w, int64_t j) {
    int64_t b[2] = {0, j}, e[2] = {w->type.dims[0], j + 1}, st[2] = {1, 1};
    return ir_build_slice(c->f, c->d, c->loc, w, b, e, st);
}

static ir_op *concat_cols(net *c, ir_op **cols, int64_t n) {
    if (n == 1) return cols[0];
    for (int64_t i = 0; i < n; i++)
        if (!cols[i]) return NULL;
    return ir_build_concat(c->f, c->d, c->loc, (int)n, cols, 1);
}

/* One comparator layer on w [G, K2]: for each pair (lo[m], hi[m]) the
 * smaller key goes to column lo[m], the larger to hi[m]; one lookup per
 * comparator, relu(a - b), shared by both:
 *   min = a - relu(a - b),  max = b + relu(a - b). */
static ir_op *layer(net *c, ir_op *w, const int64_t *lo, const int64_t *hi, int64_t m) {
    int64_t k2 = w->type.dims[1];
    ir_op **ca = calloc((size_t)(m + k2), sizeof *ca), **cb = calloc((size_t)m, sizeof *cb);
    ir_op *out = NULL;
    if (!ca || !cb) goto done;
    for (int64_t i = 0; i < m; i++) {
        ca[i] = column(c, w, lo[i]);
        cb[i] = column(c, w, hi[i]);
    }
    ir_op *a = concat_cols(c, ca, m), *b = concat_cols(c, cb, m);
    ir_op *r = ir_build1(c->f, c->d, IR_RELU, c->loc, op2(c, IR_SUB, a, b));
    ir_op *mn = bounded(c, op2(c, IR_SUB, a, r)), *mx = bounded(c, op2(c, IR_ADD, b, r));
    if (!mn || !mx) goto done;
    ir_op **cols = ca + m;
    for (int64_t j = 0; j < k2; j++) {
        cols[j] = NULL;
        for (int64_t i = 0; i < m && !cols[j]; i++) {
            if (lo[i] == j) cols[j] = m == 1 ? mn : column(c, mn, i);
            if (hi[i] == j) cols[j] = m == 1 ? mx : column(c, mx, i);
        }
        if (!cols[j]) cols[j] = column(c, w, j);
    }
    out = concat_cols(c, cols, k2);
done:
    free(ca);
    free(cb);
    return out;
}

/* Half-cleaners with distance j, j/2, ..., 1 on w [G, K2]. */
static ir_op *half_cleaners(net *c, ir_op *w, int64_t j) {
    int64_t k2 = w->type.dims[1];
    int64_t *lo = malloc((size_t)k2 * sizeof *lo), *hi = malloc((size_t)k2 * sizeof *hi);
    for (; j >= 1 && w && lo && hi; j /= 2) {
        int64_t m = 0;
        for (int64_t i = 0; i < k2; i++)
            if (i % (2 * j) < j) {
                lo[m] = i;
                hi[m++] = i + j;
            }
        w = layer(c, w, lo, hi, m);
    }
    if (!lo || !hi) w = NULL;
    free(lo);
    free(hi);
    return w;
}

/* Ascending bitonic sort of every row of w [G, K2]: for block sizes
 * s = 2, 4, ..., K2, a flip (i against the mirror position in its block)
 * then half-cleaners from s/4 down. */
static ir_op *sort_rows(net *c, ir_op *w) {
    int64_t k2 = w->type.dims[1];
    int64_t *lo = malloc((size_t)k2 * sizeof *lo), *hi = malloc((size_t)k2 * sizeof *hi);
    for (int64_t s = 2; s <= k2 && w && lo && hi; s *= 2) {
        int64_t m = 0;
        for (int64_t b = 0; b < k2; b += s)
            for (int64_t t = 0; t < s / 2; t++) {
                lo[m] = b + t;
                hi[m++] = b + s - 1 - t;
            }
        w = layer(c, w, lo, hi, m);
        if (w && s >= 4) w = half_cleaners(c, w, s / 4);
    }
    if (!lo || !hi) w = NULL;
    free(lo);
    free(hi);
    return w;
}

/* Rows 2g and 2g+1 of w [G, K2] (each sorted) merged into row g of the
 * result [G/2, K2]: the K2 smallest of both, sorted. */
static ir_op *merge_rows(net *c, ir_op *w) {
    int64_t g = w->type.dims[0], k2 = w->type.dims[1];
    int64_t b0[2] = {0, 0}, b1[2] = {1, 0}, e[2] = {g, k2}, st[2] = {2, 1};
    ir_op *a = ir_build_slice(c->f, c->d, c->loc, w, b0, e, st);
    ir_op *b = ir_build_slice(c->f, c->d, c->loc, w, b1, e, st);
    if (!a || !b) return NULL;
    if (k2 > 1) { /* b reversed along its row */
        ir_op **cols = calloc((size_t)k2, sizeof *cols);
        if (!cols) return NULL;
        for (int64_t j = 0; j < k2; j++) cols[j] = column(c, b, k2 - 1 - j);
        b = concat_cols(c, cols, k2);
        free(cols);
    }
    ir_op *r = ir_build1(c->f, c->d, IR_RELU, c->loc, op2(c, IR_SUB, a, b));
    ir_op *m = bounded(c, op2(c, IR_SUB, a, r));
    return m && k2 > 1 ? half_cleaners(c, m, k2 / 2) : m;
}

ir_op *knn_build(ir_func *f, diag_ctx *d, diag_loc loc, ir_op *q, const knn_shape *s,
                 const int64_t *t, const int64_t *labels) {
    net c = {f, d, loc, (INT64_C(1) << (s->dist_bits + s->label_bits)) - 1};
    const int64_t n = s->n, K = s->K, V = INT64_C(1) << s->qbits, D = (1 << s->dist_bits) - 1;
    int64_t k2, g;
    network_shape(s, &k2, &g);
    int64_t *vals = malloc((size_t)(V * K) * sizeof *vals);
    int64_t *sel = calloc((size_t)(V * K * n), sizeof *sel);
    ir_op *w = NULL;
    if (!vals || !sel) goto done;

    /* e[v, f] = min((q[f] - v)^2, D), flattened as v * K + f */
    for (int64_t v = 0; v < V; v++)
        for (int64_t j = 0; j < K; j++) vals[v * K + j] = v;
    int64_t vk[2] = {V, K}, flat = V * K;
    ir_op *qb = ir_build_broadcast(f, d, loc, q, 2, vk);
    qb = qb ? ir_build_reshape(f, d, loc, qb, 1, &flat) : NULL;
    ir_op *diff = op2(&c, IR_SUB, qb, ivec(&c, 1, &flat, vals));
    ir_op *e = op2(&c, IR_MIN, op2(&c, IR_MUL, diff, diff), scalar(&c, D));

    /* d = e @ sel, sel[(t[i, f] * K + f), i] = 1 */
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < K; j++) sel[(t[i * K + j] * K + j) * n + i] = 1;
    int64_t sd[2] = {flat, n};
    ir_op *dist = op2(&c, IR_MATMUL, e, ivec(&c, 2, sd, sel));

    /* key = min(d, D) * 2^lb + label */
    ir_op *key = op2(&c, IR_MIN, dist, scalar(&c, D));
    key = op2(&c, IR_MUL, key, scalar(&c, INT64_C(1) << s->label_bits));
    key = op2(&c, IR_ADD, key, ivec(&c, 1, &n, labels));

    /* padded to G * K2 keys with the largest key, kmax (never a real one) */
    int64_t total = g * k2;
    if (key && total > n) {
        int64_t z = 0, one = 1, pad = total - n, st = 1;
        ir_op *first = ir_build_slice(f, d, loc, key, &z, &one, &st);
        ir_op *zero = op2(&c, IR_MUL, first, scalar(&c, 0));
        zero = zero ? ir_build_broadcast(f, d, loc, zero, 1, &pad) : NULL;
        ir_op *parts[2] = {key, op2(&c, IR_ADD, zero, scalar(&c, c.kmax))};
        key = parts[1] ? ir_build_concat(f, d, loc, 2, parts, 0) : NULL;
    }
    int64_t gk[2] = {g, k2};
    w = key ? ir_build_reshape(f, d, loc, key, 2, gk) : NULL;
    if (w && k2 > 1) w = sort_rows(&c, w);
    while (w && w->type.dims[0] > 1) w = merge_rows(&c, w);

    /* the k nearest, nearest first; their labels: key mod 2^lb */
    if (w) w = ir_build_reshape(f, d, loc, w, 1, &k2);
    if (w && s->k < k2) {
        int64_t z = 0, kk = s->k, st = 1;
        w = ir_build_slice(f, d, loc, w, &z, &kk, &st);
    }
    if (w) {
        ir_op *m = scalar(&c, INT64_C(1) << s->label_bits);
        ir_op *hi = ir_build1(f, d, IR_FLOOR, loc, op2(&c, IR_DIV, w, m));
        hi = hi ? ir_build1(f, d, IR_TOINT, loc, hi) : NULL;
        w = op2(&c, IR_SUB, w, op2(&c, IR_MUL, hi, m));
    }
done:
    free(vals);
    free(sel);
    return w;
}
