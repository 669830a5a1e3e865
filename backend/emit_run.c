/* emit_run.c — `int cml_circuit_run(void *ctx, const void *sk, const
 * uint64_t *const *in, uint64_t *const *out)`: the circuit's final IR on
 * ciphertexts (runtime/include/cml/circuit_abi.h), the server's half of
 * DESIGN §7. It computes what emit_simulate.c computes on clear integers,
 * with every encrypted value a buffer of LWE ciphertexts (one per element,
 * cml_lwe_size words, the value encoded at its type's width):
 *
 *   - linear ops are loops over ciphertexts calling libcmlrt's linear
 *     operations (cml/tfhe.h): add/sub/neg, add of an encoded clear value,
 *     multiplication by a clear integer; dot/matmul as one cml_lwe_dot_clear
 *     per output with the weights baked in (transposed) as a constant
 *     global; conv2d and sum-pooling as multiply-accumulate over the window;
 *   - structural ops copy ciphertexts (reshape shares its operand's);
 *   - a `tlu` is one call to cml_circuit_tlu (one batch of bootstraps over
 *     all its elements, spread over the context's threads), a `round` one
 *     call to cml_circuit_round (cml/circuit_ops.h);
 *   - clear operands are constants (globals) or clear circuit inputs (read
 *     from in[k] as int64 values). A circuit that computes on clear values
 *     beyond that gets no cml_circuit_run (a warning says so; the loader
 *     then reports that the model cannot run encrypted).
 *
 * Memory: each encrypted value is malloc'd when computed and freed after
 * its last use, so the peak is the widest live set, not the whole circuit;
 * every buffer pointer also lives in a slot table that the single exit
 * frees, so a failing call (status != 0, or malloc returning NULL ->
 * CML_ERR_NOMEM) leaks nothing. */
#include "llvm_ctx.h"
#include "lowering.h"
#include "passes.h"

#include <cml/tfhe.h>
#include <stdlib.h>
#include <string.h>

typedef struct run {
    llvm_ctx *c;
    LLVMBuilderRef b;
    ir_func *f;
    LLVMValueRef fn;
    LLVMValueRef ctx, sk, in, out; /* parameters */
    LLVMValueRef rc;               /* i32 alloca: the status */
    LLVMValueRef slots;            /* [nslots x i64*] alloca: live buffers */
    LLVMBasicBlockRef exit;
    int64_t L;                     /* words per ciphertext: k*N + 1 */
    LLVMValueRef *val;             /* per op id: i64* (ciphertexts, or clear values) */
    int *slot;                     /* per op id: its buffer's slot, -1 = owns none */
    int *owner;                    /* per op id: the op whose buffer holds its ciphertexts */
    int *last;                     /* per op id: position of the last op reading it */
    int nslots;
    const ir_op *cur;
} run;

static bool unsupported(run *r, const ir_op *op, const char *what) {
    diag_error(r->c->d, op->loc, "internal: cannot generate encrypted code for this '%s' (%s)",
               ir_op_name(op->code), what);
    return false;
}

static LLVMBasicBlockRef new_block(run *r, const char *name) {
    return LLVMAppendBasicBlockInContext(r->c->ctx, r->fn, name);
}

/* ---- runtime calls ---------------------------------------------------------- */

static LLVMValueRef call(run *r, const char *name, LLVMTypeRef ret, LLVMTypeRef *pt, int n,
                         LLVMValueRef *args) {
    LLVMTypeRef fty = LLVMFunctionType(ret, pt, (unsigned)n, false);
    return LLVMBuildCall2(r->b, fty, llvm_emit_declare(r->c, name, fty), args, (unsigned)n, "");
}

static LLVMValueRef dim(run *r) { return llvm_emit_i64(r->c, r->L - 1); }

/* void NAME(i64 *out, i64 *a, i64 *b, i64 d) and the like. */
static void lwe2(run *r, const char *name, LLVMValueRef out, LLVMValueRef a, LLVMValueRef b) {
    llvm_ctx *c = r->c;
    LLVMTypeRef pt[4] = {c->t_i64p, c->t_i64p, c->t_i64p, c->t_i64};
    LLVMValueRef args[4] = {out, a, b, dim(r)};
    call(r, name, c->t_void, pt, 4, args);
}

static void lwe1(run *r, const char *name, LLVMValueRef out, LLVMValueRef a) {
    llvm_ctx *c = r->c;
    LLVMTypeRef pt[3] = {c->t_i64p, c->t_i64p, c->t_i64};
    LLVMValueRef args[3] = {out, a, dim(r)};
    call(r, name, c->t_void, pt, 3, args);
}

