/* test_interp.c — the interpreter computes exactly what docs/ir.md says:
 * results checked against values worked out by hand, and every error
 * (int64 overflow, table index, width overflow) reported, not wrapped. */
#include "cml_test.h"
#include "interp.h"

#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    arena a;
    ir_module *m;
    ir_func *f;
    diag_ctx d;
    char *buf;
    size_t len;
    FILE *out;
} fixture;

static void fx_init(fixture *fx) {
    memset(fx, 0, sizeof *fx);
    arena_init(&fx->a);
    fx->m = ir_module_new(&fx->a, IR_UNIT_CIRCUIT, "t");
    fx->f = fx->m->main;
    fx->out = open_memstream(&fx->buf, &fx->len);
    diag_init(&fx->d, fx->out);
}

static const char *fx_diag(fixture *fx) {
    fflush(fx->out);
    return fx->buf ? fx->buf : "";
}

static void fx_free(fixture *fx) {
    fclose(fx->out);
    free(fx->buf);
    arena_free(&fx->a);
}

static ir_op *input(fixture *fx, int index, bool is_signed, int bits, int rank, const int64_t *dims) {
    ir_type t = {.enc = true, .bits = bits, .is_signed = is_signed, .rank = rank};
    for (int i = 0; i < rank; i++) t.dims[i] = dims[i];
    return ir_build_input(fx->f, (diag_loc){0}, "x", index, t);
}

static ir_op *cint(fixture *fx, int rank, const int64_t *dims, const int64_t *v) {
    ir_type t = {.rank = rank};
    for (int i = 0; i < rank; i++) t.dims[i] = dims[i];
    return ir_build_const_int(fx->f, (diag_loc){0}, t, v);
}

/* Runs the function on one integer input tensor; returns output 0. */
static bool run1(fixture *fx, const int64_t *x, int64_t n, ir_tensor *out, unsigned flags) {
    ir_tensor in = {0};
    CU_ASSERT_FATAL(ir_tensor_alloc(&in, false, 1, &n));
    memcpy(in.i, x, (size_t)n * sizeof *x);
    bool ok = ir_interp(fx->f, &in, out, &fx->d, flags, NULL, NULL);
    ir_tensor_free(&in);
    return ok;
}

static void test_matmul_and_sum(void) {
    fixture fx;
    fx_init(&fx);
    int64_t d2[] = {2}, d22[] = {2, 2};
    ir_op *x = input(&fx, 0, false, 4, 1, d2);
    ir_op *W = cint(&fx, 2, d22, (int64_t[]){1, -2, 3, 4});
    ir_op *y = ir_build2(fx.f, &fx.d, IR_MATMUL, (diag_loc){0}, x, W);
    ir_op *s = ir_build_sum(fx.f, &fx.d, (diag_loc){0}, y, -1);
    ir_op *cat[2] = {y, ir_build_reshape(fx.f, &fx.d, (diag_loc){0}, s, 1, (int64_t[]){1})};
    ir_build_output(fx.f, (diag_loc){0}, "y", 0,
                    ir_build_concat(fx.f, &fx.d, (diag_loc){0}, 2, cat, 0));
    ir_tensor out = {0};
    /* x = [5, 7]: y = [5*1 + 7*3, 5*-2 + 7*4] = [26, 18]; sum 44 */
    CU_ASSERT_TRUE_FATAL(run1(&fx, (int64_t[]){5, 7}, 2, &out, 0));
    CU_ASSERT_EQUAL(out.count, 3);
    CU_ASSERT_EQUAL(out.i[0], 26);
    CU_ASSERT_EQUAL(out.i[1], 18);
    CU_ASSERT_EQUAL(out.i[2], 44);
    ir_tensor_free(&out);
    /* 16 does not fit the declared u4 input */
    CU_ASSERT_FALSE(run1(&fx, (int64_t[]){16, 0}, 2, &out, 0));
    CU_ASSERT_PTR_NOT_NULL(strstr(fx_diag(&fx), "value 16 does not fit its type enc<u4>[2]"));
    fx_free(&fx);
}

static void test_round_semantics(void) {
    fixture fx;
    fx_init(&fx);
    int64_t d6[] = {6};
    ir_op *x = input(&fx, 0, true, 8, 1, d6);
    ir_op *r = ir_build_round(fx.f, &fx.d, (diag_loc){0}, x, 0, 2);
    ir_build_output(fx.f, (diag_loc){0}, "r", 0, r);
    ir_tensor out = {0};
    /* nearest multiple of 4, halves up: 5->4, 6->8, 2->4, 1->0, -2->0, -3->-4 */
    CU_ASSERT_TRUE_FATAL(run1(&fx, (int64_t[]){5, 6, 2, 1, -2, -3}, 6, &out, 0));
    int64_t want[] = {4, 8, 4, 0, 0, -4};
    for (int i = 0; i < 6; i++) CU_ASSERT_EQUAL(out.i[i], want[i]);
    ir_tensor_free(&out);
    fx_free(&fx);
}

