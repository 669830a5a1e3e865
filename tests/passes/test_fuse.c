/* test_fuse.c — TLU fusion: a univariate chain becomes one tlu of its root,
 * tlu∘tlu composes, linear chains stay linear, constants (even computed
 * ones) are folded into bodies, and what cannot be a table lookup is
 * reported where it is written. */
#include "passes_test.h"

static ir_op *body_square_eighth(ir_func *b, diag_ctx *d, ir_op *v) {
    /* (v * v) / 8, rounded to the nearest integer */
    diag_loc l = v->loc;
    ir_op *sq = ir_build2(b, d, IR_MUL, l, v, v);
    ir_op *q = ir_build2(b, d, IR_DIV, l, sq, ir_build_scalar_int(b, l, 8));
    return ir_build1(b, d, IR_TOINT, l, q);
}

/* DESIGN §3's scaled_square circuit:
 *   s = sum(x) + y; t = lut(s, (v) => (v * v) / 8); r = relu(s - 20); */
static void build_scaled_square(fixture *fx) {
    ir_op *x = fx_in(fx, 0, 4, 1, DIMS(3)), *y = fx_in(fx, 1, 4, 0, NULL);
    ir_op *s = fx_b2(fx, IR_ADD, 2, ir_build_sum(fx->f, &fx->d, fx_at(fx, 2), x, -1), y);
    fx_out(fx, 0, fx_tlu(fx, 3, s, body_square_eighth));
    fx_out(fx, 1, fx_b1(fx, IR_RELU, 4, fx_b2(fx, IR_SUB, 4, s, fx_int(fx, 20))));
}

static void test_scaled_square(void) {
    fixture fx;
    fx_init(&fx);
    build_scaled_square(&fx);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_FUSED));
    CU_ASSERT_EQUAL(fx_count(&fx, IR_TLU), 2);
    /* relu(s - 20) is one tlu of s: the subtraction moved into its body */
    ir_op *r = fx_output_arg(&fx, 1);
    CU_ASSERT_EQUAL(r->code, IR_TLU);
    CU_ASSERT_EQUAL(r->args[0]->code, IR_ADD);
    CU_ASSERT_EQUAL(r->loc.line, 4);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_SUB), 0);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_RELU), 0);
    CU_ASSERT_EQUAL(ir_count_ops(r->tlu->body, IR_SUB), 1);
    CU_ASSERT_EQUAL(ir_count_ops(r->tlu->body, IR_RELU), 1);
    /* the user's lut is kept as it is */
    CU_ASSERT_EQUAL(fx_output_arg(&fx, 0)->args[0], r->args[0]);
    fx_free(&fx);
    CU_ASSERT_EQUAL(fx_equiv(build_scaled_square, NULL, PASS_STAGE_NOISE, 100000), 65536);
}

static ir_op *body_double(ir_func *b, diag_ctx *d, ir_op *v) {
    return ir_build2(b, d, IR_MUL, v->loc, v, ir_build_scalar_int(b, v->loc, 2));
}

static void build_lut_lut(fixture *fx) {
    ir_op *x = fx_in(fx, 0, 4, 1, DIMS(2));
    ir_op *t = fx_tlu(fx, 2, x, body_double);
    ir_op *u = fx_tlu(fx, 3, fx_b2(fx, IR_SUB, 3, t, fx_int(fx, 7)), body_square_eighth);
    fx_out(fx, 0, fx_b1(fx, IR_ABS, 4, fx_b2(fx, IR_SUB, 4, u, fx_int(fx, 9))));
}

static void test_lut_of_lut_composes(void) {
    fixture fx;
    fx_init(&fx);
    build_lut_lut(&fx);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_FUSED));
    /* abs((((2x) - 7)^2 / 8) - 9): three lookups' worth, one tlu of x */
    CU_ASSERT_EQUAL(fx_count(&fx, IR_TLU), 1);
    ir_op *t = fx_output_arg(&fx, 0);
    CU_ASSERT_EQUAL(t->code, IR_TLU);
    CU_ASSERT_EQUAL(t->args[0]->code, IR_INPUT);
    CU_ASSERT_TRUE(t->type.enc);
    CU_ASSERT_EQUAL(t->type.dims[0], 2);
    fx_free(&fx);
    CU_ASSERT_EQUAL(fx_equiv(build_lut_lut, NULL, PASS_STAGE_NOISE, 1000), 256);
}

