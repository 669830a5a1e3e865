/* interp.c — the exact clear interpreter of the IR (interp.h).
 *
 * It defines what every op computes: `cmlc --simulate` runs it, bit-width
 * inference materialises tables with it, the model quantizer calibrates with
 * it. Integers are checked for int64 overflow on every operation, so a
 * simulation never wraps silently; with IR_INTERP_CHECK_WIDTHS every value
 * is also checked against its inferred width. */
#include "interp.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- scalar semantics ---------------------------------------------------- */

double ir_round_half_away(double x) { return round(x); /* C's round(): halves away from zero */ }

double ir_eval_real1(ir_opcode code, double x) {
    switch (code) {
    case IR_FLOOR: return floor(x);
    case IR_CEIL: return ceil(x);
    case IR_RINT: return ir_round_half_away(x);
    case IR_EXP: return exp(x);
    case IR_LOG: return log(x);
    case IR_SQRT: return sqrt(x);
    case IR_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case IR_TANH: return tanh(x);
    case IR_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case IR_SOFTPLUS: return x > 30 ? x : log1p(exp(x));
    case IR_SILU: return x / (1.0 + exp(-x));
    case IR_SIN: return sin(x);
    case IR_COS: return cos(x);
    case IR_ABS: return fabs(x);
    case IR_RELU: return x > 0 ? x : 0.0;
    case IR_NEG: return -x;
    case IR_TOFLOAT: return x;
    default: return NAN;
    }
}

/* ---- tensors ------------------------------------------------------------- */

bool ir_tensor_alloc(ir_tensor *t, bool is_float, int rank, const int64_t *dims) {
    memset(t, 0, sizeof *t);
    t->is_float = is_float;
    t->rank = rank;
    t->count = 1;
    for (int i = 0; i < rank; i++) {
        t->dims[i] = dims[i];
        t->count *= dims[i];
    }
    size_t n = (size_t)(t->count ? t->count : 1);
    if (is_float) t->f = calloc(n, sizeof *t->f);
    else t->i = calloc(n, sizeof *t->i);
    return is_float ? t->f != NULL : t->i != NULL;
}

void ir_tensor_free(ir_tensor *t) {
    if (!t) return;
    if (!t->borrowed) {
        free(t->i);
        free(t->f);
    }
    t->borrowed = false;
    t->i = NULL;
    t->f = NULL;
}

static double getf(const ir_tensor *t, int64_t k) { return t->is_float ? t->f[k] : (double)t->i[k]; }

/* ---- evaluation state ---------------------------------------------------- */

typedef struct interp {
    diag_ctx *d;
    ir_tensor *vals;   /* by op id */
    int nvals;
    bool body;         /* evaluating a tlu body: constants read at `elem` */
    int64_t elem;
    const ir_type *elem_shape; /* the tlu shape, for reading body constants */
} interp;

#define ERR(op, ...)                                         \
    do {                                                     \
        if (st->d) diag_error(st->d, (op)->loc, __VA_ARGS__); \
        return false;                                        \
    } while (0)

static ir_tensor *val(interp *st, const ir_op *op) { return &st->vals[op->id]; }

static bool alloc_like(interp *st, const ir_op *op, ir_tensor *t, bool is_float, int rank,
                       const int64_t *dims) {
    if (!ir_tensor_alloc(t, is_float, rank, dims)) ERR(op, "out of memory");
    return true;
}

/* Index into operand `a` (shape adims) for the flat result index k of a
 * result with shape rdims (numpy broadcasting). */
static int64_t bcast_index(int64_t k, int rrank, const int64_t *rdims, const ir_tensor *a) {
    if (a->count == 1) return 0;
    int64_t idx = 0, stride = 1;
    for (int i = rrank - 1, j = a->rank - 1; i >= 0 && j >= 0; i--, j--) {
        int64_t c = k % rdims[i];
        k /= rdims[i];
        if (a->dims[j] != 1) idx += c * stride;
        stride *= a->dims[j];
    }
    return idx;
}

