/* print.c — the IR's text form (`cmlc --emit-ir`), one op a line:
 *   %4 = tlu %3, @t0 {tables = 1, domain = [0, 63]} : enc<u6>[4] -> enc<u3>[4]  // f.cml:7:9
 * then each tlu body as `tlu @tN(...) { ... }`. The format is documented in
 * docs/ir.md and checked by FileCheck tests, so change it only with them. */
#include "ir.h"

#include <inttypes.h>
#include <string.h>

static void print_ints(FILE *out, const int64_t *v, int n) {
    fputc('[', out);
    for (int i = 0; i < n; i++) fprintf(out, "%s%" PRId64, i ? ", " : "", v[i]);
    fputc(']', out);
}

static void print_pair(FILE *out, const int v[2]) { fprintf(out, "[%d, %d]", v[0], v[1]); }

enum { CONST_SHOWN = 16, TABLE_SHOWN = 64 };

static void print_const(FILE *out, const ir_op *op) {
    int64_t n = ir_type_count(&op->type);
    fputc('[', out);
    for (int64_t i = 0; i < n && i < CONST_SHOWN; i++) {
        if (i) fputs(", ", out);
        if (op->fdata) fprintf(out, "%.9g", op->fdata[i]);
        else fprintf(out, "%" PRId64, op->idata[i]);
    }
    if (n > CONST_SHOWN) fprintf(out, ", ... (%" PRId64 " values)", n);
    fputc(']', out);
}

static void print_attrs(FILE *out, ir_module *m, const ir_op *op) {
    char buf[64];
    (void)buf;
    switch (op->code) {
    case IR_SUM:
        if (op->axis >= 0) fprintf(out, " {axis = %d}", op->axis);
        break;
    case IR_CONCAT:
        fprintf(out, " {axis = %d}", op->axis);
        break;
    case IR_TRANSPOSE:
        fputs(" {perm = ", out);
        print_ints(out, op->perm, op->args[0]->type.rank);
        fputc('}', out);
        break;
    case IR_SLICE:
        fputs(" {begin = ", out);
        print_ints(out, op->begin, op->type.rank);
        fputs(", step = ", out);
        print_ints(out, op->step, op->type.rank);
        fputc('}', out);
        break;
    case IR_CONV2D:
        fputs(" {stride = ", out);
        print_pair(out, op->stride);
        fputs(", pad = ", out);
        print_pair(out, op->pad);
        fputc('}', out);
        break;
    case IR_SUMPOOL2D:
    case IR_MAXPOOL2D:
        fputs(" {kernel = ", out);
        print_pair(out, op->kernel);
        fputs(", stride = ", out);
        print_pair(out, op->stride);
        fputs(", pad = ", out);
        print_pair(out, op->pad);
        fputc('}', out);
        break;
    case IR_ROUND:
        fputs(" {", out);
        if (op->round_bits) fprintf(out, "bits = %d", op->round_bits);
        if (op->round_shift >= 0)
            fprintf(out, "%sshift = %d", op->round_bits ? ", " : "", op->round_shift);
        if (op->round_chunk > 0 && op->round_chunk < op->round_shift)
            fprintf(out, ", chunk = %d", op->round_chunk);
        fputc('}', out);
        break;
    case IR_TLU: {
        const ir_tlu *t = op->tlu;
        if (!t->ntables) break;
        fprintf(out, " {tables = %d, domain = [%" PRId64 ", %" PRId64 "]", t->ntables, t->dom_lo,
                t->dom_lo + ((t->dom_count - 1) << t->dom_shift));
        if (t->dom_shift) fprintf(out, ", step = %" PRId64, (int64_t)1 << t->dom_shift);
        if (t->ntables == 1 && t->dom_count <= TABLE_SHOWN) {
            fputs(", table = ", out);
            print_ints(out, t->tables, (int)t->dom_count);
        }
        fputc('}', out);
        break;
    }
    case IR_INPUT:
    case IR_OUTPUT:
        if (op->quant.present || op->post != IR_POST_NONE) {
            fputs(" {", out);
            const char *sep = "";
            if (op->quant.present && op->quant.edges) {
                fputs("edges = [", out);
                for (int64_t f = 0; f < op->quant.nfeat; f++) {
                    fputs(f ? ", [" : "[", out);
                    for (int64_t k = op->quant.edge_at[f]; k < op->quant.edge_at[f + 1]; k++)
                        fprintf(out, "%s%.9g", k > op->quant.edge_at[f] ? ", " : "",
                                op->quant.edges[k]);
                    fputc(']', out);
                }
                fprintf(out, "], bits = %d", op->quant.bits);
                sep = ", ";
            } else if (op->quant.present && op->quant.nfeat) {
                fputs("scales = [", out);
                for (int64_t i = 0; i < op->quant.nfeat; i++)
                    fprintf(out, "%s%.9g", i ? ", " : "", op->quant.scales[i]);
                fputs("], zero_points = [", out);
                for (int64_t i = 0; i < op->quant.nfeat; i++)
                    fprintf(out, "%s%" PRId64, i ? ", " : "", op->quant.zero_points[i]);
                fputc(']', out);
                if (op->quant.bits) fprintf(out, ", bits = %d", op->quant.bits);
                sep = ", ";
            } else if (op->quant.present) {
                fprintf(out, "scale = %.9g, zero_point = %" PRId64, op->quant.scale,
                        op->quant.zero_point);
                if (op->quant.bits) fprintf(out, ", bits = %d", op->quant.bits);
                sep = ", ";
            }
            static const char *post[] = {"none", "argmax", "softmax", "sigmoid", "exp", "vote"};
            if (op->post != IR_POST_NONE) fprintf(out, "%spost = %s", sep, post[op->post]);
            fputc('}', out);
        }
        break;
    default:
        break;
    }
    (void)m;
}

