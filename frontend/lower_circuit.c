/* lower_circuit.c — lowering of circuit-level code (integer programs over
 * encrypted and clear tensors) to the op-graph IR, and lower_unit().
 *
 * What this file decides, beyond one op per operator/builtin:
 *  - Constant folding: an op whose operands are all constants is evaluated
 *    at once (by the IR interpreter, so folding and execution cannot
 *    disagree) and replaced by a `const`. Hence "is a constant" is simply
 *    `op->code == IR_CONST`: `-3`, `2 * 4`, `[1, 2][0]` are constants, and
 *    `const` statements, axes, bits and shapes just check for it.
 *  - The integer/real boundary of circuits. Reals appear in elementwise code
 *    (`/`, sigmoid, lut lambdas, multiplication by a real constant). Such a
 *    chain is legal on encrypted data only because TLU fusion turns it into
 *    one table lookup of a single encrypted integer; see settle() and
 *    combine() for the rule that keeps every real chain a function of one
 *    value.
 * Every op carries the location of the AST node it comes from; the IR
 * builders report type and shape errors at it. */
#include "interp.h"
#include "lower.h"
#include "lower_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct binding {
    const char *name;
    ir_op *val;
} binding;

typedef struct cl {
    arena *a;
    diag_ctx *d;
    ir_module *m;
    ir_func *f;
    arena tmp;            /* constant-folding scratch (freed at the end) */
    ir_module *tmpmod;
    binding *env;         /* latest binding last */
    int nenv, capenv;
    ir_op **roots;        /* by op id: see root() */
    int nroots;
    const char *lam_param; /* inside a lut lambda: its parameter ... */
    ir_op *lam_val;        /* ... bound to tofloat(lut operand) */
    int64_t fold_work;     /* interpreter operations spent folding (ir_op_work) */
} cl;

/* Folding evaluates constants at compile time: at most this many operations
 * in all, so a few lines of broadcasts and products cannot make the
 * compiler compute (and keep) gigabytes of constants. */
#define FOLD_MAX_WORK (INT64_C(1) << 24)

static ir_op *lower_expr(cl *c, const ast_expr *e);

static bool oom(cl *c, diag_loc loc) {
    diag_error(c->d, loc, "out of memory");
    return false;
}

static bool is_const(const ir_op *op) { return op && op->code == IR_CONST; }

/* ---- names ------------------------------------------------------------------ */

static bool bind(cl *c, const char *name, ir_op *v) {
    if (c->nenv == c->capenv) {
        int cap = c->capenv ? c->capenv * 2 : 32;
        binding *n = arena_array(&c->tmp, (size_t)cap, sizeof *n);
        if (!n) return false;
        if (c->nenv) memcpy(n, c->env, (size_t)c->nenv * sizeof *n);
        c->env = n;
        c->capenv = cap;
    }
    c->env[c->nenv++] = (binding){name, v};
    return true;
}

static ir_op *lookup(cl *c, const char *name) {
    for (int i = c->nenv - 1; i >= 0; i--)
        if (strcmp(c->env[i].name, name) == 0) return c->env[i].val;
    return NULL;
}

static void unknown_name(cl *c, diag_loc loc, const char *name) {
    const char **cands = arena_array(&c->tmp, (size_t)c->nenv + 1, sizeof *cands);
    int n = 0;
    if (cands) {
        for (int i = 0; i < c->nenv; i++) cands[n++] = c->env[i].name;
        if (c->lam_param) cands[n++] = c->lam_param;
    }
    lower_unknown(c->d, loc, "name", name, cands, n);
}

/* ---- building, folding, roots ------------------------------------------------ */

/* Evaluates `op` (all operands constant) with the interpreter and replaces
 * it by a constant. The evaluation runs on copies in a scratch function. */
static ir_op *fold(cl *c, ir_op *op) {
    c->fold_work += ir_op_work(op);
    if (c->fold_work > FOLD_MAX_WORK) {
        diag_error(c->d, op->loc, "computing the constants of this circuit takes more than 2^24 "
                                  "operations; constant tensors this large are not supported");
        ir_op_unlink(c->f, op);
        return NULL;
    }
    ir_func *tf = ir_func_new(c->tmpmod, "fold", false);
    ir_op **targs = arena_array(&c->tmp, (size_t)op->nargs, sizeof *targs);
    if (!tf || !targs) return oom(c, op->loc), NULL;
    for (int i = 0; i < op->nargs; i++) {
        const ir_op *k = op->args[i];
        targs[i] = k->fdata ? ir_build_const_float(tf, k->loc, k->type.rank, k->type.dims, k->fdata)
                            : ir_build_const_int(tf, k->loc, k->type, k->idata);
        if (!targs[i]) return oom(c, op->loc), NULL;
    }
    ir_op *t = ir_op_new(tf, op->code, op->loc, op->nargs, targs);
    if (!t) return oom(c, op->loc), NULL;
    ir_op keep = *t;
    *t = *op;
    t->args = keep.args;
    t->id = keep.id;
    t->prev = keep.prev;
    t->next = keep.next;
    t->scratch = NULL;
    if (!ir_build_output(tf, op->loc, "", 0, t)) return oom(c, op->loc), NULL;
    ir_tensor out;
    if (!ir_interp(tf, NULL, &out, c->d, 0, NULL, NULL)) {
        ir_op_unlink(c->f, op);
        return NULL;
    }
    ir_op *k;
    if (out.is_float) {
        k = ir_build_const_float(c->f, op->loc, out.rank, out.dims, out.f);
    } else {
        ir_type ty = {0};
        ty.rank = out.rank;
        memcpy(ty.dims, out.dims, sizeof ty.dims);
        k = ir_build_const_int(c->f, op->loc, ty, out.i);
    }
    ir_tensor_free(&out);
    if (!k) return oom(c, op->loc), NULL;
    ir_op_unlink(c->f, op);
    return k;
}