static bool int_result(interp *st, const ir_op *op, __int128 v, int64_t *out) {
    if (v > INT64_MAX || v < INT64_MIN)
        ERR(op, "integer overflow in '%s': the value leaves the 64-bit range", ir_op_name(op->code));
    *out = (int64_t)v;
    return true;
}

static bool eval_elemwise(interp *st, const ir_op *op, ir_tensor *r) {
    const ir_tensor *a[3] = {0};
    int n = op->nargs;
    bool anyf = false;
    ir_type shape = {0};
    int first = op->code == IR_LOOKUP ? 1 : 0; /* the table is not broadcast */
    for (int i = 0; i < n; i++) {
        a[i] = val(st, op->args[i]);
        if (i >= first) anyf |= a[i]->is_float;
    }
    for (int i = first; i < n; i++) {
        ir_type t = {0}, o;
        t.rank = a[i]->rank;
        memcpy(t.dims, a[i]->dims, sizeof t.dims);
        if (!ir_broadcast_shape(&shape, &t, &o)) ERR(op, "shapes do not broadcast");
        shape = o;
    }
    bool rf = op->type.is_float;
    if (!alloc_like(st, op, r, rf, shape.rank, shape.dims)) return false;
    int64_t idx[3];
    for (int64_t k = 0; k < r->count; k++) {
        for (int i = first; i < n; i++) /* as many elements as the result: not broadcast */
            idx[i] = a[i]->count == r->count ? k : bcast_index(k, shape.rank, shape.dims, a[i]);
        if (op->code == IR_LOOKUP) {
            const ir_op *tab = op->args[0];
            int64_t len = tab->type.dims[0];
            if (a[1]->is_float) ERR(op, "lookup index is not an integer");
            int64_t i = a[1]->i[idx[1]];
            if (i < 0 || i >= len)
                ERR(op, "table index %" PRId64 " out of range: the table has %" PRId64 " entries",
                    i, len);
            if (rf) r->f[k] = tab->fdata ? tab->fdata[i] : (double)tab->idata[i];
            else r->i[k] = tab->idata[i];
            continue;
        }
        if (anyf || rf) {
            double x = getf(a[0], idx[0]);
            double y = n > 1 ? getf(a[1], idx[1]) : 0;
            double v;
            switch (op->code) {
            case IR_ADD: v = x + y; break;
            case IR_SUB: v = x - y; break;
            case IR_MUL: v = x * y; break;
            case IR_DIV: v = x / y; break;
            case IR_POW: v = pow(x, y); break;
            case IR_MIN: v = x < y ? x : y; break;
            case IR_MAX: v = x > y ? x : y; break;
            case IR_LT: v = x < y; break;
            case IR_LE: v = x <= y; break;
            case IR_GT: v = x > y; break;
            case IR_GE: v = x >= y; break;
            case IR_EQ: v = x == y; break;
            case IR_NE: v = x != y; break;
            case IR_WHERE: v = x != 0 ? y : getf(a[2], idx[2]); break;
            case IR_TOINT: v = ir_round_half_away(x); break;
            default: v = ir_eval_real1(op->code, x); break;
            }
            if (rf) {
                r->f[k] = v;
            } else {
                if (isnan(v)) ERR(op, "'%s' produced not-a-number where an integer is needed",
                                  ir_op_name(op->code));
                if (!(v >= -9.2e18 && v <= 9.2e18))
                    ERR(op, "'%s' produced %g, outside the 64-bit integer range",
                        ir_op_name(op->code), v);
                r->i[k] = (int64_t)v;
            }
            continue;
        }
        int64_t x = a[0]->i[idx[0]], y = n > 1 ? a[1]->i[idx[1]] : 0;
        __int128 v;
        switch (op->code) {
        case IR_ADD: v = (__int128)x + y; break;
        case IR_SUB: v = (__int128)x - y; break;
        case IR_MUL: v = (__int128)x * y; break;
        case IR_NEG: v = -(__int128)x; break;
        case IR_MIN: v = x < y ? x : y; break;
        case IR_MAX: v = x > y ? x : y; break;
        case IR_LT: v = x < y; break;
        case IR_LE: v = x <= y; break;
        case IR_GT: v = x > y; break;
        case IR_GE: v = x >= y; break;
        case IR_EQ: v = x == y; break;
        case IR_NE: v = x != y; break;
        case IR_ABS: v = x < 0 ? -(__int128)x : x; break;
        case IR_RELU: v = x > 0 ? x : 0; break;
        case IR_WHERE: v = x != 0 ? y : a[2]->i[idx[2]]; break;
        case IR_TOINT: v = x; break;
        default: ERR(op, "'%s' has no integer semantics", ir_op_name(op->code));
        }
        if (!int_result(st, op, v, &r->i[k])) return false;
    }
    return true;
}