/* NAME(out, a, scalar, d): cml_lwe_add_plain, cml_lwe_mul_clear(_acc). */
static void lwe_scalar(run *r, const char *name, LLVMValueRef out, LLVMValueRef a,
                       LLVMValueRef v) {
    llvm_ctx *c = r->c;
    LLVMTypeRef pt[4] = {c->t_i64p, c->t_i64p, c->t_i64, c->t_i64};
    LLVMValueRef args[4] = {out, a, v, dim(r)};
    call(r, name, c->t_void, pt, 4, args);
}

/* The status s (i32) of a runtime call: non-zero ends the run with it. */
static void check_status(run *r, LLVMValueRef s) {
    LLVMBasicBlockRef bad = new_block(r, "fail"), ok = new_block(r, "ok");
    LLVMBuildCondBr(r->b, LLVMBuildICmp(r->b, LLVMIntNE, s, llvm_emit_i32(r->c, 0), ""), bad, ok);
    LLVMPositionBuilderAtEnd(r->b, bad);
    LLVMBuildStore(r->b, s, r->rc);
    LLVMBuildBr(r->b, r->exit);
    LLVMPositionBuilderAtEnd(r->b, ok);
}

/* ---- values ------------------------------------------------------------------- */

/* Ciphertext idx (i64) of encrypted value x. */
static LLVMValueRef ct(run *r, const ir_op *x, LLVMValueRef idx) {
    LLVMValueRef off = LLVMBuildNSWMul(r->b, idx, llvm_emit_i64(r->c, r->L), "");
    return llvm_emit_elem_ptr(r->c, r->c->t_i64, r->val[x->id], off);
}

/* Element idx of a clear operand (a constant or a clear input), i64. */
static LLVMValueRef clear(run *r, const ir_op *x, LLVMValueRef idx) {
    return llvm_emit_load_elem(r->c, r->c->t_i64, r->val[x->id], idx);
}

/* v * 2^(63 - bits) mod 2^64: cml_encode, inline. */
static LLVMValueRef encode(run *r, LLVMValueRef v, int bits) {
    return LLVMBuildShl(r->b, v, llvm_emit_i64(r->c, 63 - bits), "");
}

/* Allocates the current op's buffer (count ciphertexts) into its slot. */
static void alloc_value(run *r, const ir_op *op) {
    llvm_ctx *c = r->c;
    LLVMTypeRef mty = LLVMFunctionType(c->t_ptr, &c->t_i64, 1, false);
    LLVMValueRef bytes = llvm_emit_i64(c, ir_type_count(&op->type) * r->L * 8);
    LLVMValueRef raw = LLVMBuildCall2(r->b, mty, llvm_emit_declare(c, "malloc", mty), &bytes, 1, "");
    LLVMValueRef p = LLVMBuildBitCast(r->b, raw, c->t_i64p, "");
    LLVMBuildStore(r->b, p, llvm_emit_elem_ptr(c, c->t_i64p, r->slots,
                                               llvm_emit_i64(c, r->slot[op->id])));
    LLVMBasicBlockRef oom = new_block(r, "oom"), ok = new_block(r, "ok");
    LLVMBuildCondBr(r->b, LLVMBuildIsNull(r->b, raw, ""), oom, ok);
    LLVMPositionBuilderAtEnd(r->b, oom);
    LLVMBuildStore(r->b, llvm_emit_i32(c, CML_ERR_NOMEM), r->rc);
    LLVMBuildBr(r->b, r->exit);
    LLVMPositionBuilderAtEnd(r->b, ok);
    r->val[op->id] = p;
}

static void free_slot(run *r, int slot) {
    llvm_ctx *c = r->c;
    LLVMValueRef at = llvm_emit_elem_ptr(c, c->t_i64p, r->slots, llvm_emit_i64(c, slot));
    LLVMValueRef p = LLVMBuildBitCast(r->b, LLVMBuildLoad2(r->b, c->t_i64p, at, ""), c->t_ptr, "");
    LLVMTypeRef fty = LLVMFunctionType(c->t_void, &c->t_ptr, 1, false);
    LLVMBuildCall2(r->b, fty, llvm_emit_declare(c, "free", fty), &p, 1, "");
    LLVMBuildStore(r->b, LLVMConstNull(c->t_i64p), at);
}

/* A ciphertext of v with no mask (no noise): for clear values placed in an
 * encrypted tensor (a concat with a constant). */
