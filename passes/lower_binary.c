/* requires: shapes (encrypted operands of elementwise ops have the result's
 *           shape);
 * provides: no integer op combines, non-linearly, encrypted values of two
 *           different roots (or an encrypted value and a clear input):
 *           mul → two squaring tlus (one packed tlu when a factor is a
 *           comparison), comparisons/min/max → one-operand forms
 *           of a difference, where → arithmetic, dot/matmul of two encrypted
 *           operands → mul + sum, encrypted maxpool2d → max of slices;
 *           division or power of two encrypted values → error;
 * breaks: nothing (new ops carry the lowered op's location).
 *
 * lower_binary.c — a table lookup is a function of ONE encrypted value, so
 * an op of two encrypted values must become linear ops (free on
 * ciphertexts) around univariate functions (tlus). Ops whose operands derive
 * elementwise from the same single root (x * (x + 1)) are left alone:
 * fusion turns them into one tlu. The root analysis is pass_root(), the
 * same fusion uses. */
#include "pass_internal.h"

#include <stdlib.h>
#include <string.h>

static bool is_cmp(ir_opcode c) {
    return c == IR_LT || c == IR_LE || c == IR_GT || c == IR_GE || c == IR_EQ || c == IR_NE;
}

static bool any_multi_arg(const ir_op *op) {
    for (int i = 0; i < op->nargs; i++)
        if (op->args[i]->scratch == PASS_ROOT_MULTI) return true;
    return false;
}

static int n_enc_args(const ir_op *op) {
    int n = 0;
    for (int i = 0; i < op->nargs; i++) n += op->args[i]->type.enc;
    return n;
}

/* A tlu computing floor(v*v / 4): exact, since v*v < 2^53 is a double and
 * dividing by 4 is exact, for |v| < 2^26 (tables stop at 2^16 entries). */
static ir_op *square_quarter(ir_func *f, diag_ctx *d, diag_loc loc, ir_op *x) {
    ir_func *body = ir_func_new(f->mod, NULL, true);
    if (!body) return NULL;
    ir_op *in = ir_build_input(body, loc, "", 0, x->type);
    ir_op *sq = ir_build2(body, d, IR_MUL, loc, in, in);
    ir_op *q = ir_build2(body, d, IR_DIV, loc, sq, ir_build_scalar_int(body, loc, 4));
    ir_op *r = ir_build1(body, d, IR_TOINT, loc, ir_build1(body, d, IR_FLOOR, loc, q));
    if (!ir_build_output(body, loc, NULL, 0, r)) return NULL;
    return ir_build_tlu(f, d, loc, x, body);
}

/* A tlu computing (v mod 2) * floor(v / 2): for v = 2d + c with c in {0, 1},
 * that is c * d. Exact for |v| < 2^52. */
static ir_op *unpack_product(ir_func *f, diag_ctx *d, diag_loc loc, ir_op *v) {
    ir_func *body = ir_func_new(f->mod, NULL, true);
    if (!body) return NULL;
    ir_op *in = ir_build_input(body, loc, "", 0, v->type);
    ir_op *h = ir_build2(body, d, IR_DIV, loc, in, ir_build_scalar_int(body, loc, 2));
    ir_op *q = ir_build1(body, d, IR_TOINT, loc, ir_build1(body, d, IR_FLOOR, loc, h));
    ir_op *two_q = ir_build2(body, d, IR_MUL, loc, q, ir_build_scalar_int(body, loc, 2));
    ir_op *r = ir_build2(body, d, IR_MUL, loc, ir_build2(body, d, IR_SUB, loc, in, two_q), q);
    if (!ir_build_output(body, loc, NULL, 0, r)) return NULL;
    return ir_build_tlu(f, d, loc, v, body);
}

/* An encrypted value known to be 0 or 1 (a comparison). */
static bool is_bool(const ir_op *x) { return x->type.enc && is_cmp(x->code); }

/* a * b. When one factor c is a comparison (0 or 1, as where's condition),
 * c * d is one tlu of 2d + c, whose input is one bit wider than d and whose
 * output stays within d's range. Otherwise
 * a * b = floor((a+b)^2/4) - floor((a-b)^2/4): exact because a+b and a-b
 * have the same parity; the squares need twice the bits of a and b. */
static ir_op *lower_mul(ir_func *f, diag_ctx *d, diag_loc loc, ir_op *a, ir_op *b) {
    if (is_bool(a) || is_bool(b)) {
        ir_op *c = is_bool(a) ? a : b, *x = c == a ? b : a;
        ir_op *v = ir_build2(f, d, IR_ADD, loc,
                             ir_build2(f, d, IR_MUL, loc, x, ir_build_scalar_int(f, loc, 2)), c);
        return unpack_product(f, d, loc, v);
    }
    ir_op *s = ir_build2(f, d, IR_ADD, loc, a, b);
    ir_op *t = ir_build2(f, d, IR_SUB, loc, a, b);
    if (!s || !t) return NULL;
    return ir_build2(f, d, IR_SUB, loc, square_quarter(f, d, loc, s), square_quarter(f, d, loc, t));
}

