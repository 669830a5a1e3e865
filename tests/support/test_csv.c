/* test_csv.c — the CSV reader accepts the documented format (header,
 * blanks, CRLF, trailing blank lines) and rejects everything else with
 * clang-style diagnostics at the exact line and column. */
#include "csv.h"
#include "cml_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Parses `text`; returns the diagnostics (malloc'd) and whether it succeeded. */
static char *parse_text(const char *text, size_t len, csv_table *t, bool *ok) {
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    diag_ctx d;
    diag_init(&d, f);
    *ok = csv_parse("data.csv", text, len, &d, t);
    CU_ASSERT_EQUAL(d.errors, *ok ? 0 : 1);
    fclose(f);
    return buf;
}

static void expect_error(const char *text, const char *want) {
    csv_table t;
    bool ok;
    char *out = parse_text(text, strlen(text), &t, &ok);
    CU_ASSERT_FALSE(ok);
    CU_ASSERT_PTR_NULL(t.values);
    if (strcmp(out, want) != 0) fprintf(stderr, "\ngot:\n%swant:\n%s", out, want);
    CU_ASSERT_STRING_EQUAL(out, want);
    free(out);
}

static void test_valid(void) {
    const char *text = "# a, b, c\n1, 2.5, -3\r\n 4e2 ,+5,.5\n\n\n";
    csv_table t;
    bool ok;
    char *out = parse_text(text, strlen(text), &t, &ok);
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_STRING_EQUAL(out, "");
    CU_ASSERT_EQUAL(t.rows, 2);
    CU_ASSERT_EQUAL(t.cols, 3);
    const double want[] = {1, 2.5, -3, 400, 5, 0.5};
    for (int i = 0; i < 6 && ok; i++) CU_ASSERT_EQUAL(t.values[i], want[i]);
    csv_free(&t);
    csv_free(&t); /* idempotent */
    free(out);

    /* No header, no final newline, one column. */
    out = parse_text("7\n-8", 4, &t, &ok);
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_EQUAL(t.rows, 2);
    CU_ASSERT_EQUAL(t.cols, 1);
    if (ok) CU_ASSERT_EQUAL(t.values[1], -8);
    csv_free(&t);
    free(out);
}

static void test_errors(void) {
    expect_error("1,2\n3,abc\n", "data.csv:2:3: error: 'abc' is not a number\n"
                                 "    2 | 3,abc\n"
                                 "      |   ^\n");
    expect_error("1,2\n3\n", "data.csv:2:1: error: row has 1 value, expected 2 (as on line 1)\n"
                             "    2 | 3\n"
                             "      | ^\n");
    expect_error("1,,2\n", "data.csv:1:3: error: empty field (value 2 of the row)\n"
                           "    1 | 1,,2\n"
                           "      |   ^\n");
    expect_error("1,2,\n", "data.csv:1:5: error: empty field (value 3 of the row)\n"
                           "    1 | 1,2,\n"
                           "      |     ^\n");
    expect_error("1 2\n", "data.csv:1:1: error: '1 2' is not a number\n"
                          "    1 | 1 2\n"
                          "      | ^\n");
    expect_error("nan\n", "data.csv:1:1: error: 'nan' is not a number\n"
                          "    1 | nan\n"
                          "      | ^\n");
    expect_error("0x10\n", "data.csv:1:1: error: '0x10' is not a number\n"
                           "    1 | 0x10\n"
                           "      | ^\n");
    expect_error("1e999\n", "data.csv:1:1: error: number '1e999' is out of range\n"
                            "    1 | 1e999\n"
                            "      | ^\n");
    expect_error("", "data.csv:1:1: error: empty file: no data rows\n");
    expect_error("# only a header\n\n", "data.csv:1:1: error: empty file: no data rows\n"
                                        "    1 | # only a header\n"
                                        "      | ^\n");
    expect_error("1\n\n2\n", "data.csv:2:1: error: blank line between data rows\n"
                             "    2 | \n"
                             "      | ^\n");
    expect_error("1\n# late header\n", "data.csv:2:1: error: '# late header' is not a number\n"
                                       "    2 | # late header\n"
                                       "      | ^\n");
    csv_table t;
    bool ok;
    char *out = parse_text("1\n2\0\n", 5, &t, &ok);
    CU_ASSERT_FALSE(ok);
    CU_ASSERT_STRING_EQUAL(out, "data.csv:2:2: error: NUL byte in a CSV file\n"
                                "    2 | 2\n"
                                "      |  ^\n");
    free(out);
}

static void test_files(void) {
    char path[] = "/tmp/cml_csv_XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    const char *text = "#x0,x1\n0.5,1\n2,3\n";
    CU_ASSERT_EQUAL(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    diag_ctx d;
    diag_init(&d, f);
    csv_table t;
    CU_ASSERT_TRUE(csv_read(path, &d, &t));
    CU_ASSERT_EQUAL(t.rows, 2);
    CU_ASSERT_EQUAL(t.cols, 2);
    if (t.values) CU_ASSERT_EQUAL(t.values[0], 0.5);
    csv_free(&t);
    unlink(path);
    CU_ASSERT_FALSE(csv_read(path, &d, &t));
    CU_ASSERT_EQUAL(d.errors, 1);
    fclose(f);
    char want[128];
    snprintf(want, sizeof want, "error: cannot open '%s': No such file or directory\n", path);
    CU_ASSERT_STRING_EQUAL(buf, want);
    free(buf);
}

CU_TestInfo cml_tests_csv[] = {
    {"valid", test_valid},
    {"errors", test_errors},
    {"files", test_files},
    CU_TEST_INFO_NULL,
};
