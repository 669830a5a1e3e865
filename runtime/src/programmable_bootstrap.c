/* programmable_bootstrap.c — keyswitch + programmable bootstrap (the KS->PBS
 * atomic pattern) and its batch form.
 *
 *   small = keyswitch(in)                      big key -> small key
 *   (a~, b~) = modswitch(small) to Z_2N        (signed input: +2^(p-1) first)
 *   ACC = X^(-b~) * lut                        trivial GLWE
 *   for i < n:  ACC += ExtProd(BSK_i, X^(a~_i) ACC - ACC)     (CMux)
 *   out = sample_extract(ACC, 0)               back under the big key
 *
 * The external product works in the Fourier domain: each of the k+1 input
 * polynomials is decomposed into `level` digit polynomials, each transformed
 * once; products with the Fourier BSK accumulate per output polynomial; one
 * inverse FFT per output polynomial. With one level, the rotation,
 * subtraction, gadget decomposition, folding and twisting are one pass over
 * the accumulator (rotate_digit_twist); with more, the rotation and rounding
 * are one pass and each level's digits, folding and twisting another. While
 * the CMuxes on a GGSW compute, they prefetch the next GGSW.
 * Hot functions take caller scratch (pbs_scratch) so batches allocate once
 * per worker. */
#include "decomposition.h"
#include "fft.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { CML_PBS_GROUP_MAX = 32 };

typedef struct pbs_scratch {
    uint32_t group;    /* ciphertexts bootstrapped in lockstep */
    uint32_t *small;   /* group * (n+1): keyswitched ciphertexts, 32-bit torus */
    uint64_t *acc;     /* group * (k+1)*N: accumulators */
    uint64_t *diff;    /* N: one rotated-minus-original polynomial */
    double *digits;    /* one Fourier polynomial: a twisted digit polynomial, then its transform */
    double *facc;      /* k+1 Fourier polynomials: the accumulators */
} pbs_scratch;

static void scratch_free(pbs_scratch *s) {
    if (!s) return;
    free(s->small);
    free(s->acc);
    free(s->digits);
    free(s->facc);
    memset(s, 0, sizeof *s);
}

static cml_status scratch_alloc(const cml_params *p, const cml_fft *fft, uint32_t group,
                                pbs_scratch *s) {
    const size_t k1 = p->glwe_dimension + 1, N = p->polynomial_size;
    s->group = group;
    s->small = malloc(group * (p->lwe_dimension + 1) * sizeof *s->small);
    s->acc = malloc((group * k1 * N + N) * sizeof *s->acc);
    s->diff = s->acc ? s->acc + group * k1 * N : NULL;
    s->digits = cml_fft_alloc(fft, 1);
    s->facc = cml_fft_alloc(fft, k1);
    if (!s->small || !s->acc || !s->digits || !s->facc) {
        scratch_free(s);
        return cml_error(CML_ERR_NOMEM, "out of memory allocating bootstrap scratch");
    }
    return CML_OK;
}

/* out = X^r * in (negacyclic), r in [0, 2N). */
static void poly_rotate(uint64_t *restrict out, const uint64_t *restrict in, uint32_t N, uint32_t r) {
    int neg = r >= N;
    if (neg) r -= N;
    /* coefficients [0, N-r) move up by r; the rest wrap to the bottom negated */
    const uint64_t *wrap = in + (N - r);
    uint64_t *hi = out + r;
    for (size_t j = 0; j < r; j++) out[j] = neg ? wrap[j] : (uint64_t)0 - wrap[j];
    for (size_t j = 0; j < (size_t)N - r; j++) hi[j] = neg ? (uint64_t)0 - in[j] : in[j];
}

/* st[j] = decomp_round((X^r in - in)[j]): rotation, subtraction and the
 * decomposition's rounding in one pass, split at the wrap point so both
 * halves are straight vectorisable loops (on size_t counts and shifted
 * pointers: with 32-bit `j - r` indices the compiler cannot prove the loads
 * contiguous and falls back to gathers). r in [1, 2N). */
