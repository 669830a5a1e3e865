/* lowering.c — the classification of lowering.h, and `cmlc
 * --emit-ir=lowered`: the final IR printed as the TFHE-level program that
 * cml_circuit_run executes (docs/backend.md, "The lowered program"). One
 * line per op, the runtime operation it becomes and how many ciphertext
 * operations or bootstraps that is per evaluation, then the totals. */
#include "lowering.h"

#include "backend.h"
#include "passes.h"

#include <cml/circuit_ops.h>
#include <inttypes.h>

bool lower_is_clear_leaf(const ir_op *op) {
    return !op->type.enc && (op->code == IR_CONST || op->code == IR_INPUT) && !op->type.is_float;
}

lower_kind lower_kind_of(const ir_op *op) {
    if (op->code == IR_OUTPUT) return LOWER_OUTPUT;
    if (op->type.is_float) return LOWER_NONE;
    if (!op->type.enc) {
        if (!lower_is_clear_leaf(op)) return LOWER_NONE;
        return op->code == IR_INPUT ? LOWER_INPUT : LOWER_CONST;
    }
    const ir_op *a = op->nargs > 0 ? op->args[0] : NULL, *b = op->nargs > 1 ? op->args[1] : NULL;
    switch (op->code) {
    case IR_INPUT: return LOWER_INPUT;
    case IR_RESHAPE: return LOWER_ALIAS;
    case IR_NEG: return LOWER_NEG;
    case IR_ADD:
        return a->type.enc && b->type.enc ? LOWER_ADD : LOWER_ADD_PLAIN;
    case IR_SUB:
        if (a->type.enc && b->type.enc) return LOWER_SUB;
        return a->type.enc ? LOWER_ADD_PLAIN : LOWER_PLAIN_SUB;
    case IR_MUL: return a->type.enc && b->type.enc ? LOWER_NONE : LOWER_MUL_CLEAR;
    case IR_DOT:
    case IR_MATMUL: return a->type.enc && b->code == IR_CONST ? LOWER_DOT_CLEAR : LOWER_MAC;
    case IR_SUM: return LOWER_SUM;
    case IR_CONV2D: return LOWER_CONV;
    case IR_SUMPOOL2D: return LOWER_SUMPOOL;
    case IR_BROADCAST:
    case IR_TRANSPOSE:
    case IR_SLICE:
    case IR_CONCAT: return LOWER_COPY;
    case IR_TLU: return LOWER_PBS;
    case IR_ROUND: return LOWER_ROUND;
    default: return LOWER_NONE;
    }
}

const ir_op *lower_unsupported_op(const ir_func *f) {
    ir_foreach(op, f)
        if (lower_kind_of(op) == LOWER_NONE) return op;
    return NULL;
}

/* ---- printing ------------------------------------------------------------ */

/* Ciphertext operations of one kind, summed over the program. */
typedef struct totals {
    int64_t add, add_plain, neg, mul_clear, dot, dot_terms, copies, pbs, pbs_batches;
} totals;

/* The product of the window sizes: multiply-adds per output of conv2d. */
static int64_t window_terms(const ir_op *op) {
    int64_t t = (int64_t)op->kernel[0] * op->kernel[1];
    if (op->code == IR_CONV2D) t *= op->args[0]->type.dims[0];
    return t;
}

