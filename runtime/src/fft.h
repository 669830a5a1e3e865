/* fft.h — negacyclic polynomial products on FFTW (internal).
 *
 * Z[X]/(X^N+1) embeds in C[X]/(X^(N/2) - i): a(X) = lo(X) + X^(N/2) hi(X)
 * maps to lo + i*hi. Twisting coefficient j by w^j (w = exp(i*pi/N), so
 * w^(N/2) = i) turns that weighted convolution into a plain cyclic one, done
 * by a complex FFT of size N/2. So: fold, twist, FFT; pointwise products;
 * inverse FFT, untwist (with the 2/N scale), unfold.
 *
 * Torus values are converted as signed 64-bit integers; the way back takes
 * t - rint(t) on the unit torus before scaling by 2^64 (values far exceed
 * int64, a direct cast would overflow). */
#ifndef CML_RUNTIME_FFT_H
#define CML_RUNTIME_FFT_H

#include "internal.h"
#include "prefetch.h"

#include <fftw3.h>

struct cml_fft {
    uint32_t N;
    size_t half;         /* N/2 complex points */
    fftw_plan forward;   /* in place, on fftw_malloc'd buffers */
    fftw_plan backward;
    fftw_plan forward_oop;  /* out of place: faster, used by the bootstrap */
    fftw_plan backward_oop;
    cml_cplx *twist;     /* w^j */
    cml_cplx *untwist;   /* w^-j * 2/N * 2^-64 (products land on the unit torus) */
};

cml_status cml_fft_create(uint32_t N, cml_fft **out);
void cml_fft_destroy(cml_fft *fft);

/* Complex buffers for transforms: FFTW-aligned, `count` of them of N/2 each. */
cml_cplx *cml_fft_alloc(const cml_fft *fft, size_t count);
void cml_fft_free(cml_cplx *p);

/* out = FFT(twist(fold(poly))), poly read as signed integers. */
void cml_fft_forward_i64(const cml_fft *fft, cml_cplx *out, const int64_t *poly);
void cml_fft_forward_torus(const cml_fft *fft, cml_cplx *out, const uint64_t *poly);
/* Executes the forward transform in place on an already folded+twisted buffer. */
void cml_fft_forward_inplace(const cml_fft *fft, cml_cplx *buf);
/* out = FFT(in) for an already folded+twisted in (in != out). */
void cml_fft_forward_oop(const cml_fft *fft, const cml_cplx *in, cml_cplx *out);
/* acc += torus(unfold(untwist(IFFT(buf)))); buf is destroyed. */
void cml_fft_backward_add_torus(const cml_fft *fft, cml_cplx *buf, uint64_t *acc);
/* The same through a separate output buffer tmp (N/2 values); in is kept.
 * Prefetches as it goes (pf: see cml_prefetch). */
void cml_fft_backward_add_torus_oop(const cml_fft *fft, const cml_cplx *in, cml_cplx *tmp,
                                    uint64_t *acc, cml_prefetch *pf);
/* out[m] = a[m] * b[m] for m < N/2. */
void cml_fft_mul(const cml_fft *fft, cml_cplx *restrict out, const cml_cplx *restrict a,
                 const cml_cplx *restrict b);
/* out[m] += a[m] * b[m] for m < N/2. */
void cml_fft_mac(const cml_fft *fft, cml_cplx *restrict out, const cml_cplx *restrict a,
                 const cml_cplx *restrict b);

#endif
