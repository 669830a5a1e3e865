/* params.c — parameter selection: the security curve, the noise and cost
 * models of the KS->PBS atomic pattern, and the optimiser that picks the
 * cheapest secure set for a precision, a 2-norm and a failure probability.
 *
 * Why it exists: every key, ciphertext and compiled model is made for one
 * cml_params, and the compiler asks here for that set. The formulas are
 * Concrete's (concrete-optimizer / concrete-npe, after Chillotti-Joye-Paillier
 * 2021) so our sets can be checked against theirs; docs/params.md derives
 * them, explains why the search below returns the true optimum of the cost
 * model, and tabulates the sets it picks.
 *
 * Variances are on the unit torus throughout; q = 2^64 appears only as
 * powers of two built with ldexp, so nothing overflows or cancels.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- constants of the model ---------------------------------------------- */

#define LOG2_Q 64           /* ciphertext modulus q = 2^64 */
#define FFT_MANTISSA 53     /* bits a double keeps through the FFT */
/* The FFT error term is c * 2^(2(64-53)) * l B^2 N^2 (k+1) / q^2. Its
 * constant depends on the FFT implementation: Concrete fitted 2^-2.577 for
 * its own; measured on this runtime's FFTW transform (test_noise, and the
 * fit in docs/params.md) it is 2^-4.1 .. 2^-4.6 for N = 2^10 .. 2^14. We use
 * 2^-3.5, keeping a factor >= 1.5 of margin over every measurement. Tests
 * that reproduce Concrete's own numbers switch to Concrete's constant with
 * cml_noise_set_fft_weight_log2(). */
#define FFT_WEIGHT_LOG2_CML (-3.5)

static _Thread_local double fft_weight_override = NAN;

void cml_noise_set_fft_weight_log2(double log2_weight) { fft_weight_override = log2_weight; }

static double fft_weight_log2(void) {
    return isnan(fft_weight_override) ? FFT_WEIGHT_LOG2_CML : fft_weight_override;
}

/* 128-bit security curve for binary secrets (tfhe-rs / Concrete, lattice
 * estimator fit): log2(sigma) = SLOPE * dim + INTERCEPT. Below a sigma of
 * 4/2^64 the noise would vanish into the rounding of the 64-bit torus, so
 * the curve is floored there. */
#define SEC_SLOPE (-0.025696778711484593)
#define SEC_INTERCEPT 2.675931372549016
#define SEC_FLOOR_LOG2 (-62.0)
#define SEC_MIN_DIM 450u /* the fit is not trusted below this dimension */

/* The search space (Concrete's optimiser uses the same ranges). */
#define K_MIN 1u
#define K_MAX 6u
#define LOGN_MIN 8u
#define LOGN_MAX 17u
#define N_SEARCH_MIN SEC_MIN_DIM
#define N_SEARCH_MAX 2048u
#define N_VALID_MAX 4096u       /* hand-made sets may use a larger small key */
#define LINEAR_PRECISION_MAX 62u /* without bootstrap: any width cml_encode takes */
#define PBS_DECOMP_BITS 53u     /* beyond 53 bits the FFT rounding dominates */
/* the keyswitch key lives on the 32-bit torus: a level below 2^-32 would
 * multiply rows that rounded to zero */
#define KS_DECOMP_BITS_SEARCH 32u
#define KS_DECOMP_BITS_MAX 32u

/* A decimal round trip of a std printed with 13+ significant digits must
 * still validate; 1e-12 relative is far below anything security can see. */
#define STD_SLACK 1e-12

static const double LN2 = 0.69314718055994530942;
static const double SQRT2 = 1.41421356237309504880;
static const double SQRTPI = 1.77245385090551602730;

/* ---- security ------------------------------------------------------------- */

static double secure_log2_std(double dim) {
    double l = SEC_SLOPE * dim + SEC_INTERCEPT;
    return l < SEC_FLOOR_LOG2 ? SEC_FLOOR_LOG2 : l;
}

double cml_secure_noise_std(uint32_t dim) { return exp2(secure_log2_std((double)dim)); }

/* The small key's ciphertexts (keyswitch key and output) live on the 32-bit
 * torus (internal.h), so their noise has the same floor relative to 2^32 that
 * the curve has relative to 2^64: 4/2^32. It binds only for n above ~1270,
 * beyond every set the search picks for p <= 10, but keeps hand-made and
 * searched sets from hiding the key's noise in the 32-bit rounding. */
#define SMALL_KEY_FLOOR_LOG2 (-30.0)

static double secure_small_key_std(uint32_t n) {
    double l = secure_log2_std((double)n);
    return exp2(l < SMALL_KEY_FLOOR_LOG2 ? SMALL_KEY_FLOOR_LOG2 : l);
}

/* ---- noise model (raw arguments, shared by the API and the search) -------- */

