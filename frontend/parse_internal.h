/* parse_internal.h — what the scanner (lexer.l), the grammar (parser.y),
 * the node constructors (ast.c) and parse_unit (parse.c) share, and nobody
 * else needs: the parse context threaded through flex and bison, growable
 * lists for the grammar's repetitions, and the constructors.
 *
 * Why a context and no globals: the scanner and parser are reentrant
 * (flex `reentrant`, bison `api.pure full`) so that several files can be
 * parsed at once and a fuzzer can call parse_unit millions of times. */
#ifndef CML_FRONTEND_PARSE_INTERNAL_H
#define CML_FRONTEND_PARSE_INTERNAL_H

#include "ast.h"

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct parse_ctx {
    arena *a;
    diag_ctx *d;
    const diag_source *src;
    const char *text;  /* the bytes being scanned (src->text), `len` long */
    size_t len;
    /* scanner position: byte offset and 1-based line/column of the next byte */
    size_t offset;
    int line, col;
    diag_loc comment_loc;    /* start of the block comment being skipped */
    int bracket_depth;       /* open ( and [ */
    char tok[48];            /* spelling of the last token, for messages */
    bool in_model;           /* inside `model` (enables input/quantize/param) */
    bool failed;             /* an error was reported: report nothing more */
    ast_unit *unit;          /* the result */
    jmp_buf *fatal;          /* the scanner's unrecoverable errors (out of memory) */
} parse_ctx;

/* Reports an error (the first one only: later ones are consequences). */
void parse_error(parse_ctx *p, diag_loc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A growable array of pointers in the arena (old storage is abandoned on
 * growth: at most twice the final size). */
typedef struct ast_list {
    int count, cap;
    void **items;
} ast_list;

ast_list *ast_list_new(arena *a);
/* false when out of memory */
bool ast_list_push(arena *a, ast_list *l, void *item);

/* One call argument before it is sorted into args / kwargs. */
typedef struct ast_arg {
    bool is_kw;
    ast_kwarg kw;   /* is_kw */
    ast_expr *expr; /* !is_kw */
} ast_arg;

/* Expression constructors. Each computes the node's depth from its
 * children; all return NULL only when out of memory. */
ast_expr *ast_new_int(arena *a, diag_loc loc, int64_t v);
ast_expr *ast_new_float(arena *a, diag_loc loc, double v);
ast_expr *ast_new_string(arena *a, diag_loc loc, const char *s);
ast_expr *ast_new_name(arena *a, diag_loc loc, const char *name);
ast_expr *ast_new_unary(arena *a, diag_loc loc, ast_op op, ast_expr *operand);
ast_expr *ast_new_binary(arena *a, diag_loc loc, ast_op op, ast_expr *lhs, ast_expr *rhs);
/* elems: list of ast_expr* */
ast_expr *ast_new_tensor(arena *a, diag_loc loc, const ast_list *elems);
/* args: list of ast_arg*, positional ones first (the grammar checks) */
ast_expr *ast_new_call(arena *a, diag_loc loc, const char *name, const ast_list *args);
/* items: list of ast_index_item* */
ast_expr *ast_new_index(arena *a, diag_loc loc, ast_expr *base, const ast_list *items);
ast_expr *ast_new_lambda(arena *a, diag_loc loc, const char *param, diag_loc param_loc,
                         ast_expr *body);

/* Copies a list of T* into a fresh array of T (params, qsettings). */
void *ast_list_flatten(arena *a, const ast_list *l, size_t elem_size);

#endif
