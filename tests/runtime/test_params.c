/* test_params.c — the parameter-selection suite: security curve, noise and
 * cost model against hand-computed values, the optimiser against an
 * exhaustive search, Concrete's published table and a tfhe-rs set.
 *
 * Why it exists: a wrong formula or a search shortcut that skips a cheaper
 * set would silently give slower (or, worse, failing) circuits; nothing
 * else in the tree would notice. Reference numbers were computed
 * independently (mpmath, 60 digits) from the formulas in docs/params.md.
 */
#include "cml_test.h"
#include "internal.h"

#include <cml/tfhe.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- helpers -------------------------------------------------------------- */

static int close_rel(double got, double want, double rel) {
    return fabs(got - want) <= rel * fabs(want);
}

#define ASSERT_REL(got, want, rel)                                                       \
    do {                                                                                 \
        double g_ = (got), w_ = (want);                                                  \
        if (!close_rel(g_, w_, rel))                                                     \
            printf("\n    %s = %.17g, want %.17g (rel %.2g)", #got, g_, w_,              \
                   fabs(g_ - w_) / fabs(w_));                                            \
        CU_ASSERT(close_rel(g_, w_, rel));                                               \
    } while (0)

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* log2 of a power of two */
static unsigned ilog2(uint32_t x) { return (unsigned)__builtin_ctz(x); }

/* The cost model, written out again from docs/params.md. */
static double test_cmux_cost(uint32_t k, uint32_t N, uint32_t l) {
    double k1 = k + 1.0, fft = (double)N * ilog2(N) + N;
    return k1 * l * fft + k1 * fft + k1 * k1 * l * (double)N;
}

static double test_cost(uint32_t k, uint32_t N, uint32_t n, uint32_t lp, uint32_t lks) {
    return n * test_cmux_cost(k, N, lp) + (double)k * N * lks * (n + 1.0);
}

/* Concrete's optimiser prices the keyswitch as decompositions plus
 * multiplications plus additions (computing_cost/operators/keyswitch_lwe.rs),
 * about twice our count; its CMux count is ours. */
static double concrete_cost(uint32_t k, uint32_t N, uint32_t n, uint32_t lp, uint32_t lks) {
    double digits = (double)k * N * lks;
    return n * test_cmux_cost(k, N, lp) + digits + digits * (n + 1.0) +
           (digits - 1.0) * (n + 1.0) + 1.0;
}

typedef double (*cost_fn)(uint32_t k, uint32_t N, uint32_t n, uint32_t lp, uint32_t lks);

/* Variance bound of a correct PBS: (2^-(p+2) / kappa)^2 with
 * kappa = sqrt(2) erfc^-1(p_error), by plain bisection on libm's erfc (fine
 * down to 1e-300, which is all these tests ask). */
static double test_budget(uint32_t precision, double p_error) {
    double lo = 0.0, hi = 40.0;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (erfc(mid) > p_error)
            lo = mid;
        else
            hi = mid;
    }
    double kappa = sqrt(2.0) * 0.5 * (lo + hi);
    double b = ldexp(1.0, -(int)precision - 2) / kappa;
    return b * b;
}

static cml_params make_set(uint32_t precision, uint32_t k, uint32_t N, uint32_t n) {
    cml_params p;
    memset(&p, 0, sizeof p);
    p.precision = precision;
    p.glwe_dimension = k;
    p.polynomial_size = N;
    p.lwe_dimension = n;
    p.pbs_base_log = 1;
    p.pbs_level = 1;
    p.ks_base_log = 1;
    p.ks_level = 1;
    p.lwe_noise_std = cml_secure_noise_std(n);
    p.glwe_noise_std = cml_secure_noise_std(k * N);
    p.norm2 = 1.0;
    return p;
}

/* tfhe-rs V1_0_PARAM_MESSAGE_2_CARRY_2_KS_PBS_GAUSSIAN_2M64: 2 message +
 * 2 carry bits = 4 bits of precision, p_fail 2^-64.014 at 2-norm 5. */
static cml_params tfhe_rs_2_2(void) {
    cml_params p = make_set(4, 1, 2048, 833);
    p.pbs_base_log = 23;
    p.pbs_level = 1;
    p.ks_base_log = 3;
    p.ks_level = 5;
    p.lwe_noise_std = 3.6158408373309336e-06;
    p.glwe_noise_std = 2.845267479601915e-15;
    return p;
}

/* Cheapest decomposition for a fixed (k, N, n) by brute force over every
 * (base_log, level) pair with base_log * level <= 53 for both the bootstrap
 * and the keyswitch, using only the public noise functions. Returns the
 * cost (INFINITY if nothing feasible costs less than cap) and the choice.
 * Feasible: norm2 V_pbs + V_ks + V_ms <= budget. */
typedef struct choice {
    uint32_t bp, lp, bks, lks;
} choice;

/* Feasibility of a PBS of variance vp and a keyswitch of variance vks for
 * every need j: norm2_j vp + fresh_j v_fresh + vks + v_ms <= budget_j. */
typedef struct test_needs {
    size_t count;
    const cml_pbs_need *needs;
    const double *budgets;
} test_needs;

