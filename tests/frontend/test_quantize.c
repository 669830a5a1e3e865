/* test_quantize.c — the post-training quantization maths (quantize.h)
 * against scales, zero points and offsets computed by hand in the comments. */
#include "cml_test.h"
#include "quantize.h"

#include <math.h>

#define NEAR(a, b) CU_ASSERT_DOUBLE_EQUAL((a), (b), 1e-12)

static void test_round(void) {
    /* halves away from zero, like C's round() and the language's toint */
    CU_ASSERT_EQUAL(quant_round(2.5), 3);
    CU_ASSERT_EQUAL(quant_round(-2.5), -3);
    CU_ASSERT_EQUAL(quant_round(2.4999), 2);
    CU_ASSERT_EQUAL(quant_round(-0.4), 0);
    CU_ASSERT_EQUAL(quant_round(NAN), 0);
    CU_ASSERT_EQUAL(quant_round(1e300), INT64_C(1) << 62);
    CU_ASSERT_EQUAL(quant_round(-1e300), -(INT64_C(1) << 62));
}

static void test_affine(void) {
    double s;
    int64_t z;
    /* [-3, 3] on 4 bits: scale = 6 / 15 = 0.4, zero point = round(3 / 0.4 = 7.5) = 8 */
    quant_affine(-3, 3, 4, &s, &z);
    NEAR(s, 0.4);
    CU_ASSERT_EQUAL(z, 8);
    /* [0, 6.15] on 4 bits: scale 0.41, zero point 0 */
    quant_affine(0, 6.15, 4, &s, &z);
    NEAR(s, 0.41);
    CU_ASSERT_EQUAL(z, 0);
    /* [0.5, 2] does not hold 0: extended to [0, 2]: scale 2/255, zp 0 */
    quant_affine(0.5, 2, 8, &s, &z);
    NEAR(s, 2.0 / 255);
    CU_ASSERT_EQUAL(z, 0);
    /* [-2, -1] -> [-2, 0] on 4 bits: scale 2/15, zp = round(2 / (2/15)) = 15 */
    quant_affine(-2, -1, 4, &s, &z);
    NEAR(s, 2.0 / 15);
    CU_ASSERT_EQUAL(z, 15);
    /* [-1, 3] on 2 bits: scale 4/3, zp = round(0.75) = 1 */
    quant_affine(-1, 3, 2, &s, &z);
    NEAR(s, 4.0 / 3);
    CU_ASSERT_EQUAL(z, 1);
    /* an empty range (all zero) gets scale 1 */
    quant_affine(0, 0, 8, &s, &z);
    NEAR(s, 1.0);
    CU_ASSERT_EQUAL(z, 0);
}

static void test_symmetric(void) {
    /* max |w| = 1.0 on 4 bits: qmax = 7, scale = 1/7, q = round(7 w) */
    const double w[] = {0.5, -0.25, 1.0, 0.1, -0.75, -1.0};
    int64_t q[6];
    double s = quant_symmetric(w, 6, 4, q);
    NEAR(s, 1.0 / 7);
    const int64_t want[] = {4, -2, 7, 1, -5, -7}; /* 3.5 -> 4, -1.75 -> -2, 0.7 -> 1, -5.25 -> -5 */
    for (int i = 0; i < 6; i++) CU_ASSERT_EQUAL(q[i], want[i]);
    /* all zero: scale 1, values 0 */
    const double zero[] = {0, 0};
    CU_ASSERT_EQUAL(quant_symmetric(zero, 2, 8, q), 1.0);
    CU_ASSERT_EQUAL(q[0], 0);
    /* 2 bits: qmax = 1, values in {-1, 0, 1} */
    const double w2[] = {0.2, -0.6, 0.29};
    s = quant_symmetric(w2, 3, 2, q);
    NEAR(s, 0.6);
    CU_ASSERT_EQUAL(q[0], 0);
    CU_ASSERT_EQUAL(q[1], -1);
    CU_ASSERT_EQUAL(q[2], 0);
}

static void test_value(void) {
    /* scale 0.4, zp 8 on 4 bits: 1.0 -> round(2.5) + 8 = 11; clamps at 0 and 15 */
    CU_ASSERT_EQUAL(quant_value(1.0, 0.4, 8, 4), 11);
    CU_ASSERT_EQUAL(quant_value(-3.0, 0.4, 8, 4), 0);
    CU_ASSERT_EQUAL(quant_value(-100, 0.4, 8, 4), 0);
    CU_ASSERT_EQUAL(quant_value(100, 0.4, 8, 4), 15);
    NEAR(quant_dequant(11, 0.4, 8), 1.2);
}

