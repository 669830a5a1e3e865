/* circuit_abi.h — the contract between a compiled model (`cmlc m.cml -o
 * m.so`) and libcmlrt: the symbols every model.so exports, and how its
 * inputs and outputs are laid out. The backend (backend/) generates code to
 * this header; the circuit loader (cml/runtime.h) calls through it after
 * validating the spec. Bump CML_CIRCUIT_ABI_VERSION on any change.
 *
 * Layout: input k (declaration order) and output k (return order) are
 * tensors flattened row-major. On clear integers a tensor is `count` int64_t
 * values. On ciphertexts it is `count` consecutive big-key LWE ciphertexts
 * (cml_lwe_size(params) words each), each encrypting its value encoded with
 * cml_encode(value, encoding_bits) — encoding_bits and signedness per input
 * and output come from the spec. */
#ifndef CML_CIRCUIT_ABI_H
#define CML_CIRCUIT_ABI_H

#include <stdint.h>

#define CML_CIRCUIT_ABI_VERSION 2u

/* Symbol names (dlsym). */
#define CML_CIRCUIT_SYM_ABI "cml_circuit_abi_version"
#define CML_CIRCUIT_SYM_SPEC "cml_circuit_spec"
#define CML_CIRCUIT_SYM_SIMULATE "cml_circuit_simulate"
#define CML_CIRCUIT_SYM_RUN "cml_circuit_run"

/* const uint32_t cml_circuit_abi_version;  == CML_CIRCUIT_ABI_VERSION
 * const char cml_circuit_spec[];           the spec, a YAML document (docs/spec.md) */

/* The circuit on clear integers: exactly `cmlc --simulate` (same integer
 * program, same tables). in[k] and out[k] hold each tensor's values.
 * Returns 0, or the 1-based index of the first op that failed — its %id + 1
 * in `cmlc --emit-ir`: a value that left its inferred width, an input
 * outside its declared range, a table lookup outside its table (the
 * simulation then reports an overflow instead of wrapping; out[] is
 * unspecified) — or -1 when out of memory. */
typedef int (*cml_circuit_simulate_fn)(const int64_t *const *in, int64_t *const *out);

/* The circuit on ciphertexts (server side: evaluation keys only). ctx and sk
 * are a cml_context * and a cml_server_key * of the spec's parameters; in[k]
 * and out[k] are ciphertext buffers as above (out allocated by the caller).
 * Returns a cml_status (0 = CML_OK). */
typedef int (*cml_circuit_run_fn)(void *ctx, const void *sk, const uint64_t *const *in,
                                  uint64_t *const *out);

#endif
