/* requires: fused (no real or non-linear op on encrypted data outside tlu
 *           bodies);
 * provides: has_range/lo/hi and type.bits/is_signed of every integer op;
 *           round shifts resolved; tlu tables materialised (when the domain
 *           has at most 2^16 values); encodings unified;
 * breaks: nothing.
 *
 * bitwidth.c — bit-width inference (DESIGN §5.3, docs/ir.md "Encodings").
 * Ranges come from a sound interval analysis in topological order (or, with
 * calibration data, from the values the interpreter observes; inputs keep
 * their declared range). A tlu's range
 * is that of its table entries, so tables are built here, over the
 * operand's range (multiples of 2^shift when the operand is a `round`).
 * Then encodings are unified: encrypted integers connected by linear ops or
 * a round must share one encoding, so each such connected component takes
 * the width (and signedness) that holds all its members; a tlu result
 * starts its own component. Getting this wrong gives silently wrong results
 * in FHE, hence the tests in tests/passes/test_bitwidth.c. */
#include "interp.h"
#include "pass_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    TLU_MAX_DOMAIN = 1 << 16, /* widest domain tabulated */
    /* Interpreter operations one run may spend building the tables of all
     * its tlus (ntables * domain size * body ops, plus the elements sorted
     * into classes): bounds the time and the arena memory of every run (the
     * rounding pass reruns this one). A tlu beyond it is bounded through its
     * body instead; after rounding, its table is then missing (an error). */
    TLU_MAX_WORK = 1 << 24,
};

typedef struct bw {
    ir_module *m;
    ir_func *f;
    diag_ctx *d;
    const pass_opts *o;
    int n;
    pass_ival *iv;    /* per id */
    /* calibration */
    const ir_op **ops; /* per id: the main op (to recognise main ops in the observer) */
    bool *seen;
    int64_t *obs_lo, *obs_hi;
    int64_t table_work; /* spent of TLU_MAX_WORK */
    int64_t pair_work;  /* spent of PAIR_MAX_WORK */
} bw;

#define RANGE_ERROR(op)                                                          \
    do {                                                                         \
        diag_error(b->d, (op)->loc, "value range exceeds 64 bits in '%s'",       \
                   ir_op_name((op)->code));                                      \
        return false;                                                            \
    } while (0)

/* ---- tables ------------------------------------------------------------- */

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdULL;
}

static uint64_t const_bits(const ir_op *c, const ir_type *shape, int64_t elem) {
    int64_t k = pass_bcast_index(&c->type, shape, elem);
    if (c->idata) return (uint64_t)c->idata[k];
    uint64_t u;
    memcpy(&u, &c->fdata[k], sizeof u);
    return u;
}

static bool varies(const ir_op *c) {
    int64_t n = ir_type_count(&c->type);
    for (int64_t k = 1; k < n; k++) {
        if (c->idata ? c->idata[k] != c->idata[0]
                     : memcmp(&c->fdata[k], &c->fdata[0], sizeof(double)) != 0)
            return true;
    }
    return false;
}

/* A lookup table is read whole by its LOOKUP, not per element. */
static bool is_lookup_table(const ir_func *body, const ir_op *c) {
    for (const ir_op *op = body->first; op; op = op->next)
        if (op->code == IR_LOOKUP && op->args[0] == c) return true;
    return false;
}

/* Groups the elements of tlu t by the values of its body's per-element
 * constants. Fills cls (per element) and rep (per class, its first
 * element); returns the number of classes, 0 (nothing allocated) when there
 * are more than `budget` elements to sort, -1 on out-of-memory. */
