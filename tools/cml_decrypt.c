/* cml_decrypt.c — `cml decrypt MODEL.so CLIENT.key Y.ct`: the client's
 * last step. Prints one row per sample exactly as `cml predict --simulate`
 * prints the clear twin's (cml_io_print_row: dequantized, post-processed by
 * the runtime's cml_output_fprint), so the two can be diffed byte for byte. */
#include "cml_io.h"
#include "cml_tool.h"

static void usage(FILE *f) {
    fputs("usage: cml decrypt MODEL.so CLIENT.key Y.ct\n"
          "\n"
          "Decrypts the encrypted outputs of `cml run` with the client key and prints\n"
          "one row per sample: outputs in return order, dequantized and post-processed\n"
          "as the spec says (the same text as `cml predict MODEL.so INPUT.csv\n"
          "--simulate`).\n"
          "\n"
          "  -h, --help  this text\n",
          f);
}

int cml_cmd_decrypt(int argc, char **argv) {
    const char *pos[3];
    int rc = cml_io_args("decrypt", argc, argv, usage, pos, 3, NULL, NULL, NULL);
    if (rc >= 0) return rc;
    cml_circuit *c = cml_io_load_model("decrypt", pos[0]);
    if (!c) return 1;
    rc = 1;
    cml_client_key *ck = NULL;
    cml_ct *ct = NULL;
    cml_rows q = {0};
    if (cml_client_key_load(pos[1], &ck) != CML_OK) {
        fprintf(stderr, "cml decrypt: %s\n", cml_last_error());
        goto done;
    }
    if (!cml_io_params_match("decrypt", c, cml_client_key_params(ck), "a client key", pos[1],
                             pos[0]))
        goto done;
    if (cml_ct_load(pos[2], NULL, &ct) != CML_OK) {
        fprintf(stderr, "cml decrypt: %s\n", cml_last_error());
        goto done;
    }
    if (!cml_io_params_match("decrypt", c, cml_ct_params(ct), "ciphertexts", pos[2], pos[0]))
        goto done;
    size_t per = cml_circuit_row_cts(c, 1);
    if (per == 0 || cml_ct_count(ct) % per != 0) {
        fprintf(stderr, "cml decrypt: %s: %zu ciphertexts are not a whole number of output rows "
                        "of %s (%zu per row)\n", pos[2], cml_ct_count(ct), pos[0], per);
        goto done;
    }
    if (!cml_io_alloc_outputs("decrypt", c, cml_ct_count(ct) / per, &q)) goto done;
    if (cml_circuit_decrypt(c, ck, ct, q.v, NULL) != CML_OK) {
        fprintf(stderr, "cml decrypt: %s\n", cml_last_error());
        goto done;
    }
    bool ok = true;
    for (size_t r = 0; ok && r < q.rows; r++) {
        ok = cml_io_print_row("decrypt", stdout, c, &q, r);
        if (ok) fputc('\n', stdout);
    }
    if (ok && cml_io_flush_stdout("decrypt")) rc = 0;
done:
    cml_io_rows_free(&q);
    cml_ct_destroy(ct);
    cml_client_key_destroy(ck);
    cml_circuit_free(c);
    return rc;
}
