/* test_lower.c — lowering AST -> IR: the DESIGN §3 circuit gives the
 * expected ops, the circuit rules (folding, slicing, the integer/real
 * boundary, rewrites of two-root ops) hold, errors come out in clang's exact
 * form, and models quantize to the scales computed by hand below — and, run
 * through the interpreter, agree with the float model they come from. */
#include "cml_test.h"
#include "interp.h"
#include "lower.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct lowered {
    arena a;
    ir_module *m;
    char *diags; /* everything reported */
    char *ir;    /* ir_print without locations (NULL when m is NULL) */
    diag_source src;
} lowered;

static void lower_text(lowered *l, const char *text, const char *base_dir) {
    arena_init(&l->a);
    l->src = (diag_source){"t.cml", text};
    size_t n = 0;
    FILE *f = open_memstream(&l->diags, &n);
    diag_ctx d;
    diag_init(&d, f);
    ast_unit *u = parse_unit(&l->a, &d, &l->src, strlen(text));
    l->m = u ? lower_unit(&l->a, &d, u, base_dir) : NULL;
    fclose(f);
    l->ir = NULL;
    if (l->m) {
        size_t k = 0;
        FILE *g = open_memstream(&l->ir, &k);
        ir_print(g, l->m, IR_PRINT_NOLOC);
        fclose(g);
    }
}

static void lowered_free(lowered *l) {
    free(l->diags);
    free(l->ir);
    arena_free(&l->a);
}

/* Lowers text that must succeed; prints the diagnostics if it does not. */
static void expect_ok(lowered *l, const char *text) {
    lower_text(l, text, NULL);
    if (!l->m) fprintf(stderr, "\nunexpected errors:\n%s", l->diags);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l->m);
    CU_ASSERT_STRING_EQUAL(l->diags, "");
}

/* Every line of `want` (separated by \n) occurs in the IR text, in order. */
static void expect_lines(const lowered *l, const char *want) {
    const char *at = l->ir;
    char line[512];
    bool shown = false;
    for (const char *p = want; *p;) {
        size_t n = strcspn(p, "\n");
        snprintf(line, sizeof line, "%.*s", (int)n, p);
        const char *hit = strstr(at, line);
        if (!hit) fprintf(stderr, "\nmissing (in order): '%s'", line);
        if (!hit && !shown) fprintf(stderr, "\nin:\n%s", l->ir);
        shown |= !hit;
        CU_ASSERT_PTR_NOT_NULL(hit);
        if (hit) at = hit + n;
        p += n + (p[n] == '\n');
    }
}

static void expect_error(const char *text, const char *want) {
    lowered l;
    lower_text(&l, text, NULL);
    CU_ASSERT_PTR_NULL(l.m);
    if (strcmp(l.diags, want) != 0) fprintf(stderr, "\ngot:\n%swant:\n%s", l.diags, want);
    CU_ASSERT_STRING_EQUAL(l.diags, want);
    lowered_free(&l);
}

/* Only the first line of the diagnostics (the message itself). */
static void expect_error1(const char *text, const char *want) {
    lowered l;
    lower_text(&l, text, NULL);
    CU_ASSERT_PTR_NULL(l.m);
    size_t n = strcspn(l.diags, "\n");
    if (strlen(want) != n || strncmp(l.diags, want, n) != 0)
        fprintf(stderr, "\ngot:\n%swant:\n%s\n", l.diags, want);
    CU_ASSERT_TRUE(strlen(want) == n && strncmp(l.diags, want, n) == 0);
    lowered_free(&l);
}

/* ---- circuits ------------------------------------------------------------------ */

static void test_design_example(void) {
    lowered l;
    expect_ok(&l, "circuit scaled_square(x: enc u4[3], y: enc u4) {\n"
                  "    s = sum(x) + y;                 // bit width inferred: u6\n"
                  "    t = lut(s, (v) => (v * v) / 8); // univariate expression -> table lookup\n"
                  "    r = relu(s - 20);               // univariate chain -> fused into one TLU\n"
                  "    return t, r;\n"
                  "}\n");
    expect_lines(&l, "circuit @scaled_square {\n"
                     "  %0 = input \"x\" : enc<u4>[3]\n"
                     "  %1 = input \"y\" : enc<u4>\n"
                     "  %2 = sum %0 : enc<u4>[3] -> enc<?>\n"
                     "  %3 = add %2, %1 : enc<?>, enc<u4> -> enc<?>\n"
                     "  %4 = tofloat %3 : enc<?> -> enc<f64>\n"
                     "  %5 = mul %4, %4 : enc<f64>, enc<f64> -> enc<f64>\n"
                     "  %6 = const [8] : clear<u4>\n"
                     "  %7 = div %5, %6 : enc<f64>, clear<u4> -> enc<f64>\n"
                     "  %8 = toint %7 : enc<f64> -> enc<?>\n"
                     "  %9 = const [20] : clear<u5>\n"
                     "  %10 = sub %3, %9 : enc<?>, clear<u5> -> enc<?>\n"
                     "  %11 = relu %10 : enc<?> -> enc<?>\n"
                     "  output \"t\" %8 : enc<?>\n"
                     "  output \"r\" %11 : enc<?>\n"
                     "}\n");
    CU_ASSERT_EQUAL(ir_count_ops(l.m->main, IR_OUTPUT), 2);
    /* Every op keeps the location of its source node. */
    ir_foreach(op, l.m->main) CU_ASSERT_PTR_NOT_NULL(op->loc.src);
    CU_ASSERT_EQUAL(l.m->main->first->loc.line, 1);
    CU_ASSERT_EQUAL(l.m->main->first->loc.col, 23);
    lowered_free(&l);
}

