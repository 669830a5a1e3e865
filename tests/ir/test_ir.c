/* test_ir.c — the IR builder's type inference, the verifier and the text
 * form: shapes and errors computed by hand. */
#include "cml_test.h"
#include "ir.h"

#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    arena a;
    ir_module *m;
    diag_ctx d;
    char *buf;
    size_t len;
    FILE *diag_out;
} fixture;

static void fx_init(fixture *fx) {
    memset(fx, 0, sizeof *fx);
    arena_init(&fx->a);
    fx->m = ir_module_new(&fx->a, IR_UNIT_CIRCUIT, "t");
    fx->diag_out = open_memstream(&fx->buf, &fx->len);
    diag_init(&fx->d, fx->diag_out);
}

static const char *fx_diag(fixture *fx) {
    fflush(fx->diag_out);
    return fx->buf ? fx->buf : "";
}

static void fx_free(fixture *fx) {
    fclose(fx->diag_out);
    free(fx->buf);
    arena_free(&fx->a);
}

static ir_type enc_u(int bits, int rank, const int64_t *dims) {
    ir_type t = {.enc = true, .bits = bits, .rank = rank};
    for (int i = 0; i < rank; i++) t.dims[i] = dims[i];
    return t;
}

static char *print_ir(ir_module *m, unsigned flags) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ir_print(f, m, flags | IR_PRINT_NOLOC);
    fclose(f);
    return buf;
}

static void test_broadcast_and_matmul_shapes(void) {
    fixture fx;
    fx_init(&fx);
    ir_func *f = fx.m->main;
    int64_t d3[] = {3}, d23[] = {2, 3}, d34[] = {3, 4};
    ir_op *x = ir_build_input(f, (diag_loc){0}, "x", 0, enc_u(4, 1, d3));
    ir_type ct = {.rank = 2, .dims = {3, 4}};
    int64_t w[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -12};
    ir_op *W = ir_build_const_int(f, (diag_loc){0}, ct, w);
    CU_ASSERT_EQUAL(W->type.bits, 5); /* [-12, 11] -> i5 */
    CU_ASSERT_TRUE(W->type.is_signed);
    ir_op *y = ir_build2(f, &fx.d, IR_MATMUL, (diag_loc){0}, x, W);
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    CU_ASSERT_EQUAL(y->type.rank, 1);
    CU_ASSERT_EQUAL(y->type.dims[0], 4);
    CU_ASSERT_TRUE(y->type.enc);
    /* [2,3] + [3] broadcasts to [2,3]; [2,3] + [3,4] does not */
    ir_type ct2 = {.rank = 2, .dims = {2, 3}};
    int64_t six[6] = {0};
    ir_op *c = ir_build_const_int(f, (diag_loc){0}, ct2, six);
    ir_op *s = ir_build2(f, &fx.d, IR_ADD, (diag_loc){0}, c, x);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->type.rank, 2);
    CU_ASSERT_EQUAL(s->type.dims[0], 2);
    CU_ASSERT_EQUAL(fx.d.errors, 0);
    CU_ASSERT_PTR_NULL(ir_build2(f, &fx.d, IR_ADD, (diag_loc){0}, c, W));
    CU_ASSERT_EQUAL(fx.d.errors, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(fx_diag(&fx), "cannot broadcast shapes [2,3] and [3,4]"));
    (void)d23;
    (void)d34;
    fx_free(&fx);
}

static void test_matmul_mismatch_reports_location(void) {
    fixture fx;
    fx_init(&fx);
    ir_func *f = fx.m->main;
    diag_source src = {"m.cml", "y = x @ W;\n"};
    diag_loc at = {&src, 1, 7};
    int64_t d3[] = {3};
    ir_op *x = ir_build_input(f, at, "x", 0, enc_u(4, 1, d3));
    ir_type ct = {.rank = 2, .dims = {2, 2}};
    int64_t w[4] = {1, 2, 3, 4};
    ir_op *W = ir_build_const_int(f, at, ct, w);
    CU_ASSERT_PTR_NULL(ir_build2(f, &fx.d, IR_MATMUL, at, x, W));
    CU_ASSERT_PTR_NOT_NULL(strstr(fx_diag(&fx),
                                  "m.cml:1:7: error: matmul inner dimensions differ: [3] @ [2,2]"));
    fx_free(&fx);
}

