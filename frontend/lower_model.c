/* lower_model.c — model level: post-training quantization of a float model
 * into an integer circuit (uniform affine, as Concrete ML).
 *
 * Two passes over the same statements:
 *   1. the model as REAL-valued IR (clear f64 inputs, f64 parameters), run
 *      by the IR interpreter over the calibration rows while an observer
 *      records the min/max of every value;
 *   2. the integer IR: inputs are encrypted u<inputs> with a scale and zero
 *      point, weights are symmetric signed integers, each layer's integer
 *      accumulator has a known scale, and every activation (or accumulator
 *      feeding another layer) is a real chain — dequantize, activation,
 *      requantize with the calibrated output range — that TLU fusion turns
 *      into one table lookup.
 * Each AST node's real op in pass 1 is its value's "twin" in pass 2: the
 * calibrated range of a value is the range its twin took. The arithmetic is
 * in quantize.c. */
#include "csv.h"
#include "interp.h"
#include "knn.h"
#include "lower_internal.h"
#include "quantize.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Without a calibration file, the float model runs on SYNTH_ROWS points of
 * the input box (its corners first), fewer for a large model so that the
 * whole calibration stays within CALIB_MAX_WORK interpreter operations
 * (ir_op_work; about a second). A model too large for SYNTH_MIN_ROWS points
 * is refused, calibration file or not: the compiler bounds its own work. */
enum { SYNTH_ROWS = 1024, SYNTH_MIN_ROWS = 4, SYNTH_MAX_CORNER_DIMS = 8 };
#define CALIB_MAX_WORK (INT64_C(1) << 24)
_Static_assert(CALIB_MAX_WORK / SYNTH_MIN_ROWS == INT64_C(1) << 22, "the message says 2^22");

/* What a pass-2 value is (real = scale * (q - zp)):
 *   Q:    integers of at most `activations` (or `inputs`) bits;
 *   ACC:  a layer accumulator (wide): requantized before the next layer;
 *   REAL: an encrypted real chain awaiting requantization. */
typedef enum { MS_Q, MS_ACC, MS_REAL } mstate;

typedef struct mval {
    bool is_const;
    lower_lit lit;  /* is_const */
    ir_op *real;    /* pass 1: the op; pass 2: the twin (calibration stats) */
    ir_op *op;      /* pass 2 */
    mstate st;
    double scale;
    int64_t zp;
    int64_t nfeat;  /* Q of a per_feature input: scale/zp per last-axis index */
    const double *fscale;
    const int64_t *fzp;
    const int64_t *edge_at; /* Q of a tree_bins input (nfeat features): bin edges */
    const double *edges;
    bool labels;    /* the labels knn returns: they can only be returned */
    int bind;       /* pass 2: 1 + index of the binding it was read from, 0 if none */
} mval;

typedef struct mbind {
    const char *name;
    mval v;
    bool decl;      /* input or param: cannot be declared again */
    diag_loc loc;
    bool has_q;     /* pass 2: v requantized once, shared by every consumer */
    mval q;
} mbind;

typedef struct twin {
    const ast_expr *node;
    ir_op *real;
} twin;

typedef struct mstats {
    double lo, hi;
    bool seen, nonfinite;
} mstats;

typedef struct minput {
    const ast_stmt *s;
    int64_t count, col0;
    double lo, hi;     /* quantization range */
    double q_scale;
    int64_t q_zp;
    int64_t nfeat;     /* per_feature: ranges and quantization per last-axis index */
    double *f_lo, *f_hi, *f_scale;
    int64_t *f_zp;
    /* tree_bins: the (feature, threshold) of every split reading the input,
     * collected in pass 1; then per feature the sorted distinct thresholds
     * (edges[edge_at[f] .. edge_at[f + 1])) and the bits their bins need */
    int64_t *split_f;
    double *split_t;
    int64_t nsplit, capsplit;
    int64_t *edge_at;
    double *edges;
    int bin_bits;
} minput;

typedef struct ml {
    arena *a;
    diag_ctx *d;
    const ast_unit *u;
    const char *base_dir;
    int pass;
    arena tmp;         /* pass-1 IR, environments, tables */
    ir_module *rm;     /* pass 1 */
    ir_module *m;      /* pass 2 */
    ir_func *f;        /* where ops go */
    mbind *env;
    int nenv, capenv;
    twin *twins;
    int ntwins, captwins;
    mstats *stats;     /* by pass-1 op id */
    int nstats;
    int bits_in, bits_w, bits_act, bits_acc; /* bits_acc 0: no explicit rounding */
    minput *inputs;
    int ninputs;
    int noutputs;
} ml;

static bool mexpr(ml *c, const ast_expr *e, mval *out);

static bool oom(ml *c, diag_loc loc) {
    diag_error(c->d, loc, "out of memory");
    return false;
}

/* ---- environment and twins ----------------------------------------------------- */

static mbind *find(ml *c, const char *name) {
    for (int i = c->nenv - 1; i >= 0; i--)
        if (strcmp(c->env[i].name, name) == 0) return &c->env[i];
    return NULL;
}

static bool bind(ml *c, const char *name, const mval *v, bool decl, diag_loc loc) {
    if (decl) {
        const mbind *old = find(c, name);
        if (old && old->decl) {
            diag_error(c->d, loc, "redefinition of '%s'", name);
            diag_note(c->d, old->loc, "'%s' was declared here", name);
            return false;
        }
    }
    if (c->nenv == c->capenv) {
        int cap = c->capenv ? 2 * c->capenv : 32;
        mbind *n = arena_array(&c->tmp, (size_t)cap, sizeof *n);
        if (!n) return oom(c, loc);
        if (c->nenv) memcpy(n, c->env, (size_t)c->nenv * sizeof *n);
        c->env = n;
        c->capenv = cap;
    }
    c->env[c->nenv++] = (mbind){.name = name, .v = *v, .decl = decl, .loc = loc};
    return true;
}

static bool twin_put(ml *c, const ast_expr *node, ir_op *real) {
    if (c->ntwins == c->captwins) {
        int cap = c->captwins ? 2 * c->captwins : 64;
        twin *n = arena_array(&c->tmp, (size_t)cap, sizeof *n);
        if (!n) return oom(c, node->loc);
        if (c->ntwins) memcpy(n, c->twins, (size_t)c->ntwins * sizeof *n);
        c->twins = n;
        c->captwins = cap;
    }
    c->twins[c->ntwins++] = (twin){node, real};
    return true;
}

static ir_op *twin_get(ml *c, const ast_expr *node) {
    for (int i = c->ntwins - 1; i >= 0; i--)
        if (c->twins[i].node == node) return c->twins[i].real;
    return NULL;
}

/* ---- pass-2 building blocks ------------------------------------------------------ */

static ir_op *fconst(ml *c, diag_loc loc, double v) { return ir_build_scalar_float(c->f, loc, v); }

static ir_op *b1(ml *c, ir_opcode code, diag_loc loc, ir_op *x) {
    return ir_build1(c->f, c->d, code, loc, x);
}

static ir_op *b2(ml *c, ir_opcode code, diag_loc loc, ir_op *x, ir_op *y) {
    return ir_build2(c->f, c->d, code, loc, x, y);
}

/* Dequantizes v into an encrypted real chain: [round] tofloat, - zp, * scale. */
static bool to_real(ml *c, mval *v, diag_loc loc) {
    if (v->st == MS_REAL) return true;
    if (v->edges) {
        diag_error(c->d, loc, "a 'tree_bins' input holds bin numbers, not values on a scale: it "
                              "can only feed 'tree_ensemble'");
        return false;
    }
    ir_op *x = v->op;
    if (v->st == MS_ACC && c->bits_acc) x = ir_build_round(c->f, c->d, loc, x, c->bits_acc, -1);
    x = x ? b1(c, IR_TOFLOAT, loc, x) : NULL;
    if (v->nfeat) { /* per feature: constants along the last axis */
        double *z = arena_array(&c->tmp, (size_t)v->nfeat, sizeof *z);
        if (!z) return oom(c, loc);
        for (int64_t i = 0; i < v->nfeat; i++) z[i] = (double)v->fzp[i];
        ir_op *zk = ir_build_const_float(c->f, loc, 1, &v->nfeat, z);
        ir_op *sk = ir_build_const_float(c->f, loc, 1, &v->nfeat, v->fscale);
        if (!zk || !sk) return oom(c, loc);
        if (x) x = b2(c, IR_SUB, loc, x, zk);
        if (x) x = b2(c, IR_MUL, loc, x, sk);
    } else {
        if (x && v->zp) x = b2(c, IR_SUB, loc, x, fconst(c, loc, (double)v->zp));
        if (x) x = b2(c, IR_MUL, loc, x, fconst(c, loc, v->scale));
    }
    if (!x) return false;
    v->op = x;
    v->st = MS_REAL;
    v->nfeat = 0;
    return true;
}

/* The calibrated range of v's twin. */
static bool range_of(ml *c, const mval *v, diag_loc loc, double *lo, double *hi) {
    const mstats *s = v->real && v->real->id < c->nstats ? &c->stats[v->real->id] : NULL;
    if (s && s->nonfinite) {
        diag_error(c->d, loc, "calibration gave this value a non-finite result (infinity or "
                              "not-a-number); its quantization range is undefined");
        return false;
    }
    *lo = s && s->seen ? s->lo : 0;
    *hi = s && s->seen ? s->hi : 0;
    return true;
}

/* Requantizes v (an accumulator or a real chain) to unsigned `activations`
 * bits with the range calibrated for it:
 *   ... / out_scale + out_zp, rint, clip to [0, 2^b - 1], toint. */
