/* requires: shapes, lower_binary;
 * provides: no non-linear op and no real value on encrypted data outside tlu
 *           bodies: every maximal elementwise subgraph over one encrypted
 *           integer root becomes one tlu per value leaving it (when that
 *           value is non-linear in the root); tlu∘tlu composed; dead ops
 *           removed; ir_verify(m, d, true) holds;
 * breaks: ranges/widths of replaced values (bitwidth runs next).
 *
 * fuse.c — TLU fusion (DESIGN §5.2, docs/ir.md). The root analysis
 * (pass_root, shared with lower_binary) gives each encrypted value the one
 * encrypted integer it is an elementwise function of. A value of such a
 * subgraph that is used outside it (by a non-elementwise op, an op of
 * another root, or an output) and whose computation from the root contains
 * a non-linear op becomes `tlu root, @body`, the body being a copy of the
 * ops from the root to the value (existing tlus inlined: that is how
 * consecutive lookups compose into one). Purely linear chains (x*3 + 1)
 * stay linear: they cost nothing on ciphertexts. Clear operands must be
 * compile-time constants; clear computations on constants (a reshaped
 * bias) are folded with the interpreter. */
#include "interp.h"
#include "pass_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct fuser {
    ir_module *m;
    ir_func *f;
    diag_ctx *d;
    int n;              /* ids of f at the start */
    unsigned char *nl;  /* per id: the value's cone from its root is non-linear */
    unsigned char *bnd; /* per id: used outside its subgraph */
    unsigned char *mark;
    ir_op **map;        /* per id: copy in the body being built (valid if gen == cur) */
    unsigned *gen;
    unsigned cur;
    ir_op **folded;     /* per id: a clear constant computation folded into a CONST */
    ir_op **stack;
} fuser;

static bool in_subgraph(const ir_op *op) {
    ir_op *r = op->scratch;
    return op->type.enc && op->code != IR_OUTPUT && pass_is_root(r) && r != op;
}

static bool is_nonlin(const ir_op *op) {
    if (ir_op_flags(op->code) & IR_F_NONLIN) return true;
    if (op->code == IR_TLU) return true;
    return op->code == IR_MUL && op->args[0]->type.enc && op->args[1]->type.enc;
}

/* Reports why an encrypted op could not get a single root. */
static void report_multi(fuser *z, const ir_op *op) {
    ir_op *a, *b;
    pass_two_roots(op, &a, &b);
    bool dyn = a == PASS_ROOT_DYN || b == PASS_ROOT_DYN;
    ir_op *e = a == PASS_ROOT_DYN ? b : a;
    if (op->type.is_float) {
        if (dyn || !b)
            diag_error(z->d, op->loc,
                       "this real value depends on the encrypted value %%%d and on a clear input "
                       "and cannot become a table lookup; compute it on integers",
                       e && e != PASS_ROOT_DYN ? e->id : -1);
        else
            diag_error(z->d, op->loc,
                       "this real value depends on two encrypted values (%%%d and %%%d) and cannot "
                       "become a table lookup; compute it on integers or lookup each input "
                       "separately",
                       a->id, b->id);
    } else if (dyn || !b) {
        diag_error(z->d, op->loc,
                   "'%s' of an encrypted value and a clear input cannot become a table lookup; "
                   "only clear constants can be folded into tables",
                   ir_op_name(op->code));
    } else {
        diag_error(z->d, op->loc,
                   "internal error: '%s' of two encrypted values (%%%d and %%%d) was not lowered",
                   ir_op_name(op->code), a->id, b->id);
    }
}

/* Structural checks on the roots; false after reporting. */
static bool check(fuser *z) {
    ir_foreach(op, z->f) {
        if (op->scratch == PASS_ROOT_MULTI && op->type.enc) {
            report_multi(z, op);
            return false;
        }
        bool elem = (ir_op_flags(op->code) & IR_F_ELEMWISE) || op->code == IR_TLU;
        if (elem) continue;
        if (op->code == IR_INPUT && op->type.enc && op->type.is_float) {
            diag_error(z->d, op->loc, "encrypted input '%s' must be an integer (quantize it)",
                       op->name ? op->name : "");
            return false;
        }
        for (int i = 0; i < op->nargs; i++) {
            const ir_op *a = op->args[i];
            if (a->type.enc && a->type.is_float) {
                diag_error(z->d, a->loc,
                           "internal error: an encrypted real value ('%s') reaches '%s' without "
                           "conversion to an integer (the lowering must insert toint)",
                           ir_op_name(a->code), ir_op_name(op->code));
                return false;
            }
        }
        if (op->code != IR_OUTPUT && op->type.enc && op->type.is_float) {
            diag_error(z->d, op->loc,
                       "internal error: '%s' computes an encrypted real value, which no table "
                       "lookup can absorb",
                       ir_op_name(op->code));
            return false;
        }
    }
    return true;
}

