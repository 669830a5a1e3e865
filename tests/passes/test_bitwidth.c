/* test_bitwidth.c — interval analysis and encoding unification, checked
 * against bounds worked out by hand in the comments, and against the
 * interpreter with width checks (a value outside its inferred type fails
 * the run). The unification tests are the important ones: an encoding
 * narrower than a value that is added into it gives wrong FHE results
 * without any error. */
#include "passes_test.h"

static void expect_range(const ir_op *op, int64_t lo, int64_t hi) {
    CU_ASSERT_TRUE(op->has_range);
    CU_ASSERT_EQUAL(op->lo, lo);
    CU_ASSERT_EQUAL(op->hi, hi);
    if (op->lo != lo || op->hi != hi)
        fprintf(stderr, "\n  %s: range [%lld, %lld], expected [%lld, %lld]\n",
                ir_op_name(op->code), (long long)op->lo, (long long)op->hi, (long long)lo,
                (long long)hi);
}

static void expect_type(const ir_op *op, bool is_signed, int bits) {
    CU_ASSERT_EQUAL(op->type.bits, bits);
    CU_ASSERT_EQUAL(op->type.is_signed, is_signed);
    if (op->type.bits != bits || op->type.is_signed != is_signed)
        fprintf(stderr, "\n  %s: %c%d, expected %c%d\n", ir_op_name(op->code),
                op->type.is_signed ? 'i' : 'u', op->type.bits, is_signed ? 'i' : 'u', bits);
}

static void test_sum_and_add(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 4, 1, DIMS(3)), *y = fx_in(&fx, 1, 4, 0, NULL);
    ir_op *s = ir_build_sum(fx.f, &fx.d, fx_at(&fx, 2), x, -1);
    ir_op *a = fx_b2(&fx, IR_ADD, 2, s, y);
    fx_out(&fx, 0, a);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_BITWIDTH));
    /* sum of three u4: [0, 45] -> 6 bits; + u4: [0, 60] -> 6 bits */
    expect_range(s, 0, 45);
    expect_range(a, 0, 60);
    /* one component {x, s, y, a}: every member is u6, inputs included
     * (their own ranges stay [0, 15]) */
    expect_type(s, false, 6);
    expect_type(a, false, 6);
    expect_type(x, false, 6);
    expect_type(y, false, 6);
    expect_range(x, 0, 15);
    expect_range(y, 0, 15);
    fx_free(&fx);
}

static void test_matmul_column_bounds(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 2, 1, DIMS(2));
    ir_op *w = fx_const(&fx, 2, DIMS(2, 2), VALS(1, -2, 3, 4));
    ir_op *y = fx_b2(&fx, IR_MATMUL, 2, x, w);
    fx_out(&fx, 0, y);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_BITWIDTH));
    /* x in [0, 3]^2, W = [[1, -2], [3, 4]]:
     *   column 0: 1*[0,3] + 3*[0,3] = [0, 12]
     *   column 1: -2*[0,3] + 4*[0,3] = [-6, 0] + [0, 12] = [-6, 12]
     * union [-6, 12] -> i5 (-16..15); x joins the component: i5 too */
    expect_range(y, -6, 12);
    expect_type(y, true, 5);
    expect_type(x, true, 5);
    fx_free(&fx);
}

static void test_matmul_constant_left_and_dot(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in_signed(&fx, 0, 3, 1, DIMS(2)); /* [-4, 3] */
    ir_op *a = fx_const(&fx, 2, DIMS(3, 2), VALS(1, 1, -2, 0, 3, -1));
    ir_op *y = fx_b2(&fx, IR_MATMUL, 2, a, x);
    ir_op *z = fx_b2(&fx, IR_DOT, 3, x, fx_const(&fx, 1, DIMS(2), VALS(5, 5)));
    fx_out(&fx, 0, y);
    fx_out(&fx, 1, z);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_BITWIDTH));
    /* rows: [1,1]: [-8, 6]; [-2,0]: [-6, 8]; [3,-1]: 3*[-4,3] - [-4,3] = [-12,9] + [-3,4]
     * = [-15, 13]; union [-15, 13] */
    expect_range(y, -15, 13);
    /* dot with [5, 5]: [-40, 30] -> i7; same component as x and y: all i7 */
    expect_range(z, -40, 30);
    expect_type(y, true, 7);
    expect_type(z, true, 7);
    expect_type(x, true, 7);
    fx_free(&fx);
}

