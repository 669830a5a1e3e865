/* cml_predict.c — `cml predict MODEL.so INPUT.csv [--simulate | --clear]`:
 * CSV samples in, one output row per sample out.
 *
 * Without options it is the whole encrypted round trip in one process —
 * keygen in memory, encrypt, cml_circuit_run, decrypt — and prints what
 * the client would decrypt. --simulate runs only the clear twin, and its
 * output is `cmlc MODEL.cml --simulate --input INPUT.csv`'s byte for byte
 * (same quantization, same integer program, same printing through
 * cml_output_fprint). --clear runs both and prints them side by side, the
 * check that the ciphertexts computed exactly the clear result (exit 1 if
 * any row differs). The CSV reading and the printing are cml_io.c's, shared
 * with `cml encrypt` and `cml decrypt`, so the three paths cannot drift. */
#include "cml_io.h"
#include "cml_tool.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fputs("usage: cml predict MODEL.so INPUT.csv [--simulate | --clear] [-v]\n"
          "\n"
          "Runs a compiled model on every sample of INPUT.csv and prints one row per\n"
          "sample: outputs in return order, dequantized and post-processed as the spec\n"
          "says. INPUT.csv holds one sample per row, all inputs flattened row-major in\n"
          "declaration order ('-' reads stdin); model inputs are quantized with the\n"
          "model's own scales.\n"
          "\n"
          "By default the samples are encrypted under fresh keys, the model runs on the\n"
          "ciphertexts and the results are decrypted (keygen, encrypt, run, decrypt in\n"
          "one process; a progress line on a terminal).\n"
          "\n"
          "  --simulate  run the model's clear twin instead (exact, no cryptography; the\n"
          "              same text as `cmlc MODEL.cml --simulate --input INPUT.csv`)\n"
          "  --clear     run both; print `fhe: ROW | clear: ROW` per sample and\n"
          "              `N/M rows equal` on stderr; exit 1 if any row differs\n"
          "  -v          print keygen, encryption, run and decryption times to stderr\n"
          "  -h, --help  this text\n",
          f);
}

/* The clear twin on every row into q (rows already allocated). */
static bool simulate_rows(const cml_circuit *c, const cml_rows *in, cml_rows *q,
                          const char *csv_path) {
    size_t nin = in->n, nout = q->n;
    const int64_t **ip = malloc((nin ? nin : 1) * sizeof *ip);
    int64_t **op = malloc((nout ? nout : 1) * sizeof *op);
    bool ok = ip && op;
    if (!ok) fprintf(stderr, "cml predict: out of memory\n");
    for (size_t r = 0; ok && r < in->rows; r++) {
        for (size_t k = 0; k < nin; k++) ip[k] = cml_io_row(in, cml_circuit_input(c, k), k, r);
        for (size_t k = 0; k < nout; k++)
            op[k] = (int64_t *)cml_io_row(q, cml_circuit_output(c, k), k, r);
        if (cml_circuit_simulate(c, ip, op) != CML_OK) {
            fprintf(stderr, "cml predict: %s (sample %zu of %s)\n", cml_last_error(), r + 1,
                    csv_path);
            ok = false;
        }
    }
    free(ip);
    free(op);
    return ok;
}