static void trivial(run *r, LLVMValueRef dst, LLVMValueRef v, int bits) {
    llvm_ctx *c = r->c;
    LLVMBuildMemSet(r->b, dst, LLVMConstInt(c->t_i8, 0, false),
                    llvm_emit_i64(c, (r->L - 1) * 8), 8);
    llvm_emit_store_elem(c, c->t_i64, dst, llvm_emit_i64(c, r->L - 1), encode(r, v, bits));
}

static void zero_ct(run *r, LLVMValueRef dst) {
    LLVMBuildMemSet(r->b, dst, LLVMConstInt(r->c->t_i8, 0, false), llvm_emit_i64(r->c, r->L * 8),
                    8);
}

/* ---- elementwise linear ops ----------------------------------------------- */

static bool same_encoding(run *r, const ir_op *op) {
    for (int i = 0; i < op->nargs; i++)
        if (op->args[i]->type.enc && op->args[i]->type.bits != op->type.bits)
            return unsupported(r, op, "operands encoded at another width than the result");
    return true;
}

static bool emit_elemwise(run *r, const ir_op *op) {
    if (!same_encoding(r, op)) return false;
    const ir_type *rt = &op->type;
    int64_t rst[IR_MAX_RANK], ast[2][IR_MAX_RANK];
    llvm_row_major_strides(rt->rank, rt->dims, rst);
    for (int i = 0; i < op->nargs; i++) llvm_bcast_strides(&op->args[i]->type, rt, ast[i]);
    const ir_op *a = op->args[0], *b = op->nargs > 1 ? op->args[1] : NULL;
    int bits = rt->bits;
    alloc_value(r, op);
    llvm_nest n;
    llvm_nest_begin(r->c, &n, rt->rank, rt->dims);
    LLVMValueRef o = ct(r, op, llvm_nest_offset(r->c, &n, 0, rst));
    LLVMValueRef ai = llvm_nest_offset(r->c, &n, 0, ast[0]);
    LLVMValueRef bi = b ? llvm_nest_offset(r->c, &n, 0, ast[1]) : NULL;
    switch (lower_kind_of(op)) {
    case LOWER_NEG: lwe1(r, "cml_lwe_neg", o, ct(r, a, ai)); break;
    case LOWER_ADD: lwe2(r, "cml_lwe_add", o, ct(r, a, ai), ct(r, b, bi)); break;
    case LOWER_SUB: lwe2(r, "cml_lwe_sub", o, ct(r, a, ai), ct(r, b, bi)); break;
    case LOWER_ADD_PLAIN:
        if (a->type.enc) {
            LLVMValueRef v = clear(r, b, bi);
            if (op->code == IR_SUB) v = LLVMBuildNeg(r->b, v, "");
            lwe_scalar(r, "cml_lwe_add_plain", o, ct(r, a, ai), encode(r, v, bits));
        } else { /* clear + enc */
            lwe_scalar(r, "cml_lwe_add_plain", o, ct(r, b, bi), encode(r, clear(r, a, ai), bits));
        }
        break;
    case LOWER_PLAIN_SUB: /* clear - enc */
        lwe1(r, "cml_lwe_neg", o, ct(r, b, bi));
        lwe_scalar(r, "cml_lwe_add_plain", o, o, encode(r, clear(r, a, ai), bits));
        break;
    case LOWER_MUL_CLEAR: {
        bool ae = a->type.enc;
        lwe_scalar(r, "cml_lwe_mul_clear", o, ct(r, ae ? a : b, ae ? ai : bi),
                   clear(r, ae ? b : a, ae ? bi : ai));
        break;
    }
    default: return unsupported(r, op, "not a linear elementwise op");
    }
    llvm_nest_end(r->c, &n);
    return true;
}

/* ---- linear algebra ------------------------------------------------------- */

/* [M,K] @ [K,N] (either side may lack its outer dimension). With the
 * encrypted operand on the left and constant weights, each output is one
 * cml_lwe_dot_clear over a contiguous row of ciphertexts and a row of the
 * transposed weights; otherwise a multiply-accumulate loop. */
