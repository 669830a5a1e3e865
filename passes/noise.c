/* requires: fused (only linear ops, rounds and tlus on encrypted data);
 *           rounded for the final figures;
 * provides: norm2 of every encrypted value;
 * breaks: nothing.
 *
 * noise.c — noise analysis (DESIGN §5.5, docs/ir.md "Noise"). Every
 * encrypted value is a linear combination of fresh ciphertexts (inputs and
 * PBS outputs, norm2 = 1); its noise variance is the fresh variance times
 * the squared 2-norm of the coefficients (Concrete's MANP). A tlu's input
 * norm2 is what parameter selection must tolerate. Values are tracked as
 * the worst element of a tensor. */
#include "pass_internal.h"

#include <math.h>

/* Largest square of a clear multiplier. */
static double max_sq(const ir_op *c) {
    if (c->code == IR_CONST) {
        int64_t n = ir_type_count(&c->type);
        double m = 0;
        for (int64_t i = 0; i < n; i++) {
            double v = c->idata ? (double)c->idata[i] : c->fdata[i];
            if (v * v > m) m = v * v;
        }
        return m;
    }
    if (c->has_range) {
        double lo = (double)c->lo, hi = (double)c->hi;
        return fmax(lo * lo, hi * hi);
    }
    return INFINITY;
}

/* Largest over vectors of the sum of squared coefficients (layout as in
 * bitwidth.c: vector v starts at v*vstride, coefficients stride apart). */
static double vec_sq_max(const int64_t *w, int64_t nvec, int64_t vstride, int64_t K,
                         int64_t stride) {
    double m = 0;
    for (int64_t v = 0; v < nvec; v++) {
        double s = 0;
        for (int64_t k = 0; k < K; k++) {
            double c = (double)w[v * vstride + k * stride];
            s += c * c;
        }
        if (s > m) m = s;
    }
    return m;
}

static double linear_norm2(const ir_op *op) {
    const ir_op *a = op->args[0], *w = op->args[1];
    if (op->code == IR_CONV2D) {
        int64_t O = w->type.dims[0], CKK = w->type.dims[1] * w->type.dims[2] * w->type.dims[3];
        if (w->code == IR_CONST && w->idata) return vec_sq_max(w->idata, O, CKK, CKK, 1) * a->norm2;
        return (double)CKK * max_sq(w) * a->norm2;
    }
    const ir_type *ta = &a->type, *tw = &w->type;
    int64_t K = ta->dims[ta->rank - 1];
    if (a->type.enc) { /* x @ W */
        if (w->code == IR_CONST && w->idata) {
            double s = tw->rank == 2 ? vec_sq_max(w->idata, tw->dims[1], 1, K, tw->dims[1])
                                     : vec_sq_max(w->idata, 1, 0, K, 1);
            return s * a->norm2;
        }
        return (double)K * max_sq(w) * a->norm2;
    }
    /* A @ x */
    if (a->code == IR_CONST && a->idata) {
        double s = ta->rank == 2 ? vec_sq_max(a->idata, ta->dims[0], K, K, 1)
                                 : vec_sq_max(a->idata, 1, 0, K, 1);
        return s * w->norm2;
    }
    return (double)K * max_sq(a) * w->norm2;
}

bool pass_noise(ir_module *m, diag_ctx *d) {
    ir_foreach(op, m->main) {
        op->norm2 = 0;
        if (!op->type.enc) continue;
        const ir_op *x = op->nargs ? op->args[0] : NULL;
        switch (op->code) {
        case IR_INPUT:
        case IR_TLU:
            op->norm2 = 1;
            break;
        case IR_OUTPUT:
        case IR_NEG:
        case IR_RESHAPE:
        case IR_TRANSPOSE:
        case IR_SLICE:
        case IR_BROADCAST:
            op->norm2 = x->norm2;
            break;
        case IR_ADD:
        case IR_SUB:
            op->norm2 = op->args[0]->norm2 + op->args[1]->norm2;
            break;
        case IR_MUL: {
            const ir_op *e = op->args[0]->type.enc ? op->args[0] : op->args[1];
            const ir_op *c = e == op->args[0] ? op->args[1] : op->args[0];
            if (c->type.enc) {
                diag_error(d, op->loc, "internal error: product of two encrypted values left "
                                       "after lowering");
                return false;
            }
            op->norm2 = max_sq(c) * e->norm2;
            break;
        }
        case IR_DOT:
        case IR_MATMUL:
        case IR_CONV2D:
            op->norm2 = linear_norm2(op);
            break;
        case IR_SUM:
            op->norm2 = (double)(op->axis < 0 ? ir_type_count(&x->type) : x->type.dims[op->axis]) *
                        x->norm2;
            break;
        case IR_SUMPOOL2D:
            op->norm2 = (double)op->kernel[0] * op->kernel[1] * x->norm2;
            break;
        case IR_CONCAT:
            for (int i = 0; i < op->nargs; i++)
                op->norm2 = fmax(op->norm2, op->args[i]->norm2);
            break;
        case IR_ROUND:
            op->norm2 = x->norm2 + 1;
            break;
        default:
            diag_error(d, op->loc, "internal error: no noise rule for encrypted '%s'",
                       ir_op_name(op->code));
            return false;
        }
    }
    return true;
}
