/* requires: nothing (IR as the frontend built it);
 * provides: every op's type re-inferred (errors at the op's location), and
 *           every encrypted operand of an elementwise op has the op's shape
 *           (an explicit `broadcast` is inserted otherwise);
 * breaks: nothing.
 *
 * shapes.c — the first pass. Making encrypted broadcasts explicit means an
 * encrypted value and any tlu built from it have the same element count,
 * which fusion and the PBS count rely on (docs/ir.md). One broadcast is
 * shared by every use of the same value at the same shape, so that fusion
 * still sees one root. */
#include "pass_internal.h"

#include <stdlib.h>

typedef struct bcast_entry {
    ir_op *from, *to;
} bcast_entry;

static bool infer_func(ir_func *f, diag_ctx *d) {
    ir_foreach(op, f) {
        if (!ir_infer(op, d)) return false;
        if (op->code == IR_TLU && !infer_func(op->tlu->body, d)) return false;
    }
    return true;
}

bool pass_shapes(ir_module *m, diag_ctx *d) {
    ir_func *f = m->main;
    if (!infer_func(f, d)) return false;
    bcast_entry *cache = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    ir_foreach(op, f) {
        if (!(ir_op_flags(op->code) & IR_F_ELEMWISE)) continue;
        for (int i = 0; i < op->nargs && ok; i++) {
            ir_op *x = op->args[i];
            if (!x->type.enc || ir_type_same_shape(&x->type, &op->type)) continue;
            if (op->code == IR_LOOKUP && i == 0) continue;
            ir_op *b = NULL;
            for (size_t k = 0; k < n && !b; k++)
                if (cache[k].from == x && ir_type_same_shape(&cache[k].to->type, &op->type))
                    b = cache[k].to;
            if (!b) {
                /* right after x, so that it dominates every use of x */
                ir_op *mark = f->last;
                b = ir_build_broadcast(f, d, op->loc, x, op->type.rank, op->type.dims);
                if (!b) {
                    ok = false;
                    break;
                }
                pass_move_before(f, mark, x->next);
                if (n == cap) {
                    cap = cap ? 2 * cap : 16;
                    bcast_entry *c = realloc(cache, cap * sizeof *c);
                    if (!c) {
                        diag_error(d, op->loc, "out of memory");
                        ok = false;
                        break;
                    }
                    cache = c;
                }
                cache[n++] = (bcast_entry){x, b};
            }
            op->args[i] = b;
        }
        if (!ok) break;
    }
    free(cache);
    return ok;
}