static ir_op *lower_where(ir_func *f, diag_ctx *d, const ir_op *op) {
    ir_op *c = op->args[0], *a = op->args[1], *b = op->args[2];
    diag_loc loc = op->loc;
    ir_op *c01 = c;
    if (c->code == IR_CONST) {
        /* a clear constant condition: normalise it at compile time */
        int64_t n = ir_type_count(&c->type);
        int64_t *v = arena_array(f->mod->arena, (size_t)n, sizeof *v);
        if (!v) return NULL;
        for (int64_t i = 0; i < n; i++) v[i] = c->fdata ? c->fdata[i] != 0 : c->idata[i] != 0;
        ir_type t = c->type;
        t.is_float = false;
        c01 = ir_build_const_int(f, loc, t, v);
    } else if (!is_cmp(c->code)) {
        c01 = ir_build2(f, d, IR_NE, loc, c, ir_build_scalar_int(f, loc, 0));
    }
    /* where(c, a, b) = b + c01 * (a - b) */
    ir_op *diff = ir_build2(f, d, IR_SUB, loc, a, b);
    return ir_build2(f, d, IR_ADD, loc, b, ir_build2(f, d, IR_MUL, loc, c01, diff));
}

static ir_op *lower_matmul(ir_func *f, diag_ctx *d, const ir_op *op) {
    ir_op *a = op->args[0], *b = op->args[1];
    diag_loc loc = op->loc;
    const ir_type *ta = &a->type, *tb = &b->type;
    if (op->code == IR_DOT || (ta->rank == 1 && tb->rank == 1))
        return ir_build_sum(f, d, loc, ir_build2(f, d, IR_MUL, loc, a, b), -1);
    if (ta->rank == 2 && tb->rank == 2) {
        int64_t M = ta->dims[0], K = ta->dims[1], N = tb->dims[1];
        int64_t da[3] = {M, K, 1}, db[3] = {1, K, N}, full[3] = {M, K, N};
        ir_op *a3 = ir_build_broadcast(f, d, loc, ir_build_reshape(f, d, loc, a, 3, da), 3, full);
        ir_op *b3 = ir_build_broadcast(f, d, loc, ir_build_reshape(f, d, loc, b, 3, db), 3, full);
        return ir_build_sum(f, d, loc, ir_build2(f, d, IR_MUL, loc, a3, b3), 1);
    }
    if (ta->rank == 1) { /* [K] @ [K,N] */
        int64_t K = tb->dims[0], N = tb->dims[1];
        int64_t da[2] = {K, 1}, full[2] = {K, N};
        ir_op *a2 = ir_build_broadcast(f, d, loc, ir_build_reshape(f, d, loc, a, 2, da), 2, full);
        return ir_build_sum(f, d, loc, ir_build2(f, d, IR_MUL, loc, a2, b), 0);
    }
    /* [M,K] @ [K] */
    int64_t M = ta->dims[0], K = ta->dims[1];
    int64_t db[2] = {1, K}, full[2] = {M, K};
    ir_op *b2 = ir_build_broadcast(f, d, loc, ir_build_reshape(f, d, loc, b, 2, db), 2, full);
    return ir_build_sum(f, d, loc, ir_build2(f, d, IR_MUL, loc, a, b2), 1);
}

static ir_op *lower_maxpool(ir_func *f, diag_ctx *d, const ir_op *op) {
    ir_op *x = op->args[0];
    if (op->pad[0] || op->pad[1]) {
        diag_error(d, op->loc,
                   "maxpool2d with padding (pad = [%d, %d]) on encrypted data is not supported: "
                   "the padding value would have to be the minimum of the input's domain; use "
                   "pad = 0",
                   op->pad[0], op->pad[1]);
        return NULL;
    }
    int64_t C = x->type.dims[0], OH = op->type.dims[1], OW = op->type.dims[2];
    ir_op *acc = NULL;
    for (int i = 0; i < op->kernel[0]; i++) {
        for (int j = 0; j < op->kernel[1]; j++) {
            int64_t begin[3] = {0, i, j};
            int64_t end[3] = {C, i + (OH - 1) * op->stride[0] + 1, j + (OW - 1) * op->stride[1] + 1};
            int64_t step[3] = {1, op->stride[0], op->stride[1]};
            ir_op *s = ir_build_slice(f, d, op->loc, x, begin, end, step);
            if (!s) return NULL;
            acc = acc ? ir_build2(f, d, IR_MAX, op->loc, acc, s) : s;
            if (!acc) return NULL;
        }
    }
    return acc;
}

