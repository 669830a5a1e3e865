/* ir.h — the op-graph IR: a function is a list of ops in topological order;
 * every op defines at most one SSA value (%id) with a type
 * `enc<u5>[4,3]` / `clear<i8>[3]` / `f64[2]` / `enc<f64>[4]`, and keeps the
 * source location it came from.
 *
 * Memory: everything of one compilation lives in one arena (ir_module.arena);
 * ops are never freed, removed ops are unlinked. Types are inferred by
 * ir_infer() from operands and attributes; the builders call it so a shape
 * error is reported where the frontend builds the op.
 *
 * Integer semantics: values are mathematical integers held in int64_t
 * (overflow of int64 is an error, reported by the interpreter). `bits == 0`
 * means "width not inferred yet"; bit-width inference (passes/bitwidth.c)
 * fills `bits`/`is_signed` and the interval [lo, hi] of every integer op.
 * Real values (is_float) are IEEE doubles; real ops on encrypted data are
 * legal only until TLU fusion removes them. */
#ifndef CML_IR_H
#define CML_IR_H

#include "arena.h"
#include "diag.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define IR_MAX_RANK 6
/* The most elements one tensor may have (inputs, constants, every inferred
 * result; "tensor of shape [...] has more than 2^24 elements"): far beyond
 * what FHE evaluates, and it keeps the compiler's per-element memory and
 * work bounded and every element count (a product of dims) exact in int64. */
#define IR_MAX_ELEMENTS (INT64_C(1) << 24)

enum {
    IR_F_ELEMWISE = 1 << 0,
    IR_F_LINEAR = 1 << 1,
    IR_F_NONLIN = 1 << 2,
    IR_F_COMMUT = 1 << 3,
};

typedef enum {
#define IR_OP(name, text, arity, flags) IR_##name,
#include "ops.def"
#undef IR_OP
    IR_OP_COUNT
} ir_opcode;

const char *ir_op_name(ir_opcode code);
int ir_op_arity(ir_opcode code); /* -1: variadic */
unsigned ir_op_flags(ir_opcode code);

typedef struct ir_type {
    bool enc;       /* encrypted (else clear) */
    bool is_float;  /* f64 (else integer) */
    bool is_signed; /* integers only */
    int bits;       /* integers: 0 = not inferred yet; floats: 64 */
    int rank;       /* 0 = scalar */
    int64_t dims[IR_MAX_RANK];
} ir_type;

int64_t ir_type_count(const ir_type *t); /* number of elements (1 for scalars) */
bool ir_type_same_shape(const ir_type *a, const ir_type *b);
/* Writes "enc<u5>[4,3]", "clear<i8>", "f64[3]", "enc<?>[4]" into buf; returns buf. */
char *ir_type_str(const ir_type *t, char *buf, size_t size);

/* Client-side post-processing of a model output (decrypted, dequantized). */
typedef enum {
    IR_POST_NONE,
    IR_POST_ARGMAX,
    IR_POST_SOFTMAX,
    IR_POST_SIGMOID,
    IR_POST_EXP,
    IR_POST_VOTE
} ir_post;

/* Quantization of a model input/output: real = scale * (q - zero_point).
 * `bits` is the quantized integer's own width (inputs: unsigned, the client
 * clamps to [0, 2^bits - 1]), which encoding unification may widen in the
 * ciphertext but never in the data the client sends. 0 for outputs. */
typedef struct ir_quant {
    bool present;
    double scale;
    int64_t zero_point;
    int bits;
    /* Inputs quantized per feature (`calibrate "f.csv" per_feature`): one
     * scale and zero point per index of the last axis (nfeat of them);
     * scale/zero_point are then unused. 0: per tensor. */
    int64_t nfeat;
    const double *scales;
    const int64_t *zero_points;
    /* Inputs binned by their trees' split points (`tree_bins`): feature f's
     * sorted thresholds are edges[edge_at[f] .. edge_at[f + 1]), and
     * q = #{edges of f below x}; scales/zero_points are NULL. */
    const int64_t *edge_at;
    const double *edges;
} ir_quant;

typedef struct ir_func ir_func;
typedef struct ir_op ir_op;

/* Table lookup: the function applied elementwise is `body` (an ir_func with
 * one INPUT of the tlu's input type and one OUTPUT; only ELEMWISE ops and
 * CONSTs). Body constants may differ per element (broadcast to the tlu
 * shape): elements whose constants are equal share one table.
 * Materialised by bit-width inference over the input's domain
 * {dom_lo + j * 2^dom_shift : 0 <= j < dom_count}. */
typedef struct ir_tlu {
    ir_func *body;
    int64_t dom_lo, dom_count;
    int dom_shift;
    int ntables;          /* 0 = not materialised */
    int64_t *tables;      /* ntables * dom_count entries, row-major */
    int32_t *table_of;    /* per element of the tlu's shape -> table row; NULL if ntables == 1 */
} ir_tlu;

