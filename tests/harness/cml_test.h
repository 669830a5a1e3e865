/* cml_test.h — the shared CUnit harness: how a suite file declares its tests
 * and how sample counts scale with $CML_TEST_SCALE.
 *
 * A suite file test_NAME.c defines `CU_TestInfo cml_tests_NAME[]` (ending
 * with CU_TEST_INFO_NULL) and may define setup/teardown through
 * CML_SUITE_HOOKS(NAME, init, clean). The directory's CMakeLists lists the
 * suite names once; the runner and the ctest entries come from that list.
 */
#ifndef CML_TEST_H
#define CML_TEST_H

#include <CUnit/CUnit.h>
#include <stddef.h>

/* Multiplies statistical sample counts: 1 by default, smaller in sanitizer
 * builds (CI sets CML_TEST_SCALE=0.25), larger for soak runs. Never below 1. */
size_t cml_test_samples(size_t base);

#endif