static void rotate_sub_round(uint64_t *restrict st, const uint64_t *restrict in, uint32_t N,
                             uint32_t r, uint32_t total) {
    const int neg = r >= N;
    if (neg) r -= N;
    /* coefficients j < r come from in[N - r + j], the rest from in[j - r] */
    const uint64_t *restrict wrap = in + (N - r), *restrict cur = in + r;
    uint64_t *restrict hi = st + r;
    const size_t nw = r, nr = (size_t)N - r;
    if (!neg) {
        for (size_t j = 0; j < nw; j++) st[j] = decomp_round((uint64_t)0 - wrap[j] - in[j], total);
        for (size_t j = 0; j < nr; j++) hi[j] = decomp_round(in[j] - cur[j], total);
    } else {
        for (size_t j = 0; j < nw; j++) st[j] = decomp_round(wrap[j] - in[j], total);
        for (size_t j = 0; j < nr; j++) hi[j] = decomp_round((uint64_t)0 - in[j] - cur[j], total);
    }
}

/* (*out_re + i *out_im) = (re + i im) * (tw_re + i tw_im) */
static inline void twist_store(double *restrict out_re, double *restrict out_im, double re,
                               double im, double tw_re, double tw_im) {
    *out_re = re * tw_re - im * tw_im;
    *out_im = re * tw_im + im * tw_re;
}

/* Peels one digit off every coefficient's state and writes the folded,
 * twisted values of that digit polynomial (split, fft.h). */
static void digits_fold_twist(double *restrict out, uint64_t *restrict st, size_t h,
                              uint32_t bl, const double *restrict tw) {
    uint64_t *restrict lo = st, *restrict hi = st + h;
    for (size_t j = 0; j < h; j++)
        twist_store(&out[j], &out[h + j], (double)decomp_next_digit(&lo[j], bl),
                    (double)decomp_next_digit(&hi[j], bl), tw[j], tw[h + j]);
}

/* The one-level case in one pass: the folded, twisted digit polynomial of
 * X^r in - in straight from in, no state written or read back (the top
 * level's carry is dropped anyway). The half [0, h) and the half [h, N)
 * each wrap at their own point, so [0, h) splits into at most three
 * segments where both halves are plain shifted loads with a fixed sign.
 * r in [1, 2N). */
static void rotate_digit_twist(double *restrict out, const uint64_t *restrict in, uint32_t N,
                               uint32_t r, uint32_t bl, const double *restrict tw) {
    const size_t h = N / 2;
    const bool neg = r >= N;
    if (neg) r -= N;
    /* coefficient J < r comes from in[N - r + J] (wrapped), else in[J - r];
     * the sign is - when exactly one of neg and wrapped holds */
    const size_t lo_wrap = r < h ? r : h, hi_wrap = r > h ? r - h : 0;
    const size_t cuts[4] = {0, lo_wrap < hi_wrap ? lo_wrap : hi_wrap,
                            lo_wrap < hi_wrap ? hi_wrap : lo_wrap, h};
    for (int seg = 0; seg < 3; seg++) {
        const size_t a = cuts[seg], len = cuts[seg + 1] - a;
        if (!len) continue;
        const bool lw = a < lo_wrap, hw = a < hi_wrap;
        const uint64_t *restrict ls = lw ? in + (N - r) + a : in + (a - r);
        const uint64_t *restrict hs = hw ? in + (N - r) + h + a : in + (h + a - r);
        const uint64_t *restrict lc = in + a, *restrict hc = in + h + a;
        const uint64_t lm = neg != lw ? ~(uint64_t)0 : 0, hm = neg != hw ? ~(uint64_t)0 : 0;
        const double *restrict tr = tw + a, *restrict ti = tw + h + a;
        double *restrict ore = out + a, *restrict oim = out + h + a;
        for (size_t j = 0; j < len; j++)
            twist_store(&ore[j], &oim[j], (double)decomp_single_digit(((ls[j] ^ lm) - lm) - lc[j], bl),
                        (double)decomp_single_digit(((hs[j] ^ hm) - hm) - hc[j], bl), tr[j], ti[j]);
    }
}

