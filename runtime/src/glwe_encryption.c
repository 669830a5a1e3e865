/* glwe_encryption.c — GLWE encryption of a polynomial under a binary GLWE
 * key: B = sum_i A_i * S_i + M + E in Z_q[X]/(X^N+1). Used to build the
 * bootstrap key's GGSW rows.
 *
 * The products A_i * S_i must be exact (any error would be extra, unmodelled
 * noise in the bootstrap key), yet schoolbook costs O(N^2) per row, far too
 * slow at N = 2^14. So A_i is split into four 16-bit limbs: each limb times a
 * binary key has coefficients below N * 2^16 <= 2^33, which the double FFT
 * computes with error far below 1/2, so rounding recovers them exactly. */
#include "fft.h"
#include "internal.h"

#include <math.h>
#include <string.h>

enum { LIMB_BITS = 16, LIMBS = 64 / LIMB_BITS };

void cml_glwe_key_fourier(const cml_fft *fft, const uint64_t *glwe_key, uint32_t k, double *out) {
    for (uint32_t i = 0; i < k; i++)
        cml_fft_forward_i64(fft, out + (size_t)i * fft->N, (const int64_t *)(glwe_key + (size_t)i * fft->N));
}

/* out += a * s exactly (mod 2^64), s given by its transform. */
static void poly_mul_binary_acc(const cml_fft *fft, uint64_t *out, const uint64_t *a,
                                const double *s_fourier, double *scratch) {
    const size_t h = fft->half;
    double *limb = scratch, *acc = scratch + fft->N;
    int64_t *digits = (int64_t *)acc; /* the limb's coefficients, read before acc is written */
    for (int t = 0; t < LIMBS; t++) {
        for (size_t j = 0; j < fft->N; j++) digits[j] = (int64_t)((a[j] >> (LIMB_BITS * t)) & 0xFFFF);
        cml_fft_forward_i64(fft, limb, digits);
        cml_fft_mul(fft, acc, limb, s_fourier);
        cml_fft_backward(fft, acc, NULL);
        const double *ur = fft->untwist, *ui = fft->untwist + h;
        for (size_t j = 0; j < h; j++) {
            double re = acc[j] * ur[j] - acc[h + j] * ui[j];
            double im = acc[j] * ui[j] + acc[h + j] * ur[j];
            out[j] += (uint64_t)llrint(re * 0x1p64) << (LIMB_BITS * t);
            out[j + h] += (uint64_t)llrint(im * 0x1p64) << (LIMB_BITS * t);
        }
    }
}

void cml_glwe_encrypt_raw(cml_rng *rng, const cml_fft *fft, uint64_t *ct,
                          const double *key_fourier, uint32_t k, const uint64_t *msg,
                          double std, double *scratch) {
    const uint32_t N = fft->N;
    uint64_t *body = ct + (size_t)k * N;
    cml_rng_uniform(rng, ct, (size_t)k * N);
    if (msg)
        memcpy(body, msg, N * sizeof *body);
    else
        memset(body, 0, N * sizeof *body);
    cml_rng_add_gaussian(rng, body, N, std);
    for (uint32_t i = 0; i < k; i++)
        poly_mul_binary_acc(fft, body, ct + (size_t)i * N, key_fourier + (size_t)i * N,
                            scratch);
}
