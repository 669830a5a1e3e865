/* ir.c — building and editing the op graph, and type/shape inference.
 * One ir_infer() holds every typing rule so the builders (frontend, passes)
 * and the verifier agree by construction. */
#include "ir.h"

#include <inttypes.h>
#include <limits.h>
#include <string.h>

static const struct {
    const char *name;
    int arity;
    unsigned flags;
} op_info[IR_OP_COUNT] = {
#define IR_OP(name, text, arity, flags) [IR_##name] = {text, arity, flags},
#include "ops.def"
#undef IR_OP
};

const char *ir_op_name(ir_opcode code) { return code < IR_OP_COUNT ? op_info[code].name : "?"; }
int ir_op_arity(ir_opcode code) { return op_info[code].arity; }
unsigned ir_op_flags(ir_opcode code) { return op_info[code].flags; }

int64_t ir_type_count(const ir_type *t) {
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->dims[i];
    return n;
}

bool ir_type_same_shape(const ir_type *a, const ir_type *b) {
    if (a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}

char *ir_type_str(const ir_type *t, char *buf, size_t size) {
    int n;
    if (t->is_float)
        n = snprintf(buf, size, "%s", t->enc ? "enc<f64>" : "f64");
    else if (t->bits == 0)
        n = snprintf(buf, size, "%s<?>", t->enc ? "enc" : "clear");
    else
        n = snprintf(buf, size, "%s<%c%d>", t->enc ? "enc" : "clear", t->is_signed ? 'i' : 'u',
                     t->bits);
    for (int i = 0; i < t->rank && n > 0 && (size_t)n < size; i++)
        n += snprintf(buf + n, size - (size_t)n, "%s%" PRId64 "%s", i ? "," : "[", t->dims[i],
                      i == t->rank - 1 ? "]" : "");
    return buf;
}

ir_module *ir_module_new(arena *a, ir_unit_kind kind, const char *name) {
    ir_module *m = arena_alloc(a, sizeof *m);
    if (!m) return NULL;
    m->arena = a;
    m->kind = kind;
    m->main = ir_func_new(m, name, false);
    return m->main ? m : NULL;
}

ir_func *ir_func_new(ir_module *m, const char *name, bool is_body) {
    ir_func *f = arena_alloc(m->arena, sizeof *f);
    if (!f) return NULL;
    f->name = name;
    f->mod = m;
    f->is_body = is_body;
    return f;
}

static ir_op *op_alloc(ir_func *f, ir_opcode code, diag_loc loc, int nargs, ir_op *const *args) {
    ir_op *op = arena_alloc(f->mod->arena, sizeof *op);
    if (!op) return NULL;
    op->code = code;
    op->loc = loc;
    op->id = code == IR_OUTPUT ? -1 : f->next_id++;
    op->round_shift = -1;
    op->axis = -1;
    if (nargs > 0) {
        op->args = arena_array(f->mod->arena, (size_t)nargs, sizeof *op->args);
        if (!op->args) return NULL;
        memcpy(op->args, args, (size_t)nargs * sizeof *args);
    }
    op->nargs = nargs;
    return op;
}

ir_op *ir_op_new(ir_func *f, ir_opcode code, diag_loc loc, int nargs, ir_op *const *args) {
    ir_op *op = op_alloc(f, code, loc, nargs, args);
    if (!op) return NULL;
    op->prev = f->last;
    if (f->last) f->last->next = op;
    else f->first = op;
    f->last = op;
    return op;
}

ir_op *ir_op_new_before(ir_func *f, ir_op *before, ir_opcode code, diag_loc loc, int nargs,
                        ir_op *const *args) {
    if (!before) return ir_op_new(f, code, loc, nargs, args);
    ir_op *op = op_alloc(f, code, loc, nargs, args);
    if (!op) return NULL;
    op->next = before;
    op->prev = before->prev;
    if (before->prev) before->prev->next = op;
    else f->first = op;
    before->prev = op;
    return op;
}

void ir_op_unlink(ir_func *f, ir_op *op) {
    if (op->prev) op->prev->next = op->next;
    else f->first = op->next;
    if (op->next) op->next->prev = op->prev;
    else f->last = op->prev;
    op->prev = op->next = NULL;
}

void ir_replace_uses(ir_func *f, ir_op *from, ir_op *to) {
    ir_foreach(op, f) {
        for (int i = 0; i < op->nargs; i++)
            if (op->args[i] == from) op->args[i] = to;
    }
}

void ir_count_uses(ir_func *f) {
    ir_foreach(op, f) op->scratch = (void *)(intptr_t)0;
    ir_foreach(op, f) {
        for (int i = 0; i < op->nargs; i++)
            op->args[i]->scratch = (void *)((intptr_t)op->args[i]->scratch + 1);
    }
}

void ir_dce(ir_func *f) {
    ir_count_uses(f);
    /* Reverse order: removing a user can make its operands dead. */
    for (ir_op *op = f->last, *prev; op; op = prev) {
        prev = op->prev;
        if (op->code == IR_OUTPUT || op->code == IR_INPUT || (intptr_t)op->scratch > 0) continue;
        for (int i = 0; i < op->nargs; i++)
            op->args[i]->scratch = (void *)((intptr_t)op->args[i]->scratch - 1);
        ir_op_unlink(f, op);
    }
}

void ir_renumber(ir_func *f) {
    int id = 0;
    ir_foreach(op, f) {
        if (op->code != IR_OUTPUT) op->id = id++;
    }
    f->next_id = id;
}

int ir_count_ops(const ir_func *f, ir_opcode code) {
    int n = 0;
    for (const ir_op *op = f->first; op; op = op->next) n += op->code == code;
    return n;
}

int64_t ir_op_work(const ir_op *op) {
    if (op->code == IR_CONST || op->code == IR_OUTPUT) return 0;
    int64_t n = ir_type_count(&op->type);
    const ir_type *x = op->nargs ? &op->args[0]->type : NULL;
    switch (op->code) {
    case IR_DOT:
    case IR_MATMUL: return n * x->dims[x->rank - 1];
    case IR_CONV2D: return n * x->dims[0] * op->kernel[0] * op->kernel[1];
    case IR_SUMPOOL2D:
    case IR_MAXPOOL2D: return n * op->kernel[0] * op->kernel[1];
    case IR_SUM: return ir_type_count(x);
    default: return n;
    }
}

int ir_bits_for_range(int64_t lo, int64_t hi, bool *is_signed) {
    int b = 1;
    if (lo >= 0) {
        *is_signed = false;
        while (b < 63 && (hi >> b) != 0) b++;
        return b;
    }
    *is_signed = true;
    /* smallest b with -2^(b-1) <= lo and hi <= 2^(b-1) - 1 */
    b = 2;
    while (b < 64 && (lo < -(INT64_C(1) << (b - 1)) || hi > (INT64_C(1) << (b - 1)) - 1)) b++;
    return b;
}

void ir_type_range(const ir_type *t, int64_t *lo, int64_t *hi) {
    int b = t->bits;
    if (b <= 0 || b >= 64) {
        *lo = t->is_signed || b <= 0 ? INT64_MIN : 0;
        *hi = INT64_MAX;
        return;
    }
    if (t->is_signed) {
        *lo = -(INT64_C(1) << (b - 1));
        *hi = (INT64_C(1) << (b - 1)) - 1;
    } else {
        *lo = 0;
        *hi = b == 63 ? INT64_MAX : (INT64_C(1) << b) - 1;
    }
}

bool ir_broadcast_shape(const ir_type *a, const ir_type *b, ir_type *out) {
    int r = a->rank > b->rank ? a->rank : b->rank;
    out->rank = r;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1) return false;
        out->dims[i] = da == 1 ? db : da;
    }
    return true;
}

