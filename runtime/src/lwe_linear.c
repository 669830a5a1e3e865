/* lwe_linear.c — leveled linear operations on LWE ciphertexts: exact in
 * the plaintext (mod 2^64), noise grows with the squared 2-norm of the
 * clear coefficients. Plain loops over flat buffers, left to vectorise. */
#include "internal.h"

void cml_lwe_add(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t d) {
    for (size_t i = 0; i <= d; i++) out[i] = a[i] + b[i];
}

void cml_lwe_sub(uint64_t *out, const uint64_t *a, const uint64_t *b, size_t d) {
    for (size_t i = 0; i <= d; i++) out[i] = a[i] - b[i];
}

void cml_lwe_neg(uint64_t *out, const uint64_t *a, size_t d) {
    for (size_t i = 0; i <= d; i++) out[i] = -a[i];
}

void cml_lwe_add_plain(uint64_t *out, const uint64_t *a, uint64_t plaintext, size_t d) {
    if (out != a)
        for (size_t i = 0; i < d; i++) out[i] = a[i];
    out[d] = a[d] + plaintext;
}

void cml_lwe_mul_clear(uint64_t *out, const uint64_t *a, int64_t c, size_t d) {
    uint64_t m = (uint64_t)c;
    for (size_t i = 0; i <= d; i++) out[i] = a[i] * m;
}

void cml_lwe_mul_clear_acc(uint64_t *out, const uint64_t *a, int64_t c, size_t d) {
    uint64_t m = (uint64_t)c;
    for (size_t i = 0; i <= d; i++) out[i] += a[i] * m;
}

void cml_lwe_dot_clear(uint64_t *out, const uint64_t *cts, const int64_t *w, size_t count,
                       size_t d) {
    for (size_t i = 0; i <= d; i++) out[i] = 0;
    for (size_t j = 0; j < count; j++)
        if (w[j]) cml_lwe_mul_clear_acc(out, cts + j * (d + 1), w[j], d);
}