struct ir_op {
    ir_opcode code;
    int id;               /* %id, unique in its function; -1 for OUTPUT */
    ir_type type;         /* result type (OUTPUT: its operand's type) */
    int nargs;
    ir_op **args;
    diag_loc loc;
    ir_op *prev, *next;   /* function order (topological) */

    /* attributes (meaning depends on code) */
    const char *name;     /* INPUT/OUTPUT: the source name */
    int index;            /* INPUT/OUTPUT: position among inputs/outputs */
    int axis;             /* SUM (-1 = all axes), CONCAT */
    int64_t perm[IR_MAX_RANK];                   /* TRANSPOSE */
    int64_t begin[IR_MAX_RANK], step[IR_MAX_RANK]; /* SLICE (end implied by result dims) */
    int kernel[2], stride[2], pad[2];            /* CONV2D, SUMPOOL2D, MAXPOOL2D */
    int round_bits;       /* ROUND: requested kept bits (0 = set by the rounding pass via shift) */
    int round_shift;      /* ROUND: resolved number of low bits dropped (-1 = not yet) */
    int round_chunk;      /* ROUND: bits cleared per pair of PBS (cml_circuit_round; 0 = all
                           * shift bits at once), chosen by parameter selection */
    int64_t *idata;       /* CONST (integers): ir_type_count() values, row-major */
    double *fdata;        /* CONST (reals) */
    ir_tlu *tlu;          /* TLU */
    ir_quant quant;       /* INPUT/OUTPUT of models */
    ir_post post;         /* OUTPUT of models */

    /* analyses (valid after the pass that fills them) */
    bool has_range;       /* bitwidth: integer interval of every element */
    int64_t lo, hi;
    /* A bound the lowering proves and interval analysis cannot see (the
     * output of tree_ensemble: one leaf per tree), intersected with the
     * analysed range by bitwidth inference; simulation still checks it. */
    bool has_bound;
    int64_t bound_lo, bound_hi;
    double norm2;         /* noise: squared 2-norm of the linear combination (Concrete's MANP) */
    double norm2_pbs;     /* the part over tlu outputs */
    double norm2_light;   /* the part over the PBS outputs of rounds (bootstrapped on the
                           * light key when parameter selection makes one) */
    double norm2_in;      /* the part over encrypted inputs (the client's fresh ciphertexts) */
    void *scratch;        /* free for the current pass; never kept across passes */
};

struct ir_func {
    const char *name;
    struct ir_module *mod;
    ir_op *first, *last;
    int next_id;
    bool is_body;         /* a tlu body */
};

typedef enum { IR_UNIT_CIRCUIT, IR_UNIT_MODEL } ir_unit_kind;

typedef struct ir_module {
    arena *arena;
    ir_unit_kind kind;
    ir_func *main;
    int ntlu_bodies;      /* for @tN naming in the printer */
    /* The TFHE parameters chosen by parameter selection (passes/params.c, stage
     * `params`; NULL before). An incomplete type here on purpose: the IR
     * knows nothing of crypto (DESIGN §2), so only passes.h defines it. */
    struct pass_params *params;
} ir_module;

/* ---- building ---------------------------------------------------------- */

ir_module *ir_module_new(arena *a, ir_unit_kind kind, const char *name);
ir_func *ir_func_new(ir_module *m, const char *name, bool is_body);

/* Creates an op with `nargs` operands (copied) and appends it to f (or
 * inserts it before `before` when using ir_op_new_before). Attributes are
 * then set by the caller; the type is computed by ir_infer(). Returns NULL
 * only on out-of-memory. */
ir_op *ir_op_new(ir_func *f, ir_opcode code, diag_loc loc, int nargs, ir_op *const *args);
ir_op *ir_op_new_before(ir_func *f, ir_op *before, ir_opcode code, diag_loc loc, int nargs,
                        ir_op *const *args);
void ir_op_unlink(ir_func *f, ir_op *op);
/* Replaces every use of `from` as an operand in f by `to`. */
void ir_replace_uses(ir_func *f, ir_op *from, ir_op *to);
/* Unlinks ops whose value is unused (OUTPUTs are roots). */
void ir_dce(ir_func *f);
/* Renumbers %ids in order (the printer calls it; passes need not). */
void ir_renumber(ir_func *f);

/* Computes op->type from its operands and attributes. For RESHAPE,
 * BROADCAST and SLICE the caller sets the result dims (type.rank/dims)
 * before calling; for INPUT/CONST the caller sets the whole type. On a type
 * or shape error, including a result of more than IR_MAX_ELEMENTS, reports
 * through d at op->loc and returns false. */
bool ir_infer(ir_op *op, diag_ctx *d);