static void test_clear_weights_use_declared_range(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 2, 1, DIMS(2));
    ir_op *w = fx_clear_in(&fx, 1, 3, 2, DIMS(2, 2));
    ir_op *y = fx_b2(&fx, IR_MATMUL, 2, x, w);
    fx_out(&fx, 0, y);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_BITWIDTH));
    /* 2 products of [0,3] x [0,7]: [0, 42] -> u6; the clear weights keep u3 */
    expect_range(y, 0, 42);
    expect_type(y, false, 6);
    expect_type(w, false, 3);
    fx_free(&fx);
}

static void test_conv_per_channel_and_padding(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 2, 3, DIMS(1, 3, 3)); /* [1, 3] would be tighter; inputs u2: [0, 3] */
    ir_op *w = fx_const(&fx, 4, DIMS(2, 1, 2, 2), VALS(1, 2, 3, 4, -1, -1, 2, 0));
    ir_op *c0 = ir_build_conv2d(fx.f, &fx.d, fx_at(&fx, 2), x, w, (int[]){1, 1}, (int[]){0, 0});
    fx_out(&fx, 0, c0);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_BITWIDTH));
    /* channel 0: (1+2+3+4)*[0,3] = [0, 30]; channel 1: -2*[0,3] + 2*[0,3] = [-6, 6];
     * union [-6, 30] -> i6 */
    expect_range(c0, -6, 30);
    expect_type(c0, true, 6);
    fx_free(&fx);

    /* with a sumpool, padding brings zeros: x = u2 + 2 is in [2, 5], a 2x2
     * window padded by 1 holds between 1 and 4 values: [0, 20] (not [8, 20]) */
    fx_init(&fx);
    x = fx_in(&fx, 0, 2, 3, DIMS(1, 2, 2));
    ir_op *x2 = fx_b2(&fx, IR_ADD, 2, x, fx_int(&fx, 2));
    ir_op *p = ir_build_pool(fx.f, &fx.d, IR_SUMPOOL2D, fx_at(&fx, 3), x2, (int[]){2, 2},
                             (int[]){1, 1}, (int[]){1, 1});
    fx_out(&fx, 0, p);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_BITWIDTH));
    expect_range(x2, 2, 5);
    expect_range(p, 0, 20);
    fx_free(&fx);
}

static ir_op *body_relu_minus_5(ir_func *b, diag_ctx *d, ir_op *v) {
    ir_op *s = ir_build2(b, d, IR_SUB, v->loc, v, ir_build_scalar_int(b, v->loc, 5));
    return ir_build1(b, d, IR_RELU, v->loc, s);
}

static void test_unification_widens_tlu_operand(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 3, 1, DIMS(2)); /* u3 [0, 7] */
    ir_op *y = fx_in(&fx, 1, 8, 1, DIMS(2)); /* u8 [0, 255] */
    ir_op *t = fx_tlu(&fx, 2, x, body_relu_minus_5);
    ir_op *z = fx_b2(&fx, IR_ADD, 3, x, y);
    ir_op *v = fx_in(&fx, 2, 1, 1, DIMS(2)); /* u1 */
    ir_op *u = fx_b2(&fx, IR_ADD, 4, t, v);
    fx_out(&fx, 0, u);
    fx_out(&fx, 1, z);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_BITWIDTH));
    /* z = x + y in [0, 262] -> u9, and x is added into it: the tlu's operand
     * x is encoded on 9 bits although its own range [0, 7] needs 3 */
    expect_range(z, 0, 262);
    expect_range(x, 0, 7);
    expect_type(x, false, 9);
    expect_type(y, false, 9);
    CU_ASSERT_EQUAL(t->args[0], x);
    CU_ASSERT_EQUAL(pass_tlu_precision(t), 9);
    /* the tlu result starts its own component: relu(x - 5) in [0, 2]; with
     * v (u1) added: [0, 3] -> u2 for t, v and u, not 9 bits */
    expect_range(t, 0, 2);
    expect_range(u, 0, 3);
    expect_type(t, false, 2);
    expect_type(u, false, 2);
    expect_type(v, false, 2);
    /* the table covers x's range, not its encoding */
    CU_ASSERT_EQUAL(t->tlu->ntables, 1);
    CU_ASSERT_EQUAL(t->tlu->dom_lo, 0);
    CU_ASSERT_EQUAL(t->tlu->dom_count, 8);
    CU_ASSERT_PTR_NULL(t->tlu->table_of);
    static const int64_t want[8] = {0, 0, 0, 0, 0, 0, 1, 2};
    for (int i = 0; i < 8; i++) CU_ASSERT_EQUAL(t->tlu->tables[i], want[i]);
    /* the body's input shows the operand's encoding */
    CU_ASSERT_EQUAL(t->tlu->body->first->type.bits, 9);
    fx_free(&fx);
}

