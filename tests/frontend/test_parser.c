/* test_parser.c — the .cml scanner and parser: every syntax form, operator
 * precedence, node locations, and the first error's message and position
 * for bad input (including NUL bytes, runaway nesting and huge literals).
 *
 * Most checks compare ast_print's S-expression with an expected string, so
 * a failure shows the whole tree; errors are rendered through a memstream
 * exactly as cmlc would print them. */
#include "ast.h"
#include "cml_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parsed {
    char *ast;  /* ast_print output, NULL on failure */
    char *diag; /* everything reported */
    int errors;
} parsed;

/* Parses `len` bytes of `text` as file "t.cml". */
static parsed parse_n(const char *text, size_t len) {
    char *copy = malloc(len + 1);
    CU_ASSERT_FATAL(copy != NULL);
    memcpy(copy, text, len);
    copy[len] = '\0';
    diag_source src = {"t.cml", copy};
    parsed r = {0};
    size_t dlen = 0;
    FILE *df = open_memstream(&r.diag, &dlen);
    CU_ASSERT_FATAL(df != NULL);
    diag_ctx d;
    diag_init(&d, df);
    arena a;
    arena_init(&a);
    ast_unit *u = parse_unit(&a, &d, &src, len);
    fclose(df);
    r.errors = d.errors;
    if (u) {
        size_t alen = 0;
        FILE *af = open_memstream(&r.ast, &alen);
        CU_ASSERT_FATAL(af != NULL);
        ast_print(af, u);
        fclose(af);
    }
    /* success and silence go together */
    CU_ASSERT_EQUAL(u == NULL, d.errors > 0);
    arena_free(&a);
    free(copy);
    return r;
}

static parsed parse_s(const char *text) {
    return parse_n(text, strlen(text));
}

static void release(parsed *r) {
    free(r->ast);
    free(r->diag);
}

#define EXPECT_AST(text, want)                                                   \
    do {                                                                         \
        parsed r_ = parse_s(text);                                               \
        if (!r_.ast) fprintf(stderr, "\nunexpected error: %s", r_.diag);          \
        CU_ASSERT_PTR_NOT_NULL(r_.ast);                                          \
        if (r_.ast) {                                                            \
            if (strcmp(r_.ast, want "\n") != 0)                                  \
                fprintf(stderr, "\n got: %s want: %s\n", r_.ast, want);          \
            CU_ASSERT_STRING_EQUAL(r_.ast, want "\n");                           \
        }                                                                        \
        release(&r_);                                                            \
    } while (0)

/* An expression inside `circuit t() { return EXPR; }` */
#define EXPECT_EXPR(expr, want) EXPECT_AST("circuit t() { return " expr "; }", "(circuit t (return " want "))")

/* The first line of the diagnostics (the source line and caret follow). */
static void check_error(const parsed *r, const char *want, const char *text) {
    CU_ASSERT_PTR_NULL(r->ast);
    CU_ASSERT_EQUAL(r->errors, 1);
    size_t n = strcspn(r->diag, "\n");
    if (strlen(want) != n || strncmp(r->diag, want, n) != 0)
        fprintf(stderr, "\n input: %.80s\n got:   %.*s\n want:  %s\n", text, (int)n, r->diag, want);
    CU_ASSERT(strlen(want) == n && strncmp(r->diag, want, n) == 0);
}

static void expect_error_n(const char *text, size_t len, const char *want) {
    parsed r = parse_n(text, len);
    check_error(&r, want, text);
    release(&r);
}

static void expect_error(const char *text, const char *want) {
    expect_error_n(text, strlen(text), want);
}

/* ---- the two examples of DESIGN.md §3 --------------------------------- */

static void test_design_circuit(void) {
    EXPECT_AST("circuit scaled_square(x: enc u4[3], y: enc u4) {\n"
               "    s = sum(x) + y;                 // bit width inferred: u6\n"
               "    t = lut(s, (v) => (v * v) / 8); // univariate expression -> table lookup\n"
               "    r = relu(s - 20);               // univariate chain -> fused into one TLU\n"
               "    return t, r;\n"
               "}\n",
               "(circuit scaled_square (x enc u4[3]) (y enc u4)"
               " (= s (+ (call sum x) y))"
               " (= t (call lut s (lambda v (/ (* v v) 8))))"
               " (= r (call relu (- s 20)))"
               " (return t r))");
}

