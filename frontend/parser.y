/* parser.y — the .cml grammar (bison, pure, LALR(1) with LAC).
 *
 * Why it looks like this: expression precedence is spelled out as one
 * nonterminal per level (no %left tables), so the grammar reads as the
 * language reference and has no conflicts at all (%expect 0). Syntax
 * errors go through yyreport_syntax_error, which turns bison's expected-
 * token set (exact, thanks to LAC) into a compiler-style message at the
 * offending token; only the first error is reported, then parsing stops.
 * Checks that are easy here and awkward later — type names, shapes,
 * `return` last, model-only statements, nesting depth — are done in the
 * actions so their errors come in source order with the syntax errors.
 *
 * Grammar (EBNF; see docs/language.md):
 *
 *   unit     = "circuit" IDENT "(" [ param { "," param } ] ")" "{" { stmt } "}"
 *            | "model" IDENT "{" { stmt } "}" ;
 *   param    = IDENT ":" type ;
 *   type     = [ "enc" | "clear" ] IDENT [ "[" INT { "," INT } "]" ] ;
 *   stmt     = IDENT "=" expr ";"
 *            | "const" IDENT [ ":" type ] "=" expr ";"
 *            | "return" expr { "," expr } ";"
 *            | "input" IDENT ":" type ( "range" "[" num "," num "]"
 *                                     | "calibrate" STRING [ "per_feature" | "tree_bins" ] ) ";"
 *            | "quantize" IDENT INT { "," IDENT INT } ";"             (model)
 *            | "param" IDENT ":" type "=" expr ";" ;                  (model)
 *   num      = [ "-" ] ( INT | FLOAT ) ;
 *   expr     = lambda | compare ;
 *   lambda   = "(" IDENT ")" "=>" expr ;
 *   compare  = sum [ ( "<" | "<=" | ">" | ">=" | "==" | "!=" ) sum ] ;
 *   sum      = product { ( "+" | "-" ) product } ;
 *   product  = unary { ( "*" | "/" | "@" ) unary } ;
 *   unary    = "-" unary | postfix ;
 *   postfix  = primary { "[" item { "," item } "]" } ;
 *   item     = expr | [ expr ] ":" [ expr ] [ ":" [ expr ] ] ;
 *   primary  = INT | FLOAT | IDENT | IDENT "(" [ arg { "," arg } ] ")"
 *            | "(" expr ")" | "[" expr { "," expr } "]" ;
 *   arg      = expr | IDENT "=" expr ;       (keyword arguments last)
 */

%define api.pure full
%define api.prefix {cmlyy}
%define parse.error custom
%define parse.lac full
%locations
%expect 0

%param {yyscan_t scanner}
%parse-param {parse_ctx *p}

%code top {
/* Bison's stack limit, stated rather than inherited: valid input needs a
 * few entries per nesting level (at most AST_MAX_DEPTH levels), so hitting
 * this means runaway nesting, reported as such by cmlyyerror. */
#define YYMAXDEPTH 10000
}

%code requires {
#include "parse_internal.h"
#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif
}

%code provides {
int cmlyylex(CMLYYSTYPE *lval, CMLYYLTYPE *lloc, yyscan_t scanner);
}

%code {
#include <inttypes.h>
#include <string.h>

static void cmlyyerror(CMLYYLTYPE *loc, yyscan_t scanner, parse_ctx *p, const char *msg);

static diag_loc L(const parse_ctx *p, CMLYYLTYPE l) {
    return (diag_loc){p->src, l.first_line, l.first_column};
}

/* Checks a freshly built expression: out of memory or too deep stops the
 * parse with an error at the node. */
static bool expr_ok(parse_ctx *p, const ast_expr *e, CMLYYLTYPE loc) {
    if (!e) {
        parse_error(p, L(p, loc), "out of memory");
        return false;
    }
    if (e->depth > AST_MAX_DEPTH) {
        parse_error(p, L(p, loc), "expression nested too deeply");
        return false;
    }
    return true;
}

#define EXPR(dst, make, loc) do { (dst) = (make); if (!expr_ok(p, (dst), (loc))) YYABORT; } while (0)
#define NEED(ptr, loc)                                                      \
    do {                                                                    \
        if (!(ptr)) {                                                       \
            parse_error(p, L(p, loc), "out of memory");                     \
            YYABORT;                                                        \
        }                                                                   \
    } while (0)
#define PUSH(list, item, loc) NEED(ast_list_push(p->a, (list), (item)) ? (list) : NULL, loc)

static ast_type *make_type(parse_ctx *p, CMLYYLTYPE loc, int prefix, const char *name,
                           CMLYYLTYPE name_loc, const ast_list *dims);
static ast_stmt *new_stmt(parse_ctx *p, ast_stmt_kind kind, CMLYYLTYPE loc);
static bool model_only(parse_ctx *p, CMLYYLTYPE loc, const char *what);
}

