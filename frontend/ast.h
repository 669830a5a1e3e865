/* ast.h — the syntax tree of a .cml file, as the parser builds it.
 *
 * One file holds one unit: a `circuit` (integer program over encrypted and
 * clear tensors) or a `model` (float model quantized by the compiler). Every
 * node carries the location of its first token so that every later error
 * (unknown name, shape mismatch, unfusible float value) can point at source.
 * Nodes live in the parse arena; nothing is freed individually.
 *
 * The AST is purely syntactic: names are not resolved, builtins are plain
 * calls (`sum`, `dense`, `relu`, ...), types are as written. Lowering
 * (lower_circuit.c / lower_model.c) gives them meaning. */
#ifndef CML_FRONTEND_AST_H
#define CML_FRONTEND_AST_H

#include "arena.h"
#include "diag.h"

#include <stdbool.h>
#include <stdint.h>

#define AST_MAX_RANK 6
/* A written type has at most this many elements (IR_MAX_ELEMENTS, the
 * compiler's limit for one tensor): `enc u4[100000,100000]` is refused. */
#define AST_MAX_ELEMENTS (INT64_C(1) << 24)
/* The parser rejects expressions nested deeper than this ("expression nested
 * too deeply"), so passes may walk the AST recursively without risking the
 * C stack. Depth counts nodes on the longest root-to-leaf path: a leaf is 1,
 * `a + b` is 2, and a chain `a + b + c + ...` of n terms is n. */
#define AST_MAX_DEPTH 256

/* A written type: `enc u4[3]`, `clear i8[2,2]`, `f32[4]`, `u8` (clear). */
typedef enum { AST_TY_ENC, AST_TY_CLEAR, AST_TY_FLOAT } ast_type_kind;
typedef struct ast_type {
    ast_type_kind kind;
    bool is_signed; /* i<N> */
    int bits;       /* u4 -> 4; f32 -> 32 */
    int rank;       /* 0 = scalar */
    int64_t dims[AST_MAX_RANK];
    diag_loc loc;
} ast_type;

typedef enum {
    AST_INT,    /* 42 */
    AST_FLOAT,  /* 0.5, 1e-3 */
    AST_STRING, /* "file.csv" (only where the grammar allows it) */
    AST_TENSOR, /* [a, b, c]: elements are expressions (nested tensors for rank > 1) */
    AST_NAME,   /* x */
    AST_UNARY,  /* -a */
    AST_BINARY, /* a + b, a @ b, a < b ... */
    AST_CALL,   /* f(a, b, name=value) */
    AST_INDEX,  /* x[1, 2:4, :] */
    AST_LAMBDA, /* (v) => expr */
} ast_expr_kind;

typedef enum {
    AST_OP_ADD, AST_OP_SUB, AST_OP_MUL, AST_OP_DIV, AST_OP_MATMUL, /* + - * / @ */
    AST_OP_LT, AST_OP_LE, AST_OP_GT, AST_OP_GE, AST_OP_EQ, AST_OP_NE,
    AST_OP_NEG, /* unary - */
} ast_op;

typedef struct ast_expr ast_expr;

/* One item between the brackets of an index expression. */
typedef struct ast_index_item {
    bool is_slice;              /* a:b:c (any part may be missing) */
    ast_expr *index;            /* !is_slice */
    ast_expr *lo, *hi, *step;   /* is_slice; NULL when omitted */
} ast_index_item;

/* name=value argument of a call: conv2d(x, W, b, stride=2, padding=1). */
typedef struct ast_kwarg {
    const char *name;
    ast_expr *value;
    diag_loc loc;
} ast_kwarg;

struct ast_expr {
    ast_expr_kind kind;
    diag_loc loc;
    union {
        int64_t ival;           /* AST_INT (always >= 0; negation is AST_UNARY) */
        double fval;            /* AST_FLOAT */
        const char *str;        /* AST_STRING contents (escapes resolved), AST_NAME */
        struct {                /* AST_TENSOR */
            int count;
            ast_expr **elems;
        } tensor;
        struct {                /* AST_UNARY, AST_BINARY (loc: the operator token) */
            ast_op op;
            ast_expr *lhs, *rhs; /* rhs NULL for unary */
        } bin;
        struct {                /* AST_CALL */
            const char *name;
            diag_loc name_loc;
            int nargs;
            ast_expr **args;
            int nkwargs;
            ast_kwarg *kwargs;
        } call;
        struct {                /* AST_INDEX */
            ast_expr *base;
            int count;
            ast_index_item *items;
        } index;
        struct {                /* AST_LAMBDA */
            const char *param;
            diag_loc param_loc;
            ast_expr *body;
        } lambda;
    } u;
    int depth;                  /* 1 + deepest child; <= AST_MAX_DEPTH */
};

typedef enum {
    AST_ASSIGN,    /* name = expr;  (also `const name = expr;` and `const name: T = expr;`) */
    AST_RETURN,    /* return e1, e2; */
    AST_INPUT,     /* model: input x: f32[4] range [lo, hi]; | calibrate "f.csv"; */
    AST_QUANTIZE,  /* model: quantize inputs 4, weights 4, activations 4, accumulator 8; */
    AST_PARAM,     /* model: param W: f32[4,16] = [...]; */
} ast_stmt_kind;

/* One `key N` entry of a quantize statement. */
typedef struct ast_qsetting {
    const char *key; /* "inputs", "weights", "activations", "accumulator", ... */
    int64_t bits;
    diag_loc loc;
} ast_qsetting;

typedef struct ast_stmt {
    ast_stmt_kind kind;
    diag_loc loc;
    const char *name;      /* ASSIGN, INPUT, PARAM */
    diag_loc name_loc;
    bool is_const;         /* ASSIGN written as `const name ...` */
    bool has_type;         /* ASSIGN const with `: T`; INPUT, PARAM always */
    ast_type type;
    ast_expr *value;       /* ASSIGN, PARAM */
    int nvalues;           /* RETURN */
    ast_expr **values;     /* RETURN */
    /* INPUT: exactly one of range / calibrate. */
    bool has_range;
    double range_lo, range_hi;
    const char *calibrate; /* file path, relative to the .cml file's directory */
    bool per_feature;      /* calibrate ... per_feature: one scale per last-axis index */
    bool tree_bins;        /* calibrate ... tree_bins: bins between the trees' split points */
    /* QUANTIZE */
    int nsettings;
    ast_qsetting *settings;
} ast_stmt;

/* `name: type` in a circuit's parameter list. */
typedef struct ast_param {
    const char *name;
    ast_type type;
    diag_loc loc;
} ast_param;

typedef enum { AST_UNIT_CIRCUIT, AST_UNIT_MODEL } ast_unit_kind;

typedef struct ast_unit {
    ast_unit_kind kind;
    const char *name;
    diag_loc loc;
    int nparams;           /* circuit only */
    ast_param *params;
    int nstmts;
    ast_stmt **stmts;
} ast_unit;

/* Parses `src` (whole file text). On success returns the unit (allocated in
 * `a`); on any syntax error reports it through `d` (clang form) and returns
 * NULL. Never crashes or leaks on any input, including embedded NUL bytes
 * (the caller passes `len`) and unterminated comments/strings. */
ast_unit *parse_unit(arena *a, diag_ctx *d, const diag_source *src, size_t len);

/* Debug printer used by tests: an S-expression form, one unit per call,
 * e.g. (circuit f (x enc u4[3]) (= s (+ (call sum x) y)) (return s)). */
void ast_print(FILE *out, const ast_unit *u);

#endif