/* Accumulates a*b into acc (int or real). */
typedef struct acc {
    bool f;
    __int128 i;
    double x;
} acc;

static bool acc_add(interp *st, const ir_op *op, acc *s, const ir_tensor *a, int64_t ia,
                    const ir_tensor *b, int64_t ib) {
    if (s->f) {
        s->x += getf(a, ia) * (b ? getf(b, ib) : 1.0);
        return true;
    }
    __int128 p = b ? (__int128)a->i[ia] * b->i[ib] : a->i[ia];
    s->i += p;
    if (s->i > INT64_MAX || s->i < INT64_MIN)
        ERR(op, "integer overflow in '%s': the value leaves the 64-bit range", ir_op_name(op->code));
    return true;
}

static void acc_store(const acc *s, ir_tensor *r, int64_t k) {
    if (r->is_float) r->f[k] = s->f ? s->x : (double)s->i;
    else r->i[k] = (int64_t)s->i;
}

static bool eval_matmul(interp *st, const ir_op *op, ir_tensor *r) {
    const ir_tensor *a = val(st, op->args[0]), *b = val(st, op->args[1]);
    if (!alloc_like(st, op, r, op->type.is_float, op->type.rank, op->type.dims)) return false;
    int64_t M = a->rank == 2 ? a->dims[0] : 1, K = a->dims[a->rank - 1];
    int64_t N = b->rank == 2 ? b->dims[1] : 1;
    /* Fast paths (calibration runs real models over ~1000 rows; simulation
     * runs integer ones): row-major accumulation, overflow checked per step
     * for integers. */
    if (a->is_float && b->is_float && r->is_float) {
        for (int64_t m = 0; m < M; m++) {
            double *row = r->f + m * N;
            for (int64_t k = 0; k < K; k++) {
                double x = a->f[m * K + k];
                const double *w = b->f + k * N;
                for (int64_t n = 0; n < N; n++) row[n] += x * w[n];
            }
        }
        return true;
    }
    if (!a->is_float && !b->is_float && !r->is_float) {
        for (int64_t m = 0; m < M; m++) {
            int64_t *row = r->i + m * N;
            for (int64_t k = 0; k < K; k++) {
                int64_t x = a->i[m * K + k];
                const int64_t *w = b->i + k * N;
                for (int64_t n = 0; n < N; n++) {
                    int64_t p;
                    if (__builtin_mul_overflow(x, w[n], &p) ||
                        __builtin_add_overflow(row[n], p, &row[n]))
                        ERR(op, "integer overflow in '%s': the value leaves the 64-bit range",
                            ir_op_name(op->code));
                }
            }
        }
        return true;
    }
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            acc s = {.f = r->is_float};
            for (int64_t k = 0; k < K; k++)
                if (!acc_add(st, op, &s, a, m * K + k, b, k * N + n)) return false;
            acc_store(&s, r, m * N + n);
        }
    return true;
}