static int64_t element_classes(const ir_op *t, int64_t budget, int32_t **cls_out,
                               int64_t **rep_out) {
    const ir_func *body = t->tlu->body;
    const ir_type *shape = &t->type;
    int64_t n = ir_type_count(shape);
    int nc = 0;
    for (const ir_op *op = body->first; op; op = op->next) {
        ir_type o;
        if (op->code == IR_CONST && ir_type_count(&op->type) > 1 &&
            ir_broadcast_shape(&op->type, shape, &o) && ir_type_same_shape(&o, shape) && varies(op) &&
            !is_lookup_table(body, op))
            nc++;
    }
    *cls_out = NULL;
    *rep_out = NULL;
    if (nc && n > budget) return 0;
    *rep_out = malloc(sizeof **rep_out * (size_t)(nc ? n : 1));
    if (!*rep_out) return -1;
    (*rep_out)[0] = 0;
    if (nc == 0) return 1;
    const ir_op **cs = malloc((size_t)nc * sizeof *cs);
    int32_t *cls = malloc((size_t)n * sizeof *cls);
    size_t hsize = 16;
    while (hsize < 2 * (size_t)n) hsize *= 2;
    int32_t *h = malloc(hsize * sizeof *h);
    if (!cs || !cls || !h) {
        free(cs);
        free(cls);
        free(h);
        free(*rep_out);
        *rep_out = NULL;
        return -1;
    }
    nc = 0;
    for (const ir_op *op = body->first; op; op = op->next) {
        ir_type o;
        if (op->code == IR_CONST && ir_type_count(&op->type) > 1 &&
            ir_broadcast_shape(&op->type, shape, &o) && ir_type_same_shape(&o, shape) && varies(op) &&
            !is_lookup_table(body, op))
            cs[nc++] = op;
    }
    memset(h, 0xff, hsize * sizeof *h);
    int64_t *rep = *rep_out;
    int64_t ncls = 0;
    for (int64_t e = 0; e < n; e++) {
        uint64_t hv = 0;
        for (int i = 0; i < nc; i++) hv = mix(hv, const_bits(cs[i], shape, e));
        size_t slot = (size_t)hv & (hsize - 1);
        for (;; slot = (slot + 1) & (hsize - 1)) {
            if (h[slot] < 0) {
                h[slot] = (int32_t)ncls;
                rep[ncls] = e;
                cls[e] = (int32_t)ncls++;
                break;
            }
            int64_t r = rep[h[slot]];
            int i = 0;
            while (i < nc && const_bits(cs[i], shape, e) == const_bits(cs[i], shape, r)) i++;
            if (i == nc) {
                cls[e] = h[slot];
                break;
            }
        }
    }
    free(cs);
    free(h);
    *cls_out = cls;
    return ncls;
}

/* Builds the tables of tlu t over dom (its operand's range) and sets *out to
 * the range of their entries; too wide a domain is bounded through the body
 * instead. */
