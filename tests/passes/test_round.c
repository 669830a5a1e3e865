/* test_round.c — the rounding pass: a tlu whose PBS precision is over the
 * limit gets a `round` that drops exactly the excess low bits (one more when
 * rounding up widens the encoding, unless the table then folds), its table
 * is built on the multiples of 2^shift, shift-0 rounds disappear, and the
 * precision limit is checked. */
#include "passes_test.h"

static ir_op *body_relu_minus_100(ir_func *b, diag_ctx *d, ir_op *v) {
    ir_op *s = ir_build2(b, d, IR_SUB, v->loc, v, ir_build_scalar_int(b, v->loc, 100));
    return ir_build1(b, d, IR_RELU, v->loc, s);
}

static void test_ten_bits_to_six(void) {
    fixture fx;
    fx_init(&fx);
    /* (a mul by 7 would be fused into the tlu; a matmul is a root) */
    ir_op *x = fx_in(&fx, 0, 7, 1, DIMS(2)); /* [0, 127] */
    ir_op *m = fx_b2(&fx, IR_MATMUL, 2, x, fx_const(&fx, 2, DIMS(2, 2), VALS(7, 0, 0, 7)));
    /* columns 7*[0, 127] = [0, 889]: 10 bits */
    ir_op *t = fx_tlu(&fx, 3, m, body_relu_minus_100);
    fx_out(&fx, 0, t);
    pass_opts o = {.round_to = 6};
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, &o, PASS_STAGE_ROUNDED));
    /* 10 - 6 = 4 bits dropped: round(889) = ((889 + 8) >> 4) << 4 = 896,
     * still 10 bits, so the precision is 10 - 4 = 6 */
    ir_op *r = t->args[0];
    CU_ASSERT_EQUAL_FATAL(r->code, IR_ROUND);
    CU_ASSERT_EQUAL(r->args[0], m);
    CU_ASSERT_EQUAL(r->round_shift, 4);
    CU_ASSERT_EQUAL(r->round_bits, 0);
    CU_ASSERT_EQUAL(r->hi, 896);
    CU_ASSERT_EQUAL(r->type.bits, 10);
    CU_ASSERT_EQUAL(m->type.bits, 10);
    CU_ASSERT_EQUAL(pass_tlu_precision(t), 6);
    /* the table steps by 16: 896 / 16 + 1 = 57 entries */
    CU_ASSERT_EQUAL(t->tlu->dom_shift, 4);
    CU_ASSERT_EQUAL(t->tlu->dom_lo, 0);
    CU_ASSERT_EQUAL(t->tlu->dom_count, 57);
    CU_ASSERT_EQUAL(t->tlu->tables[7], 12); /* relu(112 - 100) */
    CU_ASSERT_EQUAL(t->tlu->tables[56], 796);
    CU_ASSERT_EQUAL(t->hi, 796);
    fx_free(&fx);
}

static void test_round_up_widens_then_one_more_bit(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 10, 0, NULL); /* [0, 1023] */
    ir_op *t = fx_tlu(&fx, 2, x, body_relu_minus_100);
    fx_out(&fx, 0, t);
    pass_opts o = {.round_to = 6};
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, &o, PASS_STAGE_ROUNDED));
    /* shift 4: round(1023) = 1024 needs 11 bits, so the lookup reads 7 bits;
     * but its 65 points (0, 16, ..., 1024) exceed half of 128 by one, whose
     * only pair (0, 1024) sums to a constant: the table folds, and the PBS
     * reads 6 (without folding, the shift would grow to 5) */
    ir_op *r = t->args[0];
    CU_ASSERT_EQUAL_FATAL(r->code, IR_ROUND);
    CU_ASSERT_EQUAL(r->round_shift, 4);
    CU_ASSERT_EQUAL(r->type.bits, 11);
    CU_ASSERT_EQUAL(x->type.bits, 11);
    CU_ASSERT_EQUAL(pass_tlu_precision(t), 7);
    bool folded = false;
    CU_ASSERT_EQUAL(pass_tlu_pbs_precision(t, &folded), 6);
    CU_ASSERT_TRUE(folded);
    CU_ASSERT_EQUAL(t->tlu->dom_count, 65);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_ROUND), 1);
    fx_free(&fx);
}

