/* emit_simulate.c — `int cml_circuit_simulate(const int64_t *const *in,
 * int64_t *const *out)`: the circuit's final IR compiled to native code on
 * clear values (runtime/include/cml/circuit_abi.h). It must compute exactly
 * what ir/interp.c computes with IR_INTERP_CHECK_WIDTHS — same values, and
 * an error wherever the interpreter reports one — so each op below mirrors
 * its eval_* function there:
 *
 *   - int64 overflow is detected where the interpreter checks it (checked
 *     add/sub/mul through llvm.s*.with.overflow; conv2d and sum-pooling
 *     accumulate exactly in i128 as the interpreter's acc_add does);
 *   - every integer result with an inferred width is checked against it,
 *     inputs against their declared range, tlu inputs against the table's
 *     domain, lookup indices against the table;
 *   - the first failing op makes the function return its %id + 1 (the
 *     numbering of `cmlc --emit-ir`), -1 if memory runs out, 0 on success.
 *
 * Layout: inputs are read in place, constants and tables are private
 * constant globals, every other value gets a slot of 8-byte elements in one
 * scratch block (an alloca when small, else malloc'd at entry and freed at
 * the single exit); `reshape` aliases its operand. Each op is a nest of
 * loops over its result (do-while loops on alloca'd counters: mem2reg and
 * the O2 pipeline turn them into clean induction variables); operand
 * indices are computed from per-dimension strides, a stride of 0 for a
 * broadcast dimension (numpy broadcasting exactly as interp.c's
 * bcast_index). Real values (a real function of a clear input) are doubles
 * computed with the same libm calls in the same order as the interpreter. */
#include "interp.h"
#include "llvm_ctx.h"

#include <stdlib.h>
#include <string.h>

/* Scratch blocks up to this size live on the stack. */
#define STACK_SCRATCH_MAX (32 * 1024)

typedef struct sim {
    llvm_ctx *c;
    LLVMBuilderRef b;
    ir_func *f;
    LLVMValueRef fn;
    LLVMValueRef in, out; /* the two parameters */
    LLVMValueRef rc;      /* i32 alloca: the return code */
    LLVMBasicBlockRef exit;
    LLVMValueRef *ptr;      /* per op id: its elements (i64* or double*) */
    int64_t *slot;          /* per op id: element offset in scratch, -1 = none */
    LLVMValueRef scratch;   /* i64* */
    const ir_op *cur;       /* the op being emitted */
    LLVMBasicBlockRef fail; /* its failure block (created on first use) */
} sim;

static bool is_real(const ir_op *op) {
    return op->code == IR_CONST ? op->fdata != NULL : op->type.is_float;
}

static LLVMTypeRef elem_ty(const sim *s, const ir_op *op) {
    return is_real(op) ? s->c->t_f64 : s->c->t_i64;
}

static bool unsupported(sim *s, const ir_op *op, const char *what) {
    diag_error(s->c->d, op->loc, "internal: the backend cannot compile this '%s' (%s)",
               ir_op_name(op->code), what);
    return false;
}

/* ---- control flow -------------------------------------------------------- */

static LLVMBasicBlockRef new_block(sim *s, const char *name) {
    return LLVMAppendBasicBlockInContext(s->c->ctx, s->fn, name);
}

static LLVMBasicBlockRef fail_block(sim *s) {
    if (!s->fail) {
        LLVMBasicBlockRef here = LLVMGetInsertBlock(s->b);
        char name[32];
        snprintf(name, sizeof name, "fail.%d", s->cur->id);
        s->fail = new_block(s, name);
        LLVMPositionBuilderAtEnd(s->b, s->fail);
        LLVMBuildStore(s->b, llvm_emit_i32(s->c, s->cur->id + 1), s->rc);
        LLVMBuildBr(s->b, s->exit);
        LLVMPositionBuilderAtEnd(s->b, here);
    }
    return s->fail;
}

/* The current op fails when cond (i1) holds. */
static void fail_if(sim *s, LLVMValueRef cond) {
    LLVMBasicBlockRef ok = new_block(s, "");
    LLVMBuildCondBr(s->b, cond, fail_block(s), ok);
    LLVMPositionBuilderAtEnd(s->b, ok);
}

/* The current op always fails (the interpreter rejects it whatever the
 * input); code after it is unreachable but still well-formed. */
static void fail_always(sim *s) {
    LLVMBuildBr(s->b, fail_block(s));
    LLVMPositionBuilderAtEnd(s->b, new_block(s, "dead"));
}

/* Fails unless lo <= v <= hi (i64 v); trivial sides are not emitted. */
static void check_range(sim *s, LLVMValueRef v, int64_t lo, int64_t hi) {
    LLVMValueRef bad = NULL;
    if (lo > hi) {
        fail_always(s);
        return;
    }
    if (lo != INT64_MIN) bad = LLVMBuildICmp(s->b, LLVMIntSLT, v, llvm_emit_i64(s->c, lo), "");
    if (hi != INT64_MAX) {
        LLVMValueRef h = LLVMBuildICmp(s->b, LLVMIntSGT, v, llvm_emit_i64(s->c, hi), "");
        bad = bad ? LLVMBuildOr(s->b, bad, h, "") : h;
    }
    if (bad) fail_if(s, bad);
}

/* Range every value of an integer op must fit (IR_INTERP_CHECK_WIDTHS);
 * false when there is nothing to check. */
static bool width_range(const ir_op *op, int64_t *lo, int64_t *hi) {
    if (is_real(op) || op->type.bits <= 0) return false;
    ir_type_range(&op->type, lo, hi);
    return true;
}