static bool requant(ml *c, mval *v, diag_loc loc) {
    double lo, hi, s;
    int64_t z;
    if (!range_of(c, v, loc, &lo, &hi) || !to_real(c, v, loc)) return false;
    quant_affine(lo, hi, c->bits_act, &s, &z);
    ir_op *x = b2(c, IR_DIV, loc, v->op, fconst(c, loc, s));
    if (x && z) x = b2(c, IR_ADD, loc, x, fconst(c, loc, (double)z));
    if (x) x = b1(c, IR_RINT, loc, x);
    if (x) x = b2(c, IR_MAX, loc, x, fconst(c, loc, 0.0));
    if (x) x = b2(c, IR_MIN, loc, x, fconst(c, loc, (double)((INT64_C(1) << c->bits_act) - 1)));
    if (x) x = b1(c, IR_TOINT, loc, x);
    if (!x) return false;
    v->op = x;
    v->st = MS_Q;
    v->scale = s;
    v->zp = z;
    return true;
}

/* Layers take integers of activation width. A named value used by several
 * layers is requantized once (one table, not one per consumer). */
static bool ensure_q(ml *c, mval *v, diag_loc loc) {
    if (v->st == MS_Q) return true;
    mbind *b = v->bind ? &c->env[v->bind - 1] : NULL;
    if (b && b->has_q) {
        *v = b->q;
        return true;
    }
    if (!requant(c, v, loc)) return false;
    if (b) {
        b->q = *v;
        b->has_q = true;
    }
    return true;
}

/* Layers other than dense, tree_ensemble and the elementwise functions
 * need one scale per tensor. */
static bool need_uniform(ml *c, diag_loc loc, const char *what, const mval *v) {
    if (c->pass != 2 || !v->nfeat) return true;
    if (v->edges)
        diag_error(c->d, loc, "%s needs values on a scale; a 'tree_bins' input holds bin "
                              "numbers and can only feed 'tree_ensemble'", what);
    else
        diag_error(c->d, loc, "%s needs one quantization scale per tensor; a 'per_feature' input "
                              "can only feed 'dense', 'tree_ensemble' or an activation", what);
    return false;
}

static ir_op *int_const(ml *c, diag_loc loc, int rank, const int64_t *dims, const int64_t *v) {
    ir_type t = {0};
    t.rank = rank;
    memcpy(t.dims, dims, (size_t)rank * sizeof *dims);
    ir_op *k = ir_build_const_int(c->f, loc, t, v);
    if (!k) oom(c, loc);
    return k;
}

static ir_op *real_const(ml *c, diag_loc loc, const lower_lit *l) {
    ir_op *k = ir_build_const_float(c->f, loc, l->rank, l->dims, l->fv);
    if (!k) oom(c, loc);
    return k;
}

/* ---- arguments --------------------------------------------------------------------- */

static bool not_labels(ml *c, diag_loc loc, const mval *v) {
    if (!v->labels) return true;
    diag_error(c->d, loc, "the labels 'knn' returns are class numbers, not values on a scale: "
                          "they can only be returned ('return vote(knn(...));')");
    return false;
}

static bool need_value(ml *c, const ast_expr *call, const ast_expr *arg, const mval *v) {
    if (!not_labels(c, arg->loc, v)) return false;
    if (!v->is_const) return true;
    diag_error(c->d, arg->loc, "the input of '%s' must be a layer value, not a constant",
               call->u.call.name);
    return false;
}

/* A weight argument: a param or a literal of the given rank. */
static bool need_const(ml *c, const ast_expr *call, const ast_expr *arg, const mval *v,
                       int rank, const char *what) {
    if (!v->is_const) {
        diag_error(c->d, arg->loc, "the %s of '%s' must be a param or a literal", what,
                   call->u.call.name);
        return false;
    }
    if (v->lit.rank != rank) {
        char s[64];
        diag_error(c->d, arg->loc, "the %s of '%s' must have %d dimension%s, got shape %s", what,
                   call->u.call.name, rank, rank == 1 ? "" : "s",
                   lower_shape_str(v->lit.rank, v->lit.dims, s, sizeof s));
        return false;
    }
    return true;
}

/* An integer keyword argument (or positional when `e` is given directly). */
static bool int_arg(ml *c, const ast_expr *e, const char *what, int min, int *out) {
    lower_lit l;
    int r = lower_literal(&c->tmp, c->d, e, &l);
    if (r < 0) return false;
    if (r == 0 || !l.all_int || l.rank != 0) {
        diag_error(c->d, e->loc, "%s must be an integer literal", what);
        return false;
    }
    if (l.iv[0] < min) {
        diag_error(c->d, e->loc, "%s must be at least %d, got %" PRId64, what, min, l.iv[0]);
        return false;
    }
    if (l.iv[0] > 1 << 20) {
        diag_error(c->d, e->loc, "%s is too large (%" PRId64 ")", what, l.iv[0]);
        return false;
    }
    *out = (int)l.iv[0];
    return true;
}

static bool bias_shape(ml *c, const ast_expr *call, const ast_expr *arg, const mval *b,
                       int64_t n) {
    if (!need_const(c, call, arg, b, 1, "bias")) return false;
    if (b->lit.dims[0] != n) {
        diag_error(c->d, arg->loc, "the bias of '%s' has %" PRId64 " value%s, the layer has %" PRId64
                   " output%s", call->u.call.name, b->lit.dims[0], b->lit.dims[0] == 1 ? "" : "s", n,
                   n == 1 ? "" : "s");
        return false;
    }
    return true;
}

/* ---- layers ------------------------------------------------------------------------- */

/* dense(x, W[, b]) = x @ W + b; x [K] or [N,K], W [K,M], b [M]. */
static bool layer_dense(ml *c, const ast_expr *e, mval *x, const ast_expr *we, const mval *w,
                        const ast_expr *be, const mval *b, mval *out) {
    if (!need_const(c, e, we, w, 2, "weights")) return false;
    int64_t k = w->lit.dims[0], m = w->lit.dims[1];
    if (b && !bias_shape(c, e, be, b, m)) return false;
    if (c->pass == 1) {
        ir_op *y = ir_build2(c->f, c->d, IR_MATMUL, e->loc, x->real, real_const(c, e->loc, &w->lit));
        if (y && b) y = b2(c, IR_ADD, e->loc, y, real_const(c, e->loc, &b->lit));
        out->real = y;
        return y != NULL;
    }
    if (!ensure_q(c, x, e->loc)) return false;
    int64_t *wq = arena_array(&c->tmp, (size_t)(k * m), sizeof *wq);
    int64_t *off = arena_array(&c->tmp, (size_t)m, sizeof *off);
    if (!wq || !off) return oom(c, e->loc);
    double sw, acc_scale;
    if (!need_uniform(c, e->loc, "'dense'", &(mval){.nfeat = x->edges ? 1 : 0, .edges = x->edges}))
        return false;
    if (x->nfeat) { /* x_k = s_k (q_k - z_k): fold s_k into row k of W */
        if (x->nfeat != k) {
            diag_error(c->d, e->loc, "internal: per-feature input of %" PRId64 " features "
                       "feeds a dense layer of %" PRId64 " rows", x->nfeat, k);
            return false;
        }
        double *ws = arena_array(&c->tmp, (size_t)(k * m), sizeof *ws);
        if (!ws) return oom(c, e->loc);
        for (int64_t i = 0; i < k * m; i++) ws[i] = w->lit.fv[i] * x->fscale[i / m];
        acc_scale = sw = quant_symmetric(ws, k * m, c->bits_w, wq);
    } else {
        sw = quant_symmetric(w->lit.fv, k * m, c->bits_w, wq);
        acc_scale = x->scale * sw;
    }
    bool any = quant_dense_offset(wq, k, m, x->zp, x->nfeat ? x->fzp : NULL,
                                  b ? b->lit.fv : NULL, acc_scale, off);
    ir_op *y = b2(c, IR_MATMUL, e->loc, x->op, int_const(c, e->loc, 2, w->lit.dims, wq));
    if (y && any) y = b2(c, IR_ADD, e->loc, y, int_const(c, e->loc, 1, &m, off));
    *out = (mval){.op = y, .st = MS_ACC, .scale = acc_scale, .zp = 0};
    return y != NULL;
}

static const char *const conv_kw[] = {"stride", "padding", NULL};
static const char *const pool_kw[] = {"stride", "padding", NULL};
static const char *const maxpool_kw[] = {"stride", NULL};

/* conv2d(x, W[, b], stride=s, padding=p): x [C,H,W], W [O,C,KH,KW], b [O]. */
static bool layer_conv(ml *c, const ast_expr *e, mval *x, const mval *w, const mval *b,
                       mval *out) {
    ast_expr *const *ae = e->u.call.args;
    if (!need_const(c, e, ae[1], w, 4, "weights")) return false;
    int64_t o = w->lit.dims[0];
    if (b && !bias_shape(c, e, ae[2], b, o)) return false;
    int s = 1, p = 0;
    const ast_expr *k;
    if ((k = lower_kwarg(e, "stride")) && !int_arg(c, k, "the stride of 'conv2d'", 1, &s))
        return false;
    if ((k = lower_kwarg(e, "padding")) && !int_arg(c, k, "the padding of 'conv2d'", 0, &p))
        return false;
    int stride[2] = {s, s}, pad[2] = {p, p};
    if (c->pass == 1) {
        ir_op *y = ir_build_conv2d(c->f, c->d, e->loc, x->real, real_const(c, e->loc, &w->lit),
                                   stride, pad);
        if (y && b) {
            int64_t bd[3] = {o, 1, 1};
            ir_op *bc = ir_build_const_float(c->f, e->loc, 3, bd, b->lit.fv);
            y = bc ? b2(c, IR_ADD, e->loc, y, bc) : NULL;
        }
        out->real = y;
        return y != NULL;
    }
    if (!ensure_q(c, x, e->loc) || !need_uniform(c, e->loc, "'conv2d'", x)) return false;
    const ir_type *xt = &x->op->type;
    int64_t ci = w->lit.dims[1], kh = w->lit.dims[2], kw = w->lit.dims[3];
    int64_t h = xt->dims[1], wd = xt->dims[2];
    int64_t oh = quant_window_out(h, (int)kh, s, p), ow = quant_window_out(wd, (int)kw, s, p);
    int64_t nw = o * ci * kh * kw;
    int64_t *wq = arena_array(&c->tmp, (size_t)nw, sizeof *wq);
    int64_t *off = arena_array(&c->tmp, (size_t)(o * oh * ow), sizeof *off);
    if (!wq || !off) return oom(c, e->loc);
    double sw = quant_symmetric(w->lit.fv, nw, c->bits_w, wq);
    double acc_scale = x->scale * sw;
    bool any = quant_conv_offset(wq, o, ci, kh, kw, h, wd, stride, pad, x->zp,
                                 b ? b->lit.fv : NULL, acc_scale, off);
    ir_op *wk = int_const(c, e->loc, 4, w->lit.dims, wq);
    ir_op *y = wk ? ir_build_conv2d(c->f, c->d, e->loc, x->op, wk, stride, pad) : NULL;
    if (y && any) {
        int64_t od[3] = {o, oh, ow};
        y = b2(c, IR_ADD, e->loc, y, int_const(c, e->loc, 3, od, off));
    }
    *out = (mval){.op = y, .st = MS_ACC, .scale = acc_scale, .zp = 0};
    return y != NULL;
}

