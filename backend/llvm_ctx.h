/* llvm_ctx.h — the one code-generation context of the backend (c3c's
 * GenCtx): LLVM context, module, builder, host target machine and the
 * types every emitter uses, plus thin llvm_emit_* wrappers over the LLVM C
 * API for what the emitters do over and over (constants, element access,
 * checked arithmetic, constant arrays, libm calls). The emitters
 * (emit_simulate.c, emit_spec.c) add to the module; emit_object.c verifies,
 * optimises and writes it. Nothing here knows the IR's semantics. */
#ifndef CML_BACKEND_LLVM_CTX_H
#define CML_BACKEND_LLVM_CTX_H

#include "ir.h"

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include <stdbool.h>
#include <stdint.h>

typedef struct llvm_ctx {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    LLVMTargetMachineRef tm;
    LLVMTargetDataRef layout;
    char *triple; /* LLVMGetDefaultTargetTriple(), LLVMDisposeMessage'd */
    diag_ctx *d;
    /* cached types */
    LLVMTypeRef t_void, t_i1, t_i8, t_i32, t_i64, t_i128, t_f64;
    LLVMTypeRef t_ptr;  /* i8* (ptr): malloc/free, raw bytes */
    LLVMTypeRef t_i64p; /* i64*: integer tensors */
    LLVMTypeRef t_f64p; /* double*: real tensors */
} llvm_ctx;

/* Creates the context, an empty module for the host triple (its data
 * layout set) and a PIC target machine (generic CPU, -O2 code generation).
 * false after reporting through d (e.g. no LLVM target for this host). */
bool llvm_ctx_init(llvm_ctx *c, const char *module_name, diag_ctx *d);
void llvm_ctx_free(llvm_ctx *c);

/* ---- thin wrappers --------------------------------------------------------- */

LLVMValueRef llvm_emit_i64(llvm_ctx *c, int64_t v);
LLVMValueRef llvm_emit_i32(llvm_ctx *c, int32_t v);
LLVMValueRef llvm_emit_f64(llvm_ctx *c, double v);

/* Pointer to element idx (an i64 value) of an array of elem_ty at base. */
LLVMValueRef llvm_emit_elem_ptr(llvm_ctx *c, LLVMTypeRef elem_ty, LLVMValueRef base,
                                LLVMValueRef idx);
LLVMValueRef llvm_emit_load_elem(llvm_ctx *c, LLVMTypeRef elem_ty, LLVMValueRef base,
                                 LLVMValueRef idx);
void llvm_emit_store_elem(llvm_ctx *c, LLVMTypeRef elem_ty, LLVMValueRef base, LLVMValueRef idx,
                          LLVMValueRef v);

/* a OP b on i64 through llvm.{sadd,ssub,smul}.with.overflow.i64: returns the
 * (wrapped) result and sets *ovf to the i1 overflow flag. */
typedef enum { LLVM_OVF_ADD, LLVM_OVF_SUB, LLVM_OVF_MUL } llvm_ovf_op;
LLVMValueRef llvm_emit_checked(llvm_ctx *c, llvm_ovf_op op, LLVMValueRef a, LLVMValueRef b,
                               LLVMValueRef *ovf);

/* Calls double NAME(double...) from libm (declared on first use), or the
 * LLVM intrinsic llvm.NAME.f64 when `intrinsic` (floor, ceil, round, fabs,
 * sqrt: exact IEEE operations either way). */
LLVMValueRef llvm_emit_libm(llvm_ctx *c, const char *name, bool intrinsic, int nargs,
                            LLVMValueRef *args);
/* Declares (once) and returns an external function. */
LLVMValueRef llvm_emit_declare(llvm_ctx *c, const char *name, LLVMTypeRef fn_ty);

/* A private constant global holding n 64-bit values (integers, or doubles
 * when f is given) and returns a pointer to its first element (i64* or
 * double*). Large arrays are stored as raw little-endian bytes (far cheaper
 * for LLVM to build than one constant per element); small ones as
 * readable [n x i64] / [n x double]. */
LLVMValueRef llvm_emit_const_array(llvm_ctx *c, const char *name, const int64_t *i, const double *f,
                                   int64_t n);
/* Same for 32-bit integers (i32*). */
LLVMValueRef llvm_emit_const_array_i32(llvm_ctx *c, const char *name, const int32_t *v, int64_t n);

/* An alloca in the entry block of the function being built (so that
 * mem2reg promotes it), whatever block the builder is in. */
LLVMValueRef llvm_emit_entry_alloca(llvm_ctx *c, LLVMTypeRef ty, const char *name);

/* ---- loop nests (emit_loops.c) ---------------------------------------------- */

/* Nested do-while loops over an index space (every dimension >= 1; a
 * dimension of 1 gets no loop and index 0). Code between begin and end is
 * the body; idx[i] is the index along dimension i. */
typedef struct llvm_nest {
    int rank;
    int64_t dims[IR_MAX_RANK];
    LLVMValueRef var[IR_MAX_RANK]; /* counter alloca; NULL for a dimension of 1 */
    LLVMBasicBlockRef body[IR_MAX_RANK];
    LLVMValueRef idx[IR_MAX_RANK];
} llvm_nest;

void llvm_nest_begin(llvm_ctx *c, llvm_nest *n, int rank, const int64_t *dims);
void llvm_nest_end(llvm_ctx *c, llvm_nest *n);
/* off + sum_i idx_i * strides[i] (i64). */
LLVMValueRef llvm_nest_offset(llvm_ctx *c, const llvm_nest *n, int64_t off, const int64_t *strides);
/* A single loop over count >= 1 elements; returns its index. */
LLVMValueRef llvm_flat_begin(llvm_ctx *c, llvm_nest *n, int64_t count);
void llvm_row_major_strides(int rank, const int64_t *dims, int64_t *st);
/* Strides of operand a along each dimension of result r (numpy
 * broadcasting: missing or size-1 dimensions of a repeat, stride 0). */
void llvm_bcast_strides(const ir_type *a, const ir_type *r, int64_t *st);

/* ---- the emitters ---------------------------------------------------------- */

/* emit_spec.c: the exported `cml_circuit_abi_version` and `cml_circuit_spec`. */
bool llvm_emit_spec(llvm_ctx *c, ir_module *m);
/* emit_simulate.c: `int cml_circuit_simulate(const int64_t *const *in,
 * int64_t *const *out)`, the clear twin of the circuit. */
bool llvm_emit_simulate(llvm_ctx *c, ir_module *m);
/* emit_run.c: `int cml_circuit_run(void *ctx, const void *sk, const uint64_t
 * *const *in, uint64_t *const *out)`, the circuit on ciphertexts; needs
 * m->params. */
bool llvm_emit_run(llvm_ctx *c, ir_module *m);

#endif
