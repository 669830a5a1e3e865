/* fft.c — the negacyclic transform (see fft.h for the maths): a complex FFT
 * of size N/2 on split real/imaginary arrays, written for 8-double vectors
 * (one AVX-512 register; GCC/clang vector extensions, so other targets
 * split them).
 *
 * Forward: decimation in frequency. Outer radix-4 stages (one radix-2
 * stage first when the count of outer bits is odd) on blocks of 128 points
 * and more, depth-first so that sub-blocks are finished while in cache, then
 * a 64-point block held in 16 registers: its three stages of span 32, 16 and
 * 8, an 8x8 transpose, and the last three stages (a radix-8 butterfly)
 * across registers. The result is stored as it stands: the values come out
 * in an order of our own, and the inverse (decimation in time, the same
 * steps mirrored with conjugate twiddles) starts from it. Skipping the
 * reorder FFTW makes, and using the whole vector width with fused
 * multiply-adds, is what makes this faster than Debian's FFTW here (whose
 * codelets stop at 256-bit AVX without FMA; docs/runtime.md). */
#include "fft.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI_VALUE 3.14159265358979323846264338327950288L
#define SQRT_HALF 0.70710678118654752440

/* may_alias: the vectors load and store arrays the rest of the code reads
 * and writes as doubles */
typedef double v8 __attribute__((vector_size(64), may_alias));

/* aligned vector load and store at p (64-byte aligned doubles) */
#define LD(p) (*(const v8 *)(const void *)(p))
#define ST(p, v) (*(v8 *)(void *)(p) = (v))

#ifdef __clang__
#define SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
typedef long long v8i __attribute__((vector_size(64)));
#define SHUF(a, b, ...) __builtin_shuffle(a, b, (v8i){__VA_ARGS__})
#endif

static void *alloc64(size_t doubles) {
    size_t bytes = (doubles * sizeof(double) + 63) & ~(size_t)63;
    return aligned_alloc(64, bytes ? bytes : 64);
}

double *cml_fft_alloc(const cml_fft *fft, size_t count) { return alloc64(count * fft->N); }

/* Outer stage on blocks of 2^L points: radix-2 when L - 6 is odd (the first
 * stage only), else radix-4. So a transform of 2^m points has stages on
 * L = m and every L > 6 with L - 6 even. */
static bool stage_is_radix2(unsigned L) { return (L - 6) % 2 == 1; }
static bool stage_is_used(unsigned L, unsigned m) { return L == m || !stage_is_radix2(L); }

/* Angles and their sines and cosines in long double, rounded once to
 * double: every table value is the nearest double (or within an ulp) to the
 * exact root of unity, which halves the transform's error variance against
 * double-precision angles (measured; docs/runtime.md). */
static long double twiddle_angle(size_t j, size_t block) {
    return -2 * PI_VALUE * (long double)j / (long double)block;
}
static double cos_of(long double a) { return (double)cosl(a); }
static double sin_of(long double a) { return (double)sinl(a); }

