/* test_params.c — parameter selection (passes/params.c): with PBS, exactly
 * the runtime optimiser's answer for the widest precision and the largest
 * norm2; --global-p-error spread over the PBS count; outputs kept
 * decryptable; a linear circuit gets the smallest secure N (checked by hand
 * and against the bound); infeasible requests and bad options are errors
 * at the right place. */
#include "passes_test.h"

#include <math.h>

/* relu(v - 3) */
static ir_op *body_relu(ir_func *b, diag_ctx *d, ir_op *v) {
    return ir_build1(b, d, IR_RELU, v->loc, ir_build2(b, d, IR_SUB, v->loc, v,
                                                      ir_build_scalar_int(b, v->loc, 3)));
}

/* v * 8 */
static ir_op *body_times8(ir_func *b, diag_ctx *d, ir_op *v) {
    return ir_build2(b, d, IR_MUL, v->loc, v, ir_build_scalar_int(b, v->loc, 8));
}

/* z = sqrt(2) erfc^-1(p), by bisection on erfc (p within erfc's range). */
static double gauss_z(double p) {
    double lo = 0, hi = 30;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (erfc(mid) > p) lo = mid;
        else hi = mid;
    }
    return sqrt(2.0) * lo;
}

/* x: enc u4[3], y: enc u4; s = sum(x) + y in [0, 60]: 6 bits, norm2 3 + 1. */
static ir_op *six_bit_sum(fixture *fx) {
    ir_op *x = fx_in(fx, 0, 4, 1, DIMS(3)), *y = fx_in(fx, 1, 4, 0, NULL);
    return fx_b2(fx, IR_ADD, 3, ir_build_sum(fx->f, &fx->d, fx_at(fx, 2), x, -1), y);
}

static void test_matches_runtime(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *t = fx_tlu(&fx, 4, six_bit_sum(&fx), body_relu); /* [0, 57]: 6 bits, as its input */
    fx_out(&fx, 0, t);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_PARAMS));
    CU_ASSERT_EQUAL(pass_tlu_precision(t), 6);
    CU_ASSERT_DOUBLE_EQUAL(t->args[0]->norm2, 4, 0);
    const pass_params *pp = fx.m->params;
    CU_ASSERT_PTR_NOT_NULL_FATAL(pp);
    /* the one need: 6 bits, norm2 4, all of it on the inputs */
    CU_ASSERT_EQUAL(pp->nneeds, 1);
    CU_ASSERT_EQUAL(pp->output_needs, 0);
    CU_ASSERT_DOUBLE_EQUAL(pp->needs[0].norm2, 0, 0);
    CU_ASSERT_DOUBLE_EQUAL(pp->needs[0].norm2_fresh, 4, 0);
    cml_pbs_need need = {6, 0, 4, 0};
    cml_params want;
    CU_ASSERT_EQUAL_FATAL(cml_params_select_needs(&need, 1, exp2(-40), &want), CML_OK);
    const cml_params *got = &pp->params;
    CU_ASSERT_EQUAL(got->precision, 6);
    CU_ASSERT_EQUAL(got->glwe_dimension, want.glwe_dimension);
    CU_ASSERT_EQUAL(got->polynomial_size, want.polynomial_size);
    CU_ASSERT_EQUAL(got->lwe_dimension, want.lwe_dimension);
    CU_ASSERT_EQUAL(got->pbs_base_log, want.pbs_base_log);
    CU_ASSERT_EQUAL(got->pbs_level, want.pbs_level);
    CU_ASSERT_EQUAL(got->ks_base_log, want.ks_base_log);
    CU_ASSERT_EQUAL(got->ks_level, want.ks_level);
    CU_ASSERT_EQUAL(cml_params_fingerprint(got), cml_params_fingerprint(&want));
    CU_ASSERT_DOUBLE_EQUAL(got->norm2, want.norm2, 0);
    CU_ASSERT_EQUAL(pp->pbs_count, 1);
    CU_ASSERT_DOUBLE_EQUAL(pp->p_error, exp2(-40), 0);
    CU_ASSERT_DOUBLE_EQUAL(pp->log2_p_error, want.log2_p_error, 1e-12);
    CU_ASSERT_TRUE(pp->log2_p_error <= -40);
    /* one PBS: the circuit fails exactly when it does */
    CU_ASSERT_DOUBLE_EQUAL(pp->log2_p_error_circuit, pp->log2_p_error, 1e-9);
    /* key sizes as the runtime allocates them (docs/params.md) */
    uint64_t k1 = want.glwe_dimension + 1u;
    CU_ASSERT_EQUAL(pp->bsk_bytes, (uint64_t)want.lwe_dimension * k1 * k1 * want.pbs_level *
                                       want.polynomial_size * 8u);
    CU_ASSERT_EQUAL(pp->ksk_bytes, (uint64_t)want.glwe_dimension * want.polynomial_size *
                                       want.ks_level * (want.lwe_dimension + 1u) * 4u);
    /* the explicit default is the same request */
    fixture fx2;
    fx_init(&fx2);
    fx_out(&fx2, 0, fx_tlu(&fx2, 4, six_bit_sum(&fx2), body_relu));
    CU_ASSERT_TRUE_FATAL(fx_run(&fx2, &(pass_opts){.p_error = exp2(-40)}, PASS_STAGE_PARAMS));
    CU_ASSERT_EQUAL(cml_params_fingerprint(&fx2.m->params->params), cml_params_fingerprint(got));
    fx_free(&fx2);
    fx_free(&fx);
}