static bool emit_matmul(run *r, const ir_op *op) {
    if (!same_encoding(r, op)) return false;
    const ir_op *a = op->args[0], *w = op->args[1];
    llvm_ctx *c = r->c;
    int64_t M = a->type.rank == 2 ? a->type.dims[0] : 1, K = a->type.dims[a->type.rank - 1];
    int64_t N = w->type.rank == 2 ? w->type.dims[1] : 1;
    alloc_value(r, op);
    llvm_nest n;
    int64_t dims[2] = {M, N};
    if (lower_kind_of(op) == LOWER_DOT_CLEAR) {
        int64_t *wt = malloc((size_t)(K * N) * sizeof *wt);
        if (!wt) {
            diag_error(c->d, op->loc, "out of memory");
            return false;
        }
        for (int64_t k = 0; k < K; k++)
            for (int64_t j = 0; j < N; j++) wt[j * K + k] = w->idata[k * N + j];
        char name[40];
        snprintf(name, sizeof name, "matmul.%d.wt", op->id);
        LLVMValueRef g = llvm_emit_const_array(c, name, wt, NULL, K * N);
        free(wt);
        if (!g) {
            diag_error(c->d, op->loc, "out of memory");
            return false;
        }
        llvm_nest_begin(c, &n, 2, dims);
        LLVMValueRef o = ct(r, op, llvm_nest_offset(c, &n, 0, (const int64_t[]){N, 1}));
        LLVMValueRef row = ct(r, a, llvm_nest_offset(c, &n, 0, (const int64_t[]){K, 0}));
        LLVMValueRef wrow =
            llvm_emit_elem_ptr(c, c->t_i64, g, llvm_nest_offset(c, &n, 0, (const int64_t[]){0, K}));
        LLVMTypeRef pt[5] = {c->t_i64p, c->t_i64p, c->t_i64p, c->t_i64, c->t_i64};
        LLVMValueRef args[5] = {o, row, wrow, llvm_emit_i64(c, K), dim(r)};
        call(r, "cml_lwe_dot_clear", c->t_void, pt, 5, args);
        llvm_nest_end(c, &n);
        return true;
    }
    llvm_nest_begin(c, &n, 2, dims);
    LLVMValueRef o = ct(r, op, llvm_nest_offset(c, &n, 0, (const int64_t[]){N, 1}));
    zero_ct(r, o);
    llvm_nest k;
    llvm_nest_begin(c, &k, 1, &K);
    LLVMValueRef ia = LLVMBuildNSWAdd(r->b, llvm_nest_offset(c, &n, 0, (const int64_t[]){K, 0}),
                                      k.idx[0], "");
    LLVMValueRef iw = LLVMBuildNSWAdd(r->b, llvm_nest_offset(c, &n, 0, (const int64_t[]){0, 1}),
                                      LLVMBuildNSWMul(r->b, k.idx[0], llvm_emit_i64(c, N), ""), "");
    if (a->type.enc)
        lwe_scalar(r, "cml_lwe_mul_clear_acc", o, ct(r, a, ia), clear(r, w, iw));
    else
        lwe_scalar(r, "cml_lwe_mul_clear_acc", o, ct(r, w, iw), clear(r, a, ia));
    llvm_nest_end(c, &k);
    llvm_nest_end(c, &n);
    return true;
}

static bool emit_sum(run *r, const ir_op *op) {
    if (!same_encoding(r, op)) return false;
    const ir_op *x = op->args[0];
    llvm_ctx *c = r->c;
    int64_t outer = 1, inner = 1, len = ir_type_count(&x->type);
    if (op->axis >= 0) {
        len = x->type.dims[op->axis];
        for (int i = 0; i < op->axis; i++) outer *= x->type.dims[i];
        for (int i = op->axis + 1; i < x->type.rank; i++) inner *= x->type.dims[i];
    }
    alloc_value(r, op);
    int64_t dims[2] = {outer, inner};
    llvm_nest n, l;
    llvm_nest_begin(c, &n, 2, dims);
    LLVMValueRef o = ct(r, op, llvm_nest_offset(c, &n, 0, (const int64_t[]){inner, 1}));
    zero_ct(r, o);
    llvm_nest_begin(c, &l, 1, &len);
    LLVMValueRef ix = llvm_nest_offset(c, &n, 0, (const int64_t[]){len * inner, 1});
    ix = LLVMBuildNSWAdd(r->b, ix, LLVMBuildNSWMul(r->b, l.idx[0], llvm_emit_i64(c, inner), ""),
                         "");
    lwe2(r, "cml_lwe_add", o, o, ct(r, x, ix));
    llvm_nest_end(c, &l);
    llvm_nest_end(c, &n);
    return true;
}

/* conv2d (clear weights [O,C,kh,kw]) and sum-pooling over [C,H,W]; zero
 * padding contributes nothing, so outside positions are skipped. */