static bool foldable(const ir_op *op) {
    if (op->nargs == 0 || op->code == IR_ROUND || op->code == IR_TLU || op->code == IR_OUTPUT)
        return false;
    for (int i = 0; i < op->nargs; i++)
        if (!is_const(op->args[i])) return false;
    return true;
}

static ir_op *finish(cl *c, ir_op *op) {
    if (op && foldable(op)) return fold(c, op);
    return op;
}

/* root(v): the one non-constant value that v is an elementwise function of
 * (v itself when v is not elementwise or combines several such values);
 * NULL for constants. A real chain is fusible into a table lookup exactly
 * when all its non-constant operands share one root. */
static ir_op *root(cl *c, ir_op *op) {
    if (is_const(op)) return NULL;
    if (op->id >= 0 && op->id < c->nroots && c->roots[op->id]) return c->roots[op->id];
    return op;
}

static bool set_root(cl *c, ir_op *op, ir_op *r) {
    if (op->id >= c->nroots) {
        int n = c->nroots ? c->nroots : 64;
        while (n <= op->id) n *= 2;
        ir_op **nr = arena_array(&c->tmp, (size_t)n, sizeof *nr);
        if (!nr) return false;
        if (c->nroots) memcpy(nr, c->roots, (size_t)c->nroots * sizeof *nr);
        c->roots = nr;
        c->nroots = n;
    }
    c->roots[op->id] = r;
    return true;
}

/* Builds an elementwise op without looking at roots (operands are known to
 * be integers, or to share a root). */
static ir_op *raw(cl *c, ir_opcode code, diag_loc loc, int n, ir_op *const *args) {
    return finish(c, ir_build(c->f, c->d, code, loc, n, args));
}

static ir_op *ew(cl *c, ir_opcode code, diag_loc loc, int n, ir_op *const *args);

static ir_op *ew1(cl *c, ir_opcode code, diag_loc loc, ir_op *x) { return ew(c, code, loc, 1, &x); }

static ir_op *ew2(cl *c, ir_opcode code, diag_loc loc, ir_op *x, ir_op *y) {
    ir_op *args[2] = {x, y};
    return ew(c, code, loc, 2, args);
}

/* THE INTEGER/REAL RULE OF CIRCUITS. A real value computed from non-constant
 * data (an encrypted value, or a clear input) is only meaningful inside
 * elementwise code, where TLU fusion folds the whole chain from one integer
 * into one table. So it becomes an integer — `toint`, nearest, halves away
 * from zero — where it leaves elementwise code:
 *   - before it feeds a non-elementwise op (sum, dot, matmul, reshape,
 *     slice, concat, transpose, round, lut's index ...);
 *   - at `return`;
 *   - before it is combined with a value of another root (combine()), since
 *     a table can only be a function of one value.
 * So `return sigmoid(x) * 10` returns integers, and `sum(x / 2)` sums the
 * rounded halves. Real constants stay real (they are folded into tables). */
static ir_op *settle(cl *c, ir_op *x, diag_loc loc) {
    if (!x || !x->type.is_float || is_const(x)) return x;
    return ew1(c, IR_TOINT, loc, x);
}

static ir_op *settle_all(cl *c, ir_op *x, diag_loc loc) {
    if (x && x->type.is_float && is_const(x)) return ew1(c, IR_TOINT, loc, x); /* folds */
    return settle(c, x, loc);
}

/* An elementwise op whose non-constant operands have different roots: it is
 * not a function of one value, so it is rewritten into integer operations
 * that are (linear ops, and univariate ops of a difference):
 *   a < b          ->  (a - b) < 0         (all comparisons alike)
 *   min(a, b)      ->  a - relu(a - b)
 *   max(a, b)      ->  b + relu(a - b)
 *   where(k, a, b) ->  b + (k != 0) * (a - b)
 * `mul` of two encrypted values stays (bit-width passes lower it to TLUs);
 * `/` and `pow` of two non-constants cannot be computed and are errors. */
static ir_op *combine(cl *c, ir_opcode code, diag_loc loc, int n, ir_op *const *args) {
    ir_op *s[3];
    for (int i = 0; i < n; i++) {
        s[i] = code == IR_WHERE ? settle_all(c, args[i], loc) : settle(c, args[i], loc);
        if (!s[i]) return NULL;
    }
    switch (code) {
    case IR_ADD:
    case IR_SUB:
    case IR_MUL:
        return raw(c, code, loc, n, s);
    case IR_LT: case IR_LE: case IR_GT: case IR_GE: case IR_EQ: case IR_NE: {
        ir_op *diff = raw(c, IR_SUB, loc, 2, s);
        ir_op *zero = ir_build_scalar_int(c->f, loc, 0);
        if (!diff || !zero) return NULL;
        return ew2(c, code, loc, diff, zero);
    }
    case IR_MIN:
    case IR_MAX: {
        ir_op *diff = raw(c, IR_SUB, loc, 2, s);
        ir_op *r = diff ? ew1(c, IR_RELU, loc, diff) : NULL;
        if (!r) return NULL;
        ir_op *args2[2] = {code == IR_MIN ? s[0] : s[1], r};
        return raw(c, code == IR_MIN ? IR_SUB : IR_ADD, loc, 2, args2);
    }
    case IR_WHERE: {
        ir_op *zero = ir_build_scalar_int(c->f, loc, 0);
        ir_op *k = zero ? ew2(c, IR_NE, loc, s[0], zero) : NULL;
        ir_op *ab[2] = {s[1], s[2]};
        ir_op *diff = k ? raw(c, IR_SUB, loc, 2, ab) : NULL;
        ir_op *kd[2] = {k, diff};
        ir_op *prod = diff ? raw(c, IR_MUL, loc, 2, kd) : NULL;
        ir_op *bp[2] = {s[2], prod};
        return prod ? raw(c, IR_ADD, loc, 2, bp) : NULL;
    }
    default:
        diag_error(c->d, loc,
                   "'%s' of two non-constant values cannot be computed: a table lookup evaluates "
                   "a function of one encrypted value (one operand must be a constant)",
                   ir_op_name(code));
        return NULL;
    }
}