static bool eval_window(interp *st, const ir_op *op, ir_tensor *r) {
    const ir_tensor *x = val(st, op->args[0]);
    const ir_tensor *w = op->code == IR_CONV2D ? val(st, op->args[1]) : NULL;
    if (!alloc_like(st, op, r, op->type.is_float, op->type.rank, op->type.dims)) return false;
    int64_t C = x->dims[0], H = x->dims[1], W = x->dims[2];
    int64_t O = r->dims[0], OH = r->dims[1], OW = r->dims[2];
    int kh = op->kernel[0], kw = op->kernel[1];
    for (int64_t o = 0; o < O; o++)
        for (int64_t oy = 0; oy < OH; oy++)
            for (int64_t ox = 0; ox < OW; ox++) {
                acc s = {.f = r->is_float};
                bool have = false;
                double best = 0;
                int64_t besti = 0;
                int64_t c0 = w ? 0 : o, c1 = w ? C : o + 1;
                for (int64_t c = c0; c < c1; c++)
                    for (int ky = 0; ky < kh; ky++)
                        for (int kx = 0; kx < kw; kx++) {
                            int64_t y = oy * op->stride[0] + ky - op->pad[0];
                            int64_t xx = ox * op->stride[1] + kx - op->pad[1];
                            if (y < 0 || y >= H || xx < 0 || xx >= W) continue; /* zero padding */
                            int64_t ix = (c * H + y) * W + xx;
                            if (op->code == IR_MAXPOOL2D) {
                                if (x->is_float) {
                                    if (!have || x->f[ix] > best) best = x->f[ix];
                                } else if (!have || x->i[ix] > besti) {
                                    besti = x->i[ix];
                                }
                                have = true;
                            } else if (!acc_add(st, op, &s, x, ix, w,
                                                w ? ((o * C + c) * kh + ky) * kw + kx : 0)) {
                                return false;
                            }
                        }
                int64_t k = (o * OH + oy) * OW + ox;
                if (op->code == IR_MAXPOOL2D) {
                    if (r->is_float) r->f[k] = best;
                    else r->i[k] = besti;
                } else {
                    acc_store(&s, r, k);
                }
            }
    return true;
}

static bool eval_sum(interp *st, const ir_op *op, ir_tensor *r) {
    const ir_tensor *x = val(st, op->args[0]);
    if (!alloc_like(st, op, r, op->type.is_float, op->type.rank, op->type.dims)) return false;
    if (op->axis < 0) {
        acc s = {.f = r->is_float};
        for (int64_t k = 0; k < x->count; k++)
            if (!acc_add(st, op, &s, x, k, NULL, 0)) return false;
        acc_store(&s, r, 0);
        return true;
    }
    int64_t outer = 1, inner = 1, len = x->dims[op->axis];
    for (int i = 0; i < op->axis; i++) outer *= x->dims[i];
    for (int i = op->axis + 1; i < x->rank; i++) inner *= x->dims[i];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            acc s = {.f = r->is_float};
            for (int64_t l = 0; l < len; l++)
                if (!acc_add(st, op, &s, x, (o * len + l) * inner + in, NULL, 0)) return false;
            acc_store(&s, r, o * inner + in);
        }
    return true;
}

/* Copies element src_k of x into element k of r. */
static void copy_elem(ir_tensor *r, int64_t k, const ir_tensor *x, int64_t src_k) {
    if (r->is_float) r->f[k] = getf(x, src_k);
    else r->i[k] = x->i[src_k];
}

static void unravel(int64_t k, int rank, const int64_t *dims, int64_t *idx) {
    for (int i = rank - 1; i >= 0; i--) {
        idx[i] = k % dims[i];
        k /= dims[i];
    }
}

static int64_t ravel(int rank, const int64_t *dims, const int64_t *idx) {
    int64_t k = 0;
    for (int i = 0; i < rank; i++) k = k * dims[i] + idx[i];
    return k;
}