/* Values an already computed (and checked) integer op is known to hold. */
static void known_range(const ir_op *op, int64_t *lo, int64_t *hi) {
    *lo = INT64_MIN;
    *hi = INT64_MAX;
    if (is_real(op)) return;
    if (op->code == IR_CONST) {
        int64_t n = ir_type_count(&op->type);
        *lo = INT64_MAX;
        *hi = INT64_MIN;
        for (int64_t k = 0; k < n; k++) {
            if (op->idata[k] < *lo) *lo = op->idata[k];
            if (op->idata[k] > *hi) *hi = op->idata[k];
        }
        return;
    }
    width_range(op, lo, hi);
    if (op->code == IR_INPUT && op->has_range) {
        if (op->lo > *lo) *lo = op->lo;
        if (op->hi < *hi) *hi = op->hi;
    }
}

/* Stores the result v (i64 or double) of the current op at element idx,
 * after the width check. */
static void store_result(sim *s, LLVMValueRef idx, LLVMValueRef v) {
    const ir_op *op = s->cur;
    int64_t lo, hi;
    if (width_range(op, &lo, &hi)) check_range(s, v, lo, hi);
    llvm_emit_store_elem(s->c, elem_ty(s, op), s->ptr[op->id], idx, v);
}

/* ---- loads --------------------------------------------------------------- */

static LLVMValueRef load(sim *s, const ir_op *a, LLVMValueRef idx) {
    return llvm_emit_load_elem(s->c, elem_ty(s, a), s->ptr[a->id], idx);
}

/* Element idx of a as a double (interp.c's getf). */
static LLVMValueRef load_real(sim *s, const ir_op *a, LLVMValueRef idx) {
    LLVMValueRef v = load(s, a, idx);
    return is_real(a) ? v : LLVMBuildSIToFP(s->b, v, s->c->t_f64, "");
}

/* ---- elementwise ---------------------------------------------------------- */

static LLVMValueRef icmp01(sim *s, LLVMIntPredicate p, LLVMValueRef x, LLVMValueRef y) {
    return LLVMBuildZExt(s->b, LLVMBuildICmp(s->b, p, x, y, ""), s->c->t_i64, "");
}

static LLVMValueRef fcmp01(sim *s, LLVMRealPredicate p, LLVMValueRef x, LLVMValueRef y) {
    return LLVMBuildUIToFP(s->b, LLVMBuildFCmp(s->b, p, x, y, ""), s->c->t_f64, "");
}

static LLVMValueRef libm1(sim *s, const char *name, bool intrinsic, LLVMValueRef x) {
    return llvm_emit_libm(s->c, name, intrinsic, 1, &x);
}

/* 1.0 / (1.0 + exp(-x)) and x / (1.0 + exp(-x)): 1 + exp(-x). */
static LLVMValueRef one_plus_exp_neg(sim *s, LLVMValueRef x) {
    LLVMValueRef e = libm1(s, "exp", false, LLVMBuildFNeg(s->b, x, ""));
    return LLVMBuildFAdd(s->b, llvm_emit_f64(s->c, 1.0), e, "");
}

/* interp.c's ir_eval_real1, operation for operation. */
static LLVMValueRef real1(sim *s, ir_opcode code, LLVMValueRef x) {
    LLVMBuilderRef b = s->b;
    llvm_ctx *c = s->c;
    switch (code) {
    case IR_FLOOR: return libm1(s, "floor", true, x);
    case IR_CEIL: return libm1(s, "ceil", true, x);
    case IR_RINT: return libm1(s, "round", true, x);
    case IR_EXP: return libm1(s, "exp", false, x);
    case IR_LOG: return libm1(s, "log", false, x);
    case IR_SQRT: return libm1(s, "sqrt", false, x);
    case IR_SIGMOID: return LLVMBuildFDiv(b, llvm_emit_f64(c, 1.0), one_plus_exp_neg(s, x), "");
    case IR_TANH: return libm1(s, "tanh", false, x);
    case IR_GELU: {
        /* 0.5 * x * (1.0 + erf(x / sqrt(2.0))), sqrt(2.0) folded as C does */
        LLVMValueRef e =
            libm1(s, "erf", false, LLVMBuildFDiv(b, x, llvm_emit_f64(c, 1.4142135623730951), ""));
        LLVMValueRef h = LLVMBuildFMul(b, llvm_emit_f64(c, 0.5), x, "");
        return LLVMBuildFMul(b, h, LLVMBuildFAdd(b, llvm_emit_f64(c, 1.0), e, ""), "");
    }
    case IR_SOFTPLUS: {
        LLVMValueRef big = LLVMBuildFCmp(b, LLVMRealOGT, x, llvm_emit_f64(c, 30.0), "");
        LLVMValueRef sp = libm1(s, "log1p", false, libm1(s, "exp", false, x));
        return LLVMBuildSelect(b, big, x, sp, "");
    }
    case IR_SILU: return LLVMBuildFDiv(b, x, one_plus_exp_neg(s, x), "");
    case IR_SIN: return libm1(s, "sin", false, x);
    case IR_COS: return libm1(s, "cos", false, x);
    case IR_ABS: return libm1(s, "fabs", true, x);
    case IR_RELU: {
        LLVMValueRef pos = LLVMBuildFCmp(b, LLVMRealOGT, x, llvm_emit_f64(c, 0.0), "");
        return LLVMBuildSelect(b, pos, x, llvm_emit_f64(c, 0.0), "");
    }
    case IR_NEG: return LLVMBuildFNeg(b, x, "");
    case IR_TOFLOAT: return x;
    default: return llvm_emit_f64(c, __builtin_nan(""));
    }
}

