/* cml_run.c — `cml run MODEL.so SERVER.key X.ct -o Y.ct`: the server side.
 * It evaluates the model on ciphertexts with evaluation keys only; nothing
 * here can decrypt, and a client key offered in place of the server key is
 * refused by name (the runtime's loader tells the two kinds apart). The
 * cheap checks come first (can the model run at all, does the ciphertext
 * file load and fit the model) so that a mistake costs no time loading a
 * server key of gigabytes; Y.ct is written only after every row ran. */
#include "cml_io.h"
#include "cml_tool.h"

static void usage(FILE *f) {
    fputs("usage: cml run MODEL.so SERVER.key X.ct -o Y.ct\n"
          "\n"
          "Evaluates the model on every row of ciphertexts of X.ct (from `cml encrypt`)\n"
          "with the evaluation keys of SERVER.key (from `cml keygen`) and writes the\n"
          "encrypted outputs to Y.ct, for `cml decrypt`. Needs no secret. Rows run one\n"
          "at a time, each across $CML_THREADS threads (default: all cores); on a\n"
          "terminal a progress line shows rows done and time.\n"
          "\n"
          "  -o Y.ct     the ciphertext file to write\n"
          "  -v          print load and run times to stderr\n"
          "  -h, --help  this text\n",
          f);
}

int cml_cmd_run(int argc, char **argv) {
    const char *pos[3], *out;
    static const char *const flags[] = {"-v", NULL};
    bool verbose = false;
    int rc = cml_io_args("run", argc, argv, usage, pos, 3, &out, flags, &verbose);
    if (rc >= 0) return rc;
    cml_circuit *c = cml_io_load_model("run", pos[0]);
    if (!c) return 1;
    rc = 1;
    cml_context *ctx = NULL;
    cml_server_key *sk = NULL;
    cml_ct *in = NULL, *res = NULL;
    if (!cml_circuit_can_run(c)) {
        fprintf(stderr, "cml run: %s: compiled without encrypted execution (recompile with this "
                        "cmlc)\n", pos[0]);
        goto done;
    }
    double t0 = cml_io_now();
    if (cml_ct_load(pos[2], NULL, &in) != CML_OK) {
        fprintf(stderr, "cml run: %s\n", cml_last_error());
        goto done;
    }
    if (!cml_io_params_match("run", c, cml_ct_params(in), "ciphertexts", pos[2], pos[0]))
        goto done;
    size_t per = cml_circuit_row_cts(c, 0);
    if (per && cml_ct_count(in) % per != 0) {
        fprintf(stderr, "cml run: %s: %zu ciphertexts are not a whole number of rows of %s "
                        "(%zu per row)\n", pos[2], cml_ct_count(in), pos[0], per);
        goto done;
    }
    if (cml_context_create(0, &ctx) != CML_OK || cml_server_key_load(ctx, pos[1], &sk) != CML_OK) {
        fprintf(stderr, "cml run: %s\n", cml_last_error());
        goto done;
    }
    if (!cml_io_params_match("run", c, cml_server_key_params(sk), "a server key", pos[1], pos[0]))
        goto done;
    double t1 = cml_io_now();
    cml_progress prog;
    cml_io_progress_start(&prog, "run");
    cml_status st = cml_circuit_run(c, ctx, sk, in, &res, cml_io_progress, &prog);
    cml_io_progress_end(&prog);
    if (st != CML_OK) {
        fprintf(stderr, "cml run: %s\n", cml_last_error());
        goto done;
    }
    double t2 = cml_io_now();
    if (cml_ct_save(res, out) != CML_OK) {
        fprintf(stderr, "cml run: %s\n", cml_last_error());
        goto done;
    }
    if (verbose) {
        size_t rows = per ? cml_ct_count(in) / per : 0;
        fprintf(stderr, "cml run: %s: %zu rows in %.3f s (%.3f s per row, %u threads); keys and "
                        "ciphertexts loaded in %.3f s\n",
                out, rows, t2 - t1, rows ? (t2 - t1) / (double)rows : 0.0,
                cml_context_threads(ctx), t1 - t0);
    }
    rc = 0;
done:
    cml_ct_destroy(res);
    cml_ct_destroy(in);
    cml_server_key_destroy(sk);
    cml_context_destroy(ctx);
    cml_circuit_free(c);
    return rc;
}
