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
 * the worst element of a tensor. The kinds of fresh ciphertexts are
 * also tracked apart: norm2_pbs over tlu outputs (noise V_pbs each),
 * norm2_light over the PBS outputs inside rounds (the light bootstrap key's
 * noise when parameter selection makes one, else V_pbs too), and
 * norm2_in over the client's inputs (encrypted under the big key with the
 * GLWE noise, far below V_pbs for large k N), so that a rounding of a
 * weighted sum of inputs, whose lift multiplies the norm by 4^(bits-shift),
 * does not force parameters as if those inputs had a bootstrap's noise.
 * norm2 is their sum, except after a concat, where each part is its own
 * largest (so the parts' sum can exceed norm2, both staying bounds). */
#include "pass_internal.h"

#include <cml/circuit_ops.h>
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

/* The factor a product by clear weights multiplies its encrypted operand's
 * norm2 by; *x is that operand. */
static double linear_gain(const ir_op *op, const ir_op **x) {
    const ir_op *a = op->args[0], *w = op->args[1];
    *x = a;
    if (op->code == IR_CONV2D) {
        int64_t O = w->type.dims[0], CKK = w->type.dims[1] * w->type.dims[2] * w->type.dims[3];
        if (w->code == IR_CONST && w->idata) return vec_sq_max(w->idata, O, CKK, CKK, 1);
        return (double)CKK * max_sq(w);
    }
    const ir_type *ta = &a->type, *tw = &w->type;
    int64_t K = ta->dims[ta->rank - 1];
    if (a->type.enc) { /* x @ W */
        if (w->code == IR_CONST && w->idata)
            return tw->rank == 2 ? vec_sq_max(w->idata, tw->dims[1], 1, K, tw->dims[1])
                                 : vec_sq_max(w->idata, 1, 0, K, 1);
        return (double)K * max_sq(w);
    }
    /* A @ x */
    *x = w;
    if (a->code == IR_CONST && a->idata)
        return ta->rank == 2 ? vec_sq_max(a->idata, ta->dims[0], K, K, 1)
                             : vec_sq_max(a->idata, 1, 0, K, 1);
    return (double)K * max_sq(a);
}

/* op's noise: g times x's (g = 0 with x = NULL: none) */
static void scaled(ir_op *op, const ir_op *x, double g) {
    op->norm2 = x ? g * x->norm2 : 0;
    op->norm2_pbs = x ? g * x->norm2_pbs : 0;
    op->norm2_light = x ? g * x->norm2_light : 0;
    op->norm2_in = x ? g * x->norm2_in : 0;
}

bool pass_noise(ir_module *m, diag_ctx *d) {
    ir_foreach(op, m->main) {
        scaled(op, NULL, 0);
        if (!op->type.enc) continue;
        const ir_op *x = op->nargs ? op->args[0] : NULL;
        switch (op->code) {
        case IR_INPUT:
            op->norm2 = op->norm2_in = 1;
            break;
        case IR_TLU:
            op->norm2 = op->norm2_pbs = 1;
            break;
        case IR_OUTPUT:
        case IR_NEG:
        case IR_RESHAPE:
        case IR_TRANSPOSE:
        case IR_SLICE:
        case IR_BROADCAST:
            scaled(op, x, 1);
            break;
        case IR_ADD:
        case IR_SUB:
            op->norm2 = op->args[0]->norm2 + op->args[1]->norm2;
            op->norm2_pbs = op->args[0]->norm2_pbs + op->args[1]->norm2_pbs;
            op->norm2_light = op->args[0]->norm2_light + op->args[1]->norm2_light;
            op->norm2_in = op->args[0]->norm2_in + op->args[1]->norm2_in;
            break;
        case IR_MUL: {
            const ir_op *e = op->args[0]->type.enc ? op->args[0] : op->args[1];
            const ir_op *c = e == op->args[0] ? op->args[1] : op->args[0];
            if (c->type.enc) {
                diag_error(d, op->loc, "internal error: product of two encrypted values left "
                                       "after lowering");
                return false;
            }
            scaled(op, e, max_sq(c));
            break;
        }
        case IR_DOT:
        case IR_MATMUL:
        case IR_CONV2D: {
            const ir_op *e;
            double g = linear_gain(op, &e);
            scaled(op, e, g);
            break;
        }
        case IR_SUM:
            scaled(op, x, (double)(op->axis < 0 ? ir_type_count(&x->type) : x->type.dims[op->axis]));
            break;
        case IR_SUMPOOL2D:
            scaled(op, x, (double)op->kernel[0] * op->kernel[1]);
            break;
        case IR_CONCAT:
            for (int i = 0; i < op->nargs; i++) {
                op->norm2 = fmax(op->norm2, op->args[i]->norm2);
                op->norm2_pbs = fmax(op->norm2_pbs, op->args[i]->norm2_pbs);
                op->norm2_light = fmax(op->norm2_light, op->args[i]->norm2_light);
                op->norm2_in = fmax(op->norm2_in, op->args[i]->norm2_in);
            }
            break;
        case IR_ROUND: { /* x minus a PBS output per chunk */
            double nch = cml_circuit_round_chunks((uint32_t)(op->round_shift > 0 ? op->round_shift : 0),
                                                  (uint32_t)op->round_chunk, NULL);
            scaled(op, x, 1);
            op->norm2_light += nch;
            op->norm2 += nch;
            break;
        }
        default:
            diag_error(d, op->loc, "internal error: no noise rule for encrypted '%s'",
                       ir_op_name(op->code));
            return false;
        }
    }
    return true;
}
