/* cml/circuit_ops.h — the runtime entry points a compiled circuit's
 * `cml_circuit_run` calls besides the linear operations of cml/tfhe.h:
 * a whole table-lookup op (one batch of bootstraps) and an exact `round`.
 *
 * Why here and not generated: both are a few buffer passes around
 * cml_pbs_batch whose correctness hinges on the plaintext encoding (padding
 * bit, negacyclic tables); written once in C they are unit-tested against
 * the clear semantics and every model shares them. The generated code keeps
 * what differs per circuit: the loops, the shapes, the constants.
 *
 * Semantics are those of ir/interp.c (docs/ir.md) on values encoded with
 * cml_encode at the stated widths (one padding bit). Buffers hold `count`
 * big-key LWE ciphertexts (cml_lwe_size words each); out must not overlap
 * in. Both return a cml_status and set cml_last_error() on failure. */
#ifndef CML_CIRCUIT_OPS_H
#define CML_CIRCUIT_OPS_H

#include <cml/tfhe.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* out[i] = tables[row(i) * dom_count + j] where in[i] encodes (at in_bits)
 * x = dom_lo + j * 2^shift, 0 <= j < dom_count, and row(i) = table_of[i]
 * (or 0 when ntables == 1 and table_of is NULL). One PBS per element
 * reading in_bits - shift bits (at most the parameters' precision); out is
 * encoded at out_bits. */
cml_status cml_circuit_tlu(cml_context *ctx, const cml_server_key *sk, uint64_t *out,
                           const uint64_t *in, size_t count, uint32_t in_bits, uint32_t shift,
                           int64_t dom_lo, int64_t dom_count, uint32_t out_bits,
                           const int64_t *tables, size_t ntables, const int32_t *table_of);

/* out[i] = ((x + 2^(shift-1)) >> shift) << shift for x encoded in in[i] at
 * `bits`, exactly: y = x + 2^(shift-1); one PBS on y * 2^(bits-shift)
 * (a constant table: the negacyclic sign gives bit `shift` of y), then one
 * PBS reading the low `shift` bits v of y with that bit cleared; out = y - v.
 * Two PBS per element of `shift` bits each (shift <= the parameters'
 * precision, shift <= bits); they need the noise of x small enough to
 * read its lowest bit, which the compiler's noise analysis accounts for. */
cml_status cml_circuit_round(cml_context *ctx, const cml_server_key *sk, uint64_t *out,
                             const uint64_t *in, size_t count, uint32_t bits, uint32_t shift);

#ifdef __cplusplus
}
#endif
#endif