static void test_constants(void) {
    lowered l;
    expect_ok(&l, "circuit c(x: enc u4[2]) {\n"
                  "    a = -3;\n"
                  "    b = [[1, -2], [3, 4]][1] * a + 2 * 4;\n" /* folds to [-1, -4] */
                  "    f = [0.5, -1];\n"
                  "    const k: i8[2] = [100, -100];\n"
                  "    const g: f32 = 2;\n"
                  "    const h = sum([1, 2, 3]) + k;\n"
                  "    x = x + b + h;\n" /* rebinding */
                  "    return x * f * g, x;\n"
                  "}\n");
    expect_lines(&l, "%0 = input \"x\" : enc<u4>[2]\n"
                     "%1 = const [-1, -4] : clear<i3>[2]\n"
                     "%2 = const [0.5, -1] : f64[2]\n"
                     "%3 = const [2] : f64\n"
                     "%4 = const [106, -94] : clear<i8>[2]\n"
                     "%5 = add %0, %1 : enc<u4>[2], clear<i3>[2] -> enc<?>[2]\n"
                     "%6 = add %5, %4 : enc<?>[2], clear<i8>[2] -> enc<?>[2]\n"
                     "%7 = mul %6, %2 : enc<?>[2], f64[2] -> enc<f64>[2]\n"
                     "%8 = mul %7, %3 : enc<f64>[2], f64 -> enc<f64>[2]\n"
                     "%9 = toint %8 : enc<f64>[2] -> enc<?>[2]\n"
                     "output \"out0\" %9 : enc<?>[2]\n"
                     "output \"x\" %6 : enc<?>[2]\n"
                     "}\n");
    lowered_free(&l);
}

static void test_indexing_and_tensors(void) {
    lowered l;
    expect_ok(&l, "circuit c(x: enc u4[5], m: enc i3[2,3]) {\n"
                  "    return x[1:3], m[:, 0], x[::2], x[-1], m[1], x[-4:100:3], x[:],\n"
                  "           reshape(m, [-1]), reshape(m, [3, 2]), transpose(m),\n"
                  "           transpose(m, [-1, 0]), concat(x, x[1:], axis=-1),\n"
                  "           concat(m, m, axis=1), sum(m, -1), sum(m, 0), dot(x, x),\n"
                  "           matmul(m, [1, 2, 3]), m @ [[1], [2], [3]], [x[0], x[1]];\n"
                  "}\n");
    expect_lines(&l, "%2 = slice %0 {begin = [1], step = [1]} : enc<u4>[5] -> enc<?>[2]\n"
                     "%3 = slice %1 {begin = [0, 0], step = [1, 1]} : enc<i3>[2,3] -> enc<?>[2,1]\n"
                     "%4 = reshape %3 : enc<?>[2,1] -> enc<?>[2]\n"
                     "%5 = slice %0 {begin = [0], step = [2]} : enc<u4>[5] -> enc<?>[3]\n"
                     "%6 = slice %0 {begin = [4], step = [1]} : enc<u4>[5] -> enc<?>[1]\n"
                     "%7 = reshape %6 : enc<?>[1] -> enc<?>\n"
                     "%8 = slice %1 {begin = [1, 0], step = [1, 1]} : enc<i3>[2,3] -> enc<?>[1,3]\n"
                     "%9 = reshape %8 : enc<?>[1,3] -> enc<?>[3]\n"
                     "%10 = slice %0 {begin = [1], step = [3]} : enc<u4>[5] -> enc<?>[2]\n"
                     "%11 = reshape %1 : enc<i3>[2,3] -> enc<?>[6]\n"
                     "%12 = reshape %1 : enc<i3>[2,3] -> enc<?>[3,2]\n"
                     "%13 = transpose %1 {perm = [1, 0]} : enc<i3>[2,3] -> enc<?>[3,2]\n"
                     "%14 = transpose %1 {perm = [1, 0]} : enc<i3>[2,3] -> enc<?>[3,2]\n"
                     "%15 = slice %0 {begin = [1], step = [1]} : enc<u4>[5] -> enc<?>[4]\n"
                     "%16 = concat %0, %15 {axis = 0} : enc<u4>[5], enc<?>[4] -> enc<?>[9]\n"
                     "%17 = concat %1, %1 {axis = 1} : enc<i3>[2,3], enc<i3>[2,3] -> enc<?>[2,6]\n"
                     "%18 = sum %1 {axis = 1} : enc<i3>[2,3] -> enc<?>[2]\n"
                     "%19 = sum %1 {axis = 0} : enc<i3>[2,3] -> enc<?>[3]\n"
                     "%20 = dot %0, %0 : enc<u4>[5], enc<u4>[5] -> enc<?>\n"
                     "%21 = const [1, 2, 3] : clear<u2>[3]\n"
                     "%22 = matmul %1, %21 : enc<i3>[2,3], clear<u2>[3] -> enc<?>[2]\n"
                     "%23 = const [1, 2, 3] : clear<u2>[3,1]\n"
                     "%24 = matmul %1, %23 : enc<i3>[2,3], clear<u2>[3,1] -> enc<?>[2,1]\n"
                     /* [x[0], x[1]]: scalars stacked along a new axis */
                     "%29 = reshape %26 : enc<?> -> enc<?>[1]\n"
                     "%30 = reshape %28 : enc<?> -> enc<?>[1]\n"
                     "%31 = concat %29, %30 {axis = 0} : enc<?>[1], enc<?>[1] -> enc<?>[2]\n"
                     "output \"out0\" %2 : enc<?>[2]\n"
                     "output \"out6\" %0 : enc<u4>[5]\n");
    lowered_free(&l);
}

