/* test_lower.c — lower_binary: ops of two encrypted values (or of an
 * encrypted value and a clear input) become linear ops around univariate
 * tlus, computing exactly the same thing; ops on one root are left for
 * fusion; division of two encrypted values is refused with a location. */
#include "passes_test.h"

static ir_opcode g_code; /* the op under test, for the build functions */

static void build_mul(fixture *fx) {
    ir_op *x = fx_in(fx, 0, 4, 0, NULL), *y = fx_in(fx, 1, 4, 0, NULL);
    fx_out(fx, 0, fx_b2(fx, IR_MUL, 2, x, y));
}

static void test_mul_two_inputs(void) {
    fixture fx;
    fx_init(&fx);
    build_mul(&fx);
    CU_ASSERT_TRUE_FATAL(pass_shapes(fx.m, &fx.d) && pass_lower_binary(fx.m, &fx.d));
    CU_ASSERT_TRUE(ir_verify(fx.m, &fx.d, false));
    /* floor((x+y)^2/4) - floor((x-y)^2/4): two tlus, no product of ciphertexts */
    CU_ASSERT_EQUAL(fx_count(&fx, IR_TLU), 2);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_MUL), 0);
    ir_op *r = fx_output_arg(&fx, 0);
    CU_ASSERT_EQUAL(r->code, IR_SUB);
    CU_ASSERT_EQUAL(r->args[0]->code, IR_TLU);
    CU_ASSERT_EQUAL(r->args[0]->args[0]->code, IR_ADD);
    CU_ASSERT_EQUAL(r->args[1]->args[0]->code, IR_SUB);
    CU_ASSERT_EQUAL(r->loc.line, 2);
    fx_free(&fx);
    /* every pair of u4 values, after lowering and after the whole pipeline */
    CU_ASSERT_EQUAL(fx_equiv(build_mul, NULL, PASS_STAGE_FUSED, 1000), 256);
    CU_ASSERT_EQUAL(fx_equiv(build_mul, NULL, PASS_STAGE_NOISE, 1000), 256);
}

static void build_mul_signed(fixture *fx) {
    ir_op *x = fx_in_signed(fx, 0, 4, 1, DIMS(2)), *y = fx_in(fx, 1, 3, 1, DIMS(2));
    fx_out(fx, 0, fx_b2(fx, IR_MUL, 2, x, y));
}

static void test_mul_signed_vectors(void) {
    /* i4 x u3, two elements each: 16^2 * 8^2 combinations */
    CU_ASSERT_EQUAL(fx_equiv(build_mul_signed, NULL, PASS_STAGE_NOISE, 20000), 16384);
}

static ir_op *plus_one(fixture *fx, ir_op *x) { return fx_b2(fx, IR_ADD, 2, x, fx_int(fx, 1)); }

static void test_same_root_left_for_fusion(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 4, 0, NULL);
    fx_out(&fx, 0, fx_b2(&fx, IR_MUL, 3, x, plus_one(&fx, x)));
    CU_ASSERT_TRUE_FATAL(pass_shapes(fx.m, &fx.d) && pass_lower_binary(fx.m, &fx.d));
    CU_ASSERT_EQUAL(fx_count(&fx, IR_MUL), 1);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_TLU), 0);
    CU_ASSERT_TRUE_FATAL(pass_fuse(fx.m, &fx.d));
    /* x * (x + 1) is one function of x: one tlu */
    CU_ASSERT_EQUAL(fx_count(&fx, IR_TLU), 1);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_MUL), 0);
    CU_ASSERT_EQUAL(fx_output_arg(&fx, 0)->args[0], x);
    fx_free(&fx);
}

static void build_binary(fixture *fx) {
    ir_op *x = fx_in(fx, 0, 3, 0, NULL), *y = fx_in_signed(fx, 1, 3, 0, NULL);
    fx_out(fx, 0, fx_b2(fx, g_code, 2, x, y));
}

static void test_comparisons_min_max(void) {
    static const ir_opcode codes[] = {IR_LT, IR_LE, IR_GT, IR_GE, IR_EQ, IR_NE, IR_MIN, IR_MAX};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
        g_code = codes[i];
        fixture fx;
        fx_init(&fx);
        build_binary(&fx);
        CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_FUSED));
        /* one tlu of x - y */
        CU_ASSERT_EQUAL(fx_count(&fx, IR_TLU), 1);
        CU_ASSERT_EQUAL(fx_find(&fx, IR_TLU)->args[0]->code, IR_SUB);
        fx_free(&fx);
        CU_ASSERT_EQUAL(fx_equiv(build_binary, NULL, PASS_STAGE_NOISE, 1000), 64);
    }
}

static void build_where_enc(fixture *fx) {
    ir_op *c = fx_in(fx, 0, 2, 0, NULL), *a = fx_in(fx, 1, 3, 0, NULL);
    ir_op *b = fx_in_signed(fx, 2, 3, 0, NULL);
    ir_op *args[3] = {c, a, b};
    fx_out(fx, 0, ir_build(fx->f, &fx->d, IR_WHERE, fx_at(fx, 4), 3, args));
}