static void build_linear(fixture *fx) {
    ir_op *x = fx_in(fx, 0, 4, 0, NULL);
    fx_out(fx, 0, fx_b2(fx, IR_ADD, 2, fx_b2(fx, IR_MUL, 2, x, fx_int(fx, 3)), fx_int(fx, 1)));
}

static void test_linear_chain_stays_linear(void) {
    fixture fx;
    fx_init(&fx);
    build_linear(&fx);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_FUSED));
    CU_ASSERT_EQUAL(fx_count(&fx, IR_TLU), 0);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_MUL), 1);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_ADD), 1);
    fx_free(&fx);
    CU_ASSERT_EQUAL(fx_equiv(build_linear, NULL, PASS_STAGE_NOISE, 100), 16);
}

static void test_two_encrypted_real_rejected(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 4, 0, NULL), *y = fx_in(&fx, 1, 4, 0, NULL);
    ir_op *hx = fx_b2(&fx, IR_MUL, 3, fx_b1(&fx, IR_TOFLOAT, 3, x), fx_real(&fx, 0.5));
    ir_op *s = fx_b2(&fx, IR_ADD, 4, hx, fx_b1(&fx, IR_TOFLOAT, 4, y));
    fx_out(&fx, 0, fx_b1(&fx, IR_TOINT, 5, s));
    CU_ASSERT_FALSE(pass_run(fx.m, &fx.d, NULL, PASS_STAGE_FUSED));
    char want[200];
    snprintf(want, sizeof want,
             "t.cml:4:1: error: this real value depends on two encrypted values (%%%d and %%%d) "
             "and cannot become a table lookup",
             x->id, y->id);
    CU_ASSERT_PTR_NOT_NULL(strstr(fx_diag(&fx), want));
    CU_ASSERT_EQUAL(fx.d.errors, 1);
    fx_free(&fx);
}

static void test_real_escaping_is_reported(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 4, 1, DIMS(3));
    ir_op *h = fx_b2(&fx, IR_MUL, 3, fx_b1(&fx, IR_TOFLOAT, 3, x), fx_real(&fx, 0.5));
    fx_out(&fx, 0, ir_build_sum(fx.f, &fx.d, fx_at(&fx, 4), h, -1));
    CU_ASSERT_FALSE(pass_run(fx.m, &fx.d, NULL, PASS_STAGE_FUSED));
    CU_ASSERT_PTR_NOT_NULL(strstr(fx_diag(&fx), "t.cml:3:1: error: internal error: an encrypted "
                                                "real value ('mul') reaches 'sum'"));
    fx_free(&fx);
}

static void build_shared(fixture *fx) {
    /* t = relu(x - 3) leaves twice: as an output and in t + x */
    ir_op *x = fx_in(fx, 0, 3, 1, DIMS(2));
    ir_op *t = fx_b1(fx, IR_RELU, 2, fx_b2(fx, IR_SUB, 2, x, fx_int(fx, 3)));
    fx_out(fx, 0, t);
    fx_out(fx, 1, fx_b2(fx, IR_ADD, 3, t, x));
    /* and a value of another root combines them linearly */
    ir_op *y = fx_b2(fx, IR_MUL, 4, ir_build_sum(fx->f, &fx->d, fx_at(fx, 4), x, -1), fx_int(fx, 2));
    ir_op *ty = fx_b2(fx, IR_ADD, 5, ir_build_sum(fx->f, &fx->d, fx_at(fx, 5), t, -1), y);
    fx_out(fx, 2, fx_b1(fx, IR_NEG, 6, ty));
}

static void test_each_leaving_value_gets_a_tlu(void) {
    fixture fx;
    fx_init(&fx);
    build_shared(&fx);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_FUSED));
    /* relu(x-3) (used by an output and by a sum) and relu(x-3) + x */
    CU_ASSERT_EQUAL(fx_count(&fx, IR_TLU), 2);
    CU_ASSERT_EQUAL(fx_output_arg(&fx, 1)->code, IR_TLU);
    CU_ASSERT_EQUAL(fx_output_arg(&fx, 2)->code, IR_NEG);
    fx_free(&fx);
    CU_ASSERT_EQUAL(fx_equiv(build_shared, NULL, PASS_STAGE_NOISE, 100), 64);
}