static void test_builtins(void) {
    lowered l;
    expect_ok(&l, "circuit c(x: enc u4[3], s: enc i5, y: clear u4) {\n"
                  "    l = lut(s, [0.4, 1.5, -2.5, 3]);\n" /* entries rounded: 0 2 -3 3 */
                  "    k = lut(x, (v) => round(sqrt(v) * 2) + 0.5);\n"
                  "    r = round(s, 3);\n"
                  "    c = clip(x, 1, 10);\n"
                  "    m = min(x, 2) + max(x, 1) + abs(s) + relu(s);\n"
                  "    p = floor(x) + ceil(x / 2) + exp(s) * tanh(s) + pow(s, 2);\n"
                  "    return l, k, r, c, m, p;\n"
                  "}\n");
    expect_lines(&l, "%3 = const [0, 2, -3, 3] : clear<i3>[4]\n"
                     "%4 = lookup %3, %1 : clear<i3>[4], enc<i5> -> enc<?>\n"
                     "%5 = tofloat %0 : enc<u4>[3] -> enc<f64>[3]\n"
                     "%6 = sqrt %5 : enc<f64>[3] -> enc<f64>[3]\n"
                     "%8 = mul %6, %7 : enc<f64>[3], clear<u2> -> enc<f64>[3]\n"
                     "%9 = rint %8 : enc<f64>[3] -> enc<f64>[3]\n"
                     "%11 = add %9, %10 : enc<f64>[3], f64 -> enc<f64>[3]\n"
                     "%12 = toint %11 : enc<f64>[3] -> enc<?>[3]\n"
                     "%13 = round %1 {bits = 3} : enc<i5> -> enc<?>\n"
                     "%16 = max %0, %14 : enc<u4>[3], clear<u1> -> enc<?>[3]\n"
                     "%17 = min %16, %15 : enc<?>[3], clear<u4> -> enc<?>[3]\n"
                     "ceil\n"
                     "pow\n"
                     "output \"l\" %4 : enc<?>\n");
    /* floor of an integer is the integer itself */
    CU_ASSERT_EQUAL(ir_count_ops(l.m->main, IR_FLOOR), 0);
    CU_ASSERT_EQUAL(ir_count_ops(l.m->main, IR_CEIL), 1);
    lowered_free(&l);
}

/* The integer/real boundary: reals become integers where they leave
 * elementwise code, and ops of two roots are rewritten. */
static void test_real_boundary(void) {
    lowered l;
    expect_ok(&l, "circuit c(x: enc u4[3], y: enc u4, z: clear u4) {\n"
                  "    a = sigmoid(y) * 10;\n"
                  "    b = sum(x / 2);\n"
                  "    d = sigmoid(y) + x / 3;\n"
                  "    e = x < y;\n"
                  "    f = min(x, z);\n"
                  "    g = max(y, x + 1);\n"
                  "    w = where(x > 2, x, y);\n"
                  "    h = relu(x * y - 1);\n"
                  "    return a, b, d, e, f, g, w, h;\n"
                  "}\n");
    expect_lines(&l,
                 /* return of a real: toint (at the return, below) */
                 "%3 = sigmoid %1 : enc<u4> -> enc<f64>\n"
                 "%5 = mul %3, %4 : enc<f64>, clear<u4> -> enc<f64>\n"
                 /* a real feeding sum: toint first */
                 "%7 = div %0, %6 : enc<u4>[3], clear<u2> -> enc<f64>[3]\n"
                 "%8 = toint %7 : enc<f64>[3] -> enc<?>[3]\n"
                 "%9 = sum %8 : enc<?>[3] -> enc<?>\n"
                 /* two real chains of different values: each rounded, then added */
                 "%10 = sigmoid %1 : enc<u4> -> enc<f64>\n"
                 "%12 = div %0, %11 : enc<u4>[3], clear<u2> -> enc<f64>[3]\n"
                 "%13 = toint %10 : enc<f64> -> enc<?>\n"
                 "%14 = toint %12 : enc<f64>[3] -> enc<?>[3]\n"
                 "%15 = add %13, %14 : enc<?>, enc<?>[3] -> enc<?>[3]\n"
                 /* x < y -> (x - y) < 0 */
                 "%16 = sub %0, %1 : enc<u4>[3], enc<u4> -> enc<?>[3]\n"
                 "%17 = const [0] : clear<u1>\n"
                 "%18 = lt %16, %17 : enc<?>[3], clear<u1> -> enc<?>[3]\n"
                 /* min(x, z) with z a clear input -> x - relu(x - z) */
                 "%19 = sub %0, %2 : enc<u4>[3], clear<u4> -> enc<?>[3]\n"
                 "%20 = relu %19 : enc<?>[3] -> enc<?>[3]\n"
                 "%21 = sub %0, %20 : enc<u4>[3], enc<?>[3] -> enc<?>[3]\n"
                 /* max(y, x + 1) -> (x + 1) + relu(y - (x + 1)) */
                 "%23 = add %0, %22 : enc<u4>[3], clear<u1> -> enc<?>[3]\n"
                 "%24 = sub %1, %23 : enc<u4>, enc<?>[3] -> enc<?>[3]\n"
                 "%25 = relu %24 : enc<?>[3] -> enc<?>[3]\n"
                 "%26 = add %23, %25 : enc<?>[3], enc<?>[3] -> enc<?>[3]\n"
                 /* where(k, a, b) -> b + (k != 0) * (a - b) */
                 "%28 = gt %0, %27 : enc<u4>[3], clear<u2> -> enc<?>[3]\n"
                 "%30 = ne %28, %29 : enc<?>[3], clear<u1> -> enc<?>[3]\n"
                 "%31 = sub %0, %1 : enc<u4>[3], enc<u4> -> enc<?>[3]\n"
                 "%32 = mul %30, %31 : enc<?>[3], enc<?>[3] -> enc<?>[3]\n"
                 "%33 = add %1, %32 : enc<u4>, enc<?>[3] -> enc<?>[3]\n"
                 /* an encrypted product stays a mul (lowered later to TLUs) */
                 "%34 = mul %0, %1 : enc<u4>[3], enc<u4> -> enc<?>[3]\n"
                 "%36 = sub %34, %35 : enc<?>[3], clear<u1> -> enc<?>[3]\n"
                 "%37 = relu %36 : enc<?>[3] -> enc<?>[3]\n"
                 "%38 = toint %5 : enc<f64> -> enc<?>\n"
                 "output \"a\" %38 : enc<?>\n"
                 "output \"h\" %37 : enc<?>[3]\n");
    lowered_free(&l);
}