static void test_where_encrypted_condition(void) {
    /* c in 0..3 (not just 0/1): where tests c != 0 */
    CU_ASSERT_EQUAL(fx_equiv(build_where_enc, NULL, PASS_STAGE_NOISE, 1000), 256);
}

static void build_where_const(fixture *fx) {
    ir_op *a = fx_in(fx, 0, 3, 1, DIMS(2)), *b = fx_in(fx, 1, 2, 1, DIMS(2));
    ir_op *args[3] = {fx_const(fx, 1, DIMS(2), VALS(5, 0)), a, b};
    fx_out(fx, 0, ir_build(fx->f, &fx->d, IR_WHERE, fx_at(fx, 4), 3, args));
}

static void test_where_constant_condition_is_linear(void) {
    fixture fx;
    fx_init(&fx);
    build_where_const(&fx);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_FUSED));
    CU_ASSERT_EQUAL(fx_count(&fx, IR_TLU), 0);
    fx_free(&fx);
    CU_ASSERT_EQUAL(fx_equiv(build_where_const, NULL, PASS_STAGE_NOISE, 5000), 1024);
}

static void build_where_cmp(fixture *fx) {
    /* where(x > 3, x, y) on u6: the condition is a comparison */
    ir_op *x = fx_in(fx, 0, 6, 0, NULL), *y = fx_in(fx, 1, 6, 0, NULL);
    ir_op *args[3] = {fx_b2(fx, IR_GT, 3, x, fx_int(fx, 3)), x, y};
    fx_out(fx, 0, ir_build(fx->f, &fx->d, IR_WHERE, fx_at(fx, 4), 3, args));
}

static void test_where_comparison_packed(void) {
    fixture fx;
    fx_init(&fx);
    build_where_cmp(&fx);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_NOISE));
    /* y + c * (x - y) with c = (x > 3) in {0, 1}: c * d is one tlu of
     * 2d + c in [-126, 127] (i8), not two squaring tlus whose outputs (up to
     * 64^2/4) would widen the encoding of x and y to 12 bits */
    CU_ASSERT_EQUAL(fx_count(&fx, IR_TLU), 2);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_ROUND), 0);
    ir_op *r = fx_output_arg(&fx, 0);
    CU_ASSERT_EQUAL(r->code, IR_ADD);
    CU_ASSERT_EQUAL(r->type.bits, 8);
    CU_ASSERT_EQUAL(r->args[1]->code, IR_TLU);
    CU_ASSERT_EQUAL(r->args[1]->lo, -63);
    CU_ASSERT_EQUAL(r->args[1]->hi, 63);
    fx_free(&fx);
    CU_ASSERT_EQUAL(fx_equiv(build_where_cmp, NULL, PASS_STAGE_NOISE, 5000), 4096);
}

static void build_bool_times(fixture *fx) {
    ir_op *x = fx_in(fx, 0, 3, 1, DIMS(2)), *y = fx_in_signed(fx, 1, 4, 1, DIMS(2));
    fx_out(fx, 0, fx_b2(fx, IR_MUL, 3, fx_b2(fx, IR_LE, 2, x, fx_int(fx, 4)), y));
}

static void test_comparison_times_value(void) {
    fixture fx;
    fx_init(&fx);
    build_bool_times(&fx);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_NOISE));
    CU_ASSERT_EQUAL(fx_count(&fx, IR_TLU), 2); /* the comparison and c * y */
    /* c * y for y in [-8, 7]: exactly [-8, 7] */
    CU_ASSERT_EQUAL(fx_output_arg(&fx, 0)->lo, -8);
    CU_ASSERT_EQUAL(fx_output_arg(&fx, 0)->hi, 7);
    fx_free(&fx);
    CU_ASSERT_EQUAL(fx_equiv(build_bool_times, NULL, PASS_STAGE_NOISE, 20000), 16384);
}

static void build_dot(fixture *fx) {
    ir_op *x = fx_in(fx, 0, 2, 1, DIMS(3)), *y = fx_in(fx, 1, 2, 1, DIMS(3));
    fx_out(fx, 0, fx_b2(fx, IR_DOT, 2, x, y));
}

static void test_dot_two_encrypted(void) {
    fixture fx;
    fx_init(&fx);
    build_dot(&fx);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_FUSED));
    CU_ASSERT_EQUAL(fx_count(&fx, IR_DOT), 0);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_TLU), 2);
    CU_ASSERT_EQUAL(fx_output_arg(&fx, 0)->code, IR_SUM);
    fx_free(&fx);
    CU_ASSERT_EQUAL(fx_equiv(build_dot, NULL, PASS_STAGE_NOISE, 5000), 4096);
}

static int g_mm; /* which matmul shapes */

