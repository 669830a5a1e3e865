/* test_encoding.c — the plaintext encoding m*2^(63-p) and its decoding:
 * exact round trips for every unsigned and signed p-bit value, rounding
 * that tolerates noise below half a step, and wrap-around arithmetic that
 * linear operations rely on. */
#include "cml_test.h"

#include <cml/tfhe.h>

static void test_round_trip_all_values(void) {
    for (uint32_t p = 1; p <= 12; p++) {
        for (int64_t m = 0; m < (INT64_C(1) << p); m++)
            CU_ASSERT_EQUAL_FATAL(cml_decode(cml_encode(m, p), p), m);
        for (int64_t m = -(INT64_C(1) << (p - 1)); m < (INT64_C(1) << (p - 1)); m++)
            CU_ASSERT_EQUAL_FATAL(cml_decode(cml_encode(m, p), p), m);
    }
    CU_ASSERT_EQUAL(cml_encode(1, 4), UINT64_C(1) << 59);
    CU_ASSERT_EQUAL(cml_encode(-1, 4), (uint64_t)0 - (UINT64_C(1) << 59));
}

static void test_noise_tolerance(void) {
    const uint32_t p = 5;
    const uint64_t half_step = UINT64_C(1) << (63 - p - 1);
    for (int64_t m = -16; m < 32; m++) {
        uint64_t x = cml_encode(m, p);
        CU_ASSERT_EQUAL(cml_decode(x + half_step - 1, p), m);
        CU_ASSERT_EQUAL(cml_decode(x - half_step, p), m);
        CU_ASSERT_EQUAL(cml_decode(x + half_step + 1, p), m + 1 == 32 ? -32 : m + 1);
    }
}

static void test_linear_wraparound(void) {
    /* 3 - 5 = -2 and 7 * -3 = -21 survive encoding at 6 bits */
    CU_ASSERT_EQUAL(cml_decode(cml_encode(3, 6) - cml_encode(5, 6), 6), -2);
    CU_ASSERT_EQUAL(cml_decode(cml_encode(7, 6) * (uint64_t)-3, 6), -21);
    /* out-of-range arguments give 0, never undefined shifts */
    CU_ASSERT_EQUAL(cml_encode(1, 0), 0);
    CU_ASSERT_EQUAL(cml_encode(1, 63), 0);
    CU_ASSERT_EQUAL(cml_decode(123, 0), 0);
}

CU_TestInfo cml_tests_encoding[] = {
    {"round_trip_all_values", test_round_trip_all_values},
    {"noise_tolerance", test_noise_tolerance},
    {"linear_wraparound", test_linear_wraparound},
    CU_TEST_INFO_NULL,
};