/* ---- inference ---------------------------------------------------------- */

static char *shape_str(const ir_type *t, char *buf, size_t size) {
    int n = snprintf(buf, size, "[");
    for (int i = 0; i < t->rank && (size_t)n < size; i++)
        n += snprintf(buf + n, size - (size_t)n, "%s%" PRId64, i ? "," : "", t->dims[i]);
    if ((size_t)n < size) snprintf(buf + n, size - (size_t)n, "]");
    return buf;
}

#define FAIL(...)                                   \
    do {                                            \
        if (d) diag_error(d, op->loc, __VA_ARGS__); \
        return false;                               \
    } while (0)

static bool any_enc(const ir_op *op) {
    for (int i = 0; i < op->nargs; i++)
        if (op->args[i]->type.enc) return true;
    return false;
}

/* Integer result with width to be inferred. */
static void set_int(ir_type *t, bool enc) {
    t->enc = enc;
    t->is_float = false;
    t->is_signed = false;
    t->bits = 0;
}

static void set_float(ir_type *t, bool enc) {
    t->enc = enc;
    t->is_float = true;
    t->is_signed = true;
    t->bits = 64;
}

static bool infer_elemwise(ir_op *op, diag_ctx *d) {
    /* A lookup's table is not broadcast: only its index operand is. */
    int first = op->code == IR_LOOKUP ? 1 : 0;
    ir_type t = op->args[first]->type;
    for (int i = first + 1; i < op->nargs; i++) {
        ir_type o;
        if (!ir_broadcast_shape(&t, &op->args[i]->type, &o)) {
            char s1[128], s2[128];
            FAIL("cannot broadcast shapes %s and %s in '%s'", shape_str(&t, s1, sizeof s1),
                 shape_str(&op->args[i]->type, s2, sizeof s2), ir_op_name(op->code));
        }
        t.rank = o.rank;
        memcpy(t.dims, o.dims, sizeof t.dims);
    }
    bool enc = any_enc(op);
    bool flt = false;
    switch (op->code) {
    case IR_LT: case IR_LE: case IR_GT: case IR_GE: case IR_EQ: case IR_NE:
        flt = false;
        break;
    case IR_DIV: case IR_TOFLOAT: case IR_FLOOR: case IR_CEIL: case IR_RINT: case IR_EXP:
    case IR_LOG: case IR_SQRT: case IR_SIGMOID: case IR_TANH: case IR_GELU: case IR_SOFTPLUS:
    case IR_SILU: case IR_SIN: case IR_COS: case IR_POW:
        flt = true;
        break;
    case IR_TOINT:
        flt = false;
        break;
    case IR_WHERE:
        flt = op->args[1]->type.is_float || op->args[2]->type.is_float;
        break;
    case IR_LOOKUP: {
        const ir_op *tab = op->args[0];
        if (tab->code != IR_CONST || tab->type.rank != 1 || tab->type.enc)
            FAIL("lookup table must be a clear one-dimensional constant");
        if (op->args[1]->type.is_float) FAIL("lookup index must be an integer");
        t.rank = op->args[1]->type.rank;
        memcpy(t.dims, op->args[1]->type.dims, sizeof t.dims);
        flt = tab->type.is_float;
        enc = op->args[1]->type.enc;
        break;
    }
    default:
        for (int i = 0; i < op->nargs; i++) flt |= op->args[i]->type.is_float;
        break;
    }
    if (flt) set_float(&t, enc);
    else set_int(&t, enc);
    op->type = t;
    return true;
}