static void test_global_p_error(void) {
    fixture fx;
    fx_init(&fx);
    fx_out(&fx, 0, fx_tlu(&fx, 2, fx_in(&fx, 0, 4, 1, DIMS(1000)), body_relu));
    double P = exp2(-40);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, &(pass_opts){.global_p_error = P}, PASS_STAGE_PARAMS));
    const pass_params *pp = fx.m->params;
    CU_ASSERT_PTR_NOT_NULL_FATAL(pp);
    CU_ASSERT_EQUAL(pp->pbs_count, 1000);
    /* 1 - (1 - P)^(1/1000) = P / 1000 (1 + O(P)): about 2^-49.97 (the
     * direct form would keep only 3 bits: 1 - P/1000 rounds to 2^-53) */
    CU_ASSERT_DOUBLE_EQUAL(pp->p_error / (P / 1000), 1, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(log2(pp->p_error), -40 - log2(1000), 1e-9);
    CU_ASSERT_TRUE(pp->params.log2_p_error <= log2(pp->p_error));
    CU_ASSERT_TRUE(pp->log2_p_error <= log2(pp->p_error));
    /* and the whole run within P */
    CU_ASSERT_TRUE(pp->log2_p_error_circuit <= -40 + 1e-9);
    /* a tighter target than the default 2^-40 per PBS: never cheaper */
    cml_params dflt;
    CU_ASSERT_EQUAL_FATAL(cml_params_select(4, 1, exp2(-40), &dflt), CML_OK);
    CU_ASSERT_TRUE(pp->params.cost >= dflt.cost);
    CU_ASSERT_TRUE(pp->params.log2_p_error < dflt.log2_p_error);
    fx_free(&fx);
}

/* A 6-bit tlu writing a 9-bit output: decrypting 9 bits needs the PBS
 * output noise 8x smaller than a 6-bit PBS alone would allow, so a
 * decryption need (9 bits, norm2 1) joins when the first choice misses it. */
static void test_outputs_decrypt(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *t = fx_tlu(&fx, 4, six_bit_sum(&fx), body_times8); /* [0, 480]: u9 */
    fx_out(&fx, 0, t);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_PARAMS));
    CU_ASSERT_EQUAL(t->type.bits, 9);
    const pass_params *pp = fx.m->params;
    CU_ASSERT_PTR_NOT_NULL_FATAL(pp);
    const cml_params *c = &pp->params;
    CU_ASSERT_EQUAL(c->precision, 6);
    CU_ASSERT_DOUBLE_EQUAL(pp->norm2_pbs, 4, 0);
    /* P(|N(0, V_pbs)| >= 2^-11) <= 2^-40 */
    double z = gauss_z(exp2(-40));
    CU_ASSERT_TRUE(sqrt(cml_noise_pbs(c)) * z <= exp2(-11));
    cml_params plain;
    cml_pbs_need need = {6, 0, 4, 0};
    CU_ASSERT_EQUAL_FATAL(cml_params_select_needs(&need, 1, exp2(-40), &plain), CML_OK);
    if (sqrt(cml_noise_pbs(&plain)) * z > exp2(-11)) {
        /* the plain choice would not do: a decryption need for the 9-bit
         * output (norm2 1 after the PBS), met exactly */
        CU_ASSERT_EQUAL(pp->output_needs, 1);
        CU_ASSERT_EQUAL(pp->nneeds, 2);
        CU_ASSERT_EQUAL(pp->needs[1].precision, 9);
        CU_ASSERT_TRUE(pp->needs[1].decrypt);
        CU_ASSERT_DOUBLE_EQUAL(pp->needs[1].norm2, 1, 0);
        cml_pbs_need both[2] = {{6, 0, 4, 0}, {9, 1, 0, 1}};
        cml_params exact;
        CU_ASSERT_EQUAL_FATAL(cml_params_select_needs(both, 2, exp2(-40), &exact), CML_OK);
        CU_ASSERT_EQUAL(cml_params_fingerprint(c), cml_params_fingerprint(&exact));
    } else {
        CU_ASSERT_EQUAL(cml_params_fingerprint(c), cml_params_fingerprint(&plain));
    }
    fx_free(&fx);
}