/* tlu: the op's @tN number (the tlus of main in order). */
static void print_op(FILE *out, ir_module *m, const ir_op *op, unsigned flags, int tlu) {
    char tb[160];
    fputs("  ", out);
    if (op->code == IR_OUTPUT) {
        fputs("output", out);
        if (op->name) fprintf(out, " \"%s\"", op->name);
        fprintf(out, " %%%d", op->args[0]->id);
        print_attrs(out, m, op);
        fprintf(out, " : %s", ir_type_str(&op->args[0]->type, tb, sizeof tb));
    } else {
        fprintf(out, "%%%d = %s", op->id, ir_op_name(op->code));
        if (op->code == IR_INPUT) fprintf(out, " \"%s\"", op->name ? op->name : "");
        if (op->code == IR_CONST) {
            fputc(' ', out);
            print_const(out, op);
        }
        for (int i = 0; i < op->nargs; i++) fprintf(out, "%s%%%d", i ? ", " : " ", op->args[i]->id);
        if (op->code == IR_TLU) fprintf(out, ", @t%d", tlu);
        print_attrs(out, m, op);
        fputs(" : ", out);
        for (int i = 0; i < op->nargs; i++)
            fprintf(out, "%s%s", i ? ", " : "", ir_type_str(&op->args[i]->type, tb, sizeof tb));
        fprintf(out, "%s%s", op->nargs ? " -> " : "", ir_type_str(&op->type, tb, sizeof tb));
    }
    bool loc = !(flags & IR_PRINT_NOLOC) && op->loc.src;
    bool range = (flags & IR_PRINT_RANGES) && op->has_range && op->code != IR_OUTPUT;
    bool norm = (flags & IR_PRINT_NORM2) && op->type.enc && op->code != IR_OUTPUT;
    if (loc || range || norm) fputs("  //", out);
    if (loc) fprintf(out, " %s:%d:%d", op->loc.src->path, op->loc.line, op->loc.col);
    if (range) fprintf(out, " range [%" PRId64 ", %" PRId64 "]", op->lo, op->hi);
    if (norm) fprintf(out, " norm2 %.9g", op->norm2);
    fputc('\n', out);
}

static void print_func(FILE *out, ir_module *m, ir_func *f, unsigned flags) {
    ir_renumber(f);
    int tlu = 0;
    ir_foreach(op, f) print_op(out, m, op, flags, op->code == IR_TLU ? tlu++ : -1);
}

void ir_print(FILE *out, ir_module *m, unsigned flags) {
    fprintf(out, "%s @%s {\n", m->kind == IR_UNIT_MODEL ? "model" : "circuit",
            m->main->name ? m->main->name : "");
    print_func(out, m, m->main, flags);
    fputs("}\n", out);
    int n = 0;
    ir_foreach(op, m->main) {
        if (op->code != IR_TLU) continue;
        fprintf(out, "\ntlu @t%d {\n", n++);
        /* body values are per-element scalars: no ranges or norms to show */
        print_func(out, m, op->tlu->body, IR_PRINT_NOLOC);
        fputs("}\n", out);
    }
}