static void test_errors(void) {
    expect_error("circuit c(x: enc u4) {\n    y = x + xx;\n    return y;\n}\n",
                 "t.cml:2:13: error: unknown name 'xx'; did you mean 'x'?\n"
                 "    2 |     y = x + xx;\n"
                 "      |             ^\n");
    expect_error("circuit c(x: enc u4) {\n    return foo(x);\n}\n",
                 "t.cml:2:12: error: unknown function 'foo'\n"
                 "    2 |     return foo(x);\n"
                 "      |            ^\n");
    expect_error1("circuit c(x: enc u4) {\n    return sigmod(x);\n}\n",
                  "t.cml:2:12: error: unknown function 'sigmod'; did you mean 'sigmoid'?");
    expect_error1("circuit c(x: enc u4) {\n    return x(1);\n}\n",
                  "t.cml:2:12: error: 'x' is not a function");
    expect_error1("circuit c(x: enc u4[3]) {\n    return sum(x, 0, 1);\n}\n",
                  "t.cml:2:12: error: 'sum' takes 1 or 2 arguments, got 3");
    expect_error1("circuit c(x: enc u4[3]) {\n    return dot(x);\n}\n",
                  "t.cml:2:12: error: 'dot' takes 2 arguments, got 1");
    expect_error1("circuit c(x: enc u4[3]) {\n    return concat();\n}\n",
                  "t.cml:2:12: error: 'concat' takes at least 1 argument, got 0");
    expect_error1("circuit c(x: enc u4[3]) {\n    return sum(x, axis=0);\n}\n",
                  "t.cml:2:19: error: 'sum' takes no keyword arguments");
    expect_error1("circuit c(x: enc u4[3]) {\n    return concat(x, x, axes=0);\n}\n",
                  "t.cml:2:25: error: unknown keyword argument 'axes' for 'concat'; did you mean "
                  "'axis'?");
    expect_error1("circuit c(x: enc u4[3], n: clear u2) {\n    return sum(x, n);\n}\n",
                  "t.cml:2:19: error: the axis of 'sum' must be a constant integer");
    expect_error1("circuit c(x: enc u4[3]) {\n    return sum(x, 1);\n}\n",
                  "t.cml:2:19: error: axis 1 is out of range for a tensor of rank 1");
    expect_error1("circuit c(x: enc u4[3]) {\n    return round(x, 0);\n}\n",
                  "t.cml:2:21: error: 'round' keeps 1 to 62 bits, got 0");
    expect_error1("circuit c(x: enc u4[4]) {\n    return reshape(x, [3, 2]);\n}\n",
                  "t.cml:2:12: error: cannot reshape [4] (4 elements) to [3,2] (6)");
    expect_error1("circuit c(x: enc u4[3], y: enc u4[4]) {\n    return x + y;\n}\n",
                  "t.cml:2:14: error: cannot broadcast shapes [3] and [4] in 'add'");
    expect_error1("circuit c(x: enc u4[3], y: enc u4[4]) {\n    return dot(x, y);\n}\n",
                  "t.cml:2:12: error: dot needs two vectors of the same length, got [3] and [4]");
    expect_error1("circuit c(x: enc u4[3]) {\n    return x[3];\n}\n",
                  "t.cml:2:14: error: index 3 is out of bounds for dimension 0 of size 3");
    expect_error1("circuit c(x: enc u4[3]) {\n    return x[0, 1];\n}\n",
                  "t.cml:2:12: error: too many indices (2) for a tensor of rank 1");
    expect_error1("circuit c(x: enc u4[3]) {\n    return x[::-1];\n}\n",
                  "t.cml:2:16: error: negative slice steps are not supported");
    expect_error1("circuit c(x: enc u4[3]) {\n    return x[2:1];\n}\n",
                  "t.cml:2:12: error: empty slice in dimension 0 (size 3)");
    expect_error1("circuit c(x: enc u4) {\n    t = [[1, 2], [3]];\n    return x;\n}\n",
                  "t.cml:2:18: error: ragged tensor literal: 1 element here, 2 in the first row");
    expect_error1("circuit c(x: enc u4) {\n    t = [1, [2]];\n    return x;\n}\n",
                  "t.cml:2:13: error: ragged tensor literal: a tensor where a number is expected");
    expect_error1("circuit c(x: enc u4[2]) {\n    t = [x, [1, 2, 3]];\n    return x;\n}\n",
                  "t.cml:2:13: error: ragged tensor literal: element of shape [3], the first has "
                  "shape [2]");
    expect_error1("circuit c(x: enc u4, y: enc u4) {\n    return lut(x, (v) => v * y);\n}\n",
                  "t.cml:2:30: error: a lut expression may only use its parameter ('v') and "
                  "constants; 'y' is not a constant");
    expect_error1("circuit c(x: enc u4[2]) {\n    return lut(x, (v) => sum(v));\n}\n",
                  "t.cml:2:26: error: 'sum' cannot be used in a lut expression: the expression is "
                  "applied to each element separately");
    expect_error1("circuit c(x: enc u4) {\n    f = (v) => v;\n    return x;\n}\n",
                  "t.cml:2:9: error: a lambda can only be the table of 'lut' (its second argument)");
    expect_error1("circuit c(x: enc u4) {\n    return lut(x, [[1], [2]]);\n}\n",
                  "t.cml:2:19: error: the table of 'lut' must be one-dimensional, got shape [2,1]");
    expect_error1("circuit c(x: enc u4, y: enc u4) {\n    return lut(x, [1, y]);\n}\n",
                  "t.cml:2:19: error: the table of 'lut' must be a constant list or a lambda");
    expect_error1("circuit c(x: enc u4, y: clear u4) {\n    return y + 1;\n}\n",
                  "t.cml:2:14: error: circuit output does not depend on any encrypted input");
    expect_error1("circuit c(x: enc u4) {\n    y = x + 1;\n}\n",
                  "t.cml:1:1: error: circuit 'c' has no 'return' statement");
    expect_error1("circuit c(x: enc u4) {\n    const k = x + 1;\n    return x;\n}\n",
                  "t.cml:2:17: error: const 'k' depends on an input; a const must be computable "
                  "at compile time");
    expect_error1("circuit c(x: enc u4) {\n    const k: i4[2] = [1, 9];\n    return x;\n}\n",
                  "t.cml:2:22: error: value 9 of const 'k' does not fit its type i4[2] (-8 to 7)");
    expect_error1("circuit c(x: enc u4) {\n    const k: u4[3] = [1, 2];\n    return x;\n}\n",
                  "t.cml:2:22: error: const 'k' is declared u4[3] but its value has shape [2]");
    expect_error1("circuit c(x: enc u4) {\n    const k: u4 = 0.5;\n    return x;\n}\n",
                  "t.cml:2:19: error: const 'k' has integer type u4 but its value 0.5 is not an "
                  "integer");
    expect_error1("circuit c(x: enc u4) {\n    const k: enc u4 = 1;\n    return x;\n}\n",
                  "t.cml:2:14: error: a const cannot be encrypted");
    expect_error1("circuit c(x: enc u4, x: enc u4) {\n    return x;\n}\n",
                  "t.cml:1:22: error: duplicate parameter 'x'");
    expect_error1("circuit c(x: f32) {\n    return x;\n}\n",
                  "t.cml:1:14: error: circuit parameter 'x' has a real type; circuit inputs are "
                  "integers (write a model to quantize real inputs)");
    expect_error1("circuit c(x: enc u4, y: enc u4) {\n    return x / y;\n}\n",
                  "t.cml:2:14: error: 'div' of two non-constant values cannot be computed: a table "
                  "lookup evaluates a function of one encrypted value (one operand must be a "
                  "constant)");
    expect_error1("circuit c(x: enc u4[2]) {\n    return x @ [[0.5], [1]];\n}\n",
                  "t.cml:2:14: error: '@' with a real constant operand: circuits compute on "
                  "integers (round the constant, or write a model to have it quantized)");
    expect_error1("circuit c(x: enc u4[2]) {\n    return dense(x, x);\n}\n",
                  "t.cml:2:12: error: 'dense' is a model-level operation; it is not available in "
                  "a circuit");
    /* a constant index out of a lookup table is found at compile time */
    expect_error1("circuit c(x: enc u4) {\n    return x + lut(5, [1, 2]);\n}\n",
                  "t.cml:2:16: error: table index 5 out of range: the table has 2 entries");
}