static int fits(const test_needs *t, double vp, double vks, double v_fresh, double v_ms) {
    for (size_t j = 0; j < t->count; j++)
        if (t->needs[j].norm2 * vp + t->needs[j].norm2_fresh * v_fresh +
                (t->needs[j].decrypt ? 0 : vks + v_ms) >
            t->budgets[j])
            return 0;
    return 1;
}

static double cheapest_at_needs(cost_fn cost, uint32_t precision, uint32_t k, uint32_t N,
                                uint32_t n, const test_needs *t, double cap, choice *out) {
    cml_params s = make_set(precision, k, N, n);
    double v_ms = cml_noise_modswitch(&s), v_fresh = cml_noise_fresh_glwe(&s);
    double ks_min[54];
    uint32_t ks_arg[54];
    for (uint32_t l = 0; l < 54; l++) ks_min[l] = -1.0;
    double best = INFINITY;
    for (uint32_t lp = 1; lp <= 53; lp++) {
        double c1 = cost(k, N, n, lp, 1);
        if (c1 >= cap || c1 >= best) break;
        double vp = INFINITY;
        uint32_t bp_arg = 0;
        for (uint32_t b = 1; b * lp <= 53; b++) {
            s.pbs_base_log = b;
            s.pbs_level = lp;
            double v = cml_noise_pbs(&s);
            if (v < vp) {
                vp = v;
                bp_arg = b;
            }
        }
        for (uint32_t lks = 1; lks <= 53; lks++) {
            double c = cost(k, N, n, lp, lks);
            if (c >= cap || c >= best) break;
            if (ks_min[lks] < 0) {
                ks_min[lks] = INFINITY;
                for (uint32_t b = 1; b * lks <= 53; b++) {
                    s.ks_base_log = b;
                    s.ks_level = lks;
                    double v = cml_noise_keyswitch(&s);
                    if (v < ks_min[lks]) {
                        ks_min[lks] = v;
                        ks_arg[lks] = b;
                    }
                }
            }
            if (fits(t, vp, ks_min[lks], v_fresh, v_ms)) {
                best = c;
                if (out) *out = (choice){bp_arg, lp, ks_arg[lks], lks};
                break; /* more keyswitch levels only cost more */
            }
        }
    }
    return best;
}

static double cheapest_at(cost_fn cost, uint32_t precision, uint32_t k, uint32_t N, uint32_t n,
                          double norm2, double budget, double cap, choice *out) {
    cml_pbs_need need = {precision, norm2, 0.0, 0};
    test_needs t = {1, &need, &budget};
    return cheapest_at_needs(cost, precision, k, N, n, &t, cap, out);
}

/* Every set of the search space (k 1..6, N 2^max(8,p)..2^17, n 450..2048,
 * all decompositions) that `cost` prices below `limit` is infeasible.
 * Returns how many (k, N, n) could hold such a set (the others cost more
 * even with one level in each decomposition). */
static long assert_nothing_cheaper_needs(cost_fn cost, uint32_t precision, const test_needs *t,
                                         double limit) {
    double cap = limit * (1.0 - 1e-12);
    long examined = 0, cheaper = 0;
    for (uint32_t k = 1; k <= 6; k++) {
        for (uint32_t logN = 8; logN <= 17; logN++) {
            if (logN < precision) continue;
            uint32_t N = 1u << logN;
            for (uint32_t n = 450; n <= 2048; n++) {
                if (cost(k, N, n, 1, 1) >= cap) break; /* grows with n */
                examined++;
                choice c;
                double found = cheapest_at_needs(cost, precision, k, N, n, t, cap, &c);
                if (found < cap) {
                    if (cheaper++ < 5)
                        printf("\n    cheaper: k=%u N=%u n=%u pbs %u/%u ks %u/%u cost %.6g < %.6g",
                               k, N, n, c.bp, c.lp, c.bks, c.lks, found, limit);
                }
            }
        }
    }
    CU_ASSERT_EQUAL(cheaper, 0);
    return examined;
}

static long assert_nothing_cheaper(cost_fn cost, uint32_t precision, double norm2,
                                   double p_error, double limit) {
    double budget = test_budget(precision, p_error) * (1.0 - 1e-9);
    cml_pbs_need need = {precision, norm2, 0.0, 0};
    test_needs t = {1, &need, &budget};
    return assert_nothing_cheaper_needs(cost, precision, &t, limit);
}