static bool infer_matmul(ir_op *op, diag_ctx *d) {
    const ir_type *a = &op->args[0]->type, *b = &op->args[1]->type;
    char s1[128], s2[128];
    ir_type t = {0};
    if (op->code == IR_DOT) {
        if (a->rank != 1 || b->rank != 1 || a->dims[0] != b->dims[0])
            FAIL("dot needs two vectors of the same length, got %s and %s",
                 shape_str(a, s1, sizeof s1), shape_str(b, s2, sizeof s2));
    } else {
        if (a->rank < 1 || a->rank > 2 || b->rank < 1 || b->rank > 2)
            FAIL("matmul needs 1-D or 2-D operands, got %s and %s", shape_str(a, s1, sizeof s1),
                 shape_str(b, s2, sizeof s2));
        int64_t ka = a->dims[a->rank - 1], kb = b->dims[0];
        if (ka != kb)
            FAIL("matmul inner dimensions differ: %s @ %s (%" PRId64 " vs %" PRId64 ")",
                 shape_str(a, s1, sizeof s1), shape_str(b, s2, sizeof s2), ka, kb);
        if (a->rank == 2) t.dims[t.rank++] = a->dims[0];
        if (b->rank == 2) t.dims[t.rank++] = b->dims[1];
    }
    bool flt = a->is_float || b->is_float;
    if (flt) set_float(&t, a->enc || b->enc);
    else set_int(&t, a->enc || b->enc);
    op->type = t;
    return true;
}

static int64_t window_out(int64_t in, int k, int s, int p) { return (in + 2 * p - k) / s + 1; }