/* avgpool2d(x, k, stride=k, padding=0) / maxpool2d(x, k, stride=k). */
static bool layer_pool(ml *c, const ast_expr *e, mval *x, bool is_max, mval *out) {
    const char *name = e->u.call.name;
    int k, s, p = 0;
    char what[64];
    snprintf(what, sizeof what, "the window size of '%s'", name);
    if (!int_arg(c, e->u.call.args[1], what, 1, &k)) return false;
    s = k;
    const ast_expr *kw;
    snprintf(what, sizeof what, "the stride of '%s'", name);
    if ((kw = lower_kwarg(e, "stride")) && !int_arg(c, kw, what, 1, &s)) return false;
    snprintf(what, sizeof what, "the padding of '%s'", name);
    if ((kw = lower_kwarg(e, "padding")) && !int_arg(c, kw, what, 0, &p)) return false;
    int kernel[2] = {k, k}, stride[2] = {s, s}, pad[2] = {p, p};
    if (c->pass == 1) {
        ir_op *y = ir_build_pool(c->f, c->d, is_max ? IR_MAXPOOL2D : IR_SUMPOOL2D, e->loc, x->real,
                                 kernel, stride, pad);
        if (y && !is_max) y = b2(c, IR_DIV, e->loc, y, fconst(c, e->loc, (double)k * k));
        out->real = y;
        return y != NULL;
    }
    if (!ensure_q(c, x, e->loc) || !need_uniform(c, e->loc, "a pooling layer", x)) return false;
    ir_op *y = ir_build_pool(c->f, c->d, is_max ? IR_MAXPOOL2D : IR_SUMPOOL2D, e->loc, x->op,
                             kernel, stride, pad);
    if (!y) return false;
    if (is_max) { /* the maximum of quantized values is the quantized maximum */
        *out = (mval){.op = y, .st = MS_Q, .scale = x->scale, .zp = x->zp};
        return true;
    }
    /* avg = s/k^2 * (sum q - z * n) with n the in-bounds count (k^2 without padding). */
    double scale = x->scale / ((double)k * k);
    if (p == 0 || x->zp == 0) {
        *out = (mval){.op = y, .st = MS_ACC, .scale = scale, .zp = x->zp * k * k};
        return true;
    }
    int64_t oh = y->type.dims[1], ow = y->type.dims[2];
    int64_t *cnt = arena_array(&c->tmp, (size_t)(oh * ow), sizeof *cnt);
    if (!cnt) return oom(c, e->loc);
    quant_pool_counts(x->op->type.dims[1], x->op->type.dims[2], kernel, stride, pad, cnt);
    for (int64_t i = 0; i < oh * ow; i++) cnt[i] *= x->zp;
    int64_t cd[2] = {oh, ow};
    y = b2(c, IR_SUB, e->loc, y, int_const(c, e->loc, 2, cd, cnt));
    *out = (mval){.op = y, .st = MS_ACC, .scale = scale, .zp = 0};
    return y != NULL;
}

/* tree_ensemble(x, F, T, P, V): decision trees as tensor ops (the GEMM
 * form of Hummingbird and Concrete ML). x [K]; n split nodes over all
 * trees, node i sends x LEFT when x[F[i]] <= T[i]; L leaves over all trees,
 * P [n, L] the path matrix (+1: leaf in the left subtree of node i, -1: in
 * its right subtree, 0: not below it); V [L, M] leaf values. The result [M]
 * is the sum over the trees of the reached leaf's row of V:
 *
 *   d = (x @ S) <= Tq       S [K, n] one-hot by F: free; n comparisons (PBS)
 *   s = d @ P               free; s[l] = #(left turns taken) - #(right ...)
 *   e = (s == left(l))      L equalities (PBS): leaf l reached iff every
 *                           decision on its path matches, i.e. s[l] equals
 *                           the number of +1 in column l
 *   y = e @ Vq              free; an accumulator of scale scale(V)
 *
 * Thresholds are compared on x's quantized grid (quant_threshold), leaf
 * values quantized to `weights` bits. */
static bool tree_args(ml *c, const ast_expr *e, int64_t k, mval *const a[4]) {
    static const char *const what[4] = {"feature indices", "thresholds", "path matrix",
                                        "leaf values"};
    static const int rank[4] = {1, 1, 2, 2};
    ast_expr *const *ae = e->u.call.args;
    for (int i = 0; i < 4; i++)
        if (!need_const(c, e, ae[i + 1], a[i], rank[i], what[i])) return false;
    int64_t n = a[0]->lit.dims[0], l = a[2]->lit.dims[1];
    char s1[64], s2[64];
    if (n == 0 || l == 0) {
        diag_error(c->d, ae[3]->loc, "'tree_ensemble' needs at least one split node and one leaf "
                                     "(a constant model needs no encryption)");
        return false;
    }
    if (a[1]->lit.dims[0] != n || a[2]->lit.dims[0] != n || a[3]->lit.dims[0] != l) {
        diag_error(c->d, e->loc, "'tree_ensemble' shapes disagree: %" PRId64 " feature indices, "
                   "%" PRId64 " thresholds, path matrix %s, leaf values %s (expected [n], [n], "
                   "[n, L], [L, M])", n, a[1]->lit.dims[0],
                   lower_shape_str(2, a[2]->lit.dims, s1, sizeof s1),
                   lower_shape_str(2, a[3]->lit.dims, s2, sizeof s2));
        return false;
    }
    for (int64_t i = 0; i < n; i++) {
        double f = a[0]->lit.fv[i];
        if (f != floor(f) || f < 0 || f >= (double)k) {
            diag_error(c->d, ae[1]->loc, "feature index %" PRId64 " of 'tree_ensemble' is %g; "
                       "it must be an integer in [0, %" PRId64 "] (x has %" PRId64 " values)",
                       i, f, k - 1, k);
            return false;
        }
        if (!isfinite(a[1]->lit.fv[i])) {
            diag_error(c->d, ae[2]->loc, "threshold %" PRId64 " of 'tree_ensemble' is not finite",
                       i);
            return false;
        }
    }
    for (int64_t j = 0; j < l; j++) {
        bool any = false;
        for (int64_t i = 0; i < n; i++) {
            double p = a[2]->lit.fv[i * l + j];
            if (p != 0 && p != 1 && p != -1) {
                diag_error(c->d, ae[3]->loc, "path matrix entry [%" PRId64 ", %" PRId64 "] of "
                           "'tree_ensemble' is %g; entries must be -1, 0 or 1", i, j, p);
                return false;
            }
            any |= p != 0;
        }
        if (!any) {
            diag_error(c->d, ae[3]->loc, "leaf %" PRId64 " of 'tree_ensemble' is below no split "
                       "node (column %" PRId64 " of the path matrix is all zeros)", j, j);
            return false;
        }
    }
    return true;
}