static bool materialise(bw *b, ir_op *t, pass_ival dom, pass_ival *out) {
    ir_tlu *tl = t->tlu;
    const ir_op *a = t->args[0];
    int s = a->code == IR_ROUND && a->round_shift > 0 ? a->round_shift : 0;
    uint64_t steps = ((uint64_t)dom.hi - (uint64_t)dom.lo) >> s; /* no overflow: hi >= lo */
    bool wide = steps >= TLU_MAX_DOMAIN;
    uint64_t count = wide ? 0 : steps + 1;
    tl->ntables = 0;
    tl->tables = NULL;
    tl->table_of = NULL;
    tl->dom_lo = dom.lo;
    tl->dom_shift = s;
    tl->dom_count = steps >= (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)steps + 1;
    int32_t *cls = NULL;
    int64_t *rep = NULL;
    int64_t ncls = 0, budget = TLU_MAX_WORK - b->table_work, n = ir_type_count(&t->type);
    if (!wide) {
        ncls = element_classes(t, budget, &cls, &rep);
        if (ncls < 0) {
            diag_error(b->d, t->loc, "out of memory");
            return false;
        }
    }
    uint64_t nops = 0;
    for (const ir_op *op = tl->body->first; op; op = op->next) nops++;
    uint64_t work = (uint64_t)ncls * count * nops + (ncls > 1 ? (uint64_t)n : 0);
    if (wide || ncls == 0 || work > (uint64_t)budget) {
        free(cls);
        free(rep);
        pass_ival in = pass_ival_int(dom.lo, dom.hi);
        if (!pass_ival_body(tl->body, &in, out)) RANGE_ERROR(t);
        return true;
    }
    int64_t cnt = (int64_t)count;
    int64_t *xs = malloc((size_t)cnt * sizeof *xs);
    int64_t *tables = arena_array(b->m->arena, (size_t)(ncls * cnt), sizeof *tables);
    int32_t *table_of = NULL;
    b->table_work += (int64_t)work;
    if (ncls > 1) table_of = arena_array(b->m->arena, (size_t)n, sizeof *table_of);
    bool ok = xs && tables && (ncls == 1 || table_of);
    if (!ok) diag_error(b->d, t->loc, "out of memory");
    for (int64_t j = 0; ok && j < cnt; j++) xs[j] = dom.lo + (j << s);
    for (int64_t c = 0; ok && c < ncls; c++)
        ok = ir_interp_body(tl->body, rep[c], xs, cnt, tables + c * cnt, b->d);
    if (ok) {
        if (table_of) memcpy(table_of, cls, (size_t)n * sizeof *table_of);
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        for (int64_t k = 0; k < ncls * cnt; k++) {
            if (tables[k] < lo) lo = tables[k];
            if (tables[k] > hi) hi = tables[k];
        }
        *out = pass_ival_int(lo, hi);
        tl->ntables = (int)ncls;
        tl->tables = tables;
        tl->table_of = table_of;
        tl->dom_count = cnt;
    }
    free(xs);
    free(cls);
    free(rep);
    return ok;
}

/* ---- linear ops ---------------------------------------------------------- */

static pass_ival with_zero(pass_ival x) {
    if (x.flt) {
        if (x.flo > 0) x.flo = 0;
        if (x.fhi < 0) x.fhi = 0;
    } else {
        if (x.lo > 0) x.lo = 0;
        if (x.hi < 0) x.hi = 0;
    }
    return x;
}

/* k copies of x summed. */
static bool scale_count(int64_t k, pass_ival x, pass_ival *out) {
    if (x.flt) {
        *out = x;
        out->flo = x.flo * (double)k;
        out->fhi = x.fhi * (double)k;
        return true;
    }
    int64_t lo, hi;
    if (__builtin_mul_overflow(x.lo, k, &lo) || __builtin_mul_overflow(x.hi, k, &hi)) return false;
    *out = pass_ival_int(lo, hi);
    return true;
}

/* Sum over k of w[k*stride] * x, x in [lo, hi]: exact bounds. */
static bool coef_bounds(const int64_t *w, int64_t K, int64_t stride, pass_ival x, int64_t *lo,
                        int64_t *hi) {
    int64_t l = 0, h = 0;
    for (int64_t k = 0; k < K; k++) {
        int64_t c = w[k * stride], p, q;
        if (__builtin_mul_overflow(c, x.lo, &p) || __builtin_mul_overflow(c, x.hi, &q)) return false;
        if (__builtin_add_overflow(l, p < q ? p : q, &l) || __builtin_add_overflow(h, p < q ? q : p, &h))
            return false;
    }
    *lo = l;
    *hi = h;
    return true;
}

/* Union over nvec coefficient vectors (vector v starts at w + v*vstride,
 * its K coefficients are `stride` apart). */
static bool vectors_bounds(const int64_t *w, int64_t nvec, int64_t vstride, int64_t K,
                           int64_t stride, pass_ival x, pass_ival *out) {
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int64_t v = 0; v < nvec; v++) {
        int64_t l, h;
        if (!coef_bounds(w + v * vstride, K, stride, x, &l, &h)) return false;
        if (l < lo) lo = l;
        if (h > hi) hi = h;
    }
    *out = pass_ival_int(lo, hi);
    return true;
}