/* Linear circuits: no PBS, k = 1, lwe_dimension 0, the smallest N with
 * sqrt(norm2) * sigma(N) * z <= 2^-(w+2), sigma(N) = cml_secure_noise_std(N),
 * z = sqrt(2) erfc^-1(2^-40) ~ 7.16 = 2^2.84.
 *
 * (a) sum of four u4: w = 6, norm2 4 (nu = 2): sigma <= 2^-8 / (2 * 7.16)
 *     = 2^-11.84. log2 sigma(N) = -0.025697 N + 2.676: N = 512 gives
 *     2^-10.48 (too noisy), N = 1024 gives 2^-23.64: N = 1024.
 * (b) 1000 * x, x: u8: [0, 255000] is u18, norm2 10^6 (nu = 2^9.97):
 *     sigma <= 2^-20 / (2^9.97 * 2^2.84) = 2^-32.8: N = 1024 (2^-23.64) is
 *     too noisy, N = 2048 gives 2^-49.95: N = 2048. */
static void check_linear(fixture *fx, int w, double norm2, uint32_t N) {
    CU_ASSERT_TRUE_FATAL(fx_run(fx, NULL, PASS_STAGE_PARAMS));
    const pass_params *pp = fx->m->params;
    CU_ASSERT_PTR_NOT_NULL_FATAL(pp);
    const cml_params *c = &pp->params;
    CU_ASSERT_EQUAL(pp->pbs_count, 0);
    CU_ASSERT_EQUAL(pp->outputs, 1);
    CU_ASSERT_EQUAL(c->precision, (uint32_t)w);
    CU_ASSERT_EQUAL(c->glwe_dimension, 1);
    CU_ASSERT_EQUAL(c->polynomial_size, N);
    CU_ASSERT_EQUAL(c->lwe_dimension, 0);
    CU_ASSERT_EQUAL(c->pbs_level, 0);
    CU_ASSERT_EQUAL(c->ks_level, 0);
    CU_ASSERT_EQUAL(pp->bsk_bytes, 0);
    CU_ASSERT_EQUAL(pp->ksk_bytes, 0);
    CU_ASSERT_DOUBLE_EQUAL(c->norm2, norm2, 0);
    CU_ASSERT_DOUBLE_EQUAL(c->glwe_noise_std, cml_secure_noise_std(N), 0);
    /* the bound holds at N and fails at N/2 */
    double z = gauss_z(exp2(-40)), bound = exp2(-(w + 2));
    CU_ASSERT_TRUE(sqrt(norm2) * cml_secure_noise_std(N) * z <= bound);
    CU_ASSERT_TRUE(sqrt(norm2) * cml_secure_noise_std(N / 2) * z > bound);
    CU_ASSERT_TRUE(pp->log2_p_error <= -40);
}

static void test_linear(void) {
    fixture fx;
    fx_init(&fx);
    fx_out(&fx, 0, ir_build_sum(fx.f, &fx.d, fx_at(&fx, 2), fx_in(&fx, 0, 4, 1, DIMS(4)), -1));
    check_linear(&fx, 6, 4, 1024);
    fx_free(&fx);

    fx_init(&fx);
    fx_out(&fx, 0, fx_b2(&fx, IR_MUL, 2, fx_in(&fx, 0, 8, 0, NULL), fx_int(&fx, 1000)));
    check_linear(&fx, 18, 1e6, 2048);
    fx_free(&fx);
}

static void test_linear_too_wide(void) {
    fixture fx;
    fx_init(&fx);
    /* 4 x (2^20 - 1) x 10^9 needs 52 bits, norm2 4e18: the noise floor 2^-62
     * times nu = 2^31 is already 2^-31, far above 2^-54 */
    ir_op *x = fx_in(&fx, 0, 20, 1, DIMS(4));
    ir_op *s = ir_build_sum(fx.f, &fx.d, fx_at(&fx, 3),
                            fx_b2(&fx, IR_MUL, 2, x, fx_int(&fx, 1000000000)), -1);
    fx_out(&fx, 0, s);
    pass_opts o = {.verify = true};
    CU_ASSERT_FALSE(pass_run(fx.m, &fx.d, &o, PASS_STAGE_PARAMS));
    CU_ASSERT_PTR_NULL(fx.m->params);
    CU_ASSERT_PTR_NOT_NULL(strstr(fx_diag(&fx), "t.cml:9:1: error: no TFHE parameters keep this "
                                                "52-bit output decryptable with norm2 4e+18"));
    fx_free(&fx);
}