static ir_op *ew(cl *c, ir_opcode code, diag_loc loc, int n, ir_op *const *args) {
    ir_op *r0 = NULL;
    bool multi = false;
    for (int i = 0; i < n; i++) {
        if (!args[i]) return NULL;
        ir_op *r = root(c, args[i]);
        if (!r) continue;
        if (!r0) r0 = r;
        else if (r != r0) multi = true;
    }
    if (multi) return combine(c, code, loc, n, args);
    ir_op *op = raw(c, code, loc, n, args);
    if (op && r0 && !is_const(op) && !set_root(c, op, r0)) return oom(c, loc), NULL;
    return op;
}

/* Operands of a non-elementwise op: reals leave elementwise code (settle);
 * a real constant next to a non-constant operand cannot be computed on
 * integers. */
static bool tensor_operands(cl *c, const char *what, diag_loc loc, int n, ir_op **args) {
    bool all_const = true;
    for (int i = 0; i < n; i++) {
        args[i] = settle(c, args[i], loc);
        if (!args[i]) return false;
        all_const &= is_const(args[i]);
    }
    if (all_const) return true;
    for (int i = 0; i < n; i++)
        if (args[i]->type.is_float) {
            diag_error(c->d, loc,
                       "'%s' with a real constant operand: circuits compute on integers "
                       "(round the constant, or write a model to have it quantized)",
                       what);
            return false;
        }
    return true;
}

/* ---- constant arguments ------------------------------------------------------ */

/* A constant integer (axis, bits, index). */
static bool const_int(cl *c, const ast_expr *e, const char *what, int64_t *v) {
    ir_op *x = lower_expr(c, e);
    if (!x) return false;
    if (!is_const(x) || x->type.is_float || x->type.rank != 0) {
        diag_error(c->d, e->loc, "%s must be a constant integer", what);
        return false;
    }
    *v = x->idata[0];
    return true;
}

/* A constant integer list ([2, 3] or a single integer). */
static bool const_ints(cl *c, const ast_expr *e, const char *what, int *n, int64_t *v) {
    ir_op *x = lower_expr(c, e);
    if (!x) return false;
    if (!is_const(x) || x->type.is_float || x->type.rank > 1) {
        diag_error(c->d, e->loc, "%s must be a constant list of integers", what);
        return false;
    }
    int64_t cnt = ir_type_count(&x->type);
    if (cnt > IR_MAX_RANK) {
        diag_error(c->d, e->loc, "%s has %" PRId64 " entries; tensors have at most %d dimensions",
                   what, cnt, IR_MAX_RANK);
        return false;
    }
    *n = (int)cnt;
    memcpy(v, x->idata, (size_t)cnt * sizeof *v);
    return true;
}

static bool norm_axis(cl *c, diag_loc loc, int64_t *axis, int rank) {
    int64_t a = *axis < 0 ? *axis + rank : *axis;
    if (a < 0 || a >= rank) {
        diag_error(c->d, loc, "axis %" PRId64 " is out of range for a tensor of rank %d", *axis,
                   rank);
        return false;
    }
    *axis = a;
    return true;
}

/* ---- tensor literals ------------------------------------------------------------ */

static ir_op *const_from_lit(cl *c, diag_loc loc, const lower_lit *l) {
    if (!l->all_int) return ir_build_const_float(c->f, loc, l->rank, l->dims, l->fv);
    ir_type t = {0};
    t.rank = l->rank;
    memcpy(t.dims, l->dims, sizeof t.dims);
    return ir_build_const_int(c->f, loc, t, l->iv);
}

/* [e0, e1, ...] with non-literal elements: stack them along a new axis 0. */
static ir_op *lower_stack(cl *c, const ast_expr *e) {
    int n = e->u.tensor.count;
    ir_op **el = arena_array(&c->tmp, (size_t)n, sizeof *el);
    if (!el) return oom(c, e->loc), NULL;
    for (int i = 0; i < n; i++) {
        el[i] = lower_expr(c, e->u.tensor.elems[i]);
        if (!el[i]) return NULL;
        if (!ir_type_same_shape(&el[i]->type, &el[0]->type)) {
            char s0[64], s1[64];
            diag_error(c->d, e->u.tensor.elems[i]->loc,
                       "ragged tensor literal: element of shape %s, the first has shape %s",
                       lower_shape_str(el[i]->type.rank, el[i]->type.dims, s1, sizeof s1),
                       lower_shape_str(el[0]->type.rank, el[0]->type.dims, s0, sizeof s0));
            return NULL;
        }
    }
    if (el[0]->type.rank >= IR_MAX_RANK) {
        diag_error(c->d, e->loc, "tensor literal has more than %d dimensions", IR_MAX_RANK);
        return NULL;
    }
    /* Stacking is not elementwise: reals are settled, and a real element
     * next to non-constant ones is an error; so if any element is real, all
     * are constants and converting the integers folds. */
    if (!tensor_operands(c, "tensor literal", e->loc, n, el)) return NULL;
    bool any_float = false;
    for (int i = 0; i < n; i++) any_float |= el[i]->type.is_float;
    int64_t dims[IR_MAX_RANK];
    dims[0] = 1;
    memcpy(dims + 1, el[0]->type.dims, (size_t)el[0]->type.rank * sizeof *dims);
    for (int i = 0; i < n; i++) {
        if (any_float && !el[i]->type.is_float) el[i] = ew1(c, IR_TOFLOAT, e->loc, el[i]);
        if (!el[i]) return NULL;
        el[i] = finish(c, ir_build_reshape(c->f, c->d, e->loc, el[i], el[i]->type.rank + 1, dims));
        if (!el[i]) return NULL;
    }
    return finish(c, ir_build_concat(c->f, c->d, e->loc, n, el, 0));
}

