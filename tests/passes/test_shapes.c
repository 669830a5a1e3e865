/* test_shapes.c — the shapes pass: encrypted operands of elementwise ops get
 * an explicit broadcast to the result's shape (one per value and shape),
 * clear ones do not, and type errors come back with their location. */
#include "passes_test.h"

static void test_broadcast_inserted_and_shared(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 4, 1, DIMS(3));
    ir_op *c = fx_const(&fx, 2, DIMS(2, 3), VALS(1, 2, 3, 4, 5, 6));
    ir_op *a = fx_b2(&fx, IR_ADD, 2, x, c);
    ir_op *m = fx_b2(&fx, IR_MUL, 3, c, x);
    fx_out(&fx, 0, a);
    fx_out(&fx, 1, m);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_PARSED));
    CU_ASSERT_EQUAL(a->args[0]->code, IR_BROADCAST);
    CU_ASSERT_EQUAL(a->args[0]->args[0], x);
    CU_ASSERT_EQUAL(a->args[0]->type.rank, 2);
    CU_ASSERT_EQUAL(a->args[0]->type.dims[0], 2);
    CU_ASSERT_EQUAL(a->args[0]->type.dims[1], 3);
    CU_ASSERT_TRUE(a->args[0]->type.enc);
    /* the same broadcast serves both uses, so fusion sees one root */
    CU_ASSERT_EQUAL(m->args[1], a->args[0]);
    CU_ASSERT_EQUAL(fx_count(&fx, IR_BROADCAST), 1);
    /* the clear operand is left to numpy broadcasting */
    CU_ASSERT_EQUAL(a->args[1], c);
    CU_ASSERT_TRUE(ir_verify(fx.m, &fx.d, false));
    fx_free(&fx);
}

static void test_clear_operand_not_broadcast(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 4, 2, DIMS(2, 3));
    ir_op *c = fx_const(&fx, 1, DIMS(3), VALS(1, 2, 3));
    ir_op *a = fx_b2(&fx, IR_SUB, 2, c, x);
    fx_out(&fx, 0, a);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_PARSED));
    CU_ASSERT_EQUAL(fx_count(&fx, IR_BROADCAST), 0);
    CU_ASSERT_EQUAL(a->args[0], c);
    CU_ASSERT_EQUAL(a->args[1], x);
    fx_free(&fx);
}

static void test_scalar_encrypted_broadcast(void) {
    /* enc scalar y + enc vector x: y is broadcast, x is not */
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 3, 1, DIMS(4));
    ir_op *y = fx_in(&fx, 1, 3, 0, NULL);
    ir_op *a = fx_b2(&fx, IR_ADD, 2, x, y);
    fx_out(&fx, 0, a);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_PARSED));
    CU_ASSERT_EQUAL(a->args[0], x);
    CU_ASSERT_EQUAL(a->args[1]->code, IR_BROADCAST);
    CU_ASSERT_EQUAL(a->args[1]->type.dims[0], 4);
    /* and the broadcast sits between y and the add */
    bool seen_y = false, ok = false;
    ir_foreach(op, fx.f) {
        if (op == y) seen_y = true;
        if (op == a->args[1]) ok = seen_y;
    }
    CU_ASSERT_TRUE(ok);
    fx_free(&fx);
}

static void test_type_error_has_location(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 4, 1, DIMS(3));
    ir_op *y = fx_in(&fx, 1, 4, 1, DIMS(4));
    /* bypass the builder, as a buggy frontend would */
    ir_op *args[2] = {x, y};
    ir_op *a = ir_op_new(fx.f, IR_ADD, fx_at(&fx, 7), 2, args);
    a->type = x->type;
    ir_build_output(fx.f, fx_at(&fx, 8), "t", 0, a);
    CU_ASSERT_FALSE(pass_run(fx.m, &fx.d, NULL, PASS_STAGE_PARSED));
    CU_ASSERT_PTR_NOT_NULL(strstr(fx_diag(&fx), "t.cml:7:1: error: cannot broadcast shapes [3] and [4] in 'add'"));
    fx_free(&fx);
}

static void test_stage_names(void) {
    pass_stage s;
    CU_ASSERT_TRUE(pass_stage_from_name("parsed", &s) && s == PASS_STAGE_PARSED);
    CU_ASSERT_TRUE(pass_stage_from_name("fused", &s) && s == PASS_STAGE_FUSED);
    CU_ASSERT_TRUE(pass_stage_from_name("bitwidth", &s) && s == PASS_STAGE_BITWIDTH);
    CU_ASSERT_TRUE(pass_stage_from_name("rounded", &s) && s == PASS_STAGE_ROUNDED);
    CU_ASSERT_TRUE(pass_stage_from_name("noise", &s) && s == PASS_STAGE_NOISE);
    CU_ASSERT_FALSE(pass_stage_from_name("lowered", &s));
    CU_ASSERT_FALSE(pass_stage_from_name(NULL, &s));
    CU_ASSERT_STRING_EQUAL(pass_stage_name(PASS_STAGE_ROUNDED), "rounded");
}

static void test_round_to_out_of_range(void) {
    fixture fx;
    fx_init(&fx);
    fx_out(&fx, 0, fx_in(&fx, 0, 4, 0, NULL));
    pass_opts o = {.round_to = 17};
    CU_ASSERT_FALSE(pass_run(fx.m, &fx.d, &o, PASS_STAGE_NOISE));
    CU_ASSERT_PTR_NOT_NULL(strstr(fx_diag(&fx), "between 1 and 16, got 17"));
    fx_free(&fx);
}

CU_TestInfo cml_tests_shapes[] = {
    {"broadcast_inserted_and_shared", test_broadcast_inserted_and_shared},
    {"clear_operand_not_broadcast", test_clear_operand_not_broadcast},
    {"scalar_encrypted_broadcast", test_scalar_encrypted_broadcast},
    {"type_error_has_location", test_type_error_has_location},
    {"stage_names", test_stage_names},
    {"round_to_out_of_range", test_round_to_out_of_range},
    CU_TEST_INFO_NULL,
};