static ir_op *body_get(fuser *z, const ir_op *op) {
    return op->id >= 0 && op->id < z->n && z->gen[op->id] == z->cur ? z->map[op->id] : NULL;
}

static void body_set(fuser *z, const ir_op *op, ir_op *copy) {
    z->gen[op->id] = z->cur;
    z->map[op->id] = copy;
}

/* ---- folding clear constant computations -------------------------------- */

static ir_op *copy_clear_rec(ir_func *tmp, ir_op *u, ir_op **fmap, diag_ctx *d, int depth) {
    if (fmap[u->id]) return fmap[u->id];
    if (depth > 10000) return NULL;
    ir_op *args[8];
    ir_op **a = u->nargs <= 8 ? args : malloc((size_t)u->nargs * sizeof *a);
    if (!a) return NULL;
    ir_op *c = NULL;
    int i = 0;
    for (; i < u->nargs; i++)
        if (!(a[i] = copy_clear_rec(tmp, u->args[i], fmap, d, depth + 1))) break;
    if (i == u->nargs) c = pass_clone_op(tmp, u, a, d);
    if (a != args) free(a);
    fmap[u->id] = c;
    return c;
}

/* A CONST (not linked into any function we keep) equal to the clear value
 * u, which depends on no input. */
static ir_op *fold(fuser *z, ir_op *u) {
    if (z->folded[u->id]) return z->folded[u->id];
    ir_func *tmp = ir_func_new(z->m, "fold", false);
    ir_op **fmap = calloc((size_t)z->n, sizeof *fmap);
    if (!tmp || !fmap) {
        free(fmap);
        return NULL;
    }
    ir_op *v = copy_clear_rec(tmp, u, fmap, z->d, 0);
    free(fmap);
    if (!v || !ir_build_output(tmp, u->loc, "v", 0, v)) return NULL;
    ir_tensor out;
    memset(&out, 0, sizeof out);
    if (!ir_interp(tmp, NULL, &out, z->d, 0, NULL, NULL)) return NULL;
    ir_func *hold = ir_func_new(z->m, "folded", false);
    ir_op *c = NULL;
    if (hold) {
        if (out.is_float) {
            c = ir_build_const_float(hold, u->loc, out.rank, out.dims, out.f);
        } else {
            ir_type t = {0};
            t.rank = out.rank;
            memcpy(t.dims, out.dims, sizeof t.dims);
            c = ir_build_const_int(hold, u->loc, t, out.i);
        }
    }
    ir_tensor_free(&out);
    z->folded[u->id] = c;
    return c;
}

/* The body's copy of a clear operand. */
static ir_op *clear_operand(fuser *z, ir_func *body, ir_op *u) {
    ir_op *c = body_get(z, u);
    if (c) return c;
    if (u->scratch == PASS_ROOT_DYN) {
        diag_error(z->d, u->loc,
                   "internal error: a clear input reaches a table lookup body");
        return NULL;
    }
    const ir_op *src = u->code == IR_CONST ? u : fold(z, u);
    if (!src) return NULL;
    c = pass_clone_op(body, src, NULL, z->d);
    if (c) body_set(z, u, c);
    return c;
}

/* Copies the body of tlu t into `body`, its input being `x`; returns the
 * copy of its result. */
static ir_op *inline_tlu(fuser *z, ir_func *body, const ir_op *t, ir_op *x) {
    const ir_func *tb = t->tlu->body;
    ir_op **lm = calloc((size_t)tb->next_id + 1, sizeof *lm);
    if (!lm) return NULL;
    ir_op *res = NULL;
    for (const ir_op *b = tb->first; b; b = b->next) {
        if (b->code == IR_INPUT) {
            lm[b->id] = x;
            continue;
        }
        if (b->code == IR_OUTPUT) {
            res = lm[b->args[0]->id];
            break;
        }
        ir_op *args[3];
        if (b->nargs > 3) break;
        for (int i = 0; i < b->nargs; i++) args[i] = lm[b->args[i]->id];
        if (!(lm[b->id] = pass_clone_op(body, b, args, z->d))) break;
    }
    free(lm);
    return res;
}