static ir_op *lower_tensor(cl *c, const ast_expr *e) {
    lower_lit l;
    int r = lower_literal(c->a, c->d, e, &l);
    if (r < 0) return NULL;
    if (r > 0) return const_from_lit(c, e->loc, &l);
    return lower_stack(c, e);
}

/* ---- indexing ------------------------------------------------------------------ */

/* x[i, a:b:s, ...]: Python semantics (negative indices count from the end,
 * slice bounds are clamped); an integer index drops its dimension. */
static ir_op *lower_index(cl *c, const ast_expr *e) {
    if (c->lam_param) {
        diag_error(c->d, e->loc,
                   "indexing cannot be used in a lut expression: it is applied to each element");
        return NULL;
    }
    ir_op *x = lower_expr(c, e->u.index.base);
    x = settle(c, x, e->loc);
    if (!x) return NULL;
    int rank = x->type.rank, n = e->u.index.count;
    if (n > rank) {
        diag_error(c->d, e->loc, "too many indices (%d) for a tensor of rank %d", n, rank);
        return NULL;
    }
    int64_t begin[IR_MAX_RANK], end[IR_MAX_RANK], step[IR_MAX_RANK];
    int64_t keep[IR_MAX_RANK];
    int nkeep = 0;
    bool trivial = true;
    for (int i = 0; i < rank; i++) {
        int64_t dim = x->type.dims[i];
        begin[i] = 0;
        end[i] = dim;
        step[i] = 1;
        const ast_index_item *it = i < n ? &e->u.index.items[i] : NULL;
        if (it && !it->is_slice) {
            int64_t v;
            if (!const_int(c, it->index, "an index", &v)) return NULL;
            int64_t k = v < 0 ? v + dim : v;
            if (k < 0 || k >= dim) {
                diag_error(c->d, it->index->loc,
                           "index %" PRId64 " is out of bounds for dimension %d of size %" PRId64,
                           v, i, dim);
                return NULL;
            }
            begin[i] = k;
            end[i] = k + 1;
            trivial &= dim == 1;
            continue;
        }
        if (it) {
            if (it->step) {
                if (!const_int(c, it->step, "a slice step", &step[i])) return NULL;
                if (step[i] == 0) {
                    diag_error(c->d, it->step->loc, "slice step cannot be zero");
                    return NULL;
                }
                if (step[i] < 0) {
                    diag_error(c->d, it->step->loc, "negative slice steps are not supported");
                    return NULL;
                }
            }
            int64_t *bound[2] = {&begin[i], &end[i]};
            const ast_expr *be[2] = {it->lo, it->hi};
            for (int j = 0; j < 2; j++) {
                if (!be[j]) continue;
                int64_t v;
                if (!const_int(c, be[j], "a slice bound", &v)) return NULL;
                if (v < 0) v += dim;
                *bound[j] = v < 0 ? 0 : v > dim ? dim : v;
            }
            if (end[i] <= begin[i]) {
                diag_error(c->d, e->loc, "empty slice in dimension %d (size %" PRId64 ")", i,
                           dim);
                return NULL;
            }
        }
        int64_t len = 1 + (end[i] - begin[i] - 1) / step[i]; /* end > begin; step may be huge */
        trivial &= len == dim;
        keep[nkeep++] = len;
    }
    if (!trivial) x = finish(c, ir_build_slice(c->f, c->d, e->loc, x, begin, end, step));
    if (x && nkeep != rank) x = finish(c, ir_build_reshape(c->f, c->d, e->loc, x, nkeep, keep));
    return x;
}

/* ---- builtins ------------------------------------------------------------------ */

typedef enum {
    B_SUM, B_DOT, B_MATMUL, B_RESHAPE, B_TRANSPOSE, B_CONCAT, B_LUT, B_ROUND, B_ELEM, B_CLIP,
} bkind;

typedef struct builtin {
    const char *name;
    bkind kind;
    ir_opcode op; /* B_ELEM */
    int min, max;
    bool elemwise; /* usable inside a lut lambda */
} builtin;

