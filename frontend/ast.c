/* ast.c — AST node constructors (arena-allocated) and the S-expression
 * printer that the parser tests compare against.
 *
 * Every constructor records the node's depth (1 + its deepest child) so the
 * grammar can refuse expressions nested deeper than AST_MAX_DEPTH before any
 * recursive walk — this printer included — could exhaust the C stack. */
#include "ast.h"
#include "parse_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- lists ------------------------------------------------------------ */

ast_list *ast_list_new(arena *a) {
    return arena_alloc(a, sizeof(ast_list));
}

bool ast_list_push(arena *a, ast_list *l, void *item) {
    if (l->count == l->cap) {
        int cap = l->cap ? l->cap * 2 : 4;
        if (l->cap > (1 << 29)) return false;
        void **items = arena_array(a, (size_t)cap, sizeof *items);
        if (!items) return false;
        if (l->count) memcpy(items, l->items, (size_t)l->count * sizeof *items);
        l->items = items;
        l->cap = cap;
    }
    l->items[l->count++] = item;
    return true;
}

void *ast_list_flatten(arena *a, const ast_list *l, size_t elem_size) {
    if (!l || l->count == 0) return NULL;
    unsigned char *out = arena_array(a, (size_t)l->count, elem_size);
    if (!out) return NULL;
    for (int i = 0; i < l->count; i++) memcpy(out + (size_t)i * elem_size, l->items[i], elem_size);
    return out;
}

/* ---- expression constructors ----------------------------------------- */

static int deeper(int depth, const ast_expr *e) {
    return e && e->depth > depth ? e->depth : depth;
}

static ast_expr *new_expr(arena *a, ast_expr_kind kind, diag_loc loc) {
    ast_expr *e = arena_alloc(a, sizeof *e);
    if (!e) return NULL;
    e->kind = kind;
    e->loc = loc;
    e->depth = 1;
    return e;
}

ast_expr *ast_new_int(arena *a, diag_loc loc, int64_t v) {
    ast_expr *e = new_expr(a, AST_INT, loc);
    if (e) e->u.ival = v;
    return e;
}

ast_expr *ast_new_float(arena *a, diag_loc loc, double v) {
    ast_expr *e = new_expr(a, AST_FLOAT, loc);
    if (e) e->u.fval = v;
    return e;
}

ast_expr *ast_new_string(arena *a, diag_loc loc, const char *s) {
    ast_expr *e = new_expr(a, AST_STRING, loc);
    if (e) e->u.str = s;
    return e;
}

ast_expr *ast_new_name(arena *a, diag_loc loc, const char *name) {
    ast_expr *e = new_expr(a, AST_NAME, loc);
    if (e) e->u.str = name;
    return e;
}

ast_expr *ast_new_unary(arena *a, diag_loc loc, ast_op op, ast_expr *operand) {
    ast_expr *e = new_expr(a, AST_UNARY, loc);
    if (!e) return NULL;
    e->u.bin.op = op;
    e->u.bin.lhs = operand;
    e->depth = 1 + deeper(0, operand);
    return e;
}

ast_expr *ast_new_binary(arena *a, diag_loc loc, ast_op op, ast_expr *lhs, ast_expr *rhs) {
    ast_expr *e = new_expr(a, AST_BINARY, loc);
    if (!e) return NULL;
    e->u.bin.op = op;
    e->u.bin.lhs = lhs;
    e->u.bin.rhs = rhs;
    e->depth = 1 + deeper(deeper(0, lhs), rhs);
    return e;
}

ast_expr *ast_new_tensor(arena *a, diag_loc loc, const ast_list *elems) {
    ast_expr *e = new_expr(a, AST_TENSOR, loc);
    if (!e) return NULL;
    int n = elems->count, d = 0;
    ast_expr **v = arena_array(a, (size_t)n, sizeof *v);
    if (!v) return NULL;
    for (int i = 0; i < n; i++) {
        v[i] = elems->items[i];
        d = deeper(d, v[i]);
    }
    e->u.tensor.count = n;
    e->u.tensor.elems = v;
    e->depth = 1 + d;
    return e;
}