static const char design_model[] =
    "model iris_mlp {\n"
    "    input x: f32[4] calibrate \"iris_train.csv\";   // or: range [-3.0, 3.0]\n"
    "    quantize inputs 4, weights 4, activations 4, accumulator 8;\n"
    "    param W1: f32[4,16] = ["
    "[-0.35, -0.70, 0.30, -0.86, 0.07, -0.27, -0.88, 0.01, -0.93, -0.13, -0.86, -0.82, -0.15, 0.65, -0.75, -0.55], "
    "[0.25, 0.90, 0.15, -0.21, 0.95, -0.91, 0.72, -0.42, -0.71, -0.76, -0.38, 0.63, -0.64, 0.16, 0.28, -0.26], "
    "[0.10, -0.87, -0.88, -0.59, 0.36, -0.14, -0.37, 0.17, -0.09, -0.40, 0.59, 0.40, -0.51, 0.15, 0.05, 0.75], "
    "[0.46, -0.42, 0.96, -0.76, -0.16, 0.51, -0.70, -0.02, -0.92, 0.34, 0.53, 0.15, 0.75, -0.37, 0.39, 0.19]];  "
    "param b1: f32[16] = "
    "[0.16, -0.09, 0.68, 0.89, -0.05, 0.33, -0.88, 0.40, 0.29, 0.99, 0.64, -0.43, -0.23, 0.34, -0.95, -0.08];\n"
    "    param W2: f32[16,3] = ["
    "[-0.66, -0.77, -0.88], [0.54, -0.74, -0.50], [-0.22, 0.74, -0.84], [-0.10, 0.10, 0.77], "
    "[0.64, 0.73, -0.44], [-0.17, -0.28, 0.77], [0.92, -0.70, -0.65], [-0.54, -0.53, -0.03], "
    "[0.18, -0.47, -0.99], [-0.16, -0.26, 0.13], [0.91, 0.38, 0.03], [0.24, 0.35, -0.89], "
    "[0.80, 0.56, 0.75], [0.60, -0.22, -0.20], [-0.79, 0.27, -0.88], [-0.87, -0.58, -0.68]];  "
    "param b2: f32[3] = [-0.32, -0.89, -1.00];\n"
    "    h = relu(dense(x, W1, b1));\n"
    "    return argmax(dense(h, W2, b2));   // argmax runs on the client, in clear\n"
    "}\n";

/* `rows` elements, each a tensor of `cols` (cols 0: scalars). */
static void check_tensor(const ast_expr *e, int rows, int cols) {
    CU_ASSERT_EQUAL_FATAL(e->kind, AST_TENSOR);
    CU_ASSERT_EQUAL_FATAL(e->u.tensor.count, rows);
    for (int i = 0; i < rows; i++) {
        const ast_expr *x = e->u.tensor.elems[i];
        if (cols == 0) {
            CU_ASSERT(x->kind == AST_FLOAT || (x->kind == AST_UNARY && x->u.bin.op == AST_OP_NEG &&
                                               x->u.bin.lhs->kind == AST_FLOAT));
        } else {
            check_tensor(x, cols, 0);
        }
    }
}

static void check_param(const ast_stmt *s, const char *name, int rank, int d0, int d1) {
    CU_ASSERT_EQUAL_FATAL(s->kind, AST_PARAM);
    CU_ASSERT_STRING_EQUAL(s->name, name);
    CU_ASSERT(s->has_type);
    CU_ASSERT_EQUAL(s->type.kind, AST_TY_FLOAT);
    CU_ASSERT_EQUAL(s->type.bits, 32);
    CU_ASSERT_EQUAL(s->type.rank, rank);
    CU_ASSERT_EQUAL(s->type.dims[0], d0);
    if (rank == 2) CU_ASSERT_EQUAL(s->type.dims[1], d1);
    check_tensor(s->value, d0, rank == 2 ? d1 : 0);
}

static void test_design_model(void) {
    diag_source src = {"iris.cml", design_model};
    diag_ctx d;
    diag_init(&d, stderr);
    arena a;
    arena_init(&a);
    ast_unit *u = parse_unit(&a, &d, &src, strlen(design_model));
    CU_ASSERT_PTR_NOT_NULL_FATAL(u);
    CU_ASSERT_EQUAL(u->kind, AST_UNIT_MODEL);
    CU_ASSERT_STRING_EQUAL(u->name, "iris_mlp");
    CU_ASSERT_EQUAL(u->nparams, 0);
    CU_ASSERT_EQUAL_FATAL(u->nstmts, 8);

    const ast_stmt *in = u->stmts[0];
    CU_ASSERT_EQUAL(in->kind, AST_INPUT);
    CU_ASSERT_STRING_EQUAL(in->name, "x");
    CU_ASSERT_EQUAL(in->type.kind, AST_TY_FLOAT);
    CU_ASSERT_EQUAL(in->type.rank, 1);
    CU_ASSERT_EQUAL(in->type.dims[0], 4);
    CU_ASSERT(!in->has_range);
    CU_ASSERT_STRING_EQUAL(in->calibrate, "iris_train.csv");

    const ast_stmt *q = u->stmts[1];
    CU_ASSERT_EQUAL(q->kind, AST_QUANTIZE);
    CU_ASSERT_EQUAL_FATAL(q->nsettings, 4);
    const char *keys[] = {"inputs", "weights", "activations", "accumulator"};
    const int64_t bits[] = {4, 4, 4, 8};
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_STRING_EQUAL(q->settings[i].key, keys[i]);
        CU_ASSERT_EQUAL(q->settings[i].bits, bits[i]);
        CU_ASSERT_EQUAL(q->settings[i].loc.line, 3);
    }
    CU_ASSERT_EQUAL(q->settings[3].loc.col, 50);

    check_param(u->stmts[2], "W1", 2, 4, 16);
    check_param(u->stmts[3], "b1", 1, 16, 0);
    check_param(u->stmts[4], "W2", 2, 16, 3);
    check_param(u->stmts[5], "b2", 1, 3, 0);
    CU_ASSERT_EQUAL(u->stmts[3]->loc.line, 4);
    CU_ASSERT_EQUAL(u->stmts[5]->loc.line, 5);

    const ast_stmt *h = u->stmts[6];
    CU_ASSERT_EQUAL(h->kind, AST_ASSIGN);
    CU_ASSERT_STRING_EQUAL(h->name, "h");
    CU_ASSERT_EQUAL(h->value->kind, AST_CALL);
    CU_ASSERT_STRING_EQUAL(h->value->u.call.name, "relu");
    CU_ASSERT_EQUAL(h->value->u.call.args[0]->u.call.nargs, 3);

    const ast_stmt *r = u->stmts[7];
    CU_ASSERT_EQUAL(r->kind, AST_RETURN);
    CU_ASSERT_EQUAL_FATAL(r->nvalues, 1);
    CU_ASSERT_STRING_EQUAL(r->values[0]->u.call.name, "argmax");
    CU_ASSERT_EQUAL(r->loc.line, 7);
    CU_ASSERT_EQUAL(r->loc.col, 5);
    CU_ASSERT_EQUAL(d.errors, 0);
    arena_free(&a);
}