static void test_default_limit_and_shared_round(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in_signed(&fx, 0, 12, 1, DIMS(2)); /* [-2048, 2047]: i12 */
    ir_op *t1 = fx_tlu(&fx, 2, x, body_relu_minus_100);
    ir_op *t2 = fx_b1(&fx, IR_ABS, 3, x);
    fx_out(&fx, 0, t1);
    fx_out(&fx, 1, t2);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_ROUNDED));
    /* limit 8: shift 4; round(2047) = 2048 needs i13, so both lookups read
     * 9 bits, but their 257 points fold (one pair past half): PBS precision
     * 8 (without folding: shift 5). Both tlus of x share one round */
    t2 = fx_output_arg(&fx, 1);
    CU_ASSERT_EQUAL_FATAL(t1->args[0]->code, IR_ROUND);
    CU_ASSERT_EQUAL(t1->args[0], t2->args[0]);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_ROUND), 1);
    CU_ASSERT_EQUAL(t1->args[0]->round_shift, 4);
    CU_ASSERT_EQUAL(pass_tlu_precision(t1), 9);
    CU_ASSERT_EQUAL(pass_tlu_pbs_precision(t1, NULL), 8);
    CU_ASSERT_EQUAL(pass_tlu_pbs_precision(t2, NULL), 8);
    fx_free(&fx);
}

static void test_narrow_enough_not_rounded(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 8, 0, NULL);
    ir_op *t = fx_tlu(&fx, 2, x, body_relu_minus_100);
    fx_out(&fx, 0, t);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_ROUNDED));
    CU_ASSERT_EQUAL(t->args[0], x);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_ROUND), 0);
    CU_ASSERT_EQUAL(pass_tlu_precision(t), 8);
    fx_free(&fx);
}

static void test_zero_shift_round_removed(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 5, 0, NULL);
    ir_op *r = ir_build_round(fx.f, &fx.d, fx_at(&fx, 2), x, 6, -1); /* keep 6 of 5 bits */
    ir_op *t = fx_tlu(&fx, 3, r, body_relu_minus_100);
    fx_out(&fx, 0, t);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_ROUNDED));
    CU_ASSERT_EQUAL(fx_count(&fx, IR_ROUND), 0);
    CU_ASSERT_EQUAL(t->args[0], x);
    fx_free(&fx);
}

static void test_user_round_grown(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 12, 0, NULL);
    ir_op *r = ir_build_round(fx.f, &fx.d, fx_at(&fx, 2), x, 10, -1); /* shift 2 */
    ir_op *t = fx_tlu(&fx, 3, r, body_relu_minus_100);
    fx_out(&fx, 0, t);
    pass_opts o = {.round_to = 7};
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, &o, PASS_STAGE_ROUNDED));
    /* round(4095, 2) = 4096: 13 bits, reading 11, a PBS of 10 (1025
     * points: they fold); the user's round feeds only the tlu, so its shift
     * grows by 10 - 7 to 5 rather than rounding twice (round(4095, 5) =
     * 4096: 13 bits, reading 8, 129 points that fold: 7) */
    CU_ASSERT_EQUAL(fx_count(&fx, IR_ROUND), 1);
    CU_ASSERT_EQUAL(t->args[0], r);
    CU_ASSERT_EQUAL(r->round_shift, 5);
    CU_ASSERT_EQUAL(pass_tlu_precision(t), 8);
    CU_ASSERT_EQUAL(pass_tlu_pbs_precision(t, NULL), 7);
    fx_free(&fx);
}