/* K products of x and w summed, from intervals only. */
static bool product_sum(int64_t K, pass_ival x, pass_ival w, const ir_op *op, pass_ival *out) {
    pass_ival p, args[2] = {x, w};
    ir_op mul = *op;
    mul.code = IR_MUL;
    mul.nargs = 2;
    if (!pass_ival_elem(&mul, args, &p)) return false;
    return scale_count(K, p, out);
}

static bool linear_bounds(bw *b, const ir_op *op, pass_ival *out) {
    const ir_op *a = op->args[0], *w = op->args[1];
    pass_ival xa = b->iv[a->id], xw = b->iv[w->id];
    if (op->code == IR_CONV2D) {
        int64_t O = w->type.dims[0], CKK = w->type.dims[1] * w->type.dims[2] * w->type.dims[3];
        if (op->pad[0] || op->pad[1]) xa = with_zero(xa);
        if (w->code == IR_CONST && w->idata && !xa.flt)
            return vectors_bounds(w->idata, O, CKK, CKK, 1, xa, out);
        return product_sum(CKK, xa, xw, op, out);
    }
    /* dot / matmul: find a clear constant integer operand */
    const ir_type *ta = &a->type, *tw = &w->type;
    int64_t K = ta->dims[ta->rank - 1];
    if (w->code == IR_CONST && w->idata && !xa.flt) {
        if (tw->rank == 2) /* columns of W[K,N] */
            return vectors_bounds(w->idata, tw->dims[1], 1, K, tw->dims[1], xa, out);
        return vectors_bounds(w->idata, 1, 0, K, 1, xa, out);
    }
    if (a->code == IR_CONST && a->idata && !xw.flt) {
        if (ta->rank == 2) /* rows of A[M,K] */
            return vectors_bounds(a->idata, ta->dims[0], K, K, 1, xw, out);
        return vectors_bounds(a->idata, 1, 0, K, 1, xw, out);
    }
    return product_sum(K, xa, xw, op, out);
}

/* ---- one op ------------------------------------------------------------- */

static int width_of(pass_ival x) {
    bool s;
    return ir_bits_for_range(x.lo, x.hi, &s);
}

static bool resolve_round(ir_op *op, pass_ival x) {
    if (op->round_shift >= 0) return true;
    int sh = 0;
    if (op->round_bits > 0) {
        sh = width_of(x) - op->round_bits;
        if (sh < 0) sh = 0;
    }
    op->round_shift = sh;
    return true;
}

