/* llvm_ctx.c — the backend's code-generation context and its llvm_emit_*
 * wrappers (llvm_ctx.h). The target machine is the host's triple with the
 * generic CPU: a model.so runs on any machine of the same architecture, and
 * the simulation twin is not where time goes. Relocation model PIC: the
 * object is linked into a shared object. */
#include "llvm_ctx.h"

#include <llvm-c/Support.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Tail merging compares every pair of similar block tails: on the long
 * straight runs of near-identical runtime calls a large circuit lowers to
 * (a k-NN's selection network: hundreds of slices and lookups) it took
 * more than half of the code generator's time (7.8 s of a 105-point k-NN's
 * 10.9, 3.1 s without it), and it only shrinks code that is not where
 * time goes. LLVM's options are process-wide, set once. */
static void llvm_options(void) {
    const char *argv[] = {"cmlc", "-enable-tail-merge=false"};
    LLVMParseCommandLineOptions(2, argv, NULL);
}

bool llvm_ctx_init(llvm_ctx *c, const char *module_name, diag_ctx *d) {
    memset(c, 0, sizeof *c);
    c->d = d;
    if (LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter()) {
        diag_error(d, (diag_loc){0}, "LLVM has no code generator for this host");
        return false;
    }
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, llvm_options);
    c->triple = LLVMGetDefaultTargetTriple();
    LLVMTargetRef target;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(c->triple, &target, &err)) {
        diag_error(d, (diag_loc){0}, "LLVM target for '%s': %s", c->triple, err ? err : "?");
        LLVMDisposeMessage(err);
        LLVMDisposeMessage(c->triple);
        c->triple = NULL;
        return false;
    }
    c->tm = LLVMCreateTargetMachine(target, c->triple, "generic", "", LLVMCodeGenLevelDefault,
                                    LLVMRelocPIC, LLVMCodeModelDefault);
    if (!c->tm) {
        diag_error(d, (diag_loc){0}, "cannot create an LLVM target machine for '%s'", c->triple);
        LLVMDisposeMessage(c->triple);
        c->triple = NULL;
        return false;
    }
    c->ctx = LLVMContextCreate();
    c->mod = LLVMModuleCreateWithNameInContext(module_name ? module_name : "cml", c->ctx);
    c->b = LLVMCreateBuilderInContext(c->ctx);
    LLVMSetTarget(c->mod, c->triple);
    c->layout = LLVMCreateTargetDataLayout(c->tm);
    LLVMSetModuleDataLayout(c->mod, c->layout);

    c->t_void = LLVMVoidTypeInContext(c->ctx);
    c->t_i1 = LLVMInt1TypeInContext(c->ctx);
    c->t_i8 = LLVMInt8TypeInContext(c->ctx);
    c->t_i32 = LLVMInt32TypeInContext(c->ctx);
    c->t_i64 = LLVMInt64TypeInContext(c->ctx);
    c->t_i128 = LLVMInt128TypeInContext(c->ctx);
    c->t_f64 = LLVMDoubleTypeInContext(c->ctx);
    c->t_ptr = LLVMPointerType(c->t_i8, 0);
    c->t_i64p = LLVMPointerType(c->t_i64, 0);
    c->t_f64p = LLVMPointerType(c->t_f64, 0);
    return true;
}

void llvm_ctx_free(llvm_ctx *c) {
    if (c->b) LLVMDisposeBuilder(c->b);
    if (c->mod) LLVMDisposeModule(c->mod);
    if (c->ctx) LLVMContextDispose(c->ctx);
    if (c->layout) LLVMDisposeTargetData(c->layout);
    if (c->tm) LLVMDisposeTargetMachine(c->tm);
    if (c->triple) LLVMDisposeMessage(c->triple);
    memset(c, 0, sizeof *c);
}

LLVMValueRef llvm_emit_i64(llvm_ctx *c, int64_t v) {
    return LLVMConstInt(c->t_i64, (unsigned long long)v, true);
}

LLVMValueRef llvm_emit_i32(llvm_ctx *c, int32_t v) {
    return LLVMConstInt(c->t_i32, (unsigned long long)(int64_t)v, true);
}

LLVMValueRef llvm_emit_f64(llvm_ctx *c, double v) { return LLVMConstReal(c->t_f64, v); }

LLVMValueRef llvm_emit_elem_ptr(llvm_ctx *c, LLVMTypeRef elem_ty, LLVMValueRef base,
                                LLVMValueRef idx) {
    return LLVMBuildInBoundsGEP2(c->b, elem_ty, base, &idx, 1, "");
}

LLVMValueRef llvm_emit_load_elem(llvm_ctx *c, LLVMTypeRef elem_ty, LLVMValueRef base,
                                 LLVMValueRef idx) {
    return LLVMBuildLoad2(c->b, elem_ty, llvm_emit_elem_ptr(c, elem_ty, base, idx), "");
}

void llvm_emit_store_elem(llvm_ctx *c, LLVMTypeRef elem_ty, LLVMValueRef base, LLVMValueRef idx,
                          LLVMValueRef v) {
    LLVMBuildStore(c->b, v, llvm_emit_elem_ptr(c, elem_ty, base, idx));
}

/* Declaration and type of an overloaded intrinsic for one type. */
static LLVMValueRef intrinsic(llvm_ctx *c, const char *name, LLVMTypeRef ty, LLVMTypeRef *fn_ty) {
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    *fn_ty = LLVMIntrinsicGetType(c->ctx, id, &ty, 1);
    return LLVMGetIntrinsicDeclaration(c->mod, id, &ty, 1);
}