/* ---- expressions ------------------------------------------------------- */

static void test_precedence(void) {
    EXPECT_EXPR("a + b * c", "(+ a (* b c))");
    EXPECT_EXPR("a * b + c", "(+ (* a b) c)");
    EXPECT_EXPR("a - b - c", "(- (- a b) c)");
    EXPECT_EXPR("a / b / c", "(/ (/ a b) c)");
    EXPECT_EXPR("-a @ b", "(@ (- a) b)");
    EXPECT_EXPR("a @ b * c", "(* (@ a b) c)");
    EXPECT_EXPR("a * b @ c", "(@ (* a b) c)");
    EXPECT_EXPR("a + b @ c", "(+ a (@ b c))");
    EXPECT_EXPR("a + b < c * d", "(< (+ a b) (* c d))");
    EXPECT_EXPR("a <= b - 1", "(<= a (- b 1))");
    EXPECT_EXPR("a > b", "(> a b)");
    EXPECT_EXPR("a >= b", "(>= a b)");
    EXPECT_EXPR("a == -b", "(== a (- b))");
    EXPECT_EXPR("a != b", "(!= a b)");
    EXPECT_EXPR("(a < b) < c", "(< (< a b) c)");
    EXPECT_EXPR("(a + b) * c", "(* (+ a b) c)");
    EXPECT_EXPR("- - a", "(- (- a))");
    EXPECT_EXPR("a - -b", "(- a (- b))");
    EXPECT_EXPR("-x[0]", "(- (index x 0))");
    EXPECT_EXPR("-f(x)[1][2]", "(- (index (index (call f x) 1) 2))");
    EXPECT_EXPR("((a))", "a");
}

static void test_literals(void) {
    EXPECT_EXPR("0", "0");
    EXPECT_EXPR("42", "42");
    EXPECT_EXPR("0x1F", "31");
    EXPECT_EXPR("0XfF", "255");
    EXPECT_EXPR("9223372036854775807", "9223372036854775807");
    EXPECT_EXPR("0x7fffffffffffffff", "9223372036854775807");
    EXPECT_EXPR("1.5", "1.5");
    EXPECT_EXPR(".5", "0.5");
    EXPECT_EXPR("1e-3", "0.001");
    EXPECT_EXPR("2.", "2.0");
    EXPECT_EXPR("2.5E+2", "250.0");
    EXPECT_EXPR("1e300", "1e+300");
    EXPECT_EXPR("1e10", "10000000000.0");
    EXPECT_EXPR("1e-5", "1e-05");
    EXPECT_EXPR("0.1", "0.1");
    EXPECT_EXPR("-1.25", "(- 1.25)");
    EXPECT_EXPR("1e-400", "0.0"); /* underflow is not an error */
}

static void test_tensors_and_lambdas(void) {
    EXPECT_EXPR("[1, 2, 3]", "[1 2 3]");
    EXPECT_EXPR("[[1, 2], [3, -4]]", "[[1 2] [3 (- 4)]]");
    EXPECT_EXPR("[[[0.5]]]", "[[[0.5]]]");
    EXPECT_EXPR("[a + 1, f(b)]", "[(+ a 1) (call f b)]");
    EXPECT_EXPR("[1, 2][0]", "(index [1 2] 0)");
    EXPECT_EXPR("(v) => v * v", "(lambda v (* v v))");
    EXPECT_EXPR("( v /* c */ ) // c\n => v < 3", "(lambda v (< v 3))");
    EXPECT_EXPR("(a) => (b) => a + b", "(lambda a (lambda b (+ a b)))");
    EXPECT_EXPR("lut(s, (v) => (v * v) / 8)", "(call lut s (lambda v (/ (* v v) 8)))");
    EXPECT_EXPR("[(v) => v, 1]", "[(lambda v v) 1]");
    EXPECT_EXPR("x + ((v) => v)", "(+ x (lambda v v))");
    EXPECT_EXPR("(v)", "v");
    EXPECT_EXPR("(v) + 1", "(+ v 1)");
}