static void test_structural_shapes(void) {
    fixture fx;
    fx_init(&fx);
    ir_func *f = fx.m->main;
    int64_t d234[] = {2, 3, 4};
    ir_op *x = ir_build_input(f, (diag_loc){0}, "x", 0, enc_u(3, 3, d234));
    ir_op *s = ir_build_sum(f, &fx.d, (diag_loc){0}, x, 1);
    CU_ASSERT_EQUAL(s->type.rank, 2);
    CU_ASSERT_EQUAL(s->type.dims[1], 4);
    int64_t perm[] = {2, 0, 1};
    ir_op *t = ir_build_transpose(f, &fx.d, (diag_loc){0}, x, perm);
    CU_ASSERT_EQUAL(t->type.dims[0], 4);
    CU_ASSERT_EQUAL(t->type.dims[2], 3);
    int64_t b[] = {0, 1, 0}, e[] = {2, 3, 4}, st[] = {1, 1, 2};
    ir_op *sl = ir_build_slice(f, &fx.d, (diag_loc){0}, x, b, e, st);
    CU_ASSERT_EQUAL(sl->type.dims[1], 2);
    CU_ASSERT_EQUAL(sl->type.dims[2], 2);
    int64_t r[] = {6, 4};
    CU_ASSERT_PTR_NOT_NULL(ir_build_reshape(f, &fx.d, (diag_loc){0}, x, 2, r));
    int64_t bad[] = {5, 5};
    CU_ASSERT_PTR_NULL(ir_build_reshape(f, &fx.d, (diag_loc){0}, x, 2, bad));
    ir_op *args[2] = {x, x};
    ir_op *c = ir_build_concat(f, &fx.d, (diag_loc){0}, 2, args, 2);
    CU_ASSERT_EQUAL(c->type.dims[2], 8);
    /* conv2d: [2,3,4] with [5,2,2,2], stride 1, pad 1 -> [5,4,5] */
    ir_type wt = {.rank = 4, .dims = {5, 2, 2, 2}};
    int64_t w[40] = {0};
    ir_op *W = ir_build_const_int(f, (diag_loc){0}, wt, w);
    ir_op *cv = ir_build_conv2d(f, &fx.d, (diag_loc){0}, x, W, (int[]){1, 1}, (int[]){1, 1});
    CU_ASSERT_PTR_NOT_NULL_FATAL(cv);
    CU_ASSERT_EQUAL(cv->type.dims[0], 5);
    CU_ASSERT_EQUAL(cv->type.dims[1], 4);
    CU_ASSERT_EQUAL(cv->type.dims[2], 5);
    ir_op *mp = ir_build_pool(f, &fx.d, IR_MAXPOOL2D, (diag_loc){0}, x, (int[]){2, 2},
                              (int[]){2, 2}, (int[]){0, 0});
    CU_ASSERT_EQUAL(mp->type.dims[1], 1);
    CU_ASSERT_EQUAL(mp->type.dims[2], 2);
    CU_ASSERT_EQUAL(fx.d.errors, 1);
    fx_free(&fx);
}

static void test_bits_for_range(void) {
    bool sg;
    CU_ASSERT_EQUAL(ir_bits_for_range(0, 0, &sg), 1);
    CU_ASSERT_EQUAL(ir_bits_for_range(0, 45, &sg), 6);
    CU_ASSERT_FALSE(sg);
    CU_ASSERT_EQUAL(ir_bits_for_range(0, 64, &sg), 7);
    CU_ASSERT_EQUAL(ir_bits_for_range(-6, 12, &sg), 5);
    CU_ASSERT_TRUE(sg);
    CU_ASSERT_EQUAL(ir_bits_for_range(-8, 7, &sg), 4);
    CU_ASSERT_EQUAL(ir_bits_for_range(-9, 7, &sg), 5);
    CU_ASSERT_EQUAL(ir_bits_for_range(-1, 0, &sg), 2);
    ir_type t = {.bits = 5, .is_signed = true};
    int64_t lo, hi;
    ir_type_range(&t, &lo, &hi);
    CU_ASSERT_EQUAL(lo, -16);
    CU_ASSERT_EQUAL(hi, 15);
}

static void test_print_and_verify(void) {
    fixture fx;
    fx_init(&fx);
    ir_func *f = fx.m->main;
    int64_t d3[] = {3};
    ir_op *x = ir_build_input(f, (diag_loc){0}, "x", 0, enc_u(4, 1, d3));
    ir_op *s = ir_build_sum(f, &fx.d, (diag_loc){0}, x, -1);
    ir_build_output(f, (diag_loc){0}, "s", 0, s);
    CU_ASSERT_TRUE(ir_verify(fx.m, &fx.d, true));
    char *text = print_ir(fx.m, 0);
    CU_ASSERT_STRING_EQUAL(text, "circuit @t {\n"
                                 "  %0 = input \"x\" : enc<u4>[3]\n"
                                 "  %1 = sum %0 : enc<u4>[3] -> enc<?>\n"
                                 "  output \"s\" %1 : enc<?>\n"
                                 "}\n");
    free(text);
    /* Break the order: the verifier must notice a use before definition. */
    ir_op_unlink(f, x);
    ir_op_new(f, IR_INPUT, (diag_loc){0}, 0, NULL); /* placeholder at end */
    f->last->type = x->type;
    f->last->name = "x";
    f->last->index = 0;
    ir_op *tail = f->last;
    (void)tail;
    CU_ASSERT_FALSE(ir_verify(fx.m, &fx.d, true));
    CU_ASSERT_PTR_NOT_NULL(strstr(fx_diag(&fx), "used before its definition"));
    fx_free(&fx);
}

static void test_dce_and_replace(void) {
    fixture fx;
    fx_init(&fx);
    ir_func *f = fx.m->main;
    ir_op *x = ir_build_input(f, (diag_loc){0}, "x", 0, enc_u(4, 0, NULL));
    ir_op *one = ir_build_scalar_int(f, (diag_loc){0}, 1);
    ir_op *a = ir_build2(f, &fx.d, IR_ADD, (diag_loc){0}, x, one);
    ir_op *b = ir_build2(f, &fx.d, IR_MUL, (diag_loc){0}, x, one);
    ir_build_output(f, (diag_loc){0}, "y", 0, a);
    ir_replace_uses(f, a, b);
    ir_dce(f);
    CU_ASSERT_EQUAL(ir_count_ops(f, IR_ADD), 0);
    CU_ASSERT_EQUAL(ir_count_ops(f, IR_MUL), 1);
    CU_ASSERT_TRUE(ir_verify(fx.m, &fx.d, true));
    fx_free(&fx);
}

CU_TestInfo cml_tests_ir[] = {
    {"broadcast_and_matmul_shapes", test_broadcast_and_matmul_shapes},
    {"matmul_mismatch_reports_location", test_matmul_mismatch_reports_location},
    {"structural_shapes", test_structural_shapes},
    {"bits_for_range", test_bits_for_range},
    {"print_and_verify", test_print_and_verify},
    {"dce_and_replace", test_dce_and_replace},
    CU_TEST_INFO_NULL,
};
