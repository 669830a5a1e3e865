/* lower_internal.h — what lower_circuit.c and lower_model.c share: numeric
 * tensor literals, call-shape checks (argument counts, keyword arguments)
 * with their exact messages, and "did you mean" suggestions. Not a public
 * header: only the lowering includes it. */
#ifndef CML_FRONTEND_LOWER_INTERNAL_H
#define CML_FRONTEND_LOWER_INTERNAL_H

#include "ast.h"
#include "ir.h"

/* A numeric literal (`3`, `-0.5`, `[[1, 2], [3, -4]]`) read without building
 * IR, so that model weights of any size cost one array. */
typedef struct lower_lit {
    int rank;
    int64_t dims[IR_MAX_RANK];
    int64_t count;
    bool all_int;   /* every element was written as an integer */
    int64_t *iv;    /* all_int: exact values */
    double *fv;     /* always: values as reals */
} lower_lit;

/* 1: e is a numeric literal, read into *out (arena memory);
 * 0: e is not made only of numbers (nothing reported);
 * -1: e is a malformed literal (ragged, too deep), error reported. */
int lower_literal(arena *a, diag_ctx *d, const ast_expr *e, lower_lit *out);

/* Checks the positional argument count of a call; reports
 * "'sum' takes 1 or 2 arguments, got 3" and returns false otherwise.
 * max < 0: no upper bound. */
bool lower_check_nargs(diag_ctx *d, const ast_expr *call, int min, int max);

/* Checks keyword arguments against `allowed` (NULL-terminated, may be NULL
 * for none): unknown or repeated names are errors. */
bool lower_check_kwargs(diag_ctx *d, const ast_expr *call, const char *const *allowed);
/* The value of keyword `name`, or NULL. */
const ast_expr *lower_kwarg(const ast_expr *call, const char *name);

/* The candidate closest to `name` by edit distance if it is close enough to
 * be a likely typo, else NULL. */
const char *lower_suggest(const char *name, const char *const *cands, int n);

/* Reports "unknown <what> 'name'" with "; did you mean 'x'?" when a
 * candidate is close. */
void lower_unknown(diag_ctx *d, diag_loc loc, const char *what, const char *name,
                   const char *const *cands, int n);

/* Shape as "[4,3]" ("[]" for scalars). */
char *lower_shape_str(int rank, const int64_t *dims, char *buf, size_t size);

/* Joins base_dir and a relative path (absolute paths are kept). */
char *lower_join_path(arena *a, const char *base_dir, const char *path);

/* The model level (lower_model.c). */
ir_module *lower_model(arena *a, diag_ctx *d, const ast_unit *u, const char *base_dir);

#endif