static void test_calls_and_indexing(void) {
    EXPECT_EXPR("f()", "(call f)");
    EXPECT_EXPR("f(x)", "(call f x)");
    EXPECT_EXPR("conv2d(x, W, b, stride=2, padding=1)",
                "(call conv2d x W b (kw stride 2) (kw padding 1))");
    EXPECT_EXPR("f(k=(v) => v)", "(call f (kw k (lambda v v)))");
    EXPECT_EXPR("f(a == b)", "(call f (== a b))");
    EXPECT_EXPR("round(x, 4)", "(call round x 4)");
    EXPECT_EXPR("x[i]", "(index x i)");
    EXPECT_EXPR("x[i, a:b, :, ::2]", "(index x i (slice a b _) (slice _ _ _) (slice _ _ 2))");
    EXPECT_EXPR("x[1:, :2, 1:2:3, ::, 1::]",
                "(index x (slice 1 _ _) (slice _ 2 _) (slice 1 2 3) (slice _ _ _) (slice 1 _ _))");
    EXPECT_EXPR("x[-1, n - 1:]", "(index x (- 1) (slice (- n 1) _ _))");
    EXPECT_EXPR("x[0][1:2]", "(index (index x 0) (slice 1 2 _))");
}

/* ---- statements and units ----------------------------------------------- */

static void test_types(void) {
    EXPECT_AST("circuit t(a: enc u4, b: enc i6[3], c: clear u8[2,2], d: f32[4], e: f64, f: u8,"
               " g: i63, h: u1[1,2,3,4,5,6], k: clear f32) { return a; }",
               "(circuit t (a enc u4) (b enc i6[3]) (c clear u8[2,2]) (d f32[4]) (e f64)"
               " (f clear u8) (g clear i63) (h clear u1[1,2,3,4,5,6]) (k f32) (return a))");
    EXPECT_AST("circuit t() { }", "(circuit t)");
    EXPECT_AST("circuit t() { return 1; }", "(circuit t (return 1))");
}

static void test_statements(void) {
    EXPECT_AST("circuit t(x: enc u4) {\n"
               "  const k = 3;\n"
               "  const w: clear i8[2] = [1, -2];\n"
               "  y = x * k;\n"
               "  return y, x + 1, (v) => v;\n"
               "}",
               "(circuit t (x enc u4) (const k 3) (const (w clear i8[2]) [1 (- 2)])"
               " (= y (* x k)) (return y (+ x 1) (lambda v v)))");
    EXPECT_AST("model m {\n"
               "  input x: f32[4] range [-3.0, 3.0];\n"
               "  input y: f64 range [0, 10];\n"
               "  input z: f32[2,2] range [-1e-3, .5];\n"
               "  input w: f32 calibrate \"dir/a \\\"b\\\" \\\\c.csv\";\n"
               "  quantize bits 3;\n"
               "  quantize inputs 4, weights 4, whatever 12;\n"
               "  param W: f32[2] = [0.5, -1];\n"
               "  const c = 2;\n"
               "  return x;\n"
               "}",
               "(model m (input (x f32[4]) (range -3.0 3.0)) (input (y f64) (range 0.0 10.0))"
               " (input (z f32[2,2]) (range -0.001 0.5))"
               " (input (w f32) (calibrate \"dir/a \\\"b\\\" \\\\c.csv\"))"
               " (quantize (bits 3)) (quantize (inputs 4) (weights 4) (whatever 12))"
               " (param (W f32[2]) [0.5 (- 1)]) (const c 2) (return x))");
    EXPECT_AST("model empty { }", "(model empty)");
    /* round, sum, relu... are names, not keywords; keywords need a boundary */
    EXPECT_AST("circuit t() { round = sum; relu = inputs; returns = 1; return round; }",
               "(circuit t (= round sum) (= relu inputs) (= returns 1) (return round))");
}

static void test_comments_and_blanks(void) {
    EXPECT_AST("// leading\n/* block\n * comment */circuit/**/t(/*x*/)\t{\r\n"
               "return /* in */ 1; // trailing\n} // end",
               "(circuit t (return 1))");
    EXPECT_AST("circuit t() { return 1; } /* a * b ** / */", "(circuit t (return 1))");
    EXPECT_AST("circuit t() { return 1; } // no newline at the end", "(circuit t (return 1))");
}