static bool infer_window(ir_op *op, diag_ctx *d) {
    const ir_type *x = &op->args[0]->type;
    char s1[128], s2[128];
    if (x->rank != 3) FAIL("%s expects a [C,H,W] tensor, got %s", ir_op_name(op->code),
                           shape_str(x, s1, sizeof s1));
    ir_type t = {0};
    int kh = op->kernel[0], kw = op->kernel[1];
    if (op->code == IR_CONV2D) {
        const ir_type *w = &op->args[1]->type;
        if (w->rank != 4 || w->dims[1] != x->dims[0])
            FAIL("conv2d weights must be [O,C,KH,KW] with C = %" PRId64 ", got %s", x->dims[0],
                 shape_str(w, s2, sizeof s2));
        if (w->enc) FAIL("conv2d weights must be clear");
        kh = (int)w->dims[2];
        kw = (int)w->dims[3];
        op->kernel[0] = kh;
        op->kernel[1] = kw;
        t.dims[0] = w->dims[0];
    } else {
        t.dims[0] = x->dims[0];
    }
    if (kh < 1 || kw < 1 || op->stride[0] < 1 || op->stride[1] < 1 || op->pad[0] < 0 ||
        op->pad[1] < 0)
        FAIL("%s: kernel and stride must be positive, padding non-negative", ir_op_name(op->code));
    t.rank = 3;
    t.dims[1] = window_out(x->dims[1], kh, op->stride[0], op->pad[0]);
    t.dims[2] = window_out(x->dims[2], kw, op->stride[1], op->pad[1]);
    if (x->dims[1] + 2 * op->pad[0] < kh || x->dims[2] + 2 * op->pad[1] < kw)
        FAIL("%s: kernel %dx%d larger than the padded input %s", ir_op_name(op->code), kh, kw,
             shape_str(x, s1, sizeof s1));
    bool flt = x->is_float || (op->code == IR_CONV2D && op->args[1]->type.is_float);
    if (flt) set_float(&t, x->enc);
    else set_int(&t, x->enc);
    op->type = t;
    return true;
}

static void keep_elem(ir_op *op, const ir_type *x) {
    op->type.enc = x->enc;
    op->type.is_float = x->is_float;
    op->type.is_signed = x->is_float;
    op->type.bits = x->is_float ? 64 : 0;
}