static void build_matmul(fixture *fx) {
    static const int ra[] = {2, 1, 2}, rb[] = {2, 2, 1};
    static const int64_t da[3][2] = {{2, 2}, {3, 0}, {2, 3}}, db[3][2] = {{2, 2}, {3, 2}, {3, 0}};
    ir_op *a = fx_in(fx, 0, 1, ra[g_mm], da[g_mm]), *b = fx_in(fx, 1, 1, rb[g_mm], db[g_mm]);
    fx_out(fx, 0, fx_b2(fx, IR_MATMUL, 2, a, b));
}

static void test_matmul_two_encrypted(void) {
    static const int64_t combos[] = {256, 512, 512};
    for (g_mm = 0; g_mm < 3; g_mm++)
        CU_ASSERT_EQUAL(fx_equiv(build_matmul, NULL, PASS_STAGE_NOISE, 1000), combos[g_mm]);
}

static int g_pool_stride = 1;

static void build_maxpool(fixture *fx) {
    ir_op *x = fx_in(fx, 0, 1, 3, DIMS(1, 3, 3));
    ir_op *p = ir_build_pool(fx->f, &fx->d, IR_MAXPOOL2D, fx_at(fx, 3), x, (int[]){2, 2},
                             (int[]){g_pool_stride, g_pool_stride}, (int[]){0, 0});
    fx_out(fx, 0, p);
}

static void test_maxpool_encrypted(void) {
    fixture fx;
    fx_init(&fx);
    build_maxpool(&fx);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_FUSED));
    CU_ASSERT_EQUAL(fx_count(&fx, IR_MAXPOOL2D), 0);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_SLICE), 4);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_TLU), 3); /* max of 4 = 3 relus */
    fx_free(&fx);
    g_pool_stride = 1;
    CU_ASSERT_EQUAL(fx_equiv(build_maxpool, NULL, PASS_STAGE_NOISE, 1000), 512);
    g_pool_stride = 2;
    CU_ASSERT_EQUAL(fx_equiv(build_maxpool, NULL, PASS_STAGE_NOISE, 1000), 512);
}

static void test_maxpool_padding_rejected(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 2, 3, DIMS(1, 4, 4));
    fx_out(&fx, 0, ir_build_pool(fx.f, &fx.d, IR_MAXPOOL2D, fx_at(&fx, 6), x, (int[]){2, 2},
                                 (int[]){2, 2}, (int[]){1, 1}));
    CU_ASSERT_FALSE(pass_run(fx.m, &fx.d, NULL, PASS_STAGE_FUSED));
    CU_ASSERT_PTR_NOT_NULL(strstr(fx_diag(&fx), "t.cml:6:1: error: maxpool2d with padding"));
    fx_free(&fx);
}

static void test_division_of_two_encrypted_rejected(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 4, 0, NULL), *y = fx_in(&fx, 1, 4, 0, NULL);
    fx_out(&fx, 0, fx_b1(&fx, IR_TOINT, 5, fx_b2(&fx, IR_DIV, 5, x, y)));
    CU_ASSERT_FALSE(pass_run(fx.m, &fx.d, NULL, PASS_STAGE_FUSED));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(fx_diag(&fx), "t.cml:5:1: error: division of two encrypted values is not supported"));
    fx_free(&fx);
}

static void build_clear_input(fixture *fx) {
    ir_op *x = fx_in(fx, 0, 3, 1, DIMS(2)), *k = fx_clear_in(fx, 1, 3, 0, NULL);
    fx_out(fx, 0, fx_b2(fx, IR_LT, 2, x, k));     /* lowered: (x - k) < 0 */
    fx_out(fx, 1, fx_b2(fx, IR_MUL, 3, x, k));    /* linear: stays */
}

static void test_clear_input_operand(void) {
    fixture fx;
    fx_init(&fx);
    build_clear_input(&fx);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_FUSED));
    CU_ASSERT_EQUAL(fx_count(&fx, IR_TLU), 1);
    CU_ASSERT_EQUAL(fx_output_arg(&fx, 1)->code, IR_MUL);
    fx_free(&fx);
    CU_ASSERT_EQUAL(fx_equiv(build_clear_input, NULL, PASS_STAGE_NOISE, 1000), 512);
}

CU_TestInfo cml_tests_lower[] = {
    {"mul_two_inputs", test_mul_two_inputs},
    {"mul_signed_vectors", test_mul_signed_vectors},
    {"same_root_left_for_fusion", test_same_root_left_for_fusion},
    {"comparisons_min_max", test_comparisons_min_max},
    {"where_encrypted_condition", test_where_encrypted_condition},
    {"where_constant_condition_is_linear", test_where_constant_condition_is_linear},
    {"where_comparison_packed", test_where_comparison_packed},
    {"comparison_times_value", test_comparison_times_value},
    {"dot_two_encrypted", test_dot_two_encrypted},
    {"matmul_two_encrypted", test_matmul_two_encrypted},
    {"maxpool_encrypted", test_maxpool_encrypted},
    {"maxpool_padding_rejected", test_maxpool_padding_rejected},
    {"division_of_two_encrypted_rejected", test_division_of_two_encrypted_rejected},
    {"clear_input_operand", test_clear_input_operand},
    CU_TEST_INFO_NULL,
};