static void test_signed_member_makes_component_signed(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 4, 0, NULL);  /* [0, 15] */
    ir_op *n = fx_b1(&fx, IR_NEG, 2, x);   /* [-15, 0] */
    ir_op *y = fx_in(&fx, 1, 2, 0, NULL);  /* [0, 3] */
    ir_op *s = fx_b2(&fx, IR_SUB, 3, y, x); /* [-15, 3] */
    fx_out(&fx, 0, n);
    fx_out(&fx, 1, s);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_BITWIDTH));
    expect_range(n, -15, 0);
    expect_range(s, -15, 3);
    /* signed: [0, 15] needs i5 (-16..15); so do [-15, 0] and [-15, 3] */
    expect_type(x, true, 5);
    expect_type(n, true, 5);
    expect_type(y, true, 5);
    expect_type(s, true, 5);
    fx_free(&fx);
}

static void test_separate_components_keep_their_widths(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 2, 0, NULL);
    ir_op *y = fx_in(&fx, 1, 7, 0, NULL);
    ir_op *t = fx_tlu(&fx, 2, y, body_relu_minus_5); /* [0, 122] */
    fx_out(&fx, 0, fx_b2(&fx, IR_MUL, 3, x, fx_int(&fx, 3))); /* [0, 9] */
    fx_out(&fx, 1, t);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_BITWIDTH));
    expect_type(x, false, 4);
    expect_type(y, false, 7);
    expect_type(t, false, 7);
    expect_range(t, 0, 122);
    /* constants keep their own width */
    expect_type(fx_output_arg(&fx, 0)->args[1], false, 2);
    fx_free(&fx);
}

static ir_op *body_times_c(ir_func *b, diag_ctx *d, ir_op *v) {
    ir_type t = {.rank = 1, .dims = {3}};
    ir_op *c = ir_build_const_int(b, v->loc, t, (const int64_t[]){1, 3, 1});
    return ir_build2(b, d, IR_MUL, v->loc, v, c);
}

static void test_per_element_tables(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 2, 1, DIMS(3));
    ir_op *t = fx_tlu(&fx, 2, x, body_times_c);
    fx_out(&fx, 0, t);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_BITWIDTH));
    /* constants [1, 3, 1]: elements 0 and 2 share a table */
    CU_ASSERT_EQUAL_FATAL(t->tlu->ntables, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t->tlu->table_of);
    CU_ASSERT_EQUAL(t->tlu->table_of[0], 0);
    CU_ASSERT_EQUAL(t->tlu->table_of[1], 1);
    CU_ASSERT_EQUAL(t->tlu->table_of[2], 0);
    static const int64_t want[8] = {0, 1, 2, 3, 0, 3, 6, 9};
    for (int i = 0; i < 8; i++) CU_ASSERT_EQUAL(t->tlu->tables[i], want[i]);
    expect_range(t, 0, 9);
    fx_free(&fx);
}