/* 2^(2e). The noise functions also see unvalidated sets: clamping keeps
 * absurd exponents from overflowing an int (the result is inf/0 either way). */
static double exp4(int64_t e) {
    if (e > 1100) e = 1100;
    if (e < -1100) e = -1100;
    return ldexp(1.0, (int)(2 * e));
}

/* (q^2 - B^2l) / (12 B^2l q^2): variance of the rounding left by a
 * base-2^b, l-level decomposition, written as (B^-2l - q^-2)/12 so that
 * neither q^2 nor B^2l is formed. */
static double decomp_round_var(uint32_t base_log, uint32_t level) {
    int64_t bits = (int64_t)base_log * level;
    return (exp4(-bits) - exp4(-LOG2_Q)) / 12.0;
}

/* One CMux / external product with a binary GGSW, on top of its input.
 * The (1 - kN/2)^2/16 tail is concrete-npe's (the mean of a binary key
 * coefficient is 1/2); it is ~2^-106 and never matters. */
static double var_external_product(uint32_t k, uint32_t N, uint32_t base_log,
                                   uint32_t level, double v_bsk) {
    double kN = (double)k * N, k1 = k + 1.0, l = level;
    double B2 = exp4(base_log);
    double q2inv = exp4(-LOG2_Q);
    double key = l * k1 * N * (B2 + 2.0) / 12.0 * v_bsk;
    double rounding = decomp_round_var(base_log, level) / 2.0 * (1.0 + kN / 2.0);
    double mean = 1.0 - kN / 2.0;
    double tail = (kN / 32.0 + mean * mean / 16.0) * q2inv;
    double fft = exp2(fft_weight_log2() + 2.0 * (LOG2_Q - FFT_MANTISSA) - 2.0 * LOG2_Q) *
                 l * B2 * (double)N * N * k1;
    return key + rounding + tail + fft;
}

/* Keyswitch noise per input coefficient, c0 + c1 * v_ksk: the total is
 * n_in times this, so the best decomposition does not depend on n_in. */
static double ks_c0(uint32_t base_log, uint32_t level) {
    return decomp_round_var(base_log, level) / 2.0 + exp4(-LOG2_Q) / 16.0;
}

static double ks_c1(uint32_t base_log, uint32_t level) {
    return level * (exp4(base_log) + 2.0) / 12.0;
}

/* Variance of one keyswitch key row's error as the keyswitch sees it: the
 * encryption noise plus the rounding of each of its n+1 words to the 32-bit
 * torus the key is stored on (uniform, 2^-64/12 each; the mask words weigh
 * in through the binary key, of mean square 1/2). See internal.h. */
static double ksk_row_var(double n, double std) {
    return std * std + (1.0 + n / 2.0) * exp4(-32) / 12.0;
}

static double var_keyswitch_per_input(uint32_t base_log, uint32_t level, double v_ksk) {
    return ks_c0(base_log, level) + ks_c1(base_log, level) * v_ksk;
}

/* Rounding an n-dimensional LWE ciphertext from q to w = 2N. Centred
 * rounding corrects the body by half the summed rounding errors of the mask,
 * which halves the key-dependent terms. */
static double var_modswitch(double n, uint32_t N, bool centered) {
    double w2 = 4.0 * (double)N * N;
    double q2inv = exp4(-LOG2_Q);
    if (centered) return (1.0 / 12.0 + n / 48.0) / w2 + (n / 96.0 - 1.0 / 12.0) * q2inv;
    return (1.0 / 12.0 + n / 24.0) / w2 + (n / 48.0 - 1.0 / 12.0) * q2inv;
}

/* ---- cost model ------------------------------------------------------------- */

/* One CMux: (k+1)l forward FFTs of the decomposed accumulator, (k+1)
 * inverse FFTs, (k+1)^2 l pointwise products. An FFT of size N counts
 * N log2 N + N. */
static double cost_cmux(uint32_t k, uint32_t N, uint32_t level) {
    double k1 = k + 1.0, Nd = N;
    double fft = Nd * log2(Nd) + Nd;
    return k1 * level * fft + k1 * fft + k1 * k1 * level * Nd;
}

static double cost_total(uint32_t k, uint32_t N, uint32_t n, uint32_t pbs_level,
                         uint32_t ks_level) {
    double pbs = (double)n * cost_cmux(k, N, pbs_level);
    double ks = (double)k * N * ks_level * (n + 1.0);
    return pbs + ks;
}

/* ---- failure probability ---------------------------------------------------- */

/* log(erfc(x)) for x >= 0, valid far below the double range of erfc: past
 * x = 20 the asymptotic series (relative error < 1e-11 there) takes over. */
static double log_erfc(double x) {
    if (x < 20.0) return log(erfc(x));
    double t = 1.0 / (2.0 * x * x);
    double s = 1.0 + t * (-1.0 + t * (3.0 + t * (-15.0 + t * (105.0 + t * -945.0))));
    return -x * x - log(x * SQRTPI) + log(s);
}