/* One digit polynomial's share of the external product: transform the
 * folded, twisted digits in s->digits (issuing the transform's share of
 * pf) and multiply them into the Fourier accumulators by the k+1 key
 * polynomials at row (the first share of a CMux overwrites, the others
 * add). */
static void digit_product(const cml_fft *fft, uint32_t k1, const double *row, bool first,
                          pbs_scratch *s, cml_prefetch *pf) {
    const size_t N = fft->N;
    cml_fft_forward(fft, s->digits, pf);
    for (uint32_t o = 0; o < k1; o++) {
        if (first)
            cml_fft_mul(fft, s->facc + o * N, s->digits, row + o * N);
        else
            cml_fft_mac(fft, s->facc + o * N, s->digits, row + o * N);
    }
}

/* Prefetch blocks one CMux issues: those of its k1*l forward and k1
 * inverse transforms. The transforms take most of a CMux's time at an even
 * pace, so the stream goes out evenly; issued in the coefficient passes
 * too, which are much faster per value, it came in bursts and measured
 * slower, and in the products it competes with their own loads
 * (docs/runtime.md). */
static size_t cmux_prefetch_blocks(const cml_params *p, const cml_fft *fft) {
    const size_t k1 = p->glwe_dimension + 1;
    return fft->prefetch_blocks * (k1 * p->pbs_level + k1);
}

/* The folded, twisted digit polynomial of level lev (levels come least
 * significant first: l, l-1, ..., 1) of X^r in - in into s->digits: with one
 * level in one pass from in; with more, the first level's call rounds into
 * s->diff and every level peels its digit off it. */
static void cmux_digits(const cml_params *p, const cml_fft *fft, const uint64_t *in, uint32_t r,
                        uint32_t lev, pbs_scratch *s) {
    const uint32_t N = p->polynomial_size, l = p->pbs_level, bl = p->pbs_base_log;
    if (l == 1) {
        rotate_digit_twist(s->digits, in, N, r, bl, fft->twist);
        return;
    }
    if (lev == l) rotate_sub_round(s->diff, in, N, r, bl * l);
    digits_fold_twist(s->digits, s->diff, fft->half, bl, fft->twist);
}

/* acc += ExtProd(ggsw, X^r acc - acc), issuing its share of pf (NULL:
 * nothing to prefetch). */
static void cmux_rotate(const cml_params *p, const cml_fft *fft, const double *ggsw,
                        cml_prefetch *pf, uint32_t r, uint64_t *acc, pbs_scratch *s) {
    const uint32_t k1 = p->glwe_dimension + 1, N = p->polynomial_size, l = p->pbs_level;
    for (uint32_t c = 0; c < k1; c++)
        for (uint32_t lev = l; lev >= 1; lev--) {
            cmux_digits(p, fft, acc + (size_t)c * N, r, lev, s);
            const size_t at = ((size_t)c * l + (lev - 1)) * k1 * N;
            digit_product(fft, k1, ggsw + at, c == 0 && lev == l, s, pf);
        }
    for (uint32_t o = 0; o < k1; o++)
        cml_fft_backward_add_torus(fft, s->facc + (size_t)o * N, acc + (size_t)o * N, pf);
}

/* Blind rotation of `count` small-key ciphertexts (s->small) in lockstep:
 * leaves X^(-phase_g) * lut_g (plus noise) in accumulator g of s->acc.
 * Lockstep matters: a bootstrap is bound by streaming the bootstrap key from
 * memory (tens of MB), so each GGSW is applied to the whole group while it
 * sits in cache. */