static bool infer_op(ir_op *op, diag_ctx *d) {
    int arity = ir_op_arity(op->code);
    if (arity >= 0 && op->nargs != arity)
        FAIL("'%s' takes %d operand%s, got %d", ir_op_name(op->code), arity, arity == 1 ? "" : "s",
             op->nargs);
    for (int i = 0; i < op->nargs; i++)
        if (!op->args[i] || op->args[i]->code == IR_OUTPUT) FAIL("operand %d has no value", i);
    char s1[128], s2[128];
    if (ir_op_flags(op->code) & IR_F_ELEMWISE) return infer_elemwise(op, d);
    const ir_type *x = op->nargs ? &op->args[0]->type : NULL;
    switch (op->code) {
    case IR_INPUT:
    case IR_CONST:
        if (op->type.rank < 0 || op->type.rank > IR_MAX_RANK) FAIL("bad rank");
        for (int i = 0; i < op->type.rank; i++)
            if (op->type.dims[i] < 1) FAIL("dimensions must be positive");
        return true;
    case IR_OUTPUT:
        op->type = *x;
        return true;
    case IR_DOT:
    case IR_MATMUL:
        return infer_matmul(op, d);
    case IR_CONV2D:
    case IR_SUMPOOL2D:
    case IR_MAXPOOL2D:
        return infer_window(op, d);
    case IR_SUM: {
        ir_type t = {0};
        if (op->axis >= 0) {
            if (op->axis >= x->rank)
                FAIL("sum axis %d out of range for a tensor of rank %d", op->axis, x->rank);
            for (int i = 0; i < x->rank; i++)
                if (i != op->axis) t.dims[t.rank++] = x->dims[i];
        }
        op->type = t;
        keep_elem(op, x);
        return true;
    }
    case IR_RESHAPE:
        if (ir_type_count(&op->type) != ir_type_count(x))
            FAIL("cannot reshape %s (%" PRId64 " elements) to %s (%" PRId64 ")",
                 shape_str(x, s1, sizeof s1), ir_type_count(x), shape_str(&op->type, s2, sizeof s2),
                 ir_type_count(&op->type));
        keep_elem(op, x);
        return true;
    case IR_BROADCAST: {
        ir_type o;
        if (!ir_broadcast_shape(x, &op->type, &o) || !ir_type_same_shape(&o, &op->type))
            FAIL("cannot broadcast %s to %s", shape_str(x, s1, sizeof s1),
                 shape_str(&op->type, s2, sizeof s2));
        keep_elem(op, x);
        return true;
    }
    case IR_TRANSPOSE: {
        bool seen[IR_MAX_RANK] = {0};
        ir_type t = {0};
        t.rank = x->rank;
        for (int i = 0; i < x->rank; i++) {
            int64_t p = op->perm[i];
            if (p < 0 || p >= x->rank || seen[p]) FAIL("transpose: invalid permutation");
            seen[p] = true;
            t.dims[i] = x->dims[p];
        }
        op->type = t;
        keep_elem(op, x);
        return true;
    }
    case IR_SLICE:
        if (op->type.rank != x->rank) FAIL("slice must keep the rank");
        for (int i = 0; i < x->rank; i++) {
            if (op->step[i] < 1 || op->begin[i] < 0 || op->type.dims[i] < 1 ||
                op->begin[i] >= x->dims[i] ||
                op->type.dims[i] - 1 > (x->dims[i] - 1 - op->begin[i]) / op->step[i])
                FAIL("slice out of bounds in dimension %d (size %" PRId64 ")", i, x->dims[i]);
        }
        keep_elem(op, x);
        return true;
    case IR_CONCAT: {
        if (op->nargs < 1) FAIL("concat needs at least one operand");
        ir_type t = *x;
        if (op->axis < 0 || op->axis >= x->rank)
            FAIL("concat axis %d out of range for rank %d", op->axis, x->rank);
        bool enc = x->enc, flt = x->is_float;
        for (int i = 1; i < op->nargs; i++) {
            const ir_type *y = &op->args[i]->type;
            if (y->rank != x->rank) FAIL("concat operands must have the same rank");
            for (int k = 0; k < x->rank; k++)
                if (k != op->axis && y->dims[k] != x->dims[k])
                    FAIL("concat: shapes %s and %s differ outside axis %d",
                         shape_str(x, s1, sizeof s1), shape_str(y, s2, sizeof s2), op->axis);
            t.dims[op->axis] += y->dims[op->axis];
            enc |= y->enc;
            flt |= y->is_float;
        }
        if (flt) set_float(&t, enc);
        else set_int(&t, enc);
        op->type = t;
        return true;
    }
    case IR_TLU: {
        if (x->is_float) FAIL("table lookup input must be an integer");
        const ir_func *body = op->tlu ? op->tlu->body : NULL;
        if (!body || !body->last || body->last->code != IR_OUTPUT)
            FAIL("tlu without a body");
        const ir_type *bt = &body->last->type;
        if (bt->is_float) FAIL("tlu body must return an integer");
        ir_type t = *x;
        t.bits = op->type.bits;       /* keep an inferred width */
        t.is_signed = op->type.is_signed;
        t.enc = x->enc;
        op->type = t;
        return true;
    }
    case IR_ROUND:
        if (x->is_float) FAIL("round needs an integer operand");
        if (op->round_bits < 0 || op->round_bits > 62) FAIL("round: bits must be between 1 and 62");
        {
            int bits = op->type.bits;
            bool sg = op->type.is_signed;
            op->type = *x;
            op->type.bits = bits;
            op->type.is_signed = sg;
        }
        return true;
    default:
        FAIL("no typing rule for '%s'", ir_op_name(op->code));
    }
}

/* More than IR_MAX_ELEMENTS elements, counted without overflow whatever the
 * dims (dims < 1 count as 1 here: the typing rules reject them). */
static bool too_large(const ir_type *t) {
    int64_t n = 1;
    for (int i = 0; i < t->rank && i < IR_MAX_RANK; i++) {
        if (t->dims[i] <= 1) continue;
        if (t->dims[i] > IR_MAX_ELEMENTS / n) return true;
        n *= t->dims[i];
    }
    return false;
}

/* The element limit is checked first on the dims a caller set (the typing
 * rules of RESHAPE and SLICE count them), then on the result. */
bool ir_infer(ir_op *op, diag_ctx *d) {
    if (!too_large(&op->type)) {
        if (!infer_op(op, d)) return false;
        if (!too_large(&op->type)) return true;
    }
    char s[128];
    FAIL("tensor of shape %s has more than 2^24 elements", shape_str(&op->type, s, sizeof s));
}

#undef FAIL