%union {
    int64_t ival;
    double fval;
    const char *str;
    ast_expr *expr;
    ast_stmt *stmt;
    ast_type *type;
    ast_list *list;
    ast_arg *arg;
    ast_index_item *item;
    ast_op op;
    int prefix;
}

%token <str> TOK_IDENT "identifier"
%token <ival> TOK_INT "integer literal"
%token <fval> TOK_FLOAT "float literal"
%token <str> TOK_STRING "string literal"
%token TOK_CIRCUIT "circuit" TOK_MODEL "model" TOK_RETURN "return" TOK_CONST "const"
%token TOK_INPUT "input" TOK_RANGE "range" TOK_CALIBRATE "calibrate"
%token TOK_QUANTIZE "quantize" TOK_PARAM "param" TOK_ENC "enc" TOK_CLEAR "clear"
%token TOK_ARROW "=>" TOK_LE "<=" TOK_GE ">=" TOK_EQ "==" TOK_NE "!="
%token TOK_LAMBDA "lambda ("

%type <list> params stmts dims_opt dims exprs args items qsettings
%type <stmt> stmt
%type <type> type
%type <prefix> type_prefix
%type <expr> expr lambda compare sum product unary postfix primary opt_expr
%type <arg> arg
%type <item> item
%type <op> cmp_op
%type <fval> num

%%

/* A file holds exactly one unit; bison's end-of-file check makes anything
 * after it an error. */
file:
    unit
;

unit:
    TOK_CIRCUIT { p->in_model = false; } TOK_IDENT '(' params ')' '{' stmts '}' {
        ast_unit *u = arena_alloc(p->a, sizeof *u);
        NEED(u, @1);
        u->kind = AST_UNIT_CIRCUIT;
        u->name = $3;
        u->loc = L(p, @1);
        u->nparams = $5->count;
        u->params = ast_list_flatten(p->a, $5, sizeof(ast_param));
        u->nstmts = $8->count;
        u->stmts = (ast_stmt **)$8->items;
        if (u->nparams) NEED(u->params, @5);
        p->unit = u;
    }
  | TOK_MODEL { p->in_model = true; } TOK_IDENT '{' stmts '}' {
        ast_unit *u = arena_alloc(p->a, sizeof *u);
        NEED(u, @1);
        u->kind = AST_UNIT_MODEL;
        u->name = $3;
        u->loc = L(p, @1);
        u->nstmts = $5->count;
        u->stmts = (ast_stmt **)$5->items;
        p->unit = u;
    }
;

/* params = [ IDENT ":" type { "," IDENT ":" type } ] */
params:
    %empty { NEED($$ = ast_list_new(p->a), @$); }
  | TOK_IDENT ':' type {
        NEED($$ = ast_list_new(p->a), @1);
        ast_param *q = arena_alloc(p->a, sizeof *q);
        NEED(q, @1);
        *q = (ast_param){.name = $1, .type = *$3, .loc = L(p, @1)};
        PUSH($$, q, @1);
    }
  | params ',' TOK_IDENT ':' type {
        ast_param *q = arena_alloc(p->a, sizeof *q);
        NEED(q, @3);
        *q = (ast_param){.name = $3, .type = *$5, .loc = L(p, @3)};
        PUSH($$ = $1, q, @3);
    }
