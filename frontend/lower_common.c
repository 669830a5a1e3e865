/* lower_common.c — helpers both lowering levels need to agree on: numeric
 * literals (weights of any size are read straight into one array, without an
 * IR op per element), the wording of call-shape errors, and clang-style
 * "did you mean" suggestions (lower_internal.h). */
#include "lower_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

_Static_assert(AST_MAX_ELEMENTS == IR_MAX_ELEMENTS, "a written type must fit the IR");
_Static_assert(AST_MAX_RANK == IR_MAX_RANK, "a written type must fit the IR");

/* ---- numeric literals ------------------------------------------------------ */

typedef struct litwalk {
    diag_ctx *d;
    int rank; /* -1 until the first number is seen */
    int64_t dims[IR_MAX_RANK];
    bool dim_set[IR_MAX_RANK];
    int64_t count;
    bool all_int;
    lower_lit *out; /* fill pass: non-NULL */
} litwalk;

/* A number, possibly negated: writes it and returns true. */
static bool leaf_number(const ast_expr *e, bool *is_int, int64_t *iv, double *fv) {
    if (e->kind == AST_INT) {
        *is_int = true;
        *iv = e->u.ival;
        *fv = (double)e->u.ival;
        return true;
    }
    if (e->kind == AST_FLOAT) {
        *is_int = false;
        *iv = 0;
        *fv = e->u.fval;
        return true;
    }
    if (e->kind == AST_UNARY && e->u.bin.op == AST_OP_NEG &&
        leaf_number(e->u.bin.lhs, is_int, iv, fv)) {
        *iv = -*iv;
        *fv = -*fv;
        return true;
    }
    return false;
}

/* Returns 1, 0 (not a literal) or -1 (error reported). */
static int walk(litwalk *w, const ast_expr *e, int depth) {
    if (e->kind == AST_TENSOR) {
        if (depth >= IR_MAX_RANK) {
            diag_error(w->d, e->loc, "tensor literal has more than %d dimensions", IR_MAX_RANK);
            return -1;
        }
        if (w->rank >= 0 && depth >= w->rank) {
            diag_error(w->d, e->loc, "ragged tensor literal: a tensor where a number is expected");
            return -1;
        }
        int n = e->u.tensor.count;
        if (!w->dim_set[depth]) {
            w->dim_set[depth] = true;
            w->dims[depth] = n;
        } else if (w->dims[depth] != n) {
            diag_error(w->d, e->loc,
                       "ragged tensor literal: %d element%s here, %" PRId64 " in the first row", n,
                       n == 1 ? "" : "s", w->dims[depth]);
            return -1;
        }
        for (int i = 0; i < n; i++) {
            int r = walk(w, e->u.tensor.elems[i], depth + 1);
            if (r <= 0) return r;
        }
        return 1;
    }
    bool is_int;
    int64_t iv;
    double fv;
    if (!leaf_number(e, &is_int, &iv, &fv)) return 0;
    if (w->rank < 0) w->rank = depth;
    if (depth != w->rank) {
        diag_error(w->d, e->loc, "ragged tensor literal: a number where a tensor is expected");
        return -1;
    }
    w->all_int &= is_int;
    if (w->out) {
        if (w->out->iv) w->out->iv[w->count] = iv;
        w->out->fv[w->count] = fv;
    }
    w->count++;
    return 1;
}

int lower_literal(arena *a, diag_ctx *d, const ast_expr *e, lower_lit *out) {
    litwalk w = {.d = d, .rank = -1, .all_int = true};
    int r = walk(&w, e, 0);
    if (r <= 0) return r;
    memset(out, 0, sizeof *out);
    out->rank = w.rank;
    memcpy(out->dims, w.dims, sizeof out->dims);
    out->count = w.count;
    out->all_int = w.all_int;
    out->fv = arena_array(a, (size_t)w.count, sizeof *out->fv);
    if (w.all_int) out->iv = arena_array(a, (size_t)w.count, sizeof *out->iv);
    if (!out->fv || (w.all_int && !out->iv)) {
        diag_error(d, e->loc, "out of memory");
        return -1;
    }
    litwalk fill = {.d = d, .rank = w.rank, .all_int = true, .out = out};
    memcpy(fill.dims, w.dims, sizeof fill.dims);
    memcpy(fill.dim_set, w.dim_set, sizeof fill.dim_set);
    return walk(&fill, e, 0);
}

/* ---- calls ------------------------------------------------------------------ */

