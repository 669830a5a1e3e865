/* fft.h — negacyclic polynomial products in the Fourier domain (internal).
 *
 * Z[X]/(X^N+1) embeds in C[X]/(X^(N/2) - i): a(X) = lo(X) + X^(N/2) hi(X)
 * maps to lo + i*hi. Twisting coefficient j by w^j (w = exp(i*pi/N), so
 * w^(N/2) = i) turns that weighted convolution into a plain cyclic one, done
 * by a complex FFT of size N/2. So: fold, twist, FFT; pointwise products;
 * inverse FFT, untwist (with the 2/N scale), unfold.
 *
 * The transform is our own (fft.c), not FFTW's: see docs/runtime.md, "FFT".
 * A Fourier polynomial is N doubles, split: the real parts of its N/2
 * values, then the imaginary parts, 64-byte aligned. The forward transform
 * leaves the values in an order of its own (only pointwise products between
 * transforms are meaningful, and the inverse transform takes that order
 * back); no bit-reversal pass is ever made.
 *
 * Torus values are converted as signed 64-bit integers; the way back takes
 * t - rint(t) on the unit torus before scaling by 2^64 (values far exceed
 * int64, a direct cast would overflow). */
#ifndef CML_RUNTIME_FFT_H
#define CML_RUNTIME_FFT_H

#include "internal.h"
#include "prefetch.h"

enum { CML_FFT_MIN_N = 128 }; /* N/2 = 64: the transform's smallest block */

struct cml_fft {
    uint32_t N;
    size_t half;          /* N/2 complex points */
    unsigned log2_half;
    size_t prefetch_blocks; /* per transform: see cml_fft_forward */
    double *stages;       /* twiddles of the outer radix-2/4 stages, by block size */
    size_t stage_at[32];  /* offset in stages of the stage on blocks of 2^L points */
    double *block64;      /* twiddles of the 64-point block: spans 32, 16, 8 */
    double *twist;        /* w^j: N/2 real parts, then N/2 imaginary */
    double *untwist;      /* w^-j * 2/N * 2^-64 (products land on the unit torus), split */
};

cml_status cml_fft_create(uint32_t N, cml_fft **out);
void cml_fft_destroy(cml_fft *fft);

/* `count` Fourier polynomials (N doubles each), 64-byte aligned; free(). */
double *cml_fft_alloc(const cml_fft *fft, size_t count);

/* In place: buf holds folded, twisted values (split, natural order).
 * A transform issues fft->prefetch_blocks prefetch blocks (pf: see
 * cml_prefetch; NULL: nothing), one per 64-point block. */
void cml_fft_forward(const cml_fft *fft, double *buf, cml_prefetch *pf);
/* out = FFT(twist(fold(poly))), poly read as signed integers. */
void cml_fft_forward_i64(const cml_fft *fft, double *out, const int64_t *poly);
void cml_fft_forward_torus(const cml_fft *fft, double *out, const uint64_t *poly);
/* In place, the inverse of cml_fft_forward times N/2 (unnormalised). */
void cml_fft_backward(const cml_fft *fft, double *buf, cml_prefetch *pf);
/* acc += torus(unfold(untwist(buf))) for buf an inverse transform's output. */
void cml_fft_untwist_add_torus(const cml_fft *fft, const double *buf, uint64_t *acc);
/* acc += torus(unfold(untwist(IFFT(buf)))); buf is destroyed. Prefetches
 * as the inverse transform does. */
void cml_fft_backward_add_torus(const cml_fft *fft, double *buf, uint64_t *acc, cml_prefetch *pf);
/* out = a * b, pointwise. */
void cml_fft_mul(const cml_fft *fft, double *restrict out, const double *restrict a,
                 const double *restrict b);
/* out += a * b, pointwise. */
void cml_fft_mac(const cml_fft *fft, double *restrict out, const double *restrict a,
                 const double *restrict b);

#endif