/* Pass 1: the splits of a tree_ensemble reading tree_bins input `index`. */
static bool collect_splits(ml *c, diag_loc loc, int index, mval *const a[4]) {
    minput *in = &c->inputs[index];
    int64_t n = a[0]->lit.dims[0];
    if (in->nsplit + n > in->capsplit) {
        int64_t cap = (in->nsplit + n) * 2;
        int64_t *f = arena_array(&c->tmp, (size_t)cap, sizeof *f);
        double *t = arena_array(&c->tmp, (size_t)cap, sizeof *t);
        if (!f || !t) return oom(c, loc);
        if (in->nsplit) {
            memcpy(f, in->split_f, (size_t)in->nsplit * sizeof *f);
            memcpy(t, in->split_t, (size_t)in->nsplit * sizeof *t);
        }
        in->split_f = f;
        in->split_t = t;
        in->capsplit = cap;
    }
    for (int64_t i = 0; i < n; i++) {
        in->split_f[in->nsplit] = (int64_t)a[0]->lit.fv[i];
        in->split_t[in->nsplit++] = a[1]->lit.fv[i];
    }
    return true;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* After pass 1: the bin edges of every tree_bins input, per feature the
 * sorted distinct thresholds of the splits on it; a feature with m edges
 * has bins 0..m, so the input needs bits for max m. */
static bool build_bins(ml *c) {
    for (int i = 0; i < c->ninputs; i++) {
        minput *in = &c->inputs[i];
        if (!in->s->tree_bins) continue;
        const ast_type *t = &in->s->type;
        if (t->rank != 1) {
            diag_error(c->d, in->s->loc, "a 'tree_bins' input must be a vector (it feeds "
                                         "'tree_ensemble'), got %d dimensions", t->rank);
            return false;
        }
        in->nfeat = t->dims[0];
        in->edge_at = arena_array(c->a, (size_t)in->nfeat + 1, sizeof *in->edge_at);
        in->edges = arena_array(c->a, (size_t)(in->nsplit ? in->nsplit : 1), sizeof *in->edges);
        if (!in->edge_at || !in->edges) return oom(c, in->s->loc);
        int64_t at = 0, widest = 0;
        for (int64_t f = 0; f < in->nfeat; f++) {
            in->edge_at[f] = at;
            for (int64_t k = 0; k < in->nsplit; k++)
                if (in->split_f[k] == f) in->edges[at++] = in->split_t[k];
            int64_t m = at - in->edge_at[f];
            qsort(in->edges + in->edge_at[f], (size_t)m, sizeof *in->edges, cmp_double);
            int64_t u = 0; /* distinct */
            for (int64_t k = 0; k < m; k++)
                if (u == 0 || in->edges[in->edge_at[f] + k] != in->edges[in->edge_at[f] + u - 1])
                    in->edges[in->edge_at[f] + u++] = in->edges[in->edge_at[f] + k];
            at = in->edge_at[f] + u;
            if (u > widest) widest = u;
        }
        in->edge_at[in->nfeat] = at;
        in->bin_bits = 1;
        while ((INT64_C(1) << in->bin_bits) <= widest) in->bin_bits++;
    }
    return true;
}

static int64_t uf_find(int64_t *parent, int64_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
}

/* The range of e @ Vq when P is a forest of well-formed trees: with leaves
 * grouped into trees (leaves sharing a node), each tree's leaves
 * mutually exclusive (any two part at some node, +1 against -1) and
 * covering every decision (sum of 2^-depth = 1), exactly one leaf per tree
 * fires, so column m lies within the sum over trees of the tree's
 * smallest/largest Vq[., m]. Interval analysis alone must assume every
 * leaf fires at once. false (no bound) if P is not such a forest or too
 * large to check (about 2^26 steps). */
static bool tree_bound(ml *c, const mval *pm, const int64_t *vq, int64_t m, int64_t *lo,
                       int64_t *hi) {
    int64_t n = pm->lit.dims[0], l = pm->lit.dims[1];
    const double *P = pm->lit.fv;
    int64_t *parent = arena_array(&c->tmp, (size_t)l, sizeof *parent);
    int64_t *depth = arena_array(&c->tmp, (size_t)l, sizeof *depth);
    int64_t *tmin = arena_array(&c->tmp, (size_t)(l * m), sizeof *tmin);
    int64_t *tmax = arena_array(&c->tmp, (size_t)(l * m), sizeof *tmax);
    int64_t *size = arena_array(&c->tmp, (size_t)l, sizeof *size);
    if (!parent || !depth || !tmin || !tmax || !size) return false;
    for (int64_t j = 0; j < l; j++) parent[j] = j;
    for (int64_t i = 0; i < n; i++) {
        int64_t first = -1;
        for (int64_t j = 0; j < l; j++) {
            if (P[i * l + j] == 0) continue;
            depth[j]++;
            if (first < 0) first = j;
            else parent[uf_find(parent, j)] = uf_find(parent, first);
        }
    }
    int64_t work = 0;
    for (int64_t j = 0; j < l; j++) size[uf_find(parent, j)]++;
    for (int64_t j = 0; j < l; j++) work += size[j] * size[j];
    if (work > (INT64_C(1) << 26) / (n ? n : 1)) return false;
    for (int64_t a = 0; a < l; a++) /* exclusive within each tree */
        for (int64_t b = a + 1; b < l; b++) {
            if (uf_find(parent, a) != uf_find(parent, b)) continue;
            bool apart = false;
            for (int64_t i = 0; i < n && !apart; i++) apart = P[i * l + a] * P[i * l + b] < 0;
            if (!apart) return false;
        }
    for (int64_t r = 0; r < l; r++) { /* covering: Kraft sum 1, as 2^-62 units */
        if (uf_find(parent, r) != r) continue;
        uint64_t sum = 0;
        for (int64_t j = 0; j < l; j++) {
            if (uf_find(parent, j) != r) continue;
            if (depth[j] > 62) return false;
            sum += UINT64_C(1) << (62 - depth[j]);
        }
        if (sum != UINT64_C(1) << 62) return false;
    }
    for (int64_t i = 0; i < l * m; i++) {
        tmin[i] = INT64_MAX;
        tmax[i] = INT64_MIN;
    }
    for (int64_t j = 0; j < l; j++) { /* per tree and column: extreme leaf values */
        int64_t r = uf_find(parent, j);
        for (int64_t k = 0; k < m; k++) {
            int64_t v = vq[j * m + k];
            if (v < tmin[r * m + k]) tmin[r * m + k] = v;
            if (v > tmax[r * m + k]) tmax[r * m + k] = v;
        }
    }
    *lo = INT64_MAX;
    *hi = INT64_MIN;
    for (int64_t k = 0; k < m; k++) {
        int64_t sl = 0, sh = 0;
        for (int64_t r = 0; r < l; r++)
            if (uf_find(parent, r) == r) {
                sl += tmin[r * m + k];
                sh += tmax[r * m + k];
            }
        if (sl < *lo) *lo = sl;
        if (sh > *hi) *hi = sh;
    }
    return true;
}

/* The length of x, which layer e needs to be a vector; -1 (reported) if it
 * is not. */
static int64_t vector_len(ml *c, const ast_expr *e, const mval *x) {
    const ir_type *xt = c->pass == 1 ? &x->real->type : &x->op->type;
    if (xt->rank == 1) return xt->dims[0];
    char sh[64];
    diag_error(c->d, e->u.call.args[0]->loc, "the input of '%s' must be a vector, got shape %s",
               e->u.call.name, lower_shape_str(xt->rank, xt->dims, sh, sizeof sh));
    return -1;
}

static bool layer_trees(ml *c, const ast_expr *e, mval *x, mval *const a[4], mval *out) {
    int64_t k = vector_len(c, e, x);
    if (k < 0 || !tree_args(c, e, k, a)) return false;
    int64_t n = a[0]->lit.dims[0], l = a[2]->lit.dims[1], m = a[3]->lit.dims[1];
    int64_t sd[2] = {k, n};
    double *sel = arena_array(&c->tmp, (size_t)(k * n), sizeof *sel);
    double *left = arena_array(&c->tmp, (size_t)l, sizeof *left);
    if (!sel || !left) return oom(c, e->loc);
    for (int64_t i = 0; i < n; i++) sel[(int64_t)a[0]->lit.fv[i] * n + i] = 1;
    for (int64_t j = 0; j < l; j++)
        for (int64_t i = 0; i < n; i++) left[j] += a[2]->lit.fv[i * l + j] == 1;
    diag_loc loc = e->loc;
    if (c->pass == 1 && x->real->code == IR_INPUT &&
        c->inputs[x->real->index].s->tree_bins && !collect_splits(c, loc, x->real->index, a))
        return false;
    if (c->pass == 1) {
        ir_op *y = ir_build_const_float(c->f, loc, 2, sd, sel);
        if (y) y = b2(c, IR_MATMUL, loc, x->real, y);
        if (y) y = b2(c, IR_LE, loc, y, real_const(c, loc, &a[1]->lit));
        if (y) y = b1(c, IR_TOFLOAT, loc, y);
        if (y) y = b2(c, IR_MATMUL, loc, y, real_const(c, loc, &a[2]->lit));
        if (y) y = b2(c, IR_EQ, loc, y, ir_build_const_float(c->f, loc, 1, &l, left));
        if (y) y = b1(c, IR_TOFLOAT, loc, y);
        if (y) y = b2(c, IR_MATMUL, loc, y, real_const(c, loc, &a[3]->lit));
        out->real = y;
        return y != NULL;
    }
    if (!ensure_q(c, x, loc)) return false;
    int64_t *seli = arena_array(&c->tmp, (size_t)(k * n), sizeof *seli);
    int64_t *tq = arena_array(&c->tmp, (size_t)n, sizeof *tq);
    int64_t *pi = arena_array(&c->tmp, (size_t)(n * l), sizeof *pi);
    int64_t *li = arena_array(&c->tmp, (size_t)l, sizeof *li);
    int64_t *vq = arena_array(&c->tmp, (size_t)(l * m), sizeof *vq);
    if (!seli || !tq || !pi || !li || !vq) return oom(c, loc);
    for (int64_t i = 0; i < k * n; i++) seli[i] = (int64_t)sel[i];
    for (int64_t i = 0; i < n; i++) {
        int64_t f = (int64_t)a[0]->lit.fv[i];
        if (x->edges) /* the bin numbers below the split: an exact comparison */
            tq[i] = quant_bin(a[1]->lit.fv[i], x->edges + x->edge_at[f],
                              x->edge_at[f + 1] - x->edge_at[f]);
        else if (x->nfeat)
            tq[i] = quant_threshold(a[1]->lit.fv[i], x->fscale[f], x->fzp[f], 16);
        else
            tq[i] = quant_threshold(a[1]->lit.fv[i], x->scale, x->zp, 16);
    }
    for (int64_t i = 0; i < n * l; i++) pi[i] = (int64_t)a[2]->lit.fv[i];
    for (int64_t j = 0; j < l; j++) li[j] = (int64_t)left[j];
    double sv = quant_symmetric(a[3]->lit.fv, l * m, c->bits_w, vq);
    ir_op *y = b2(c, IR_MATMUL, loc, x->op, int_const(c, loc, 2, sd, seli));
    if (y) y = b2(c, IR_LE, loc, y, int_const(c, loc, 1, &n, tq));
    if (y) y = b2(c, IR_MATMUL, loc, y, int_const(c, loc, 2, a[2]->lit.dims, pi));
    if (y) y = b2(c, IR_EQ, loc, y, int_const(c, loc, 1, &l, li));
    /* One output (or two that are each other's negation, as a binary
     * classifier's [-s/2, s/2]): each leaf's lookup gives its value or 0
     * directly, so the output sums L lookups of weight 1 (squared 2-norm L)
     * instead of L one-hot bits weighted by the leaf values (sum of Vq^2),
     * which would need far less noisy, costlier parameters. */
    bool pair = m == 2;
    for (int64_t j = 0; j < l && pair; j++) pair = vq[j * 2] == -vq[j * 2 + 1];
    if (y && (m == 1 || pair)) {
        int64_t *col = arena_array(&c->tmp, (size_t)l, sizeof *col);
        int64_t *ones = arena_array(&c->tmp, (size_t)l, sizeof *ones);
        if (!col || !ones) return oom(c, loc);
        for (int64_t j = 0; j < l; j++) {
            col[j] = vq[j * m + m - 1];
            ones[j] = 1;
        }
        ir_op *w[3] = {y, int_const(c, loc, 1, &l, col), ir_build_scalar_int(c->f, loc, 0)};
        y = w[1] && w[2] ? ir_build(c->f, c->d, IR_WHERE, loc, 3, w) : NULL;
        int64_t od[2] = {l, 1};
        if (y) y = b2(c, IR_MATMUL, loc, y, int_const(c, loc, 2, od, ones));
        if (y) y->has_bound = tree_bound(c, a[2], col, 1, &y->bound_lo, &y->bound_hi);
        if (y && pair) {
            ir_op *both[2] = {b1(c, IR_NEG, loc, y), y};
            y = both[0] ? ir_build_concat(c->f, c->d, loc, 2, both, 0) : NULL;
        }
    } else {
        if (y) y = b2(c, IR_MATMUL, loc, y, int_const(c, loc, 2, a[3]->lit.dims, vq));
        if (y) y->has_bound = tree_bound(c, a[2], vq, m, &y->bound_lo, &y->bound_hi);
    }
    *out = (mval){.op = y, .st = MS_ACC, .scale = sv, .zp = 0};
    return y != NULL;
}

/* knn(x, P, L, k, distance_bits=r): k-nearest-neighbour classification
 * against the clear training points P [n, K] with labels L [n] (integers
 * 0 .. 126). The points are quantized on x's grid (per feature for a
 * per_feature input), distances measured in grid steps and clipped at
 * 2^r - 1 (default r = 2); knn.h has the network. The result is the labels
 * of the k nearest, nearest first: class numbers for the client's `vote`. */
enum {
    KNN_DEFAULT_DIST_BITS = 2,
    KNN_MAX_KEY_BITS = 7,
    KNN_MAX_POINTS = 1 << 16,
    KNN_MAX_SELECT = 1 << 24
};
static const char *const knn_kw[] = {"distance_bits", NULL};

static bool knn_args(ml *c, const ast_expr *e, int64_t nfeat, const mval *p, const mval *l,
                     int *k, int *r, int *lb) {
    ast_expr *const *ae = e->u.call.args;
    if (!need_const(c, e, ae[1], p, 2, "training points") ||
        !need_const(c, e, ae[2], l, 1, "labels") ||
        !int_arg(c, ae[3], "the neighbour count of 'knn'", 1, k))
        return false;
    int64_t n = p->lit.dims[0];
    if (p->lit.dims[1] != nfeat || l->lit.dims[0] != n) {
        char s1[64], s2[64];
        diag_error(c->d, e->loc, "'knn' shapes disagree: the input has %" PRId64 " features, the "
                   "training points are %s, the labels %s (expected [n, %" PRId64 "] and [n])",
                   nfeat, lower_shape_str(2, p->lit.dims, s1, sizeof s1),
                   lower_shape_str(1, l->lit.dims, s2, sizeof s2), nfeat);
        return false;
    }
    if (n < 1 || n > KNN_MAX_POINTS) {
        diag_error(c->d, ae[1]->loc, "'knn' takes 1 to %d training points, got %" PRId64,
                   KNN_MAX_POINTS, n);
        return false;
    }
    if (*k > n) {
        diag_error(c->d, ae[3]->loc, "'knn' asks for %d neighbours of %" PRId64 " training points",
                   *k, n);
        return false;
    }
    int64_t maxl = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = l->lit.fv[i];
        if (!(v >= 0 && v <= 126 && v == (double)(int64_t)v)) {
            diag_error(c->d, ae[2]->loc, "label %" PRId64 " of 'knn' is %g; labels are class "
                       "numbers 0 to 126", i, v);
            return false;
        }
        if ((int64_t)v > maxl) maxl = (int64_t)v;
    }
    for (int64_t i = 0; i < n * nfeat; i++)
        if (!isfinite(p->lit.fv[i])) {
            diag_error(c->d, ae[1]->loc, "training point %" PRId64 " of 'knn' is not finite",
                       i / nfeat);
            return false;
        }
    *r = KNN_DEFAULT_DIST_BITS;
    const ast_expr *kw = lower_kwarg(e, "distance_bits");
    if (kw && !int_arg(c, kw, "the distance bits of 'knn'", 1, r)) return false;
    *lb = knn_label_bits(maxl);
    if (*r + *lb > KNN_MAX_KEY_BITS) {
        diag_error(c->d, kw ? kw->loc : e->loc, "'knn' sort keys of %d distance bits and %d label "
                   "bits (%" PRId64 " classes) exceed %d bits: their comparisons would need "
                   "lookups wider than 8 bits; lower distance_bits", *r, *lb, maxl + 1,
                   KNN_MAX_KEY_BITS);
        return false;
    }
    return true;
}

