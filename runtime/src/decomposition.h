/* decomposition.h — signed gadget decomposition of torus values, shared by
 * the keyswitch and the external product.
 *
 * A torus value x is first rounded to its top base_log*level bits, then
 * split into `level` digits in [-B/2, B/2] (B = 2^base_log), so that
 *   sum_{j=1..level} digit_j * 2^(64 - j*base_log) == rounded(x) (mod 2^64).
 * Balanced digits keep the noise of the key rows they multiply small. */
#ifndef CML_RUNTIME_DECOMPOSITION_H
#define CML_RUNTIME_DECOMPOSITION_H

#include <stdint.h>

/* The top base_log*level bits of x, rounded to nearest, as an integer. */
static inline uint64_t decomp_round(uint64_t x, uint32_t total_bits) {
    if (total_bits >= 64) return x;
    uint32_t shift = 64 - total_bits;
    return (x >> shift) + ((x >> (shift - 1)) & 1);
}

/* Peels the least significant remaining digit off *state (balanced). Call
 * `level` times: digits come out from level `level` down to level 1. */
static inline int64_t decomp_next_digit(uint64_t *state, uint32_t base_log) {
    uint64_t mask = (UINT64_C(1) << base_log) - 1;
    uint64_t digit = *state & mask;
    *state >>= base_log;
    /* carry when digit > B/2, or digit == B/2 and the next digit's top bit
     * is set: keeps every digit in [-B/2, B/2] */
    uint64_t carry = (((digit - 1) | *state) & digit) >> (base_log - 1);
    *state += carry;
    return (int64_t)digit - (int64_t)(carry << base_log);
}

/* The one-level case of the two above, the same digit in (-B/2, B/2]
 * without the state: rounding half up is minus rounding -x half down, and
 * an arithmetic shift of 2^(63-base_log) - 1 - x floors that to [-B/2, B/2).
 * (>> on a negative int64_t is arithmetic in GCC and Clang, which C leaves to
 * the implementation; runtime.lwe checks the digits against the above.) */
static inline int64_t decomp_single_digit(uint64_t x, uint32_t base_log) {
    const uint32_t shift = 64 - base_log;
    return -((int64_t)((UINT64_C(1) << (shift - 1)) - 1 - x) >> shift);
}

#endif
