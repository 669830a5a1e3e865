/* encoding.c — plaintext encoding of p-bit messages with one padding bit:
 * m * 2^(63-p) mod 2^64. Decoding rounds to the nearest multiple of
 * 2^(63-p) and sign-extends from p+1 bits, so unsigned values in [0, 2^p)
 * and signed values in [-2^(p-1), 2^(p-1)) both decode to themselves. */
#include "internal.h"

uint64_t cml_encode(int64_t m, uint32_t bits) {
    if (bits < 1 || bits > 62) return 0;
    return (uint64_t)m << (63 - bits);
}

int64_t cml_decode(uint64_t x, uint32_t bits) {
    if (bits < 1 || bits > 62) return 0;
    uint32_t shift = 63 - bits;
    uint64_t d = (x + (UINT64_C(1) << (shift - 1))) >> shift; /* in [0, 2^(bits+1)) */
    uint64_t sign = UINT64_C(1) << bits;
    return (int64_t)(d ^ sign) - (int64_t)sign;
}