;

/* type = [ "enc" | "clear" ] IDENT [ "[" INT { "," INT } "]" ] */
type:
    type_prefix TOK_IDENT dims_opt {
        $$ = make_type(p, $1 ? @1 : @2, $1, $2, @2, $3);
        if (!$$) YYABORT;
    }
;

type_prefix:
    %empty    { $$ = 0; }
  | TOK_ENC   { $$ = TOK_ENC; }
  | TOK_CLEAR { $$ = TOK_CLEAR; }
;

dims_opt:
    %empty         { $$ = NULL; }
  | '[' dims ']'   { $$ = $2; }
;

dims:
    TOK_INT {
        NEED($$ = ast_list_new(p->a), @1);
        int64_t *v = arena_alloc(p->a, sizeof *v);
        NEED(v, @1);
        *v = $1;
        PUSH($$, v, @1);
    }
  | dims ',' TOK_INT {
        int64_t *v = arena_alloc(p->a, sizeof *v);
        NEED(v, @3);
        *v = $3;
        PUSH($$ = $1, v, @3);
    }
;

/* A statement after `return` is refused here, when it is complete. */
stmts:
    %empty { NEED($$ = ast_list_new(p->a), @$); }
  | stmts stmt {
        $$ = $1;
        if ($$->count && ((ast_stmt *)$$->items[$$->count - 1])->kind == AST_RETURN) {
            parse_error(p, L(p, @2), "statement after 'return'; 'return' must be the last statement");
            YYABORT;
        }
        PUSH($$, $2, @2);
    }
;

stmt:
    TOK_IDENT '=' expr ';' {
        NEED($$ = new_stmt(p, AST_ASSIGN, @1), @1);
        $$->name = $1;
        $$->name_loc = L(p, @1);
        $$->value = $3;
    }
  | TOK_CONST TOK_IDENT '=' expr ';' {
        NEED($$ = new_stmt(p, AST_ASSIGN, @1), @1);
        $$->name = $2;
        $$->name_loc = L(p, @2);
        $$->is_const = true;
        $$->value = $4;
    }
  | TOK_CONST TOK_IDENT ':' type '=' expr ';' {
        NEED($$ = new_stmt(p, AST_ASSIGN, @1), @1);
        $$->name = $2;
        $$->name_loc = L(p, @2);
        $$->is_const = true;
        $$->has_type = true;
        $$->type = *$4;
        $$->value = $6;
    }
  | TOK_RETURN exprs ';' {
        NEED($$ = new_stmt(p, AST_RETURN, @1), @1);
        $$->nvalues = $2->count;
        $$->values = (ast_expr **)$2->items;
    }
  | input_kw TOK_IDENT ':' type TOK_RANGE '[' num ',' num ']' ';' {
        NEED($$ = new_stmt(p, AST_INPUT, @1), @1);
        $$->name = $2;
        $$->name_loc = L(p, @2);
        $$->has_type = true;
        $$->type = *$4;
        $$->has_range = true;
        $$->range_lo = $7;
        $$->range_hi = $9;
    }
  | input_kw TOK_IDENT ':' type TOK_CALIBRATE TOK_STRING ';' {
        NEED($$ = new_stmt(p, AST_INPUT, @1), @1);
        $$->name = $2;
        $$->name_loc = L(p, @2);
        $$->has_type = true;
        $$->type = *$4;
        $$->calibrate = $6;
    }
  | input_kw TOK_IDENT ':' type TOK_CALIBRATE TOK_STRING TOK_IDENT ';' {
        if (strcmp($7, "per_feature") != 0 && strcmp($7, "tree_bins") != 0) {
            parse_error(p, L(p, @7), "expected ';', 'per_feature' or 'tree_bins' after the "
                        "calibration file, got '%s'", $7);
            YYABORT;
        }
        NEED($$ = new_stmt(p, AST_INPUT, @1), @1);
        $$->name = $2;
        $$->name_loc = L(p, @2);
        $$->has_type = true;
        $$->type = *$4;
        $$->calibrate = $6;
        $$->per_feature = strcmp($7, "per_feature") == 0;
        $$->tree_bins = !$$->per_feature;
    }
  | quantize_kw qsettings ';' {
        NEED($$ = new_stmt(p, AST_QUANTIZE, @1), @1);
        $$->nsettings = $2->count;
        $$->settings = ast_list_flatten(p->a, $2, sizeof(ast_qsetting));
        NEED($$->settings, @2);
    }
  | param_kw TOK_IDENT ':' type '=' expr ';' {
        NEED($$ = new_stmt(p, AST_PARAM, @1), @1);
        $$->name = $2;
        $$->name_loc = L(p, @2);
        $$->has_type = true;
        $$->type = *$4;
        $$->value = $6;
    }