/* The real branch of interp.c's eval_elemwise. */
static LLVMValueRef real_elem(sim *s, ir_opcode code, LLVMValueRef x, LLVMValueRef y,
                              LLVMValueRef z) {
    LLVMBuilderRef b = s->b;
    switch (code) {
    case IR_ADD: return LLVMBuildFAdd(b, x, y, "");
    case IR_SUB: return LLVMBuildFSub(b, x, y, "");
    case IR_MUL: return LLVMBuildFMul(b, x, y, "");
    case IR_DIV: return LLVMBuildFDiv(b, x, y, "");
    case IR_POW: {
        LLVMValueRef args[2] = {x, y};
        return llvm_emit_libm(s->c, "pow", false, 2, args);
    }
    case IR_MIN: return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, x, y, ""), x, y, "");
    case IR_MAX: return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, x, y, ""), x, y, "");
    case IR_LT: return fcmp01(s, LLVMRealOLT, x, y);
    case IR_LE: return fcmp01(s, LLVMRealOLE, x, y);
    case IR_GT: return fcmp01(s, LLVMRealOGT, x, y);
    case IR_GE: return fcmp01(s, LLVMRealOGE, x, y);
    case IR_EQ: return fcmp01(s, LLVMRealOEQ, x, y);
    case IR_NE: return fcmp01(s, LLVMRealUNE, x, y);
    case IR_WHERE:
        return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealUNE, x, llvm_emit_f64(s->c, 0.0), ""), y,
                               z, "");
    case IR_TOINT: return libm1(s, "round", true, x);
    default: return real1(s, code, x);
    }
}

/* The integer branch; NULL when the op has no integer semantics. */
static LLVMValueRef int_elem(sim *s, ir_opcode code, LLVMValueRef x, LLVMValueRef y,
                             LLVMValueRef z) {
    LLVMBuilderRef b = s->b;
    llvm_ctx *c = s->c;
    LLVMValueRef ovf = NULL, v;
    switch (code) {
    case IR_ADD: v = llvm_emit_checked(c, LLVM_OVF_ADD, x, y, &ovf); break;
    case IR_SUB: v = llvm_emit_checked(c, LLVM_OVF_SUB, x, y, &ovf); break;
    case IR_MUL: v = llvm_emit_checked(c, LLVM_OVF_MUL, x, y, &ovf); break;
    case IR_NEG: v = llvm_emit_checked(c, LLVM_OVF_SUB, llvm_emit_i64(c, 0), x, &ovf); break;
    case IR_MIN: v = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, x, y, ""), x, y, ""); break;
    case IR_MAX: v = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, x, y, ""), x, y, ""); break;
    case IR_LT: v = icmp01(s, LLVMIntSLT, x, y); break;
    case IR_LE: v = icmp01(s, LLVMIntSLE, x, y); break;
    case IR_GT: v = icmp01(s, LLVMIntSGT, x, y); break;
    case IR_GE: v = icmp01(s, LLVMIntSGE, x, y); break;
    case IR_EQ: v = icmp01(s, LLVMIntEQ, x, y); break;
    case IR_NE: v = icmp01(s, LLVMIntNE, x, y); break;
    case IR_ABS: {
        LLVMValueRef neg = LLVMBuildICmp(b, LLVMIntSLT, x, llvm_emit_i64(c, 0), "");
        LLVMValueRef nx = llvm_emit_checked(c, LLVM_OVF_SUB, llvm_emit_i64(c, 0), x, &ovf);
        ovf = LLVMBuildAnd(b, neg, ovf, "");
        v = LLVMBuildSelect(b, neg, nx, x, "");
        break;
    }
    case IR_RELU:
        v = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSGT, x, llvm_emit_i64(c, 0), ""), x,
                            llvm_emit_i64(c, 0), "");
        break;
    case IR_WHERE:
        v = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntNE, x, llvm_emit_i64(c, 0), ""), y, z, "");
        break;
    case IR_TOINT: v = x; break;
    default: return NULL;
    }
    if (ovf) fail_if(s, ovf);
    return v;
}

/* A real that must become an integer: NaN and values past +-9.2e18 fail,
 * the rest truncate as C's (int64_t) cast does. */
static LLVMValueRef real_to_int(sim *s, LLVMValueRef v) {
    LLVMValueRef nan = LLVMBuildFCmp(s->b, LLVMRealUNO, v, v, "");
    fail_if(s, nan);
    LLVMValueRef ge = LLVMBuildFCmp(s->b, LLVMRealOGE, v, llvm_emit_f64(s->c, -9.2e18), "");
    LLVMValueRef le = LLVMBuildFCmp(s->b, LLVMRealOLE, v, llvm_emit_f64(s->c, 9.2e18), "");
    fail_if(s, LLVMBuildNot(s->b, LLVMBuildAnd(s->b, ge, le, ""), ""));
    return LLVMBuildFPToSI(s->b, v, s->c->t_i64, "");
}

static bool emit_lookup(sim *s, const ir_op *op, LLVMValueRef ri, LLVMValueRef ii) {
    const ir_op *tab = op->args[0], *ix = op->args[1];
    bool rf = is_real(op);
    if (tab->code != IR_CONST || (!rf && tab->fdata))
        return unsupported(s, op, "table is not an integer constant");
    if (is_real(ix)) { /* "lookup index is not an integer" */
        fail_always(s);
        return true;
    }
    LLVMValueRef i = load(s, ix, ii);
    LLVMValueRef len = llvm_emit_i64(s->c, tab->type.dims[0]);
    fail_if(s, LLVMBuildICmp(s->b, LLVMIntUGE, i, len, "")); /* i < 0 or i >= len */
    LLVMValueRef v = load(s, tab, i);
    if (rf && !tab->fdata) v = LLVMBuildSIToFP(s->b, v, s->c->t_f64, "");
    store_result(s, ri, v);
    return true;
}