/* Every node carries the line and column of its first token. */
static void test_locations(void) {
    const char *text = "circuit t(x: enc u4[3],\n"
                       "          y: u2) {\n"
                       "\ts = sum(x) + y * 2;\n"
                       "  t = lut(s, k=(v) => v);\n"
                       "  return t;\n"
                       "}\n";
    diag_source src = {"loc.cml", text};
    diag_ctx d;
    diag_init(&d, stderr);
    arena a;
    arena_init(&a);
    ast_unit *u = parse_unit(&a, &d, &src, strlen(text));
    CU_ASSERT_PTR_NOT_NULL_FATAL(u);
    CU_ASSERT_PTR_EQUAL(u->loc.src, &src);
    CU_ASSERT_EQUAL(u->loc.line, 1);
    CU_ASSERT_EQUAL(u->loc.col, 1);
    CU_ASSERT_EQUAL_FATAL(u->nparams, 2);
    CU_ASSERT_EQUAL(u->params[0].loc.col, 11);
    CU_ASSERT_EQUAL(u->params[0].type.loc.col, 14);
    CU_ASSERT_EQUAL(u->params[1].loc.line, 2);
    CU_ASSERT_EQUAL(u->params[1].loc.col, 11);
    CU_ASSERT_EQUAL(u->params[1].type.loc.col, 14);
    CU_ASSERT_EQUAL(u->params[1].type.kind, AST_TY_CLEAR);

    const ast_stmt *s = u->stmts[0];
    CU_ASSERT_EQUAL(s->loc.line, 3);
    CU_ASSERT_EQUAL(s->loc.col, 2); /* a tab is one column */
    CU_ASSERT_EQUAL(s->name_loc.col, 2);
    const ast_expr *add = s->value;
    CU_ASSERT_EQUAL(add->kind, AST_BINARY);
    CU_ASSERT_EQUAL(add->loc.col, 13); /* the operator */
    CU_ASSERT_EQUAL(add->depth, 3);
    const ast_expr *call = add->u.bin.lhs;
    CU_ASSERT_EQUAL(call->u.call.name_loc.col, 6);
    CU_ASSERT_EQUAL(call->u.call.args[0]->loc.col, 10);
    const ast_expr *mul = add->u.bin.rhs;
    CU_ASSERT_EQUAL(mul->loc.col, 17);
    CU_ASSERT_EQUAL(mul->u.bin.rhs->loc.col, 19);

    const ast_expr *lut = u->stmts[1]->value;
    CU_ASSERT_EQUAL(lut->loc.line, 4);
    CU_ASSERT_EQUAL_FATAL(lut->u.call.nkwargs, 1);
    CU_ASSERT_EQUAL(lut->u.call.kwargs[0].loc.col, 14);
    const ast_expr *lam = lut->u.call.kwargs[0].value;
    CU_ASSERT_EQUAL(lam->kind, AST_LAMBDA);
    CU_ASSERT_EQUAL(lam->loc.col, 16);
    CU_ASSERT_EQUAL(lam->u.lambda.param_loc.col, 17);
    CU_ASSERT_EQUAL(lam->u.lambda.body->loc.col, 23);
    CU_ASSERT_EQUAL(u->stmts[2]->loc.line, 5);
    arena_free(&a);
}

/* ---- errors ------------------------------------------------------------- */