static void blind_rotate(const cml_server_key *sk, const cml_fft *fft,
                         const cml_lut *const *luts, size_t count, pbs_scratch *s) {
    const cml_params *p = &sk->params;
    const uint32_t k = p->glwe_dimension, N = p->polynomial_size, n = p->lwe_dimension;
    const size_t acc_words = (size_t)(k + 1) * N;
    const uint32_t log2_2n = cml_log2_2n(N);
    const uint32_t two_n = 2 * N;

    for (size_t g = 0; g < count; g++) {
        uint32_t *small = s->small + g * (n + 1);
        uint64_t *acc = s->acc + g * acc_words;
        /* signed input: shift by 2^(p-1) messages, i.e. 2^(p-1) * 2^(63-p) =
         * 2^62 (2^30 on the 32-bit torus), so the padding bit is clear; the
         * table is indexed from the minimum */
        if (luts[g]->in_signed) small[n] += UINT32_C(1) << 30;
        uint32_t b = cml_modswitch(small[n], log2_2n);
        memset(acc, 0, (size_t)k * N * sizeof *acc);
        poly_rotate(acc + (size_t)k * N, luts[g]->poly, N, (two_n - b) % two_n);
    }
    const size_t ggsw_doubles = cml_ggsw_fourier_doubles(p);
    const size_t blocks = cmux_prefetch_blocks(p, fft) * count;
    for (uint32_t i = 0; i < n; i++) {
        const double *ggsw = sk->bsk + i * ggsw_doubles;
        /* the group's CMuxes on this GGSW prefetch the next one, each a
         * share: in a batch no one CMux takes the whole burst */
        cml_prefetch next = cml_prefetch_stream(ggsw + ggsw_doubles,
                                                i + 1 < n ? ggsw_doubles * sizeof *ggsw : 0, blocks);
        for (size_t g = 0; g < count; g++) {
            uint32_t a = cml_modswitch(s->small[g * (n + 1) + i], log2_2n);
            if (a) cmux_rotate(p, fft, ggsw, &next, a, s->acc + g * acc_words, s);
        }
    }
}

/* Sample extraction of coefficient 0 of acc: an LWE ciphertext under the
 * flattened GLWE key (a'_{c,0} = A_c[0], a'_{c,j} = -A_c[N-j]), written as
 * one of `dim` mask words: a light key's k N is the start of the main key,
 * so the mask words past it are 0. */
static void sample_extract(const cml_params *p, const uint64_t *acc, uint64_t *out, size_t dim) {
    const uint32_t k = p->glwe_dimension, N = p->polynomial_size;
    for (uint32_t c = 0; c < k; c++) {
        const uint64_t *A = acc + (size_t)c * N;
        uint64_t *o = out + (size_t)c * N;
        o[0] = A[0];
        for (uint32_t j = 1; j < N; j++) o[j] = (uint64_t)0 - A[N - j];
    }
    memset(out + (size_t)k * N, 0, (dim - (size_t)k * N) * sizeof *out);
    out[dim] = acc[(size_t)k * N];
}

cml_status cml_blind_rotate_acc(cml_context *ctx, const cml_server_key *sk, const cml_lut *lut,
                                const uint32_t *small, uint64_t *acc) {
    const cml_params *p = &sk->params;
    const cml_fft *fft;
    cml_status st = cml_context_fft(ctx, p->polynomial_size, &fft);
    if (st) return st;
    pbs_scratch s;
    if ((st = scratch_alloc(p, fft, 1, &s))) return st;
    memcpy(s.small, small, (p->lwe_dimension + 1) * sizeof *small);
    blind_rotate(sk, fft, &lut, 1, &s);
    memcpy(acc, s.acc, (size_t)(p->glwe_dimension + 1) * p->polynomial_size * sizeof *acc);
    scratch_free(&s);
    return CML_OK;
}