static bool emit_elemwise(sim *s, const ir_op *op) {
    int first = op->code == IR_LOOKUP ? 1 : 0; /* the table is not broadcast */
    bool anyf = false, rf = is_real(op);
    for (int i = first; i < op->nargs; i++) anyf |= is_real(op->args[i]);
    const ir_type *rt = &op->type;
    int64_t rst[IR_MAX_RANK], ast[3][IR_MAX_RANK];
    llvm_row_major_strides(rt->rank, rt->dims, rst);
    for (int i = first; i < op->nargs; i++) llvm_bcast_strides(&op->args[i]->type, rt, ast[i]);
    llvm_nest n;
    llvm_nest_begin(s->c, &n, rt->rank, rt->dims);
    LLVMValueRef ri = llvm_nest_offset(s->c, &n, 0, rst);
    LLVMValueRef ai[3] = {0};
    for (int i = first; i < op->nargs; i++) ai[i] = llvm_nest_offset(s->c, &n, 0, ast[i]);
    if (op->code == IR_LOOKUP) {
        if (!emit_lookup(s, op, ri, ai[1])) return false;
        llvm_nest_end(s->c, &n);
        return true;
    }
    LLVMValueRef x[3] = {0};
    LLVMValueRef v;
    if (anyf || rf) {
        for (int i = 0; i < op->nargs; i++) x[i] = load_real(s, op->args[i], ai[i]);
        v = real_elem(s, op->code, x[0], x[1], x[2]);
        if (!rf) v = real_to_int(s, v);
    } else {
        for (int i = 0; i < op->nargs; i++) x[i] = load(s, op->args[i], ai[i]);
        v = int_elem(s, op->code, x[0], x[1], x[2]);
        if (!v) { /* "has no integer semantics": fails on every input */
            fail_always(s);
            v = llvm_emit_i64(s->c, 0);
        }
    }
    store_result(s, ri, v);
    llvm_nest_end(s->c, &n);
    return true;
}

/* ---- linear algebra ------------------------------------------------------- */

static bool all_int(const ir_op *op) {
    if (is_real(op)) return false;
    for (int i = 0; i < op->nargs; i++)
        if (is_real(op->args[i])) return false;
    return true;
}

/* interp.c's eval_matmul (integer path): per output, products in k order,
 * each product and each partial sum checked for overflow. */
static bool emit_matmul(sim *s, const ir_op *op) {
    if (!all_int(op)) return unsupported(s, op, "real operands");
    const ir_op *a = op->args[0], *w = op->args[1];
    int64_t M = a->type.rank == 2 ? a->type.dims[0] : 1, K = a->type.dims[a->type.rank - 1];
    int64_t N = w->type.rank == 2 ? w->type.dims[1] : 1;
    llvm_ctx *c = s->c;
    LLVMValueRef acc = llvm_emit_entry_alloca(c, c->t_i64, "acc");
    int64_t dims[3] = {M, N, K};
    llvm_nest n;
    llvm_nest_begin(s->c, &n, 2, dims);
    LLVMBuildStore(s->b, llvm_emit_i64(c, 0), acc);
    llvm_nest k;
    llvm_nest_begin(s->c, &k, 1, &dims[2]);
    LLVMValueRef ia = llvm_nest_offset(s->c, &n, 0, (const int64_t[]){K, 0});
    ia = LLVMBuildNSWAdd(s->b, ia, k.idx[0], "");
    LLVMValueRef iw = LLVMBuildNSWAdd(s->b, llvm_nest_offset(s->c, &n, 0, (const int64_t[]){0, 1}),
                                      LLVMBuildNSWMul(s->b, k.idx[0], llvm_emit_i64(c, N), ""), "");
    LLVMValueRef o1, o2;
    LLVMValueRef p = llvm_emit_checked(c, LLVM_OVF_MUL, load(s, a, ia), load(s, w, iw), &o1);
    LLVMValueRef sum =
        llvm_emit_checked(c, LLVM_OVF_ADD, LLVMBuildLoad2(s->b, c->t_i64, acc, ""), p, &o2);
    fail_if(s, LLVMBuildOr(s->b, o1, o2, ""));
    LLVMBuildStore(s->b, sum, acc);
    llvm_nest_end(s->c, &k);
    store_result(s, llvm_nest_offset(s->c, &n, 0, (const int64_t[]){N, 1}),
                 LLVMBuildLoad2(s->b, c->t_i64, acc, ""));
    llvm_nest_end(s->c, &n);
    return true;
}

/* interp.c's eval_sum (acc_add without a second factor: a checked add). */
static bool emit_sum(sim *s, const ir_op *op) {
    if (!all_int(op)) return unsupported(s, op, "real operand");
    const ir_op *x = op->args[0];
    llvm_ctx *c = s->c;
    int64_t outer = 1, inner = 1, len = ir_type_count(&x->type);
    if (op->axis >= 0) {
        len = x->type.dims[op->axis];
        for (int i = 0; i < op->axis; i++) outer *= x->type.dims[i];
        for (int i = op->axis + 1; i < x->type.rank; i++) inner *= x->type.dims[i];
    }
    LLVMValueRef acc = llvm_emit_entry_alloca(c, c->t_i64, "acc");
    int64_t dims[2] = {outer, inner};
    llvm_nest n, l;
    llvm_nest_begin(s->c, &n, 2, dims);
    LLVMBuildStore(s->b, llvm_emit_i64(c, 0), acc);
    llvm_nest_begin(s->c, &l, 1, &len);
    /* (o * len + l) * inner + in */
    LLVMValueRef ix = llvm_nest_offset(s->c, &n, 0, (const int64_t[]){len * inner, 1});
    ix =
        LLVMBuildNSWAdd(s->b, ix, LLVMBuildNSWMul(s->b, l.idx[0], llvm_emit_i64(c, inner), ""), "");
    LLVMValueRef ovf;
    LLVMValueRef sum = llvm_emit_checked(c, LLVM_OVF_ADD, LLVMBuildLoad2(s->b, c->t_i64, acc, ""),
                                         load(s, x, ix), &ovf);
    fail_if(s, ovf);
    LLVMBuildStore(s->b, sum, acc);
    llvm_nest_end(s->c, &l);
    store_result(s, llvm_nest_offset(s->c, &n, 0, (const int64_t[]){inner, 1}),
                 LLVMBuildLoad2(s->b, c->t_i64, acc, ""));
    llvm_nest_end(s->c, &n);
    return true;
}