static const builtin builtins[] = {
    {"sum", B_SUM, 0, 1, 2, false},
    {"dot", B_DOT, IR_DOT, 2, 2, false},
    {"matmul", B_MATMUL, IR_MATMUL, 2, 2, false},
    {"reshape", B_RESHAPE, 0, 2, 2, false},
    {"transpose", B_TRANSPOSE, 0, 1, 2, false},
    {"concat", B_CONCAT, 0, 1, -1, false},
    {"lut", B_LUT, IR_LOOKUP, 2, 2, true},
    {"round", B_ROUND, 0, 1, 2, true},
    {"min", B_ELEM, IR_MIN, 2, 2, true},
    {"max", B_ELEM, IR_MAX, 2, 2, true},
    {"abs", B_ELEM, IR_ABS, 1, 1, true},
    {"relu", B_ELEM, IR_RELU, 1, 1, true},
    {"where", B_ELEM, IR_WHERE, 3, 3, true},
    {"clip", B_CLIP, 0, 3, 3, true},
    {"sigmoid", B_ELEM, IR_SIGMOID, 1, 1, true},
    {"tanh", B_ELEM, IR_TANH, 1, 1, true},
    {"exp", B_ELEM, IR_EXP, 1, 1, true},
    {"log", B_ELEM, IR_LOG, 1, 1, true},
    {"sqrt", B_ELEM, IR_SQRT, 1, 1, true},
    {"floor", B_ELEM, IR_FLOOR, 1, 1, true},
    {"ceil", B_ELEM, IR_CEIL, 1, 1, true},
    {"gelu", B_ELEM, IR_GELU, 1, 1, true},
    {"softplus", B_ELEM, IR_SOFTPLUS, 1, 1, true},
    {"silu", B_ELEM, IR_SILU, 1, 1, true},
    {"sin", B_ELEM, IR_SIN, 1, 1, true},
    {"cos", B_ELEM, IR_COS, 1, 1, true},
    {"pow", B_ELEM, IR_POW, 2, 2, true},
};
enum { NBUILTINS = sizeof builtins / sizeof builtins[0] };

/* Model-level names, recognised to say they belong to models. */
static const char *const model_only[] = {"dense",   "conv2d", "avgpool2d", "maxpool2d",
                                         "flatten", "argmax", "softmax"};

static ir_op *lower_lut(cl *c, const ast_expr *e) {
    const ast_expr *tab_e = e->u.call.args[1];
    ir_op *x = lower_expr(c, e->u.call.args[0]);
    /* The table is indexed by integers: a real operand is rounded first. */
    x = settle_all(c, x, e->loc);
    if (!x) return NULL;
    if (tab_e->kind == AST_LAMBDA) {
        /* lut(x, (v) => body): v is x as a real; the body is real arithmetic
         * of v and constants; its value is rounded back to an integer. */
        ir_op *v = ew1(c, IR_TOFLOAT, tab_e->loc, x);
        if (!v) return NULL;
        const char *saved_p = c->lam_param;
        ir_op *saved_v = c->lam_val;
        c->lam_param = tab_e->u.lambda.param;
        c->lam_val = v;
        ir_op *body = lower_expr(c, tab_e->u.lambda.body);
        c->lam_param = saved_p;
        c->lam_val = saved_v;
        if (!body) return NULL;
        if (body->type.is_float) body = ew1(c, IR_TOINT, e->loc, body);
        if (body && !ir_type_same_shape(&body->type, &x->type)) {
            ir_type o;
            if (!ir_broadcast_shape(&body->type, &x->type, &o) ||
                !ir_type_same_shape(&o, &x->type)) {
                char s0[64], s1[64];
                diag_error(c->d, tab_e->loc,
                           "the lut expression has shape %s but the lut operand has shape %s",
                           lower_shape_str(body->type.rank, body->type.dims, s0, sizeof s0),
                           lower_shape_str(x->type.rank, x->type.dims, s1, sizeof s1));
                return NULL;
            }
            body = finish(c, ir_build_broadcast(c->f, c->d, e->loc, body, x->type.rank,
                                                x->type.dims));
        }
        return body;
    }
    ir_op *tab = lower_expr(c, tab_e);
    if (!tab) return NULL;
    if (!is_const(tab)) {
        diag_error(c->d, tab_e->loc, "the table of 'lut' must be a constant list or a lambda");
        return NULL;
    }
    if (tab->type.rank != 1) {
        char s[64];
        diag_error(c->d, tab_e->loc, "the table of 'lut' must be one-dimensional, got shape %s",
                   lower_shape_str(tab->type.rank, tab->type.dims, s, sizeof s));
        return NULL;
    }
    /* Table entries are integers: real entries are rounded (halves away). */
    if (tab->type.is_float) tab = ew1(c, IR_TOINT, tab_e->loc, tab);
    return tab ? ew2(c, IR_LOOKUP, e->loc, tab, x) : NULL;
}

static const char *const concat_kw[] = {"axis", NULL};