/* Convenience builders: create, set attributes, infer. NULL after reporting
 * an error through d. */
ir_op *ir_build_input(ir_func *f, diag_loc loc, const char *name, int index, ir_type type);
ir_op *ir_build_const_int(ir_func *f, diag_loc loc, ir_type type, const int64_t *data);
ir_op *ir_build_const_float(ir_func *f, diag_loc loc, int rank, const int64_t *dims,
                            const double *data);
ir_op *ir_build_scalar_int(ir_func *f, diag_loc loc, int64_t v);   /* clear scalar const */
ir_op *ir_build_scalar_float(ir_func *f, diag_loc loc, double v);  /* clear f64 scalar */
ir_op *ir_build(ir_func *f, diag_ctx *d, ir_opcode code, diag_loc loc, int nargs,
                ir_op *const *args);
ir_op *ir_build1(ir_func *f, diag_ctx *d, ir_opcode code, diag_loc loc, ir_op *a);
ir_op *ir_build2(ir_func *f, diag_ctx *d, ir_opcode code, diag_loc loc, ir_op *a, ir_op *b);
ir_op *ir_build_sum(ir_func *f, diag_ctx *d, diag_loc loc, ir_op *x, int axis);
ir_op *ir_build_reshape(ir_func *f, diag_ctx *d, diag_loc loc, ir_op *x, int rank,
                        const int64_t *dims);
ir_op *ir_build_transpose(ir_func *f, diag_ctx *d, diag_loc loc, ir_op *x, const int64_t *perm);
ir_op *ir_build_broadcast(ir_func *f, diag_ctx *d, diag_loc loc, ir_op *x, int rank,
                          const int64_t *dims);
/* begin/end/step per dimension of x (end exclusive, step >= 1, already
 * clamped by the caller); result keeps x's rank. */
ir_op *ir_build_slice(ir_func *f, diag_ctx *d, diag_loc loc, ir_op *x, const int64_t *begin,
                      const int64_t *end, const int64_t *step);
ir_op *ir_build_concat(ir_func *f, diag_ctx *d, diag_loc loc, int nargs, ir_op *const *args,
                       int axis);
ir_op *ir_build_conv2d(ir_func *f, diag_ctx *d, diag_loc loc, ir_op *x, ir_op *w,
                       const int stride[2], const int pad[2]);
ir_op *ir_build_pool(ir_func *f, diag_ctx *d, ir_opcode code, diag_loc loc, ir_op *x,
                     const int kernel[2], const int stride[2], const int pad[2]);
ir_op *ir_build_round(ir_func *f, diag_ctx *d, diag_loc loc, ir_op *x, int bits, int shift);
/* A tlu applying `body` (ir_func with is_body) to x. */
ir_op *ir_build_tlu(ir_func *f, diag_ctx *d, diag_loc loc, ir_op *x, ir_func *body);
ir_op *ir_build_output(ir_func *f, diag_loc loc, const char *name, int index, ir_op *x);

/* Broadcast result shape of a and b (numpy rules); false if incompatible. */
bool ir_broadcast_shape(const ir_type *a, const ir_type *b, ir_type *out);

/* ---- inspecting -------------------------------------------------------- */

#define ir_foreach(op, f) for (ir_op *op = (f)->first; op; op = op->next)
/* Number of uses of each op's value, stored in op->scratch as (intptr_t). */
void ir_count_uses(ir_func *f);
int ir_count_ops(const ir_func *f, ir_opcode code);
/* Scalar operations the interpreter spends on op: one per result element
 * (inputs are copied, constants are free), times the reduction behind each
 * for matmul/dot, conv2d, the pools and sum. At most 2^48 (two tensors of
 * at most IR_MAX_ELEMENTS), so sums over a function do not overflow. */
int64_t ir_op_work(const ir_op *op);

/* Interval helpers: smallest width holding [lo, hi] (signed iff lo < 0). */
int ir_bits_for_range(int64_t lo, int64_t hi, bool *is_signed);
/* Range an integer type can hold. */
void ir_type_range(const ir_type *t, int64_t *lo, int64_t *hi);

/* ---- checking and printing ---------------------------------------------- */

/* Structural and type checks: operands defined before use and in the same
 * function, arity, types re-inferred and equal, tlu bodies elementwise,
 * no NONLIN op on encrypted data after fusion (when `fused`). Reports
 * through d; returns false on the first problem. */
bool ir_verify(ir_module *m, diag_ctx *d, bool fused);

typedef enum {
    IR_PRINT_RANGES = 1 << 0, /* "range [lo, hi]" annotations */
    IR_PRINT_NORM2 = 1 << 1,  /* "norm2 N" annotations */
    IR_PRINT_NOLOC = 1 << 2,  /* omit "// file:line:col" */
} ir_print_flags;
void ir_print(FILE *out, ir_module *m, unsigned flags);

#endif