static bool eval_static(bw *b, ir_op *op, pass_ival *v) {
    pass_ival x = op->nargs ? b->iv[op->args[0]->id] : pass_ival_int(0, 0);
    switch (op->code) {
    case IR_INPUT:
        if (op->type.is_float) {
            v->flt = true;
            v->flo = -INFINITY;
            v->fhi = INFINITY;
            return true;
        }
        /* The declared range, kept in lo/hi by the first run: unification
         * may widen the type (the encoding) but not what the input holds. */
        v->flt = false;
        if (op->has_range) {
            v->lo = op->lo;
            v->hi = op->hi;
            return true;
        }
        if (op->type.bits <= 0) {
            diag_error(b->d, op->loc, "input '%s' has no declared bit width",
                       op->name ? op->name : "");
            return false;
        }
        ir_type_range(&op->type, &v->lo, &v->hi);
        return true;
    case IR_CONST:
        pass_ival_const(op, v);
        return true;
    case IR_TLU:
        return materialise(b, op, x, v);
    case IR_ROUND: {
        resolve_round(op, x);
        int64_t lo, hi;
        if (!pass_round_value(x.lo, op->round_shift, &lo) ||
            !pass_round_value(x.hi, op->round_shift, &hi))
            RANGE_ERROR(op);
        *v = pass_ival_int(lo, hi);
        return true;
    }
    case IR_DOT:
    case IR_MATMUL:
    case IR_CONV2D:
        if (!linear_bounds(b, op, v)) RANGE_ERROR(op);
        return true;
    case IR_SUM: {
        int64_t k = op->axis < 0 ? ir_type_count(&op->args[0]->type)
                                 : op->args[0]->type.dims[op->axis];
        if (!scale_count(k, x, v)) RANGE_ERROR(op);
        return true;
    }
    case IR_SUMPOOL2D:
        if (op->pad[0] || op->pad[1]) x = with_zero(x);
        if (!scale_count((int64_t)op->kernel[0] * op->kernel[1], x, v)) RANGE_ERROR(op);
        return true;
    case IR_MAXPOOL2D:
        *v = op->pad[0] || op->pad[1] ? with_zero(x) : x;
        return true;
    case IR_RESHAPE:
    case IR_TRANSPOSE:
    case IR_SLICE:
    case IR_BROADCAST:
        *v = x;
        return true;
    case IR_CONCAT:
        *v = x;
        for (int i = 1; i < op->nargs; i++) {
            pass_ival y = b->iv[op->args[i]->id];
            if (v->flt || y.flt) {
                if (!v->flt) {
                    v->flo = (double)v->lo;
                    v->fhi = (double)v->hi;
                    v->flt = true;
                }
                double l = y.flt ? y.flo : (double)y.lo, h = y.flt ? y.fhi : (double)y.hi;
                v->flo = fmin(v->flo, l);
                v->fhi = fmax(v->fhi, h);
            } else {
                if (y.lo < v->lo) v->lo = y.lo;
                if (y.hi > v->hi) v->hi = y.hi;
            }
        }
        return true;
    default:
        if (ir_op_flags(op->code) & IR_F_ELEMWISE) {
            pass_ival args[3];
            for (int i = 0; i < op->nargs && i < 3; i++) args[i] = b->iv[op->args[i]->id];
            if (!pass_ival_elem(op, args, v)) RANGE_ERROR(op);
            return true;
        }
        diag_error(b->d, op->loc, "internal error: no range rule for '%s'", ir_op_name(op->code));
        return false;
    }
}

/* ---- two-value refinement ------------------------------------------------ *
 * Interval arithmetic forgets that the operands of an add/sub may depend on
 * the same values: lower_binary's a*b = T(a+b) - T(a-b) comes out as
 * [-max T, max T] instead of a*b's range, max(a, b) = b + relu(a - b) grows
 * by a - b at every step of a maxpool. Such a value is a function of two
 * values a and b only; when their ranges are small it is computed exactly
 * over every pair (a sound superset of what can occur), with the tables. */

enum {
    PAIR_MAX = 1 << 20,      /* pairs for one value */
    PAIR_MAX_WORK = 1 << 21, /* pairs for all the values of one run (a maxpool has many) */
};

typedef struct pair_term {
    int sign;            /* +1 / -1 in the add/sub */
    const ir_op *tlu;    /* NULL: the term is a or b itself */
    int is_b;            /* plain term: which value */
    int ca, cb;          /* tlu term: its input is round(ca*a + cb*b, shift) */
    int shift;
} pair_term;

static bool pair_term_of(const ir_op *p, pair_term *t, const ir_op **a, const ir_op **b) {
    t->tlu = NULL;
    if (p->code != IR_TLU) return true; /* matched against a, b below */
    const ir_op *l = p->args[0];
    t->shift = 0;
    if (l->code == IR_ROUND) {
        t->shift = l->round_shift;
        l = l->args[0];
    }
    if ((l->code != IR_ADD && l->code != IR_SUB) || p->tlu->ntables != 1 || t->shift < 0 ||
        t->shift > 62 || l->args[0] == l->args[1])
        return false;
    const ir_op *u = l->args[0], *w = l->args[1];
    int cw = l->code == IR_ADD ? 1 : -1;
    if (!*a) {
        *a = u;
        *b = w;
    }
    if (u == *a && w == *b) {
        t->ca = 1;
        t->cb = cw;
    } else if (u == *b && w == *a) {
        t->ca = cw;
        t->cb = 1;
    } else {
        return false;
    }
    t->tlu = p;
    return true;
}