/* erfc^-1(p) for p in (0, 1): safeguarded Newton on log(erfc(x)) = log(p),
 * in log space so that p far below 1e-308 still works. */
static double erfc_inv(double p) {
    double target = log(p);
    double lo = 0.0, hi = 40.0; /* log_erfc(40) < log(smallest double) */
    double x = sqrt(-target);   /* log erfc(x) ~ -x^2 */
    if (!(x > lo && x < hi)) x = 0.5 * (lo + hi);
    for (int i = 0; i < 200; i++) {
        double le = log_erfc(x);
        double f = le - target;
        if (f == 0.0) break;
        if (f > 0.0)
            lo = x; /* erfc(x) still too large: the root is further out */
        else
            hi = x;
        double d = -2.0 / SQRTPI * exp(-x * x - le); /* d/dx log erfc(x) */
        double nx = x - f / d;
        if (!(nx > lo && nx < hi)) nx = 0.5 * (lo + hi);
        if (fabs(nx - x) <= 1e-16 * x || hi - lo <= 1e-16 * hi) {
            x = nx;
            break;
        }
        x = nx;
    }
    return x;
}

/* log2 P(|N(0, v)| >= 2^-(p+2)): half a message slot, below the padding. */
static double log2_p_error_of(double variance, uint32_t precision) {
    if (!(variance > 0.0)) return variance == 0.0 ? -INFINITY : NAN;
    int e = precision > 1000 ? 1000 : (int)precision; /* unvalidated sets reach here */
    double x = ldexp(1.0, -e - 2) / (SQRT2 * sqrt(variance));
    return log_erfc(x) / LN2;
}

/* ---- the API's noise functions ------------------------------------------------- */

/* A set without bootstrap (lwe_dimension 0: a linear circuit) has no small
 * key, keyswitch, modulus switch or bootstrap; their noise terms are 0. */
static bool is_linear(const cml_params *p) { return p->lwe_dimension == 0; }

double cml_noise_fresh_glwe(const cml_params *p) {
    if (!p) return NAN;
    return p->glwe_noise_std * p->glwe_noise_std;
}

double cml_noise_fresh_lwe_small(const cml_params *p) {
    if (!p) return NAN;
    return p->lwe_noise_std * p->lwe_noise_std;
}

double cml_noise_external_product(const cml_params *p) {
    if (!p) return NAN;
    if (is_linear(p)) return 0.0;
    return var_external_product(p->glwe_dimension, p->polynomial_size, p->pbs_base_log,
                                p->pbs_level, cml_noise_fresh_glwe(p));
}

double cml_noise_pbs(const cml_params *p) {
    if (!p) return NAN;
    return (double)p->lwe_dimension * cml_noise_external_product(p);
}

double cml_noise_keyswitch(const cml_params *p) {
    if (!p) return NAN;
    if (is_linear(p)) return 0.0;
    return (double)cml_big_dim(p) *
           var_keyswitch_per_input(p->ks_base_log, p->ks_level,
                                   ksk_row_var(p->lwe_dimension, p->lwe_noise_std));
}

double cml_noise_modswitch(const cml_params *p) {
    if (!p) return NAN;
    if (is_linear(p)) return 0.0;
    return var_modswitch(p->lwe_dimension, p->polynomial_size, false);
}

double cml_noise_modswitch_centered(const cml_params *p) {
    if (!p) return NAN;
    if (is_linear(p)) return 0.0;
    return var_modswitch(p->lwe_dimension, p->polynomial_size, true);
}

/* Noise at the blind rotation's input: norm2 PBS outputs summed, then the
 * keyswitch and the (plain) modulus switch. */
static double var_pbs_input(const cml_params *p, double norm2) {
    return norm2 * cml_noise_pbs(p) + cml_noise_keyswitch(p) + cml_noise_modswitch(p);
}

/* For a linear set, there is no PBS: the figure is that of decrypting a
 * `precision`-bit value that is a linear combination of squared 2-norm norm2
 * of fresh ciphertexts (noise norm2 * glwe_noise_std^2). */
double cml_params_log2_p_error(const cml_params *p, double norm2) {
    if (!p) return NAN;
    if (is_linear(p)) return log2_p_error_of(norm2 * cml_noise_fresh_glwe(p), p->precision);
    return log2_p_error_of(var_pbs_input(p, norm2), p->precision);
}

/* ---- validation -------------------------------------------------------------------- */

static bool is_pow2(uint32_t x) { return x != 0 && (x & (x - 1)) == 0; }