static void print_set(const char *tag, const cml_params *p) {
    printf("\n    %s p=%u k=%u N=2^%u n=%u pbs %u/%u ks %u/%u log2_p_error %.2f cost %.4g", tag,
           p->precision, p->glwe_dimension, ilog2(p->polynomial_size), p->lwe_dimension,
           p->pbs_base_log, p->pbs_level, p->ks_base_log, p->ks_level, p->log2_p_error, p->cost);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_security_curve(void) {
    /* 2^(-0.025696778711484593 n + 2.675931372549016), floored at 2^-62 */
    ASSERT_REL(cml_secure_noise_std(450), 0.0021113492418376591, 1e-13);
    ASSERT_REL(cml_secure_noise_std(833), 2.3007165847727875e-6, 1e-13);
    ASSERT_REL(cml_secure_noise_std(1024), 7.6627101276785404e-8, 1e-13);
    ASSERT_REL(cml_secure_noise_std(2048), 9.1881734381393614e-16, 1e-13);
    ASSERT_REL(cml_secure_noise_std(2516), 2.2030006753552603e-19, 1e-13);
    /* the floor: 4 / 2^64 from n = 2517 on */
    CU_ASSERT_EQUAL(cml_secure_noise_std(2517), ldexp(1.0, -62));
    CU_ASSERT_EQUAL(cml_secure_noise_std(4096), ldexp(1.0, -62));
    CU_ASSERT_EQUAL(cml_secure_noise_std(1u << 20), ldexp(1.0, -62));
    for (uint32_t n = 100; n < 3000; n++)
        CU_ASSERT(cml_secure_noise_std(n + 1) <= cml_secure_noise_std(n));
}

static void test_noise_formulas_body(void);
static void test_noise_formulas(void) {
    /* these reproduce Concrete's numbers: use its FFT error constant */
    cml_noise_set_fft_weight_log2(CML_FFT_WEIGHT_LOG2_CONCRETE);
    test_noise_formulas_body();
    cml_noise_set_fft_weight_log2(NAN);
}
static void test_noise_formulas_body(void) {
    /* The tfhe-rs 2+2 set, values from the formulas at 60 digits. */
    cml_params p = tfhe_rs_2_2();
    ASSERT_REL(cml_noise_fresh_lwe_small(&p), 3.6158408373309336e-06 * 3.6158408373309336e-06,
               1e-15);
    ASSERT_REL(cml_noise_fresh_glwe(&p), 2.845267479601915e-15 * 2.845267479601915e-15, 1e-15);
    ASSERT_REL(cml_noise_external_product(&p), 2.0205513606464361e-12, 1e-12);
    ASSERT_REL(cml_noise_pbs(&p), 1.6831192834184813e-9, 1e-12);
    ASSERT_REL(cml_noise_pbs(&p), 833 * cml_noise_external_product(&p), 1e-15);
    /* Concrete's keyswitch variance plus our key's rounding to the 32-bit
     * torus: kN * l (B^2+2)/12 * (1 + n/2) * 2^-64/12 */
    double ks32 = 2048.0 * 5 * (64.0 + 2) / 12 * (1 + 833 / 2.0) * ldexp(1, -64) / 12;
    ASSERT_REL(cml_noise_keyswitch(&p), 8.1581771509897582e-7 + ks32, 1e-12);
    ASSERT_REL(cml_noise_modswitch(&p), 2.0737449328104655e-6, 1e-12);
    ASSERT_REL(cml_noise_modswitch_centered(&p), 1.039355993270874e-6, 1e-12);
    /* Concrete's figure; the 32-bit keyswitch term moves it by ~4e-8 relative */
    ASSERT_REL(cml_params_log2_p_error(&p, 1.0), -64.453834153717066, 1e-6);

    /* Decomposition extremes stay finite and positive: 53 bits for the
     * bootstrap, 32 for the keyswitch (its key is on the 32-bit torus). */
    p.pbs_base_log = 53;
    p.pbs_level = 1;
    p.ks_base_log = 8;
    p.ks_level = 4;
    CU_ASSERT(isfinite(cml_noise_external_product(&p)) && cml_noise_external_product(&p) > 0);
    CU_ASSERT(isfinite(cml_noise_keyswitch(&p)) && cml_noise_keyswitch(&p) > 0);
    CU_ASSERT(isnan(cml_noise_pbs(NULL)));
    CU_ASSERT(isnan(cml_params_log2_p_error(NULL, 1.0)));

    /* validate fills the cost (97251328 for this set by the formula). */
    p = tfhe_rs_2_2();
    CU_ASSERT_EQUAL(cml_params_validate(&p), CML_OK);
    CU_ASSERT_EQUAL(p.cost, 97251328.0);
    CU_ASSERT_EQUAL(p.cost, test_cost(1, 2048, 833, 1, 5));
}

static void test_p_error_tails(void) {
    cml_params p = tfhe_rs_2_2();
    /* More input noise, more failures; the norm2 is the multiplier of V_pbs. */
    double a = cml_params_log2_p_error(&p, 1.0), b = cml_params_log2_p_error(&p, 256.0);
    CU_ASSERT(b > a);
    double v = 256.0 * cml_noise_pbs(&p) + cml_noise_keyswitch(&p) + cml_noise_modswitch(&p);
    ASSERT_REL(b, log2(erfc(ldexp(1.0, -6) / sqrt(2.0 * v))), 1e-12);

    /* Probabilities far below the double range: erfc(x) underflows past
     * x ~ 27, the model must not. Precision 1 at N = 2^17 with big k: the
     * modulus switch is tiny and x is large. Compare with the leading terms
     * of the asymptotic series, computed here. */
    cml_params q = make_set(1, 1, 1u << 17, 2048);
    q.pbs_base_log = 20;
    q.pbs_level = 2;
    q.ks_base_log = 4;
    q.ks_level = 10;
    double vq = cml_noise_pbs(&q) + cml_noise_keyswitch(&q) + cml_noise_modswitch(&q);
    double x = ldexp(1.0, -3) / sqrt(2.0 * vq);
    double want = (-x * x - log(x * sqrt(acos(-1.0))) + log1p(-1.0 / (2 * x * x))) / log(2.0);
    double got = cml_params_log2_p_error(&q, 1.0);
    printf("\n    x = %.1f: log2 p_error %.6g (libm erfc gives %g)", x, got, erfc(x));
    CU_ASSERT(x > 30.0);
    CU_ASSERT(isfinite(got));
    ASSERT_REL(got, want, 1e-6);

    /* select honours probabilities below 1e-300 too */
    cml_params r;
    CU_ASSERT_EQUAL_FATAL(cml_params_select(1, 1.0, 1e-300, &r), CML_OK);
    print_set("p_error 1e-300:", &r);
    CU_ASSERT(r.log2_p_error <= log2(1e-300) + 1e-9);
}

/* Concrete's optimiser table (p_error 6.3e-5, i.e. kappa = 4, norm2 = 1):
 * (k, log2 N, n) for p = 1..8. */
static void test_concrete_cross_check_body(void);
static void test_concrete_cross_check(void) {
    /* these reproduce Concrete's numbers: use its FFT error constant */
    cml_noise_set_fft_weight_log2(CML_FFT_WEIGHT_LOG2_CONCRETE);
    test_concrete_cross_check_body();
    cml_noise_set_fft_weight_log2(NAN);
}
static void test_concrete_cross_check_body(void) {
    static const uint32_t table[8][3] = {{5, 8, 592},  {5, 8, 700},  {3, 9, 722},
                                         {2, 10, 801}, {1, 11, 783}, {1, 12, 880},
                                         {1, 13, 915}, {1, 14, 1006}};
    const double p_error = 1.0 - 0.999936657516; /* Concrete's P_ERROR_4_SIGMA */
    /* p = 7, 8 take ~1 s each below: left out of reduced runs */
    uint32_t pmax = cml_test_samples(4) < 4 ? 6 : 8;
    for (uint32_t p = 1; p <= 8; p++) {
        cml_params r;
        CU_ASSERT_EQUAL_FATAL(cml_params_select(p, 1.0, p_error, &r), CML_OK);
        uint32_t k = table[p - 1][0], N = 1u << table[p - 1][1], n = table[p - 1][2];
        double budget = test_budget(p, p_error);
        /* Concrete's set priced in our model, with its best decomposition */
        choice c = {0, 0, 0, 0};
        double theirs = cheapest_at(test_cost, p, k, N, n, 1.0, budget, INFINITY, &c);
        printf("\n    p=%u ours (k=%u, 2^%u, n=%4u) cost %.4g | Concrete (k=%u, 2^%u, n=%4u) "
               "in our model %.4g (pbs %u/%u ks %u/%u) | n %+.1f%%, cost %+.1f%%",
               p, r.glwe_dimension, ilog2(r.polynomial_size), r.lwe_dimension, r.cost, k,
               table[p - 1][1], n, theirs, c.bp, c.lp, c.bks, c.lks,
               100.0 * ((double)r.lwe_dimension - n) / n, 100.0 * (r.cost - theirs) / theirs);
        /* Same GLWE, small key within 10%, never dearer in our model. */
        CU_ASSERT_EQUAL(r.glwe_dimension, k);
        CU_ASSERT_EQUAL(r.polynomial_size, N);
        CU_ASSERT(fabs((double)r.lwe_dimension - n) <= 0.10 * n);
        CU_ASSERT(isfinite(theirs));
        CU_ASSERT(r.cost <= theirs);
        /* The n differ only through the keyswitch's price: with Concrete's
         * count our noise model makes their set the exact optimum, i.e. it
         * is feasible and nothing in the space is cheaper. */
        if (p > pmax) continue;
        double at_their_price = cheapest_at(concrete_cost, p, k, N, n, 1.0, budget * (1 + 1e-9),
                                            INFINITY, NULL);
        CU_ASSERT(isfinite(at_their_price));
        long examined = assert_nothing_cheaper(concrete_cost, p, 1.0, p_error, at_their_price);
        printf(" | optimal at Concrete's keyswitch price (%ld (k,N,n) checked)", examined);
    }
}

static void test_tfhe_rs_set_body(void);
static void test_tfhe_rs_set(void) {
    /* these reproduce Concrete's numbers: use its FFT error constant */
    cml_noise_set_fft_weight_log2(CML_FFT_WEIGHT_LOG2_CONCRETE);
    test_tfhe_rs_set_body();
    cml_noise_set_fft_weight_log2(NAN);
}
static void test_tfhe_rs_set_body(void) {
    cml_params p = tfhe_rs_2_2();
    /* Its stds sit above our curve (2^-18.08 vs 2^-18.73 at n = 833;
     * 2^-48.32 vs 2^-49.95 at kN = 2048), so it validates as given. */
    CU_ASSERT(p.lwe_noise_std >= cml_secure_noise_std(833));
    CU_ASSERT(p.glwe_noise_std >= cml_secure_noise_std(2048));
    p.norm2 = 25.0;
    CU_ASSERT_EQUAL(cml_params_validate(&p), CML_OK);
    /* tfhe-rs states 2^-64.014 for it at 2-norm 5; our model should agree
     * to within a bit. */
    printf("\n    tfhe-rs 2_2 as given, norm2 25: log2 p_error %.2f (tfhe-rs: -64.01), "
           "norm2 1: %.2f; cost %.4g",
           p.log2_p_error, cml_params_log2_p_error(&p, 1.0), p.cost);
    CU_ASSERT(fabs(p.log2_p_error - -64.014) < 1.0);

    /* With our minimal stds it only gets quieter. */
    cml_params q = p;
    q.lwe_noise_std = cml_secure_noise_std(833);
    q.glwe_noise_std = cml_secure_noise_std(2048);
    CU_ASSERT_EQUAL(cml_params_validate(&q), CML_OK);
    printf("\n    with our minimal stds: log2 p_error %.2f", q.log2_p_error);
    CU_ASSERT(q.log2_p_error <= p.log2_p_error);

    /* Our choice for the same request is no dearer. */
    cml_params r;
    CU_ASSERT_EQUAL_FATAL(cml_params_select(4, 25.0, ldexp(1.0, -64), &r), CML_OK);
    print_set("ours for 4 bits, norm2 25, 2^-64:", &r);
    CU_ASSERT(r.cost <= p.cost);
}

static void test_select_is_optimal(void) {
    /* The whole search space, every decomposition: nothing feasible is
     * cheaper than the selection. Norm2 1024 at 1 bit needs a two-level
     * bootstrap. The last case takes ~1 s and is left out of reduced
     * (sanitizer) runs. */
    static const struct {
        uint32_t p;
        double norm2, log2_pe;
    } cases[] = {{1, 1.0, -40},    {2, 1.0, -40},  {3, 1.0, -64},   {4, 1.0, -40},
                 {1, 1024.0, -40}, {2, 16.0, -40}, {3, 4.0, -128},  {5, 1.0, -40},
                 {7, 1.0, -40}};
    size_t ncases = sizeof cases / sizeof cases[0];
    if (cml_test_samples(4) < 4) ncases--;
    for (size_t i = 0; i < ncases; i++) {
        double pe = exp2(cases[i].log2_pe);
        cml_params r;
        CU_ASSERT_EQUAL_FATAL(cml_params_select(cases[i].p, cases[i].norm2, pe, &r), CML_OK);
        /* The selection itself is feasible at the cost it claims. */
        choice c;
        double budget = test_budget(r.precision, pe);
        double own = cheapest_at(test_cost, r.precision, r.glwe_dimension, r.polynomial_size,
                                 r.lwe_dimension, r.norm2, budget * (1 + 1e-9), INFINITY, &c);
        CU_ASSERT_EQUAL(own, r.cost);
        CU_ASSERT_EQUAL(r.cost, test_cost(r.glwe_dimension, r.polynomial_size, r.lwe_dimension,
                                          r.pbs_level, r.ks_level));
        CU_ASSERT(r.log2_p_error <= cases[i].log2_pe + 1e-9);
        double t0 = now_seconds();
        long examined = assert_nothing_cheaper(test_cost, r.precision, r.norm2, pe, r.cost);
        char tag[128];
        snprintf(tag, sizeof tag, "norm2 %g 2^%g: %ld (k,N,n) below its cost, %.2f s;",
                 cases[i].norm2, cases[i].log2_pe, examined, now_seconds() - t0);
        print_set(tag, &r);
    }
}

/* Several needs at once (cml_params_select_needs): a wide lookup with
 * little noise and a narrow one with much (a rounding's lifted input), and
 * a need on fresh inputs only. The set meets every need, nothing in the
 * space meeting them all is cheaper, and it costs no more than the one set
 * for the widest precision with the largest norm2 (what a single request
 * would have to ask). */
static void test_select_needs(void) {
    static const struct {
        cml_pbs_need needs[3];
        size_t count;
    } cases[] = {
        {{{4, 1.0, 0.0, 0}, {2, 4096.0, 0.0, 0}}, 2},
        {{{3, 2.0, 0.0, 0}, {1, 64.0, 1e6, 0}}, 2},
        {{{2, 0.0, 1e8, 0}}, 1},
        {{{4, 1.0, 0.0, 0}, {9, 64.0, 0.0, 1}, {2, 0.0, 1e8, 0}}, 3},
    };
    double pe = exp2(-40);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const cml_pbs_need *nd = cases[i].needs;
        size_t count = cases[i].count;
        cml_params r;
        CU_ASSERT_EQUAL_FATAL(cml_params_select_needs(nd, count, pe, &r), CML_OK);
        double budgets[3], margin[3];
        uint32_t widest = 0;
        double top = 0;
        for (size_t j = 0; j < count; j++) {
            budgets[j] = test_budget(nd[j].precision, pe);
            margin[j] = budgets[j] * (1 + 1e-9);
            if (!nd[j].decrypt && nd[j].precision > widest) widest = nd[j].precision;
            if (!nd[j].decrypt) top = fmax(top, nd[j].norm2 + nd[j].norm2_fresh);
        }
        CU_ASSERT_EQUAL(r.precision, widest);
        double vp = cml_noise_pbs(&r), vks = cml_noise_keyswitch(&r);
        test_needs t = {count, nd, margin};
        CU_ASSERT(fits(&t, vp, vks, cml_noise_fresh_glwe(&r), cml_noise_modswitch(&r)));
        CU_ASSERT(r.log2_p_error <= -40 + 1e-9);
        if (count < 3)
            CU_ASSERT_DOUBLE_EQUAL(r.log2_p_error, cml_params_log2_p_error_needs(&r, nd, count),
                                   1e-12);
        CU_ASSERT(cml_params_log2_p_error_needs(&r, nd, count) <= -40 + 1e-9);
        for (size_t j = 0; j < count; j++) budgets[j] *= 1.0 - 1e-9;
        t.budgets = budgets;
        long examined = assert_nothing_cheaper_needs(test_cost, widest, &t, r.cost);
        cml_params one;
        CU_ASSERT_EQUAL_FATAL(cml_params_select(widest, fmax(1.0, top), pe, &one), CML_OK);
        if (count < 3) CU_ASSERT(r.cost <= one.cost); /* a decryption need can ask more */
        char tag[96];
        snprintf(tag, sizeof tag, "%zu needs: %ld (k,N,n) below its cost; one request %.4g;",
                 count, examined, one.cost);
        print_set(tag, &r);
    }
    cml_pbs_need bad[2] = {{4, 1.0, 0.0, 0}, {0, 1.0, 0.0, 0}};
    cml_params r;
    CU_ASSERT_EQUAL(cml_params_select_needs(bad, 2, pe, &r), CML_ERR_ARG);
    bad[1] = (cml_pbs_need){2, 0.5, 0.25, 0};
    CU_ASSERT_EQUAL(cml_params_select_needs(bad, 2, pe, &r), CML_ERR_ARG);
    CU_ASSERT_EQUAL(cml_params_select_needs(bad, 0, pe, &r), CML_ERR_ARG);
}