/* relu(x - 2) * 3 through a tlu body, with and without a materialised table */
static void test_tlu_body_and_table(void) {
    fixture fx;
    fx_init(&fx);
    int64_t d3[] = {3};
    ir_op *x = input(&fx, 0, false, 3, 1, d3);
    ir_func *body = ir_func_new(fx.m, "t0", true);
    ir_op *v = ir_build_input(body, (diag_loc){0}, "", 0, x->type);
    ir_op *two = ir_build_scalar_int(body, (diag_loc){0}, 2);
    ir_op *three = ir_build_scalar_int(body, (diag_loc){0}, 3);
    ir_op *e = ir_build2(body, &fx.d, IR_SUB, (diag_loc){0}, v, two);
    e = ir_build1(body, &fx.d, IR_RELU, (diag_loc){0}, e);
    e = ir_build2(body, &fx.d, IR_MUL, (diag_loc){0}, e, three);
    ir_build_output(body, (diag_loc){0}, "", 0, e);
    ir_op *t = ir_build_tlu(fx.f, &fx.d, (diag_loc){0}, x, body);
    ir_build_output(fx.f, (diag_loc){0}, "t", 0, t);
    CU_ASSERT_TRUE(ir_verify(fx.m, &fx.d, true));
    ir_tensor out = {0};
    CU_ASSERT_TRUE_FATAL(run1(&fx, (int64_t[]){0, 3, 7}, 3, &out, 0));
    CU_ASSERT_EQUAL(out.i[0], 0);
    CU_ASSERT_EQUAL(out.i[1], 3);
    CU_ASSERT_EQUAL(out.i[2], 15);
    ir_tensor_free(&out);
    /* body evaluation over a domain */
    int64_t xs[8] = {0, 1, 2, 3, 4, 5, 6, 7}, ys[8];
    CU_ASSERT_TRUE(ir_interp_body(body, 0, xs, 8, ys, &fx.d));
    CU_ASSERT_EQUAL(ys[7], 15);
    CU_ASSERT_EQUAL(ys[2], 0);
    /* a table built over [2, 6] only: 7 is outside and must be reported */
    t->tlu->ntables = 1;
    t->tlu->dom_lo = 2;
    t->tlu->dom_count = 5;
    int64_t tab[5] = {0, 3, 6, 9, 12};
    t->tlu->tables = tab;
    CU_ASSERT_TRUE_FATAL(run1(&fx, (int64_t[]){2, 4, 6}, 3, &out, 0));
    CU_ASSERT_EQUAL(out.i[2], 12);
    ir_tensor_free(&out);
    CU_ASSERT_FALSE(run1(&fx, (int64_t[]){2, 4, 7}, 3, &out, 0));
    CU_ASSERT_PTR_NOT_NULL(strstr(fx_diag(&fx), "outside the domain"));
    fx_free(&fx);
}

static void test_real_chain_rounding(void) {
    fixture fx;
    fx_init(&fx);
    int64_t d4[] = {4};
    ir_op *x = input(&fx, 0, true, 4, 1, d4);
    ir_op *h = ir_build2(fx.f, &fx.d, IR_DIV, (diag_loc){0}, x,
                         ir_build_scalar_int(fx.f, (diag_loc){0}, 2));
    ir_build_output(fx.f, (diag_loc){0}, "y", 0, ir_build1(fx.f, &fx.d, IR_TOINT, (diag_loc){0}, h));
    ir_tensor out = {0};
    /* halves away from zero: 5/2 -> 3, -5/2 -> -3, 3/2 -> 2, -1/2 -> -1 */
    CU_ASSERT_TRUE_FATAL(run1(&fx, (int64_t[]){5, -5, 3, -1}, 4, &out, 0));
    CU_ASSERT_EQUAL(out.i[0], 3);
    CU_ASSERT_EQUAL(out.i[1], -3);
    CU_ASSERT_EQUAL(out.i[2], 2);
    CU_ASSERT_EQUAL(out.i[3], -1);
    ir_tensor_free(&out);
    fx_free(&fx);
}

static void test_overflow_and_width_errors(void) {
    fixture fx;
    fx_init(&fx);
    int64_t d1[] = {1};
    ir_op *x = input(&fx, 0, false, 62, 1, d1);
    ir_op *big = ir_build_scalar_int(fx.f, (diag_loc){0}, INT64_C(1) << 40);
    ir_op *y = ir_build2(fx.f, &fx.d, IR_MUL, (diag_loc){0}, x, big);
    ir_build_output(fx.f, (diag_loc){0}, "y", 0, y);
    ir_tensor out = {0};
    CU_ASSERT_FALSE(run1(&fx, (int64_t[]){INT64_C(1) << 30}, 1, &out, 0));
    CU_ASSERT_PTR_NOT_NULL(strstr(fx_diag(&fx), "integer overflow in 'mul'"));
    /* a too-narrow inferred width is reported with IR_INTERP_CHECK_WIDTHS */
    y->type.bits = 40; /* 2^40 needs 41 bits */
    CU_ASSERT_TRUE(run1(&fx, (int64_t[]){0}, 1, &out, IR_INTERP_CHECK_WIDTHS));
    ir_tensor_free(&out);
    CU_ASSERT_FALSE(run1(&fx, (int64_t[]){1}, 1, &out, IR_INTERP_CHECK_WIDTHS));
    CU_ASSERT_PTR_NOT_NULL(strstr(fx_diag(&fx), "does not fit the inferred type enc<u40>"));
    fx_free(&fx);
}