/* interp.c's eval_window: conv2d (sum of exact products, accumulated in
 * i128 and checked after each step as acc_add does), sumpool2d (checked
 * sums) and maxpool2d (maximum of the in-bounds positions, 0 if none). */
static bool emit_window(sim *s, const ir_op *op) {
    const ir_op *x = op->args[0];
    const ir_op *w = op->code == IR_CONV2D ? op->args[1] : NULL;
    bool maxpool = op->code == IR_MAXPOOL2D;
    bool real = is_real(op);
    if (maxpool ? real != is_real(x) : !all_int(op)) return unsupported(s, op, "real operands");
    llvm_ctx *c = s->c;
    LLVMBuilderRef b = s->b;
    int64_t C = x->type.dims[0], H = x->type.dims[1], W = x->type.dims[2];
    int64_t O = op->type.dims[0], OH = op->type.dims[1], OW = op->type.dims[2];
    int kh = op->kernel[0], kw = op->kernel[1];
    LLVMTypeRef ety = real ? c->t_f64 : c->t_i64;
    LLVMValueRef acc = llvm_emit_entry_alloca(c, ety, "acc");
    LLVMValueRef have = maxpool ? llvm_emit_entry_alloca(c, c->t_i1, "have") : NULL;
    LLVMValueRef zero = real ? llvm_emit_f64(c, 0.0) : llvm_emit_i64(c, 0);

    llvm_nest pos;
    llvm_nest_begin(s->c, &pos, 3, (const int64_t[]){O, OH, OW});
    LLVMBuildStore(b, zero, acc);
    if (have) LLVMBuildStore(b, LLVMConstInt(c->t_i1, 0, false), have);
    llvm_nest win;
    int64_t wd[3] = {w ? C : 1, kh, kw};
    llvm_nest_begin(s->c, &win, 3, wd);
    /* channel: c in [0, C) for conv2d, c = o for the pools */
    LLVMValueRef ch = w ? win.idx[0] : pos.idx[0];
    LLVMValueRef y = llvm_nest_offset(s->c, &pos, 0, (const int64_t[]){0, op->stride[0], 0});
    y = LLVMBuildNSWAdd(b, y, LLVMBuildNSWSub(b, win.idx[1], llvm_emit_i64(c, op->pad[0]), ""), "");
    LLVMValueRef xx = llvm_nest_offset(s->c, &pos, 0, (const int64_t[]){0, 0, op->stride[1]});
    xx = LLVMBuildNSWAdd(b, xx, LLVMBuildNSWSub(b, win.idx[2], llvm_emit_i64(c, op->pad[1]), ""),
                         "");
    LLVMBasicBlockRef skip = NULL;
    if (op->pad[0] > 0 || op->pad[1] > 0) { /* zero padding: skip outside positions */
        LLVMValueRef out =
            LLVMBuildOr(b, LLVMBuildICmp(b, LLVMIntUGE, y, llvm_emit_i64(c, H), ""),
                        LLVMBuildICmp(b, LLVMIntUGE, xx, llvm_emit_i64(c, W), ""), "");
        LLVMBasicBlockRef in = new_block(s, "in");
        skip = new_block(s, "skip");
        LLVMBuildCondBr(b, out, skip, in);
        LLVMPositionBuilderAtEnd(b, in);
    }
    /* ix = (c * H + y) * W + xx */
    LLVMValueRef ix = LLVMBuildNSWMul(b, ch, llvm_emit_i64(c, H), "");
    ix = LLVMBuildNSWMul(b, LLVMBuildNSWAdd(b, ix, y, ""), llvm_emit_i64(c, W), "");
    ix = LLVMBuildNSWAdd(b, ix, xx, "");
    LLVMValueRef v = load(s, x, ix);
    LLVMValueRef cur = LLVMBuildLoad2(b, ety, acc, "");
    if (maxpool) {
        LLVMValueRef h = LLVMBuildLoad2(b, c->t_i1, have, "");
        LLVMValueRef gt = real ? LLVMBuildFCmp(b, LLVMRealOGT, v, cur, "")
                               : LLVMBuildICmp(b, LLVMIntSGT, v, cur, "");
        LLVMValueRef take = LLVMBuildOr(b, LLVMBuildNot(b, h, ""), gt, "");
        LLVMBuildStore(b, LLVMBuildSelect(b, take, v, cur, ""), acc);
        LLVMBuildStore(b, LLVMConstInt(c->t_i1, 1, false), have);
    } else if (w) {
        /* ((o * C + c) * kh + ky) * kw + kx */
        LLVMValueRef iw = LLVMBuildNSWMul(b, pos.idx[0], llvm_emit_i64(c, C), "");
        iw = LLVMBuildNSWMul(b, LLVMBuildNSWAdd(b, iw, ch, ""), llvm_emit_i64(c, kh), "");
        iw = LLVMBuildNSWMul(b, LLVMBuildNSWAdd(b, iw, win.idx[1], ""), llvm_emit_i64(c, kw), "");
        iw = LLVMBuildNSWAdd(b, iw, win.idx[2], "");
        LLVMValueRef p = LLVMBuildNSWMul(b, LLVMBuildSExt(b, v, c->t_i128, ""),
                                         LLVMBuildSExt(b, load(s, w, iw), c->t_i128, ""), "");
        LLVMValueRef sum = LLVMBuildNSWAdd(b, LLVMBuildSExt(b, cur, c->t_i128, ""), p, "");
        LLVMValueRef t = LLVMBuildTrunc(b, sum, c->t_i64, "");
        fail_if(s, LLVMBuildICmp(b, LLVMIntNE, LLVMBuildSExt(b, t, c->t_i128, ""), sum, ""));
        LLVMBuildStore(b, t, acc);
    } else {
        LLVMValueRef ovf;
        LLVMValueRef sum = llvm_emit_checked(c, LLVM_OVF_ADD, cur, v, &ovf);
        fail_if(s, ovf);
        LLVMBuildStore(b, sum, acc);
    }
    if (skip) {
        LLVMBuildBr(b, skip);
        LLVMPositionBuilderAtEnd(b, skip);
    }
    llvm_nest_end(s->c, &win);
    LLVMValueRef r = LLVMBuildLoad2(b, ety, acc, "");
    if (maxpool) r = LLVMBuildSelect(b, LLVMBuildLoad2(b, c->t_i1, have, ""), r, zero, "");
    int64_t rst[3];
    llvm_row_major_strides(3, op->type.dims, rst);
    store_result(s, llvm_nest_offset(s->c, &pos, 0, rst), r);
    llvm_nest_end(s->c, &pos);
    return true;
}