static bool layer_knn(ml *c, const ast_expr *e, mval *x, const mval *p, const mval *l,
                      mval *out) {
    int64_t nf = vector_len(c, e, x);
    int k, r, lb;
    if (nf < 0 || !knn_args(c, e, nf, p, l, &k, &r, &lb)) return false;
    int64_t n = p->lit.dims[0];
    diag_loc loc = e->loc;
    if (c->pass == 1) {
        /* calibration only needs a value of the result's shape: the labels
         * are never requantized (they can only be returned) */
        int64_t z = 0, kk = k, st = 1;
        ir_op *y = b2(c, IR_MATMUL, loc, x->real, ir_build_transpose(c->f, c->d, loc,
                                                                     real_const(c, loc, &p->lit),
                                                                     NULL));
        out->real = y ? ir_build_slice(c->f, c->d, loc, y, &z, &kk, &st) : NULL;
        out->labels = true;
        return out->real != NULL;
    }
    if (!ensure_q(c, x, loc)) return false;
    if (x->edges) {
        diag_error(c->d, e->u.call.args[0]->loc, "'knn' needs values on a scale; a 'tree_bins' "
                   "input holds bin numbers and can only feed 'tree_ensemble'");
        return false;
    }
    int qbits = x->op->code == IR_INPUT ? c->bits_in : c->bits_act;
    /* the clear 0/1 matrix from (grid value, feature) to point */
    if ((double)n * nf * (double)(INT64_C(1) << qbits) > (double)KNN_MAX_SELECT) {
        diag_error(c->d, loc, "'knn' over %" PRId64 " points of %" PRId64 " feature%s on a %d-bit "
                   "grid needs a %.3g-entry distance matrix (at most 2^24); use fewer points, "
                   "features or input bits", n, nf, nf == 1 ? "" : "s", qbits,
                   (double)n * nf * (double)(INT64_C(1) << qbits));
        return false;
    }
    int64_t *t = arena_array(&c->tmp, (size_t)(n * nf), sizeof *t);
    int64_t *lab = arena_array(&c->tmp, (size_t)n, sizeof *lab);
    if (!t || !lab) return oom(c, loc);
    for (int64_t i = 0; i < n; i++) {
        lab[i] = (int64_t)l->lit.fv[i];
        for (int64_t j = 0; j < nf; j++)
            t[i * nf + j] = x->nfeat ? quant_value(p->lit.fv[i * nf + j], x->fscale[j], x->fzp[j],
                                                   qbits)
                                     : quant_value(p->lit.fv[i * nf + j], x->scale, x->zp, qbits);
    }
    knn_shape ks = {.n = n, .K = nf, .k = k, .qbits = qbits, .dist_bits = r, .label_bits = lb};
    ir_op *y = knn_build(c->f, c->d, loc, x->op, &ks, t, lab);
    *out = (mval){.op = y, .st = MS_Q, .scale = 1, .zp = 0, .labels = true};
    return y != NULL;
}

/* flatten(x) / reshape(x, [dims]): free on integers, any state but a real
 * chain (which is requantized first: a reshape is not elementwise). */
static bool layer_reshape(ml *c, const ast_expr *e, mval *x, int rank, const int64_t *dims,
                          mval *out) {
    if (c->pass == 1) {
        out->real = ir_build_reshape(c->f, c->d, e->loc, x->real, rank, dims);
        return out->real != NULL;
    }
    if (x->st == MS_REAL && !ensure_q(c, x, e->loc)) return false;
    if (!need_uniform(c, e->loc, "a reshape", x)) return false;
    *out = *x;
    out->bind = 0;
    out->op = ir_build_reshape(c->f, c->d, e->loc, x->op, rank, dims);
    return out->op != NULL;
}

/* An elementwise real function of one value (activation, or arithmetic with
 * a constant operand `k`, which may come first). */
