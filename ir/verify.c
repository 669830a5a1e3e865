/* verify.c — the IR verifier, run after every pass in debug builds (and by
 * tests always). It re-derives what ir_infer() would say and checks the
 * graph's invariants, so a pass that breaks the IR is caught at the pass,
 * not three passes later as a wrong answer. Messages name the op. */
#include "ir.h"

#include <string.h>

#define BAD(op, ...)                                  \
    do {                                              \
        diag_error(d, (op)->loc, "IR verifier: " __VA_ARGS__); \
        return false;                                 \
    } while (0)

static bool same_kind_shape(const ir_type *a, const ir_type *b) {
    return a->enc == b->enc && a->is_float == b->is_float && ir_type_same_shape(a, b);
}

static bool verify_func(ir_module *m, ir_func *f, diag_ctx *d, bool fused);

static bool verify_body(ir_module *m, const ir_op *tlu, diag_ctx *d) {
    ir_func *b = tlu->tlu->body;
    if (!b->is_body) BAD(tlu, "tlu %%%d: body is not marked as a body", tlu->id);
    int ninputs = 0, noutputs = 0;
    ir_foreach(op, b) {
        if (op->code == IR_INPUT) {
            ninputs++;
            if (!ir_type_same_shape(&op->type, &tlu->args[0]->type) || op->type.is_float)
                BAD(tlu, "tlu %%%d: body input does not match the tlu operand", tlu->id);
        } else if (op->code == IR_OUTPUT) {
            noutputs++;
            if (op != b->last) BAD(tlu, "tlu %%%d: body output is not last", tlu->id);
        } else if (op->code != IR_CONST && !(ir_op_flags(op->code) & IR_F_ELEMWISE)) {
            BAD(tlu, "tlu %%%d: body op '%s' is not elementwise", tlu->id, ir_op_name(op->code));
        }
    }
    if (ninputs != 1 || noutputs != 1)
        BAD(tlu, "tlu %%%d: body needs one input and one output", tlu->id);
    if (!ir_type_same_shape(&b->last->type, &tlu->type))
        BAD(tlu, "tlu %%%d: body result shape differs from the tlu's", tlu->id);
    return verify_func(m, b, d, false);
}

static bool verify_func(ir_module *m, ir_func *f, diag_ctx *d, bool fused) {
    /* scratch = this run's mark on ops already seen, so operands must be
     * defined earlier in this function (a fresh mark per run: stale marks on
     * unlinked ops must not count). */
    static _Thread_local uintptr_t generation;
    void *mark = (void *)++generation;
    ir_foreach(op, f) op->scratch = NULL;
    int ninputs = 0, noutputs = 0;
    ir_foreach(op, f) {
        if (op->next && op->next->prev != op) BAD(op, "broken op list");
        int arity = ir_op_arity(op->code);
        if (arity >= 0 && op->nargs != arity)
            BAD(op, "'%s' has %d operands, expects %d", ir_op_name(op->code), op->nargs, arity);
        for (int i = 0; i < op->nargs; i++) {
            if (!op->args[i]) BAD(op, "'%s': operand %d missing", ir_op_name(op->code), i);
            if (op->args[i]->scratch != mark)
                BAD(op, "'%s': operand %%%d used before its definition (or from another function)",
                    ir_op_name(op->code), op->args[i]->id);
        }
        op->scratch = mark;
        if (op->code == IR_INPUT) ninputs++;
        if (op->code == IR_OUTPUT) noutputs++;
        if (op->code == IR_CONST && !op->idata && !op->fdata) BAD(op, "const without data");
        if (op->code == IR_CONST && op->type.enc) BAD(op, "const cannot be encrypted");
        if (op->code != IR_INPUT && op->code != IR_CONST) {
            ir_op copy = *op;
            if (!ir_infer(&copy, d)) return false;
            if (!same_kind_shape(&copy.type, &op->type)) {
                char t1[128], t2[128];
                BAD(op, "'%s' %%%d has type %s but its operands give %s", ir_op_name(op->code),
                    op->id, ir_type_str(&op->type, t1, sizeof t1),
                    ir_type_str(&copy.type, t2, sizeof t2));
            }
        }
        if (!op->type.is_float && op->type.bits && op->has_range) {
            int64_t lo, hi;
            ir_type_range(&op->type, &lo, &hi);
            if (op->lo < lo || op->hi > hi || op->lo > op->hi)
                BAD(op, "'%s' %%%d: range does not fit its width", ir_op_name(op->code), op->id);
        }
        if (op->code == IR_TLU) {
            if (f->is_body) BAD(op, "tlu inside a tlu body");
            if (!op->tlu || !verify_body(m, op, d)) return false;
        }
        if (fused && !f->is_body && op->type.enc && op->code != IR_OUTPUT) {
            if (op->type.is_float)
                BAD(op, "encrypted real value '%s' left after fusion", ir_op_name(op->code));
            if (ir_op_flags(op->code) & IR_F_NONLIN)
                BAD(op, "non-linear '%s' on encrypted data left after fusion", ir_op_name(op->code));
            if (op->code == IR_MAXPOOL2D) BAD(op, "maxpool2d on encrypted data left after lowering");
        }
    }
    if (f->is_body) return true;
    /* INPUT/OUTPUT indexes are 0..n-1, each once. */
    for (int k = 0; k < ninputs + noutputs; k++) {
        bool is_in = k < ninputs;
        int want = is_in ? k : k - ninputs, seen = 0;
        ir_foreach(op, f) seen += op->code == (is_in ? IR_INPUT : IR_OUTPUT) && op->index == want;
        if (seen != 1) {
            diag_error(d, (diag_loc){0}, "IR verifier: %s index %d appears %d times",
                       is_in ? "input" : "output", want, seen);
            return false;
        }
    }
    if (noutputs == 0) {
        diag_error(d, (diag_loc){0}, "IR verifier: function has no output");
        return false;
    }
    return true;
}

bool ir_verify(ir_module *m, diag_ctx *d, bool fused) {
    return verify_func(m, m->main, d, fused);
}