static bool pair_eval(const pair_term *t, int64_t x, int64_t y, int64_t *out) {
    if (!t->tlu) {
        *out = t->is_b ? y : x;
        return true;
    }
    int64_t l, m;
    if (__builtin_mul_overflow((int64_t)t->ca, x, &l) ||
        __builtin_mul_overflow((int64_t)t->cb, y, &m) || __builtin_add_overflow(l, m, &l) ||
        !pass_round_value(l, t->shift, &l))
        return false;
    const ir_tlu *tl = t->tlu->tlu;
    int64_t off = l - tl->dom_lo;
    if (off < 0 || (off & ((INT64_C(1) << tl->dom_shift) - 1))) return false;
    off >>= tl->dom_shift;
    if (off >= tl->dom_count) return false;
    *out = tl->tables[off];
    return true;
}

static void refine_pair(bw *b, const ir_op *op, pass_ival *v) {
    if ((op->code != IR_ADD && op->code != IR_SUB) || v->flt) return;
    pair_term t[2];
    const ir_op *va = NULL, *vb = NULL;
    int ntlu = 0;
    for (int i = 0; i < 2; i++) {
        if (!pair_term_of(op->args[i], &t[i], &va, &vb)) return;
        t[i].sign = i == 1 && op->code == IR_SUB ? -1 : 1;
        ntlu += t[i].tlu != NULL;
    }
    if (!ntlu) return;
    for (int i = 0; i < 2; i++) {
        if (t[i].tlu) continue;
        if (op->args[i] == va) t[i].is_b = 0;
        else if (op->args[i] == vb) t[i].is_b = 1;
        else return;
    }
    pass_ival A = b->iv[va->id], B = b->iv[vb->id];
    if (A.flt || B.flt) return;
    uint64_t na = (uint64_t)A.hi - (uint64_t)A.lo, nb = (uint64_t)B.hi - (uint64_t)B.lo;
    if (na >= PAIR_MAX || nb >= PAIR_MAX || (na + 1) * (nb + 1) > PAIR_MAX) return;
    if ((int64_t)((na + 1) * (nb + 1)) > PAIR_MAX_WORK - b->pair_work) return;
    b->pair_work += (int64_t)((na + 1) * (nb + 1));
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int64_t x = A.lo; x <= A.hi; x++) {
        for (int64_t y = B.lo; y <= B.hi; y++) {
            int64_t p, q, r;
            if (!pair_eval(&t[0], x, y, &p) || !pair_eval(&t[1], x, y, &q)) return;
            if (t[1].sign > 0 ? __builtin_add_overflow(p, q, &r) : __builtin_sub_overflow(p, q, &r))
                return;
            if (r < lo) lo = r;
            if (r > hi) hi = r;
        }
    }
    /* both bounds are sound: keep their intersection */
    if (lo > v->lo) v->lo = lo;
    if (hi < v->hi) v->hi = hi;
}

/* ---- calibration --------------------------------------------------------- */

static void observe(void *ctx, const ir_op *op, const ir_tensor *value) {
    bw *b = ctx;
    if (op->id < 0 || op->id >= b->n || b->ops[op->id] != op || value->is_float) return;
    for (int64_t k = 0; k < value->count; k++) {
        int64_t x = value->i[k];
        if (!b->seen[op->id]) {
            b->seen[op->id] = true;
            b->obs_lo[op->id] = b->obs_hi[op->id] = x;
        } else {
            if (x < b->obs_lo[op->id]) b->obs_lo[op->id] = x;
            if (x > b->obs_hi[op->id]) b->obs_hi[op->id] = x;
        }
    }
}