/* ---- structural ops -------------------------------------------------------- */

/* Copies x into the current op: result element (over `dims`, at dst_off +
 * sum idx*dst_st) = x element (src_off + sum idx*src_st). The width check is
 * left out when x's values already fit. */
static bool emit_copy(sim *s, const ir_op *x, int rank, const int64_t *dims, int64_t dst_off,
                      const int64_t *dst_st, int64_t src_off, const int64_t *src_st) {
    const ir_op *op = s->cur;
    if (is_real(x) != is_real(op)) return unsupported(s, op, "mixed real and integer");
    int64_t lo, hi, klo, khi;
    known_range(x, &klo, &khi);
    bool check = width_range(op, &lo, &hi) && (klo < lo || khi > hi);
    llvm_nest n;
    llvm_nest_begin(s->c, &n, rank, dims);
    LLVMValueRef v = load(s, x, llvm_nest_offset(s->c, &n, src_off, src_st));
    if (check) check_range(s, v, lo, hi);
    llvm_emit_store_elem(s->c, elem_ty(s, op), s->ptr[op->id], llvm_nest_offset(s->c, &n, dst_off, dst_st),
                         v);
    llvm_nest_end(s->c, &n);
    return true;
}

static bool emit_structural(sim *s, const ir_op *op) {
    const ir_op *x = op->args[0];
    const ir_type *rt = &op->type, *xt = &x->type;
    int64_t rst[IR_MAX_RANK], xst[IR_MAX_RANK], src[IR_MAX_RANK];
    llvm_row_major_strides(rt->rank, rt->dims, rst);
    llvm_row_major_strides(xt->rank, xt->dims, xst);
    switch (op->code) {
    case IR_RESHAPE: { /* same elements in the same order */
        int64_t n = ir_type_count(rt), one = 1;
        return emit_copy(s, x, 1, &n, 0, &one, 0, &one);
    }
    case IR_BROADCAST:
        llvm_bcast_strides(xt, rt, src);
        return emit_copy(s, x, rt->rank, rt->dims, 0, rst, 0, src);
    case IR_TRANSPOSE: /* src[perm[i]] = idx[i] */
        for (int i = 0; i < rt->rank; i++) src[i] = xst[op->perm[i]];
        return emit_copy(s, x, rt->rank, rt->dims, 0, rst, 0, src);
    case IR_SLICE: {
        int64_t off = 0;
        for (int i = 0; i < rt->rank; i++) {
            off += op->begin[i] * xst[i];
            src[i] = op->step[i] * xst[i];
        }
        return emit_copy(s, x, rt->rank, rt->dims, 0, rst, off, src);
    }
    case IR_CONCAT: {
        int64_t pos = 0;
        for (int a = 0; a < op->nargs; a++) {
            const ir_type *yt = &op->args[a]->type;
            int64_t yst[IR_MAX_RANK];
            llvm_row_major_strides(yt->rank, yt->dims, yst);
            if (!emit_copy(s, op->args[a], yt->rank, yt->dims, pos * rst[op->axis], rst, 0, yst))
                return false;
            pos += yt->dims[op->axis];
        }
        return true;
    }
    default: return unsupported(s, op, "not structural");
    }
}

/* ---- encoding-changing ops ------------------------------------------------ */

/* interp.c's eval_round: ((x + 2^(s-1)) >> s) << s, i.e. (x + 2^(s-1)) with
 * the low s bits cleared; the addition overflows exactly when the
 * interpreter's 128-bit result leaves int64. */
static bool emit_round(sim *s, const ir_op *op) {
    const ir_op *x = op->args[0];
    int sh = op->round_shift;
    if (is_real(x)) return unsupported(s, op, "real operand");
    if (sh < 0 || sh > 62) {
        fail_always(s);
        return true;
    }
    llvm_nest n;
    LLVMValueRef k = llvm_flat_begin(s->c, &n, ir_type_count(&x->type));
    LLVMValueRef v = load(s, x, k);
    if (sh > 0) {
        LLVMValueRef ovf;
        v = llvm_emit_checked(s->c, LLVM_OVF_ADD, v, llvm_emit_i64(s->c, INT64_C(1) << (sh - 1)),
                              &ovf);
        fail_if(s, ovf);
        v = LLVMBuildAnd(s->b, v, llvm_emit_i64(s->c, ~((INT64_C(1) << sh) - 1)), "");
    }
    store_result(s, k, v);
    llvm_nest_end(s->c, &n);
    return true;
}

/* interp.c's eval_tlu on materialised tables: the input must be one of the
 * domain's points {dom_lo + j * 2^dom_shift}, else the op fails (never a read
 * out of bounds); the element's table row comes from table_of. */