;

/* The model-only statements are refused in a circuit as soon as their
 * keyword is read. */
input_kw:    TOK_INPUT    { if (!model_only(p, @1, "input")) YYABORT; } ;
quantize_kw: TOK_QUANTIZE { if (!model_only(p, @1, "quantize")) YYABORT; } ;
param_kw:    TOK_PARAM    { if (!model_only(p, @1, "param")) YYABORT; } ;

/* num = [ "-" ] ( INT | FLOAT )   (input ranges) */
num:
    TOK_INT           { $$ = (double)$1; }
  | TOK_FLOAT         { $$ = $1; }
  | '-' TOK_INT       { $$ = -(double)$2; }
  | '-' TOK_FLOAT     { $$ = -$2; }
;

/* qsettings = IDENT INT { "," IDENT INT } */
qsettings:
    TOK_IDENT TOK_INT {
        NEED($$ = ast_list_new(p->a), @1);
        ast_qsetting *q = arena_alloc(p->a, sizeof *q);
        NEED(q, @1);
        *q = (ast_qsetting){.key = $1, .bits = $2, .loc = L(p, @1)};
        PUSH($$, q, @1);
    }
  | qsettings ',' TOK_IDENT TOK_INT {
        ast_qsetting *q = arena_alloc(p->a, sizeof *q);
        NEED(q, @3);
        *q = (ast_qsetting){.key = $3, .bits = $4, .loc = L(p, @3)};
        PUSH($$ = $1, q, @3);
    }
;

exprs:
    expr           { NEED($$ = ast_list_new(p->a), @1); PUSH($$, $1, @1); }
  | exprs ',' expr { PUSH($$ = $1, $3, @3); }
;

/* expr = lambda | compare. A lambda's body extends as far right as it can,
 * so a lambda inside an operand must be parenthesized. */
expr:
    lambda
  | compare
;

lambda:
    TOK_LAMBDA TOK_IDENT ')' TOK_ARROW expr {
        EXPR($$, ast_new_lambda(p->a, L(p, @1), $2, L(p, @2), $5), @1);
    }
;

/* Comparisons do not chain: `a < b < c` is a syntax error. */
compare:
    sum
  | sum cmp_op sum { EXPR($$, ast_new_binary(p->a, L(p, @2), $2, $1, $3), @1); }
;

cmp_op:
    '<'      { $$ = AST_OP_LT; }
  | TOK_LE   { $$ = AST_OP_LE; }
  | '>'      { $$ = AST_OP_GT; }
  | TOK_GE   { $$ = AST_OP_GE; }
  | TOK_EQ   { $$ = AST_OP_EQ; }
  | TOK_NE   { $$ = AST_OP_NE; }
;

sum:
    product
  | sum '+' product { EXPR($$, ast_new_binary(p->a, L(p, @2), AST_OP_ADD, $1, $3), @1); }
  | sum '-' product { EXPR($$, ast_new_binary(p->a, L(p, @2), AST_OP_SUB, $1, $3), @1); }
;

/* `@` (matrix product) binds like `*`. */
product:
    unary
  | product '*' unary { EXPR($$, ast_new_binary(p->a, L(p, @2), AST_OP_MUL, $1, $3), @1); }
  | product '/' unary { EXPR($$, ast_new_binary(p->a, L(p, @2), AST_OP_DIV, $1, $3), @1); }
  | product '@' unary { EXPR($$, ast_new_binary(p->a, L(p, @2), AST_OP_MATMUL, $1, $3), @1); }