static void test_dense_offset(void) {
    /* Wq = [[4,-2,7],[2,4,-4],[-5,4,2],[1,-1,2]]: column sums 2, 5, 7.
     * z = 8, acc scale 0.4/7, b = [0.5, -0.5, 0]: b / acc = 8.75 -> 9, -9, 0.
     * c = -8 * [2, 5, 7] + [9, -9, 0] = [-7, -49, -56]. */
    const int64_t wq[] = {4, -2, 7, 2, 4, -4, -5, 4, 2, 1, -1, 2};
    const double b[] = {0.5, -0.5, 0};
    int64_t c[3];
    CU_ASSERT_TRUE(quant_dense_offset(wq, 4, 3, 8, NULL, b, 0.4 / 7, c));
    CU_ASSERT_EQUAL(c[0], -7);
    CU_ASSERT_EQUAL(c[1], -49);
    CU_ASSERT_EQUAL(c[2], -56);
    /* zero point 0, no bias: nothing to add */
    CU_ASSERT_FALSE(quant_dense_offset(wq, 4, 3, 0, NULL, NULL, 1.0, c));
    /* per-feature zero points z = [1, 0, 2, 3]: c[m] = -sum_k z_k Wq[k, m]
     * = -[4 - 10 + 3, -2 + 8 - 3, 7 + 4 + 6] = [3, -3, -17] (the scalar z
     * is ignored) */
    const int64_t zk[] = {1, 0, 2, 3};
    CU_ASSERT_TRUE(quant_dense_offset(wq, 4, 3, 99, zk, NULL, 1.0, c));
    CU_ASSERT_EQUAL(c[0], 3);
    CU_ASSERT_EQUAL(c[1], -3);
    CU_ASSERT_EQUAL(c[2], -17);
}

static void test_threshold(void) {
    /* scale 0.2, zero point 5: q = 7 is 0.4, q = 8 is 0.6 */
    CU_ASSERT_EQUAL(quant_threshold(0.5, 0.2, 5, 4), 7);  /* 0.4 <= 0.5 < 0.6 */
    CU_ASSERT_EQUAL(quant_threshold(0.4, 0.2, 5, 4), 7);  /* on a grid point: kept */
    CU_ASSERT_EQUAL(quant_threshold(0.3999999, 0.2, 5, 4), 6);
    CU_ASSERT_EQUAL(quant_threshold(-1.1, 0.2, 5, 4), -1); /* below q = 0 (-1.0): never left */
    CU_ASSERT_EQUAL(quant_threshold(1e300, 0.2, 5, 4), 16); /* always left */
    CU_ASSERT_EQUAL(quant_threshold(-1e300, 0.2, 5, 4), -1);
}

static void test_conv_offset_and_pool(void) {
    /* x [1,3,3] with z = 2, Wq [1,1,2,2] = [[1,2],[3,4]], stride 1, padding 1:
     * output [1,4,4]; c = -2 * (sum of the kernel entries whose input is in
     * bounds). (0,0): only kernel (1,1) = 4 -> -8; (0,1): (1,0),(1,1) -> 7
     * -> -14; (1,1): all -> 10 -> -20; (3,3): only (0,0) = 1 -> -2. */
    const int64_t wq[] = {1, 2, 3, 4};
    const int stride[2] = {1, 1}, pad[2] = {1, 1};
    int64_t c[16];
    CU_ASSERT_TRUE(quant_conv_offset(wq, 1, 1, 2, 2, 3, 3, stride, pad, 2, NULL, 1.0, c));
    CU_ASSERT_EQUAL(c[0], -8);
    CU_ASSERT_EQUAL(c[1], -14);
    CU_ASSERT_EQUAL(c[5], -20);
    CU_ASSERT_EQUAL(c[15], -2);
    /* bias 1.0 at acc scale 0.5 adds round(2) = 2 everywhere */
    const double b[] = {1.0};
    CU_ASSERT_TRUE(quant_conv_offset(wq, 1, 1, 2, 2, 3, 3, stride, pad, 2, b, 0.5, c));
    CU_ASSERT_EQUAL(c[0], -6);
    CU_ASSERT_EQUAL(c[5], -18);
    /* pooling windows 2x2, stride 2, padding 1 on 3x3: in-bounds counts 1 2 / 2 4 */
    const int k[2] = {2, 2}, s2[2] = {2, 2};
    int64_t cnt[4];
    quant_pool_counts(3, 3, k, s2, pad, cnt);
    CU_ASSERT_EQUAL(cnt[0], 1);
    CU_ASSERT_EQUAL(cnt[1], 2);
    CU_ASSERT_EQUAL(cnt[2], 2);
    CU_ASSERT_EQUAL(cnt[3], 4);
    CU_ASSERT_EQUAL(quant_window_out(8, 3, 1, 0), 6);
    CU_ASSERT_EQUAL(quant_window_out(3, 2, 2, 1), 2);
}

CU_TestInfo cml_tests_quantize[] = {
    {"round", test_round},
    {"affine", test_affine},
    {"symmetric", test_symmetric},
    {"value", test_value},
    {"dense_offset", test_dense_offset},
    {"threshold", test_threshold},
    {"conv_offset_and_pool", test_conv_offset_and_pool},
    CU_TEST_INFO_NULL,
};
