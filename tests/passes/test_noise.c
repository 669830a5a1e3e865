/* test_noise.c — norm2 (Concrete's MANP) of encrypted values, checked
 * against hand-computed squared 2-norms, and the --stats figures (PBS
 * count, precisions, JSON form) of the final IR. */
#include "passes_test.h"

#include <math.h>

static void test_matmul_column_norms(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 2, 1, DIMS(2));
    ir_op *y = fx_b2(&fx, IR_MATMUL, 2, x, fx_const(&fx, 2, DIMS(2, 2), VALS(1, -2, 3, 4)));
    fx_out(&fx, 0, y);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_NOISE));
    /* W = [[1, -2], [3, 4]]: column 0: 1 + 9 = 10; column 1: 4 + 16 = 20 */
    CU_ASSERT_DOUBLE_EQUAL(x->norm2, 1, 0);
    CU_ASSERT_DOUBLE_EQUAL(y->norm2, 20, 0);
    fx_free(&fx);
}

static ir_op *body_relu(ir_func *b, diag_ctx *d, ir_op *v) {
    return ir_build1(b, d, IR_RELU, v->loc, ir_build2(b, d, IR_SUB, v->loc, v,
                                                      ir_build_scalar_int(b, v->loc, 3)));
}

static void test_linear_rules(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 2, 1, DIMS(2)), *y = fx_in(&fx, 1, 2, 1, DIMS(2));
    ir_op *a = fx_b2(&fx, IR_ADD, 2, x, y);                                        /* 1 + 1 = 2 */
    ir_op *m = fx_b2(&fx, IR_MUL, 3, a, fx_const(&fx, 1, DIMS(2), VALS(2, -3)));  /* 9 * 2 = 18 */
    ir_op *s = ir_build_sum(fx.f, &fx.d, fx_at(&fx, 4), m, -1);                  /* 2 * 18 = 36 */
    ir_op *n = fx_b1(&fx, IR_NEG, 5, fx_b2(&fx, IR_SUB, 5, s, fx_int(&fx, 1)));   /* 36 */
    ir_op *t = fx_tlu(&fx, 6, n, body_relu);                                      /* fresh: 1 */
    /* (t + 2t would be one function of s, fused into one tlu; y is another root) */
    ir_op *u = fx_b2(&fx, IR_ADD, 7, t, fx_b2(&fx, IR_MUL, 7, y, fx_int(&fx, 2))); /* 1 + 4 = 5 */
    ir_op *r = ir_build_reshape(fx.f, &fx.d, fx_at(&fx, 8), x, 2, DIMS(1, 2));
    ir_op *c = ir_build_concat(fx.f, &fx.d, fx_at(&fx, 8), 2,
                               (ir_op *[]){r, ir_build_reshape(fx.f, &fx.d, fx_at(&fx, 8), m, 2, DIMS(1, 2))}, 0);
    fx_out(&fx, 0, u);
    fx_out(&fx, 1, c);
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_NOISE));
    CU_ASSERT_DOUBLE_EQUAL(a->norm2, 2, 0);
    CU_ASSERT_DOUBLE_EQUAL(m->norm2, 18, 0);
    CU_ASSERT_DOUBLE_EQUAL(s->norm2, 36, 0);
    /* the tlu now reads n's operand chain: s - 1 then neg were fused into
     * its body, so its input is s: 36 */
    ir_op *tt = fx_find(&fx, IR_TLU);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tt);
    CU_ASSERT_EQUAL(tt->args[0], s);
    CU_ASSERT_DOUBLE_EQUAL(tt->norm2, 1, 0);
    CU_ASSERT_DOUBLE_EQUAL(fx_output_arg(&fx, 0)->norm2, 5, 0);
    /* concat: the larger of 1 and 18 */
    CU_ASSERT_DOUBLE_EQUAL(fx_output_arg(&fx, 1)->norm2, 18, 0);
    fx_free(&fx);
}