static bool emit_window(run *r, const ir_op *op) {
    if (!same_encoding(r, op)) return false;
    const ir_op *x = op->args[0];
    const ir_op *w = op->code == IR_CONV2D ? op->args[1] : NULL;
    if (!x->type.enc || (w && w->type.enc)) return unsupported(r, op, "encrypted weights");
    llvm_ctx *c = r->c;
    LLVMBuilderRef b = r->b;
    int64_t C = x->type.dims[0], H = x->type.dims[1], W = x->type.dims[2];
    int64_t O = op->type.dims[0], OH = op->type.dims[1], OW = op->type.dims[2];
    int kh = op->kernel[0], kw = op->kernel[1];
    alloc_value(r, op);
    llvm_nest pos, win;
    llvm_nest_begin(c, &pos, 3, (const int64_t[]){O, OH, OW});
    int64_t rst[3];
    llvm_row_major_strides(3, op->type.dims, rst);
    LLVMValueRef o = ct(r, op, llvm_nest_offset(c, &pos, 0, rst));
    zero_ct(r, o);
    llvm_nest_begin(c, &win, 3, (const int64_t[]){w ? C : 1, kh, kw});
    LLVMValueRef ch = w ? win.idx[0] : pos.idx[0];
    LLVMValueRef y = llvm_nest_offset(c, &pos, 0, (const int64_t[]){0, op->stride[0], 0});
    y = LLVMBuildNSWAdd(b, y, LLVMBuildNSWSub(b, win.idx[1], llvm_emit_i64(c, op->pad[0]), ""), "");
    LLVMValueRef xx = llvm_nest_offset(c, &pos, 0, (const int64_t[]){0, 0, op->stride[1]});
    xx = LLVMBuildNSWAdd(b, xx, LLVMBuildNSWSub(b, win.idx[2], llvm_emit_i64(c, op->pad[1]), ""),
                         "");
    LLVMBasicBlockRef skip = NULL;
    if (op->pad[0] > 0 || op->pad[1] > 0) {
        LLVMValueRef outside =
            LLVMBuildOr(b, LLVMBuildICmp(b, LLVMIntUGE, y, llvm_emit_i64(c, H), ""),
                        LLVMBuildICmp(b, LLVMIntUGE, xx, llvm_emit_i64(c, W), ""), "");
        LLVMBasicBlockRef in = new_block(r, "in");
        skip = new_block(r, "skip");
        LLVMBuildCondBr(b, outside, skip, in);
        LLVMPositionBuilderAtEnd(b, in);
    }
    LLVMValueRef ix = LLVMBuildNSWMul(b, ch, llvm_emit_i64(c, H), "");
    ix = LLVMBuildNSWMul(b, LLVMBuildNSWAdd(b, ix, y, ""), llvm_emit_i64(c, W), "");
    ix = LLVMBuildNSWAdd(b, ix, xx, "");
    if (w) {
        LLVMValueRef iw = LLVMBuildNSWMul(b, pos.idx[0], llvm_emit_i64(c, C), "");
        iw = LLVMBuildNSWMul(b, LLVMBuildNSWAdd(b, iw, ch, ""), llvm_emit_i64(c, kh), "");
        iw = LLVMBuildNSWMul(b, LLVMBuildNSWAdd(b, iw, win.idx[1], ""), llvm_emit_i64(c, kw), "");
        iw = LLVMBuildNSWAdd(b, iw, win.idx[2], "");
        lwe_scalar(r, "cml_lwe_mul_clear_acc", o, ct(r, x, ix), clear(r, w, iw));
    } else {
        lwe2(r, "cml_lwe_add", o, o, ct(r, x, ix));
    }
    if (skip) {
        LLVMBuildBr(b, skip);
        LLVMPositionBuilderAtEnd(b, skip);
    }
    llvm_nest_end(c, &win);
    llvm_nest_end(c, &pos);
    return true;
}

/* ---- structural ops -------------------------------------------------------- */

/* Result ciphertext (dst_off + sum idx*dst_st) = x's (src_off + sum
 * idx*src_st) over `dims`; a clear x (a constant) becomes trivial
 * ciphertexts. */
static bool emit_copy(run *r, const ir_op *x, int rank, const int64_t *dims, int64_t dst_off,
                      const int64_t *dst_st, int64_t src_off, const int64_t *src_st) {
    const ir_op *op = r->cur;
    if (x->type.enc && x->type.bits != op->type.bits)
        return unsupported(r, op, "operand encoded at another width than the result");
    llvm_nest n;
    llvm_nest_begin(r->c, &n, rank, dims);
    LLVMValueRef dst = ct(r, op, llvm_nest_offset(r->c, &n, dst_off, dst_st));
    LLVMValueRef si = llvm_nest_offset(r->c, &n, src_off, src_st);
    if (x->type.enc)
        LLVMBuildMemCpy(r->b, dst, 8, ct(r, x, si), 8, llvm_emit_i64(r->c, r->L * 8));
    else
        trivial(r, dst, clear(r, x, si), op->type.bits);
    llvm_nest_end(r->c, &n);
    return true;
}