/* ---- models ----------------------------------------------------------------------- */

/* The DESIGN §3 model, small enough to quantize by hand. */
static const char *const iris_mlp =
    "model iris_mlp {\n"
    "    input x: f32[4] range [-3.0, 3.0];\n"
    "    quantize inputs 4, weights 4, activations 4;\n"
    "    param W1: f32[4,3] = [[0.5, -0.25, 1.0], [0.25, 0.5, -0.5], [-0.75, 0.5, 0.25],\n"
    "                          [0.1, -0.2, 0.3]];\n"
    "    param b1: f32[3] = [0.5, -0.5, 0.0];\n"
    "    param W2: f32[3,2] = [[1.5, -0.7], [0.3, 0.6], [-1.0, 2.1]];\n"
    "    param b2: f32[2] = [0.2, -0.1];\n"
    "    h = relu(dense(x, W1, b1));\n"
    "    return argmax(dense(h, W2, b2));\n"
    "}\n";

static void test_model_by_hand(void) {
    lowered l;
    expect_ok(&l, iris_mlp);
    /* Input [-3, 3] on 4 bits: scale 6/15 = 0.4, zero point round(7.5) = 8.
     * W1: max |w| = 1, scale 1/7, W1q = round(7 W1) = [[4,-2,7],[2,4,-4],[-5,4,2],[1,-1,2]].
     * Accumulator scale 0.4/7; offset c = -8 * colsum(W1q) + round(b1 / (0.4/7))
     *   = -8 * [2, 5, 7] + [round(8.75), round(-8.75), 0] = [-7, -49, -56].
     * relu(dense) over the box corners (all 16 are calibration points; the
     * layer is linear so they hold the extremes): unit j reaches
     * 3 * sum|W1[:,j]| + b1[j] = 5.3, 3.85, 6.15, and 0 below: range
     * [0, 6.15] -> scale 6.15/15 = 0.41, zero point 0.
     * W2: max |w| = 2.1, scale 0.3, W2q = round(W2 / 0.3) = [[5,-2],[1,2],[-3,7]].
     * Output accumulator scale 0.41 * 0.3 = 0.123, zero point 0; offset
     * round(b2 / 0.123) = [round(1.626), round(-0.813)] = [2, -1]. No table
     * on the output: the client dequantizes and takes the argmax. */
    expect_lines(&l, "model @iris_mlp {\n"
                     "  %0 = input \"x\" {scale = 0.4, zero_point = 8, bits = 4} : enc<u4>[4]\n"
                     "  %1 = const [4, -2, 7, 2, 4, -4, -5, 4, 2, 1, -1, 2] : clear<i4>[4,3]\n"
                     "  %2 = matmul %0, %1 : enc<u4>[4], clear<i4>[4,3] -> enc<?>[3]\n"
                     "  %3 = const [-7, -49, -56] : clear<i7>[3]\n"
                     "  %4 = add %2, %3 : enc<?>[3], clear<i7>[3] -> enc<?>[3]\n"
                     "  %5 = tofloat %4 : enc<?>[3] -> enc<f64>[3]\n"
                     "  %6 = const [0.0571428571] : f64\n"
                     "  %7 = mul %5, %6 : enc<f64>[3], f64 -> enc<f64>[3]\n"
                     "  %8 = relu %7 : enc<f64>[3] -> enc<f64>[3]\n"
                     "  %9 = const [0.41] : f64\n"
                     "  %10 = div %8, %9 : enc<f64>[3], f64 -> enc<f64>[3]\n"
                     "  %11 = rint %10 : enc<f64>[3] -> enc<f64>[3]\n"
                     "  %12 = const [0] : f64\n"
                     "  %13 = max %11, %12 : enc<f64>[3], f64 -> enc<f64>[3]\n"
                     "  %14 = const [15] : f64\n"
                     "  %15 = min %13, %14 : enc<f64>[3], f64 -> enc<f64>[3]\n"
                     "  %16 = toint %15 : enc<f64>[3] -> enc<?>[3]\n"
                     "  %17 = const [5, -2, 1, 2, -3, 7] : clear<i4>[3,2]\n"
                     "  %18 = matmul %16, %17 : enc<?>[3], clear<i4>[3,2] -> enc<?>[2]\n"
                     "  %19 = const [2, -1] : clear<i3>[2]\n"
                     "  %20 = add %18, %19 : enc<?>[2], clear<i3>[2] -> enc<?>[2]\n"
                     "  output \"out0\" %20 {scale = 0.123, zero_point = 0, post = argmax} : "
                     "enc<?>[2]\n"
                     "}\n");
    const ir_op *in = l.m->main->first, *out = l.m->main->last;
    CU_ASSERT_TRUE(in->quant.present);
    CU_ASSERT_DOUBLE_EQUAL(in->quant.scale, 0.4, 1e-12);
    CU_ASSERT_EQUAL(in->quant.zero_point, 8);
    CU_ASSERT_DOUBLE_EQUAL(out->quant.scale, 0.123, 1e-12);
    CU_ASSERT_EQUAL(out->post, IR_POST_ARGMAX);
    CU_ASSERT_EQUAL(l.m->kind, IR_UNIT_MODEL);
    lowered_free(&l);

    /* With `accumulator 6`, each accumulator is rounded before its table. */
    const char *acc = "model m {\n"
                      "    input x: f32[2] range [0, 1];\n"
                      "    quantize accumulator 6;\n"
                      "    param W: f32[2,2] = [[1, -1], [0.5, 2]];\n"
                      "    return sigmoid(dense(x, W)), tanh(dense(x, W) * 2);\n"
                      "}\n";
    expect_ok(&l, acc);
    /* [0, 1] on 8 bits: scale 1/255, zero point 0; W scale 2/127, Wq =
     * round(63.5 W) = [[64, -64], [32, 127]]; accumulator scale
     * 2 / (255 * 127) = 6.1757e-05. */
    expect_lines(&l, "%0 = input \"x\" {scale = 0.00392156863, zero_point = 0, bits = 8} : enc<u8>[2]\n"
                     "%1 = const [64, -64, 32, 127] : clear<i8>[2,2]\n"
                     "%2 = matmul %0, %1 : enc<u8>[2], clear<i8>[2,2] -> enc<?>[2]\n"
                     "%5 = round %4 {bits = 6} : enc<?>[2] -> enc<?>[2]\n"
                     "tanh\n"
                     "toint\n"
                     "output \"out0\" %2 {scale = 6.17569863e-05, zero_point = 0, post = sigmoid}\n"
                     "output \"out1\"");
    CU_ASSERT_EQUAL(ir_count_ops(l.m->main, IR_ROUND), 1);
    lowered_free(&l);
}