static void print_op(FILE *out, const ir_op *op, int *tlu_no, totals *t) {
    char tb[96], ab[96], cm[160] = "";
    int64_t n = ir_type_count(&op->type);
    lower_kind k = lower_kind_of(op);
    const ir_op *a = op->nargs > 0 ? op->args[0] : NULL, *b = op->nargs > 1 ? op->args[1] : NULL;
    if (k == LOWER_OUTPUT) {
        fprintf(out, "  out[%d] = copy %%%d : %s  // output \"%s\"\n", op->index, a->id,
                ir_type_str(&a->type, tb, sizeof tb), op->name ? op->name : "");
        t->copies += ir_type_count(&a->type);
        return;
    }
    fprintf(out, "  %%%d = ", op->id);
    /* the enc operand first, whatever side it is on in the IR */
    const ir_op *e = a && a->type.enc ? a : b, *c = e == a ? b : a;
    switch (k) {
    case LOWER_INPUT:
        fprintf(out, "%s in[%d]", op->type.enc ? "lwe.input" : "clear.input", op->index);
        break;
    case LOWER_CONST: fprintf(out, "global i64 x %" PRId64, n); break;
    case LOWER_ALIAS: fprintf(out, "alias %%%d", a->id); break;
    case LOWER_ADD:
    case LOWER_SUB:
        fprintf(out, "lwe.%s %%%d, %%%d", k == LOWER_ADD ? "add" : "sub", a->id, b->id);
        t->add += n;
        break;
    case LOWER_NEG:
        fprintf(out, "lwe.neg %%%d", a->id);
        t->neg += n;
        break;
    case LOWER_ADD_PLAIN:
        fprintf(out, "lwe.add_plain %%%d, %s%%%d", e->id, op->code == IR_SUB ? "-" : "", c->id);
        t->add_plain += n;
        break;
    case LOWER_PLAIN_SUB:
        fprintf(out, "lwe.add_plain (lwe.neg %%%d), %%%d", b->id, a->id);
        t->neg += n;
        t->add_plain += n;
        break;
    case LOWER_MUL_CLEAR:
        fprintf(out, "lwe.mul_clear %%%d, %%%d", e->id, c->id);
        t->mul_clear += n;
        break;
    case LOWER_DOT_CLEAR: {
        int64_t len = a->type.dims[a->type.rank - 1];
        fprintf(out, "lwe.dot_clear %%%d, transpose(%%%d)", a->id, b->id);
        snprintf(cm, sizeof cm, "%" PRId64 " dot products of %" PRId64, n, len);
        t->dot += n;
        t->dot_terms += n * len;
        break;
    }
    case LOWER_MAC: {
        int64_t len = a->type.dims[a->type.rank - 1];
        fprintf(out, "lwe.mul_clear_acc %%%d, %%%d", e->id, c->id);
        snprintf(cm, sizeof cm, "%" PRId64 " sums of %" PRId64 " products", n, len);
        t->mul_clear += n * len;
        break;
    }
    case LOWER_SUM: {
        int64_t len = ir_type_count(&a->type) / (n > 0 ? n : 1);
        fprintf(out, "lwe.add (sum) %%%d", a->id);
        snprintf(cm, sizeof cm, "%" PRId64 " sums of %" PRId64, n, len);
        t->add += n * len;
        break;
    }
    case LOWER_CONV:
        fprintf(out, "lwe.mul_clear_acc (conv2d) %%%d, %%%d", a->id, b->id);
        snprintf(cm, sizeof cm, "%" PRId64 " windows of at most %" PRId64 " products", n,
                 window_terms(op));
        t->mul_clear += n * window_terms(op);
        break;
    case LOWER_SUMPOOL:
        fprintf(out, "lwe.add (sumpool2d) %%%d", a->id);
        snprintf(cm, sizeof cm, "%" PRId64 " windows of at most %" PRId64, n, window_terms(op));
        t->add += n * window_terms(op);
        break;
    case LOWER_COPY:
        fprintf(out, "copy (%s)", ir_op_name(op->code));
        for (int i = 0; i < op->nargs; i++) fprintf(out, "%s %%%d", i ? "," : "", op->args[i]->id);
        t->copies += n;
        break;
    case LOWER_PBS: {
        const ir_tlu *tl = op->tlu;
        fprintf(out, "pbs.batch %%%d, @t%d", a->id, (*tlu_no)++);
        int w = snprintf(cm, sizeof cm, "%" PRId64 " KS+PBS of %s, %d table%s of %" PRId64, n,
                         ir_type_str(&a->type, ab, sizeof ab), tl->ntables,
                         tl->ntables == 1 ? "" : "s", tl->dom_count);
        if (tl->dom_shift > 0 && w > 0 && (size_t)w < sizeof cm)
            w += snprintf(cm + w, sizeof cm - (size_t)w, " (input >> %d)", tl->dom_shift);
        bool folded = false;
        int p = pass_tlu_pbs_precision(op, &folded);
        if (folded && w > 0 && (size_t)w < sizeof cm)
            snprintf(cm + w, sizeof cm - (size_t)w, ", folded to %d bits", p);
        t->pbs += n;
        t->pbs_batches++;
        break;
    }
    case LOWER_ROUND:
        if (op->round_shift > 0) {
            uint32_t nch = cml_circuit_round_chunks((uint32_t)op->round_shift,
                                                    (uint32_t)op->round_chunk, NULL);
            fprintf(out, "round.exact %%%d, shift %d", a->id, op->round_shift);
            if (nch > 1) fprintf(out, " in %u chunks", nch);
            snprintf(cm, sizeof cm, "%" PRId64 " KS+PBS (%u per element)", 2 * nch * n, 2 * nch);
            t->pbs += 2 * nch * n;
            t->pbs_batches += 2 * nch;
        } else {
            fprintf(out, "copy (round, shift 0) %%%d", a->id);
            t->copies += n;
        }
        break;
    case LOWER_OUTPUT:
    case LOWER_NONE: break;
    }
    fprintf(out, " : %s%s%s\n", ir_type_str(&op->type, tb, sizeof tb), *cm ? "  // " : "", cm);
}

bool backend_print_lowered(FILE *out, ir_module *m, diag_ctx *d) {
    const ir_op *bad = lower_unsupported_op(m->main);
    if (bad) {
        diag_error(d, bad->loc,
                   "this '%s' computes on clear values: the circuit has no encrypted "
                   "lowering, only its clear twin (--emit-ir shows it)",
                   ir_op_name(bad->code));
        return false;
    }
    ir_renumber(m->main);
    const cml_params *p = &m->params->params;
    fprintf(out, "lowered @%s {  // LWE ciphertexts of k*N + 1 = %" PRIu64 " words", m->main->name,
            (uint64_t)p->glwe_dimension * p->polynomial_size + 1);
    if (p->lwe_dimension)
        fprintf(out, "; KS to n = %u, PBS with k = %u, N = %u\n", p->lwe_dimension,
                p->glwe_dimension, p->polynomial_size);
    else
        fputs("; no bootstrap\n", out);
    totals t = {0};
    int tlu_no = 0;
    ir_foreach(op, m->main) print_op(out, op, &tlu_no, &t);
    fprintf(out,
            "}\n// per evaluation: %" PRId64 " KS+PBS in %" PRId64 " batches; %" PRId64
            " dot products (%" PRId64 " terms); %" PRId64 " multiplications by a clear integer; %" PRId64
            " additions, %" PRId64 " plaintext additions, %" PRId64 " negations; %" PRId64
            " ciphertext copies\n",
            t.pbs, t.pbs_batches, t.dot, t.dot_terms, t.mul_clear, t.add, t.add_plain, t.neg,
            t.copies);
    return true;
}