static void test_syntax_errors(void) {
    expect_error("circuit f(x: enc u4) { y = x + ; return y; }",
                 "t.cml:1:32: error: expected expression");
    expect_error("circuit f(x: enc u4) {\n  y = x + 1\n  return y;\n}",
                 "t.cml:3:3: error: expected ';' after statement");
    expect_error("circuit f(x: enc u4) { return x }",
                 "t.cml:1:33: error: expected ';' after statement");
    expect_error("circuit f(x: enc u4) { return x", "t.cml:1:32: error: expected ';' after statement");
    expect_error("circuit f(x: enc u4) => { }", "t.cml:1:22: error: unexpected '=>', expected '{'");
    expect_error("circuit f() { y = ((v)) => 1; }",
                 "t.cml:1:25: error: unexpected '=>'; a lambda is written (name) => expression");
    expect_error("circuit f() { return => 1; }", "t.cml:1:22: error: expected expression");
    expect_error("circuit f() { return x => 1; }",
                 "t.cml:1:24: error: unexpected '=>'; a lambda is written (name) => expression");
    expect_error("circuit f() { return xyz abc; }", "t.cml:1:26: error: expected ';' after statement");
    expect_error("circuit f() { = 1; }",
                 "t.cml:1:15: error: unexpected '='");
    expect_error("circuit f() { x: 3; }", "t.cml:1:16: error: unexpected ':', expected '='");
    expect_error("circuit 3() { }", "t.cml:1:9: error: unexpected '3', expected identifier");
    expect_error("circuit f { }", "t.cml:1:11: error: unexpected '{', expected '('");
    expect_error("circuit f(x enc u4) { }", "t.cml:1:13: error: unexpected 'enc', expected ':'");
    expect_error("circuit f(x: enc u4 { }", "t.cml:1:21: error: expected ')' before '{'");
    expect_error("circuit f(x: enc u4[3 { }", "t.cml:1:23: error: expected ']' before '{'");
    expect_error("circuit f(x: enc u4[n]) { }",
                 "t.cml:1:21: error: unexpected 'n', expected integer literal");
    expect_error("circuit f(x: 4) { }", "t.cml:1:14: error: expected a type before '4'");
    expect_error("circuit f() { const c: = 1; }", "t.cml:1:24: error: expected a type before '='");
    expect_error("circuit f() { return f(1, 2; }", "t.cml:1:28: error: expected ')' before ';'");
    expect_error("circuit f() { return f(1,); }", "t.cml:1:26: error: expected expression");
    expect_error("circuit f() { return [1, 2; }", "t.cml:1:27: error: expected ']' before ';'");
    expect_error("circuit f() { return [1, 2,]; }", "t.cml:1:28: error: expected expression");
    expect_error("circuit f() { return x[]; }", "t.cml:1:24: error: expected expression");
    expect_error("circuit f() { return x[1:2:3:4]; }", "t.cml:1:29: error: expected ']' before ':'");
    expect_error("circuit f() { return (x; }", "t.cml:1:24: error: expected ')' before ';'");
    expect_error("circuit f() { return ; }", "t.cml:1:22: error: expected expression");
    expect_error("circuit f() { return a < b < c; }",
                 "t.cml:1:28: error: comparisons cannot be chained; add parentheses");
    expect_error("circuit f() { return a == b != c; }",
                 "t.cml:1:29: error: comparisons cannot be chained; add parentheses");
    expect_error("circuit f() { return x; } circuit g() { }",
                 "t.cml:1:27: error: unexpected 'circuit' after the end of the circuit; "
                 "a file holds one circuit or model");
    expect_error("model m { } ;",
                 "t.cml:1:13: error: unexpected ';' after the end of the model; "
                 "a file holds one circuit or model");
    expect_error("x = 1;", "t.cml:1:1: error: unexpected 'x', expected 'circuit' or 'model'");
    expect_error("model m { input x: f32; }",
                 "t.cml:1:23: error: unexpected ';', expected 'range', 'calibrate' or '['");
    expect_error("model m { input x: f32 range [a, 1]; }",
                 "t.cml:1:31: error: expected a number before 'a'");
    expect_error("model m { input x: f32 range [1, 2] }",
                 "t.cml:1:37: error: expected ';' after statement");
    expect_error("model m { input x: f32 calibrate 3; }",
                 "t.cml:1:34: error: unexpected '3', expected string literal");
    expect_error("model m { quantize 4; }", "t.cml:1:20: error: unexpected '4', expected identifier");
    expect_error("model m { quantize bits 4 weights 3; }",
                 "t.cml:1:27: error: expected ';' after statement");
    expect_error("model m { quantize bits x; }",
                 "t.cml:1:25: error: unexpected 'x', expected integer literal");
    expect_error("model m { param W: f32[2]; }", "t.cml:1:26: error: unexpected ';', expected '='");
    expect_error("model m { return f(x)(y); }", "t.cml:1:22: error: expected ';' after statement");
}

static void test_strings_only_after_calibrate(void) {
    expect_error("circuit f() { return \"a.csv\"; }",
                 "t.cml:1:22: error: unexpected string literal; strings only name a file after 'calibrate'");
    expect_error("model m { input x: f32 range \"a\"; }",
                 "t.cml:1:30: error: unexpected string literal; strings only name a file after 'calibrate'");
    expect_error("model m { param p: f32 = f(\"x\"); }",
                 "t.cml:1:28: error: unexpected string literal; strings only name a file after 'calibrate'");
}

static void test_semantic_errors(void) {
    expect_error("circuit f(x: enc u0) { }", "t.cml:1:18: error: unknown type 'u0'");
    expect_error("circuit f(x: enc u64) { }",
                 "t.cml:1:18: error: unknown type 'u64' (integer types have 1 to 63 bits)");
    expect_error("circuit f(x: i64) { }",
                 "t.cml:1:14: error: unknown type 'i64' (integer types have 1 to 63 bits)");
    expect_error("circuit f(x: u04) { }", "t.cml:1:14: error: unknown type 'u04'");
    expect_error("circuit f(x: u) { }", "t.cml:1:14: error: unknown type 'u'");
    expect_error("circuit f(x: u4x) { }", "t.cml:1:14: error: unknown type 'u4x'");
    expect_error("circuit f(x: int) { }", "t.cml:1:14: error: unknown type 'int'");
    expect_error("circuit f(x: f16[2]) { }",
                 "t.cml:1:14: error: unknown type 'f16' (float types are f32 and f64)");
    expect_error("circuit f(x: enc f32) { }",
                 "t.cml:1:14: error: encrypted values are integers; use a model to encrypt floats");
    expect_error("model m { input x: enc f64[2] range [0, 1]; }",
                 "t.cml:1:20: error: encrypted values are integers; use a model to encrypt floats");
    expect_error("circuit f(x: u4[1,2,3,4,5,6,7]) { }",
                 "t.cml:1:14: error: type has 7 dimensions; at most 6 are supported");
    expect_error("circuit f(x: u4[2, 0]) { }",
                 "t.cml:1:14: error: dimension 2 of 'u4' is 0; dimensions must be positive");
    expect_error("circuit f() { return []; }", "t.cml:1:22: error: empty tensor");
    expect_error("circuit f() { return [[1], []]; }", "t.cml:1:28: error: empty tensor");
    expect_error("circuit f() { return x; y = 1; }",
                 "t.cml:1:25: error: statement after 'return'; 'return' must be the last statement");
    expect_error("circuit f() { return x; return y; }",
                 "t.cml:1:25: error: statement after 'return'; 'return' must be the last statement");
    expect_error("circuit f() { input x: f32 range [0, 1]; }",
                 "t.cml:1:15: error: 'input' is only allowed in a model, not in a circuit");
    expect_error("circuit f() { quantize a 1; }",
                 "t.cml:1:15: error: 'quantize' is only allowed in a model, not in a circuit");
    expect_error("circuit f() {\n  param p: f32 = 1; }",
                 "t.cml:2:3: error: 'param' is only allowed in a model, not in a circuit");
    expect_error("circuit f() { return g(a=1, 2); }",
                 "t.cml:1:29: error: positional argument after keyword argument");
}