/* ---- builders ------------------------------------------------------------ */

ir_op *ir_build_input(ir_func *f, diag_loc loc, const char *name, int index, ir_type type) {
    ir_op *op = ir_op_new(f, IR_INPUT, loc, 0, NULL);
    if (!op) return NULL;
    op->name = name;
    op->index = index;
    op->type = type;
    return op;
}

ir_op *ir_build_const_int(ir_func *f, diag_loc loc, ir_type type, const int64_t *data) {
    ir_op *op = ir_op_new(f, IR_CONST, loc, 0, NULL);
    if (!op) return NULL;
    int64_t n = ir_type_count(&type);
    op->type = type;
    op->type.is_float = false;
    op->type.enc = false;
    op->idata = arena_array(f->mod->arena, (size_t)n, sizeof *op->idata);
    if (!op->idata) return NULL;
    memcpy(op->idata, data, (size_t)n * sizeof *data);
    /* A constant's width is that of its values. */
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int64_t i = 0; i < n; i++) {
        if (data[i] < lo) lo = data[i];
        if (data[i] > hi) hi = data[i];
    }
    op->has_range = true;
    op->lo = lo;
    op->hi = hi;
    op->type.bits = ir_bits_for_range(lo, hi, &op->type.is_signed);
    return op;
}

ir_op *ir_build_const_float(ir_func *f, diag_loc loc, int rank, const int64_t *dims,
                            const double *data) {
    ir_op *op = ir_op_new(f, IR_CONST, loc, 0, NULL);
    if (!op) return NULL;
    op->type.rank = rank;
    for (int i = 0; i < rank; i++) op->type.dims[i] = dims[i];
    set_float(&op->type, false);
    int64_t n = ir_type_count(&op->type);
    op->fdata = arena_array(f->mod->arena, (size_t)n, sizeof *op->fdata);
    if (!op->fdata) return NULL;
    memcpy(op->fdata, data, (size_t)n * sizeof *data);
    return op;
}

ir_op *ir_build_scalar_int(ir_func *f, diag_loc loc, int64_t v) {
    ir_type t = {0};
    return ir_build_const_int(f, loc, t, &v);
}

ir_op *ir_build_scalar_float(ir_func *f, diag_loc loc, double v) {
    return ir_build_const_float(f, loc, 0, NULL, &v);
}

static ir_op *finish(ir_func *f, ir_op *op, diag_ctx *d) {
    if (!op) return NULL;
    if (!ir_infer(op, d)) {
        ir_op_unlink(f, op);
        return NULL;
    }
    return op;
}

ir_op *ir_build(ir_func *f, diag_ctx *d, ir_opcode code, diag_loc loc, int nargs,
                ir_op *const *args) {
    for (int i = 0; i < nargs; i++)
        if (!args[i]) return NULL;
    return finish(f, ir_op_new(f, code, loc, nargs, args), d);
}

ir_op *ir_build1(ir_func *f, diag_ctx *d, ir_opcode code, diag_loc loc, ir_op *a) {
    return ir_build(f, d, code, loc, 1, &a);
}

ir_op *ir_build2(ir_func *f, diag_ctx *d, ir_opcode code, diag_loc loc, ir_op *a, ir_op *b) {
    ir_op *args[2] = {a, b};
    return ir_build(f, d, code, loc, 2, args);
}

ir_op *ir_build_sum(ir_func *f, diag_ctx *d, diag_loc loc, ir_op *x, int axis) {
    if (!x) return NULL;
    ir_op *op = ir_op_new(f, IR_SUM, loc, 1, &x);
    if (op) op->axis = axis;
    return finish(f, op, d);
}

static ir_op *with_dims(ir_func *f, diag_ctx *d, ir_opcode code, diag_loc loc, ir_op *x, int rank,
                        const int64_t *dims) {
    if (!x) return NULL;
    ir_op *op = ir_op_new(f, code, loc, 1, &x);
    if (!op) return NULL;
    if (rank < 0 || rank > IR_MAX_RANK) {
        if (d) diag_error(d, loc, "tensors have at most %d dimensions", IR_MAX_RANK);
        ir_op_unlink(f, op);
        return NULL;
    }
    op->type.rank = rank;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 1) {
            if (d) diag_error(d, loc, "dimensions must be positive");
            ir_op_unlink(f, op);
            return NULL;
        }
        op->type.dims[i] = dims[i];
    }
    return finish(f, op, d);
}