static cml_status check_std(const char *field, double std, uint32_t dim, double min) {
    if (!isfinite(std) || !(std > 0.0))
        return cml_error(CML_ERR_ARG, "params: %s = %g is not a positive finite number",
                         field, std);
    if (std < min * (1.0 - STD_SLACK))
        return cml_error(CML_ERR_INSECURE,
                         "params: %s = %.17g (2^%.3f) is below the 128-bit secure minimum "
                         "%.17g (2^%.3f) for dimension %u",
                         field, std, log2(std), min, log2(min), dim);
    return CML_OK;
}

static cml_status check_norm2_and_fill(cml_params *p) {
    if (isnan(p->norm2) || isinf(p->norm2))
        return cml_error(CML_ERR_ARG, "params: norm2 = %g is not a finite number", p->norm2);
    double norm2 = p->norm2 < 1.0 ? 1.0 : p->norm2;
    p->log2_p_error = cml_params_log2_p_error(p, norm2);
    p->cost = is_linear(p) ? 0.0
                           : cost_total(p->glwe_dimension, p->polynomial_size, p->lwe_dimension,
                                        p->pbs_level, p->ks_level);
    return CML_OK;
}

/* A linear set (lwe_dimension 0): only the big key exists, so only the GLWE
 * side is checked. precision is then the widest value decrypted, up to the
 * 62 bits cml_encode allows, not a bootstrap's input width. k and N were
 * checked by the caller. */
static cml_status validate_linear(cml_params *p) {
    if (p->pbs_base_log || p->pbs_level || p->ks_base_log || p->ks_level)
        return cml_error(CML_ERR_ARG,
                         "params: lwe_dimension n = 0 (no bootstrap: a linear circuit) needs "
                         "every decomposition at 0, got bootstrap base_log %u x level %u, "
                         "keyswitch base_log %u x level %u",
                         p->pbs_base_log, p->pbs_level, p->ks_base_log, p->ks_level);
    if (p->lwe_noise_std != 0.0)
        return cml_error(CML_ERR_ARG,
                         "params: lwe_noise_std = %g, must be 0 when lwe_dimension n = 0 (there "
                         "is no small key)",
                         p->lwe_noise_std);
    if (p->precision < 1 || p->precision > LINEAR_PRECISION_MAX)
        return cml_error(CML_ERR_ARG,
                         "params: precision = %u is outside 1..%u (a set without bootstrap)",
                         p->precision, LINEAR_PRECISION_MAX);
    size_t big = cml_big_dim(p);
    if (big < SEC_MIN_DIM)
        return cml_error(CML_ERR_INSECURE,
                         "params: k*N = %zu is below %u, where the security curve ends (the "
                         "only key of a set without bootstrap)",
                         big, SEC_MIN_DIM);
    cml_status s = check_std("glwe_noise_std", p->glwe_noise_std, (uint32_t)big,
                             cml_secure_noise_std((uint32_t)big));
    if (s != CML_OK) return s;
    return check_norm2_and_fill(p);
}

cml_status cml_params_validate(cml_params *p) {
    if (!p) return cml_error(CML_ERR_ARG, "params: NULL parameter set");
    if (p->glwe_dimension < K_MIN || p->glwe_dimension > K_MAX)
        return cml_error(CML_ERR_ARG, "params: glwe_dimension k = %u is outside %u..%u",
                         p->glwe_dimension, K_MIN, K_MAX);
    if (!is_pow2(p->polynomial_size) || p->polynomial_size < (1u << LOGN_MIN) ||
        p->polynomial_size > (1u << LOGN_MAX))
        return cml_error(CML_ERR_ARG,
                         "params: polynomial_size N = %u is not a power of two in 2^%u..2^%u",
                         p->polynomial_size, LOGN_MIN, LOGN_MAX);
    if (is_linear(p)) return validate_linear(p);
    if (p->lwe_dimension > N_VALID_MAX)
        return cml_error(CML_ERR_ARG, "params: lwe_dimension n = %u is above %u",
                         p->lwe_dimension, N_VALID_MAX);
    if (p->lwe_dimension < SEC_MIN_DIM)
        return cml_error(CML_ERR_INSECURE,
                         "params: lwe_dimension n = %u is below %u, where the security "
                         "curve ends",
                         p->lwe_dimension, SEC_MIN_DIM);
    if (p->precision < 1 || p->precision > CML_PRECISION_MAX)
        return cml_error(CML_ERR_ARG, "params: precision = %u is outside 1..%u", p->precision,
                         CML_PRECISION_MAX);
    if (p->polynomial_size < (1u << p->precision))
        return cml_error(CML_ERR_ARG,
                         "params: polynomial_size N = %u is below 2^precision = %u: the test "
                         "polynomial needs a coefficient per message",
                         p->polynomial_size, 1u << p->precision);
    if (p->pbs_base_log < 1 || p->pbs_level < 1 ||
        (uint64_t)p->pbs_base_log * p->pbs_level > PBS_DECOMP_BITS)
        return cml_error(CML_ERR_ARG,
                         "params: bootstrap decomposition base_log %u x level %u must be at "
                         "least 1 x 1 and at most %u bits (FFT precision)",
                         p->pbs_base_log, p->pbs_level, PBS_DECOMP_BITS);
    if (p->ks_base_log < 1 || p->ks_level < 1 ||
        (uint64_t)p->ks_base_log * p->ks_level > KS_DECOMP_BITS_MAX)
        return cml_error(CML_ERR_ARG,
                         "params: keyswitch decomposition base_log %u x level %u must be at "
                         "least 1 x 1 and at most %u bits",
                         p->ks_base_log, p->ks_level, KS_DECOMP_BITS_MAX);
    cml_status s = check_std("lwe_noise_std", p->lwe_noise_std, p->lwe_dimension,
                             secure_small_key_std(p->lwe_dimension));
    if (s != CML_OK) return s;
    s = check_std("glwe_noise_std", p->glwe_noise_std, (uint32_t)cml_big_dim(p),
                  cml_secure_noise_std((uint32_t)cml_big_dim(p)));
    if (s != CML_OK) return s;
    return check_norm2_and_fill(p);
}