static void test_round_resolved_from_range(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 7, 0, NULL); /* [0, 127]: 7 bits */
    ir_op *r = ir_build_round(fx.f, &fx.d, fx_at(&fx, 2), x, 3, -1);
    ir_op *t = fx_tlu(&fx, 3, r, body_relu_minus_5);
    fx_out(&fx, 0, t);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_BITWIDTH));
    /* keep 3 of 7 bits: shift 4; round(127) = ((127 + 8) >> 4) << 4 = 128:
     * [0, 128] -> u8, and x shares it */
    CU_ASSERT_EQUAL(r->round_shift, 4);
    expect_range(r, 0, 128);
    expect_type(r, false, 8);
    expect_type(x, false, 8);
    /* the table holds multiples of 16 only: 9 entries */
    CU_ASSERT_EQUAL(t->tlu->dom_shift, 4);
    CU_ASSERT_EQUAL(t->tlu->dom_count, 9);
    CU_ASSERT_EQUAL(t->tlu->tables[8], 123);
    CU_ASSERT_EQUAL(pass_tlu_precision(t), 4);
    fx_free(&fx);
}

static void test_two_value_forms_exact(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 4, 0, NULL), *y = fx_in_signed(&fx, 1, 3, 0, NULL);
    fx_out(&fx, 0, fx_b2(&fx, IR_MUL, 2, x, y));
    fx_out(&fx, 1, fx_b2(&fx, IR_MAX, 3, x, y));
    fx_out(&fx, 2, fx_b2(&fx, IR_MIN, 4, x, y));
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_BITWIDTH));
    /* x in [0, 15], y in [-4, 3]:
     *   x*y = T(x+y) - T(x-y) with T(v) = floor(v^2/4): T(x+y) in [0, 81],
     *   T(x-y) in [0, 90]; intervals alone give [-90, 81], the product is
     *   [-60, 45];
     *   max = y + relu(x - y): intervals give [-4, 3] + [0, 19] = [-4, 22],
     *   the maximum is [0, 15];
     *   min = x - relu(x - y): [0, 15] - [0, 19] = [-19, 15]; min is [-4, 3] */
    expect_range(fx_output_arg(&fx, 0), -60, 45);
    expect_range(fx_output_arg(&fx, 1), 0, 15);
    expect_range(fx_output_arg(&fx, 2), -4, 3);
    fx_free(&fx);
}

static void test_range_beyond_64_bits(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 62, 0, NULL);
    fx_out(&fx, 0, fx_b2(&fx, IR_MUL, 5, x, fx_int(&fx, 4)));
    CU_ASSERT_FALSE(pass_run(fx.m, &fx.d, NULL, PASS_STAGE_BITWIDTH));
    CU_ASSERT_PTR_NOT_NULL(strstr(fx_diag(&fx), "t.cml:5:1: error: value range exceeds 64 bits"));
    fx_free(&fx);
}

static void test_wide_tlu_bounded_through_body(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 20, 0, NULL);
    ir_op *t = fx_tlu(&fx, 2, x, body_relu_minus_5);
    fx_out(&fx, 0, t);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_BITWIDTH));
    /* 2^20 inputs: not tabulated; relu(v - 5) on [0, 2^20 - 1] */
    CU_ASSERT_EQUAL(t->tlu->ntables, 0);
    expect_range(t, 0, (1 << 20) - 6);
    fx_free(&fx);
}

static void build_mixed(fixture *fx) {
    /* a bit of everything on small inputs, for the width check */
    ir_op *x = fx_in_signed(fx, 0, 3, 1, DIMS(3)), *y = fx_in(fx, 1, 2, 1, DIMS(3));
    ir_op *d = fx_b2(fx, IR_SUB, 2, fx_b2(fx, IR_MUL, 2, x, fx_const(fx, 1, DIMS(3), VALS(3, -2, 1))), y);
    ir_op *t = fx_b1(fx, IR_ABS, 3, fx_b2(fx, IR_SUB, 3, d, fx_int(fx, 4)));
    ir_op *s = ir_build_sum(fx->f, &fx->d, fx_at(fx, 4), fx_b2(fx, IR_ADD, 4, t, d), -1);
    fx_out(fx, 0, s);
    fx_out(fx, 1, fx_b1(fx, IR_NEG, 5, t));
}

static void test_widths_hold_on_every_input(void) {
    /* i3[3] x u2[3]: 8^3 * 4^3 combinations, each value checked against
     * its inferred type by the interpreter */
    CU_ASSERT_EQUAL(fx_equiv(build_mixed, NULL, PASS_STAGE_BITWIDTH, 40000), 32768);
}