cml_status cml_fft_create(uint32_t N, cml_fft **out) {
    *out = NULL;
    if (N < CML_FFT_MIN_N || (N & (N - 1)) || N > (UINT32_C(1) << 30))
        return cml_error(CML_ERR_ARG, "polynomial size %u is not a power of two in %d..2^30", N,
                         CML_FFT_MIN_N);
    cml_fft *f = calloc(1, sizeof *f);
    if (!f) return cml_error(CML_ERR_NOMEM, "out of memory creating an FFT");
    f->N = N;
    f->half = N / 2;
    while (((size_t)1 << f->log2_half) < f->half) f->log2_half++;
    /* one per 64-point block: issued in the outer stages as well, the
     * prefetches measured slower (docs/runtime.md) */
    f->prefetch_blocks = f->half / 64;
    size_t total = 0;
    for (unsigned L = 7; L <= f->log2_half; L++) {
        if (!stage_is_used(L, f->log2_half)) continue;
        f->stage_at[L] = total;
        total += stage_is_radix2(L) ? (size_t)1 << L : 3 * ((size_t)1 << L) / 2;
    }
    f->stages = alloc64(total);
    f->block64 = alloc64(14 * 8);
    f->twist = alloc64(N);
    f->untwist = alloc64(N);
    if (!f->stages || !f->block64 || !f->twist || !f->untwist) {
        cml_fft_destroy(f);
        return cml_error(CML_ERR_NOMEM, "out of memory creating an FFT");
    }
    /* every twiddle from its exact angle: no rounding accumulates across j */
    for (unsigned L = 7; L <= f->log2_half; L++) {
        if (!stage_is_used(L, f->log2_half)) continue;
        const size_t B = (size_t)1 << L;
        double *t = f->stages + f->stage_at[L];
        if (stage_is_radix2(L)) { /* W_B^j, j < B/2: re, then im */
            for (size_t j = 0; j < B / 2; j++)
                t[j] = cos_of(twiddle_angle(j, B)), t[B / 2 + j] = sin_of(twiddle_angle(j, B));
        } else { /* W_B^j, W_B^2j, W_B^3j, j < B/4: re, im of each */
            const size_t s = B / 4;
            for (int q = 1; q <= 3; q++)
                for (size_t j = 0; j < s; j++) {
                    t[(2 * q - 2) * s + j] = cos_of(twiddle_angle(q * j, B));
                    t[(2 * q - 1) * s + j] = sin_of(twiddle_angle(q * j, B));
                }
        }
    }
    /* the 64-point block: W_64^j (j < 32), W_32^j (j < 16), W_16^j (j < 8),
     * each as re then im vectors */
    double *c = f->block64;
    for (int j = 0; j < 32; j++) c[j] = cos_of(twiddle_angle(j, 64)), c[32 + j] = sin_of(twiddle_angle(j, 64));
    for (int j = 0; j < 16; j++) c[64 + j] = cos_of(twiddle_angle(j, 32)), c[80 + j] = sin_of(twiddle_angle(j, 32));
    for (int j = 0; j < 8; j++) c[96 + j] = cos_of(twiddle_angle(j, 16)), c[104 + j] = sin_of(twiddle_angle(j, 16));
    const size_t h = f->half;
    /* the inverse transform's 2/N, and 2^-64: products come out on the unit
     * torus (scaling by a power of two is exact) */
    const double s = 2.0 / (double)N * 0x1p-64;
    for (size_t j = 0; j < h; j++) {
        long double ang = PI_VALUE * (long double)j / (long double)N; /* from j/N: no drift */
        f->twist[j] = cos_of(ang), f->twist[h + j] = sin_of(ang);
        f->untwist[j] = cos_of(ang) * s, f->untwist[h + j] = -sin_of(ang) * s;
    }
    *out = f;
    return CML_OK;
}

void cml_fft_destroy(cml_fft *f) {
    if (!f) return;
    free(f->stages);
    free(f->block64);
    free(f->twist);
    free(f->untwist);
    free(f);
}

/* ---- butterflies on split vectors ---- */

/* forward, decimation in frequency: (a, b) -> (a + b, (a - b) w) */
static inline void dif2(v8 *ar, v8 *ai, v8 *br, v8 *bi, const double *w_re, const double *w_im) {
    const v8 wr = LD(w_re), wi = LD(w_im);
    v8 dr = *ar - *br, di = *ai - *bi;
    *ar += *br, *ai += *bi;
    *br = dr * wr - di * wi;
    *bi = dr * wi + di * wr;
}
/* the same with w = 1 and w = -i */
static inline void dif2_one(v8 *ar, v8 *ai, v8 *br, v8 *bi) {
    v8 dr = *ar - *br, di = *ai - *bi;
    *ar += *br, *ai += *bi;
    *br = dr, *bi = di;
}
static inline void dif2_mi(v8 *ar, v8 *ai, v8 *br, v8 *bi) {
    v8 dr = *ar - *br, di = *ai - *bi;
    *ar += *br, *ai += *bi;
    *br = di, *bi = -dr;
}
/* inverse, decimation in time: (a, b) -> (a + b conj(w), a - b conj(w)) */
static inline void dit2(v8 *ar, v8 *ai, v8 *br, v8 *bi, const double *w_re, const double *w_im) {
    const v8 wr = LD(w_re), wi = LD(w_im);
    v8 tr = *br * wr + *bi * wi, ti = *bi * wr - *br * wi;
    *br = *ar - tr, *bi = *ai - ti;
    *ar += tr, *ai += ti;
}
static inline void dit2_one(v8 *ar, v8 *ai, v8 *br, v8 *bi) {
    v8 tr = *br, ti = *bi;
    *br = *ar - tr, *bi = *ai - ti;
    *ar += tr, *ai += ti;
}
/* conj(-i) = i */
static inline void dit2_i(v8 *ar, v8 *ai, v8 *br, v8 *bi) {
    v8 tr = -*bi, ti = *br;
    *br = *ar - tr, *bi = *ai - ti;
    *ar += tr, *ai += ti;
}