static bool run_calibration(bw *b) {
    int nin = 0, nout = 0;
    ir_foreach(op, b->f) {
        nin += op->code == IR_INPUT;
        nout += op->code == IR_OUTPUT;
    }
    memset(b->seen, 0, (size_t)b->n * sizeof *b->seen);
    ir_tensor *outs = calloc((size_t)nout + 1, sizeof *outs);
    if (!outs) return false;
    bool ok = true;
    for (int64_t r = 0; r < b->o->calib_rows && ok; r++) {
        ok = ir_interp(b->f, b->o->calib_inputs + r * nin, outs, b->d, 0, observe, b);
        if (ok)
            for (int i = 0; i < nout; i++) ir_tensor_free(&outs[i]);
    }
    free(outs);
    return ok;
}

/* Resolves every round shift from observed operand ranges. A round whose
 * operand depends on an unresolved round is resolved in a later run (the
 * unresolved ones run as identities meanwhile). */
static bool calibrate(bw *b) {
    unsigned char *dep = calloc((size_t)b->n + 1, 1);
    ir_op **pending = calloc((size_t)b->n + 1, sizeof *pending);
    bool ok = dep && pending;
    if (!ok) diag_error(b->d, (diag_loc){0}, "out of memory");
    while (ok) {
        int np = 0;
        ir_foreach(op, b->f) {
            if (op->code == IR_OUTPUT) continue;
            dep[op->id] = 0;
            for (int i = 0; i < op->nargs; i++) dep[op->id] |= dep[op->args[i]->id];
            if (op->code == IR_ROUND && op->round_shift < 0) {
                dep[op->id] = 1;
                pending[np++] = op;
            }
        }
        for (int i = 0; i < np; i++) pending[i]->round_shift = 0;
        ok = run_calibration(b);
        for (int i = 0; i < np; i++) pending[i]->round_shift = -1;
        if (!ok || np == 0) break;
        bool progress = false;
        for (int i = 0; i < np; i++) {
            const ir_op *x = pending[i]->args[0];
            if (dep[x->id] || !b->seen[x->id]) continue;
            resolve_round(pending[i], pass_ival_int(b->obs_lo[x->id], b->obs_hi[x->id]));
            progress = true;
        }
        if (!progress) /* cannot happen: the first pending round depends on none */
            for (int i = 0; i < np; i++) pending[i]->round_shift = 0;
    }
    free(dep);
    free(pending);
    return ok;
}

/* ---- encodings ----------------------------------------------------------- */

static int uf_find(int *p, int i) {
    while (p[i] != i) {
        p[i] = p[p[i]];
        i = p[i];
    }
    return i;
}

static bool enc_int(const ir_op *op) {
    return op->type.enc && !op->type.is_float && op->code != IR_OUTPUT;
}

static bool unify(bw *b) {
    int n = b->n;
    int *p = malloc((size_t)n * sizeof *p);
    bool *sg = calloc((size_t)n, sizeof *sg);
    int *w = calloc((size_t)n, sizeof *w);
    if (!p || !sg || !w) {
        free(p);
        free(sg);
        free(w);
        diag_error(b->d, (diag_loc){0}, "out of memory");
        return false;
    }
    for (int i = 0; i < n; i++) p[i] = i;
    ir_foreach(op, b->f) {
        if (!enc_int(op) || op->code == IR_TLU) continue;
        if (!(ir_op_flags(op->code) & IR_F_LINEAR) && op->code != IR_ROUND) continue;
        for (int i = 0; i < op->nargs; i++) {
            if (!enc_int(op->args[i])) continue;
            int x = uf_find(p, op->id), y = uf_find(p, op->args[i]->id);
            if (x != y) p[x] = y;
        }
    }
    ir_foreach(op, b->f) {
        if (enc_int(op) && op->lo < 0) sg[uf_find(p, op->id)] = true;
    }
    ir_foreach(op, b->f) {
        if (!enc_int(op)) continue;
        int r = uf_find(p, op->id), bits = pass_bits_for(op->lo, op->hi, sg[r]);
        if (bits > w[r]) w[r] = bits;
    }
    ir_foreach(op, b->f) {
        if (!enc_int(op)) continue;
        int r = uf_find(p, op->id);
        op->type.bits = w[r];
        op->type.is_signed = sg[r];
    }
    free(p);
    free(sg);
    free(w);
    return true;
}