static bool emit_tlu(sim *s, const ir_op *op) {
    const ir_tlu *t = op->tlu;
    const ir_op *x = op->args[0];
    if (!t || t->ntables <= 0 || t->dom_count <= 0)
        return unsupported(s, op, "table not materialised");
    if (is_real(x)) return unsupported(s, op, "real operand");
    llvm_ctx *c = s->c;
    LLVMBuilderRef b = s->b;
    char name[48];
    snprintf(name, sizeof name, "tlu.%d.tables", op->id);
    int64_t ntab = (int64_t)t->ntables * t->dom_count;
    LLVMValueRef tables = llvm_emit_const_array(c, name, t->tables, NULL, ntab);
    LLVMValueRef table_of = NULL;
    int64_t count = ir_type_count(&x->type);
    if (t->ntables > 1 && t->table_of) {
        snprintf(name, sizeof name, "tlu.%d.table_of", op->id);
        table_of = llvm_emit_const_array_i32(c, name, t->table_of, count);
    }
    if (!tables || (t->ntables > 1 && !table_of)) {
        diag_error(c->d, op->loc, "out of memory");
        return false;
    }
    /* The width check is needed only if some entry leaves the type. */
    int64_t lo, hi, tlo = INT64_MAX, thi = INT64_MIN;
    for (int64_t k = 0; k < ntab; k++) {
        if (t->tables[k] < tlo) tlo = t->tables[k];
        if (t->tables[k] > thi) thi = t->tables[k];
    }
    bool check = width_range(op, &lo, &hi) && (tlo < lo || thi > hi);

    llvm_nest n;
    LLVMValueRef k = llvm_flat_begin(s->c, &n, count);
    LLVMValueRef v = load(s, x, k), ovf;
    LLVMValueRef off = llvm_emit_checked(c, LLVM_OVF_SUB, v, llvm_emit_i64(c, t->dom_lo), &ovf);
    int64_t maxoff = (t->dom_count - 1) << t->dom_shift;
    LLVMValueRef bad =
        LLVMBuildOr(b, ovf, LLVMBuildICmp(b, LLVMIntUGT, off, llvm_emit_i64(c, maxoff), ""), "");
    if (t->dom_shift > 0) {
        LLVMValueRef low =
            LLVMBuildAnd(b, off, llvm_emit_i64(c, (INT64_C(1) << t->dom_shift) - 1), "");
        bad = LLVMBuildOr(b, bad, LLVMBuildICmp(b, LLVMIntNE, low, llvm_emit_i64(c, 0), ""), "");
    }
    fail_if(s, bad);
    LLVMValueRef j = t->dom_shift ? LLVMBuildLShr(b, off, llvm_emit_i64(c, t->dom_shift), "") : off;
    if (table_of) {
        LLVMValueRef row =
            LLVMBuildSExt(b, llvm_emit_load_elem(c, c->t_i32, table_of, k), c->t_i64, "");
        j = LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, row, llvm_emit_i64(c, t->dom_count), ""), j, "");
    }
    LLVMValueRef r = llvm_emit_load_elem(c, c->t_i64, tables, j);
    if (check) check_range(s, r, lo, hi);
    llvm_emit_store_elem(c, c->t_i64, s->ptr[op->id], k, r);
    llvm_nest_end(s->c, &n);
    return true;
}

/* ---- inputs, constants, outputs ------------------------------------------ */

/* in[index], checked against the declared range and the type (interp.c's
 * run(): an input outside either is an error). */
static bool emit_input(sim *s, const ir_op *op) {
    if (is_real(op)) return unsupported(s, op, "real circuit input");
    llvm_ctx *c = s->c;
    LLVMValueRef p = llvm_emit_load_elem(c, c->t_i64p, s->in, llvm_emit_i64(c, op->index));
    s->ptr[op->id] = p;
    int64_t lo, hi;
    known_range(op, &lo, &hi);
    if (lo == INT64_MIN && hi == INT64_MAX) return true;
    llvm_nest n;
    LLVMValueRef k = llvm_flat_begin(s->c, &n, ir_type_count(&op->type));
    check_range(s, load(s, op, k), lo, hi);
    llvm_nest_end(s->c, &n);
    return true;
}

static bool emit_const(sim *s, const ir_op *op) {
    char name[32];
    snprintf(name, sizeof name, "const.%d", op->id);
    int64_t n = ir_type_count(&op->type);
    if (!op->idata && !op->fdata) return unsupported(s, op, "no data");
    s->ptr[op->id] = llvm_emit_const_array(s->c, name, op->idata, op->fdata, n);
    if (!s->ptr[op->id]) {
        diag_error(s->c->d, op->loc, "out of memory");
        return false;
    }
    /* Constants are known: their width check is done here, once. */
    int64_t lo, hi;
    if (width_range(op, &lo, &hi))
        for (int64_t k = 0; k < n; k++)
            if (op->idata[k] < lo || op->idata[k] > hi) {
                fail_always(s);
                break;
            }
    return true;
}

static bool emit_output(sim *s, const ir_op *op) {
    const ir_op *x = op->args[0];
    if (is_real(x)) return unsupported(s, op, "real output");
    llvm_ctx *c = s->c;
    LLVMValueRef dst = llvm_emit_load_elem(c, c->t_i64p, s->out, llvm_emit_i64(c, op->index));
    uint64_t bytes = (uint64_t)ir_type_count(&x->type) * 8;
    LLVMBuildMemCpy(s->b, dst, 8, s->ptr[x->id], 8, LLVMConstInt(c->t_i64, bytes, false));
    return true;
}

/* A reshape whose check is not needed shares its operand's elements. */
static bool aliases(const ir_op *op) {
    if (op->code != IR_RESHAPE || is_real(op) != is_real(op->args[0])) return false;
    int64_t lo, hi, klo, khi;
    known_range(op->args[0], &klo, &khi);
    return !width_range(op, &lo, &hi) || (klo >= lo && khi <= hi);
}