ast_expr *ast_new_call(arena *a, diag_loc loc, const char *name, const ast_list *args) {
    ast_expr *e = new_expr(a, AST_CALL, loc);
    if (!e) return NULL;
    int npos = 0, nkw = 0, d = 0;
    for (int i = 0; args && i < args->count; i++) {
        const ast_arg *g = args->items[i];
        if (g->is_kw) nkw++; else npos++;
    }
    ast_expr **pos = npos ? arena_array(a, (size_t)npos, sizeof *pos) : NULL;
    ast_kwarg *kw = nkw ? arena_array(a, (size_t)nkw, sizeof *kw) : NULL;
    if ((npos && !pos) || (nkw && !kw)) return NULL;
    npos = nkw = 0;
    for (int i = 0; args && i < args->count; i++) {
        const ast_arg *g = args->items[i];
        if (g->is_kw) {
            kw[nkw++] = g->kw;
            d = deeper(d, g->kw.value);
        } else {
            pos[npos++] = g->expr;
            d = deeper(d, g->expr);
        }
    }
    e->u.call.name = name;
    e->u.call.name_loc = loc;
    e->u.call.nargs = npos;
    e->u.call.args = pos;
    e->u.call.nkwargs = nkw;
    e->u.call.kwargs = kw;
    e->depth = 1 + d;
    return e;
}

ast_expr *ast_new_index(arena *a, diag_loc loc, ast_expr *base, const ast_list *items) {
    ast_expr *e = new_expr(a, AST_INDEX, loc);
    if (!e) return NULL;
    int n = items->count, d = deeper(0, base);
    ast_index_item *v = arena_array(a, (size_t)n, sizeof *v);
    if (!v) return NULL;
    for (int i = 0; i < n; i++) {
        v[i] = *(const ast_index_item *)items->items[i];
        d = deeper(deeper(deeper(deeper(d, v[i].index), v[i].lo), v[i].hi), v[i].step);
    }
    e->u.index.base = base;
    e->u.index.count = n;
    e->u.index.items = v;
    e->depth = 1 + d;
    return e;
}

ast_expr *ast_new_lambda(arena *a, diag_loc loc, const char *param, diag_loc param_loc,
                         ast_expr *body) {
    ast_expr *e = new_expr(a, AST_LAMBDA, loc);
    if (!e) return NULL;
    e->u.lambda.param = param;
    e->u.lambda.param_loc = param_loc;
    e->u.lambda.body = body;
    e->depth = 1 + deeper(0, body);
    return e;
}

/* ---- printer ---------------------------------------------------------- */

/* Shortest decimal form that reads back as the same double, always
 * recognisable as a float ("3.0", not "3"), positional unless very large
 * or very small ("250.0", "0.001", "1e+300"). */
static void print_float(FILE *out, double v) {
    char buf[400];
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    const char *e = strchr(buf, 'e');
    if (e && fabs(v) >= 1e-4 && fabs(v) < 1e16) {
        int decimals = prec - 1 - atoi(e + 1);
        snprintf(buf, sizeof buf, "%.*f", decimals > 0 ? decimals : 0, v);
    }
    fputs(buf, out);
    if (strspn(buf, "-0123456789") == strlen(buf)) fputs(".0", out);
}

