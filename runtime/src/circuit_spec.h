/* circuit_spec.h — the circuit spec (docs/spec.md) as the loader holds it,
 * and its parser. Internal to libcmlrt (tests reach it through
 * cmlrt_static): the public view is the accessors of cml/runtime.h. The
 * parser is separate from the loader so that every malformed document can
 * be tested from a string, without building a shared object for each. */
#ifndef CML_RUNTIME_CIRCUIT_SPEC_H
#define CML_RUNTIME_CIRCUIT_SPEC_H

#include <cml/runtime.h>

#include <stddef.h>
#include <stdint.h>

typedef struct cml_spec {
    uint32_t format;           /* 1 */
    uint32_t abi;              /* CML_CIRCUIT_ABI_VERSION the module was built for */
    char *name, *compiler;     /* malloc-owned */
    int is_model;
    size_t ninputs, noutputs;
    cml_tensor_spec *inputs;   /* malloc-owned, names too */
    cml_tensor_spec *outputs;
    int has_params;
    cml_params params;         /* log2_p_error from stats; norm2 and cost 0 */
    int has_light;             /* a light bootstrap key to make (cml_server_key_add_light) */
    cml_params light;          /* its parameters, validated */
    cml_spec_stats stats;
} cml_spec;

/* Parses and validates `len` bytes of YAML. `origin` names the document in
 * messages (the .so's path). On failure returns CML_ERR_FORMAT (or
 * CML_ERR_NOMEM) with a message naming the key and its line, and leaves
 * *out empty (cml_spec_free on it is harmless). */
cml_status cml_spec_parse(const char *yaml, size_t len, const char *origin, cml_spec *out);
void cml_spec_free(cml_spec *s);

#endif