static void test_conv_and_round(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 4, 3, DIMS(1, 3, 3));
    ir_op *w = fx_const(&fx, 4, DIMS(2, 1, 2, 2), VALS(1, 2, 3, 4, -1, -1, 2, 0));
    ir_op *c = ir_build_conv2d(fx.f, &fx.d, fx_at(&fx, 2), x, w, (int[]){1, 1}, (int[]){0, 0});
    ir_op *t = fx_tlu(&fx, 3, c, body_relu);
    fx_out(&fx, 0, t);
    pass_opts o = {.round_to = 4};
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, &o, PASS_STAGE_NOISE));
    /* channel 0: 1 + 4 + 9 + 16 = 30; channel 1: 1 + 1 + 4 = 6 -> 30 */
    CU_ASSERT_DOUBLE_EQUAL(c->norm2, 30, 0);
    /* c in [-30, 150]: i9, 181 points within half of 512: the relu folds to
     * 8 bits; round_to 4 inserts a round of 8 - 4 = 4 bits, leaving 13
     * points [-32, 160] step 16 in 5 bits, which fold to 4. Its norm2 is
     * 30 + 1 */
    ir_op *r = t->args[0];
    CU_ASSERT_EQUAL_FATAL(r->code, IR_ROUND);
    CU_ASSERT_DOUBLE_EQUAL(r->norm2, 31, 0);

    pass_stats s;
    CU_ASSERT_TRUE_FATAL(pass_stats_collect(fx.m, &s));
    /* 2 x 2 x 2 outputs: 8 tlu PBS + 2 x 8 for the round */
    CU_ASSERT_EQUAL(s.ntlu, 1);
    CU_ASSERT_EQUAL(s.pbs_count, 24);
    CU_ASSERT_EQUAL(s.rounds, 1);
    CU_ASSERT_EQUAL(s.rounds_inserted, 1);
    /* the rounded relu reads 5 bits, its 13 points fill at most half of
     * them: it folds to 4 bits, reading 2x (norm2 4 * 31) */
    CU_ASSERT_EQUAL(s.max_precision, 4);
    CU_ASSERT_EQUAL(s.tlus[0].precision, 4);
    CU_ASSERT_TRUE(s.tlus[0].folded);
    CU_ASSERT_EQUAL(s.tlus[0].elements, 8);
    CU_ASSERT_EQUAL(s.tlus[0].loc.line, 3);
    CU_ASSERT_DOUBLE_EQUAL(s.tlus[0].norm2, 4 * 31, 0);
    /* the round's PBS read c lifted by 2^(9 - 4), the second one plus the
     * first's output (lifted by its table, not by a product): 30 * 4^5 + 1,
     * all but that 1 on the inputs */
    CU_ASSERT_EQUAL(r->type.bits, 9);
    CU_ASSERT_EQUAL(r->round_shift, 4);
    CU_ASSERT_DOUBLE_EQUAL(s.max_norm2, 30 * 1024 + 1, 0);
    pass_pbs b;
    CU_ASSERT_TRUE_FATAL(pass_pbs_of(r, &b));
    CU_ASSERT_DOUBLE_EQUAL(b.norm2_pbs, 0, 0);
    CU_ASSERT_DOUBLE_EQUAL(b.norm2_light, 1, 0);
    CU_ASSERT_DOUBLE_EQUAL(b.norm2_in, 30 * 1024, 0);
    CU_ASSERT_DOUBLE_EQUAL(r->norm2_pbs, 0, 0);
    CU_ASSERT_DOUBLE_EQUAL(r->norm2_light, 1, 0); /* the round's own PBS output */
    CU_ASSERT_DOUBLE_EQUAL(r->norm2_in, 30, 0);
    CU_ASSERT_DOUBLE_EQUAL(s.max_output_norm2, 1, 0);
    fx_free(&fx);
}

static char *print_stats(const pass_stats *s, bool json) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pass_stats_print(f, s, json);
    fclose(f);
    return buf;
}

static void test_stats_json_and_table(void) {
    fixture fx;
    fx_init(&fx);
    diag_source src = {"dir/\"odd\"\\name.cml", NULL};
    ir_op *x = fx_in(&fx, 0, 3, 1, DIMS(4));
    ir_op *t = fx_tlu(&fx, 2, x, body_relu);
    t->loc = (diag_loc){&src, 12, 7};
    fx_out(&fx, 0, t);
    fx_out(&fx, 1, fx_b2(&fx, IR_MUL, 3, x, fx_int(&fx, 2)));
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_NOISE));
    /* x and 2x in [0, 14] share u4: the tlu reads 4 bits, but x's 8
     * values fill half of them, so it folds to 3, with norm2 4 * 1 */
    pass_stats s;
    CU_ASSERT_TRUE_FATAL(pass_stats_collect(fx.m, &s));
    char *json = print_stats(&s, true);
    CU_ASSERT_STRING_EQUAL(json,
                           "{\"tlu_count\": 1, \"pbs_count\": 4, \"max_precision\": 3, "
                           "\"max_norm2\": 4, \"max_output_norm2\": 4, \"rounds\": 0, "
                           "\"rounds_inserted\": 0, \"tlus\": [{\"location\": "
                           "\"dir/\\\"odd\\\"\\\\name.cml:12:7\", \"precision\": 3, "
                           "\"folded\": true, \"elements\": 4, \"norm2\": 4}]}\n");
    free(json);
    char *table = print_stats(&s, false);
    CU_ASSERT_PTR_NOT_NULL(strstr(table, "PBS count:          4\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(table, "max PBS precision:  3 bits\n"));
    free(table);
    fx_free(&fx);
}

static void test_linear_circuit_has_no_pbs(void) {
    fixture fx;
    fx_init(&fx);
    ir_op *x = fx_in(&fx, 0, 3, 1, DIMS(4));
    fx_out(&fx, 0, fx_b2(&fx, IR_DOT, 2, x, fx_const(&fx, 1, DIMS(4), VALS(1, 2, 2, 4))));
    CU_ASSERT_TRUE_FATAL(fx_run(&fx, NULL, PASS_STAGE_NOISE));
    pass_stats s;
    CU_ASSERT_TRUE_FATAL(pass_stats_collect(fx.m, &s));
    CU_ASSERT_EQUAL(s.ntlu, 0);
    CU_ASSERT_EQUAL(s.pbs_count, 0);
    /* 1 + 4 + 4 + 16 */
    CU_ASSERT_DOUBLE_EQUAL(s.max_output_norm2, 25, 0);
    char *json = print_stats(&s, true);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"tlus\": []}"));
    free(json);
    fx_free(&fx);
}

CU_TestInfo cml_tests_noise[] = {
    {"matmul_column_norms", test_matmul_column_norms},
    {"linear_rules", test_linear_rules},
    {"conv_and_round", test_conv_and_round},
    {"stats_json_and_table", test_stats_json_and_table},
    {"linear_circuit_has_no_pbs", test_linear_circuit_has_no_pbs},
    CU_TEST_INFO_NULL,
};