static void test_select_fields_and_validate(void) {
    for (uint32_t p = 1; p <= CML_PRECISION_MAX; p++) {
        cml_params r;
        cml_status s = cml_params_select(p, 1.0, ldexp(1.0, -40), &r);
        CU_ASSERT_EQUAL_FATAL(s, CML_OK);
        CU_ASSERT_EQUAL(r.precision, p);
        CU_ASSERT_EQUAL(r.norm2, 1.0);
        CU_ASSERT(r.polynomial_size >= 1u << p);
        CU_ASSERT(r.lwe_dimension >= 450 && r.lwe_dimension <= 2048);
        CU_ASSERT(r.pbs_base_log * r.pbs_level <= 53);
        CU_ASSERT(r.ks_base_log * r.ks_level <= 53);
        CU_ASSERT_EQUAL(r.lwe_noise_std, cml_secure_noise_std(r.lwe_dimension));
        CU_ASSERT_EQUAL(r.glwe_noise_std,
                        cml_secure_noise_std(r.glwe_dimension * r.polynomial_size));
        CU_ASSERT(r.log2_p_error <= -40.0 + 1e-9);
        /* validate recomputes the same derived fields */
        cml_params v = r;
        v.log2_p_error = 0;
        v.cost = 0;
        CU_ASSERT_EQUAL(cml_params_validate(&v), CML_OK);
        CU_ASSERT_EQUAL(v.cost, r.cost);
        ASSERT_REL(v.log2_p_error, r.log2_p_error, 1e-12);
        CU_ASSERT_EQUAL(cml_params_fingerprint(&v), cml_params_fingerprint(&r));
    }
}