LLVMValueRef llvm_emit_checked(llvm_ctx *c, llvm_ovf_op op, LLVMValueRef a, LLVMValueRef b,
                               LLVMValueRef *ovf) {
    static const char *const names[] = {
        [LLVM_OVF_ADD] = "llvm.sadd.with.overflow",
        [LLVM_OVF_SUB] = "llvm.ssub.with.overflow",
        [LLVM_OVF_MUL] = "llvm.smul.with.overflow",
    };
    LLVMTypeRef fty;
    LLVMValueRef fn = intrinsic(c, names[op], c->t_i64, &fty);
    LLVMValueRef args[2] = {a, b};
    LLVMValueRef r = LLVMBuildCall2(c->b, fty, fn, args, 2, "");
    *ovf = LLVMBuildExtractValue(c->b, r, 1, "");
    return LLVMBuildExtractValue(c->b, r, 0, "");
}

LLVMValueRef llvm_emit_declare(llvm_ctx *c, const char *name, LLVMTypeRef fn_ty) {
    LLVMValueRef fn = LLVMGetNamedFunction(c->mod, name);
    if (!fn) fn = LLVMAddFunction(c->mod, name, fn_ty);
    return fn;
}

LLVMValueRef llvm_emit_libm(llvm_ctx *c, const char *name, bool is_intrinsic, int nargs,
                            LLVMValueRef *args) {
    LLVMTypeRef fty;
    LLVMValueRef fn;
    if (is_intrinsic) {
        char full[64];
        snprintf(full, sizeof full, "llvm.%s", name);
        fn = intrinsic(c, full, c->t_f64, &fty);
    } else {
        LLVMTypeRef params[2] = {c->t_f64, c->t_f64};
        fty = LLVMFunctionType(c->t_f64, params, (unsigned)nargs, false);
        fn = llvm_emit_declare(c, name, fty);
    }
    return LLVMBuildCall2(c->b, fty, fn, args, (unsigned)nargs, "");
}

enum { READABLE_MAX = 4096 }; /* elements written one constant each */

/* A private constant global of `init`'s type, aligned for 64-bit loads,
 * returned as a pointer to elements of elem_ty. */
static LLVMValueRef const_global(llvm_ctx *c, const char *name, LLVMValueRef init,
                                 LLVMTypeRef elem_ty) {
    LLVMValueRef g = LLVMAddGlobal(c->mod, LLVMTypeOf(init), name);
    LLVMSetInitializer(g, init);
    LLVMSetGlobalConstant(g, true);
    LLVMSetLinkage(g, LLVMPrivateLinkage);
    LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
    LLVMSetAlignment(g, 8);
    return LLVMConstBitCast(g, LLVMPointerType(elem_ty, 0));
}

/* Raw bytes of n little-endian words of `size` bytes (the host's order: the
 * target is the host). */
static LLVMValueRef bytes_init(llvm_ctx *c, const void *data, size_t size) {
    return LLVMConstStringInContext(c->ctx, data, (unsigned)size, true);
}

LLVMValueRef llvm_emit_const_array(llvm_ctx *c, const char *name, const int64_t *i, const double *f,
                                   int64_t n) {
    LLVMTypeRef ety = f ? c->t_f64 : c->t_i64;
    if (n < 1) n = 1; /* never empty: a zero-length global would still need a pointer */
    if (n > READABLE_MAX) {
        const void *data = f ? (const void *)f : (const void *)i;
        return const_global(c, name, bytes_init(c, data, (size_t)n * 8), ety);
    }
    LLVMValueRef *elems = malloc((size_t)n * sizeof *elems);
    if (!elems) return NULL;
    for (int64_t k = 0; k < n; k++)
        elems[k] = f ? llvm_emit_f64(c, f[k]) : llvm_emit_i64(c, i ? i[k] : 0);
    LLVMValueRef init = LLVMConstArray(ety, elems, (unsigned)n);
    free(elems);
    return const_global(c, name, init, ety);
}

LLVMValueRef llvm_emit_const_array_i32(llvm_ctx *c, const char *name, const int32_t *v, int64_t n) {
    if (n > READABLE_MAX) return const_global(c, name, bytes_init(c, v, (size_t)n * 4), c->t_i32);
    LLVMValueRef *elems = malloc((size_t)(n ? n : 1) * sizeof *elems);
    if (!elems) return NULL;
    for (int64_t k = 0; k < n; k++) elems[k] = llvm_emit_i32(c, v[k]);
    LLVMValueRef init = LLVMConstArray(c->t_i32, elems, (unsigned)n);
    free(elems);
    return const_global(c, name, init, c->t_i32);
}

LLVMValueRef llvm_emit_entry_alloca(llvm_ctx *c, LLVMTypeRef ty, const char *name) {
    LLVMBasicBlockRef entry =
        LLVMGetEntryBasicBlock(LLVMGetBasicBlockParent(LLVMGetInsertBlock(c->b)));
    LLVMBuilderRef ab = LLVMCreateBuilderInContext(c->ctx);
    LLVMValueRef first = LLVMGetFirstInstruction(entry);
    if (first)
        LLVMPositionBuilderBefore(ab, first);
    else
        LLVMPositionBuilderAtEnd(ab, entry);
    LLVMValueRef v = LLVMBuildAlloca(ab, ty, name);
    LLVMDisposeBuilder(ab);
    return v;
}