;

unary:
    postfix
  | '-' unary { EXPR($$, ast_new_unary(p->a, L(p, @1), AST_OP_NEG, $2), @1); }
;

postfix:
    primary
  | postfix '[' items ']' { EXPR($$, ast_new_index(p->a, L(p, @1), $1, $3), @1); }
;

items:
    item           { NEED($$ = ast_list_new(p->a), @1); PUSH($$, $1, @1); }
  | items ',' item { PUSH($$ = $1, $3, @3); }
;

/* item = expr | [expr] ":" [expr] [ ":" [expr] ] */
item:
    expr {
        NEED($$ = arena_alloc(p->a, sizeof *$$), @1);
        $$->index = $1;
    }
  | opt_expr ':' opt_expr {
        NEED($$ = arena_alloc(p->a, sizeof *$$), @2);
        *$$ = (ast_index_item){.is_slice = true, .lo = $1, .hi = $3};
    }
  | opt_expr ':' opt_expr ':' opt_expr {
        NEED($$ = arena_alloc(p->a, sizeof *$$), @2);
        *$$ = (ast_index_item){.is_slice = true, .lo = $1, .hi = $3, .step = $5};
    }
;

opt_expr:
    %empty { $$ = NULL; }
  | expr
;

primary:
    TOK_INT   { EXPR($$, ast_new_int(p->a, L(p, @1), $1), @1); }
  | TOK_FLOAT { EXPR($$, ast_new_float(p->a, L(p, @1), $1), @1); }
  | TOK_IDENT { EXPR($$, ast_new_name(p->a, L(p, @1), $1), @1); }
  | TOK_IDENT '(' ')' { EXPR($$, ast_new_call(p->a, L(p, @1), $1, NULL), @1); }
  | TOK_IDENT '(' args ')' { EXPR($$, ast_new_call(p->a, L(p, @1), $1, $3), @1); }
  | '(' expr ')' { $$ = $2; }
  | '[' exprs ']' { EXPR($$, ast_new_tensor(p->a, L(p, @1), $2), @1); }
  | '[' ']' {
        parse_error(p, L(p, @1), "empty tensor");
        YYABORT;
    }
;

/* Keyword arguments come after the positional ones, as in Python. */
args:
    arg {
        NEED($$ = ast_list_new(p->a), @1);
        PUSH($$, $1, @1);
    }
  | args ',' arg {
        $$ = $1;
        if (!$3->is_kw && ((ast_arg *)$$->items[$$->count - 1])->is_kw) {
            parse_error(p, L(p, @3), "positional argument after keyword argument");
            YYABORT;
        }
        PUSH($$, $3, @3);
    }
;

arg:
    expr {
        NEED($$ = arena_alloc(p->a, sizeof *$$), @1);
        $$->expr = $1;
    }
  | TOK_IDENT '=' expr {
        NEED($$ = arena_alloc(p->a, sizeof *$$), @1);
        $$->is_kw = true;
        $$->kw = (ast_kwarg){.name = $1, .value = $3, .loc = L(p, @1)};
    }
;

%%

static ast_stmt *new_stmt(parse_ctx *p, ast_stmt_kind kind, CMLYYLTYPE loc) {
    ast_stmt *s = arena_alloc(p->a, sizeof *s);
    if (s) {
        s->kind = kind;
        s->loc = L(p, loc);
    }
    return s;
}

static bool model_only(parse_ctx *p, CMLYYLTYPE loc, const char *what) {
    if (p->in_model) return true;
    parse_error(p, L(p, loc), "'%s' is only allowed in a model, not in a circuit", what);
    return false;
}

/* Parses the decimal digits of a type name's width: 1..63 without a
 * leading zero, or -1. */