static bool emit_structural(run *r, const ir_op *op) {
    const ir_op *x = op->args[0];
    const ir_type *rt = &op->type, *xt = &x->type;
    int64_t rst[IR_MAX_RANK], xst[IR_MAX_RANK], src[IR_MAX_RANK];
    llvm_row_major_strides(rt->rank, rt->dims, rst);
    llvm_row_major_strides(xt->rank, xt->dims, xst);
    alloc_value(r, op);
    switch (op->code) {
    case IR_RESHAPE: {
        int64_t n = ir_type_count(rt), one = 1;
        return emit_copy(r, x, 1, &n, 0, &one, 0, &one);
    }
    case IR_BROADCAST:
        llvm_bcast_strides(xt, rt, src);
        return emit_copy(r, x, rt->rank, rt->dims, 0, rst, 0, src);
    case IR_TRANSPOSE:
        for (int i = 0; i < rt->rank; i++) src[i] = xst[op->perm[i]];
        return emit_copy(r, x, rt->rank, rt->dims, 0, rst, 0, src);
    case IR_SLICE: {
        int64_t off = 0;
        for (int i = 0; i < rt->rank; i++) {
            off += op->begin[i] * xst[i];
            src[i] = op->step[i] * xst[i];
        }
        return emit_copy(r, x, rt->rank, rt->dims, 0, rst, off, src);
    }
    case IR_CONCAT: {
        int64_t at = 0;
        for (int a = 0; a < op->nargs; a++) {
            const ir_type *yt = &op->args[a]->type;
            int64_t yst[IR_MAX_RANK];
            llvm_row_major_strides(yt->rank, yt->dims, yst);
            if (!emit_copy(r, op->args[a], yt->rank, yt->dims, at * rst[op->axis], rst, 0, yst))
                return false;
            at += yt->dims[op->axis];
        }
        return true;
    }
    default: return unsupported(r, op, "not structural");
    }
}

/* ---- bootstrapped ops -------------------------------------------------------- */

static bool emit_tlu(run *r, const ir_op *op) {
    const ir_tlu *t = op->tlu;
    const ir_op *x = op->args[0];
    if (!t || t->ntables <= 0 || t->dom_count <= 0)
        return unsupported(r, op, "table not materialised");
    llvm_ctx *c = r->c;
    char name[48];
    snprintf(name, sizeof name, "tlu.%d.tables", op->id);
    LLVMValueRef tables =
        llvm_emit_const_array(c, name, t->tables, NULL, (int64_t)t->ntables * t->dom_count);
    LLVMValueRef table_of = LLVMConstNull(LLVMPointerType(c->t_i32, 0));
    int64_t count = ir_type_count(&op->type);
    if (t->ntables > 1) {
        snprintf(name, sizeof name, "tlu.%d.table_of", op->id);
        table_of = llvm_emit_const_array_i32(c, name, t->table_of, count);
    }
    if (!tables || !table_of) {
        diag_error(c->d, op->loc, "out of memory");
        return false;
    }
    alloc_value(r, op);
    LLVMTypeRef pt[13] = {c->t_ptr, c->t_ptr, c->t_i64p, c->t_i64p, c->t_i64,
                          c->t_i32, c->t_i32, c->t_i64,  c->t_i64,  c->t_i32,
                          c->t_i64p, c->t_i64, LLVMPointerType(c->t_i32, 0)};
    LLVMValueRef args[13] = {r->ctx,
                             r->sk,
                             r->val[op->id],
                             r->val[x->id],
                             llvm_emit_i64(c, count),
                             llvm_emit_i32(c, x->type.bits),
                             llvm_emit_i32(c, t->dom_shift),
                             llvm_emit_i64(c, t->dom_lo),
                             llvm_emit_i64(c, t->dom_count),
                             llvm_emit_i32(c, op->type.bits),
                             tables,
                             llvm_emit_i64(c, t->ntables),
                             table_of};
    check_status(r, call(r, "cml_circuit_tlu", c->t_i32, pt, 13, args));
    return true;
}