static void test_select_monotone(void) {
    static const double log2_pes[] = {-20, -40, -64, -128};
    for (size_t e = 0; e < sizeof log2_pes / sizeof log2_pes[0]; e++) {
        double pe = exp2(log2_pes[e]), prev = 0.0;
        for (uint32_t p = 1; p <= CML_PRECISION_MAX; p++) {
            cml_params r;
            cml_status s = cml_params_select(p, 1.0, pe, &r);
            if (s == CML_ERR_INFEASIBLE) {
                /* then every higher precision is infeasible as well */
                for (uint32_t q = p + 1; q <= CML_PRECISION_MAX; q++)
                    CU_ASSERT_EQUAL(cml_params_select(q, 1.0, pe, &r), CML_ERR_INFEASIBLE);
                break;
            }
            CU_ASSERT_EQUAL_FATAL(s, CML_OK);
            CU_ASSERT(r.cost >= prev);
            prev = r.cost;
        }
    }
    /* More norm2, or a smaller p_error, is never cheaper. */
    for (uint32_t p = 1; p <= 8; p++) {
        double prev = 0.0;
        for (double norm2 = 1.0; norm2 <= 1024.0; norm2 *= 4.0) {
            cml_params r;
            if (cml_params_select(p, norm2, ldexp(1.0, -40), &r) != CML_OK) break;
            CU_ASSERT(r.cost >= prev);
            prev = r.cost;
        }
        prev = 0.0;
        for (int lp = -10; lp >= -200; lp -= 10) {
            cml_params r;
            if (cml_params_select(p, 1.0, exp2(lp), &r) != CML_OK) break;
            CU_ASSERT(r.cost >= prev);
            prev = r.cost;
        }
    }
}

