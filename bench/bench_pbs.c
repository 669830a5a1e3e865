/* bench_pbs.c — `cml bench pbs`: parameters, key generation, key sizes,
 * keyswitch and bootstrap latency, batch throughput, and the FFT floor of
 * one blind rotation, per precision. One figure a line, `name value unit`,
 * names fixed so scripts can read them (see docs/runtime.md).
 *
 * pbs.pP is the bootstrap alone (modulus switch, blind rotation, sample
 * extraction: what the FFT floor bounds); ks.pP the keyswitch before it;
 * pbs_batch.* counts whole KS+PBS per second. fft_floor.pP times exactly the
 * FFTW transforms and pointwise products one blind rotation needs.
 * memory.read_bw is this machine's one-core read bandwidth, and
 * key_stream.pP the time reading the keys once takes at it: what a single
 * KS+PBS cannot go below however well the streaming overlaps.
 * pbs_in_cache.pP is the blind rotation's arithmetic alone: its CMuxes on
 * one GGSW that stays in cache, like the floor's key; set beside pbs.pP it
 * splits the bootstrap's excess over the floor into arithmetic (the
 * coefficient passes) and memory. cmux.pP.* times one such CMux step by
 * step (microseconds): input passes, FFTs, products, untwist. */
#include "bench.h"

#include "fft.h"
#include "internal.h"

