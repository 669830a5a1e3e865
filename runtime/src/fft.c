/* fft.c — the FFTW-backed negacyclic transform (see fft.h for the maths).
 * Plans are made once per N with FFTW_MEASURE under a process-wide lock
 * (FFTW's planner is not thread-safe); executing them with the new-array
 * interface is, so worker threads share one plan. */
#include "fft.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define M_PI_VALUE 3.14159265358979323846

static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;

cml_status cml_fft_create(uint32_t N, cml_fft **out) {
    *out = NULL;
    if (N < 4 || (N & (N - 1)))
        return cml_error(CML_ERR_ARG, "polynomial size %u is not a power of two >= 4", N);
    cml_fft *f = calloc(1, sizeof *f);
    if (!f) return cml_error(CML_ERR_NOMEM, "out of memory creating FFT plans");
    f->N = N;
    f->half = N / 2;
    f->twist = cml_fft_alloc(f, 1);
    f->untwist = cml_fft_alloc(f, 1);
    cml_cplx *scratch = cml_fft_alloc(f, 2);
    if (!f->twist || !f->untwist || !scratch) {
        cml_fft_free(scratch);
        cml_fft_destroy(f);
        return cml_error(CML_ERR_NOMEM, "out of memory creating FFT plans");
    }
    for (size_t j = 0; j < f->half; j++) {
        /* exact angles from j/N avoid accumulating rounding across j */
        double ang = M_PI_VALUE * (double)j / (double)N;
        f->twist[j] = (cml_cplx){cos(ang), sin(ang)};
        /* the inverse transform's 2/N, and 2^-64: products come out on
         * the unit torus (scaling by a power of two is exact) */
        double s = 2.0 / (double)N * 0x1p-64;
        f->untwist[j] = (cml_cplx){cos(ang) * s, -sin(ang) * s};
    }
    pthread_mutex_lock(&planner_lock);
    fftw_complex *b = (fftw_complex *)scratch, *b2 = (fftw_complex *)(scratch + f->half);
    f->forward = fftw_plan_dft_1d((int)f->half, b, b, FFTW_FORWARD, FFTW_MEASURE);
    f->backward = fftw_plan_dft_1d((int)f->half, b, b, FFTW_BACKWARD, FFTW_MEASURE);
    f->forward_oop = fftw_plan_dft_1d((int)f->half, b, b2, FFTW_FORWARD, FFTW_MEASURE);
    f->backward_oop = fftw_plan_dft_1d((int)f->half, b, b2, FFTW_BACKWARD, FFTW_MEASURE);
    pthread_mutex_unlock(&planner_lock);
    cml_fft_free(scratch);
    if (!f->forward || !f->backward || !f->forward_oop || !f->backward_oop) {
        cml_fft_destroy(f);
        return cml_error(CML_ERR_INTERNAL, "FFTW could not plan a transform of size %u", N / 2);
    }
    *out = f;
    return CML_OK;
}

void cml_fft_destroy(cml_fft *f) {
    if (!f) return;
    pthread_mutex_lock(&planner_lock);
    if (f->forward) fftw_destroy_plan(f->forward);
    if (f->backward) fftw_destroy_plan(f->backward);
    if (f->forward_oop) fftw_destroy_plan(f->forward_oop);
    if (f->backward_oop) fftw_destroy_plan(f->backward_oop);
    pthread_mutex_unlock(&planner_lock);
    cml_fft_free(f->twist);
    cml_fft_free(f->untwist);
    free(f);
}

cml_cplx *cml_fft_alloc(const cml_fft *fft, size_t count) {
    return fftw_malloc(count * fft->half * sizeof(cml_cplx));
}

void cml_fft_free(cml_cplx *p) { fftw_free(p); }

void cml_fft_forward_inplace(const cml_fft *fft, cml_cplx *buf) {
    fftw_execute_dft(fft->forward, (fftw_complex *)buf, (fftw_complex *)buf);
}