static ir_op *lower_call(cl *c, const ast_expr *e) {
    const char *name = e->u.call.name;
    const builtin *b = NULL;
    for (int i = 0; i < NBUILTINS; i++)
        if (strcmp(builtins[i].name, name) == 0) b = &builtins[i];
    if (!b) {
        for (size_t i = 0; i < sizeof model_only / sizeof *model_only; i++)
            if (strcmp(model_only[i], name) == 0) {
                diag_error(c->d, e->loc, "'%s' is a model-level operation; it is not available in "
                                         "a circuit", name);
                return NULL;
            }
        if (lookup(c, name) || (c->lam_param && strcmp(c->lam_param, name) == 0)) {
            diag_error(c->d, e->loc, "'%s' is not a function", name);
            return NULL;
        }
        const char *cands[NBUILTINS];
        for (int i = 0; i < NBUILTINS; i++) cands[i] = builtins[i].name;
        lower_unknown(c->d, e->loc, "function", name, cands, NBUILTINS);
        return NULL;
    }
    int nargs = e->u.call.nargs;
    if (!lower_check_nargs(c->d, e, b->min, b->max)) return NULL;
    if (!lower_check_kwargs(c->d, e, b->kind == B_CONCAT ? concat_kw : NULL)) return NULL;
    if (c->lam_param && (!b->elemwise || (b->kind == B_ROUND && nargs == 2))) {
        diag_error(c->d, e->loc,
                   "'%s' cannot be used in a lut expression: the expression is applied to each "
                   "element separately", name);
        return NULL;
    }
    if (b->kind == B_LUT) return lower_lut(c, e);
    ast_expr *const *ae = e->u.call.args;
    ir_op *x = lower_expr(c, ae[0]);
    if (!x) return NULL;
    switch (b->kind) {
    case B_SUM: {
        int64_t axis = -1;
        if (!tensor_operands(c, name, e->loc, 1, &x)) return NULL;
        if (nargs == 2) {
            if (!const_int(c, ae[1], "the axis of 'sum'", &axis)) return NULL;
            if (!norm_axis(c, ae[1]->loc, &axis, x->type.rank)) return NULL;
        }
        return finish(c, ir_build_sum(c->f, c->d, e->loc, x, (int)axis));
    }
    case B_DOT:
    case B_MATMUL: {
        ir_op *args[2] = {x, lower_expr(c, ae[1])};
        if (!args[1] || !tensor_operands(c, name, e->loc, 2, args)) return NULL;
        return finish(c, ir_build(c->f, c->d, b->op, e->loc, 2, args));
    }
    case B_RESHAPE: {
        int n;
        int64_t dims[IR_MAX_RANK];
        if (!tensor_operands(c, name, e->loc, 1, &x)) return NULL;
        if (!const_ints(c, ae[1], "the shape of 'reshape'", &n, dims)) return NULL;
        /* One -1 takes what the others leave, as numpy. */
        int infer = -1;
        int64_t known = 1;
        for (int i = 0; i < n; i++) {
            if (dims[i] == -1 && infer < 0) infer = i;
            else if (dims[i] < 1) {
                diag_error(c->d, ae[1]->loc, "reshape dimensions must be positive (or one -1)");
                return NULL;
            } else if (dims[i] > IR_MAX_ELEMENTS / known) {
                diag_error(c->d, ae[1]->loc, "the shape of 'reshape' has more than 2^24 elements");
                return NULL;
            } else known *= dims[i];
        }
        int64_t count = ir_type_count(&x->type);
        if (infer >= 0) {
            if (count % known != 0) {
                char s[64];
                diag_error(c->d, e->loc, "cannot reshape %s (%" PRId64 " elements) with a -1 "
                           "dimension: %" PRId64 " does not divide it",
                           lower_shape_str(x->type.rank, x->type.dims, s, sizeof s), count, known);
                return NULL;
            }
            dims[infer] = count / known;
        }
        return finish(c, ir_build_reshape(c->f, c->d, e->loc, x, n, dims));
    }
    case B_TRANSPOSE: {
        int64_t perm[IR_MAX_RANK];
        if (!tensor_operands(c, name, e->loc, 1, &x)) return NULL;
        if (nargs == 2) {
            int n;
            if (!const_ints(c, ae[1], "the permutation of 'transpose'", &n, perm)) return NULL;
            if (n != x->type.rank) {
                diag_error(c->d, ae[1]->loc,
                           "the permutation of 'transpose' has %d entries, the tensor has rank %d",
                           n, x->type.rank);
                return NULL;
            }
            for (int i = 0; i < n; i++)
                if (perm[i] < 0) perm[i] += n;
        }
        return finish(c, ir_build_transpose(c->f, c->d, e->loc, x, nargs == 2 ? perm : NULL));
    }
    case B_CONCAT: {
        ir_op **args = arena_array(&c->tmp, (size_t)nargs, sizeof *args);
        if (!args) return oom(c, e->loc), NULL;
        args[0] = x;
        bool any_float = false;
        for (int i = 1; i < nargs; i++)
            if (!(args[i] = lower_expr(c, ae[i]))) return NULL;
        if (!tensor_operands(c, name, e->loc, nargs, args)) return NULL;
        for (int i = 0; i < nargs; i++) any_float |= args[i]->type.is_float;
        for (int i = 0; i < nargs && any_float; i++) /* constants only, see tensor_operands */
            if (!args[i]->type.is_float && !(args[i] = ew1(c, IR_TOFLOAT, e->loc, args[i])))
                return NULL;
        int64_t axis = 0;
        const ast_expr *ax = lower_kwarg(e, "axis");
        if (ax && !const_int(c, ax, "the axis of 'concat'", &axis)) return NULL;
        if (!norm_axis(c, ax ? ax->loc : e->loc, &axis, args[0]->type.rank)) return NULL;
        return finish(c, ir_build_concat(c->f, c->d, e->loc, nargs, args, (int)axis));
    }
    case B_ROUND: {
        if (nargs == 1) /* round(x): nearest integer-valued real; integers are unchanged */
            return x->type.is_float ? ew1(c, IR_RINT, e->loc, x) : x;
        int64_t bits;
        if (!const_int(c, ae[1], "the bit count of 'round'", &bits)) return NULL;
        if (bits < 1 || bits > 62) {
            diag_error(c->d, ae[1]->loc, "'round' keeps 1 to 62 bits, got %" PRId64, bits);
            return NULL;
        }
        x = settle(c, x, e->loc);
        if (!x) return NULL;
        if (x->type.is_float) {
            diag_error(c->d, ae[0]->loc, "'round' with a bit count needs an integer operand");
            return NULL;
        }
        return ir_build_round(c->f, c->d, e->loc, x, (int)bits, -1);
    }
    case B_CLIP: {
        ir_op *lo = lower_expr(c, ae[1]);
        ir_op *hi = lo ? lower_expr(c, ae[2]) : NULL;
        ir_op *m = hi ? ew2(c, IR_MAX, e->loc, x, lo) : NULL;
        return m ? ew2(c, IR_MIN, e->loc, m, hi) : NULL;
    }
    case B_ELEM: {
        ir_op *args[3] = {x, NULL, NULL};
        for (int i = 1; i < nargs; i++)
            if (!(args[i] = lower_expr(c, ae[i]))) return NULL;
        if ((b->op == IR_FLOOR || b->op == IR_CEIL) && !x->type.is_float) return x;
        return ew(c, b->op, e->loc, nargs, args);
    }
    default:
        return NULL;
    }
}