static bool emit_round(run *r, const ir_op *op) {
    const ir_op *x = op->args[0];
    if (!same_encoding(r, op)) return false;
    llvm_ctx *c = r->c;
    alloc_value(r, op);
    LLVMTypeRef pt[8] = {c->t_ptr, c->t_ptr, c->t_i64p, c->t_i64p,
                         c->t_i64, c->t_i32, c->t_i32, c->t_i32};
    LLVMValueRef args[8] = {r->ctx,
                            r->sk,
                            r->val[op->id],
                            r->val[x->id],
                            llvm_emit_i64(c, ir_type_count(&op->type)),
                            llvm_emit_i32(c, op->type.bits),
                            llvm_emit_i32(c, op->round_shift > 0 ? op->round_shift : 0),
                            llvm_emit_i32(c, op->round_chunk > 0 ? op->round_chunk : 0)};
    check_status(r, call(r, "cml_circuit_round", c->t_i32, pt, 8, args));
    return true;
}

/* ---- inputs, constants, outputs -------------------------------------------- */

static bool emit_leaf(run *r, const ir_op *op) {
    llvm_ctx *c = r->c;
    if (op->code == IR_INPUT) {
        r->val[op->id] = llvm_emit_load_elem(c, c->t_i64p, r->in, llvm_emit_i64(c, op->index));
        return true;
    }
    char name[32];
    snprintf(name, sizeof name, "const.%d", op->id);
    r->val[op->id] = llvm_emit_const_array(c, name, op->idata, NULL, ir_type_count(&op->type));
    if (!r->val[op->id]) {
        diag_error(c->d, op->loc, "out of memory");
        return false;
    }
    return true;
}

static bool emit_output(run *r, const ir_op *op) {
    llvm_ctx *c = r->c;
    const ir_op *x = op->args[0];
    LLVMValueRef dst = llvm_emit_load_elem(c, c->t_i64p, r->out, llvm_emit_i64(c, op->index));
    if (!x->type.enc) { /* a constant output: trivial ciphertexts */
        llvm_nest n;
        LLVMValueRef k = llvm_flat_begin(c, &n, ir_type_count(&x->type));
        LLVMValueRef at = LLVMBuildNSWMul(r->b, k, llvm_emit_i64(c, r->L), "");
        trivial(r, llvm_emit_elem_ptr(c, c->t_i64, dst, at), clear(r, x, k), x->type.bits);
        llvm_nest_end(c, &n);
        return true;
    }
    LLVMBuildMemCpy(r->b, dst, 8, r->val[x->id], 8,
                    llvm_emit_i64(c, ir_type_count(&x->type) * r->L * 8));
    return true;
}

static bool emit_op(run *r, const ir_op *op) {
    r->cur = op;
    switch (lower_kind_of(op)) {
    case LOWER_OUTPUT: return emit_output(r, op);
    case LOWER_INPUT:
    case LOWER_CONST: return emit_leaf(r, op);
    case LOWER_ALIAS: /* same ciphertexts in the same order */
        r->val[op->id] = r->val[op->args[0]->id];
        return true;
    case LOWER_ADD:
    case LOWER_SUB:
    case LOWER_NEG:
    case LOWER_ADD_PLAIN:
    case LOWER_PLAIN_SUB:
    case LOWER_MUL_CLEAR: return emit_elemwise(r, op);
    case LOWER_DOT_CLEAR:
    case LOWER_MAC: return emit_matmul(r, op);
    case LOWER_SUM: return emit_sum(r, op);
    case LOWER_CONV:
    case LOWER_SUMPOOL: return emit_window(r, op);
    case LOWER_COPY: return emit_structural(r, op);
    case LOWER_PBS: return emit_tlu(r, op);
    case LOWER_ROUND: return emit_round(r, op);
    case LOWER_NONE: break;
    }
    return unsupported(r, op, "no encrypted lowering");
}

/* ---- planning ------------------------------------------------------------------ */

/* Buffer owners, slots and last uses (positions in function order). */
static void plan(run *r) {
    int pos = 0;
    ir_foreach(op, r->f) {
        if (op->code != IR_OUTPUT) {
            r->slot[op->id] = -1;
            r->owner[op->id] = op->id;
            r->last[op->id] = -1;
            if (op->code == IR_RESHAPE && op->type.enc)
                r->owner[op->id] = r->owner[op->args[0]->id];
            else if (op->type.enc && op->code != IR_INPUT)
                r->slot[op->id] = r->nslots++;
        }
        for (int i = 0; i < op->nargs; i++) {
            int o = r->owner[op->args[i]->id];
            if (r->last[o] < pos) r->last[o] = pos;
        }
        pos++;
    }
}

/* Frees every buffer whose last reader is at position pos (dead[] lists
 * the slots by position: dead_at[pos] .. dead_at[pos + 1]). */
static void free_dead(run *r, const int *dead_at, const int *dead, int pos) {
    for (int i = dead_at[pos]; i < dead_at[pos + 1]; i++) free_slot(r, dead[i]);
}