/* ---- the pass ------------------------------------------------------------ */

static bool infer(bw *b) {
    bool calib = b->o && b->o->calib_inputs && b->o->calib_rows > 0;
    ir_foreach(op, b->f) {
        if (op->code == IR_TLU) {
            op->tlu->ntables = 0;
            op->tlu->tables = NULL;
            op->tlu->table_of = NULL;
        }
        if (op->code != IR_CONST && op->code != IR_INPUT) op->has_range = false;
    }
    if (calib && !calibrate(b)) return false;
    ir_foreach(op, b->f) {
        if (op->code == IR_OUTPUT) continue;
        pass_ival v = {0};
        /* inputs keep their declared range: a client may send any value of
         * the declared type, and a narrower encoding would wrap it */
        bool observed = calib && b->seen[op->id] && op->code != IR_CONST && op->code != IR_INPUT;
        if (observed && op->code != IR_TLU) {
            if (op->code == IR_ROUND) resolve_round(op, b->iv[op->args[0]->id]);
            v = pass_ival_int(b->obs_lo[op->id], b->obs_hi[op->id]);
        } else if (!eval_static(b, op, &v)) {
            return false;
        } else {
            refine_pair(b, op, &v);
            if (op->has_bound && !v.flt) {
                if (op->bound_lo > v.lo) v.lo = op->bound_lo;
                if (op->bound_hi < v.hi) v.hi = op->bound_hi;
            }
        }
        if (v.flt != op->type.is_float) {
            diag_error(b->d, op->loc, "internal error: range of '%s' has the wrong kind",
                       ir_op_name(op->code));
            return false;
        }
        b->iv[op->id] = v;
        if (!v.flt) {
            op->has_range = true;
            op->lo = v.lo;
            op->hi = v.hi;
            op->type.bits = ir_bits_for_range(v.lo, v.hi, &op->type.is_signed);
        }
    }
    if (!unify(b)) return false;
    ir_foreach(op, b->f) {
        if (op->code == IR_OUTPUT) op->type = op->args[0]->type;
        if (op->code == IR_TLU) {
            /* the body's input shows the operand's encoding */
            ir_foreach(in, op->tlu->body) {
                if (in->code == IR_INPUT) in->type = op->args[0]->type;
            }
        }
    }
    return true;
}

bool pass_bitwidth(ir_module *m, diag_ctx *d, const pass_opts *o) {
    bw b = {.m = m, .f = m->main, .d = d, .o = o, .n = m->main->next_id};
    size_t n = (size_t)b.n + 1;
    b.iv = calloc(n, sizeof *b.iv);
    b.ops = calloc(n, sizeof *b.ops);
    b.seen = calloc(n, sizeof *b.seen);
    b.obs_lo = calloc(n, sizeof *b.obs_lo);
    b.obs_hi = calloc(n, sizeof *b.obs_hi);
    bool ok = b.iv && b.ops && b.seen && b.obs_lo && b.obs_hi;
    if (!ok) {
        diag_error(d, (diag_loc){0}, "out of memory");
    } else {
        ir_foreach(op, m->main) {
            if (op->id >= 0 && op->id < b.n) b.ops[op->id] = op;
        }
        ok = infer(&b);
    }
    free(b.iv);
    free(b.ops);
    free(b.seen);
    free(b.obs_lo);
    free(b.obs_hi);
    return ok;
}
