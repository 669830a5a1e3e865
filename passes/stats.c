/* stats.c — the figures `cmlc --stats` prints, read from the final IR: how
 * many PBS a run costs, how wide they are and how much noise enters them,
 * per tlu and overall; as a table for people and as JSON for scripts and
 * benchmarks, with the chosen TFHE parameters once selected (printed by
 * params.c). Not a pass: it changes nothing. pass_pbs_of() is the one place
 * that says which ops are PBS; parameter selection reads them through it. */
#include "pass_internal.h"

#include <cml/circuit_ops.h>

#include <inttypes.h>
#include <math.h>
#include <string.h>

bool pass_pbs_of(const ir_op *op, pass_pbs *out) {
    if (!op->type.enc || (op->code != IR_TLU && op->code != IR_ROUND)) return false;
    out->op = op;
    out->folded = false;
    out->count = ir_type_count(&op->type);
    out->norm2 = op->args[0]->norm2;
    out->norm2_pbs = op->args[0]->norm2_pbs;
    out->norm2_light = op->args[0]->norm2_light;
    out->norm2_in = op->args[0]->norm2_in;
    if (op->code == IR_TLU) {
        /* as cml_circuit_tlu will run it: a folding table reads one bit
         * less of its input doubled (cml/circuit_ops.h) */
        out->precision = pass_tlu_pbs_precision(op, &out->folded);
        if (out->folded) {
            out->norm2 *= 4;
            out->norm2_pbs *= 4;
            out->norm2_light *= 4;
            out->norm2_in *= 4;
        }
        return true;
    }
    if (op->code != IR_ROUND || op->round_shift <= 0) return false;
    /* cml_circuit_round: per chunk of c bits [lo, lo + c), two PBS of c
     * bits per element, each reading y (x, less the chunks below: one PBS
     * output each) lifted by 2^(bits - lo - c) (the second plus the first's
     * output, lifted by its table), so the noise they see is that of y
     * times 4^(bits - lo - c), plus one PBS output's. The op counts as its
     * widest chunk with the largest norms of any chunk (the bottom one's,
     * lifted most, for the inputs' part). */
    uint32_t widths[64];
    const uint32_t nch = cml_circuit_round_chunks((uint32_t)op->round_shift,
                                                  (uint32_t)op->round_chunk, widths);
    const ir_op *x = op->args[0];
    out->precision = (int)widths[0];
    out->count *= 2 * (int64_t)nch;
    out->norm2_pbs = out->norm2_light = out->norm2_in = 0;
    for (uint32_t i = 0, lo = 0; i < nch; lo += widths[i++]) {
        double lift2 = ldexp(1.0, 2 * (x->type.bits - (int)(lo + widths[i])));
        out->norm2_pbs = fmax(out->norm2_pbs, x->norm2_pbs * lift2);
        /* the chunks below and this chunk's first PBS: the round's own */
        out->norm2_light = fmax(out->norm2_light, (x->norm2_light + i) * lift2 + 1);
        out->norm2_in = fmax(out->norm2_in, x->norm2_in * lift2);
    }
    out->norm2 = out->norm2_pbs + out->norm2_light + out->norm2_in;
    return true;
}

bool pass_stats_collect(ir_module *m, pass_stats *s) {
    memset(s, 0, sizeof *s);
    s->params = m->params;
    ir_foreach(op, m->main) s->ntlu += op->code == IR_TLU && op->type.enc;
    if (s->ntlu) {
        s->tlus = arena_array(m->arena, (size_t)s->ntlu, sizeof *s->tlus);
        if (!s->tlus) return false;
    }
    int k = 0;
    ir_foreach(op, m->main) {
        if (op->code == IR_OUTPUT && op->args[0]->type.enc)
            s->max_output_norm2 = fmax(s->max_output_norm2, op->args[0]->norm2);
        pass_pbs b;
        if (!pass_pbs_of(op, &b)) continue;
        s->pbs_count += b.count;
        s->max_norm2 = fmax(s->max_norm2, b.norm2);
        if (op->code == IR_TLU) {
            pass_tlu_stat *t = &s->tlus[k++];
            t->loc = op->loc;
            t->precision = b.precision;
            t->folded = b.folded;
            t->elements = b.count;
            t->norm2 = b.norm2;
            if (t->precision > s->max_precision) s->max_precision = t->precision;
        } else {
            s->rounds++;
            s->rounds_inserted += op->round_bits == 0;
        }
    }
    return true;
}