static void test_select_infeasible(void) {
    cml_params r;
    memset(&r, 0xab, sizeof r);
    cml_params before = r;
    cml_status s = cml_params_select(10, ldexp(1.0, 40), ldexp(1.0, -40), &r);
    CU_ASSERT_EQUAL(s, CML_ERR_INFEASIBLE);
    printf("\n    %s: %s", cml_status_name(s), cml_last_error());
    CU_ASSERT_PTR_NOT_NULL(strstr(cml_last_error(), "10-bit"));
    CU_ASSERT(memcmp(&r, &before, sizeof r) == 0); /* untouched on failure */
}

static void test_select_bad_args(void) {
    cml_params r;
    CU_ASSERT_EQUAL(cml_params_select(4, 1.0, 1e-12, NULL), CML_ERR_ARG);
    CU_ASSERT_EQUAL(cml_params_select(0, 1.0, 1e-12, &r), CML_ERR_ARG);
    CU_ASSERT_EQUAL(cml_params_select(CML_PRECISION_MAX + 1, 1.0, 1e-12, &r), CML_ERR_ARG);
    CU_ASSERT_EQUAL(cml_params_select(4, 0.5, 1e-12, &r), CML_ERR_ARG);
    CU_ASSERT_EQUAL(cml_params_select(4, NAN, 1e-12, &r), CML_ERR_ARG);
    CU_ASSERT_EQUAL(cml_params_select(4, INFINITY, 1e-12, &r), CML_ERR_ARG);
    CU_ASSERT_EQUAL(cml_params_select(4, 1.0, 0.0, &r), CML_ERR_ARG);
    CU_ASSERT_EQUAL(cml_params_select(4, 1.0, -1e-12, &r), CML_ERR_ARG);
    CU_ASSERT_EQUAL(cml_params_select(4, 1.0, 1.0, &r), CML_ERR_ARG);
    CU_ASSERT_EQUAL(cml_params_select(4, 1.0, NAN, &r), CML_ERR_ARG);
    CU_ASSERT(strlen(cml_last_error()) > 0);
}