static void build_folded_const(fixture *fx) {
    /* relu(x - reshape(c)): the reshape of a constant is folded into the body */
    ir_op *x = fx_in(fx, 0, 3, 2, DIMS(2, 2));
    ir_op *c = ir_build_reshape(fx->f, &fx->d, fx_at(fx, 2), fx_const(fx, 1, DIMS(4), VALS(1, 2, 5, 7)),
                                2, DIMS(2, 2));
    ir_op *ct = ir_build_transpose(fx->f, &fx->d, fx_at(fx, 2), c, NULL);
    fx_out(fx, 0, fx_b1(fx, IR_RELU, 3, fx_b2(fx, IR_SUB, 3, x, ct)));
}

static void test_constant_computation_folded(void) {
    fixture fx;
    fx_init(&fx);
    build_folded_const(&fx);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_FUSED));
    CU_ASSERT_EQUAL(fx_count(&fx, IR_TLU), 1);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_RESHAPE), 0);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_TRANSPOSE), 0);
    ir_op *t = fx_output_arg(&fx, 0);
    static const int64_t none[4] = {0};
    const int64_t *k = none;
    ir_foreach(op, t->tlu->body) if (op->code == IR_CONST && op->idata) k = op->idata;
    CU_ASSERT_PTR_NOT_EQUAL(k, none);
    /* transpose([[1, 2], [5, 7]]) */
    CU_ASSERT_EQUAL(k[0], 1);
    CU_ASSERT_EQUAL(k[1], 5);
    CU_ASSERT_EQUAL(k[2], 2);
    CU_ASSERT_EQUAL(k[3], 7);
    fx_free(&fx);
    CU_ASSERT_EQUAL(fx_equiv(build_folded_const, NULL, PASS_STAGE_NOISE, 5000), 4096);
}

static void build_model_chain(fixture *fx) {
    /* a quantized activation: q = toint(sigmoid((x - 8) * 0.25) * 15) on
     * an accumulator acc = x @ W, then a clear dense on top */
    ir_op *x = fx_in(fx, 0, 2, 1, DIMS(3));
    ir_op *w = fx_const(fx, 2, DIMS(3, 2), VALS(1, -1, 2, 3, -2, 1));
    ir_op *acc = fx_b2(fx, IR_MATMUL, 2, x, w);
    ir_op *f = fx_b2(fx, IR_MUL, 3, fx_b1(fx, IR_TOFLOAT, 3, acc), fx_real(fx, 0.25));
    ir_op *q = fx_b1(fx, IR_TOINT, 4,
                     fx_b2(fx, IR_MUL, 4, fx_b1(fx, IR_SIGMOID, 4, f), fx_real(fx, 15)));
    fx_out(fx, 0, fx_b2(fx, IR_MATMUL, 5, q, fx_const(fx, 2, DIMS(2, 1), VALS(2, -3))));
}

static void test_real_chain_becomes_one_tlu(void) {
    fixture fx;
    fx_init(&fx);
    build_model_chain(&fx);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_FUSED));
    CU_ASSERT_EQUAL(fx_count(&fx, IR_TLU), 1);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_SIGMOID), 0);
    CU_ASSERT_EQUAL(fx_find(&fx, IR_TLU)->args[0]->code, IR_MATMUL);
    fx_free(&fx);
    CU_ASSERT_EQUAL(fx_equiv(build_model_chain, NULL, PASS_STAGE_NOISE, 100), 64);
}

static void test_clear_input_in_real_chain_rejected(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 3, 0, NULL), *k = fx_clear_in(&fx, 1, 3, 0, NULL);
    ir_op *r = fx_b2(&fx, IR_MUL, 6, fx_b1(&fx, IR_TOFLOAT, 6, x), fx_b1(&fx, IR_TOFLOAT, 6, k));
    fx_out(&fx, 0, fx_b1(&fx, IR_TOINT, 7, fx_b1(&fx, IR_SQRT, 7, r)));
    CU_ASSERT_FALSE(pass_run(fx.m, &fx.d, NULL, PASS_STAGE_FUSED));
    CU_ASSERT_PTR_NOT_NULL(strstr(fx_diag(&fx), "t.cml:6:1: error: this real value depends on "
                                                "the encrypted value"));
    fx_free(&fx);
}