/* Float reference of the conv model below, in plain C. */
static void conv_model_float(const double *x, double *y) {
    /* conv2d: 1 -> 2 channels, 3x3 kernel, padding 1, on 4x4; relu; avgpool 2
     * stride 2 padding 1 (zero padding counted, as PyTorch's default) -> 2x3x3;
     * maxpool 2 stride 1 -> 2x2x2; flatten -> dense 8 -> 2. */
    static const double K[2][3][3] = {{{0.2, -0.5, 0.1}, {0.7, 0.3, -0.2}, {0.0, 0.4, -0.6}},
                                      {{-0.3, 0.8, 0.5}, {0.1, -0.9, 0.2}, {0.6, 0.0, 0.3}}};
    static const double bk[2] = {0.1, -0.2};
    double c[2][4][4], p[2][3][3], m[2][2][2];
    for (int o = 0; o < 2; o++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                double s = bk[o];
                for (int a = 0; a < 3; a++)
                    for (int b = 0; b < 3; b++) {
                        int yy = i + a - 1, xx = j + b - 1;
                        if (yy >= 0 && yy < 4 && xx >= 0 && xx < 4) s += K[o][a][b] * x[yy * 4 + xx];
                    }
                c[o][i][j] = s > 0 ? s : 0;
            }
    for (int o = 0; o < 2; o++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                double s = 0;
                for (int a = 0; a < 2; a++)
                    for (int b = 0; b < 2; b++) {
                        int yy = 2 * i + a - 1, xx = 2 * j + b - 1;
                        if (yy >= 0 && yy < 4 && xx >= 0 && xx < 4) s += c[o][yy][xx];
                    }
                p[o][i][j] = s / 4;
            }
    for (int o = 0; o < 2; o++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) {
                double v = p[o][i][j];
                for (int a = 0; a < 2; a++)
                    for (int b = 0; b < 2; b++)
                        if (p[o][i + a][j + b] > v) v = p[o][i + a][j + b];
                m[o][i][j] = v;
            }
    static const double W[8][2] = {{0.5, -0.1}, {0.2, 0.3}, {-0.4, 0.6}, {0.1, 0.1},
                                   {0.3, -0.7}, {-0.2, 0.4}, {0.6, 0.2}, {0.0, -0.5}};
    const double *f = &m[0][0][0];
    for (int k = 0; k < 2; k++) {
        y[k] = k ? -0.3 : 0.25;
        for (int i = 0; i < 8; i++) y[k] += f[i] * W[i][k];
    }
}