static void test_validate_rejects(void) {
    CU_ASSERT_EQUAL(cml_params_validate(NULL), CML_ERR_ARG);
    const cml_params good = tfhe_rs_2_2();
    cml_params p;
#define EXPECT(field_change, status)                                                     \
    do {                                                                                 \
        p = good;                                                                        \
        field_change;                                                                    \
        CU_ASSERT_EQUAL(cml_params_validate(&p), status);                                \
    } while (0)
    EXPECT((void)0, CML_OK);
    EXPECT(p.glwe_dimension = 0, CML_ERR_ARG);
    EXPECT(p.glwe_dimension = 7, CML_ERR_ARG);
    EXPECT(p.polynomial_size = 3000, CML_ERR_ARG);
    EXPECT(p.polynomial_size = 128, CML_ERR_ARG);
    EXPECT(p.polynomial_size = 1u << 18, CML_ERR_ARG);
    EXPECT(p.lwe_dimension = 4097, CML_ERR_ARG);
    /* the small key lives on the 32-bit torus: its noise is floored at 4/2^32 */
    EXPECT((p.lwe_dimension = 4096, p.lwe_noise_std = cml_secure_noise_std(4096)), CML_ERR_INSECURE);
    EXPECT((p.lwe_dimension = 4096, p.lwe_noise_std = ldexp(1, -30)), CML_OK);
    EXPECT(p.precision = 0, CML_ERR_ARG);
    EXPECT(p.precision = 11, CML_ERR_ARG);
    EXPECT((p.precision = 9, p.polynomial_size = 256), CML_ERR_ARG); /* N < 2^p */
    EXPECT(p.pbs_level = 0, CML_ERR_ARG);
    EXPECT(p.pbs_base_log = 0, CML_ERR_ARG);
    EXPECT((p.pbs_base_log = 27, p.pbs_level = 2), CML_ERR_ARG); /* 54 bits */
    EXPECT((p.pbs_base_log = 53, p.pbs_level = 1), CML_OK);
    EXPECT((p.ks_base_log = 11, p.ks_level = 3), CML_ERR_ARG); /* 33 bits */
    EXPECT((p.ks_base_log = 8, p.ks_level = 4), CML_OK);       /* 32 bits */
    EXPECT(p.ks_level = 0, CML_ERR_ARG);
    EXPECT(p.lwe_noise_std = NAN, CML_ERR_ARG);
    EXPECT(p.glwe_noise_std = INFINITY, CML_ERR_ARG);
    EXPECT(p.lwe_noise_std = 0.0, CML_ERR_ARG);
    EXPECT(p.norm2 = NAN, CML_ERR_ARG);
    EXPECT(p.norm2 = 0.0, CML_OK); /* treated as 1 */
#undef EXPECT
    p = good;
    p.norm2 = 0.0;
    cml_params one = good;
    CU_ASSERT_EQUAL(cml_params_validate(&p), CML_OK);
    CU_ASSERT_EQUAL(cml_params_validate(&one), CML_OK);
    CU_ASSERT_EQUAL(p.log2_p_error, one.log2_p_error);
}