/* keygen, encrypt, run, decrypt: the FHE outputs of every row into q. */
static bool fhe_rows(const cml_circuit *c, const cml_rows *in, cml_rows *q, bool verbose) {
    cml_context *ctx = NULL;
    cml_client_key *ck = NULL;
    cml_server_key *sk = NULL;
    cml_ct *ct = NULL, *res = NULL;
    bool ok = false;
    double t0 = cml_io_now(), t1 = 0, t2 = 0, t3 = 0;
    if (cml_context_create(0, &ctx) != CML_OK || cml_circuit_keygen(c, ctx, &ck, &sk) != CML_OK)
        goto fail;
    t1 = cml_io_now();
    if (cml_circuit_encrypt(c, ck, in->rows, (const int64_t *const *)in->v, &ct) != CML_OK)
        goto fail;
    t2 = cml_io_now();
    cml_progress prog;
    cml_io_progress_start(&prog, "run");
    cml_status st = cml_circuit_run(c, ctx, sk, ct, &res, cml_io_progress, &prog);
    cml_io_progress_end(&prog);
    if (st != CML_OK) goto fail;
    t3 = cml_io_now();
    if (cml_circuit_decrypt(c, ck, res, q->v, NULL) != CML_OK) goto fail;
    if (verbose) {
        char a[32], b[32];
        double t4 = cml_io_now();
        fprintf(stderr,
                "cml predict: keygen %.3f s (bootstrap key %s, keyswitch key %s), encrypt %.3f s, "
                "run %.3f s (%zu rows, %u threads), decrypt %.3f s\n",
                t1 - t0, cml_io_bytes(a, sizeof a, (double)cml_server_key_bsk_bytes(sk)),
                cml_io_bytes(b, sizeof b, (double)cml_server_key_ksk_bytes(sk)), t2 - t1,
                t3 - t2, in->rows, cml_context_threads(ctx), t4 - t3);
    }
    ok = true;
fail:
    if (!ok) fprintf(stderr, "cml predict: %s\n", cml_last_error());
    cml_ct_destroy(res);
    cml_ct_destroy(ct);
    cml_server_key_destroy(sk);
    cml_client_key_destroy(ck);
    cml_context_destroy(ctx);
    return ok;
}

static bool print_rows(const cml_circuit *c, const cml_rows *q) {
    for (size_t r = 0; r < q->rows; r++) {
        if (!cml_io_print_row("predict", stdout, c, q, r)) return false;
        fputc('\n', stdout);
    }
    return true;
}

/* --clear: side by side, then the tally. */
static int print_compared(const cml_circuit *c, const cml_rows *fhe, const cml_rows *clear) {
    size_t equal = 0;
    for (size_t r = 0; r < fhe->rows; r++) {
        fputs("fhe: ", stdout);
        if (!cml_io_print_row("predict", stdout, c, fhe, r)) return 1;
        fputs(" | clear: ", stdout);
        if (!cml_io_print_row("predict", stdout, c, clear, r)) return 1;
        fputc('\n', stdout);
        equal += cml_io_rows_equal(c, fhe, clear, r);
    }
    if (!cml_io_flush_stdout("predict")) return 1;
    fprintf(stderr, "%zu/%zu rows equal\n", equal, fhe->rows);
    return equal == fhe->rows ? 0 : 1;
}

int cml_cmd_predict(int argc, char **argv) {
    const char *pos[2];
    static const char *const flags[] = {"--simulate", "--clear", "-v", NULL};
    bool f[3] = {false, false, false};
    int rc = cml_io_args("predict", argc, argv, usage, pos, 2, NULL, flags, f);
    if (rc >= 0) return rc;
    const bool simulate = f[0], clear = f[1], verbose = f[2];
    if (simulate && clear) {
        fprintf(stderr, "cml predict: --simulate and --clear exclude each other\n");
        usage(stderr);
        return 2;
    }
    cml_circuit *c = cml_io_load_model("predict", pos[0]);
    if (!c) return 1;
    rc = 1;
    cml_rows in = {0}, fhe = {0}, twin = {0};
    /* before reading anything large or making keys of gigabytes */
    if (!simulate && !cml_circuit_can_run(c)) {
        fprintf(stderr,
                "cml predict: %s: compiled without encrypted execution (recompile with this "
                "cmlc); --simulate runs its clear twin\n",
                pos[0]);
        goto done;
    }
    if (!cml_io_read_inputs("predict", c, pos[1], &in)) goto done;
    if (simulate || clear) {
        if (!cml_io_alloc_outputs("predict", c, in.rows, &twin) ||
            !simulate_rows(c, &in, &twin, pos[1]))
            goto done;
    }
    if (!simulate) {
        if (!cml_io_alloc_outputs("predict", c, in.rows, &fhe) || !fhe_rows(c, &in, &fhe, verbose))
            goto done;
    }
    if (clear) {
        rc = print_compared(c, &fhe, &twin);
    } else if (print_rows(c, simulate ? &twin : &fhe) && cml_io_flush_stdout("predict")) {
        rc = 0;
    }
done:
    cml_io_rows_free(&in);
    cml_io_rows_free(&fhe);
    cml_io_rows_free(&twin);
    cml_circuit_free(c);
    return rc;
}