/* ---- a light bootstrap key's set ---------------------------------------------- */

cml_status cml_params_light(const cml_params *main, uint32_t k, uint32_t N, uint32_t base_log,
                            uint32_t level, cml_params *out) {
    if (main->lwe_dimension == 0)
        return cml_error(CML_ERR_ARG, "a light bootstrap key: %s", CML_NO_BOOTSTRAP_MSG);
    if (k == main->glwe_dimension && N == main->polynomial_size &&
        base_log == main->pbs_base_log && level == main->pbs_level)
        return cml_error(CML_ERR_ARG, "a light bootstrap key with the main key's shape (k %u, "
                                      "N %u, base 2^%u x %u levels) would only duplicate it",
                         k, N, base_log, level);
    if (k == 0 || N == 0 || (uint64_t)k * N > cml_big_dim(main))
        return cml_error(CML_ERR_ARG, "a light bootstrap key's GLWE key is the start of the "
                                      "main one: k N = %llu must be within 1..%zu",
                         (unsigned long long)k * N, cml_big_dim(main));
    *out = *main;
    out->glwe_dimension = k;
    out->polynomial_size = N;
    out->pbs_base_log = base_log;
    out->pbs_level = level;
    if ((uint64_t)k * N != cml_big_dim(main)) out->glwe_noise_std = cml_secure_noise_std(k * N);
    /* as many bits as its N gives, up to the main set's */
    while (out->precision > 1 && N < (1u << out->precision)) out->precision--;
    if (cml_params_validate(out) != CML_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", cml_last_error());
        return cml_error(CML_ERR_ARG, "a light bootstrap key: %s", msg);
    }
    return CML_OK;
}

double cml_params_cost_pbs(const cml_params *p) {
    if (!p) return NAN;
    if (is_linear(p)) return 0.0;
    return (double)p->lwe_dimension * cost_cmux(p->glwe_dimension, p->polynomial_size, p->pbs_level);
}

/* ---- the search ---------------------------------------------------------------------
 *
 * The cost depends only on (k, N, n, l_pbs, l_ks) and grows with each of
 * them; the noise of the PBS input is
 *     norm2 * n * V_ep(k, N, b_pbs, l_pbs) + k N * V_ks1(n, b_ks, l_ks) + V_ms(n, N)
 * with V_ep independent of n and V_ks1 independent of (k, N). So:
 *  - for a level count, only the base of least variance matters (the base
 *    does not enter the cost);
 *  - a level count whose best variance is not below that of every smaller
 *    level count is dominated (costs more, no less noise): dropping it loses
 *    nothing. What remains is a short "frontier" per (k, N) for the PBS and
 *    per n for the keyswitch, with variance strictly falling as l grows;
 *  - for (k, N, n, l_pbs), the cheapest keyswitch is the first frontier entry
 *    that fits the remaining budget (binary search);
 *  - n is enumerated exhaustively. A (k, N) pair is dropped for every larger
 *    n once the cost with both level counts at 1 (a lower bound rising with
 *    n) reaches the best cost found, or once its quietest bootstrap plus the
 *    modulus switch (both rising with n) fill the budget.
 * Nothing feasible and cheaper is ever skipped, so the result is the exact
 * minimum of the cost model over the space (ties: smallest n, then k, then N).
 * tests/runtime/test_params.c checks this against a brute force.
 */

typedef struct decomp {
    uint32_t base_log, level;
    double var;
} decomp;

/* The keyswitch variance per input is c0 + c1 * v_ksk; the coefficients of
 * every (base_log, level) are tabulated once per search so that the
 * frontier of each n costs a multiply-add per decomposition. */
typedef struct ks_coef {
    uint32_t base_log, level;
    double c0, c1;
} ks_coef;

#define KS_COEFS 256 /* >= sum over l of floor(KS_DECOMP_BITS_SEARCH / l) = 119 */