static void test_validate_insecure(void) {
    cml_params p = tfhe_rs_2_2();
    p.lwe_noise_std = 0.9 * cml_secure_noise_std(833);
    CU_ASSERT_EQUAL(cml_params_validate(&p), CML_ERR_INSECURE);
    printf("\n    %s", cml_last_error());
    CU_ASSERT_PTR_NOT_NULL(strstr(cml_last_error(), "lwe_noise_std"));

    p = tfhe_rs_2_2();
    p.glwe_noise_std = 1e-17;
    CU_ASSERT_EQUAL(cml_params_validate(&p), CML_ERR_INSECURE);
    CU_ASSERT_PTR_NOT_NULL(strstr(cml_last_error(), "glwe_noise_std"));

    /* The glwe std is checked at k*N: the same std is secure for k = 1 but
     * not at N = 512 (kN = 512 needs far more noise). */
    p = tfhe_rs_2_2();
    p.polynomial_size = 512;
    p.precision = 4;
    CU_ASSERT_EQUAL(cml_params_validate(&p), CML_ERR_INSECURE);

    p = tfhe_rs_2_2();
    p.lwe_dimension = 449;
    p.lwe_noise_std = cml_secure_noise_std(449);
    CU_ASSERT_EQUAL(cml_params_validate(&p), CML_ERR_INSECURE);

    /* exactly on the curve is fine */
    p = tfhe_rs_2_2();
    p.lwe_noise_std = cml_secure_noise_std(833);
    CU_ASSERT_EQUAL(cml_params_validate(&p), CML_OK);
}

static void test_fingerprint(void) {
    cml_params p = tfhe_rs_2_2();
    uint64_t h = cml_params_fingerprint(&p);
    /* FNV-1a of the little-endian fields, computed independently */
    CU_ASSERT_EQUAL(h, UINT64_C(0xae65d66ac8e0b88a));
    printf("\n    fingerprint 0x%016llx", (unsigned long long)h);
    cml_params q = p;
    q.norm2 = 77;
    q.log2_p_error = -3;
    q.cost = 1;
    CU_ASSERT_EQUAL(cml_params_fingerprint(&q), h);
    uint32_t *ints[] = {&q.precision,   &q.glwe_dimension, &q.polynomial_size, &q.lwe_dimension,
                        &q.pbs_base_log, &q.pbs_level,      &q.ks_base_log,     &q.ks_level};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        q = p;
        *ints[i] += 1;
        CU_ASSERT_NOT_EQUAL(cml_params_fingerprint(&q), h);
    }
    q = p;
    q.lwe_noise_std = nextafter(q.lwe_noise_std, 1.0);
    CU_ASSERT_NOT_EQUAL(cml_params_fingerprint(&q), h);
    q = p;
    q.glwe_noise_std = nextafter(q.glwe_noise_std, 1.0);
    CU_ASSERT_NOT_EQUAL(cml_params_fingerprint(&q), h);
}

static void test_select_timing(void) {
    double worst = 0.0;
    for (uint32_t p = 1; p <= CML_PRECISION_MAX; p++) {
        cml_params r;
        double t0 = now_seconds();
        cml_status s = cml_params_select(p, 1.0, ldexp(1.0, -40), &r);
        double dt = now_seconds() - t0;
        CU_ASSERT_EQUAL(s, CML_OK);
        if (dt > worst) worst = dt;
        char tag[32];
        snprintf(tag, sizeof tag, "%.2f ms", dt * 1e3);
        print_set(tag, &r);
    }
    printf("\n    slowest selection %.2f ms (budget 50 ms)", worst * 1e3);
}

CU_TestInfo cml_tests_params[] = {
    {"security curve", test_security_curve},
    {"noise formulas (hand-computed)", test_noise_formulas},
    {"p_error tails in log space", test_p_error_tails},
    {"Concrete optimiser cross-check", test_concrete_cross_check},
    {"tfhe-rs 2_2 set", test_tfhe_rs_set},
    {"select = exhaustive optimum", test_select_is_optimal},
    {"select over several needs", test_select_needs},
    {"select fields, validate round trip", test_select_fields_and_validate},
    {"select monotone", test_select_monotone},
    {"select infeasible", test_select_infeasible},
    {"select bad arguments", test_select_bad_args},
    {"validate rejects", test_validate_rejects},
    {"validate insecure", test_validate_insecure},
    {"fingerprint", test_fingerprint},
    {"select timing", test_select_timing},
    CU_TEST_INFO_NULL,
};