static bool elementwise(ml *c, diag_loc loc, ir_opcode code, mval *x, const mval *k, bool k_first,
                        mval *out) {
    ir_op *kop = NULL;
    if (c->pass == 1) {
        if (k && !(kop = real_const(c, loc, &k->lit))) return false;
        ir_op *a = x->real;
        out->real = !k ? b1(c, code, loc, a) : k_first ? b2(c, code, loc, kop, a)
                                                       : b2(c, code, loc, a, kop);
        return out->real != NULL;
    }
    if (!to_real(c, x, loc)) return false;
    if (k && !(kop = real_const(c, loc, &k->lit))) return false;
    ir_op *y = !k ? b1(c, code, loc, x->op) : k_first ? b2(c, code, loc, kop, x->op)
                                                       : b2(c, code, loc, x->op, kop);
    *out = (mval){.op = y, .st = MS_REAL};
    return y != NULL;
}

/* ---- calls ------------------------------------------------------------------------- */

static const struct {
    const char *name;
    ir_opcode op;
} activations[] = {
    {"relu", IR_RELU},         {"sigmoid", IR_SIGMOID}, {"tanh", IR_TANH}, {"gelu", IR_GELU},
    {"softplus", IR_SOFTPLUS}, {"silu", IR_SILU},       {"exp", IR_EXP},   {"log", IR_LOG},
    {"sqrt", IR_SQRT},         {"abs", IR_ABS},         {"sin", IR_SIN},   {"cos", IR_COS},
};
enum { NACT = sizeof activations / sizeof activations[0] };

static const char *const layer_names[] = {"dense",   "conv2d", "avgpool2d", "maxpool2d",
                                          "flatten", "reshape", "tree_ensemble", "knn",
                                          "argmax",  "softmax", "vote"};
enum { NLAYERS = sizeof layer_names / sizeof layer_names[0] };

static const char *const circuit_only[] = {"sum",   "dot", "matmul", "transpose", "concat", "lut",
                                           "round", "min", "max",    "where",     "clip",   "floor",
                                           "ceil",  "pow"};

static bool mcall(ml *c, const ast_expr *e, mval *out) {
    const char *name = e->u.call.name;
    ast_expr *const *ae = e->u.call.args;
    int nargs = e->u.call.nargs;
    for (int i = 0; i < NACT; i++) {
        if (strcmp(activations[i].name, name) != 0) continue;
        mval x;
        if (!lower_check_nargs(c->d, e, 1, 1) || !lower_check_kwargs(c->d, e, NULL) ||
            !mexpr(c, ae[0], &x) || !need_value(c, e, ae[0], &x))
            return false;
        return elementwise(c, e->loc, activations[i].op, &x, NULL, false, out);
    }
    if (strcmp(name, "argmax") == 0 || strcmp(name, "softmax") == 0 ||
        strcmp(name, "vote") == 0) {
        diag_error(c->d, e->loc, "'%s' runs on the client after decryption; it can only be "
                                 "applied to a returned value ('return %s(v);')", name, name);
        return false;
    }
    int min = 1, max = 1;
    const char *const *kw = NULL;
    int which = -1;
    for (int i = 0; i < NLAYERS; i++)
        if (strcmp(layer_names[i], name) == 0) which = i;
    switch (which) {
    case 0: min = 2, max = 3; break;                  /* dense */
    case 1: min = 2, max = 3, kw = conv_kw; break;    /* conv2d */
    case 2: min = max = 2, kw = pool_kw; break;       /* avgpool2d */
    case 3: min = max = 2, kw = maxpool_kw; break;    /* maxpool2d */
    case 4: break;                                    /* flatten */
    case 5: min = max = 2; break;                     /* reshape */
    case 6: min = max = 5; break;                     /* tree_ensemble */
    case 7: min = max = 4, kw = knn_kw; break;        /* knn */
    default: {
        for (size_t i = 0; i < sizeof circuit_only / sizeof *circuit_only; i++)
            if (strcmp(circuit_only[i], name) == 0) {
                diag_error(c->d, e->loc, "'%s' is a circuit-level operation; it is not available "
                                         "in a model", name);
                return false;
            }
        const char *cands[NACT + NLAYERS];
        for (int i = 0; i < NACT; i++) cands[i] = activations[i].name;
        for (int i = 0; i < NLAYERS; i++) cands[NACT + i] = layer_names[i];
        if (find(c, name)) diag_error(c->d, e->loc, "'%s' is not a function", name);
        else lower_unknown(c->d, e->loc, "function", name, cands, NACT + NLAYERS);
        return false;
    }
    }
    if (!lower_check_nargs(c->d, e, min, max) || !lower_check_kwargs(c->d, e, kw)) return false;
    mval x, w = {0}, b = {0};
    if (!mexpr(c, ae[0], &x) || !need_value(c, e, ae[0], &x)) return false;
    if ((which == 0 || which == 1) && !mexpr(c, ae[1], &w)) return false;
    if (which == 6) {
        mval ta[4];
        mval *tp[4] = {&ta[0], &ta[1], &ta[2], &ta[3]};
        for (int i = 0; i < 4; i++)
            if (!mexpr(c, ae[i + 1], &ta[i])) return false;
        return layer_trees(c, e, &x, tp, out);
    }
    if (which == 7) {
        mval p, l;
        return mexpr(c, ae[1], &p) && mexpr(c, ae[2], &l) && layer_knn(c, e, &x, &p, &l, out);
    }
    if (nargs == 3 && !mexpr(c, ae[2], &b)) return false;
    switch (which) {
    case 0: return layer_dense(c, e, &x, ae[1], &w, nargs == 3 ? ae[2] : NULL,
                               nargs == 3 ? &b : NULL, out);
    case 1: return layer_conv(c, e, &x, &w, nargs == 3 ? &b : NULL, out);
    case 2: return layer_pool(c, e, &x, false, out);
    case 3: return layer_pool(c, e, &x, true, out);
    case 4: {
        const ir_type *t = c->pass == 1 ? &x.real->type : &x.op->type;
        int64_t n = ir_type_count(t);
        return layer_reshape(c, e, &x, 1, &n, out);
    }
    default: {
        lower_lit l;
        int r = lower_literal(&c->tmp, c->d, ae[1], &l);
        if (r < 0) return false;
        if (r == 0 || !l.all_int || l.rank > 1 || l.count > IR_MAX_RANK) {
            diag_error(c->d, ae[1]->loc, "the shape of 'reshape' must be a list of integers");
            return false;
        }
        return layer_reshape(c, e, &x, (int)l.count, l.iv, out);
    }
    }
}

/* ---- expressions --------------------------------------------------------------------- */

/* The negation of a constant (a param) is a constant: new arrays, the
 * param's own stay as they are. */
static bool lit_neg(ml *c, diag_loc loc, const lower_lit *l, mval *out) {
    memset(out, 0, sizeof *out);
    out->is_const = true;
    out->lit = *l;
    out->lit.fv = arena_array(&c->tmp, (size_t)l->count, sizeof *l->fv);
    out->lit.iv = l->iv ? arena_array(&c->tmp, (size_t)l->count, sizeof *l->iv) : NULL;
    if (!out->lit.fv || (l->iv && !out->lit.iv)) return oom(c, loc);
    for (int64_t i = 0; i < l->count; i++) {
        out->lit.fv[i] = -l->fv[i];
        if (l->iv) out->lit.iv[i] = -l->iv[i];
    }
    return true;
}

static bool mbinary(ml *c, const ast_expr *e, mval *out) {
    mval l, r;
    if (!mexpr(c, e->u.bin.lhs, &l) || !mexpr(c, e->u.bin.rhs, &r) ||
        !not_labels(c, e->u.bin.lhs->loc, &l) || !not_labels(c, e->u.bin.rhs->loc, &r))
        return false;
    static const char *const opname[] = {"+", "-", "*", "/", "@", "<", "<=", ">", ">=", "==", "!=",
                                         "-"};
    ast_op op = e->u.bin.op;
    if (op >= AST_OP_LT && op <= AST_OP_NE) {
        diag_error(c->d, e->loc, "comparisons are not available in a model");
        return false;
    }
    if (l.is_const && r.is_const) {
        diag_error(c->d, e->loc, "'%s' of two constants: write the computed value instead",
                   opname[op]);
        return false;
    }
    if (!l.is_const && !r.is_const) {
        diag_error(c->d, e->loc,
                   "'%s' of two layer values is not supported in a model; one operand must be a "
                   "constant or a param", opname[op]);
        return false;
    }
    if (op == AST_OP_MATMUL) {
        if (l.is_const) {
            diag_error(c->d, e->loc, "'@' needs the layer value on the left (x @ W)");
            return false;
        }
        ast_expr fake = *e;
        fake.u.call.name = "@";
        return layer_dense(c, &fake, &l, e->u.bin.rhs, &r, NULL, NULL, out);
    }
    static const ir_opcode code[] = {IR_ADD, IR_SUB, IR_MUL, IR_DIV};
    return l.is_const ? elementwise(c, e->loc, code[op], &r, &l, true, out)
                      : elementwise(c, e->loc, code[op], &l, &r, false, out);
}