static const char *const conv_model =
    "model cnn {\n"
    "    input x: f32[1,4,4] calibrate \"cal.csv\";\n"
    "    quantize inputs 8, weights 8, activations 8;\n"
    "    param K: f32[2,1,3,3] = [[[[0.2, -0.5, 0.1], [0.7, 0.3, -0.2], [0.0, 0.4, -0.6]]],\n"
    "                             [[[-0.3, 0.8, 0.5], [0.1, -0.9, 0.2], [0.6, 0.0, 0.3]]]];\n"
    "    param bk: f32[2] = [0.1, -0.2];\n"
    "    param W: f32[8,2] = [[0.5, -0.1], [0.2, 0.3], [-0.4, 0.6], [0.1, 0.1],\n"
    "                         [0.3, -0.7], [-0.2, 0.4], [0.6, 0.2], [0.0, -0.5]];\n"
    "    c = relu(conv2d(x, K, bk, stride=1, padding=1));\n"
    "    p = maxpool2d(avgpool2d(c, 2, stride=2, padding=1), 2, stride=1);\n"
    "    return dense(flatten(p), W, [0.25, -0.3]);\n"
    "}\n";

static uint64_t rng = 88172645463325252u;
static double uniform(double lo, double hi) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (double)(rng >> 11) * 0x1.0p-53 * (hi - lo);
}

/* Runs the quantized model through the interpreter on calibration-like
 * inputs: quantize, evaluate, dequantize, compare with the float model. The
 * input has a non-zero zero point (range [-1, 2]), so the zero-padding
 * corrections of conv2d and avgpool2d are exercised. */
static void test_model_matches_float(void) {
    char dir[] = "/tmp/cml_lower_XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/cal.csv", dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "# 16 pixels\n");
    for (int r = 0; r < 300; r++)
        for (int k = 0; k < 16; k++)
            fprintf(f, "%.6f%s", r == 0 ? -1.0 : r == 1 ? 2.0 : uniform(-1, 2), k < 15 ? "," : "\n");
    fclose(f);
    lowered l;
    lower_text(&l, conv_model, dir);
    if (!l.m) fprintf(stderr, "\n%s", l.diags);
    CU_ASSERT_PTR_NOT_NULL(l.m);
    lowered bad;
    lower_text(&bad, "model m {\n    input x: f32[3] calibrate \"cal.csv\";\n    return x;\n}\n", dir);
    CU_ASSERT_PTR_NULL(bad.m);
    char msg[256];
    snprintf(msg, sizeof msg, "t.cml:2:5: error: calibration file '%s' has 16 columns, the inputs "
             "need 3 (all inputs flattened, in declaration order)\n", path);
    CU_ASSERT_NSTRING_EQUAL(bad.diags, msg, strlen(msg));
    lowered_free(&bad);
    unlink(path);
    rmdir(dir);
    if (!l.m) {
        lowered_free(&l);
        return;
    }
    const ir_op *in = l.m->main->first;
    CU_ASSERT_DOUBLE_EQUAL(in->quant.scale, 3.0 / 255, 1e-6); /* [-1, 2] from the data */
    CU_ASSERT_EQUAL(in->quant.zero_point, 85);
    const ir_op *out = l.m->main->last;
    CU_ASSERT_EQUAL(out->code, IR_OUTPUT);
    CU_ASSERT_EQUAL(ir_count_ops(l.m->main, IR_CONV2D), 1);
    CU_ASSERT_EQUAL(ir_count_ops(l.m->main, IR_SUMPOOL2D), 1);
    CU_ASSERT_EQUAL(ir_count_ops(l.m->main, IR_MAXPOOL2D), 1);
    double worst = 0, scale = 0;
    for (int t = 0; t < 200; t++) {
        double x[16], want[2];
        ir_tensor q, y[1];
        int64_t dims[3] = {1, 4, 4};
        CU_ASSERT_FATAL(ir_tensor_alloc(&q, false, 3, dims));
        for (int k = 0; k < 16; k++) {
            x[k] = uniform(-1, 2);
            int64_t v = (int64_t)round(x[k] / in->quant.scale) + in->quant.zero_point;
            q.i[k] = v < 0 ? 0 : v > 255 ? 255 : v;
        }
        conv_model_float(x, want);
        bool ok = ir_interp(l.m->main, &q, y, NULL, 0, NULL, NULL);
        CU_ASSERT_TRUE(ok);
        for (int k = 0; ok && k < 2; k++) {
            double got = out->quant.scale * (double)(y[0].i[k] - out->quant.zero_point);
            worst = fmax(worst, fabs(got - want[k]));
            scale = fmax(scale, fabs(want[k]));
        }
        ir_tensor_free(&q);
        if (ok) ir_tensor_free(&y[0]);
    }
    /* 8-bit everything: within 3% of the output range */
    if (!(worst < 0.03 * scale)) fprintf(stderr, "\nworst error %g, output range %g\n", worst, scale);
    CU_ASSERT_TRUE(worst < 0.03 * scale);
    lowered_free(&l);
}