/* ---- expressions ---------------------------------------------------------------- */

static ir_op *lower_name(cl *c, const ast_expr *e) {
    const char *name = e->u.str;
    if (c->lam_param && strcmp(name, c->lam_param) == 0) return c->lam_val;
    ir_op *v = lookup(c, name);
    if (!v) {
        unknown_name(c, e->loc, name);
        return NULL;
    }
    if (c->lam_param && !is_const(v)) {
        diag_error(c->d, e->loc,
                   "a lut expression may only use its parameter ('%s') and constants; '%s' is "
                   "not a constant", c->lam_param, name);
        return NULL;
    }
    return v;
}

static const ir_opcode binop[] = {
    [AST_OP_ADD] = IR_ADD, [AST_OP_SUB] = IR_SUB, [AST_OP_MUL] = IR_MUL,
    [AST_OP_DIV] = IR_DIV, [AST_OP_MATMUL] = IR_MATMUL, [AST_OP_LT] = IR_LT,
    [AST_OP_LE] = IR_LE,   [AST_OP_GT] = IR_GT,         [AST_OP_GE] = IR_GE,
    [AST_OP_EQ] = IR_EQ,   [AST_OP_NE] = IR_NE,         [AST_OP_NEG] = IR_NEG,
};

static ir_op *lower_expr(cl *c, const ast_expr *e) {
    switch (e->kind) {
    case AST_INT:
        return ir_build_scalar_int(c->f, e->loc, e->u.ival);
    case AST_FLOAT:
        return ir_build_scalar_float(c->f, e->loc, e->u.fval);
    case AST_STRING:
        diag_error(c->d, e->loc, "a string literal is not a value (strings only name files, "
                                 "after 'calibrate')");
        return NULL;
    case AST_TENSOR:
        return lower_tensor(c, e);
    case AST_NAME:
        return lower_name(c, e);
    case AST_UNARY:
        return ew1(c, IR_NEG, e->loc, lower_expr(c, e->u.bin.lhs));
    case AST_BINARY: {
        ir_op *args[2] = {lower_expr(c, e->u.bin.lhs), NULL};
        if (!args[0] || !(args[1] = lower_expr(c, e->u.bin.rhs))) return NULL;
        ir_opcode code = binop[e->u.bin.op];
        if (code != IR_MATMUL) return ew(c, code, e->loc, 2, args);
        if (c->lam_param) {
            diag_error(c->d, e->loc, "'@' cannot be used in a lut expression: the expression is "
                                     "applied to each element separately");
            return NULL;
        }
        if (!tensor_operands(c, "@", e->loc, 2, args)) return NULL;
        return finish(c, ir_build(c->f, c->d, IR_MATMUL, e->loc, 2, args));
    }
    case AST_CALL:
        return lower_call(c, e);
    case AST_INDEX:
        return lower_index(c, e);
    case AST_LAMBDA:
        diag_error(c->d, e->loc, "a lambda can only be the table of 'lut' (its second argument)");
        return NULL;
    }
    return NULL;
}

/* ---- statements ------------------------------------------------------------------ */

static void type_name(const ast_type *t, char *buf, size_t size) {
    int n = snprintf(buf, size, "%c%d", t->kind == AST_TY_FLOAT ? 'f' : t->is_signed ? 'i' : 'u',
                     t->bits);
    if (t->rank && n > 0 && (size_t)n < size) lower_shape_str(t->rank, t->dims, buf + n, size - (size_t)n);
}

/* `const name: T = value`: the value must fit T exactly (shape and range). */
static ir_op *typed_const(cl *c, const ast_stmt *s, ir_op *v) {
    const ast_type *t = &s->type;
    char tn[96];
    type_name(t, tn, sizeof tn);
    if (t->kind == AST_TY_ENC) {
        diag_error(c->d, t->loc, "a const cannot be encrypted");
        return NULL;
    }
    ir_type want = {0};
    want.rank = t->rank;
    memcpy(want.dims, t->dims, sizeof want.dims);
    if (!ir_type_same_shape(&want, &v->type)) {
        char s1[64];
        diag_error(c->d, s->value->loc, "const '%s' is declared %s but its value has shape %s",
                   s->name, tn, lower_shape_str(v->type.rank, v->type.dims, s1, sizeof s1));
        return NULL;
    }
    int64_t n = ir_type_count(&v->type);
    if (t->kind == AST_TY_FLOAT) {
        if (v->type.is_float) return v;
        double *fv = arena_array(c->a, (size_t)n, sizeof *fv);
        if (!fv) return oom(c, s->loc), NULL;
        for (int64_t i = 0; i < n; i++) fv[i] = (double)v->idata[i];
        return ir_build_const_float(c->f, v->loc, v->type.rank, v->type.dims, fv);
    }
    want.is_signed = t->is_signed;
    want.bits = t->bits;
    int64_t lo, hi;
    ir_type_range(&want, &lo, &hi);
    int64_t *iv = arena_array(c->a, (size_t)n, sizeof *iv);
    if (!iv) return oom(c, s->loc), NULL;
    for (int64_t i = 0; i < n; i++) {
        if (v->type.is_float) {
            double x = v->fdata[i];
            if (x != floor(x) || !(fabs(x) < 9e18)) {
                diag_error(c->d, s->value->loc, "const '%s' has integer type %s but its value "
                           "%g is not an integer", s->name, tn, x);
                return NULL;
            }
            iv[i] = (int64_t)x;
        } else {
            iv[i] = v->idata[i];
        }
        if (iv[i] < lo || iv[i] > hi) {
            diag_error(c->d, s->value->loc,
                       "value %" PRId64 " of const '%s' does not fit its type %s (%" PRId64
                       " to %" PRId64 ")", iv[i], s->name, tn, lo, hi);
            return NULL;
        }
    }
    ir_op *k = ir_build_const_int(c->f, v->loc, want, iv);
    if (!k) return oom(c, s->loc), NULL;
    k->type.bits = t->bits; /* the declared width, not the values' */
    k->type.is_signed = t->is_signed;
    return k;
}