bool lower_check_nargs(diag_ctx *d, const ast_expr *call, int min, int max) {
    int n = call->u.call.nargs;
    if (n >= min && (max < 0 || n <= max)) return true;
    const char *name = call->u.call.name;
    if (max == min)
        diag_error(d, call->loc, "'%s' takes %d argument%s, got %d", name, min, min == 1 ? "" : "s",
                   n);
    else if (max < 0)
        diag_error(d, call->loc, "'%s' takes at least %d argument%s, got %d", name, min,
                   min == 1 ? "" : "s", n);
    else if (max == min + 1)
        diag_error(d, call->loc, "'%s' takes %d or %d arguments, got %d", name, min, max, n);
    else
        diag_error(d, call->loc, "'%s' takes %d to %d arguments, got %d", name, min, max, n);
    return false;
}

bool lower_check_kwargs(diag_ctx *d, const ast_expr *call, const char *const *allowed) {
    const char *name = call->u.call.name;
    for (int i = 0; i < call->u.call.nkwargs; i++) {
        const ast_kwarg *k = &call->u.call.kwargs[i];
        if (!allowed || !allowed[0]) {
            diag_error(d, k->loc, "'%s' takes no keyword arguments", name);
            return false;
        }
        int n = 0;
        bool known = false;
        while (allowed[n]) known |= strcmp(allowed[n++], k->name) == 0;
        if (!known) {
            const char *s = lower_suggest(k->name, allowed, n);
            if (s)
                diag_error(d, k->loc, "unknown keyword argument '%s' for '%s'; did you mean '%s'?",
                           k->name, name, s);
            else
                diag_error(d, k->loc, "unknown keyword argument '%s' for '%s'", k->name, name);
            return false;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(call->u.call.kwargs[j].name, k->name) == 0) {
                diag_error(d, k->loc, "keyword argument '%s' given twice", k->name);
                return false;
            }
    }
    return true;
}

const ast_expr *lower_kwarg(const ast_expr *call, const char *name) {
    for (int i = 0; i < call->u.call.nkwargs; i++)
        if (strcmp(call->u.call.kwargs[i].name, name) == 0) return call->u.call.kwargs[i].value;
    return NULL;
}

/* ---- suggestions ------------------------------------------------------------- */

enum { SUGGEST_MAX = 64 };

static int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > SUGGEST_MAX || lb > SUGGEST_MAX) return 1 << 20;
    int row[SUGGEST_MAX + 1];
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *lower_suggest(const char *name, const char *const *cands, int n) {
    /* Like clang: at most about a third of the name may differ. */
    int limit = ((int)strlen(name) + 2) / 3;
    if (limit < 1) limit = 1;
    const char *best = NULL;
    int best_d = limit + 1;
    for (int i = 0; i < n; i++) {
        if (!cands[i] || strcmp(cands[i], name) == 0) continue;
        int dist = edit_distance(name, cands[i]);
        if (dist < best_d) {
            best_d = dist;
            best = cands[i];
        }
    }
    return best;
}

void lower_unknown(diag_ctx *d, diag_loc loc, const char *what, const char *name,
                   const char *const *cands, int n) {
    const char *s = lower_suggest(name, cands, n);
    if (s) diag_error(d, loc, "unknown %s '%s'; did you mean '%s'?", what, name, s);
    else diag_error(d, loc, "unknown %s '%s'", what, name);
}

/* ---- misc -------------------------------------------------------------------- */

char *lower_shape_str(int rank, const int64_t *dims, char *buf, size_t size) {
    int n = snprintf(buf, size, "[");
    for (int i = 0; i < rank && n > 0 && (size_t)n < size; i++)
        n += snprintf(buf + n, size - (size_t)n, "%s%" PRId64, i ? "," : "", dims[i]);
    if (n > 0 && (size_t)n < size) snprintf(buf + n, size - (size_t)n, "]");
    return buf;
}

char *lower_join_path(arena *a, const char *base_dir, const char *path) {
    if (path[0] == '/' || !base_dir || !base_dir[0]) return arena_strndup(a, path, strlen(path));
    size_t lb = strlen(base_dir), lp = strlen(path);
    bool slash = base_dir[lb - 1] == '/';
    char *s = arena_alloc(a, lb + lp + 2);
    if (!s) return NULL;
    memcpy(s, base_dir, lb);
    if (!slash) s[lb++] = '/';
    memcpy(s + lb, path, lp + 1);
    return s;
}