static void test_model_errors(void) {
    expect_error1("model m {\n    input x: f32[2] range [0, 1];\n    quantize inputs 4, wieghts 4;\n"
                  "    return x;\n}\n",
                  "t.cml:3:24: error: unknown quantize setting 'wieghts'; did you mean 'weights'? "
                  "(valid: inputs, weights, activations, accumulator)");
    expect_error1("model m {\n    input x: f32[2] range [0, 1];\n    quantize inputs 17;\n"
                  "    return x;\n}\n",
                  "t.cml:3:14: error: 'inputs' must be between 1 and 16 bits, got 17");
    expect_error1("model m {\n    input x: f32[2] range [0, 1];\n    quantize inputs 4;\n"
                  "    quantize inputs 5;\n    return x;\n}\n",
                  "t.cml:4:5: error: duplicate 'quantize' statement");
    expect_error1("model m {\n    input x: f32[2] range [0, 1];\n    quantize weights 1;\n"
                  "    return x;\n}\n",
                  "t.cml:3:14: error: 'weights' must be between 2 and 16 bits, got 1");
    expect_error1("model m {\n    input x: f32[2] range [0, 1];\n"
                  "    param W: f32[2,2] = [[1, 2]];\n    return dense(x, W);\n}\n",
                  "t.cml:3:25: error: param 'W' is declared with shape [2,2] but its value has "
                  "shape [1,2]");
    expect_error1("model m {\n    input x: f32[2] range [0, 1];\n"
                  "    param W: f32[3,2] = [[1, 2], [3, 4], [5, 6]];\n    return dense(x, W);\n}\n",
                  "t.cml:4:12: error: matmul inner dimensions differ: [2] @ [3,2] (2 vs 3)");
    expect_error1("model m {\n    input x: f32[2] range [0, 1];\n"
                  "    param W: f32[2,2] = [[1, 2], [3, 4]];\n    return dense(x, W, [1]);\n}\n",
                  "t.cml:4:24: error: the bias of 'dense' has 1 value, the layer has 2 outputs");
    expect_error1("model m {\n    input x: f32[2] range [0, 1];\n    return dense(x, x);\n}\n",
                  "t.cml:3:21: error: the weights of 'dense' must be a param or a literal");
    expect_error1("model m {\n    input x: f32[2] range [0, 1];\n    return softmax(relu(argmax(x)));\n}\n",
                  "t.cml:3:25: error: 'argmax' runs on the client after decryption; it can only be "
                  "applied to a returned value ('return argmax(v);')");
    expect_error1("model m {\n    input x: f32[2] range [0, 1];\n    return x + x;\n}\n",
                  "t.cml:3:14: error: '+' of two layer values is not supported in a model; one "
                  "operand must be a constant or a param");
    expect_error1("model m {\n    input x: f32[2] range [0, 1];\n    return lut(x, [1]);\n}\n",
                  "t.cml:3:12: error: 'lut' is a circuit-level operation; it is not available in a "
                  "model");
    expect_error1("model m {\n    input x: f32[2] range [0, 1];\n    return relu(xx);\n}\n",
                  "t.cml:3:17: error: unknown name 'xx'; did you mean 'x'?");
    expect_error1("model m {\n    input x: f32[2] range [0, 1];\n    return rleu(x);\n}\n",
                  "t.cml:3:12: error: unknown function 'rleu'; did you mean 'relu'?");
    expect_error1("model m {\n    input x: f32[2] range [1, 1];\n    return x;\n}\n",
                  "t.cml:2:5: error: the range of 'x' is empty: [1, 1]");
    expect_error1("model m {\n    input x: f32[2] range [0, 1];\n    input x: f32[2] range [0, 1];\n"
                  "    return x;\n}\n",
                  "t.cml:3:11: error: redefinition of 'x'");
    expect_error1("model m {\n    input x: f32[2] range [0, 1];\n    const k = 1;\n    return x;\n}\n",
                  "t.cml:3:5: error: 'const' is not allowed in a model; declare weights with "
                  "'param'");
    expect_error1("model m {\n    input x: f32[2] range [0, 1];\n    h = relu(x);\n}\n",
                  "t.cml:1:1: error: model 'm' has no 'return' statement");
    expect_error1("model m {\n    param W: f32[1] = [1];\n    return W;\n}\n",
                  "t.cml:1:1: error: model 'm' has no input");
    expect_error1("model m {\n    input x: f32[2] range [0, 1];\n"
                  "    return conv2d(x, [[[[1]]]], strides=2);\n}\n",
                  "t.cml:3:33: error: unknown keyword argument 'strides' for 'conv2d'; did you "
                  "mean 'stride'?");
    expect_error1("model m {\n    input x: f32[1,2,2] range [0, 1];\n"
                  "    return conv2d(x, [[[[1]]]], stride=0);\n}\n",
                  "t.cml:3:40: error: the stride of 'conv2d' must be at least 1, got 0");
    /* calibration file problems: not found (no location, then a note), wrong width */
    lowered l;
    lower_text(&l, "model m {\n    input x: f32[2] calibrate \"nope.csv\";\n    return x;\n}\n",
               "/nonexistent");
    CU_ASSERT_PTR_NULL(l.m);
    CU_ASSERT_STRING_EQUAL(l.diags,
                           "error: cannot open '/nonexistent/nope.csv': No such file or directory\n"
                           "t.cml:2:5: note: calibration data of 'x' requested here\n"
                           "    2 |     input x: f32[2] calibrate \"nope.csv\";\n"
                           "      |     ^\n");
    lowered_free(&l);
}

CU_TestInfo cml_tests_lower[] = {
    {"design_example", test_design_example},
    {"constants", test_constants},
    {"indexing_and_tensors", test_indexing_and_tensors},
    {"builtins", test_builtins},
    {"real_boundary", test_real_boundary},
    {"errors", test_errors},
    {"model_by_hand", test_model_by_hand},
    {"model_matches_float", test_model_matches_float},
    {"model_errors", test_model_errors},
    CU_TEST_INFO_NULL,
};
