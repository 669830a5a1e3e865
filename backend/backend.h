/* backend.h — the LLVM backend (DESIGN §7): turns the final IR of a module
 * (after every pass, parameters chosen) into an LLVM module holding the
 * exported ABI version, the circuit spec and `cml_circuit_simulate`, the
 * clear twin of the circuit (runtime/include/cml/circuit_abi.h), then
 * verifies it, runs LLVM's O2 pipeline and writes LLVM IR, assembly, an
 * object file, or a shared object linked with the system C compiler and
 * libcmlrt. `cml_circuit_run` (the circuit on ciphertexts) is generated
 * when every op has an encrypted lowering (lowering.h). See
 * docs/backend.md. */
#ifndef CML_BACKEND_H
#define CML_BACKEND_H

#include "ir.h"

#include <stdbool.h>
#include <stdio.h>

typedef enum {
    BACKEND_EMIT_LLVM,   /* LLVM IR text, after optimisation */
    BACKEND_EMIT_ASM,    /* assembly for the host */
    BACKEND_EMIT_OBJECT, /* a relocatable object file */
    BACKEND_EMIT_SHARED, /* model.so: the object linked with `cc -shared` */
} backend_output;

typedef struct backend_opts {
    backend_output kind;
    const char *path; /* the file to write; NULL or "-": stdout (not for SHARED) */
    const char *cc;   /* SHARED: the C compiler driver that links; NULL: $CC, else "cc" */
} backend_opts;

/* Generates and writes m's code. m must have run through the passes (its
 * final IR: widths inferred, tables materialised); m->params is put in the
 * spec when set. Renumbers m's ops (the %ids of the printed IR are what
 * cml_circuit_simulate reports). false after reporting through d. */
bool backend_compile(ir_module *m, diag_ctx *d, const backend_opts *o);

/* The circuit spec of m (docs/spec.md), a malloc'd NUL-terminated YAML
 * document; NULL if out of memory. */
char *backend_spec_text(ir_module *m);

/* `cmlc --emit-ir=lowered`: m's final IR as the TFHE-level program
 * cml_circuit_run performs, one line per op with its runtime operation and
 * counts, then the totals per evaluation (docs/backend.md). m must have
 * run through parameter selection. Renumbers m's ops like ir_print. false,
 * after reporting through d, if m has no encrypted evaluation. */
bool backend_print_lowered(FILE *out, ir_module *m, diag_ctx *d);

#endif