static void test_lexical_errors(void) {
    expect_error("circuit f() { return $; }", "t.cml:1:22: error: unexpected character '$'");
    expect_error("circuit f() { return !x; }", "t.cml:1:22: error: unexpected character '!'");
    expect_error("circuit f() { return \xc3\xa9; }", "t.cml:1:22: error: unexpected byte 0xc3");
    expect_error("circuit f() { return 123abc; }",
                 "t.cml:1:22: error: invalid numeric literal '123abc'");
    expect_error("circuit f() { return 0x; }", "t.cml:1:22: error: invalid numeric literal '0x'");
    expect_error("circuit f() { return 0x1g; }", "t.cml:1:22: error: invalid numeric literal '0x1g'");
    expect_error("circuit f() { return 1.5e; }", "t.cml:1:22: error: invalid numeric literal '1.5e'");
    expect_error("circuit f() {\n return 9223372036854775808; }",
                 "t.cml:2:9: error: integer literal too large");
    expect_error("circuit f() { return 99999999999999999999999999999; }",
                 "t.cml:1:22: error: integer literal too large");
    expect_error("circuit f() { return 0x8000000000000000; }",
                 "t.cml:1:22: error: integer literal too large");
    expect_error("circuit f() { return 1e999; }", "t.cml:1:22: error: float literal out of range");
    expect_error("model m { input x: f32 calibrate \"a.csv; }", "t.cml:1:34: error: unterminated string");
    expect_error("model m { input x: f32 calibrate \"a.csv\n\"; }",
                 "t.cml:1:34: error: unterminated string");
    expect_error("model m { input x: f32 calibrate \"a\\", "t.cml:1:34: error: unterminated string");
    expect_error("model m { input x: f32 calibrate \"a\\n.csv\"; }",
                 "t.cml:1:36: error: invalid escape sequence '\\n' in string");
    expect_error("circuit f() {\n  /* never\n closed }\n", "t.cml:2:3: error: unterminated comment");
    expect_error("circuit f() { /*/ }", "t.cml:1:15: error: unterminated comment");
    expect_error("circuit f() { return x; } /* *", "t.cml:1:27: error: unterminated comment");
}

static void test_nul_bytes(void) {
    static const char code[] = "circuit f() {\n  return\0 x; }";
    expect_error_n(code, sizeof code - 1, "t.cml:2:9: error: NUL byte in source file");
    static const char comment1[] = "circuit f() { // a\0b\n return x; }";
    expect_error_n(comment1, sizeof comment1 - 1, "t.cml:1:19: error: NUL byte in source file");
    static const char comment2[] = "circuit f() { /* a\0b */ return x; }";
    expect_error_n(comment2, sizeof comment2 - 1, "t.cml:1:19: error: NUL byte in source file");
    static const char string[] = "model m { input x: f32 calibrate \"a\0b\"; }";
    expect_error_n(string, sizeof string - 1, "t.cml:1:34: error: unterminated string");
    static const char lead[] = "\0circuit";
    expect_error_n(lead, sizeof lead - 1, "t.cml:1:1: error: NUL byte in source file");
    static const char after[] = "circuit f() { return x; }\0";
    expect_error_n(after, sizeof after - 1, "t.cml:1:26: error: NUL byte in source file");
    /* a length that stops before a NUL never sees it */
    static const char cut[] = "circuit f() { }\0garbage";
    parsed r = parse_n(cut, strlen(cut));
    CU_ASSERT_STRING_EQUAL(r.ast, "(circuit f)\n");
    release(&r);
}

static void test_empty_file(void) {
    expect_error("", "t.cml:1:1: error: unexpected end of file, expected 'circuit' or 'model'");
    expect_error("  \n\t// only a comment\n",
                 "t.cml:3:1: error: unexpected end of file, expected 'circuit' or 'model'");
    expect_error("circuit", "t.cml:1:8: error: unexpected end of file, expected identifier");
    expect_error("model m {", "t.cml:1:10: error: unexpected end of file");
}

/* Runaway nesting is an error, never a stack overflow: in the scanner for
 * brackets, in the grammar for tree depth, and bison's stack limit for the
 * rest (unary minus, lambda chains). */