static void loc_str(char *buf, size_t size, diag_loc loc) {
    if (loc.src && loc.src->path)
        snprintf(buf, size, "%s:%d:%d", loc.src->path, loc.line, loc.col);
    else
        snprintf(buf, size, "?");
}

static void json_string(FILE *out, const char *s) {
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\t': fputs("\\t", out); break;
        case '\r': fputs("\\r", out); break;
        default:
            if (*p < 0x20) fprintf(out, "\\u%04x", *p);
            else fputc(*p, out);
        }
    }
    fputc('"', out);
}

static void json_number(FILE *out, double v) {
    if (isfinite(v)) fprintf(out, "%.17g", v);
    else fputs("null", out);
}

void pass_stats_print(FILE *out, const pass_stats *s, bool json) {
    char loc[512];
    if (json) {
        fprintf(out, "{\"tlu_count\": %d, \"pbs_count\": %" PRId64 ", \"max_precision\": %d, ",
                s->ntlu, s->pbs_count, s->max_precision);
        fputs("\"max_norm2\": ", out);
        json_number(out, s->max_norm2);
        fputs(", \"max_output_norm2\": ", out);
        json_number(out, s->max_output_norm2);
        fprintf(out, ", \"rounds\": %d, \"rounds_inserted\": %d, ", s->rounds, s->rounds_inserted);
        if (s->params) {
            fputs("\"parameters\": ", out);
            pass_params_print(out, s->params, PASS_PARAMS_JSON);
            fputs(", ", out);
        }
        fputs("\"tlus\": [", out);
        for (int i = 0; i < s->ntlu; i++) {
            const pass_tlu_stat *t = &s->tlus[i];
            loc_str(loc, sizeof loc, t->loc);
            fputs(i ? ", {\"location\": " : "{\"location\": ", out);
            json_string(out, loc);
            fprintf(out,
                    ", \"precision\": %d, \"folded\": %s, \"elements\": %" PRId64
                    ", \"norm2\": ",
                    t->precision, t->folded ? "true" : "false", t->elements);
            json_number(out, t->norm2);
            fputc('}', out);
        }
        fputs("]}\n", out);
        return;
    }
    fprintf(out, "table lookups:      %d\n", s->ntlu);
    fprintf(out, "PBS count:          %" PRId64 "\n", s->pbs_count);
    fprintf(out, "max PBS precision:  %d bits\n", s->max_precision);
    fprintf(out, "max norm2 (PBS):    %.6g\n", s->max_norm2);
    fprintf(out, "max norm2 (output): %.6g\n", s->max_output_norm2);
    fprintf(out, "rounds:             %d (%d inserted)\n", s->rounds, s->rounds_inserted);
    if (s->params) pass_params_print(out, s->params, PASS_PARAMS_TEXT);
    if (!s->ntlu) return;
    fprintf(out, "\n  %-4s %-32s %9s %9s %12s  %s\n", "#", "location", "precision", "PBS",
            "input norm2", "folded");
    for (int i = 0; i < s->ntlu; i++) {
        const pass_tlu_stat *t = &s->tlus[i];
        loc_str(loc, sizeof loc, t->loc);
        fprintf(out, "  %-4d %-32s %9d %9" PRId64 " %12.6g  %s\n", i, loc, t->precision,
                t->elements, t->norm2, t->folded ? "yes" : "no");
    }
}