/* The loops below run over the 8 registers of a block: unrolled whole (as
 * -O3 does anyway) so that the arrays live in registers at -O2 too. */

/* x[r] lane c <- x[c] lane r */
static inline void transpose8(v8 x[8]) {
    v8 t[8], u[8];
    #pragma GCC unroll 8
    for (int k = 0; k < 8; k += 2) {
        t[k] = SHUF(x[k], x[k + 1], 0, 8, 2, 10, 4, 12, 6, 14);
        t[k + 1] = SHUF(x[k], x[k + 1], 1, 9, 3, 11, 5, 13, 7, 15);
    }
    #pragma GCC unroll 8
    for (int k = 0; k < 8; k += 4)
        #pragma GCC unroll 8
        for (int q = 0; q < 2; q++) {
            u[k + q] = SHUF(t[k + q], t[k + q + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            u[k + q + 2] = SHUF(t[k + q], t[k + q + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    #pragma GCC unroll 8
    for (int q = 0; q < 4; q++) {
        x[q] = SHUF(u[q], u[q + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        x[q + 4] = SHUF(u[q], u[q + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}

/* ---- the 64-point block ---- */

static void block64_forward(const double *c, double *re, double *im) {
    v8 R[8], I[8];
    #pragma GCC unroll 8
    for (int v = 0; v < 8; v++) R[v] = LD(re + 8 * v), I[v] = LD(im + 8 * v);
    #pragma GCC unroll 8
    for (int v = 0; v < 4; v++) dif2(&R[v], &I[v], &R[v + 4], &I[v + 4], c + 8 * v, c + 32 + 8 * v);
    #pragma GCC unroll 8
    for (int g = 0; g < 8; g += 4)
        #pragma GCC unroll 8
        for (int v = 0; v < 2; v++)
            dif2(&R[g + v], &I[g + v], &R[g + v + 2], &I[g + v + 2], c + 64 + 8 * v, c + 80 + 8 * v);
    #pragma GCC unroll 8
    for (int v = 0; v < 8; v += 2) dif2(&R[v], &I[v], &R[v + 1], &I[v + 1], c + 96, c + 104);
    transpose8(R);
    transpose8(I);
    /* eight 8-point transforms across the registers: span 4 (W_8^r) */
    const v8 sq = {SQRT_HALF, SQRT_HALF, SQRT_HALF, SQRT_HALF,
                   SQRT_HALF, SQRT_HALF, SQRT_HALF, SQRT_HALF};
    dif2_one(&R[0], &I[0], &R[4], &I[4]);
    {   /* times W_8 = (1 - i)/sqrt2 */
        v8 dr = R[1] - R[5], di = I[1] - I[5];
        R[1] += R[5], I[1] += I[5];
        R[5] = (dr + di) * sq, I[5] = (di - dr) * sq;
    }
    dif2_mi(&R[2], &I[2], &R[6], &I[6]);
    {   /* times W_8^3 = (-1 - i)/sqrt2 */
        v8 dr = R[3] - R[7], di = I[3] - I[7];
        R[3] += R[7], I[3] += I[7];
        R[7] = (di - dr) * sq, I[7] = -(dr + di) * sq;
    }
    #pragma GCC unroll 8
    for (int g = 0; g < 8; g += 4) { /* span 2 (W_4^r) */
        dif2_one(&R[g], &I[g], &R[g + 2], &I[g + 2]);
        dif2_mi(&R[g + 1], &I[g + 1], &R[g + 3], &I[g + 3]);
    }
    #pragma GCC unroll 8
    for (int v = 0; v < 8; v += 2) dif2_one(&R[v], &I[v], &R[v + 1], &I[v + 1]); /* span 1 */
    #pragma GCC unroll 8
    for (int v = 0; v < 8; v++) ST(re + 8 * v, R[v]), ST(im + 8 * v, I[v]);
}

static void block64_backward(const double *c, double *re, double *im) {
    v8 R[8], I[8];
    #pragma GCC unroll 8
    for (int v = 0; v < 8; v++) R[v] = LD(re + 8 * v), I[v] = LD(im + 8 * v);
    #pragma GCC unroll 8
    for (int v = 0; v < 8; v += 2) dit2_one(&R[v], &I[v], &R[v + 1], &I[v + 1]);
    #pragma GCC unroll 8
    for (int g = 0; g < 8; g += 4) {
        dit2_one(&R[g], &I[g], &R[g + 2], &I[g + 2]);
        dit2_i(&R[g + 1], &I[g + 1], &R[g + 3], &I[g + 3]);
    }
    const v8 sq = {SQRT_HALF, SQRT_HALF, SQRT_HALF, SQRT_HALF,
                   SQRT_HALF, SQRT_HALF, SQRT_HALF, SQRT_HALF};
    dit2_one(&R[0], &I[0], &R[4], &I[4]);
    {   /* b times conj(W_8) = (1 + i)/sqrt2 */
        v8 tr = (R[5] - I[5]) * sq, ti = (R[5] + I[5]) * sq;
        R[5] = R[1] - tr, I[5] = I[1] - ti;
        R[1] += tr, I[1] += ti;
    }
    dit2_i(&R[2], &I[2], &R[6], &I[6]);
    {   /* b times conj(W_8^3) = (-1 + i)/sqrt2 */
        v8 tr = -(R[7] + I[7]) * sq, ti = (R[7] - I[7]) * sq;
        R[7] = R[3] - tr, I[7] = I[3] - ti;
        R[3] += tr, I[3] += ti;
    }
    transpose8(R);
    transpose8(I);
    #pragma GCC unroll 8
    for (int v = 0; v < 8; v += 2) dit2(&R[v], &I[v], &R[v + 1], &I[v + 1], c + 96, c + 104);
    #pragma GCC unroll 8
    for (int g = 0; g < 8; g += 4)
        #pragma GCC unroll 8
        for (int v = 0; v < 2; v++)
            dit2(&R[g + v], &I[g + v], &R[g + v + 2], &I[g + v + 2], c + 64 + 8 * v, c + 80 + 8 * v);
    #pragma GCC unroll 8
    for (int v = 0; v < 4; v++) dit2(&R[v], &I[v], &R[v + 4], &I[v + 4], c + 8 * v, c + 32 + 8 * v);
    #pragma GCC unroll 8
    for (int v = 0; v < 8; v++) ST(re + 8 * v, R[v]), ST(im + 8 * v, I[v]);
}

/* ---- outer stages, depth-first ---- */

/* (a0, a1, a2, a3) at j, j+s, j+2s, j+3s: two radix-2 stages in one pass
 * (spans 2s, then s), their twiddles merged into W^j, W^2j, W^3j. */
static void forward_rec(const cml_fft *f, double *re, double *im, unsigned L, cml_prefetch *pf) {
    if (L == 6) {
        cml_prefetch_block(pf);
        block64_forward(f->block64, re, im);
        return;
    }
    const double *t = f->stages + f->stage_at[L];
    if (stage_is_radix2(L)) {
        const size_t h = (size_t)1 << (L - 1);
        for (size_t j = 0; j < h; j += 8) {
            v8 ar = LD(re + j), ai = LD(im + j), br = LD(re + h + j), bi = LD(im + h + j);
            dif2(&ar, &ai, &br, &bi, t + j, t + h + j);
            ST(re + j, ar), ST(im + j, ai), ST(re + h + j, br), ST(im + h + j, bi);
        }
        forward_rec(f, re, im, L - 1, pf);
        forward_rec(f, re + h, im + h, L - 1, pf);
        return;
    }
    const size_t s = (size_t)1 << (L - 2);
    for (size_t j = 0; j < s; j += 8) {
        v8 a0r = LD(re + j), a0i = LD(im + j), a1r = LD(re + s + j), a1i = LD(im + s + j);
        v8 a2r = LD(re + 2 * s + j), a2i = LD(im + 2 * s + j);
        v8 a3r = LD(re + 3 * s + j), a3i = LD(im + 3 * s + j);
        /* t3 = (a1 - a3)(-i) */
        v8 t0r = a0r + a2r, t0i = a0i + a2i, t1r = a0r - a2r, t1i = a0i - a2i;
        v8 t2r = a1r + a3r, t2i = a1i + a3i, t3r = a1i - a3i, t3i = a3r - a1r;
        v8 y1r = t0r - t2r, y1i = t0i - t2i, y2r = t1r + t3r, y2i = t1i + t3i;
        v8 y3r = t1r - t3r, y3i = t1i - t3i;
        ST(re + j, t0r + t2r), ST(im + j, t0i + t2i);
        v8 wr = LD(t + 2 * s + j), wi = LD(t + 3 * s + j); /* W^2j */
        ST(re + s + j, y1r * wr - y1i * wi), ST(im + s + j, y1r * wi + y1i * wr);
        wr = LD(t + j), wi = LD(t + s + j); /* W^j */
        ST(re + 2 * s + j, y2r * wr - y2i * wi), ST(im + 2 * s + j, y2r * wi + y2i * wr);
        wr = LD(t + 4 * s + j), wi = LD(t + 5 * s + j); /* W^3j */
        ST(re + 3 * s + j, y3r * wr - y3i * wi), ST(im + 3 * s + j, y3r * wi + y3i * wr);
    }
    for (int q = 0; q < 4; q++) forward_rec(f, re + q * s, im + q * s, L - 2, pf);
}

static void backward_rec(const cml_fft *f, double *re, double *im, unsigned L, cml_prefetch *pf) {
    if (L == 6) {
        cml_prefetch_block(pf);
        block64_backward(f->block64, re, im);
        return;
    }
    const double *t = f->stages + f->stage_at[L];
    if (stage_is_radix2(L)) {
        const size_t h = (size_t)1 << (L - 1);
        backward_rec(f, re, im, L - 1, pf);
        backward_rec(f, re + h, im + h, L - 1, pf);
        for (size_t j = 0; j < h; j += 8) {
            v8 ar = LD(re + j), ai = LD(im + j), br = LD(re + h + j), bi = LD(im + h + j);
            dit2(&ar, &ai, &br, &bi, t + j, t + h + j);
            ST(re + j, ar), ST(im + j, ai), ST(re + h + j, br), ST(im + h + j, bi);
        }
        return;
    }
    const size_t s = (size_t)1 << (L - 2);
    for (int q = 0; q < 4; q++) backward_rec(f, re + q * s, im + q * s, L - 2, pf);
    for (size_t j = 0; j < s; j += 8) {
        v8 y0r = LD(re + j), y0i = LD(im + j), y1r = LD(re + s + j), y1i = LD(im + s + j);
        v8 y2r = LD(re + 2 * s + j), y2i = LD(im + 2 * s + j);
        v8 y3r = LD(re + 3 * s + j), y3i = LD(im + 3 * s + j);
        /* y times conj(W^2j), conj(W^j), conj(W^3j) */
        v8 wr = LD(t + 2 * s + j), wi = LD(t + 3 * s + j), xr;
        xr = y1r * wr + y1i * wi, y1i = y1i * wr - y1r * wi, y1r = xr;
        wr = LD(t + j), wi = LD(t + s + j);
        xr = y2r * wr + y2i * wi, y2i = y2i * wr - y2r * wi, y2r = xr;
        wr = LD(t + 4 * s + j), wi = LD(t + 5 * s + j);
        xr = y3r * wr + y3i * wi, y3i = y3i * wr - y3r * wi, y3r = xr;
        v8 u0r = y0r + y1r, u0i = y0i + y1i, u2r = y0r - y1r, u2i = y0i - y1i;
        v8 u1r = y2r + y3r, u1i = y2i + y3i, u3r = y2r - y3r, u3i = y2i - y3i;
        /* a0 = u0 + u1, a2 = u0 - u1, a1 = u2 + i u3, a3 = u2 - i u3 */
        ST(re + j, u0r + u1r), ST(im + j, u0i + u1i);
        ST(re + 2 * s + j, u0r - u1r), ST(im + 2 * s + j, u0i - u1i);
        ST(re + s + j, u2r - u3i), ST(im + s + j, u2i + u3r);
        ST(re + 3 * s + j, u2r + u3i), ST(im + 3 * s + j, u2i - u3r);
    }
}

void cml_fft_forward(const cml_fft *fft, double *buf, cml_prefetch *pf) {
    forward_rec(fft, buf, buf + fft->half, fft->log2_half, pf);
}

void cml_fft_backward(const cml_fft *fft, double *buf, cml_prefetch *pf) {
    backward_rec(fft, buf, buf + fft->half, fft->log2_half, pf);
}

void cml_fft_forward_i64(const cml_fft *fft, double *out, const int64_t *poly) {
    const size_t h = fft->half;
    const double *twr = fft->twist, *twi = fft->twist + h;
    for (size_t j = 0; j < h; j++) {
        double re = (double)poly[j], im = (double)poly[j + h];
        out[j] = re * twr[j] - im * twi[j];
        out[h + j] = re * twi[j] + im * twr[j];
    }
    cml_fft_forward(fft, out, NULL);
}

void cml_fft_forward_torus(const cml_fft *fft, double *out, const uint64_t *poly) {
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

/* acc[j], acc[j + h] += torus(buf[j] * ut[j]) */
static inline void untwist_add_one(const double *restrict br, const double *restrict bi,
                                   const double *restrict ur, const double *restrict ui,
                                   uint64_t *restrict lo, uint64_t *restrict hi, size_t j) {
    lo[j] += torus_from_unit(br[j] * ur[j] - bi[j] * ui[j]);
    hi[j] += torus_from_unit(br[j] * ui[j] + bi[j] * ur[j]);
}

void cml_fft_backward_add_torus(const cml_fft *fft, double *buf, uint64_t *acc, cml_prefetch *pf) {
    cml_fft_backward(fft, buf, pf);
    cml_fft_untwist_add_torus(fft, buf, acc);
}

void cml_fft_untwist_add_torus(const cml_fft *fft, const double *buf, uint64_t *acc) {
    const size_t h = fft->half;
    const double *br = buf, *bi = buf + h, *ur = fft->untwist, *ui = fft->untwist + h;
    uint64_t *lo = acc, *hi = acc + h;
    for (size_t j = 0; j < h; j++) untwist_add_one(br, bi, ur, ui, lo, hi, j);
}

void cml_fft_mac(const cml_fft *fft, double *restrict out, const double *restrict a,
                 const double *restrict b) {
    const size_t h = fft->half;
    for (size_t m = 0; m < h; m++) {
        double ar = a[m], ai = a[h + m], br = b[m], bi = b[h + m];
        out[m] += ar * br - ai * bi;
        out[h + m] += ar * bi + ai * br;
    }
}

void cml_fft_mul(const cml_fft *fft, double *restrict out, const double *restrict a,
                 const double *restrict b) {
    const size_t h = fft->half;
    for (size_t m = 0; m < h; m++) {
        double ar = a[m], ai = a[h + m], br = b[m], bi = b[h + m];
        out[m] = ar * br - ai * bi;
        out[h + m] = ar * bi + ai * br;
    }
}