static bool lower_stmt(cl *c, const ast_stmt *s, int *noutputs) {
    switch (s->kind) {
    case AST_ASSIGN: {
        ir_op *v = lower_expr(c, s->value);
        if (!v) return false;
        if (s->is_const) {
            if (!is_const(v)) {
                diag_error(c->d, s->value->loc,
                           "const '%s' depends on an input; a const must be computable at "
                           "compile time", s->name);
                return false;
            }
            if (s->has_type && !(v = typed_const(c, s, v))) return false;
        }
        return bind(c, s->name, v) || oom(c, s->loc);
    }
    case AST_RETURN: {
        /* All values first, then the outputs: outputs end the function. */
        ir_op **vals = arena_array(&c->tmp, (size_t)s->nvalues, sizeof *vals);
        if (!vals) return oom(c, s->loc);
        for (int i = 0; i < s->nvalues; i++) {
            const ast_expr *e = s->values[i];
            ir_op *v = vals[i] = settle(c, lower_expr(c, e), e->loc);
            if (!v) return false;
            if (!v->type.enc) {
                diag_error(c->d, e->loc, "circuit output does not depend on any encrypted input");
                return false;
            }
        }
        for (int i = 0; i < s->nvalues; i++) {
            const ast_expr *e = s->values[i];
            ir_op *v = vals[i];
            const char *name = e->kind == AST_NAME ? e->u.str : NULL;
            if (!name) {
                char buf[32];
                snprintf(buf, sizeof buf, "out%d", i);
                name = arena_strndup(c->a, buf, strlen(buf));
            }
            if (!name || !ir_build_output(c->f, e->loc, name, (*noutputs)++, v))
                return oom(c, e->loc);
        }
        return true;
    }
    case AST_INPUT:
    case AST_QUANTIZE:
    case AST_PARAM: {
        static const char *const kw[] = {[AST_INPUT] = "input", [AST_QUANTIZE] = "quantize",
                                         [AST_PARAM] = "param"};
        diag_error(c->d, s->loc, "'%s' is only allowed in a model, not in a circuit", kw[s->kind]);
        return false;
    }
    }
    return false;
}

static ir_module *lower_circuit(arena *a, diag_ctx *d, const ast_unit *u) {
    cl c = {.a = a, .d = d};
    arena_init(&c.tmp);
    int errors = d->errors;
    c.m = ir_module_new(a, IR_UNIT_CIRCUIT, u->name);
    c.tmpmod = ir_module_new(&c.tmp, IR_UNIT_CIRCUIT, "fold");
    if (!c.m || !c.tmpmod) {
        oom(&c, u->loc);
        goto done;
    }
    c.f = c.m->main;
    for (int i = 0; i < u->nparams; i++) {
        const ast_param *p = &u->params[i];
        for (int j = 0; j < i; j++)
            if (strcmp(u->params[j].name, p->name) == 0) {
                diag_error(d, p->loc, "duplicate parameter '%s'", p->name);
                diag_note(d, u->params[j].loc, "'%s' was declared here", p->name);
                goto done;
            }
        if (p->type.kind == AST_TY_FLOAT) {
            diag_error(d, p->type.loc, "circuit parameter '%s' has a real type; circuit inputs are "
                       "integers (write a model to quantize real inputs)", p->name);
            goto done;
        }
        ir_type t = {0};
        t.enc = p->type.kind == AST_TY_ENC;
        t.is_signed = p->type.is_signed;
        t.bits = p->type.bits;
        t.rank = p->type.rank;
        memcpy(t.dims, p->type.dims, sizeof t.dims);
        ir_op *in = ir_build_input(c.f, p->loc, p->name, i, t);
        if (!in || !bind(&c, p->name, in)) {
            oom(&c, p->loc);
            goto done;
        }
    }
    int noutputs = 0;
    bool returned = false;
    for (int i = 0; i < u->nstmts; i++) {
        if (!lower_stmt(&c, u->stmts[i], &noutputs)) goto done;
        returned |= u->stmts[i]->kind == AST_RETURN;
    }
    if (!returned) {
        diag_error(d, u->loc, "circuit '%s' has no 'return' statement", u->name);
        goto done;
    }
    ir_dce(c.f);
    ir_verify(c.m, d, false);
    ir_foreach(op, c.f) op->scratch = NULL;
done:
    arena_free(&c.tmp);
    return d->errors == errors ? c.m : NULL;
}

ir_module *lower_unit(arena *a, diag_ctx *d, const ast_unit *u, const char *base_dir) {
    if (!u) return NULL;
    if (u->kind == AST_UNIT_MODEL) return lower_model(a, d, u, base_dir);
    return lower_circuit(a, d, u);
}