/* The tlu op replacing v (root r), inserted just before v. */
static ir_op *fuse_value(fuser *z, ir_op *v, ir_op *r) {
    /* mark the cone of v down to r */
    int sp = 0;
    z->stack[sp++] = v;
    z->mark[v->id] = 1;
    while (sp) {
        ir_op *u = z->stack[--sp];
        for (int i = 0; i < u->nargs; i++) {
            ir_op *w = u->args[i];
            if (!w->type.enc || w == r || z->mark[w->id]) continue;
            z->mark[w->id] = 1;
            z->stack[sp++] = w;
        }
    }
    z->cur++;
    ir_func *body = ir_func_new(z->m, NULL, true);
    ir_op *in = body ? ir_build_input(body, r->loc, "", 0, r->type) : NULL;
    bool ok = in != NULL;
    if (ok) body_set(z, r, in);
    for (ir_op *op = r->next; op; op = op->next) {
        if (op->id < 0 || op->id >= z->n || !z->mark[op->id]) {
            if (op == v) break;
            continue;
        }
        z->mark[op->id] = 0;
        if (!ok) continue;
        ir_op *c;
        if (op->code == IR_TLU) {
            c = inline_tlu(z, body, op, body_get(z, op->args[0]));
        } else {
            ir_op *args[3];
            for (int i = 0; i < op->nargs && ok; i++) {
                ir_op *a = op->args[i];
                args[i] = a->type.enc ? body_get(z, a) : clear_operand(z, body, a);
                ok = args[i] != NULL;
            }
            c = ok ? pass_clone_op(body, op, args, z->d) : NULL;
        }
        if (!c) ok = false;
        else body_set(z, op, c);
        if (op == v) break;
    }
    if (!ok || !ir_build_output(body, v->loc, NULL, 0, body_get(z, v))) return NULL;
    ir_op *t = ir_op_new_before(z->f, v, IR_TLU, v->loc, 1, &r);
    if (!t || !(t->tlu = arena_alloc(z->m->arena, sizeof *t->tlu))) return NULL;
    t->tlu->body = body;
    if (!ir_infer(t, z->d)) return NULL;
    return t;
}

static bool fuse(fuser *z) {
    ir_func *f = z->f;
    ir_foreach(op, f) op->scratch = pass_root(op);
    if (!check(z)) return false;
    /* non-linearity of each value's cone, in topological order */
    ir_foreach(op, f) {
        if (!in_subgraph(op)) continue;
        bool nl = is_nonlin(op);
        for (int i = 0; i < op->nargs && !nl; i++) {
            const ir_op *a = op->args[i];
            nl = in_subgraph(a) && z->nl[a->id];
        }
        z->nl[op->id] = nl;
    }
    /* values used outside their subgraph */
    ir_foreach(op, f) {
        for (int i = 0; i < op->nargs; i++) {
            ir_op *a = op->args[i];
            if (in_subgraph(a) && (op->code == IR_OUTPUT || op->scratch != a->scratch))
                z->bnd[a->id] = 1;
        }
    }
    /* build the tlus (from the original graph), then redirect the uses in
     * one sweep (to[id]: the tlu replacing the op of that id) */
    ir_op **to = calloc((size_t)z->n + 1, sizeof *to);
    bool ok = to != NULL;
    if (!ok) diag_error(z->d, (diag_loc){0}, "out of memory");
    for (ir_op *op = f->first; op && ok; op = op->next) {
        if (op->id < 0 || op->id >= z->n || !z->bnd[op->id]) continue;
        if (op->type.is_float) {
            diag_error(z->d, op->loc,
                       "internal error: an encrypted real value ('%s') is used outside its "
                       "table lookup without conversion to an integer",
                       ir_op_name(op->code));
            ok = false;
            break;
        }
        if (!z->nl[op->id]) continue; /* linear in its root: stays linear */
        ir_op *r = op->scratch;
        if (op->code == IR_TLU && op->args[0] == r) continue; /* already one tlu of its root */
        ir_op *t = fuse_value(z, op, r);
        if (!t) {
            if (z->d->errors == 0) diag_error(z->d, op->loc, "out of memory");
            ok = false;
            break;
        }
        to[op->id] = t;
    }
    if (ok) {
        ir_foreach(op, f) {
            for (int i = 0; i < op->nargs; i++) {
                const ir_op *a = op->args[i];
                if (a->id >= 0 && a->id < z->n && to[a->id]) op->args[i] = to[a->id];
            }
        }
    }
    free(to);
    if (!ok) return false;
    ir_dce(f);
    ir_foreach(op, f) op->scratch = NULL;
    return true;
}

bool pass_fuse(ir_module *m, diag_ctx *d) {
    fuser z = {.m = m, .f = m->main, .d = d, .n = m->main->next_id};
    size_t n = (size_t)z.n + 1;
    z.nl = calloc(n, 1);
    z.bnd = calloc(n, 1);
    z.mark = calloc(n, 1);
    z.map = calloc(n, sizeof *z.map);
    z.gen = calloc(n, sizeof *z.gen);
    z.folded = calloc(n, sizeof *z.folded);
    z.stack = calloc(n, sizeof *z.stack);
    bool ok = z.nl && z.bnd && z.mark && z.map && z.gen && z.folded && z.stack;
    if (!ok) diag_error(d, (diag_loc){0}, "out of memory");
    else ok = fuse(&z);
    free(z.nl);
    free(z.bnd);
    free(z.mark);
    free(z.map);
    free(z.gen);
    free(z.folded);
    free(z.stack);
    return ok;
}
