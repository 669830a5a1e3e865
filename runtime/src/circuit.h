/* circuit.h — the loaded-model handle behind cml/runtime.h's opaque
 * cml_circuit, shared by the loader (circuit_loader.c: loading, spec
 * accessors, clear twin, conversions) and encrypted execution
 * (circuit_exec.c: keygen, encrypt, run, decrypt). Internal to libcmlrt. */
#ifndef CML_RUNTIME_CIRCUIT_H
#define CML_RUNTIME_CIRCUIT_H

#include "circuit_spec.h"

#include <cml/circuit_abi.h>

struct cml_circuit {
    void *handle;          /* dlopen handle */
    char *path;            /* as given, "./" prepended when it had no slash */
    const char *spec_text; /* inside the module, or spec_copy */
    char *spec_copy;       /* cml_circuit_from_spec: the text, owned; NULL otherwise */
    cml_spec spec;
    cml_circuit_simulate_fn simulate; /* NULL: known by its spec only */
    cml_circuit_run_fn run; /* NULL: compiled without encrypted execution */
};

#endif