static void test_user_round_with_other_users_kept(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 10, 0, NULL);
    ir_op *r = ir_build_round(fx.f, &fx.d, fx_at(&fx, 2), x, 8, -1); /* shift 2 */
    ir_op *t = fx_tlu(&fx, 3, r, body_relu_minus_100);
    fx_out(&fx, 0, t);
    fx_out(&fx, 1, r);
    pass_opts o = {.round_to = 6};
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, &o, PASS_STAGE_ROUNDED));
    /* r is an output too: it keeps shift 2, the tlu gets its own round */
    CU_ASSERT_EQUAL(r->round_shift, 2);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_ROUND), 2);
    CU_ASSERT_EQUAL(t->args[0]->code, IR_ROUND);
    CU_ASSERT_EQUAL(t->args[0]->args[0], r);
    CU_ASSERT_TRUE(pass_tlu_pbs_precision(t, NULL) <= 6);
    fx_free(&fx);
}

static ir_op *body_square_quarter(ir_func *b, diag_ctx *d, ir_op *v) {
    ir_op *sq = ir_build2(b, d, IR_MUL, v->loc, v, v);
    ir_op *q = ir_build2(b, d, IR_DIV, v->loc, sq, ir_build_scalar_int(b, v->loc, 4));
    return ir_build1(b, d, IR_TOINT, v->loc, q);
}

static void build_rounded_exact(fixture *fx) {
    /* 16 x is a multiple of 16 already: rounding it is exact, so the
     * result must equal the unrounded circuit on every input */
    ir_op *x = fx_in(fx, 0, 6, 1, DIMS(2));
    ir_op *m = fx_b2(fx, IR_MATMUL, 2, x, fx_const(fx, 2, DIMS(2, 2), VALS(16, 0, 0, 16)));
    fx_out(fx, 0, fx_tlu(fx, 2, m, body_square_quarter));
}

static void test_rounding_exact_on_multiples(void) {
    pass_opts o = {.round_to = 6};
    CU_ASSERT_EQUAL(fx_equiv(build_rounded_exact, &o, PASS_STAGE_NOISE, 5000), 4096);
    fixture fx;
    fx_init(&fx);
    build_rounded_exact(&fx);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, &o, PASS_STAGE_NOISE));
    /* [0, 1008]: 10 bits, shift 4 */
    CU_ASSERT_EQUAL(fx_count(&fx, IR_ROUND), 1);
    CU_ASSERT_EQUAL(fx_find(&fx, IR_ROUND)->round_shift, 4);
    fx_free(&fx);
}

enum { MANY = 70000 };

static ir_op *body_times_index(ir_func *b, diag_ctx *d, ir_op *v) {
    int64_t *c = malloc(MANY * sizeof *c);
    for (int64_t i = 0; i < MANY; i++) c[i] = i;
    ir_type t = {.rank = 1, .dims = {MANY}};
    ir_op *k = ir_build_const_int(b, v->loc, t, c);
    free(c);
    return ir_build2(b, d, IR_MUL, v->loc, v, k);
}

static void test_table_too_large_reported(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 10, 1, DIMS(MANY));
    fx_out(&fx, 0, fx_tlu(&fx, 4, x, body_times_index));
    /* 70000 distinct per-element tables of 1024 entries: too many to build */
    pass_opts o = {.round_to = 10};
    CU_ASSERT_FALSE(pass_run(fx.m, &fx.d, &o, PASS_STAGE_ROUNDED));
    CU_ASSERT_PTR_NOT_NULL(strstr(fx_diag(&fx), "t.cml:4:1: error: the table of this lookup "
                                                "could not be built"));
    fx_free(&fx);
}

CU_TestInfo cml_tests_round[] = {
    {"ten_bits_to_six", test_ten_bits_to_six},
    {"round_up_widens_then_one_more_bit", test_round_up_widens_then_one_more_bit},
    {"default_limit_and_shared_round", test_default_limit_and_shared_round},
    {"narrow_enough_not_rounded", test_narrow_enough_not_rounded},
    {"zero_shift_round_removed", test_zero_shift_round_removed},
    {"user_round_grown", test_user_round_grown},
    {"user_round_with_other_users_kept", test_user_round_with_other_users_kept},
    {"rounding_exact_on_multiples", test_rounding_exact_on_multiples},
    {"table_too_large_reported", test_table_too_large_reported},
    CU_TEST_INFO_NULL,
};