static uint32_t ks_coef_table(ks_coef *t) {
    uint32_t len = 0;
    for (uint32_t l = 1; l <= KS_DECOMP_BITS_SEARCH; l++) {
        for (uint32_t b = 1; b * l <= KS_DECOMP_BITS_SEARCH; b++) {
            t[len++] = (ks_coef){b, l, ks_c0(b, l), ks_c1(b, l)};
        }
    }
    return len;
}

/* Best base per level count for the keyswitch at key variance v_ksk,
 * dominated level counts dropped (the table is ordered by level). Every
 * decomposition of l levels adds at least l (2^2 + 2)/12 v_ksk = l v_ksk / 2:
 * once that reaches the best variance so far, no larger l can join. */
static uint32_t ks_frontier(const ks_coef *t, uint32_t tlen, double v_ksk, decomp *out) {
    uint32_t len = 0;
    decomp cur = {0, 0, INFINITY};
    for (uint32_t i = 0; i <= tlen; i++) {
        if (i == tlen || t[i].level != cur.level) {
            if (cur.level && (len == 0 || cur.var < out[len - 1].var)) out[len++] = cur;
            if (i == tlen) break;
            if (len > 0 && t[i].level * v_ksk / 2.0 >= out[len - 1].var) break;
            cur = (decomp){0, t[i].level, INFINITY};
        }
        double v = t[i].c0 + t[i].c1 * v_ksk;
        if (v < cur.var) {
            cur.base_log = t[i].base_log;
            cur.var = v;
        }
    }
    return len;
}

/* The same for the bootstrap of one (k, N): its variance does not depend
 * on n. cmux receives the CMux cost of each kept level count. */
static uint32_t pbs_frontier(uint32_t k, uint32_t N, double v_bsk, decomp *out, double *cmux) {
    uint32_t len = 0;
    for (uint32_t l = 1; l <= PBS_DECOMP_BITS; l++) {
        decomp best = {0, l, INFINITY};
        for (uint32_t b = 1; b * l <= PBS_DECOMP_BITS; b++) {
            double v = var_external_product(k, N, b, l, v_bsk);
            if (v < best.var) {
                best.base_log = b;
                best.var = v;
            }
        }
        if (len == 0 || best.var < out[len - 1].var) {
            cmux[len] = cost_cmux(k, N, l);
            out[len++] = best;
        }
    }
    return len;
}

#define N_PAIRS ((K_MAX - K_MIN + 1) * (LOGN_MAX - LOGN_MIN + 1))

typedef struct glwe_choice {
    uint32_t k, N;
    bool alive;
    uint32_t npbs;
    decomp pbs[PBS_DECOMP_BITS];
    double cmux[PBS_DECOMP_BITS]; /* CMux cost of each frontier entry */
    double v_fresh;               /* variance of a fresh big-key encryption */
} glwe_choice;

typedef struct best_set {
    double cost;
    uint32_t k, N, n;
    decomp pbs, ks;
} best_set;

/* First frontier entry with scale * var <= budget, or len if none. The
 * frontier's variances fall strictly, so this is a binary search. */