static bool eval_structural(interp *st, const ir_op *op, ir_tensor *r) {
    const ir_tensor *x = val(st, op->args[0]);
    if (!alloc_like(st, op, r, op->type.is_float, op->type.rank, op->type.dims)) return false;
    int64_t idx[IR_MAX_RANK], src[IR_MAX_RANK];
    for (int64_t k = 0; k < r->count; k++) {
        switch (op->code) {
        case IR_RESHAPE:
            copy_elem(r, k, x, k);
            break;
        case IR_BROADCAST:
            copy_elem(r, k, x, bcast_index(k, r->rank, r->dims, x));
            break;
        case IR_TRANSPOSE:
            unravel(k, r->rank, r->dims, idx);
            for (int i = 0; i < r->rank; i++) src[op->perm[i]] = idx[i];
            copy_elem(r, k, x, ravel(x->rank, x->dims, src));
            break;
        case IR_SLICE:
            unravel(k, r->rank, r->dims, idx);
            for (int i = 0; i < r->rank; i++) src[i] = op->begin[i] + idx[i] * op->step[i];
            copy_elem(r, k, x, ravel(x->rank, x->dims, src));
            break;
        case IR_CONCAT: {
            unravel(k, r->rank, r->dims, idx);
            int64_t pos = idx[op->axis];
            for (int a = 0; a < op->nargs; a++) {
                const ir_tensor *y = val(st, op->args[a]);
                if (pos < y->dims[op->axis]) {
                    idx[op->axis] = pos;
                    copy_elem(r, k, y, ravel(y->rank, y->dims, idx));
                    break;
                }
                pos -= y->dims[op->axis];
            }
            break;
        }
        default:
            ERR(op, "internal: '%s' is not structural", ir_op_name(op->code));
        }
    }
    return true;
}

static bool eval_round(interp *st, const ir_op *op, ir_tensor *r) {
    const ir_tensor *x = val(st, op->args[0]);
    int s = op->round_shift;
    if (s < 0) ERR(op, "internal: round evaluated before bit-width inference resolved its shift");
    if (s > 62) ERR(op, "round shift %d too large", s);
    if (!alloc_like(st, op, r, false, x->rank, x->dims)) return false;
    for (int64_t k = 0; k < x->count; k++) {
        __int128 v = x->i[k];
        /* a product, not << s: shifting a negative value left is undefined */
        if (s > 0) v = ((v + ((__int128)1 << (s - 1))) >> s) * ((__int128)1 << s);
        if (!int_result(st, op, v, &r->i[k])) return false;
    }
    return true;
}

static bool eval_tlu(interp *st, const ir_op *op, ir_tensor *r) {
    const ir_tensor *x = val(st, op->args[0]);
    const ir_tlu *t = op->tlu;
    if (!alloc_like(st, op, r, false, x->rank, x->dims)) return false;
    for (int64_t k = 0; k < x->count; k++) {
        int64_t v = x->i[k];
        if (t->ntables) {
            int64_t off = v - t->dom_lo;
            int64_t j = off >> t->dom_shift;
            if (off < 0 || (off & (((int64_t)1 << t->dom_shift) - 1)) || j >= t->dom_count)
                ERR(op, "table lookup input %" PRId64 " is outside the domain its table was built "
                        "for ([%" PRId64 ", %" PRId64 "]); the inferred bounds are too tight",
                    v, t->dom_lo, t->dom_lo + ((t->dom_count - 1) << t->dom_shift));
            int row = t->table_of ? t->table_of[k] : 0;
            r->i[k] = t->tables[(int64_t)row * t->dom_count + j];
        } else if (!ir_interp_body(t->body, k, &v, 1, &r->i[k], st->d)) {
            return false;
        }
    }
    return true;
}

static bool check_width(interp *st, const ir_op *op, const ir_tensor *r) {
    if (r->is_float || op->type.bits <= 0) return true;
    int64_t lo, hi;
    ir_type_range(&op->type, &lo, &hi);
    for (int64_t k = 0; k < r->count; k++) {
        if (r->i[k] < lo || r->i[k] > hi) {
            char tb[128];
            ERR(op, "value %" PRId64 " does not fit the inferred type %s of this %s "
                    "(inferred bounds are too tight for this input)",
                r->i[k], ir_type_str(&op->type, tb, sizeof tb), ir_op_name(op->code));
        }
    }
    return true;
}

/* Body constants are read at element st->elem of the tlu's shape, so that
 * per-element constants (per-channel scales) select their element. */