static bool mexpr_inner(ml *c, const ast_expr *e, mval *out) {
    memset(out, 0, sizeof *out);
    switch (e->kind) {
    case AST_INT:
    case AST_FLOAT:
    case AST_TENSOR:
    case AST_UNARY: {
        int r = lower_literal(&c->tmp, c->d, e, &out->lit);
        if (r < 0) return false;
        if (r > 0) {
            out->is_const = true;
            return true;
        }
        if (e->kind == AST_TENSOR) {
            diag_error(c->d, e->loc, "tensor literals in a model must contain only numbers");
            return false;
        }
        mval x;
        if (!mexpr(c, e->u.bin.lhs, &x)) return false;
        if (x.is_const) return lit_neg(c, e->loc, &x.lit, out); /* -W of a param W */
        if (!not_labels(c, e->loc, &x)) return false;
        return elementwise(c, e->loc, IR_NEG, &x, NULL, false, out);
    }
    case AST_NAME: {
        const mbind *b = find(c, e->u.str);
        if (b) {
            *out = b->v;
            out->bind = (int)(b - c->env) + 1;
            return true;
        }
        const char **cands = arena_array(&c->tmp, (size_t)c->nenv + 1, sizeof *cands);
        for (int i = 0; cands && i < c->nenv; i++) cands[i] = c->env[i].name;
        lower_unknown(c->d, e->loc, "name", e->u.str, cands, cands ? c->nenv : 0);
        return false;
    }
    case AST_BINARY:
        return mbinary(c, e, out);
    case AST_CALL:
        return mcall(c, e, out);
    case AST_STRING:
        diag_error(c->d, e->loc, "a string literal is not a value (strings only name files, "
                                 "after 'calibrate')");
        return false;
    case AST_INDEX:
        diag_error(c->d, e->loc, "indexing is not available in a model");
        return false;
    case AST_LAMBDA:
        diag_error(c->d, e->loc, "a lambda can only be the table of 'lut', which is a circuit-level "
                                 "operation");
        return false;
    }
    return false;
}

static bool mexpr(ml *c, const ast_expr *e, mval *out) {
    if (!mexpr_inner(c, e, out)) return false;
    if (out->is_const) return true;
    if (c->pass == 1) return twin_put(c, e, out->real);
    out->real = twin_get(c, e);
    return true;
}

/* ---- statements --------------------------------------------------------------------- */

static bool read_settings(ml *c) {
    static const char *const keys[] = {"inputs", "weights", "activations", "accumulator"};
    int *dst[] = {&c->bits_in, &c->bits_w, &c->bits_act, &c->bits_acc};
    c->bits_in = c->bits_w = c->bits_act = 8;
    c->bits_acc = 0;
    const ast_stmt *seen = NULL;
    for (int i = 0; i < c->u->nstmts; i++) {
        const ast_stmt *s = c->u->stmts[i];
        if (s->kind != AST_QUANTIZE) continue;
        if (seen) {
            diag_error(c->d, s->loc, "duplicate 'quantize' statement");
            diag_note(c->d, seen->loc, "the first one is here");
            return false;
        }
        seen = s;
        for (int j = 0; j < s->nsettings; j++) {
            const ast_qsetting *q = &s->settings[j];
            int k = 0;
            while (k < 4 && strcmp(keys[k], q->key) != 0) k++;
            if (k == 4) {
                const char *sug = lower_suggest(q->key, keys, 4);
                if (sug)
                    diag_error(c->d, q->loc, "unknown quantize setting '%s'; did you mean '%s'? "
                               "(valid: inputs, weights, activations, accumulator)", q->key, sug);
                else
                    diag_error(c->d, q->loc, "unknown quantize setting '%s' (valid: inputs, "
                               "weights, activations, accumulator)", q->key);
                return false;
            }
            for (int p = 0; p < j; p++)
                if (strcmp(s->settings[p].key, q->key) == 0) {
                    diag_error(c->d, q->loc, "'%s' is set twice", q->key);
                    return false;
                }
            int lo = k == 1 ? 2 : 1; /* a symmetric signed weight needs a sign and a bit */
            if (q->bits < lo || q->bits > 16) {
                diag_error(c->d, q->loc, "'%s' must be between %d and 16 bits, got %" PRId64,
                           q->key, lo, q->bits);
                return false;
            }
            *dst[k] = (int)q->bits;
        }
    }
    return true;
}

static bool decl_input(ml *c, const ast_stmt *s, int index) {
    const ast_type *t = &s->type;
    minput *in = &c->inputs[index];
    if (c->pass == 1) {
        if (t->kind != AST_TY_FLOAT) {
            diag_error(c->d, t->loc, "model inputs are real tensors: declare '%s' as f32[...]",
                       s->name);
            return false;
        }
        if (s->has_range && !(s->range_lo < s->range_hi)) {
            diag_error(c->d, s->loc, "the range of '%s' is empty: [%g, %g]", s->name, s->range_lo,
                       s->range_hi);
            return false;
        }
        in->s = s;
        in->count = 1;
        for (int i = 0; i < t->rank; i++) in->count *= t->dims[i];
        in->col0 = index ? c->inputs[index - 1].col0 + c->inputs[index - 1].count : 0;
        in->lo = s->range_lo;
        in->hi = s->range_hi;
    }
    ir_type ty = {0};
    ty.rank = t->rank;
    memcpy(ty.dims, t->dims, sizeof ty.dims);
    if (c->pass == 1) {
        ty.is_float = ty.is_signed = true;
        ty.bits = 64;
    } else {
        ty.enc = true;
        ty.bits = s->tree_bins ? in->bin_bits : c->bits_in;
    }
    ir_op *op = ir_build_input(c->f, s->name_loc, s->name, index, ty);
    if (!op) return oom(c, s->loc);
    mval v = {.real = op};
    if (c->pass == 2) {
        op->quant = (ir_quant){true,      in->q_scale, in->q_zp,    op->type.bits, in->nfeat,
                               in->f_scale, in->f_zp, in->edge_at, in->edges};
        v.real = NULL; /* an input is quantized already: it needs no calibration stats */
        v.op = op;
        v.st = MS_Q;
        v.scale = in->q_scale;
        v.zp = in->q_zp;
        v.nfeat = in->nfeat;
        v.fscale = in->f_scale;
        v.fzp = in->f_zp;
        v.edge_at = in->edge_at;
        v.edges = in->edges;
    }
    return bind(c, s->name, &v, true, s->name_loc);
}

static bool decl_param(ml *c, const ast_stmt *s) {
    mval v = {.is_const = true};
    int r = lower_literal(&c->tmp, c->d, s->value, &v.lit);
    if (r < 0) return false;
    if (r == 0) {
        diag_error(c->d, s->value->loc, "the value of param '%s' must be a numeric literal",
                   s->name);
        return false;
    }
    const ast_type *t = &s->type;
    if (t->kind != AST_TY_FLOAT) {
        diag_error(c->d, t->loc, "params are real tensors: declare '%s' as f32[...]", s->name);
        return false;
    }
    ir_type want = {0}, got = {0};
    want.rank = t->rank;
    memcpy(want.dims, t->dims, sizeof want.dims);
    got.rank = v.lit.rank;
    memcpy(got.dims, v.lit.dims, sizeof got.dims);
    if (!ir_type_same_shape(&want, &got)) {
        char s1[64], s2[64];
        diag_error(c->d, s->value->loc, "param '%s' is declared with shape %s but its value has "
                   "shape %s", s->name, lower_shape_str(want.rank, want.dims, s1, sizeof s1),
                   lower_shape_str(got.rank, got.dims, s2, sizeof s2));
        return false;
    }
    return bind(c, s->name, &v, true, s->name_loc);
}

static ir_post post_of(const ast_expr *e, const ast_expr **inner) {
    *inner = e;
    if (e->kind != AST_CALL || e->u.call.nargs != 1 || e->u.call.nkwargs) return IR_POST_NONE;
    ir_post p = strcmp(e->u.call.name, "argmax") == 0    ? IR_POST_ARGMAX
                : strcmp(e->u.call.name, "softmax") == 0 ? IR_POST_SOFTMAX
                : strcmp(e->u.call.name, "sigmoid") == 0 ? IR_POST_SIGMOID
                : strcmp(e->u.call.name, "exp") == 0     ? IR_POST_EXP
                : strcmp(e->u.call.name, "vote") == 0    ? IR_POST_VOTE
                                                         : IR_POST_NONE;
    if (p != IR_POST_NONE) *inner = e->u.call.args[0];
    return p;
}

static bool mreturn(ml *c, const ast_stmt *s) {
    mval *vals = arena_array(&c->tmp, (size_t)s->nvalues, sizeof *vals);
    if (!vals) return oom(c, s->loc);
    for (int i = 0; i < s->nvalues; i++) {
        const ast_expr *inner;
        post_of(s->values[i], &inner);
        mval *v = &vals[i];
        if (!mexpr(c, inner, v)) return false;
        if (v->is_const) {
            diag_error(c->d, inner->loc, "model output does not depend on any input");
            return false;
        }
        /* A real chain is requantized; an accumulator is returned as it is
         * (a final dense layer needs no table lookup: the client dequantizes
         * with the accumulator's scale). */
        if (c->pass == 2 && v->st == MS_REAL && !ensure_q(c, v, inner->loc)) return false;
        if (!need_uniform(c, inner->loc, "a model output", v)) return false;
    }
    /* Outputs end the function. */
    for (int i = 0; i < s->nvalues; i++) {
        const ast_expr *inner, *e = s->values[i];
        ir_post post = post_of(e, &inner);
        const char *name = inner->kind == AST_NAME ? inner->u.str : NULL;
        if (!name) {
            char buf[32];
            snprintf(buf, sizeof buf, "out%d", c->noutputs);
            name = arena_strndup(c->a, buf, strlen(buf));
        }
        const mval *v = &vals[i];
        ir_op *o = name ? ir_build_output(c->f, e->loc, name, c->noutputs++,
                                          c->pass == 1 ? v->real : v->op)
                        : NULL;
        if (!o) return oom(c, e->loc);
        if (c->pass == 2) {
            o->quant = (ir_quant){.present = true, .scale = v->scale, .zero_point = v->zp};
            o->post = post;
        }
    }
    return true;
}

