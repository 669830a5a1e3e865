/* lowering.h — how each op of the final IR becomes TFHE-level operations on
 * flat LWE buffers (one ciphertext of k*N + 1 words per element). One
 * classification serves the code generator (emit_run.c dispatches on it)
 * and `cmlc --emit-ir=lowered` (backend_print_lowered, lowering.c), so what is printed is
 * what is generated. */
#ifndef CML_LOWERING_H
#define CML_LOWERING_H

#include "ir.h"

typedef enum {
    LOWER_INPUT,     /* in[k]: ciphertexts, or int64 values for a clear input */
    LOWER_CONST,     /* a constant global of int64 values */
    LOWER_ALIAS,     /* reshape: the operand's ciphertexts, same order */
    LOWER_ADD,       /* enc + enc: cml_lwe_add per element */
    LOWER_SUB,       /* enc - enc: cml_lwe_sub per element */
    LOWER_NEG,       /* cml_lwe_neg per element */
    LOWER_ADD_PLAIN, /* enc +/- clear: cml_lwe_add_plain of the encoded value */
    LOWER_PLAIN_SUB, /* clear - enc: cml_lwe_neg then cml_lwe_add_plain */
    LOWER_MUL_CLEAR, /* enc * clear: cml_lwe_mul_clear per element */
    LOWER_DOT_CLEAR, /* enc @ constant: one cml_lwe_dot_clear per output */
    LOWER_MAC,       /* other dot/matmul: cml_lwe_mul_clear_acc loops */
    LOWER_SUM,       /* cml_lwe_add accumulation along the reduced axis */
    LOWER_CONV,      /* conv2d: cml_lwe_mul_clear_acc over each window */
    LOWER_SUMPOOL,   /* sumpool2d: cml_lwe_add over each window */
    LOWER_COPY,      /* broadcast/transpose/slice/concat: ciphertext copies */
    LOWER_PBS,       /* tlu: cml_circuit_tlu, one batch of KS+PBS */
    LOWER_ROUND,     /* round: cml_circuit_round, two KS+PBS per element */
    LOWER_OUTPUT,    /* out[k] = the operand's ciphertexts */
    LOWER_NONE,      /* no encrypted lowering (clear computation, reals) */
} lower_kind;

/* A clear operand the encrypted code reads directly: an integer constant
 * or clear circuit input. */
bool lower_is_clear_leaf(const ir_op *op);

/* How op is lowered; LOWER_NONE if the encrypted code cannot evaluate it. */
lower_kind lower_kind_of(const ir_op *op);

/* The first op of f with no encrypted lowering, or NULL. */
const ir_op *lower_unsupported_op(const ir_func *f);

#endif
