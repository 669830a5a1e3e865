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
 * of cml_circuit_tlu_precision() bits (at most the parameters'
 * precision); out is encoded at out_bits. */
cml_status cml_circuit_tlu(cml_context *ctx, const cml_server_key *sk, uint64_t *out,
                           const uint64_t *in, size_t count, uint32_t in_bits, uint32_t shift,
                           int64_t dom_lo, int64_t dom_count, uint32_t out_bits,
                           const int64_t *tables, size_t ntables, const int32_t *table_of);

/* The precision of the PBS cml_circuit_tlu runs with these arguments:
 * p = in_bits - shift (1 if that is 0), or p - 1 when the tables fold, and
 * then *folded = 1 (else 0; folded may be NULL).
 *
 * Folding: with h = 2^(p-1), when every table's f(j) + f(j + h) is one
 * constant s over the domain (each j with j + h < dom_count), the lookup
 * reads 2 (x - dom_lo) at p - 1 bits: the top bit of j falls on the padding
 * bit, where the bootstrap returns the negated table, and the table
 * f - s/2 is its own negation across h (the constant s/2 is added back
 * after). Saturating activations (a clipped relu, a sigmoid, a threshold
 * near the middle of its domain) fold. The doubling doubles the input's
 * noise but the slots double too, so the keyswitch and modulus switch,
 * which come after, get four times the room: a compiler sizing parameters
 * asks for a (p - 1)-bit PBS with four times the input's norm2. Needs
 * p >= 2 and out_bits <= 61; a domain within h always folds. */
uint32_t cml_circuit_tlu_precision(uint32_t in_bits, uint32_t shift, int64_t dom_count,
                                   uint32_t out_bits, const int64_t *tables, size_t ntables,
                                   int *folded);

/* out[i] = ((x + 2^(shift-1)) >> shift) << shift for x encoded in in[i] at
 * `bits`, exactly: y = x + 2^(shift-1), then the low `shift` bits of y are
 * cleared in chunks of at most `chunk` bits (0: all at once), from the
 * bottom. Per chunk of c bits [lo, lo + c): one PBS on y * 2^(bits-lo-c)
 * (a constant table: the negacyclic sign gives bit lo + c of y), then one
 * PBS reading the chunk's bits v with that bit cleared; y -= v * 2^lo. Two
 * PBS of c bits per element and chunk (c at most the parameters'
 * precision). They need the noise of x small enough to read its lowest
 * bit, which the compiler's noise analysis accounts for; narrower chunks
 * read the same bits at lower precision, which leaves the keyswitch and
 * modulus switch more room (docs/backend.md, "Exact rounding"). */
cml_status cml_circuit_round(cml_context *ctx, const cml_server_key *sk, uint64_t *out,
                             const uint64_t *in, size_t count, uint32_t bits, uint32_t shift,
                             uint32_t chunk);

/* The chunks cml_circuit_round clears `shift` bits in: returns their number
 * n = ceil(shift / chunk) (0 when shift is 0; chunk 0 or above shift means
 * one chunk) and, when widths is not NULL, their widths from the bottom
 * (shift split as evenly as possible, the wider ones first). */
uint32_t cml_circuit_round_chunks(uint32_t shift, uint32_t chunk, uint32_t *widths);

#ifdef __cplusplus
}
#endif
#endif
