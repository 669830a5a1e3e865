/* cmlc_simulate.c — `cmlc --simulate` and `--calibrate`: CSV samples in,
 * the interpreter's exact results out. The simulation is the reference the
 * encrypted execution must match bit for bit, so it runs the final IR with
 * width checks on: a value leaving its inferred width is reported, never
 * wrapped. */
#include "cmlc.h"
#include "csv.h"
#include "quantize.h"

#include <cml/runtime.h>

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* INPUT / OUTPUT ops of f by index. */
static int collect(const ir_func *f, ir_opcode code, const ir_op **ops, int max) {
    int n = 0;
    for (const ir_op *op = f->first; op; op = op->next)
        if (op->code == code && op->index < max) {
            ops[op->index] = op;
            n++;
        }
    return n;
}

enum { MAX_IO = 256 };

/* Splits CSV row r into one tensor per input; model inputs are quantized. */
static bool row_to_inputs(const csv_table *t, int64_t r, const ir_op **ins, int nin,
                          ir_tensor *out, diag_ctx *d) {
    int64_t col = 0;
    for (int k = 0; k < nin; k++) {
        const ir_op *in = ins[k];
        ir_tensor *x = &out[k];
        if (!ir_tensor_alloc(x, in->type.is_float && !in->quant.present, in->type.rank,
                             in->type.dims)) {
            diag_error(d, (diag_loc){0}, "out of memory");
            return false;
        }
        for (int64_t i = 0; i < x->count; i++, col++) {
            double v = t->values[r * t->cols + col];
            if (in->quant.present) {
                const ir_quant *q = &in->quant;
                int64_t f = q->nfeat ? i % q->nfeat : 0;
                if (q->edges)
                    x->i[i] = quant_bin(v, q->edges + q->edge_at[f],
                                        q->edge_at[f + 1] - q->edge_at[f]);
                else
                    x->i[i] = quant_value(v, q->nfeat ? q->scales[f] : q->scale,
                                          q->nfeat ? q->zero_points[f] : q->zero_point, q->bits);
            } else if (x->is_float) {
                x->f[i] = v;
            } else {
                if (v != floor(v) || !(fabs(v) < 9.2e18)) {
                    diag_error(d, (diag_loc){0},
                               "row %" PRId64 ", column %" PRId64 ": input '%s' needs integers, got %g",
                               r + 1, col + 1, in->name, v);
                    return false;
                }
                x->i[i] = (int64_t)v;
            }
        }
    }
    return true;
}

static bool check_columns(const csv_table *t, const ir_op **ins, int nin, const char *path,
                          diag_ctx *d) {
    int64_t want = 0;
    for (int k = 0; k < nin; k++) want += ir_type_count(&ins[k]->type);
    if (t->cols == want) return true;
    char list[512] = "";
    size_t n = 0;
    for (int k = 0; k < nin && n < sizeof list; k++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s: %" PRId64, k ? ", " : "",
                              ins[k]->name, ir_type_count(&ins[k]->type));
    diag_error(d, (diag_loc){0}, "%s: rows need %" PRId64 " values (%s), got %" PRId64, path, want,
               list, t->cols);
    return false;
}

bool cmlc_load_calibration(const ir_module *m, const char *path, diag_ctx *d, cmlc_calib *out) {
    memset(out, 0, sizeof *out);
    const ir_op *ins[MAX_IO] = {0};
    int nin = collect(m->main, IR_INPUT, ins, MAX_IO);
    csv_table t;
    if (!csv_read(path, d, &t)) return false;
    bool ok = check_columns(&t, ins, nin, path, d);
    if (ok) {
        out->inputs = calloc((size_t)(t.rows * nin + 1), sizeof *out->inputs);
        out->ninputs = nin;
        ok = out->inputs != NULL;
        for (int64_t r = 0; ok && r < t.rows; r++) {
            ok = row_to_inputs(&t, r, ins, nin, &out->inputs[r * nin], d);
            out->rows = r + 1;
        }
    }
    csv_free(&t);
    if (!ok) cmlc_calib_free(out);
    return ok;
}

void cmlc_calib_free(cmlc_calib *c) {
    if (c->inputs)
        for (int64_t i = 0; i < c->rows * c->ninputs; i++) ir_tensor_free(&c->inputs[i]);
    free(c->inputs);
    memset(c, 0, sizeof *c);
}

/* Prints one output the way `cml predict --simulate` does, through the
 * runtime's cml_output_fprint (dequantization real = scale * (q - zero_point),
 * then the post-processing the spec names): one implementation for both.
 * Only a clear float output of a circuit (which no model.so has) is printed
 * here. */
static bool print_output(FILE *out, const ir_op *o, const ir_tensor *v, bool *first, diag_ctx *d) {
    if (!*first) fputc(',', out);
    *first = false;
    if (v->is_float) {
        for (int64_t i = 0; i < v->count; i++) fprintf(out, "%s%.9g", i ? "," : "", v->f[i]);
        return true;
    }
    cml_tensor_spec t = {.name = o->name, .count = v->count, .has_quant = o->quant.present,
                         .scale = o->quant.scale, .zero_point = o->quant.zero_point};
    switch (o->post) {
    case IR_POST_NONE: t.post = CML_POST_NONE; break;
    case IR_POST_ARGMAX: t.post = CML_POST_ARGMAX; break;
    case IR_POST_SOFTMAX: t.post = CML_POST_SOFTMAX; break;
    case IR_POST_SIGMOID: t.post = CML_POST_SIGMOID; break;
    case IR_POST_EXP: t.post = CML_POST_EXP; break;
    case IR_POST_VOTE: t.post = CML_POST_VOTE; break;
    }
    if (cml_output_fprint(out, &t, v->i) == CML_OK) return true;
    diag_error(d, (diag_loc){0}, "%s", cml_last_error());
    return false;
}

bool cmlc_simulate(const ir_module *m, const char *path, FILE *out, diag_ctx *d) {
    const ir_op *ins[MAX_IO] = {0}, *outs[MAX_IO] = {0};
    int nin = collect(m->main, IR_INPUT, ins, MAX_IO);
    int nout = collect(m->main, IR_OUTPUT, outs, MAX_IO);
    csv_table t;
    if (!csv_read(path, d, &t)) return false;
    bool ok = check_columns(&t, ins, nin, path, d);
    ir_tensor *xs = calloc((size_t)nin + 1, sizeof *xs), *ys = calloc((size_t)nout + 1, sizeof *ys);
    if (!xs || !ys) ok = false;
    for (int64_t r = 0; ok && r < t.rows; r++) {
        ok = row_to_inputs(&t, r, ins, nin, xs, d) &&
             ir_interp(m->main, xs, ys, d, IR_INTERP_CHECK_WIDTHS, NULL, NULL);
        if (!ok) diag_note(d, (diag_loc){0}, "while simulating sample %" PRId64 " of %s", r + 1, path);
        for (int k = 0; k < nin; k++) ir_tensor_free(&xs[k]);
        if (!ok) break;
        bool first = true;
        for (int k = 0; k < nout; k++) {
            ok = ok && print_output(out, outs[k], &ys[k], &first, d);
            ir_tensor_free(&ys[k]);
        }
        if (!ok) break;
        fputc('\n', out);
    }
    free(xs);
    free(ys);
    csv_free(&t);
    return ok;
}