static void test_clear_only_left_alone(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 3, 0, NULL), *k = fx_clear_in(&fx, 1, 3, 0, NULL);
    ir_op *rk = fx_b1(&fx, IR_RELU, 2, fx_b2(&fx, IR_SUB, 2, k, fx_int(&fx, 2)));
    fx_out(&fx, 0, fx_b2(&fx, IR_ADD, 3, x, rk));
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_FUSED));
    CU_ASSERT_EQUAL(fx_count(&fx, IR_TLU), 0);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_RELU), 1);
    fx_free(&fx);
}

static void build_small_cnn(fixture *fx) {
    /* conv (3x3, pad 1) -> quantized relu -> maxpool 2x2 -> flatten -> dense */
    ir_op *x = fx_in(fx, 0, 2, 3, DIMS(1, 4, 4));
    ir_op *w = fx_const(fx, 4, DIMS(2, 1, 3, 3),
                        VALS(1, 0, -1, 1, 1, 0, -1, 0, 1, 0, 1, 1, -1, 1, 0, 1, -1, 0));
    ir_op *c = ir_build_conv2d(fx->f, &fx->d, fx_at(fx, 2), x, w, (int[]){1, 1}, (int[]){1, 1});
    ir_op *b = fx_b2(fx, IR_ADD, 2, c, fx_const(fx, 3, DIMS(2, 1, 1), VALS(1, -2)));
    ir_op *h = fx_b1(fx, IR_RELU, 3,
                     fx_b2(fx, IR_MUL, 3, fx_b1(fx, IR_TOFLOAT, 3, b), fx_real(fx, 0.5)));
    ir_op *q = fx_b1(fx, IR_TOINT, 3, h);
    ir_op *p = ir_build_pool(fx->f, &fx->d, IR_MAXPOOL2D, fx_at(fx, 4), q, (int[]){2, 2},
                             (int[]){2, 2}, (int[]){0, 0});
    ir_op *flat = ir_build_reshape(fx->f, &fx->d, fx_at(fx, 5), p, 1, DIMS(8));
    ir_op *w2 = fx_const(fx, 2, DIMS(8, 2), VALS(1, -1, 2, 0, 0, 1, -1, 3, 1, 1, 0, -2, 2, 1, 1, 0));
    fx_out(fx, 0, fx_b2(fx, IR_MATMUL, 6, flat, w2));
}

static void test_small_cnn(void) {
    fixture fx;
    fx_init(&fx);
    build_small_cnn(&fx);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_NOISE));
    /* one tlu for the activation (bias folded in), three for each max of 4 */
    CU_ASSERT_EQUAL(fx_count(&fx, IR_TLU), 4);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_MAXPOOL2D), 0);
    /* the activation's output shares its encoding with the dense layer's
     * accumulator: [-21, 49], i7. (Plain interval arithmetic would see each
     * max(a, b) = b + relu(a - b) as [0, 14] for a, b in [0, 7], then
     * [0, 21], [0, 28]: bitwidth computes these two-value forms exactly.) */
    ir_op *out = fx_output_arg(&fx, 0);
    CU_ASSERT_EQUAL(out->type.bits, 7);
    CU_ASSERT_EQUAL(out->args[0]->lo, 0); /* the last max */
    CU_ASSERT_EQUAL(out->args[0]->hi, 7);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_ROUND), 0);
    fx_free(&fx);
    /* exactly the same results: 3000 random inputs of 4^16 */
    CU_ASSERT_EQUAL(fx_equiv_ex(build_small_cnn, NULL, PASS_STAGE_NOISE, 3000, true), 3000);
}

CU_TestInfo cml_tests_fuse[] = {
    {"scaled_square", test_scaled_square},
    {"lut_of_lut_composes", test_lut_of_lut_composes},
    {"linear_chain_stays_linear", test_linear_chain_stays_linear},
    {"two_encrypted_real_rejected", test_two_encrypted_real_rejected},
    {"real_escaping_is_reported", test_real_escaping_is_reported},
    {"each_leaving_value_gets_a_tlu", test_each_leaving_value_gets_a_tlu},
    {"constant_computation_folded", test_constant_computation_folded},
    {"real_chain_becomes_one_tlu", test_real_chain_becomes_one_tlu},
    {"clear_input_in_real_chain_rejected", test_clear_input_in_real_chain_rejected},
    {"clear_only_left_alone", test_clear_only_left_alone},
    {"small_cnn", test_small_cnn},
    CU_TEST_INFO_NULL,
};