#include <fftw3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double bench_now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* One blind rotation's FFT work: per CMux, (k+1)*l forward transforms,
 * (k+1)^2*l pointwise multiply-adds (the first row sets, the others add)
 * and (k+1) inverse transforms, on a key that stays in cache (a floor
 * leaves out streaming the key from memory). Two floors: FFTW's
 * (out-of-place FFTW_MEASURE plans on interleaved complex arrays, the
 * issue's definition: what the bootstrap is judged against) and the
 * runtime's own transform's (fft.c, which the bootstrap uses). Values
 * overflow to inf/NaN after a few rounds: harmless, x86 floating point
 * runs at full speed on them (only subnormals are slow, and repeated growth
 * never produces those). */
typedef struct floors {
    const cml_params *p;
    const cml_fft *fft;
    size_t k1, l, h;
    fftw_complex *in, *acc, *key, *tmp; /* FFTW's */
    fftw_plan fwd, bwd;
    double *own_in, *own_acc, *own_key; /* the runtime's */
} floors;

static void floors_free(floors *f) {
    if (f->fwd) fftw_destroy_plan(f->fwd);
    if (f->bwd) fftw_destroy_plan(f->bwd);
    fftw_free(f->in), fftw_free(f->acc), fftw_free(f->key), fftw_free(f->tmp);
    free(f->own_in), free(f->own_acc), free(f->own_key);
}

static int floors_init(floors *f, const cml_params *p, const cml_fft *fft) {
    *f = (floors){.p = p, .fft = fft, .k1 = p->glwe_dimension + 1, .l = p->pbs_level,
                  .h = p->polynomial_size / 2};
    const size_t k1 = f->k1, l = f->l, h = f->h;
    f->in = fftw_malloc(k1 * l * h * sizeof *f->in);
    f->acc = fftw_malloc(k1 * h * sizeof *f->acc);
    f->key = fftw_malloc(k1 * l * k1 * h * sizeof *f->key);
    f->tmp = fftw_malloc(h * sizeof *f->tmp);
    f->own_in = cml_fft_alloc(fft, k1 * l);
    f->own_acc = cml_fft_alloc(fft, k1);
    f->own_key = cml_fft_alloc(fft, k1 * l * k1);
    if (!f->in || !f->acc || !f->key || !f->tmp || !f->own_in || !f->own_acc || !f->own_key) {
        floors_free(f);
        return 0;
    }
    f->fwd = fftw_plan_dft_1d((int)h, f->in, f->tmp, FFTW_FORWARD, FFTW_MEASURE);
    f->bwd = fftw_plan_dft_1d((int)h, f->acc, f->tmp, FFTW_BACKWARD, FFTW_MEASURE);
    for (size_t i = 0; i < k1 * l * h; i++) f->in[i][0] = (double)(i % 7), f->in[i][1] = 1.0;
    for (size_t i = 0; i < k1 * l * k1 * h; i++) f->key[i][0] = 0.5, f->key[i][1] = (double)(i % 3);
    for (size_t i = 0; i < 2 * k1 * l * h; i++) f->own_in[i] = (double)(i % 7);
    for (size_t i = 0; i < 2 * k1 * l * k1 * h; i++) f->own_key[i] = (double)(i % 3) + 0.5;
    return 1;
}

/* One rotation's floor work on FFTW, in ms. */
static double floor_fftw_once(floors *f) {
    const size_t k1 = f->k1, l = f->l, h = f->h;
    double t0 = bench_now_ms();
    for (uint32_t i = 0; i < f->p->lwe_dimension; i++) {
        for (size_t row = 0; row < k1 * l; row++) {
            fftw_execute_dft(f->fwd, f->in + row * h, f->tmp);
            const double keep = row ? 1.0 : 0.0;
            for (size_t o = 0; o < k1; o++) {
                fftw_complex *restrict out = f->acc + o * h, *restrict a = f->tmp;
                const fftw_complex *restrict b = f->key + (row * k1 + o) * h;
                for (size_t j = 0; j < h; j++) {
                    double re = a[j][0] * b[j][0] - a[j][1] * b[j][1];
                    double im = a[j][0] * b[j][1] + a[j][1] * b[j][0];
                    out[j][0] = keep * out[j][0] + re, out[j][1] = keep * out[j][1] + im;
                }
            }
        }
        for (size_t o = 0; o < k1; o++) fftw_execute_dft(f->bwd, f->acc + o * h, f->tmp);
    }
    return bench_now_ms() - t0;
}

/* The same on the runtime's transform, in ms. */
static double floor_own_once(floors *f) {
    const size_t k1 = f->k1, l = f->l, N = 2 * f->h;
    double t0 = bench_now_ms();
    for (uint32_t i = 0; i < f->p->lwe_dimension; i++) {
        for (size_t row = 0; row < k1 * l; row++) {
            cml_fft_forward(f->fft, f->own_in + row * N, NULL);
            for (size_t o = 0; o < k1; o++)
                (row ? cml_fft_mac : cml_fft_mul)(f->fft, f->own_acc + o * N, f->own_in + row * N,
                                                  f->own_key + (row * k1 + o) * N);
        }
        for (size_t o = 0; o < k1; o++) cml_fft_backward(f->fft, f->own_acc + o * N, NULL);
    }
    return bench_now_ms() - t0;
}

/* One core's read bandwidth in GB/s: the best of 3 passes summing 256 MB,
 * allocated like the keys. */
static double read_bandwidth_gbs(void) {
    const size_t bytes = (size_t)256 << 20, n = bytes / sizeof(uint64_t);
    uint64_t *a = cml_key_alloc(bytes);
    if (!a) return 0;
    for (size_t i = 0; i < n; i++) a[i] = i;
    double best = 1e300;
    volatile uint64_t sink = 0;
    for (int r = 0; r < 3; r++) {
        uint64_t s[8] = {0};
        double t0 = bench_now_ms();
        for (size_t i = 0; i < n; i += 8)
            for (int j = 0; j < 8; j++) s[j] += a[i + j];
        double t = bench_now_ms() - t0;
        if (t < best) best = t;
        for (int j = 0; j < 8; j++) sink += s[j];
    }
    free(a);
    return (double)bytes / (best * 1e-3) / 1e9;
}

/* One batch of bootstraps timed on one thread (ctx1) and on all (ctx),
 * alternately, BATCH_RUNS times each: medians in t1 and tall. Alternating
 * keeps a change in the machine's load (it is shared) from landing on one
 * of the two only. 11 runs: with 5, this VM's 2-thread speedup at 2 bits
 * was 1.23 in one whole run and 1.64 in the next, on the same build. */
enum { BATCH_RUNS = 11 };
static void batch_ms(cml_context *ctx1, cml_context *ctx, const cml_server_key *sk,
                     const cml_lut *lut, uint64_t *out, const uint64_t *in, size_t count,
                     double *t1, double *tall) {
    const cml_lut *luts[1] = {lut};
    double t[2][BATCH_RUNS];
    for (int r = 0; r < BATCH_RUNS; r++)
        for (int which = 0; which < 2; which++) {
            double t0 = bench_now_ms();
            cml_pbs_batch(which ? ctx : ctx1, sk, luts, 1, out, in, count);
            t[which][r] = bench_now_ms() - t0;
        }
    *t1 = bench_median(t[0], BATCH_RUNS);
    *tall = bench_median(t[1], BATCH_RUNS);
}

static int bench_one(cml_context *ctx, cml_context *ctx1, uint32_t prec, double p_error, int reps,
                     double bw_gbs) {
    cml_params p;
    if (cml_params_select(prec, 1.0, p_error, &p)) {
        fprintf(stderr, "cml bench pbs: %s\n", cml_last_error());
        return 1;
    }
    printf("params.p%u.n %u count\n", prec, p.lwe_dimension);
    printf("params.p%u.k %u count\n", prec, p.glwe_dimension);
    printf("params.p%u.N %u count\n", prec, p.polynomial_size);
    printf("params.p%u.pbs_base_log %u bits\n", prec, p.pbs_base_log);
    printf("params.p%u.pbs_level %u count\n", prec, p.pbs_level);
    printf("params.p%u.ks_base_log %u bits\n", prec, p.ks_base_log);
    printf("params.p%u.ks_level %u count\n", prec, p.ks_level);
    printf("params.p%u.log2_p_error %.2f log2\n", prec, p.log2_p_error);
    fflush(stdout);

    cml_client_key *ck = NULL;
    cml_server_key *sk = NULL;
    cml_lut *lut = NULL;
    cml_ct *ct = NULL;
    int rc = 1;
    double t0 = bench_now_ms();
    if (cml_client_key_create(&p, &ck) || cml_server_key_create(ctx, ck, &sk)) goto out;
    printf("keygen.p%u %.1f ms\n", prec, bench_now_ms() - t0);
    printf("bsk.p%u %.2f MB\n", prec, (double)cml_server_key_bsk_bytes(sk) / 1e6);
    printf("ksk.p%u %.2f MB\n", prec, (double)cml_server_key_ksk_bytes(sk) / 1e6);
    if (bw_gbs > 0)
        printf("key_stream.p%u %.3f ms\n", prec,
               (double)(cml_server_key_bsk_bytes(sk) + cml_server_key_ksk_bytes(sk)) / (bw_gbs * 1e6));
    fflush(stdout);

    size_t M = (size_t)1 << prec, sz = cml_lwe_size(&p);
    int64_t *table = malloc(M * sizeof *table), *msg = malloc(M * sizeof *msg);
    for (size_t i = 0; i < M; i++) table[i] = (int64_t)((i * 7 + 3) % M), msg[i] = (int64_t)i;
    if (cml_lut_create(&p, prec, 0, prec, table, &lut) || cml_encrypt(ck, msg, M, prec, &ct)) goto out;

    const cml_fft *fft;
    if (cml_context_fft(ctx1, p.polynomial_size, &fft)) goto out;
    uint32_t *small = malloc((p.lwe_dimension + 1) * sizeof *small);
    uint64_t *res = malloc(sz * sizeof *res);
    double *t = malloc((size_t)reps * 4 * sizeof *t);
    floors fl;
    if (!small || !res || !t || !floors_init(&fl, &p, fft)) {
        free(small), free(res), free(t);
        goto out;
    }
    /* the keyswitch, KS+PBS and both floors in turn, reps times: each
     * figure's median comes from the same stretch of time, so a change in
     * this shared machine's load does not land on one of them only */
    double *t_ks = t, *t_kspbs = t + reps, *t_fftw = t + 2 * reps, *t_own = t + 3 * reps;
    for (int r = 0; r < reps; r++) {
        const uint64_t *in = cml_ct_data(ct) + (size_t)r % M * sz;
        t0 = bench_now_ms();
        cml_keyswitch_raw(sk, small, in);
        t_ks[r] = bench_now_ms() - t0;
        t0 = bench_now_ms();
        cml_pbs(ctx1, sk, lut, res, in);
        t_kspbs[r] = bench_now_ms() - t0;
        t_fftw[r] = floor_fftw_once(&fl);
        t_own[r] = floor_own_once(&fl);
    }
    floors_free(&fl);
    double ks = bench_median(t_ks, reps), kspbs = bench_median(t_kspbs, reps);
    double floor_ms = bench_median(t_fftw, reps), own_floor_ms = bench_median(t_own, reps);
    printf("ks.p%u %.3f ms\n", prec, ks);
    printf("pbs.p%u %.3f ms\n", prec, kspbs - ks);
    printf("ks_pbs.p%u %.3f ms\n", prec, kspbs);
    printf("fft_floor.p%u %.3f ms\n", prec, floor_ms);
    printf("fft_floor_cml.p%u %.3f ms\n", prec, own_floor_ms);
    fflush(stdout);

    /* batch throughput: per thread, a group large enough to amortise streaming
     * the keys (16 bootstraps up to 5 bits; fewer above, where one bootstrap
     * takes 0.1-1 s), timed as in batch_ms */
    size_t per_thread = prec <= 5 ? 16 : prec == 6 ? 8 : 2;
    size_t batch = per_thread * cml_context_threads(ctx);
    uint64_t *bin = malloc(batch * sz * sizeof *bin), *bout = malloc(batch * sz * sizeof *bout);
    for (size_t i = 0; i < batch; i++) memcpy(bin + i * sz, cml_ct_data(ct) + (i % M) * sz, sz * 8);
    double t1, tall;
    batch_ms(ctx1, ctx, sk, lut, bout, bin, batch, &t1, &tall);
    printf("pbs_batch.p%u.t1 %.2f pbs/s\n", prec, (double)batch / t1 * 1e3);
    printf("pbs_batch.p%u.tall %.2f pbs/s\n", prec, (double)batch / tall * 1e3);
    printf("pbs_batch.p%u.speedup %.2f ratio\n", prec, t1 / tall);
    /* per bootstrap (keyswitch included) in a one-thread batch, where the
     * keys' memory traffic is shared by the lockstep group */
    printf("pbs_batch.p%u.t1_each %.3f ms\n", prec, t1 / (double)batch);
    printf("pbs_batch.p%u.size %zu count\n", prec, batch);
    printf("pbs_batch.p%u.threads %u count\n", prec, cml_context_threads(ctx));

    cml_rotation_timing rt;
    const cml_status in_cache_st = cml_rotation_in_cache(ctx1, &p, reps < 5 ? reps : 5, &rt);
    if (!in_cache_st) {
        printf("pbs_in_cache.p%u %.3f ms\n", prec, rt.rotation_ms);
        printf("pbs_in_cache_over_floor.p%u %.3f ratio\n", prec, rt.rotation_ms / floor_ms);
        const struct {
            const char *name;
            double us;
        } steps[] = {{"total", rt.cmux_us},         {"input", rt.input_us},
                     {"forward_fft", rt.forward_us}, {"products", rt.products_us},
                     {"inverse_fft", rt.inverse_us}, {"untwist", rt.untwist_us}};
        for (size_t i = 0; i < sizeof steps / sizeof *steps; i++)
            printf("cmux.p%u.%s %.3f us\n", prec, steps[i].name, steps[i].us);
    }
    printf("pbs_over_floor.p%u %.3f ratio\n", prec, (kspbs - ks) / floor_ms);
    printf("pbs_over_cml_floor.p%u %.3f ratio\n", prec, (kspbs - ks) / own_floor_ms);
    printf("pbs_batch_over_floor.p%u %.3f ratio\n", prec, t1 / (double)batch / floor_ms);
    fflush(stdout);
    free(small);
    free(res);
    free(t);
    free(bin);
    free(bout);
    free(table);
    free(msg);
    rc = in_cache_st ? 1 : 0;
out:
    if (rc) fprintf(stderr, "cml bench pbs: %s\n", cml_last_error());
    cml_ct_destroy(ct);
    cml_lut_destroy(lut);
    cml_server_key_destroy(sk);
    cml_client_key_destroy(ck);
    return rc;
}

static void usage(FILE *f) {
    fputs("usage: cml bench pbs [--precision P] [--p-error E] [--runs R]\n"
          "  Benchmarks keygen, keyswitch and programmable bootstrapping for each\n"
          "  precision 1..8 (or only P), with parameters chosen for failure\n"
          "  probability E per bootstrap (default 2^-40). R: timed runs (default 20).\n"
          "  Prints `name value unit` lines; CML_THREADS sets the thread count.\n",
          f);
}

int cml_bench_pbs(int argc, char **argv) {
    uint32_t lo = 1, hi = 8;
    double p_error = ldexp(1.0, -40);
    int reps = 20;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        char *end = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--precision") && i + 1 < argc) {
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > (long)CML_PRECISION_MAX) {
                fprintf(stderr, "cml bench pbs: --precision takes 1..%u, not '%s'\n", CML_PRECISION_MAX, argv[i]);
                return 2;
            }
            lo = hi = (uint32_t)v;
        } else if (!strcmp(a, "--p-error") && i + 1 < argc) {
            p_error = strtod(argv[++i], &end);
            if (*end || !(p_error > 0 && p_error < 1)) {
                fprintf(stderr, "cml bench pbs: --p-error takes a probability in (0, 1), not '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--runs") && i + 1 < argc) {
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 100000) {
                fprintf(stderr, "cml bench pbs: --runs takes 1..100000, not '%s'\n", argv[i]);
                return 2;
            }
            reps = (int)v;
        } else {
            fprintf(stderr, "cml bench pbs: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    cml_context *ctx = NULL, *ctx1 = NULL;
    if (cml_context_create(0, &ctx) || cml_context_create(1, &ctx1)) {
        fprintf(stderr, "cml bench pbs: %s\n", cml_last_error());
        cml_context_destroy(ctx);
        return 1;
    }
    const double bw = read_bandwidth_gbs();
    printf("memory.read_bw %.1f GB/s\n", bw);
    int rc = 0;
    for (uint32_t p = lo; p <= hi && !rc; p++) rc = bench_one(ctx, ctx1, p, p_error, reps, bw);
    cml_context_destroy(ctx);
    cml_context_destroy(ctx1);
    return rc;
}