static bool emit_op(sim *s, const ir_op *op) {
    s->cur = op;
    s->fail = NULL;
    if (op->code != IR_OUTPUT && s->slot[op->id] >= 0) {
        LLVMValueRef p =
            llvm_emit_elem_ptr(s->c, s->c->t_i64, s->scratch, llvm_emit_i64(s->c, s->slot[op->id]));
        s->ptr[op->id] = is_real(op) ? LLVMBuildBitCast(s->b, p, s->c->t_f64p, "") : p;
    }
    if (ir_op_flags(op->code) & IR_F_ELEMWISE) return emit_elemwise(s, op);
    switch (op->code) {
    case IR_INPUT: return emit_input(s, op);
    case IR_CONST: return emit_const(s, op);
    case IR_OUTPUT: return emit_output(s, op);
    case IR_DOT:
    case IR_MATMUL: return emit_matmul(s, op);
    case IR_CONV2D:
    case IR_SUMPOOL2D:
    case IR_MAXPOOL2D: return emit_window(s, op);
    case IR_SUM: return emit_sum(s, op);
    case IR_RESHAPE:
        if (aliases(op)) {
            s->ptr[op->id] = s->ptr[op->args[0]->id];
            return true;
        }
        return emit_structural(s, op);
    case IR_BROADCAST:
    case IR_TRANSPOSE:
    case IR_SLICE:
    case IR_CONCAT: return emit_structural(s, op);
    case IR_ROUND: return emit_round(s, op);
    case IR_TLU: return emit_tlu(s, op);
    default: return unsupported(s, op, "unknown op");
    }
}

/* ---- the function ---------------------------------------------------------- */

bool llvm_emit_simulate(llvm_ctx *c, ir_module *m) {
    ir_func *f = m->main;
    ir_renumber(f); /* return codes are %id + 1 of the printed IR */
    sim st = {.c = c, .b = c->b, .f = f};
    sim *s = &st;
    size_t nids = (size_t)(f->next_id > 0 ? f->next_id : 1);
    s->ptr = calloc(nids, sizeof *s->ptr);
    s->slot = malloc(nids * sizeof *s->slot);
    if (!s->ptr || !s->slot) {
        free(s->ptr);
        free(s->slot);
        diag_error(c->d, (diag_loc){0}, "out of memory");
        return false;
    }
    int64_t total = 0;
    ir_foreach(op, f) {
        if (op->code == IR_OUTPUT) continue;
        s->slot[op->id] = -1;
        if (op->code == IR_INPUT || op->code == IR_CONST || aliases(op)) continue;
        s->slot[op->id] = total;
        total += ir_type_count(&op->type);
    }

    LLVMTypeRef params[2] = {LLVMPointerType(c->t_i64p, 0), LLVMPointerType(c->t_i64p, 0)};
    LLVMTypeRef fty = LLVMFunctionType(c->t_i32, params, 2, false);
    s->fn = LLVMAddFunction(c->mod, "cml_circuit_simulate", fty);
    LLVMAddAttributeAtIndex(
        s->fn, LLVMAttributeFunctionIndex,
        LLVMCreateEnumAttribute(c->ctx, LLVMGetEnumAttributeKindForName("nounwind", 8), 0));
    s->in = LLVMGetParam(s->fn, 0);
    s->out = LLVMGetParam(s->fn, 1);
    LLVMSetValueName2(s->in, "in", 2);
    LLVMSetValueName2(s->out, "out", 3);

    LLVMBasicBlockRef entry = new_block(s, "entry");
    s->exit = new_block(s, "exit");
    LLVMPositionBuilderAtEnd(s->b, entry);
    s->rc = LLVMBuildAlloca(s->b, c->t_i32, "rc");
    LLVMBuildStore(s->b, llvm_emit_i32(c, 0), s->rc);
    bool heap = total * 8 > STACK_SCRATCH_MAX;
    LLVMValueRef raw = NULL;
    if (heap) {
        LLVMTypeRef mty = LLVMFunctionType(c->t_ptr, &c->t_i64, 1, false);
        LLVMValueRef mal = llvm_emit_declare(c, "malloc", mty);
        LLVMValueRef bytes = llvm_emit_i64(c, total * 8);
        raw = LLVMBuildCall2(s->b, mty, mal, &bytes, 1, "scratch");
        LLVMBasicBlockRef oom = new_block(s, "oom"), go = new_block(s, "start");
        LLVMBuildCondBr(s->b, LLVMBuildIsNull(s->b, raw, ""), oom, go);
        LLVMPositionBuilderAtEnd(s->b, oom);
        LLVMBuildStore(s->b, llvm_emit_i32(c, -1), s->rc);
        LLVMBuildBr(s->b, s->exit);
        LLVMPositionBuilderAtEnd(s->b, go);
        s->scratch = LLVMBuildBitCast(s->b, raw, c->t_i64p, "");
    } else if (total > 0) {
        LLVMValueRef a = LLVMBuildArrayAlloca(s->b, c->t_i64, llvm_emit_i64(c, total), "scratch");
        LLVMSetAlignment(a, 16);
        s->scratch = a;
    }

    bool ok = true;
    ir_foreach(op, f) {
        if (!(ok = emit_op(s, op))) break;
    }
    LLVMBuildBr(s->b, s->exit);

    LLVMPositionBuilderAtEnd(s->b, s->exit);
    LLVMValueRef rcv = LLVMBuildLoad2(s->b, c->t_i32, s->rc, "");
    if (heap) {
        LLVMTypeRef fty2 = LLVMFunctionType(c->t_void, &c->t_ptr, 1, false);
        LLVMBuildCall2(s->b, fty2, llvm_emit_declare(c, "free", fty2), &raw, 1, "");
    }
    LLVMBuildRet(s->b, rcv);
    free(s->ptr);
    free(s->slot);
    return ok;
}