/* 1: lower; 0: leave; -1: error reported. */
static int classify(const ir_op *op, diag_ctx *d) {
    if (op->code == IR_MAXPOOL2D) return op->args[0]->type.enc;
    if (op->code == IR_DOT || op->code == IR_MATMUL)
        return op->args[0]->type.enc && op->args[1]->type.enc;
    if (!(ir_op_flags(op->code) & IR_F_ELEMWISE) || op->scratch != PASS_ROOT_MULTI) return 0;
    if (any_multi_arg(op)) return 0; /* fusion reports the operand */
    bool two_enc = n_enc_args(op) >= 2;
    switch (op->code) {
    case IR_DIV:
        diag_error(d, op->loc,
                   two_enc ? "division of two encrypted values is not supported"
                           : "division of an encrypted value and a clear input is not supported "
                             "(divide by constants only)");
        return -1;
    case IR_POW:
        diag_error(d, op->loc,
                   two_enc ? "'pow' of two encrypted values is not supported"
                           : "'pow' of an encrypted value and a clear input is not supported");
        return -1;
    case IR_MUL: case IR_MIN: case IR_MAX:
    case IR_LT: case IR_LE: case IR_GT: case IR_GE: case IR_EQ: case IR_NE:
        return !op->args[0]->type.is_float && !op->args[1]->type.is_float;
    case IR_WHERE:
        return !op->args[1]->type.is_float && !op->args[2]->type.is_float;
    default:
        return 0; /* real-valued: fusion explains why it cannot be a tlu */
    }
}

static ir_op *lower(ir_func *f, diag_ctx *d, ir_op *op) {
    ir_op *a = op->args[0], *b = op->nargs > 1 ? op->args[1] : NULL;
    switch (op->code) {
    case IR_MUL:
        return lower_mul(f, d, op->loc, a, b);
    case IR_MIN:
    case IR_MAX: {
        /* min(a, b) = a - relu(a - b); max(a, b) = b + relu(a - b) */
        ir_op *r = ir_build1(f, d, IR_RELU, op->loc, ir_build2(f, d, IR_SUB, op->loc, a, b));
        return op->code == IR_MIN ? ir_build2(f, d, IR_SUB, op->loc, a, r)
                                  : ir_build2(f, d, IR_ADD, op->loc, b, r);
    }
    case IR_WHERE:
        return lower_where(f, d, op);
    case IR_DOT:
    case IR_MATMUL:
        return lower_matmul(f, d, op);
    case IR_MAXPOOL2D:
        return lower_maxpool(f, d, op);
    default: /* comparisons: a OP b  <=>  (a - b) OP 0 */
        return ir_build2(f, d, op->code, op->loc, ir_build2(f, d, IR_SUB, op->loc, a, b),
                         ir_build_scalar_int(f, op->loc, 0));
    }
}

/* Uses of a lowered op are redirected to its replacement lazily, as the
 * walk reaches each user (users come after their operands): one
 * ir_replace_uses per lowered op would be quadratic (a maxpool lowers into
 * thousands of ops). fwd[id] is the replacement of the op of that id. */
typedef struct fwd_map {
    ir_op **to;
    int cap;
} fwd_map;

static bool fwd_set(fwd_map *w, const ir_op *from, ir_op *to) {
    if (from->id >= w->cap) {
        int cap = w->cap ? w->cap : 64;
        while (cap <= from->id) cap *= 2;
        ir_op **n = realloc(w->to, (size_t)cap * sizeof *n);
        if (!n) return false;
        memset(n + w->cap, 0, (size_t)(cap - w->cap) * sizeof *n);
        w->to = n;
        w->cap = cap;
    }
    w->to[from->id] = to;
    return true;
}

static void fwd_args(const fwd_map *w, ir_op *op) {
    for (int i = 0; i < op->nargs; i++)
        while (op->args[i]->id >= 0 && op->args[i]->id < w->cap && w->to[op->args[i]->id])
            op->args[i] = w->to[op->args[i]->id];
}

bool pass_lower_binary(ir_module *m, diag_ctx *d) {
    ir_func *f = m->main;
    ir_foreach(op, f) op->scratch = NULL;
    fwd_map w = {0};
    bool ok = true;
    ir_op *op = f->first;
    while (op) {
        fwd_args(&w, op);
        op->scratch = pass_root(op);
        int k = classify(op, d);
        if (k < 0) {
            ok = false;
            break;
        }
        if (k == 0) {
            op = op->next;
            continue;
        }
        ir_op *mark = f->last;
        ir_op *res = lower(f, d, op);
        ir_op *first = pass_move_before(f, mark, op);
        if (!res || !fwd_set(&w, op, res)) {
            if (d->errors == 0) diag_error(d, op->loc, "out of memory");
            ok = false;
            break;
        }
        ir_op *next = op->next;
        ir_op_unlink(f, op);
        if (f->next_id > PASS_MAX_OPS) {
            diag_error(d, op->loc, "lowering this '%s' on encrypted data makes the program larger "
                       "than 2^15 operations", ir_op_name(op->code));
            ok = false;
            break;
        }
        op = first ? first : next; /* the new ops get their roots, and are lowered in turn */
    }
    if (!ok) /* leave no use of an unlinked op behind */
        ir_foreach(o, f) fwd_args(&w, o);
    free(w.to);
    return ok;
}