void cml_fft_forward_i64(const cml_fft *fft, cml_cplx *out, const int64_t *poly) {
    const size_t h = fft->half;
    const cml_cplx *tw = fft->twist;
    for (size_t j = 0; j < h; j++) {
        double re = (double)poly[j], im = (double)poly[j + h];
        out[j].re = re * tw[j].re - im * tw[j].im;
        out[j].im = re * tw[j].im + im * tw[j].re;
    }
    cml_fft_forward_inplace(fft, out);
}

void cml_fft_forward_torus(const cml_fft *fft, cml_cplx *out, const uint64_t *poly) {
    cml_fft_forward_i64(fft, out, (const int64_t *)poly);
}

/* A value on the unit torus (a double far beyond 1 in magnitude: the
 * untwist table carries the 2^-64) reduced mod 2^64 onto the 64-bit torus. */
static inline uint64_t torus_from_unit(double t) {
    t -= rint(t);
    double s = rint(t * 0x1p64); /* nearest integer in [-2^63, 2^63] */
    if (s >= 0x1p63) s -= 0x1p64;
    return (uint64_t)(int64_t)s;
}

void cml_fft_forward_oop(const cml_fft *fft, const cml_cplx *in, cml_cplx *out) {
    fftw_execute_dft(fft->forward_oop, (fftw_complex *)in, (fftw_complex *)out);
}

static void untwist_add_torus(const cml_fft *fft, const cml_cplx *buf, uint64_t *acc,
                              cml_prefetch *pf);

void cml_fft_backward_add_torus(const cml_fft *fft, cml_cplx *buf, uint64_t *acc) {
    fftw_execute_dft(fft->backward, (fftw_complex *)buf, (fftw_complex *)buf);
    untwist_add_torus(fft, buf, acc, NULL);
}

void cml_fft_backward_add_torus_oop(const cml_fft *fft, const cml_cplx *in, cml_cplx *tmp,
                                    uint64_t *acc, cml_prefetch *pf) {
    fftw_execute_dft(fft->backward_oop, (fftw_complex *)in, (fftw_complex *)tmp);
    untwist_add_torus(fft, tmp, acc, pf);
}

/* acc[j], acc[j + h] += torus(ut[j] * buf[j]) */
static inline void untwist_add_one(const cml_cplx *restrict buf, const cml_cplx *restrict ut,
                                   uint64_t *restrict acc, size_t h, size_t j) {
    acc[j] += torus_from_unit(buf[j].re * ut[j].re - buf[j].im * ut[j].im);
    acc[j + h] += torus_from_unit(buf[j].re * ut[j].im + buf[j].im * ut[j].re);
}

static void untwist_add_torus(const cml_fft *fft, const cml_cplx *buf, uint64_t *acc,
                              cml_prefetch *pf) {
    const size_t h = fft->half;
    const cml_cplx *ut = fft->untwist;
    size_t j0 = 0;
    for (; j0 + CML_PREFETCH_BLOCK <= h; j0 += CML_PREFETCH_BLOCK) { /* whole blocks */
        cml_prefetch_block(pf);
        for (size_t j = j0; j < j0 + CML_PREFETCH_BLOCK; j++) untwist_add_one(buf, ut, acc, h, j);
    }
    for (size_t j = j0; j < h; j++) untwist_add_one(buf, ut, acc, h, j); /* N/2 < a block */
}

void cml_fft_mac(const cml_fft *fft, cml_cplx *restrict out, const cml_cplx *restrict a,
                 const cml_cplx *restrict b) {
    const size_t h = fft->half;
    for (size_t m = 0; m < h; m++) {
        double ar = a[m].re, ai = a[m].im, br = b[m].re, bi = b[m].im;
        out[m].re += ar * br - ai * bi;
        out[m].im += ar * bi + ai * br;
    }
}

void cml_fft_mul(const cml_fft *fft, cml_cplx *restrict out, const cml_cplx *restrict a,
                 const cml_cplx *restrict b) {
    const size_t h = fft->half;
    for (size_t m = 0; m < h; m++) {
        double ar = a[m].re, ai = a[m].im, br = b[m].re, bi = b[m].im;
        out[m].re = ar * br - ai * bi;
        out[m].im = ar * bi + ai * br;
    }
}