static void test_calibration_ranges(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 8, 1, DIMS(2));
    ir_op *s = ir_build_sum(fx.f, &fx.d, fx_at(&fx, 2), x, -1);
    ir_op *t = fx_tlu(&fx, 3, s, body_relu_minus_5);
    fx_out(&fx, 0, t);
    /* rows [1, 2], [10, 3], [4, 4]: sums 3, 13, 8 */
    ir_tensor rows[3];
    static const int64_t v[3][2] = {{1, 2}, {10, 3}, {4, 4}};
    for (int r = 0; r < 3; r++) {
        CU_ASSERT_FATAL(ir_tensor_alloc(&rows[r], false, 1, DIMS(2)));
        rows[r].i[0] = v[r][0];
        rows[r].i[1] = v[r][1];
    }
    pass_opts o = {.calib_inputs = rows, .calib_rows = 3};
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, &o, PASS_STAGE_BITWIDTH));
    /* the input keeps its declared range (a client may send any u8), the
     * rest is observed */
    expect_range(x, 0, 255);
    expect_range(s, 3, 13);
    /* the table covers the observed domain [3, 13]: relu(v - 5) in [0, 8] */
    CU_ASSERT_EQUAL(t->tlu->dom_lo, 3);
    CU_ASSERT_EQUAL(t->tlu->dom_count, 11);
    expect_range(t, 0, 8);
    expect_type(s, false, 8); /* shares x's encoding */
    expect_type(t, false, 4);
    for (int r = 0; r < 3; r++) ir_tensor_free(&rows[r]);
    fx_free(&fx);
}

static void test_calibration_resolves_rounds(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 8, 0, NULL);
    ir_op *r1 = ir_build_round(fx.f, &fx.d, fx_at(&fx, 2), x, 2, -1);
    ir_op *y = fx_b2(&fx, IR_ADD, 3, r1, x);
    ir_op *r2 = ir_build_round(fx.f, &fx.d, fx_at(&fx, 4), y, 3, -1);
    fx_out(&fx, 0, fx_tlu(&fx, 5, r2, body_relu_minus_5));
    ir_tensor rows[2];
    static const int64_t v[2] = {5, 60};
    for (int r = 0; r < 2; r++) {
        CU_ASSERT_FATAL(ir_tensor_alloc(&rows[r], false, 0, NULL));
        rows[r].i[0] = v[r];
    }
    pass_opts o = {.calib_inputs = rows, .calib_rows = 2};
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, &o, PASS_STAGE_BITWIDTH));
    /* x observed in [5, 60]: 6 bits, keep 2: shift 4; r1 in {0, 64};
     * y = r1 + x in {5, 124}: 7 bits, keep 3: shift 4 */
    CU_ASSERT_EQUAL(r1->round_shift, 4);
    expect_range(r1, 0, 64);
    expect_range(y, 5, 124);
    CU_ASSERT_EQUAL(r2->round_shift, 4);
    expect_range(r2, 0, 128);
    for (int r = 0; r < 2; r++) ir_tensor_free(&rows[r]);
    fx_free(&fx);
}

CU_TestInfo cml_tests_bitwidth[] = {
    {"sum_and_add", test_sum_and_add},
    {"matmul_column_bounds", test_matmul_column_bounds},
    {"matmul_constant_left_and_dot", test_matmul_constant_left_and_dot},
    {"clear_weights_use_declared_range", test_clear_weights_use_declared_range},
    {"conv_per_channel_and_padding", test_conv_per_channel_and_padding},
    {"unification_widens_tlu_operand", test_unification_widens_tlu_operand},
    {"signed_member_makes_component_signed", test_signed_member_makes_component_signed},
    {"separate_components_keep_their_widths", test_separate_components_keep_their_widths},
    {"per_element_tables", test_per_element_tables},
    {"round_resolved_from_range", test_round_resolved_from_range},
    {"two_value_forms_exact", test_two_value_forms_exact},
    {"range_beyond_64_bits", test_range_beyond_64_bits},
    {"wide_tlu_bounded_through_body", test_wide_tlu_bounded_through_body},
    {"widths_hold_on_every_input", test_widths_hold_on_every_input},
    {"calibration_ranges", test_calibration_ranges},
    {"calibration_resolves_rounds", test_calibration_resolves_rounds},
    CU_TEST_INFO_NULL,
};