/* ---- timing hooks for `cml bench pbs` ---- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

/* The steps of one CMux (cmux_rotate) one at a time, STEP_ITERS times
 * each: t[0] the whole CMux, then the input passes, forward FFTs, products,
 * inverse FFTs, untwists; microseconds per CMux. The transforms run in
 * place on their last output (values overflow to inf and NaN: harmless, x86
 * vector arithmetic runs at full speed on them); the untwists read the key,
 * which stays finite, as conversions to integers must. */
enum { STEP_ITERS = 32 };
static void time_cmux_steps(const cml_params *p, const cml_fft *fft, const double *ggsw,
                            size_t ggsw_bytes, pbs_scratch *s, double t[6]) {
    const uint32_t k1 = p->glwe_dimension + 1, N = p->polynomial_size, l = p->pbs_level;
    const size_t blocks = cmux_prefetch_blocks(p, fft);
    double t0 = now_us();
    for (uint32_t i = 0; i < STEP_ITERS; i++) {
        cml_prefetch pf = cml_prefetch_stream(ggsw, ggsw_bytes, blocks);
        cmux_rotate(p, fft, ggsw, &pf, 1 + i * 37 % (2 * N - 1), s->acc, s);
    }
    t[0] = now_us() - t0;
    t0 = now_us();
    for (uint32_t i = 0; i < STEP_ITERS; i++) {
        for (uint32_t c = 0; c < k1; c++)
            for (uint32_t lev = l; lev >= 1; lev--)
                cmux_digits(p, fft, s->acc + (size_t)c * N, 1 + i * 37 % (2 * N - 1), lev, s);
    }
    t[1] = now_us() - t0;
    t0 = now_us();
    for (uint32_t i = 0; i < STEP_ITERS * k1 * l; i++) cml_fft_forward(fft, s->digits, NULL);
    t[2] = now_us() - t0;
    t0 = now_us();
    for (uint32_t i = 0; i < STEP_ITERS * k1 * l; i++)
        for (uint32_t o = 0; o < k1; o++)
            cml_fft_mac(fft, s->facc + (size_t)o * N, s->digits,
                        ggsw + (i % (k1 * l) * k1 + o) * (size_t)N);
    t[3] = now_us() - t0;
    t0 = now_us();
    for (uint32_t i = 0; i < STEP_ITERS * k1; i++)
        cml_fft_backward(fft, s->facc + (size_t)(i % k1) * N, NULL);
    t[4] = now_us() - t0;
    t0 = now_us();
    for (uint32_t i = 0; i < STEP_ITERS * k1; i++)
        cml_fft_untwist_add_torus(fft, ggsw + (size_t)(i % k1) * N, s->acc + (size_t)(i % k1) * N);
    t[5] = now_us() - t0;
    for (int j = 0; j < 6; j++) t[j] /= STEP_ITERS;
}