static uint32_t first_fitting(const decomp *f, uint32_t len, double scale, double budget) {
    uint32_t lo = 0, hi = len;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (scale * f[mid].var <= budget)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* The noise budget a set leaves for the keyswitch, given the bootstrap's
 * variance per CMux `var` (V_pbs = n var), the fresh GLWE variance of its
 * (k, N) and the modulus switch: the tightest need decides. Falls as var
 * rises, so the searches over frontiers below stay binary searches. */
typedef struct need_budget {
    double bound2;       /* (2^-(p+2) / kappa)^2 */
    double norm2, fresh; /* coefficients of V_pbs and of the fresh variance */
    bool decrypt;        /* no keyswitch, no modulus switch: only a yes or no */
} need_budget;

static double ks_room(const need_budget *nb, size_t count, double n, double var, double v_fresh,
                      double v_ms) {
    double room = INFINITY;
    for (size_t j = 0; j < count; j++) {
        double r = nb[j].bound2 - nb[j].norm2 * n * var - nb[j].fresh * v_fresh;
        if (nb[j].decrypt) {
            if (r < 0) return -INFINITY;
        } else if (r < room) {
            room = r;
        }
    }
    return room - v_ms;
}

static cml_status check_needs(const cml_pbs_need *needs, size_t count, double p_error,
                              uint32_t *precision) {
    if (!needs || count == 0)
        return cml_error(CML_ERR_ARG, "params_select: no PBS needs given");
    *precision = 0;
    for (size_t j = 0; j < count; j++) {
        const cml_pbs_need *q = &needs[j];
        uint32_t max = q->decrypt ? 62 : CML_PRECISION_MAX;
        if (q->precision < 1 || q->precision > max)
            return cml_error(CML_ERR_ARG, "params_select: %s precision %u is outside 1..%u",
                             q->decrypt ? "decryption" : "PBS", q->precision, max);
        if (!(q->norm2 >= 0.0) || isinf(q->norm2) || !(q->norm2_fresh >= 0.0) ||
            isinf(q->norm2_fresh) || !(q->norm2 + q->norm2_fresh >= 1.0))
            return cml_error(CML_ERR_ARG, "params_select: norm2 %g + fresh norm2 %g must be "
                             "finite, non-negative and at least 1 in sum", q->norm2,
                             q->norm2_fresh);
        if (!q->decrypt && q->precision > *precision) *precision = q->precision;
    }
    if (*precision == 0) return cml_error(CML_ERR_ARG, "params_select: no PBS need given");
    if (!(p_error > 0.0 && p_error < 1.0))
        return cml_error(CML_ERR_ARG, "params_select: p_error %g must be in (0, 1)", p_error);
    return CML_OK;
}

double cml_params_log2_p_error_needs(const cml_params *p, const cml_pbs_need *needs,
                                     size_t count) {
    if (!p || !needs || !count) return NAN;
    double worst = -INFINITY;
    for (size_t j = 0; j < count; j++) {
        double v = needs[j].norm2_fresh * cml_noise_fresh_glwe(p);
        if (!is_linear(p))
            v += needs[j].decrypt ? needs[j].norm2 * cml_noise_pbs(p)
                                  : var_pbs_input(p, needs[j].norm2);
        double l = log2_p_error_of(v, needs[j].precision);
        if (l > worst) worst = l;
    }
    return worst;
}

cml_status cml_params_select(uint32_t precision, double norm2, double p_error,
                             cml_params *out) {
    if (!(norm2 >= 1.0) || isinf(norm2))
        return cml_error(CML_ERR_ARG, "params_select: norm2 %g must be finite and >= 1", norm2);
    cml_pbs_need need = {precision, norm2, 0.0, 0};
    return cml_params_select_needs(&need, 1, p_error, out);
}

cml_status cml_params_select_needs(const cml_pbs_need *needs, size_t count, double p_error,
                                   cml_params *out) {
    if (!out) return cml_error(CML_ERR_ARG, "params_select: NULL output");
    uint32_t precision = 0;
    cml_status st = check_needs(needs, count, p_error, &precision);
    if (st) return st;
    if (count > 64) return cml_error(CML_ERR_ARG, "params_select: %zu needs (at most 64)", count);
    double kappa = SQRT2 * erfc_inv(p_error);
    need_budget nb[64];
    for (size_t j = 0; j < count; j++) {
        double bound = ldexp(1.0, -(int)needs[j].precision - 2) / kappa;
        nb[j] = (need_budget){bound * bound, needs[j].norm2, needs[j].norm2_fresh,
                              needs[j].decrypt != 0};
    }

    /* The frontiers take ~80 KB: keep them off the stack of whatever thread
     * the compiler calls from. */
    glwe_choice *g = calloc(N_PAIRS, sizeof *g);
    if (!g) return cml_error(CML_ERR_NOMEM, "params_select: out of memory");
    uint32_t ng = 0;
    for (uint32_t k = K_MIN; k <= K_MAX; k++) {
        for (uint32_t logN = LOGN_MIN; logN <= LOGN_MAX; logN++) {
            if (logN < precision) continue; /* a test-polynomial coefficient per message */
            glwe_choice *c = &g[ng++];
            c->k = k;
            c->N = 1u << logN;
            c->alive = true;
            double s = cml_secure_noise_std(k * c->N);
            c->v_fresh = s * s;
            c->npbs = pbs_frontier(k, c->N, s * s, c->pbs, c->cmux);
        }
    }

    best_set best = {.cost = INFINITY};
    ks_coef table[KS_COEFS];
    uint32_t tlen = ks_coef_table(table);
    decomp ks[KS_DECOMP_BITS_SEARCH];
    for (uint32_t n = N_SEARCH_MIN; n <= N_SEARCH_MAX; n++) {
        double v_ksk = ksk_row_var(n, secure_small_key_std(n));
        uint32_t nks = ks_frontier(table, tlen, v_ksk, ks);
        bool any_alive = false;
        for (uint32_t i = 0; i < ng; i++) {
            glwe_choice *c = &g[i];
            if (!c->alive) continue;
            double kN = (double)c->k * c->N;
            double ks_min_cost = kN * ks[0].level * (n + 1.0);
            if ((double)n * c->cmux[0] + ks_min_cost >= best.cost) {
                c->alive = false; /* the bound only grows with n */
                continue;
            }
            double v_ms = var_modswitch(n, c->N, false);
#define ROOM(var) ks_room(nb, count, (double)n, (var), c->v_fresh, v_ms)
            /* Even the quietest bootstrap plus the modulus switch grow with
             * n: once they fill the budget, no larger n can work either. */
            if (ROOM(c->pbs[c->npbs - 1].var) <= 0) {
                c->alive = false;
                continue;
            }
            any_alive = true;
            /* The frontier's variances fall, so the entries leaving room for
             * the quietest keyswitch form a suffix; their costs rise along it. */
            double ks_floor = kN * ks[nks - 1].var;
            if (ROOM(c->pbs[c->npbs - 1].var) < ks_floor) continue;
            uint32_t lo = 0, hi = c->npbs - 1;
            while (lo < hi) {
                uint32_t mid = lo + (hi - lo) / 2;
                if (ROOM(c->pbs[mid].var) >= ks_floor)
                    hi = mid;
                else
                    lo = mid + 1;
            }
            for (uint32_t j = lo; j < c->npbs; j++) {
                double pbs_cost = (double)n * c->cmux[j];
                if (pbs_cost + ks_min_cost >= best.cost) break; /* later levels cost more */
                double rest = ROOM(c->pbs[j].var);
#undef ROOM
                uint32_t m = first_fitting(ks, nks, kN, rest);
                if (m == nks) continue;
                double cost = pbs_cost + kN * ks[m].level * (n + 1.0);
                if (cost < best.cost) {
                    best = (best_set){cost, c->k, c->N, n, c->pbs[j], ks[m]};
                }
            }
        }
        if (!any_alive) break;
    }
    free(g);

    /* the need reported in the set: the widest PBS, the noisiest among those */
    const cml_pbs_need *top = &needs[0]; /* check_needs: at least one PBS need */
    bool have_top = false;
    size_t npbs = 0;
    cml_pbs_need pbs_only[64];
    for (size_t j = 0; j < count; j++) {
        if (needs[j].decrypt) continue;
        pbs_only[npbs++] = needs[j];
        if (!have_top || needs[j].precision > top->precision ||
            (needs[j].precision == top->precision && needs[j].norm2 > top->norm2))
            top = &needs[j];
        have_top = true;
    }
    if (!isfinite(best.cost)) {
        double norm2 = top->norm2 + top->norm2_fresh;
        return cml_error(CML_ERR_INFEASIBLE,
                         "params_select: no secure parameter set for %u-bit precision with "
                         "norm2 %g (2^%.2f)%s at p_error %g (2^%.2f) within k %u..%u, N "
                         "2^%u..2^%u, n %u..%u",
                         precision, norm2, log2(norm2), count > 1 ? " and narrower needs" : "",
                         p_error, log2(p_error), K_MIN, K_MAX,
                         precision > LOGN_MIN ? precision : LOGN_MIN, LOGN_MAX, N_SEARCH_MIN,
                         N_SEARCH_MAX);
    }

    cml_params r = {
        .precision = precision,
        .glwe_dimension = best.k,
        .polynomial_size = best.N,
        .lwe_dimension = best.n,
        .pbs_base_log = best.pbs.base_log,
        .pbs_level = best.pbs.level,
        .ks_base_log = best.ks.base_log,
        .ks_level = best.ks.level,
        .lwe_noise_std = secure_small_key_std(best.n),
        .glwe_noise_std = cml_secure_noise_std(best.k * best.N),
        .cost = best.cost,
    };
    /* the widest need as an equivalent norm2 of PBS outputs, so that
     * cml_params_validate's figure for (precision, norm2) is that need's */
    r.norm2 = fmax(1.0, top->norm2 + top->norm2_fresh * cml_noise_fresh_glwe(&r) /
                                          cml_noise_pbs(&r));
    r.log2_p_error = cml_params_log2_p_error_needs(&r, pbs_only, npbs);
    *out = r;
    return CML_OK;
}

/* ---- fingerprint ------------------------------------------------------------------------ */

/* FNV-1a over a fixed little-endian serialisation of the cryptographic
 * fields: stable across hosts and builds, and blind to the derived fields
 * (norm2, log2_p_error, cost) so re-validating a set keeps its keys valid. */
static uint64_t fnv1a_u64(uint64_t h, uint64_t v, unsigned bytes) {
    for (unsigned i = 0; i < bytes; i++) {
        h ^= (v >> (8 * i)) & 0xffu;
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t double_bits(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

uint64_t cml_params_fingerprint(const cml_params *p) {
    uint64_t h = 0xcbf29ce484222325ull;
    if (!p) return h;
    const uint32_t ints[] = {p->precision, p->glwe_dimension, p->polynomial_size,
                             p->lwe_dimension, p->pbs_base_log, p->pbs_level,
                             p->ks_base_log, p->ks_level};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) h = fnv1a_u64(h, ints[i], 4);
    h = fnv1a_u64(h, double_bits(p->lwe_noise_std), 8);
    h = fnv1a_u64(h, double_bits(p->glwe_noise_std), 8);
    return h;
}