static void test_precision_too_wide(void) {
    fixture fx;
    fx_init(&fx);
    fx_out(&fx, 0, fx_tlu(&fx, 6, fx_in(&fx, 0, 12, 0, NULL), body_relu));
    pass_opts o = {.round_to = 12, .verify = true};
    CU_ASSERT_FALSE(pass_run(fx.m, &fx.d, &o, PASS_STAGE_PARAMS));
    CU_ASSERT_PTR_NULL(fx.m->params);
    CU_ASSERT_PTR_NOT_NULL(strstr(fx_diag(&fx),
                                  "t.cml:6:1: error: no TFHE parameters for a 12-bit table lookup "
                                  "with norm2 1 at p_error 2^-40: the widest supported precision "
                                  "is 10 bits (CML_PRECISION_MAX); lower the bit widths or use "
                                  "--round-to 10"));
    fx_free(&fx);
}

static void test_infeasible_norm2(void) {
    fixture fx;
    fx_init(&fx);
    /* a lookup of x . [1000, 1000] (19 bits, norm2 2 * 10^6), rounded to 10
     * bits: the round's two PBS read x lifted by 2^(19 - 9), norm2
     * (2e6 + 1) * 4^10 ~ 2.1e12, at 2^-80: beyond every set (10 bits fit
     * only at about 2^-40 and norm2 1) */
    ir_op *x = fx_in(&fx, 0, 8, 1, DIMS(2));
    ir_op *m = fx_b2(&fx, IR_DOT, 2, x, fx_const(&fx, 1, DIMS(2), VALS(1000, 1000)));
    fx_out(&fx, 0, fx_tlu(&fx, 5, m, body_relu));
    pass_opts o = {.round_to = 10, .p_error = exp2(-80), .verify = true};
    CU_ASSERT_FALSE(pass_run(fx.m, &fx.d, &o, PASS_STAGE_PARAMS));
    CU_ASSERT_PTR_NOT_NULL(strstr(fx_diag(&fx), "t.cml:5:1: error: no TFHE parameters for a "
                                                "10-bit table lookup with norm2 2.09715e+12 at "
                                                "p_error 2^-80: no secure set meets it"));
    fx_free(&fx);
}

static void test_bad_options(void) {
    static const pass_opts bad[] = {
        {.p_error = 1e-9, .global_p_error = 1e-6},
        {.p_error = 1.5},
        {.p_error = -1},
        {.global_p_error = 1},
        {.p_error = NAN},
    };
    static const char *const msg[] = {
        "exclude each other", "(--p-error) must be in (0, 1)", "(--p-error) must be in (0, 1)",
        "(--global-p-error) must be in (0, 1)", "(--p-error) must be in (0, 1)",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fixture fx;
        fx_init(&fx);
        fx_out(&fx, 0, fx_tlu(&fx, 2, fx_in(&fx, 0, 4, 0, NULL), body_relu));
        CU_ASSERT_FALSE(pass_run(fx.m, &fx.d, &bad[i], PASS_STAGE_PARAMS));
        CU_ASSERT_PTR_NOT_NULL(strstr(fx_diag(&fx), msg[i]));
        fx_free(&fx);
    }
}

static char *print_params(const pass_params *pp, pass_params_format fmt) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pass_params_print(f, pp, fmt);
    fclose(f);
    return buf;
}

static void test_print(void) {
    fixture fx;
    fx_init(&fx);
    fx_out(&fx, 0, ir_build_sum(fx.f, &fx.d, fx_at(&fx, 2), fx_in(&fx, 0, 4, 1, DIMS(4)), -1));
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_PARAMS));
    char *s = print_params(fx.m->params, PASS_PARAMS_COMMENT);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "// params: precision 6, k 1, N 1024, n 0 (no PBS: no "
                                     "bootstrap or keyswitch key), p_error 2^-"));
    free(s);
    s = print_params(fx.m->params, PASS_PARAMS_JSON);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "{\"precision\": 6, \"glwe_dimension\": 1, "
                                     "\"polynomial_size\": 1024, \"lwe_dimension\": 0, "));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"global_p_error\": null, "));
    free(s);
    pass_stats st;
    CU_ASSERT_TRUE_FATAL(pass_stats_collect(fx.m, &st));
    CU_ASSERT_PTR_EQUAL(st.params, fx.m->params);
    fx_free(&fx);
}

CU_TestInfo cml_tests_params[] = {
    {"matches_runtime", test_matches_runtime},
    {"global_p_error", test_global_p_error},
    {"outputs_decrypt", test_outputs_decrypt},
    {"linear", test_linear},
    {"linear_too_wide", test_linear_too_wide},
    {"precision_too_wide", test_precision_too_wide},
    {"infeasible_norm2", test_infeasible_norm2},
    {"bad_options", test_bad_options},
    {"print", test_print},
    CU_TEST_INFO_NULL,
};
