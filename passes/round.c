/* requires: bitwidth;
 * provides: every encrypted tlu's PBS precision is at most the limit
 *           (opts.round_to, or PASS_MAX_PRECISION) and its table is
 *           materialised; rounds with shift 0 removed; bit widths, ranges
 *           and tables re-inferred for the rounded graph;
 * breaks: nothing.
 *
 * round.c — the rounding pass (DESIGN §5.4). A PBS reads its input's whole
 * encoding, so a tlu on a 10-bit encoding needs 10-bit parameters, which are
 * slow or do not exist. Rounding the input to a multiple of 2^s first
 * (`round`, exact in FHE) leaves 2^(10-s) possible inputs: the table is
 * built on multiples of 2^s only and the PBS precision drops by s. Rounding
 * can raise a value by 2^(s-1), which may widen the encoding by one bit, so
 * bit-width inference is re-run and the shifts grown until every tlu fits.
 * What must fit is the PBS precision, one bit under the input's when the
 * table folds (docs/backend.md, "Folded lookups"): a saturating lookup on 9
 * bits runs at 8 without any rounding. */
#include "pass_internal.h"

#include <cml/circuit_ops.h>
#include <inttypes.h>
#include <stdlib.h>

enum { ROUND_MAX_ITER = 16 };

int pass_tlu_precision(const ir_op *tlu) {
    const ir_op *a = tlu->args[0];
    int s = a->code == IR_ROUND && a->round_shift > 0 ? a->round_shift : 0;
    int p = a->type.bits - s;
    return p < 1 ? 1 : p;
}

int pass_tlu_pbs_precision(const ir_op *tlu, bool *folded) {
    const ir_tlu *t = tlu->tlu;
    const ir_op *x = tlu->args[0];
    int f = 0, p = pass_tlu_precision(tlu);
    if (t && t->ntables > 0 && tlu->type.bits > 0 && x->type.bits > 0)
        p = (int)cml_circuit_tlu_precision((uint32_t)x->type.bits, (uint32_t)t->dom_shift,
                                           t->dom_count, (uint32_t)tlu->type.bits, t->tables,
                                           (size_t)t->ntables, &f);
    if (folded) *folded = f != 0;
    return p;
}

static bool remove_zero_rounds(ir_func *f) {
    bool any = false;
    for (ir_op *op = f->first, *next; op; op = next) {
        next = op->next;
        if (op->code != IR_ROUND || op->round_shift != 0) continue;
        ir_replace_uses(f, op, op->args[0]);
        ir_op_unlink(f, op);
        any = true;
    }
    return any;
}

static bool only_tlu_users(const pass_uses *u, const ir_op *op) {
    if (op->id < 0 || op->id >= u->n) return false;
    for (int i = u->start[op->id]; i < u->start[op->id + 1]; i++)
        if (u->user[i]->code != IR_TLU) return false;
    return true;
}

/* Grows or inserts rounds before the tlus that exceed the limit. Returns 1
 * if something changed, 0 if not, -1 on error. */
static int adjust(ir_func *f, diag_ctx *d, int limit) {
    pass_uses u;
    if (!pass_uses_build(f, &u)) {
        diag_error(d, (diag_loc){0}, "out of memory");
        return -1;
    }
    /* rounds inserted by this call, by operand id (shared by its tlus) */
    ir_op **made = calloc((size_t)u.n + 1, sizeof *made);
    if (!made) {
        pass_uses_free(&u);
        diag_error(d, (diag_loc){0}, "out of memory");
        return -1;
    }
    int changed = 0;
    ir_foreach(t, f) {
        if (t->code != IR_TLU || !t->type.enc) continue;
        ir_op *a = t->args[0];
        int p = pass_tlu_pbs_precision(t, NULL);
        if (p <= limit) continue;
        if (a->code == IR_ROUND && only_tlu_users(&u, a)) {
            a->round_shift += p - limit;
            changed = 1;
            continue;
        }
        if (a->id >= 0 && a->id < u.n && made[a->id]) {
            t->args[0] = made[a->id];
            continue;
        }
        /* the rounded value keeps a's encoding: shift so that W - shift = limit,
         * one bit less when the table folds (if the rounded one does not, the
         * next iteration grows the shift) */
        int shift = p - limit;
        ir_op *mark = f->last;
        ir_op *r = ir_build_round(f, d, t->loc, a, 0, shift);
        if (!r) {
            changed = -1;
            break;
        }
        pass_move_before(f, mark, a->next);
        t->args[0] = r;
        if (a->id >= 0 && a->id < u.n) made[a->id] = r;
        changed = 1;
    }
    free(made);
    pass_uses_free(&u);
    return changed;
}

bool pass_round(ir_module *m, diag_ctx *d, const pass_opts *o) {
    int limit = o && o->round_to ? o->round_to : PASS_MAX_PRECISION;
    if (limit < 1 || limit > PASS_MAX_TLU_BITS) {
        diag_error(d, (diag_loc){0}, "the rounding precision must be between 1 and %d, got %d",
                   PASS_MAX_TLU_BITS, limit);
        return false;
    }
    ir_func *f = m->main;
    if (remove_zero_rounds(f) && !pass_bitwidth(m, d, o)) return false;
    for (int iter = 0; iter < ROUND_MAX_ITER; iter++) {
        int c = adjust(f, d, limit);
        if (c < 0) return false;
        if (c == 0) break;
        if (!pass_bitwidth(m, d, o)) return false;
    }
    bool ok = true;
    ir_foreach(t, f) {
        if (t->code != IR_TLU || !t->type.enc) continue;
        int p = pass_tlu_pbs_precision(t, NULL);
        /* In a circuit (an exact integer program) an automatic round changes
         * the answer: say so. Models are approximate by construction. */
        const ir_op *a = t->args[0];
        if (m->kind == IR_UNIT_CIRCUIT && !(o && o->round_to) && a->code == IR_ROUND &&
            a->round_bits == 0 && a->round_shift > 0)
            diag_report(d, DIAG_WARNING, t->loc,
                        "this table lookup reads a %d-bit value: its %d low bits are rounded "
                        "away to fit the widest PBS (%d bits), which changes results; narrow the "
                        "values feeding it or choose with --round-to",
                        p + a->round_shift, a->round_shift, limit);
        if (p > PASS_MAX_TLU_BITS || p > limit) {
            diag_error(d, t->loc,
                       "table lookup input needs %d bits after rounding; the limit is %d (use "
                       "--round-to or narrower inputs)",
                       p, p > PASS_MAX_TLU_BITS ? PASS_MAX_TLU_BITS : limit);
            ok = false;
        } else if (t->tlu->ntables == 0) {
            diag_error(d, t->loc,
                       "the table of this lookup could not be built (a domain of %" PRId64
                       " values with per-element constants is too large)",
                       t->tlu->dom_count);
            ok = false;
        }
    }
    return ok;
}