/* Buckets the slots by the position of their last reader. */
static bool dead_lists(run *r, int npos, int **dead_at, int **dead) {
    *dead_at = calloc((size_t)npos + 2, sizeof **dead_at);
    *dead = calloc((size_t)r->nslots + 1, sizeof **dead);
    if (!*dead_at || !*dead) return false;
    ir_foreach(op, r->f)
        if (op->code != IR_OUTPUT && r->slot[op->id] >= 0 && r->last[op->id] >= 0)
            (*dead_at)[r->last[op->id] + 1]++;
    for (int p = 0; p <= npos; p++) (*dead_at)[p + 1] += (*dead_at)[p];
    int *fill = calloc((size_t)npos + 1, sizeof *fill);
    if (!fill) return false;
    ir_foreach(op, r->f)
        if (op->code != IR_OUTPUT && r->slot[op->id] >= 0 && r->last[op->id] >= 0) {
            int p = r->last[op->id];
            (*dead)[(*dead_at)[p] + fill[p]++] = r->slot[op->id];
        }
    free(fill);
    return true;
}

/* ---- the function ---------------------------------------------------------- */

bool llvm_emit_run(llvm_ctx *c, ir_module *m) {
    ir_func *f = m->main;
    if (!m->params) return true; /* compiled before parameter selection */
    const ir_op *bad = lower_unsupported_op(f);
    if (bad) {
        diag_warning(c->d, bad->loc,
                     "this '%s' computes on clear values: the model gets no encrypted "
                     "evaluation (cml_circuit_run), only its clear twin",
                     ir_op_name(bad->code));
        return true;
    }
    ir_renumber(f);
    const cml_params *p = &m->params->params;
    run st = {.c = c, .b = c->b, .f = f, .L = (int64_t)p->glwe_dimension * p->polynomial_size + 1};
    run *r = &st;
    size_t nids = (size_t)(f->next_id > 0 ? f->next_id : 1);
    r->val = calloc(nids, sizeof *r->val);
    r->slot = calloc(nids, sizeof *r->slot);
    r->owner = calloc(nids, sizeof *r->owner);
    r->last = calloc(nids, sizeof *r->last);
    int npos = 0, *dead_at = NULL, *dead = NULL;
    ir_foreach(op, f) npos++;
    bool ok = r->val && r->slot && r->owner && r->last;
    if (ok) {
        plan(r);
        ok = dead_lists(r, npos, &dead_at, &dead);
    }
    if (!ok) diag_error(c->d, (diag_loc){0}, "out of memory");
    if (ok) {
        LLVMTypeRef i64pp = LLVMPointerType(c->t_i64p, 0);
        LLVMTypeRef params[4] = {c->t_ptr, c->t_ptr, i64pp, i64pp};
        LLVMTypeRef fty = LLVMFunctionType(c->t_i32, params, 4, false);
        r->fn = LLVMAddFunction(c->mod, "cml_circuit_run", fty);
        r->ctx = LLVMGetParam(r->fn, 0);
        r->sk = LLVMGetParam(r->fn, 1);
        r->in = LLVMGetParam(r->fn, 2);
        r->out = LLVMGetParam(r->fn, 3);
        LLVMBasicBlockRef entry = new_block(r, "entry");
        r->exit = new_block(r, "exit");
        LLVMPositionBuilderAtEnd(r->b, entry);
        r->rc = LLVMBuildAlloca(r->b, c->t_i32, "rc");
        LLVMBuildStore(r->b, llvm_emit_i32(c, 0), r->rc);
        int ns = r->nslots > 0 ? r->nslots : 1;
        r->slots = LLVMBuildArrayAlloca(r->b, c->t_i64p, llvm_emit_i64(c, ns), "slots");
        LLVMBuildMemSet(r->b, r->slots, LLVMConstInt(c->t_i8, 0, false),
                        llvm_emit_i64(c, (int64_t)ns * 8), 8);
        int pos = 0;
        ir_foreach(op, f) {
            if (!(ok = emit_op(r, op))) break;
            free_dead(r, dead_at, dead, pos++);
        }
        LLVMBuildBr(r->b, r->exit);
        LLVMPositionBuilderAtEnd(r->b, r->exit);
        for (int s = 0; s < r->nslots; s++) free_slot(r, s); /* after a failure */
        LLVMBuildRet(r->b, LLVMBuildLoad2(r->b, c->t_i32, r->rc, ""));
    }
    free(dead_at);
    free(dead);
    free(r->val);
    free(r->slot);
    free(r->owner);
    free(r->last);
    return ok;
}