ir_op *ir_build_reshape(ir_func *f, diag_ctx *d, diag_loc loc, ir_op *x, int rank,
                        const int64_t *dims) {
    return with_dims(f, d, IR_RESHAPE, loc, x, rank, dims);
}

ir_op *ir_build_broadcast(ir_func *f, diag_ctx *d, diag_loc loc, ir_op *x, int rank,
                          const int64_t *dims) {
    return with_dims(f, d, IR_BROADCAST, loc, x, rank, dims);
}

ir_op *ir_build_transpose(ir_func *f, diag_ctx *d, diag_loc loc, ir_op *x, const int64_t *perm) {
    if (!x) return NULL;
    ir_op *op = ir_op_new(f, IR_TRANSPOSE, loc, 1, &x);
    if (!op) return NULL;
    for (int i = 0; i < x->type.rank; i++) op->perm[i] = perm ? perm[i] : x->type.rank - 1 - i;
    return finish(f, op, d);
}

ir_op *ir_build_slice(ir_func *f, diag_ctx *d, diag_loc loc, ir_op *x, const int64_t *begin,
                      const int64_t *end, const int64_t *step) {
    if (!x) return NULL;
    ir_op *op = ir_op_new(f, IR_SLICE, loc, 1, &x);
    if (!op) return NULL;
    op->type.rank = x->type.rank;
    for (int i = 0; i < x->type.rank; i++) {
        op->begin[i] = begin[i];
        op->step[i] = step[i];
        int64_t len = end[i] > begin[i] && step[i] > 0 ? 1 + (end[i] - begin[i] - 1) / step[i] : 0;
        op->type.dims[i] = len;
    }
    return finish(f, op, d);
}

ir_op *ir_build_concat(ir_func *f, diag_ctx *d, diag_loc loc, int nargs, ir_op *const *args,
                       int axis) {
    for (int i = 0; i < nargs; i++)
        if (!args[i]) return NULL;
    ir_op *op = ir_op_new(f, IR_CONCAT, loc, nargs, args);
    if (op) op->axis = axis;
    return finish(f, op, d);
}

ir_op *ir_build_conv2d(ir_func *f, diag_ctx *d, diag_loc loc, ir_op *x, ir_op *w,
                       const int stride[2], const int pad[2]) {
    if (!x || !w) return NULL;
    ir_op *args[2] = {x, w};
    ir_op *op = ir_op_new(f, IR_CONV2D, loc, 2, args);
    if (!op) return NULL;
    for (int i = 0; i < 2; i++) {
        op->stride[i] = stride[i];
        op->pad[i] = pad[i];
    }
    return finish(f, op, d);
}

ir_op *ir_build_pool(ir_func *f, diag_ctx *d, ir_opcode code, diag_loc loc, ir_op *x,
                     const int kernel[2], const int stride[2], const int pad[2]) {
    if (!x) return NULL;
    ir_op *op = ir_op_new(f, code, loc, 1, &x);
    if (!op) return NULL;
    for (int i = 0; i < 2; i++) {
        op->kernel[i] = kernel[i];
        op->stride[i] = stride[i];
        op->pad[i] = pad[i];
    }
    return finish(f, op, d);
}

ir_op *ir_build_round(ir_func *f, diag_ctx *d, diag_loc loc, ir_op *x, int bits, int shift) {
    if (!x) return NULL;
    ir_op *op = ir_op_new(f, IR_ROUND, loc, 1, &x);
    if (!op) return NULL;
    op->round_bits = bits;
    op->round_shift = shift;
    return finish(f, op, d);
}

ir_op *ir_build_tlu(ir_func *f, diag_ctx *d, diag_loc loc, ir_op *x, ir_func *body) {
    if (!x || !body) return NULL;
    ir_op *op = ir_op_new(f, IR_TLU, loc, 1, &x);
    if (!op) return NULL;
    op->tlu = arena_alloc(f->mod->arena, sizeof *op->tlu);
    if (!op->tlu) return NULL;
    op->tlu->body = body;
    return finish(f, op, d);
}

ir_op *ir_build_output(ir_func *f, diag_loc loc, const char *name, int index, ir_op *x) {
    if (!x) return NULL;
    ir_op *op = ir_op_new(f, IR_OUTPUT, loc, 1, &x);
    if (!op) return NULL;
    op->name = name;
    op->index = index;
    op->type = x->type;
    return op;
}