static void test_conv2d_and_pools(void) {
    fixture fx;
    fx_init(&fx);
    int64_t d133[] = {1, 3, 3};
    ir_op *x = input(&fx, 0, false, 4, 3, d133);
    /* 2x2 kernel of ones, padding 0: window sums of a 3x3 image */
    ir_op *W = cint(&fx, 4, (int64_t[]){1, 1, 2, 2}, (int64_t[]){1, 1, 1, 1});
    ir_op *c = ir_build_conv2d(fx.f, &fx.d, (diag_loc){0}, x, W, (int[]){1, 1}, (int[]){0, 0});
    ir_op *mp = ir_build_pool(fx.f, &fx.d, IR_MAXPOOL2D, (diag_loc){0}, x, (int[]){2, 2},
                              (int[]){1, 1}, (int[]){0, 0});
    ir_op *sp = ir_build_pool(fx.f, &fx.d, IR_SUMPOOL2D, (diag_loc){0}, x, (int[]){3, 3},
                              (int[]){1, 1}, (int[]){1, 1});
    ir_build_output(fx.f, (diag_loc){0}, "c", 0, c);
    ir_build_output(fx.f, (diag_loc){0}, "m", 1, mp);
    ir_build_output(fx.f, (diag_loc){0}, "s", 2, sp);
    ir_tensor in = {0}, out[3];
    CU_ASSERT_FATAL(ir_tensor_alloc(&in, false, 3, d133));
    for (int i = 0; i < 9; i++) in.i[i] = i + 1; /* 1..9 */
    CU_ASSERT_TRUE_FATAL(ir_interp(fx.f, &in, out, &fx.d, 0, NULL, NULL));
    /* [[1,2,3],[4,5,6],[7,8,9]]: 2x2 sums 12 16 24 28; maxima 5 6 8 9 */
    int64_t cw[] = {12, 16, 24, 28}, mw[] = {5, 6, 8, 9};
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(out[0].i[i], cw[i]);
        CU_ASSERT_EQUAL(out[1].i[i], mw[i]);
    }
    /* 3x3 sums with zero padding 1: corner (0,0) = 1+2+4+5 = 12, centre = 45 */
    CU_ASSERT_EQUAL(out[2].count, 9);
    CU_ASSERT_EQUAL(out[2].i[0], 12);
    CU_ASSERT_EQUAL(out[2].i[4], 45);
    for (int i = 0; i < 3; i++) ir_tensor_free(&out[i]);
    ir_tensor_free(&in);
    fx_free(&fx);
}

static void test_lookup_and_structure(void) {
    fixture fx;
    fx_init(&fx);
    int64_t d23[] = {2, 3};
    ir_op *x = input(&fx, 0, false, 2, 2, d23);
    ir_op *tab = cint(&fx, 1, (int64_t[]){3}, (int64_t[]){10, 20, 30});
    ir_op *l = ir_build2(fx.f, &fx.d, IR_LOOKUP, (diag_loc){0}, tab, x);
    ir_op *t = ir_build_transpose(fx.f, &fx.d, (diag_loc){0}, l, NULL);
    ir_op *s = ir_build_slice(fx.f, &fx.d, (diag_loc){0}, t, (int64_t[]){1, 0}, (int64_t[]){3, 2},
                              (int64_t[]){1, 1});
    ir_build_output(fx.f, (diag_loc){0}, "s", 0, s);
    ir_tensor out = {0};
    /* x = [[0,1,2],[2,1,0]] -> [[10,20,30],[30,20,10]]^T = [[10,30],[20,20],[30,10]]; rows 1..2 */
    CU_ASSERT_TRUE_FATAL(run1(&fx, (int64_t[]){0, 1, 2, 2, 1, 0}, 6, &out, 0));
    int64_t want[] = {20, 20, 30, 10};
    CU_ASSERT_EQUAL(out.count, 4);
    for (int i = 0; i < 4; i++) CU_ASSERT_EQUAL(out.i[i], want[i]);
    ir_tensor_free(&out);
    CU_ASSERT_FALSE(run1(&fx, (int64_t[]){0, 1, 3, 2, 1, 0}, 6, &out, 0));
    CU_ASSERT_PTR_NOT_NULL(strstr(fx_diag(&fx), "table index 3 out of range"));
    fx_free(&fx);
}

CU_TestInfo cml_tests_interp[] = {
    {"matmul_and_sum", test_matmul_and_sum},
    {"round_semantics", test_round_semantics},
    {"tlu_body_and_table", test_tlu_body_and_table},
    {"real_chain_rounding", test_real_chain_rounding},
    {"overflow_and_width_errors", test_overflow_and_width_errors},
    {"conv2d_and_pools", test_conv2d_and_pools},
    {"lookup_and_structure", test_lookup_and_structure},
    CU_TEST_INFO_NULL,
};
