/* test_diag.c — diagnostics print clang's `file:line:col: error:` form with
 * the source line and a caret under the column. */
#include "cml_test.h"
#include "diag.h"

#include <stdlib.h>
#include <string.h>

static char *render(diag_loc loc, const char *msg) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    diag_ctx d;
    diag_init(&d, f);
    diag_error(&d, loc, "%s", msg);
    CU_ASSERT_EQUAL(d.errors, 1);
    fclose(f);
    return buf;
}

static void test_caret(void) {
    diag_source src = {"m.cml", "line one\n  h = relu(x);\nlast"};
    char *out = render((diag_loc){&src, 2, 7}, "unknown name 'relu'");
    CU_ASSERT_STRING_EQUAL(out, "m.cml:2:7: error: unknown name 'relu'\n"
                                "    2 |   h = relu(x);\n"
                                "      |       ^\n");
    free(out);
}

static void test_no_location_and_past_end(void) {
    char *out = render((diag_loc){0}, "no input files");
    CU_ASSERT_STRING_EQUAL(out, "error: no input files\n");
    free(out);
    diag_source src = {"m.cml", "x"};
    out = render((diag_loc){&src, 9, 1}, "at end");
    CU_ASSERT_STRING_EQUAL(out, "m.cml:9:1: error: at end\n");
    free(out);
}

CU_TestInfo cml_tests_diag[] = {
    {"caret", test_caret},
    {"no_location_and_past_end", test_no_location_and_past_end},
    CU_TEST_INFO_NULL,
};