cml_status cml_rotation_in_cache(cml_context *ctx, const cml_params *p, int reps,
                                 cml_rotation_timing *out) {
    const cml_fft *fft;
    cml_status st = cml_context_fft(ctx, p->polynomial_size, &fft);
    if (st) return st;
    pbs_scratch s;
    if ((st = scratch_alloc(p, fft, 1, &s))) return st;
    const size_t doubles = cml_ggsw_fourier_doubles(p), bytes = doubles * sizeof(double);
    double *ggsw = cml_fft_alloc(fft, doubles / fft->N);
    double *t = malloc((size_t)reps * 7 * sizeof *t);
    if (!ggsw || !t) {
        free(ggsw);
        free(t);
        scratch_free(&s);
        return cml_error(CML_ERR_NOMEM, "out of memory timing a blind rotation");
    }
    /* key values of a real key's magnitude (torus values as doubles), an
     * accumulator of arbitrary words: the arithmetic does not depend on them */
    uint64_t x = UINT64_C(0x9E3779B97F4A7C15);
    for (size_t i = 0; i < doubles; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        ggsw[i] = (double)(int64_t)x;
    }
    for (size_t i = 0; i < (size_t)(p->glwe_dimension + 1) * p->polynomial_size; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        s.acc[i] = x;
    }
    const size_t blocks = cmux_prefetch_blocks(p, fft);
    for (int r = 0; r < reps; r++) { /* the n CMuxes of one rotation, on the one GGSW */
        double t0 = now_us();
        for (uint32_t i = 0; i < p->lwe_dimension; i++) {
            cml_prefetch pf = cml_prefetch_stream(ggsw, bytes, blocks);
            cmux_rotate(p, fft, ggsw, &pf, 1 + i * 2654435761u % (2 * p->polynomial_size - 1),
                        s.acc, &s);
        }
        t[r] = (now_us() - t0) * 1e-3;
        time_cmux_steps(p, fft, ggsw, bytes, &s, t + reps + 6 * r);
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    out->rotation_ms = t[reps / 2];
    /* then each step's median, gathered into the first reps slots */
    double *steps[6] = {&out->cmux_us,     &out->input_us,   &out->forward_us,
                        &out->products_us, &out->inverse_us, &out->untwist_us};
    for (int j = 0; j < 6; j++) {
        for (int r = 0; r < reps; r++) t[r] = t[reps + 6 * r + j];
        qsort(t, (size_t)reps, sizeof *t, cmp_double);
        *steps[j] = t[reps / 2];
    }
    free(t);
    free(ggsw);
    scratch_free(&s);
    return CML_OK;
}

static cml_status check_pbs_args(const cml_server_key *sk, const cml_lut *lut) {
    if (lut->params.polynomial_size != sk->params.polynomial_size)
        return cml_error(CML_ERR_MISMATCH, "lookup table built for N = %u, server key has N = %u",
                         lut->params.polynomial_size, sk->params.polynomial_size);
    if (lut->in_bits > sk->params.precision)
        return cml_error(CML_ERR_MISMATCH, "%u-bit lookup table, server key parameters read %u bits",
                         lut->in_bits, sk->params.precision);
    return CML_OK;
}

cml_status cml_pbs(cml_context *ctx, const cml_server_key *sk, const cml_lut *lut, uint64_t *out,
                   const uint64_t *in) {
    if (sk && sk->params.lwe_dimension == 0)
        return cml_error(CML_ERR_ARG, "cml_pbs: %s", CML_NO_BOOTSTRAP_MSG);
    const cml_lut *luts[1] = {lut};
    return cml_pbs_batch(ctx, sk, luts, 1, out, in, 1);
}

typedef struct batch_job {
    const cml_server_key *sk; /* keyswitch, ciphertext sizes */
    const cml_server_key *bk; /* bootstrap: sk or its light key */
    const cml_fft *fft;
    const cml_lut *const *luts;
    size_t lut_count;
    uint64_t *out;
    const uint64_t *in;
    size_t count, group;  /* task t bootstraps [t*group, min((t+1)*group, count)) */
    pbs_scratch *scratch; /* one per worker */
} batch_job;

static void batch_task(void *arg, size_t t, unsigned worker) {
    batch_job *job = arg;
    const cml_params *bp = &job->bk->params;
    const size_t sz = cml_lwe_size(&job->sk->params), n1 = bp->lwe_dimension + 1;
    const size_t acc_words = (size_t)(bp->glwe_dimension + 1) * bp->polynomial_size;
    pbs_scratch *s = &job->scratch[worker];
    size_t first = t * job->group, count = job->count - first;
    if (count > job->group) count = job->group;
    const cml_lut *luts[CML_PBS_GROUP_MAX];
    /* every input of the group is read before any output is written, so
     * in-place batches (out == in) are safe */
    cml_keyswitch_group(job->sk, s->small, n1, job->in + first * sz, sz, count);
    for (size_t g = 0; g < count; g++) luts[g] = job->luts[job->lut_count == 1 ? 0 : first + g];
    blind_rotate(job->bk, job->fft, luts, count, s);
    for (size_t g = 0; g < count; g++)
        sample_extract(bp, s->acc + g * acc_words, job->out + (first + g) * sz, sz - 1);
}

/* Group size: enough ciphertexts per pass over the bootstrap key to make
 * its streaming cheap, while the group's accumulators stay within about
 * 1 MB of cache. With several workers, two groups each when that leaves
 * groups of SPLIT_MIN or more: a worker whose core runs slower for a while
 * (a shared VM's often do) leaves its second group to the others instead
 * of making them wait; smaller groups stream the key too often for that to
 * pay (docs/runtime.md). */
enum { SPLIT_MIN = 4 };
static size_t group_size(const cml_params *p, size_t count, unsigned workers) {
    size_t acc_bytes = (size_t)(p->glwe_dimension + 1) * p->polynomial_size * 8;
    size_t g = (count + workers - 1) / workers, half = (g + 1) / 2;
    if (workers > 1 && half >= SPLIT_MIN) g = half;
    size_t cache_cap = ((size_t)1 << 20) / acc_bytes;
    if (g > cache_cap) g = cache_cap;
    if (g > CML_PBS_GROUP_MAX) g = CML_PBS_GROUP_MAX;
    return g ? g : 1;
}

cml_status cml_pbs_batch(cml_context *ctx, const cml_server_key *sk, const cml_lut *const *luts,
                         size_t lut_count, uint64_t *out, const uint64_t *in, size_t count) {
    return cml_pbs_batch_on(ctx, sk, sk, luts, lut_count, out, in, count);
}

cml_status cml_pbs_batch_on(cml_context *ctx, const cml_server_key *sk, const cml_server_key *bk,
                            const cml_lut *const *luts, size_t lut_count, uint64_t *out,
                            const uint64_t *in, size_t count) {
    if (!ctx || !sk || !bk || !luts || !out || (!in && count))
        return cml_error(CML_ERR_ARG, "cml_pbs_batch: NULL argument");
    if (sk->params.lwe_dimension == 0)
        return cml_error(CML_ERR_ARG, "cml_pbs_batch: %s", CML_NO_BOOTSTRAP_MSG);
    if (lut_count != 1 && lut_count != count)
        return cml_error(CML_ERR_ARG, "cml_pbs_batch: %zu tables for %zu ciphertexts (need 1 or %zu)",
                         lut_count, count, count);
    for (size_t i = 0; i < lut_count; i++) {
        if (!luts[i]) return cml_error(CML_ERR_ARG, "cml_pbs_batch: table %zu is NULL", i);
        cml_status st = check_pbs_args(bk, luts[i]);
        if (st) return st;
    }
    if (count == 0) return CML_OK;
    const cml_fft *fft;
    cml_status st = cml_context_fft(ctx, bk->params.polynomial_size, &fft);
    if (st) return st;
    const unsigned threads = cml_context_threads(ctx);
    const size_t group = group_size(&bk->params, count, threads);
    const size_t tasks = (count + group - 1) / group;
    /* parallel_for hands out worker indices up to threads-1, whatever tasks is */
    unsigned workers = tasks == 1 ? 1 : threads;
    pbs_scratch *scratch = calloc(workers, sizeof *scratch);
    if (!scratch) return cml_error(CML_ERR_NOMEM, "out of memory allocating bootstrap scratch");
    for (unsigned w = 0; w < workers && !st; w++)
        st = scratch_alloc(&bk->params, fft, (uint32_t)group, &scratch[w]);
    if (!st) {
        batch_job job = {sk, bk, fft, luts, lut_count, out, in, count, group, scratch};
        if (workers == 1) {
            for (size_t t = 0; t < tasks; t++) batch_task(&job, t, 0);
        } else {
            cml_context_parallel_for(ctx, tasks, batch_task, &job);
        }
    }
    for (unsigned w = 0; w < workers; w++) scratch_free(&scratch[w]);
    free(scratch);
    return st;
}