static int type_bits(const char *s) {
    if (s[0] < '1' || s[0] > '9' || strlen(s) > 2) return -1;
    int v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

/* Builds a type from its parts, checking the name (u1..u63, i1..i63, f32,
 * f64), the encrypted-float rule and the shape. NULL after an error. */
static ast_type *make_type(parse_ctx *p, CMLYYLTYPE loc, int prefix, const char *name,
                           CMLYYLTYPE name_loc, const ast_list *dims) {
    ast_type *t = arena_alloc(p->a, sizeof *t);
    if (!t) {
        parse_error(p, L(p, loc), "out of memory");
        return NULL;
    }
    t->loc = L(p, loc);
    int bits = type_bits(name + 1);
    if (name[0] == 'f' && (bits == 32 || bits == 64)) {
        if (prefix == TOK_ENC) {
            parse_error(p, L(p, loc),
                        "encrypted values are integers; use a model to encrypt floats");
            return NULL;
        }
        t->kind = AST_TY_FLOAT;
    } else if (name[0] == 'u' || name[0] == 'i') {
        if (bits < 1 || bits > 63) {
            if (bits == 64)
                parse_error(p, L(p, name_loc),
                            "unknown type '%s' (integer types have 1 to 63 bits)", name);
            else
                parse_error(p, L(p, name_loc), "unknown type '%s'", name);
            return NULL;
        }
        t->kind = prefix == TOK_ENC ? AST_TY_ENC : AST_TY_CLEAR;
        t->is_signed = name[0] == 'i';
    } else {
        if (name[0] == 'f' && bits > 0)
            parse_error(p, L(p, name_loc), "unknown type '%s' (float types are f32 and f64)", name);
        else
            parse_error(p, L(p, name_loc), "unknown type '%s'", name);
        return NULL;
    }
    t->bits = bits;
    if (dims) {
        if (dims->count > AST_MAX_RANK) {
            parse_error(p, L(p, name_loc), "type has %d dimensions; at most %d are supported",
                        dims->count, AST_MAX_RANK);
            return NULL;
        }
        int64_t count = 1;
        for (int i = 0; i < dims->count; i++) {
            int64_t d = *(const int64_t *)dims->items[i];
            if (d <= 0) {
                parse_error(p, L(p, name_loc), "dimension %d of '%s' is 0; dimensions must be positive",
                            i + 1, name);
                return NULL;
            }
            if (d > AST_MAX_ELEMENTS / count) {
                char shape[160];
                int n = 0;
                for (int j = 0; j < dims->count && n >= 0 && (size_t)n < sizeof shape; j++)
                    n += snprintf(shape + n, sizeof shape - (size_t)n, "%s%" PRId64, j ? "," : "",
                                  *(const int64_t *)dims->items[j]);
                parse_error(p, L(p, name_loc), "type '%s[%s]' has more than 2^24 elements", name,
                            shape);
                return NULL;
            }
            count *= d;
            t->dims[i] = d;
        }
        t->rank = dims->count;
    }
    return t;
}

/* ---- syntax-error messages -------------------------------------------- */

/* How a token is named in a message: 'return', ';', identifier, ... */
static const char *symbol_text(yysymbol_kind_t s, char *buf, size_t size) {
    switch (s) {
    case YYSYMBOL_YYEOF: return "end of file";
    case YYSYMBOL_TOK_IDENT: return "identifier";
    case YYSYMBOL_TOK_INT: return "integer literal";
    case YYSYMBOL_TOK_FLOAT: return "float literal";
    case YYSYMBOL_TOK_STRING: return "string literal";
    case YYSYMBOL_TOK_LAMBDA: return "'('";
    default: break;
    }
    /* keywords and operators come without quotes (their aliases), single
     * characters with them ('(') */
    const char *name = yysymbol_name(s);
    snprintf(buf, size, name[0] == '\'' ? "%s" : "'%s'", name);
    return buf;
}

static bool has(const yysymbol_kind_t *v, int n, yysymbol_kind_t s) {
    for (int i = 0; i < n; i++)
        if (v[i] == s) return true;
    return false;
}

/* Single-character tokens have no stable symbol kind names (YYSYMBOL_7_):
 * look them up by their spelling, e.g. "';'". */
static bool has_char(const yysymbol_kind_t *v, int n, char c) {
    for (int i = 0; i < n; i++) {
        const char *name = yysymbol_name(v[i]);
        if (name[0] == '\'' && name[1] == c && name[2] == '\'' && !name[3]) return true;
    }
    return false;
}

static bool is_compare(yysymbol_kind_t s) {
    return s == YYSYMBOL_TOK_LE || s == YYSYMBOL_TOK_GE || s == YYSYMBOL_TOK_EQ ||
           s == YYSYMBOL_TOK_NE || has_char(&s, 1, '<') || has_char(&s, 1, '>');
}

/* Chooses the message for the first syntax error from the unexpected token
 * and the set of tokens that would have been accepted. */
static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner, parse_ctx *p) {
    (void)scanner;
    if (p->failed) return 0;
    enum { MAX_EXPECTED = 64 };
    yysymbol_kind_t exp[MAX_EXPECTED];
    int n = yypcontext_expected_tokens(ctx, exp, MAX_EXPECTED);
    if (n < 0) n = 0;
    yysymbol_kind_t bad = yypcontext_token(ctx);
    diag_loc at = L(p, *yypcontext_location(ctx));
    char what[64];
    if (bad == YYSYMBOL_YYEOF)
        snprintf(what, sizeof what, "end of file");
    else
        snprintf(what, sizeof what, "'%s'", p->tok);

    if (bad == YYSYMBOL_TOK_STRING) {
        parse_error(p, at, "unexpected string literal; strings only name a file after 'calibrate'");
    } else if (bad == YYSYMBOL_TOK_ARROW && has_char(exp, n, '+')) {
        /* `x => ...`, `((v)) => ...`: after an operand */
        parse_error(p, at, "unexpected '=>'; a lambda is written (name) => expression");
    } else if (is_compare(bad) && has_char(exp, n, '+')) {
        /* after a complete comparison's right operand ('+' could follow) */
        parse_error(p, at, "comparisons cannot be chained; add parentheses");
    } else if (has_char(exp, n, ';')) {
        parse_error(p, at, "expected ';' after statement");
    } else if (has(exp, n, YYSYMBOL_TOK_INT) && has(exp, n, YYSYMBOL_TOK_IDENT) &&
               has_char(exp, n, '(')) {
        parse_error(p, at, "expected expression");
    } else if (has_char(exp, n, ')')) {
        parse_error(p, at, "expected ')' before %s", what);
    } else if (has_char(exp, n, ']')) {
        parse_error(p, at, "expected ']' before %s", what);
    } else if (n == 1 && exp[0] == YYSYMBOL_YYEOF) {
        parse_error(p, at, "unexpected %s after the end of the %s; a file holds one circuit or model",
                    what, p->in_model ? "model" : "circuit");
    } else if (has(exp, n, YYSYMBOL_TOK_ENC)) {
        parse_error(p, at, "expected a type before %s", what);
    } else if (has(exp, n, YYSYMBOL_TOK_INT) && has(exp, n, YYSYMBOL_TOK_FLOAT)) {
        /* input ranges: [ num , num ] */
        parse_error(p, at, "expected a number before %s", what);
    } else {
        char msg[256];
        int len = snprintf(msg, sizeof msg, "unexpected %s", what);
        if (n > 0 && n <= 4) {
            for (int i = 0; i < n && len > 0 && (size_t)len < sizeof msg; i++) {
                char buf[64];
                len += snprintf(msg + len, sizeof msg - (size_t)len, "%s%s",
                                i == 0 ? ", expected " : i == n - 1 ? " or " : ", ",
                                symbol_text(exp[i], buf, sizeof buf));
            }
        }
        parse_error(p, at, "%s", msg);
    }
    return 0;
}

/* Bison calls this only when its stack is exhausted, which in this grammar
 * means runaway nesting (`- - - ... x`, lambdas in lambdas). */
static void cmlyyerror(CMLYYLTYPE *loc, yyscan_t scanner, parse_ctx *p, const char *msg) {
    (void)scanner;
    if (strstr(msg, "exhausted"))
        parse_error(p, L(p, *loc), "expression nested too deeply");
    else
        parse_error(p, L(p, *loc), "%s", msg);
}