static bool eval_const(interp *st, const ir_op *op, ir_tensor *r) {
    if (!st->body) {
        /* Borrow the constant's data: operands are never written. */
        memset(r, 0, sizeof *r);
        r->is_float = op->fdata != NULL;
        r->rank = op->type.rank;
        memcpy(r->dims, op->type.dims, sizeof r->dims);
        r->count = ir_type_count(&op->type);
        r->i = op->idata;
        r->f = op->fdata;
        r->borrowed = true;
        return true;
    }
    if (!alloc_like(st, op, r, op->fdata != NULL, 0, NULL)) return false;
    ir_tensor shape = {.rank = op->type.rank, .count = ir_type_count(&op->type)};
    memcpy(shape.dims, op->type.dims, sizeof shape.dims);
    ir_type ct = op->type, o;
    /* A constant that does not broadcast to the tlu shape (a lookup table)
     * is read by its user directly; element 0 stands for it here. */
    bool fits = ir_broadcast_shape(&ct, st->elem_shape, &o) && ir_type_same_shape(&o, st->elem_shape);
    int64_t k = fits ? bcast_index(st->elem, st->elem_shape->rank, st->elem_shape->dims, &shape) : 0;
    if (op->fdata) r->f[0] = op->fdata[k];
    else r->i[0] = op->idata[k];
    return true;
}

static bool eval_op(interp *st, const ir_op *op, ir_tensor *r) {
    if (ir_op_flags(op->code) & IR_F_ELEMWISE) return eval_elemwise(st, op, r);
    switch (op->code) {
    case IR_CONST: return eval_const(st, op, r);
    case IR_DOT:
    case IR_MATMUL: return eval_matmul(st, op, r);
    case IR_CONV2D:
    case IR_SUMPOOL2D:
    case IR_MAXPOOL2D: return eval_window(st, op, r);
    case IR_SUM: return eval_sum(st, op, r);
    case IR_RESHAPE:
    case IR_BROADCAST:
    case IR_TRANSPOSE:
    case IR_SLICE:
    case IR_CONCAT: return eval_structural(st, op, r);
    case IR_ROUND: return eval_round(st, op, r);
    case IR_TLU: return eval_tlu(st, op, r);
    default: ERR(op, "internal: cannot evaluate '%s'", ir_op_name(op->code));
    }
}

static bool copy_tensor(ir_tensor *dst, const ir_tensor *src) {
    if (!ir_tensor_alloc(dst, src->is_float, src->rank, src->dims)) return false;
    size_t n = (size_t)src->count;
    if (src->is_float) memcpy(dst->f, src->f, n * sizeof *dst->f);
    else memcpy(dst->i, src->i, n * sizeof *dst->i);
    return true;
}

static bool run(interp *st, const ir_func *f, const ir_tensor *inputs, ir_tensor *outputs,
                unsigned flags, ir_interp_observer obs, void *obs_ctx) {
    for (const ir_op *op = f->first; op; op = op->next) {
        if (op->code == IR_OUTPUT) {
            if (outputs && !copy_tensor(&outputs[op->index], val(st, op->args[0])))
                ERR(op, "out of memory");
            continue;
        }
        if (op->id < 0 || op->id >= st->nvals) ERR(op, "internal: op id out of range");
        ir_tensor *r = val(st, op);
        if (op->code == IR_INPUT) {
            const ir_tensor *in = &inputs[op->index];
            if (in->count != ir_type_count(&op->type))
                ERR(op, "input '%s' needs %" PRId64 " values, got %" PRId64, op->name,
                    ir_type_count(&op->type), in->count);
            if (!alloc_like(st, op, r, op->type.is_float, op->type.rank, op->type.dims))
                return false;
            for (int64_t k = 0; k < in->count; k++) {
                if (op->type.is_float) {
                    r->f[k] = getf(in, k);
                    continue;
                }
                if (in->is_float) {
                    double v = in->f[k];
                    if (v != floor(v) || !(fabs(v) < 9.2e18))
                        ERR(op, "input '%s' value %g is not an integer", op->name, v);
                    r->i[k] = (int64_t)v;
                } else {
                    r->i[k] = in->i[k];
                }
                /* After bit-width inference an input's encoding may be wider
                 * than declared; its declared range is kept in lo/hi. */
                int64_t lo, hi;
                ir_type_range(&op->type, &lo, &hi);
                if (op->has_range && (r->i[k] < op->lo || r->i[k] > op->hi))
                    ERR(op, "input '%s' value %" PRId64 " is outside its declared range [%" PRId64
                            ", %" PRId64 "]",
                        op->name, r->i[k], op->lo, op->hi);
                if (op->type.bits > 0 && (r->i[k] < lo || r->i[k] > hi)) {
                    char tb[128];
                    ERR(op, "input '%s' value %" PRId64 " does not fit its type %s", op->name,
                        r->i[k], ir_type_str(&op->type, tb, sizeof tb));
                }
            }
        } else if (!eval_op(st, op, r)) {
            return false;
        }
        if ((flags & IR_INTERP_CHECK_WIDTHS) && op->code != IR_INPUT && !check_width(st, op, r))
            return false;
        if (obs) obs(obs_ctx, op, r);
    }
    return true;
}

