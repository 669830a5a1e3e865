/* pass_internal.h — helpers shared by the passes, not part of their API:
 * the "encrypted root" analysis that lower_binary and fusion must agree on,
 * op insertion and cloning, and interval arithmetic for bit-width
 * inference. */
#ifndef CML_PASS_INTERNAL_H
#define CML_PASS_INTERNAL_H

#include "passes.h"

/* ---- encrypted roots ---------------------------------------------------- *
 * The root of an encrypted value is the one encrypted integer value it is
 * computed from elementwise: a TLU candidate is a function of its root.
 *   - clear values: NULL when computable at compile time (no INPUT in their
 *     cone), PASS_ROOT_DYN when they depend on a clear circuit input;
 *   - an encrypted INPUT and every non-elementwise encrypted op: itself;
 *   - a tlu: the root of its operand (its body is elementwise);
 *   - an elementwise op whose encrypted operands share one root: that root;
 *   - otherwise an integer add/sub (and a mul by a clear runtime value) is a
 *     new root (a linear combination computed on ciphertexts), and anything
 *     else is PASS_ROOT_MULTI: it cannot be a table lookup as it stands. */
extern ir_op pass_root_multi_, pass_root_dyn_;
#define PASS_ROOT_MULTI (&pass_root_multi_)
#define PASS_ROOT_DYN (&pass_root_dyn_)

/* The root of op, from the roots of its operands held in their scratch. */
ir_op *pass_root(const ir_op *op);
static inline bool pass_is_root(const ir_op *r) {
    return r && r != PASS_ROOT_MULTI && r != PASS_ROOT_DYN;
}
/* The first two distinct roots (or DYN) among op's operands' roots (in
 * scratch); *b may be NULL. For error messages. */
void pass_two_roots(const ir_op *op, ir_op **a, ir_op **b);

/* ---- editing ------------------------------------------------------------ */

/* Moves the ops appended to f after `mark` (f->last before the builders
 * ran; NULL if f was empty) to just before `before`. Returns the first moved
 * op, or NULL if none was appended. Lets the passes use the ir_build_*
 * helpers, which append, to insert in the middle of a function. */
ir_op *pass_move_before(ir_func *f, ir_op *mark, ir_op *before);

/* Appends to f a copy of src (code, location, attributes, type) with the
 * given operands, re-inferring its type. NULL after reporting. */
ir_op *pass_clone_op(ir_func *f, const ir_op *src, ir_op *const *args, diag_ctx *d);

/* Index into a tensor of type `from` of element `elem` of the broadcast
 * shape `to` (numpy rules; from broadcasts to to). */
int64_t pass_bcast_index(const ir_type *from, const ir_type *to, int64_t elem);

/* The user ops of each op, as a compact list per op id (CSR). */
typedef struct pass_uses {
    int n;          /* ids covered: f->next_id at build time */
    int *start;     /* n + 1 offsets into user */
    ir_op **user;
} pass_uses;
bool pass_uses_build(ir_func *f, pass_uses *u);
void pass_uses_free(pass_uses *u);

/* ---- intervals ---------------------------------------------------------- */

/* Range of every element of a value: exact int64 bounds for integers,
 * doubles (possibly infinite) for reals. */
typedef struct pass_ival {
    bool flt;
    int64_t lo, hi;
    double flo, fhi;
} pass_ival;

static inline pass_ival pass_ival_int(int64_t lo, int64_t hi) {
    pass_ival v = {false, lo, hi, 0, 0};
    return v;
}

/* Interval of a CONST (min/max of its values). */
void pass_ival_const(const ir_op *c, pass_ival *out);
/* Sound interval of an elementwise op's result from its operands'
 * intervals (args[i] for op->args[i]). false when an integer bound leaves
 * int64 (or a real one converted to an integer does). */
bool pass_ival_elem(const ir_op *op, const pass_ival *args, pass_ival *out);
/* Sound (possibly loose) interval of a tlu body's result for inputs in
 * `in`. false when unbounded. */
bool pass_ival_body(const ir_func *body, const pass_ival *in, pass_ival *out);

/* round(v, shift) = ((v + 2^(shift-1)) >> shift) << shift; false if the
 * result leaves int64. */
bool pass_round_value(int64_t v, int shift, int64_t *out);

/* Smallest width holding [lo, hi] with the given signedness (signed widths
 * count the sign bit, as ir_bits_for_range does). */
int pass_bits_for(int64_t lo, int64_t hi, bool is_signed);

#endif