static bool run_pass(ml *c) {
    int ninputs = 0;
    c->nenv = 0;
    c->noutputs = 0;
    bool returned = false;
    for (int i = 0; i < c->u->nstmts; i++) {
        const ast_stmt *s = c->u->stmts[i];
        bool ok = true;
        switch (s->kind) {
        case AST_INPUT: ok = decl_input(c, s, ninputs++); break;
        case AST_PARAM: ok = decl_param(c, s); break;
        case AST_QUANTIZE: break;
        case AST_RETURN:
            ok = mreturn(c, s);
            returned = true;
            break;
        case AST_ASSIGN: {
            if (s->is_const) {
                diag_error(c->d, s->loc, "'const' is not allowed in a model; declare weights "
                                         "with 'param'");
                return false;
            }
            mval v;
            ok = mexpr(c, s->value, &v) && bind(c, s->name, &v, false, s->name_loc);
            break;
        }
        }
        if (!ok) return false;
    }
    if (!returned) {
        diag_error(c->d, c->u->loc, "model '%s' has no 'return' statement", c->u->name);
        return false;
    }
    return true;
}

/* ---- calibration -------------------------------------------------------------------- */

static void observe(void *ctx, const ir_op *op, const ir_tensor *v) {
    ml *c = ctx;
    /* constants need no calibration (and weights would dominate the time) */
    if (op->id < 0 || op->id >= c->nstats || op->code == IR_CONST) return;
    mstats *s = &c->stats[op->id];
    for (int64_t k = 0; k < v->count; k++) {
        double x = v->is_float ? v->f[k] : (double)v->i[k];
        if (!isfinite(x)) {
            s->nonfinite = true;
            continue;
        }
        if (!s->seen || x < s->lo) s->lo = x;
        if (!s->seen || x > s->hi) s->hi = x;
        s->seen = true;
    }
}

/* A fixed-seed xorshift64 stream for synthetic calibration points. It only
 * spreads sample points over the declared input box: nothing secret, so not
 * the CSPRNG, and not rand() so that every platform compiles the same .cml
 * to the same circuit. */
static uint64_t xorshift64(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static bool calibrate(ml *c) {
    int64_t ncols = 0;
    for (int i = 0; i < c->ninputs; i++) ncols += c->inputs[i].count;
    csv_table tab = {0};
    const char *path = NULL;
    const ast_stmt *from = NULL;
    bool ok = false;
    ir_tensor *ins = calloc((size_t)c->ninputs, sizeof *ins);
    ir_tensor *outs = calloc((size_t)(c->noutputs ? c->noutputs : 1), sizeof *outs);
    c->nstats = c->f->next_id;
    c->stats = arena_array(&c->tmp, (size_t)(c->nstats ? c->nstats : 1), sizeof *c->stats);
    if (!ins || !outs || !c->stats) {
        oom(c, c->u->loc);
        goto done;
    }
    for (int i = 0; i < c->ninputs; i++) {
        const ast_stmt *s = c->inputs[i].s;
        if (!s->calibrate) continue;
        char *p = lower_join_path(&c->tmp, c->base_dir, s->calibrate);
        if (!p) {
            oom(c, s->loc);
            goto done;
        }
        if (from) {
            if (strcmp(p, path) != 0) {
                diag_error(c->d, s->loc, "all calibrated inputs must use the same file (one "
                           "column per input value, inputs in declaration order)");
                diag_note(c->d, from->loc, "'%s' is calibrated from '%s'", from->name, path);
                goto done;
            }
            continue;
        }
        if (!csv_read(p, c->d, &tab)) {
            diag_note(c->d, s->loc, "calibration data of '%s' requested here", s->name);
            goto done;
        }
        if (tab.cols != ncols) {
            diag_error(c->d, s->loc, "calibration file '%s' has %" PRId64 " column%s, the inputs "
                       "need %" PRId64 " (all inputs flattened, in declaration order)", p, tab.cols,
                       tab.cols == 1 ? "" : "s", ncols);
            goto done;
        }
        from = s;
        path = p;
    }
    /* Quantization ranges of calibrated inputs: min/max of their columns
     * (per_feature: of the columns of each last-axis index). */
    for (int i = 0; i < c->ninputs; i++) {
        minput *in = &c->inputs[i];
        if (in->s->has_range) continue;
        in->lo = in->hi = tab.values[in->col0];
        const ast_type *t = &in->s->type;
        if (in->s->per_feature) {
            in->nfeat = t->rank ? t->dims[t->rank - 1] : 1;
            in->f_lo = arena_array(c->a, (size_t)in->nfeat, sizeof *in->f_lo);
            in->f_hi = arena_array(c->a, (size_t)in->nfeat, sizeof *in->f_hi);
            in->f_scale = arena_array(c->a, (size_t)in->nfeat, sizeof *in->f_scale);
            in->f_zp = arena_array(c->a, (size_t)in->nfeat, sizeof *in->f_zp);
            if (!in->f_lo || !in->f_hi || !in->f_scale || !in->f_zp) {
                oom(c, in->s->loc);
                goto done;
            }
            for (int64_t f = 0; f < in->nfeat; f++)
                in->f_lo[f] = in->f_hi[f] = tab.values[in->col0 + f];
        }
        for (int64_t r = 0; r < tab.rows; r++)
            for (int64_t k = 0; k < in->count; k++) {
                double x = tab.values[r * ncols + in->col0 + k];
                if (x < in->lo) in->lo = x;
                if (x > in->hi) in->hi = x;
                if (in->nfeat) {
                    int64_t f = k % in->nfeat;
                    if (x < in->f_lo[f]) in->f_lo[f] = x;
                    if (x > in->f_hi[f]) in->f_hi[f] = x;
                }
            }
    }
    for (int i = 0; i < c->ninputs; i++) {
        const ast_type *t = &c->inputs[i].s->type;
        if (!ir_tensor_alloc(&ins[i], true, t->rank, t->dims)) {
            oom(c, c->u->loc);
            goto done;
        }
    }
    int64_t work = 0;
    ir_foreach(op, c->f) work += ir_op_work(op);
    if (work > CALIB_MAX_WORK / SYNTH_MIN_ROWS) {
        diag_error(c->d, c->u->loc, "model '%s' is too large to calibrate: one evaluation takes %"
                   PRId64 " operations, at most 2^22 are supported", c->u->name, work);
        goto done;
    }
    int64_t nrows = SYNTH_ROWS;
    if (work > CALIB_MAX_WORK / SYNTH_ROWS) nrows = CALIB_MAX_WORK / work;
    if (tab.values) nrows = tab.rows;
    int64_t corners = ncols <= SYNTH_MAX_CORNER_DIMS ? INT64_C(1) << ncols : 2;
    uint64_t seed = UINT64_C(0x9E3779B97F4A7C15);
    for (int64_t r = 0; r < nrows; r++) {
        int64_t col = 0;
        for (int i = 0; i < c->ninputs; i++) {
            const minput *in = &c->inputs[i];
            for (int64_t k = 0; k < in->count; k++, col++) {
                double x;
                if (tab.values) {
                    x = tab.values[r * ncols + col];
                    /* the circuit sees range inputs clipped to their range */
                    if (in->s->has_range) x = x < in->lo ? in->lo : x > in->hi ? in->hi : x;
                } else if (r < corners) {
                    bool high = ncols <= SYNTH_MAX_CORNER_DIMS ? (r >> col) & 1 : r == 1;
                    x = high ? in->hi : in->lo;
                } else {
                    double u = (double)(xorshift64(&seed) >> 11) * 0x1.0p-53;
                    x = in->lo + u * (in->hi - in->lo);
                }
                ins[i].f[k] = x;
            }
        }
        bool run = ir_interp(c->f, ins, outs, c->d, 0, observe, c);
        for (int k = 0; k < c->noutputs; k++) ir_tensor_free(&outs[k]);
        if (!run) {
            if (tab.values)
                diag_note(c->d, from->loc, "while running the float model on row %" PRId64
                          " of the calibration data", r + 1);
            else
                diag_note(c->d, c->u->loc, "while running the float model on calibration point %"
                          PRId64, r + 1);
            goto done;
        }
    }
    for (int i = 0; i < c->ninputs; i++) {
        minput *in = &c->inputs[i];
        quant_affine(in->lo, in->hi, c->bits_in, &in->q_scale, &in->q_zp);
        for (int64_t f = 0; f < in->nfeat; f++)
            quant_affine(in->f_lo[f], in->f_hi[f], c->bits_in, &in->f_scale[f], &in->f_zp[f]);
    }
    ok = true;
done:
    for (int i = 0; ins && i < c->ninputs; i++) ir_tensor_free(&ins[i]);
    free(ins);
    free(outs);
    csv_free(&tab);
    return ok;
}

ir_module *lower_model(arena *a, diag_ctx *d, const ast_unit *u, const char *base_dir) {
    ml c = {.a = a, .d = d, .u = u, .base_dir = base_dir};
    arena_init(&c.tmp);
    int errors = d->errors;
    ir_module *result = NULL;
    if (!read_settings(&c)) goto done;
    for (int i = 0; i < u->nstmts; i++) c.ninputs += u->stmts[i]->kind == AST_INPUT;
    if (c.ninputs == 0) {
        diag_error(d, u->loc, "model '%s' has no input", u->name);
        goto done;
    }
    c.inputs = arena_array(&c.tmp, (size_t)(c.ninputs ? c.ninputs : 1), sizeof *c.inputs);
    c.rm = ir_module_new(&c.tmp, IR_UNIT_MODEL, u->name);
    if (!c.inputs || !c.rm) {
        oom(&c, u->loc);
        goto done;
    }
    c.pass = 1;
    c.f = c.rm->main;
    if (!run_pass(&c) || !calibrate(&c) || !build_bins(&c)) goto done;
    c.m = ir_module_new(a, IR_UNIT_MODEL, u->name);
    if (!c.m) {
        oom(&c, u->loc);
        goto done;
    }
    c.pass = 2;
    c.f = c.m->main;
    if (!run_pass(&c)) goto done;
    ir_dce(c.f);
    ir_verify(c.m, d, false);
    ir_foreach(op, c.f) op->scratch = NULL;
    result = c.m;
done:
    arena_free(&c.tmp);
    return d->errors == errors ? result : NULL;
}