static char *repeat(const char *pre, const char *unit, size_t n, const char *mid, const char *unit2,
                    size_t n2, const char *post) {
    size_t len = strlen(pre) + strlen(unit) * n + strlen(mid) + strlen(unit2) * n2 + strlen(post);
    char *s = malloc(len + 1);
    CU_ASSERT_FATAL(s != NULL);
    char *q = s;
    q += sprintf(q, "%s", pre);
    for (size_t i = 0; i < n; i++) q += sprintf(q, "%s", unit);
    q += sprintf(q, "%s", mid);
    for (size_t i = 0; i < n2; i++) q += sprintf(q, "%s", unit2);
    sprintf(q, "%s", post);
    return s;
}

static void expect_nesting(const char *unit, size_t n, const char *mid, const char *unit2,
                           size_t n2, const char *want) {
    char *s = repeat("circuit f() { return ", unit, n, mid, unit2, n2, "; }");
    expect_error(s, want);
    free(s);
}

static void expect_nesting_ok(const char *unit, size_t n, const char *mid, const char *unit2,
                              size_t n2) {
    char *s = repeat("circuit f() { return ", unit, n, mid, unit2, n2, "; }");
    parsed r = parse_s(s);
    CU_ASSERT_PTR_NOT_NULL(r.ast);
    release(&r);
    free(s);
}

static void test_deep_nesting(void) {
    /* 100000 '(' : the scanner stops at the 257th */
    expect_nesting("(", 100000, "x", ")", 100000,
                   "t.cml:1:278: error: expression nested too deeply");
    expect_nesting("[", 100000, "x", "]", 100000,
                   "t.cml:1:278: error: expression nested too deeply");
    expect_nesting("f(", 100000, "x", ")", 100000,
                   "t.cml:1:535: error: expression nested too deeply");
    /* 100000 unary minus: bison's stack limit */
    expect_nesting("-", 100000, "x", "", 0, "t.cml:1:10011: error: expression nested too deeply");
    /* tree depth beyond AST_MAX_DEPTH without brackets */
    expect_nesting("-", 300, "x", "", 0, "t.cml:1:66: error: expression nested too deeply");
    expect_nesting("x + ", 100000, "x", "", 0, "t.cml:1:22: error: expression nested too deeply");
    expect_nesting("(v) => ", 100000, "v", "", 0, "t.cml:1:17502: error: expression nested too deeply");
    /* the error is at the outermost node too deep: the 45th of 300 */
    expect_nesting("(v) => ", 300, "v", "", 0, "t.cml:1:330: error: expression nested too deeply");
    expect_nesting("x", 1, "", "[0]", 100000, "t.cml:1:22: error: expression nested too deeply");
    /* just inside the limits */
    expect_nesting_ok("(", AST_MAX_DEPTH - 1, "x", ")", AST_MAX_DEPTH - 1);
    expect_nesting_ok("-", AST_MAX_DEPTH - 1, "x", "", 0);
    expect_nesting_ok("x + ", AST_MAX_DEPTH - 1, "x", "", 0);
    expect_nesting_ok("[", AST_MAX_DEPTH - 2, "1", "]", AST_MAX_DEPTH - 2);
    /* long flat lists are not nesting */
    char *s = repeat("model m { param p: f32[100000] = [", "1, ", 99999, "1", "", 0, "]; }");
    parsed r = parse_s(s);
    CU_ASSERT_PTR_NOT_NULL(r.ast);
    release(&r);
    free(s);
    s = repeat("circuit f() {", " x = 1;", 100000, "", "", 0, " return x; }");
    r = parse_s(s);
    CU_ASSERT_PTR_NOT_NULL(r.ast);
    release(&r);
    free(s);
}

/* Only the first error is reported, with the source line and a caret. */
static void test_one_error_with_caret(void) {
    parsed r = parse_s("circuit f() {\n  a = 1 +;\n  b = ;\n}\n");
    CU_ASSERT_EQUAL(r.errors, 1);
    CU_ASSERT_STRING_EQUAL(r.diag, "t.cml:2:10: error: expected expression\n"
                                   "    2 |   a = 1 +;\n"
                                   "      |          ^\n");
    release(&r);
}

CU_TestInfo cml_tests_parser[] = {
    {"design_circuit", test_design_circuit},
    {"design_model", test_design_model},
    {"precedence", test_precedence},
    {"literals", test_literals},
    {"tensors_and_lambdas", test_tensors_and_lambdas},
    {"calls_and_indexing", test_calls_and_indexing},
    {"types", test_types},
    {"statements", test_statements},
    {"comments_and_blanks", test_comments_and_blanks},
    {"locations", test_locations},
    {"syntax_errors", test_syntax_errors},
    {"strings_only_after_calibrate", test_strings_only_after_calibrate},
    {"semantic_errors", test_semantic_errors},
    {"lexical_errors", test_lexical_errors},
    {"nul_bytes", test_nul_bytes},
    {"empty_file", test_empty_file},
    {"deep_nesting", test_deep_nesting},
    {"one_error_with_caret", test_one_error_with_caret},
    CU_TEST_INFO_NULL,
};