static void print_string(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static const char *op_name(ast_op op) {
    static const char *const names[] = {
        [AST_OP_ADD] = "+",  [AST_OP_SUB] = "-",  [AST_OP_MUL] = "*", [AST_OP_DIV] = "/",
        [AST_OP_MATMUL] = "@", [AST_OP_LT] = "<", [AST_OP_LE] = "<=", [AST_OP_GT] = ">",
        [AST_OP_GE] = ">=", [AST_OP_EQ] = "==", [AST_OP_NE] = "!=", [AST_OP_NEG] = "-",
    };
    return (unsigned)op < sizeof names / sizeof names[0] && names[op] ? names[op] : "?";
}

/* enc u4[3] | clear i8[2,2] | f32[4] */
static void print_type(FILE *out, const ast_type *t) {
    if (t->kind == AST_TY_FLOAT)
        fprintf(out, "f%d", t->bits);
    else
        fprintf(out, "%s %c%d", t->kind == AST_TY_ENC ? "enc" : "clear", t->is_signed ? 'i' : 'u',
                t->bits);
    if (t->rank > 0) {
        fputc('[', out);
        for (int i = 0; i < t->rank; i++) fprintf(out, "%s%" PRId64, i ? "," : "", t->dims[i]);
        fputc(']', out);
    }
}

static void print_expr(FILE *out, const ast_expr *e);

static void print_opt(FILE *out, const ast_expr *e) {
    if (e) print_expr(out, e); else fputc('_', out);
}

/* Recursion is bounded by AST_MAX_DEPTH (the parser's guarantee). */
static void print_expr(FILE *out, const ast_expr *e) {
    switch (e->kind) {
    case AST_INT: fprintf(out, "%" PRId64, e->u.ival); break;
    case AST_FLOAT: print_float(out, e->u.fval); break;
    case AST_STRING: print_string(out, e->u.str); break;
    case AST_NAME: fputs(e->u.str, out); break;
    case AST_TENSOR:
        fputc('[', out);
        for (int i = 0; i < e->u.tensor.count; i++) {
            if (i) fputc(' ', out);
            print_expr(out, e->u.tensor.elems[i]);
        }
        fputc(']', out);
        break;
    case AST_UNARY:
        fprintf(out, "(%s ", op_name(e->u.bin.op));
        print_expr(out, e->u.bin.lhs);
        fputc(')', out);
        break;
    case AST_BINARY:
        fprintf(out, "(%s ", op_name(e->u.bin.op));
        print_expr(out, e->u.bin.lhs);
        fputc(' ', out);
        print_expr(out, e->u.bin.rhs);
        fputc(')', out);
        break;
    case AST_CALL:
        fprintf(out, "(call %s", e->u.call.name);
        for (int i = 0; i < e->u.call.nargs; i++) {
            fputc(' ', out);
            print_expr(out, e->u.call.args[i]);
        }
        for (int i = 0; i < e->u.call.nkwargs; i++) {
            fprintf(out, " (kw %s ", e->u.call.kwargs[i].name);
            print_expr(out, e->u.call.kwargs[i].value);
            fputc(')', out);
        }
        fputc(')', out);
        break;
    case AST_INDEX:
        fputs("(index ", out);
        print_expr(out, e->u.index.base);
        for (int i = 0; i < e->u.index.count; i++) {
            const ast_index_item *it = &e->u.index.items[i];
            fputc(' ', out);
            if (!it->is_slice) {
                print_expr(out, it->index);
                continue;
            }
            fputs("(slice ", out);
            print_opt(out, it->lo);
            fputc(' ', out);
            print_opt(out, it->hi);
            fputc(' ', out);
            print_opt(out, it->step);
            fputc(')', out);
        }
        fputc(')', out);
        break;
    case AST_LAMBDA:
        fprintf(out, "(lambda %s ", e->u.lambda.param);
        print_expr(out, e->u.lambda.body);
        fputc(')', out);
        break;
    }
}

static void print_stmt(FILE *out, const ast_stmt *s) {
    switch (s->kind) {
    case AST_ASSIGN:
        if (!s->is_const) {
            fprintf(out, "(= %s ", s->name);
        } else if (s->has_type) {
            fprintf(out, "(const (%s ", s->name);
            print_type(out, &s->type);
            fputs(") ", out);
        } else {
            fprintf(out, "(const %s ", s->name);
        }
        print_expr(out, s->value);
        fputc(')', out);
        break;
    case AST_RETURN:
        fputs("(return", out);
        for (int i = 0; i < s->nvalues; i++) {
            fputc(' ', out);
            print_expr(out, s->values[i]);
        }
        fputc(')', out);
        break;
    case AST_INPUT:
        fprintf(out, "(input (%s ", s->name);
        print_type(out, &s->type);
        fputs(") ", out);
        if (s->has_range) {
            fputs("(range ", out);
            print_float(out, s->range_lo);
            fputc(' ', out);
            print_float(out, s->range_hi);
            fputc(')', out);
        } else {
            fputs("(calibrate ", out);
            print_string(out, s->calibrate ? s->calibrate : "");
            fputc(')', out);
        }
        fputc(')', out);
        break;
    case AST_QUANTIZE:
        fputs("(quantize", out);
        for (int i = 0; i < s->nsettings; i++)
            fprintf(out, " (%s %" PRId64 ")", s->settings[i].key, s->settings[i].bits);
        fputc(')', out);
        break;
    case AST_PARAM:
        fprintf(out, "(param (%s ", s->name);
        print_type(out, &s->type);
        fputs(") ", out);
        print_expr(out, s->value);
        fputc(')', out);
        break;
    }
}

void ast_print(FILE *out, const ast_unit *u) {
    fprintf(out, "(%s %s", u->kind == AST_UNIT_CIRCUIT ? "circuit" : "model", u->name);
    for (int i = 0; i < u->nparams; i++) {
        fprintf(out, " (%s ", u->params[i].name);
        print_type(out, &u->params[i].type);
        fputc(')', out);
    }
    for (int i = 0; i < u->nstmts; i++) {
        fputc(' ', out);
        print_stmt(out, u->stmts[i]);
    }
    fputs(")\n", out);
}