static void free_vals(interp *st) {
    for (int i = 0; i < st->nvals; i++) ir_tensor_free(&st->vals[i]);
    free(st->vals);
}

bool ir_interp(const ir_func *f, const ir_tensor *inputs, ir_tensor *outputs, diag_ctx *d,
               unsigned flags, ir_interp_observer obs, void *obs_ctx) {
    interp st = {.d = d, .nvals = f->next_id};
    st.vals = calloc((size_t)(st.nvals ? st.nvals : 1), sizeof *st.vals);
    if (!st.vals) {
        if (d) diag_error(d, (diag_loc){0}, "out of memory");
        return false;
    }
    int nout = 0;
    for (const ir_op *op = f->first; op; op = op->next) nout += op->code == IR_OUTPUT;
    if (outputs) memset(outputs, 0, (size_t)nout * sizeof *outputs);
    bool ok = run(&st, f, inputs, outputs, flags, obs, obs_ctx);
    if (!ok && outputs)
        for (int i = 0; i < nout; i++) ir_tensor_free(&outputs[i]);
    free_vals(&st);
    return ok;
}

bool ir_interp_body(const ir_func *body, int64_t elem, const int64_t *xs, int64_t n,
                    int64_t *out, diag_ctx *d) {
    const ir_op *in = NULL;
    for (const ir_op *op = body->first; op; op = op->next)
        if (op->code == IR_INPUT) in = op;
    if (!in || !body->last || body->last->code != IR_OUTPUT) {
        if (d) diag_error(d, (diag_loc){0}, "internal: malformed tlu body");
        return false;
    }
    interp st = {.d = d, .nvals = body->next_id, .body = true, .elem = elem,
                 .elem_shape = &in->type};
    st.vals = calloc((size_t)(st.nvals ? st.nvals : 1), sizeof *st.vals);
    ir_tensor x = {0}, res = {0};
    bool ok = st.vals && ir_tensor_alloc(&x, false, 1, &n);
    if (ok) {
        memcpy(x.i, xs, (size_t)n * sizeof *xs);
        /* The body's INPUT has the tlu's shape; here it is fed n values of
         * one element, so evaluate with its id bound directly. */
        for (const ir_op *op = body->first; op && ok; op = op->next) {
            if (op->code == IR_OUTPUT) {
                const ir_tensor *v = val(&st, op->args[0]);
                for (int64_t k = 0; k < n; k++) {
                    int64_t vk = v->count == 1 ? 0 : k;
                    if (v->is_float) {
                        if (d) diag_error(d, op->loc, "internal: tlu body returns a real");
                        ok = false;
                        break;
                    }
                    out[k] = v->i[vk];
                }
                continue;
            }
            if (op->code == IR_INPUT) {
                ok = copy_tensor(val(&st, op), &x);
                continue;
            }
            ok = eval_op(&st, op, val(&st, op));
        }
    } else if (d) {
        diag_error(d, (diag_loc){0}, "out of memory");
    }
    ir_tensor_free(&x);
    ir_tensor_free(&res);
    if (st.vals) free_vals(&st);
    return ok;
}
