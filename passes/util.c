/* util.c — helpers shared by the passes (pass_internal.h): the encrypted
 * root analysis, so that lower_binary lowers exactly what fusion could not
 * fuse; splicing built ops into the middle of a function; cloning ops;
 * use lists. */
#include "pass_internal.h"

#include <stdlib.h>
#include <string.h>

ir_op pass_root_multi_, pass_root_dyn_;

static bool all_int_args(const ir_op *op) {
    for (int i = 0; i < op->nargs; i++)
        if (op->args[i]->type.is_float) return false;
    return true;
}

ir_op *pass_root(const ir_op *op) {
    if (op->code == IR_OUTPUT) return NULL;
    if (!op->type.enc) {
        if (op->code == IR_INPUT) return PASS_ROOT_DYN;
        for (int i = 0; i < op->nargs; i++)
            if (op->args[i]->scratch == PASS_ROOT_DYN) return PASS_ROOT_DYN;
        return NULL;
    }
    if (op->code == IR_INPUT) return (ir_op *)op;
    if (op->code == IR_TLU) {
        ir_op *r = op->args[0]->scratch;
        return r ? r : (ir_op *)op;
    }
    if (!(ir_op_flags(op->code) & IR_F_ELEMWISE)) return (ir_op *)op;
    ir_op *one = NULL;
    bool many = false, multi_in = false;
    int nenc = 0, ndyn = 0;
    for (int i = 0; i < op->nargs; i++) {
        ir_op *r = op->args[i]->scratch;
        if (!r) continue;
        if (r == PASS_ROOT_MULTI) multi_in = true;
        else if (r == PASS_ROOT_DYN) ndyn++;
        else {
            nenc++;
            if (!one) one = r;
            else if (one != r) many = true;
        }
    }
    if (one && !many && !ndyn && !multi_in) return one;
    if (!multi_in && !op->type.is_float && all_int_args(op)) {
        if (op->code == IR_ADD || op->code == IR_SUB) return (ir_op *)op;
        if (op->code == IR_MUL && nenc == 1 && ndyn == 1) return (ir_op *)op;
    }
    return PASS_ROOT_MULTI;
}

void pass_two_roots(const ir_op *op, ir_op **a, ir_op **b) {
    *a = *b = NULL;
    for (int i = 0; i < op->nargs; i++) {
        ir_op *r = op->args[i]->scratch;
        if (!r || r == PASS_ROOT_MULTI) continue;
        if (!*a) *a = r;
        else if (*a != r && !*b) *b = r;
    }
}

ir_op *pass_move_before(ir_func *f, ir_op *mark, ir_op *before) {
    ir_op *first = mark ? mark->next : f->first, *last = f->last;
    if (!first || first == before) return NULL;
    /* detach [first, last] from the end */
    f->last = first->prev;
    if (first->prev) first->prev->next = NULL;
    else f->first = NULL;
    /* splice before `before` */
    first->prev = before->prev;
    last->next = before;
    if (before->prev) before->prev->next = first;
    else f->first = first;
    before->prev = last;
    return first;
}

ir_op *pass_clone_op(ir_func *f, const ir_op *src, ir_op *const *args, diag_ctx *d) {
    ir_op *c = ir_op_new(f, src->code, src->loc, src->nargs, args);
    if (!c) return NULL;
    int id = c->id;
    ir_op **a = c->args, *prev = c->prev, *next = c->next;
    *c = *src;
    c->id = id;
    c->args = a;
    c->prev = prev;
    c->next = next;
    c->scratch = NULL;
    if (c->code != IR_INPUT && c->code != IR_CONST && !ir_infer(c, d)) {
        ir_op_unlink(f, c);
        return NULL;
    }
    return c;
}

int64_t pass_bcast_index(const ir_type *from, const ir_type *to, int64_t elem) {
    int64_t idx = 0, stride = 1, e = elem;
    for (int i = to->rank - 1, j = from->rank - 1; i >= 0; i--, j--) {
        int64_t k = e % to->dims[i];
        e /= to->dims[i];
        if (j >= 0) {
            if (from->dims[j] != 1) idx += k * stride;
            stride *= from->dims[j];
        }
    }
    return idx;
}

bool pass_uses_build(ir_func *f, pass_uses *u) {
    memset(u, 0, sizeof *u);
    u->n = f->next_id;
    u->start = calloc((size_t)u->n + 1, sizeof *u->start);
    if (!u->start) return false;
    size_t total = 0;
    ir_foreach(op, f) {
        for (int i = 0; i < op->nargs; i++) {
            u->start[op->args[i]->id + 1]++;
            total++;
        }
    }
    for (int i = 0; i < u->n; i++) u->start[i + 1] += u->start[i];
    u->user = malloc((total ? total : 1) * sizeof *u->user);
    int *fill = calloc((size_t)u->n + 1, sizeof *fill);
    if (!u->user || !fill) {
        free(fill);
        pass_uses_free(u);
        return false;
    }
    ir_foreach(op, f) {
        for (int i = 0; i < op->nargs; i++) {
            int id = op->args[i]->id;
            u->user[u->start[id] + fill[id]++] = op;
        }
    }
    free(fill);
    return true;
}

void pass_uses_free(pass_uses *u) {
    free(u->start);
    free(u->user);
    memset(u, 0, sizeof *u);
}

bool pass_round_value(int64_t v, int shift, int64_t *out) {
    if (shift <= 0) {
        *out = v;
        return true;
    }
    if (shift > 62) shift = 62;
    __int128 x = (__int128)v + ((__int128)1 << (shift - 1));
    /* floor division by 2^shift, then back */
    __int128 q = x >= 0 ? x >> shift : -((-x + (((__int128)1 << shift) - 1)) >> shift);
    __int128 r = q * ((__int128)1 << shift);
    if (r < INT64_MIN || r > INT64_MAX) return false;
    *out = (int64_t)r;
    return true;
}

int pass_bits_for(int64_t lo, int64_t hi, bool is_signed) {
    bool s;
    if (!is_signed) return ir_bits_for_range(lo < 0 ? 0 : lo, hi, &s);
    return ir_bits_for_range(lo < 0 ? lo : -1, hi < 0 ? 0 : hi, &s);
}
