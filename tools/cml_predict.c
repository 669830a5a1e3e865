/* cml_predict.c — `cml predict MODEL.so INPUT.csv --simulate`: CSV samples
 * in, one output row per sample out, through the compiled model's clear
 * twin. Its output is `cmlc MODEL.cml --simulate --input INPUT.csv`'s, byte
 * for byte: the same quantization (cml_quantize_input), the same integer
 * program (the twin is checked against the interpreter by the backend's
 * tests) and the same printing (cml_output_fprint, which cmlc calls too).
 * Encrypted prediction waits for cml_circuit_run; until then the command
 * says so rather than pretending. */
#include "cml_tool.h"
#include "csv.h"

#include <cml/runtime.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fputs("usage: cml predict MODEL.so INPUT.csv --simulate\n"
          "\n"
          "Runs a compiled model on every sample of INPUT.csv and prints one row per\n"
          "sample: outputs in return order, dequantized and post-processed as the spec\n"
          "says (the same text as `cmlc MODEL.cml --simulate --input INPUT.csv`).\n"
          "INPUT.csv holds one sample per row, all inputs flattened row-major in\n"
          "declaration order ('-' reads stdin); model inputs are quantized with the\n"
          "model's own scales.\n"
          "\n"
          "  --simulate  run the model's clear twin (exact, no cryptography)\n"
          "  -h, --help  this text\n"
          "\n"
          "Without --simulate the samples would be encrypted, run and decrypted: that\n"
          "needs cml_circuit_run, which compiled models do not export yet.\n",
          f);
}

/* Values per row the model needs; false (after a message) if `t` differs. */
static bool check_columns(const cml_circuit *c, const csv_table *t, const char *path) {
    int64_t want = 0;
    size_t nin = cml_circuit_num_inputs(c);
    for (size_t k = 0; k < nin; k++) want += cml_circuit_input(c, k)->count;
    if (t->cols == want) return true;
    fprintf(stderr, "cml predict: %s: rows need %" PRId64 " values (", path, want);
    for (size_t k = 0; k < nin; k++)
        fprintf(stderr, "%s%s: %" PRId64, k ? ", " : "", cml_circuit_input(c, k)->name,
                cml_circuit_input(c, k)->count);
    fprintf(stderr, "), got %" PRId64 "\n", t->cols);
    return false;
}

/* One buffer per tensor, each `count` values. */
static int64_t **alloc_tensors(size_t n, const cml_tensor_spec *(*get)(const cml_circuit *, size_t),
                               const cml_circuit *c) {
    int64_t **v = calloc(n ? n : 1, sizeof *v);
    for (size_t k = 0; v && k < n; k++) {
        v[k] = calloc((size_t)get(c, k)->count, sizeof **v);
        if (!v[k]) {
            for (size_t j = 0; j < k; j++) free(v[j]);
            free(v);
            v = NULL;
        }
    }
    return v;
}

static void free_tensors(int64_t **v, size_t n) {
    for (size_t k = 0; v && k < n; k++) free(v[k]);
    free(v);
}

static int predict(const cml_circuit *c, const csv_table *t, const char *csv_path) {
    size_t nin = cml_circuit_num_inputs(c), nout = cml_circuit_num_outputs(c);
    int64_t **in = alloc_tensors(nin, cml_circuit_input, c);
    int64_t **out = alloc_tensors(nout, cml_circuit_output, c);
    int rc = 0;
    if (!in || !out) {
        fprintf(stderr, "cml predict: out of memory\n");
        rc = 1;
    }
    for (int64_t r = 0; !rc && r < t->rows; r++) {
        const double *row = t->values + r * t->cols;
        for (size_t k = 0; !rc && k < nin; k++) {
            if (cml_quantize_input(c, k, row, in[k]) != CML_OK) {
                fprintf(stderr, "cml predict: %s: row %" PRId64 ": %s\n", csv_path, r + 1,
                        cml_last_error());
                rc = 1;
            }
            row += cml_circuit_input(c, k)->count;
        }
        if (!rc && cml_circuit_simulate(c, (const int64_t *const *)in, out) != CML_OK) {
            fprintf(stderr, "cml predict: %s (sample %" PRId64 " of %s)\n", cml_last_error(), r + 1,
                    csv_path);
            rc = 1;
        }
        for (size_t k = 0; !rc && k < nout; k++) {
            if (k) fputc(',', stdout);
            if (cml_output_fprint(stdout, cml_circuit_output(c, k), out[k]) != CML_OK) {
                fprintf(stderr, "cml predict: %s\n", cml_last_error());
                rc = 1;
            }
        }
        if (!rc) fputc('\n', stdout);
    }
    free_tensors(in, nin);
    free_tensors(out, nout);
    return rc;
}

int cml_cmd_predict(int argc, char **argv) {
    const char *pos[2] = {NULL, NULL};
    int npos = 0;
    bool simulate = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--simulate")) {
            simulate = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "cml predict: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (npos == 2) {
            fprintf(stderr, "cml predict: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            pos[npos++] = argv[i];
        }
    }
    if (npos != 2) {
        usage(stderr);
        return 2;
    }
    cml_circuit *c;
    if (cml_circuit_load(pos[0], &c) != CML_OK) {
        fprintf(stderr, "cml predict: %s\n", cml_last_error());
        return 1;
    }
    if (!simulate) {
        fprintf(stderr,
                "cml predict: %s: encrypted prediction needs cml_circuit_run, which this model "
                "does not export yet (compile with a newer cmlc); --simulate runs its clear twin\n",
                pos[0]);
        cml_circuit_free(c);
        return 1;
    }
    diag_ctx d;
    diag_init(&d, stderr);
    csv_table t;
    int rc = 1;
    if (csv_read(pos[1], &d, &t)) {
        rc = check_columns(c, &t, pos[1]) ? predict(c, &t, pos[1]) : 1;
        csv_free(&t);
    }
    cml_circuit_free(c);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "cml predict: cannot write the output\n");
        rc = 1;
    }
    return rc;
}
