/* interp.h — the IR interpreter: runs an ir_func on clear tensors with the
 * exact integer semantics of the encrypted program. It is the reference the
 * FHE execution must match bit for bit (`cmlc --simulate`), evaluates tlu
 * bodies when tables are materialised, and runs float models on calibration
 * data (with an observer that sees every value).
 *
 * Scalar semantics shared by every consumer (interpreter, fusion, tables,
 * the backend's clear twin) live here too, so there is one definition of
 * "round half away from zero" and of each real function. */
#ifndef CML_IR_INTERP_H
#define CML_IR_INTERP_H

#include "ir.h"

/* A dense row-major tensor, malloc-owned (ir_tensor_free). Exactly one of
 * i / f is non-NULL (f when is_float). */
typedef struct ir_tensor {
    bool is_float;
    int rank;
    int64_t dims[IR_MAX_RANK];
    int64_t count;
    int64_t *i;
    double *f;
    bool borrowed; /* i/f point into IR constants: ir_tensor_free leaves them */
} ir_tensor;

/* Allocates a zeroed tensor of the given shape; false on out-of-memory. */
bool ir_tensor_alloc(ir_tensor *t, bool is_float, int rank, const int64_t *dims);
void ir_tensor_free(ir_tensor *t);

enum {
    /* Report (as an error) an integer value outside the range of its op's
     * inferred type (bits > 0): the "overflow of a declared bit width". */
    IR_INTERP_CHECK_WIDTHS = 1 << 0,
};

/* Called after each op is evaluated (not for OUTPUT); for calibration. */
typedef void (*ir_interp_observer)(void *ctx, const ir_op *op, const ir_tensor *value);

/* Runs f. `inputs[k]` feeds the INPUT with index k (shape must match its
 * type; integer tensors for integer inputs, real for real ones). On success
 * fills outputs[k] for the OUTPUT with index k (caller frees). On error
 * (int64 overflow, lookup index out of range, width overflow with
 * IR_INTERP_CHECK_WIDTHS, log of a negative number feeding an integer, ...)
 * reports through d at the op's location and returns false; nothing leaks. */
bool ir_interp(const ir_func *f, const ir_tensor *inputs, ir_tensor *outputs, diag_ctx *d,
               unsigned flags, ir_interp_observer obs, void *obs_ctx);

/* Evaluates a tlu body for n input values xs (all at element `elem` of the
 * tlu's shape: body constants are read at that element after broadcasting)
 * and writes the n integer results. false + diagnostic on error. */
bool ir_interp_body(const ir_func *body, int64_t elem, const int64_t *xs, int64_t n,
                    int64_t *out, diag_ctx *d);

/* Nearest integer, halves away from zero (the language's rounding rule). */
double ir_round_half_away(double x);
/* The real univariate functions of ops.def (EXP, LOG, SIGMOID, ...). */
double ir_eval_real1(ir_opcode code, double x);

#endif
