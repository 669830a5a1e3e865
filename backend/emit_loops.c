/* emit_loops.c — loop nests over tensor index spaces, shared by the two
 * emitters (emit_simulate.c on clear integers, emit_run.c on ciphertexts):
 * one do-while loop per dimension on alloca'd counters (mem2reg and the O2
 * pipeline turn them into clean induction variables), flat offsets from
 * per-dimension strides, and numpy broadcasting as stride 0. */
#include "llvm_ctx.h"

#include <string.h>

static LLVMBasicBlockRef new_block(llvm_ctx *c, const char *name) {
    LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(c->b));
    return LLVMAppendBasicBlockInContext(c->ctx, fn, name);
}

void llvm_nest_begin(llvm_ctx *c, llvm_nest *n, int rank, const int64_t *dims) {
    memset(n, 0, sizeof *n);
    n->rank = rank;
    for (int i = 0; i < rank; i++) {
        n->dims[i] = dims[i];
        if (dims[i] == 1) {
            n->idx[i] = llvm_emit_i64(c, 0);
            continue;
        }
        n->var[i] = llvm_emit_entry_alloca(c, c->t_i64, "i");
        LLVMBuildStore(c->b, llvm_emit_i64(c, 0), n->var[i]);
        n->body[i] = new_block(c, "loop");
        LLVMBuildBr(c->b, n->body[i]);
        LLVMPositionBuilderAtEnd(c->b, n->body[i]);
        n->idx[i] = LLVMBuildLoad2(c->b, c->t_i64, n->var[i], "");
    }
}

void llvm_nest_end(llvm_ctx *c, llvm_nest *n) {
    for (int i = n->rank - 1; i >= 0; i--) {
        if (!n->var[i]) continue;
        LLVMValueRef next = LLVMBuildNSWAdd(c->b, n->idx[i], llvm_emit_i64(c, 1), "");
        LLVMBuildStore(c->b, next, n->var[i]);
        LLVMValueRef more =
            LLVMBuildICmp(c->b, LLVMIntSLT, next, llvm_emit_i64(c, n->dims[i]), "");
        LLVMBasicBlockRef done = new_block(c, "");
        LLVMBuildCondBr(c->b, more, n->body[i], done);
        LLVMPositionBuilderAtEnd(c->b, done);
    }
}

LLVMValueRef llvm_nest_offset(llvm_ctx *c, const llvm_nest *n, int64_t off,
                              const int64_t *strides) {
    LLVMValueRef v = NULL;
    for (int i = 0; i < n->rank; i++) {
        if (!n->var[i] || strides[i] == 0) continue;
        LLVMValueRef t = strides[i] == 1
                             ? n->idx[i]
                             : LLVMBuildNSWMul(c->b, n->idx[i], llvm_emit_i64(c, strides[i]), "");
        v = v ? LLVMBuildNSWAdd(c->b, v, t, "") : t;
    }
    if (!v) return llvm_emit_i64(c, off);
    return off ? LLVMBuildNSWAdd(c->b, v, llvm_emit_i64(c, off), "") : v;
}

LLVMValueRef llvm_flat_begin(llvm_ctx *c, llvm_nest *n, int64_t count) {
    llvm_nest_begin(c, n, 1, &count);
    return n->idx[0];
}

void llvm_row_major_strides(int rank, const int64_t *dims, int64_t *st) {
    int64_t k = 1;
    for (int i = rank - 1; i >= 0; i--) {
        st[i] = k;
        k *= dims[i];
    }
}

void llvm_bcast_strides(const ir_type *a, const ir_type *r, int64_t *st) {
    int64_t ast[IR_MAX_RANK];
    llvm_row_major_strides(a->rank, a->dims, ast);
    bool scalar = ir_type_count(a) == 1;
    for (int i = 0; i < r->rank; i++) {
        int j = i - (r->rank - a->rank);
        st[i] = !scalar && j >= 0 && a->dims[j] != 1 ? ast[j] : 0;
    }
}
