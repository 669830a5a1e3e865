/* cml_encrypt.c — `cml encrypt MODEL.so CLIENT.key INPUT.csv -o X.ct`: CSV
 * samples to one ciphertext file, on the client. The CSV is read exactly as
 * `cml predict` reads it (cml_io_read_inputs: same width check, same
 * quantization), so a file that predicts also encrypts. Every check happens
 * before anything is written: a bad row or a key of another model leaves no
 * X.ct behind (cml_ct_save is atomic besides). */
#include "cml_io.h"
#include "cml_tool.h"

static void usage(FILE *f) {
    fputs("usage: cml encrypt MODEL.so CLIENT.key INPUT.csv -o X.ct\n"
          "\n"
          "Encrypts every sample of INPUT.csv for the model with the client key\n"
          "(from `cml keygen`) into one ciphertext file, row after row. INPUT.csv is\n"
          "read as `cml predict` reads it: one sample per row, all inputs flattened\n"
          "row-major in declaration order ('-' reads stdin), model inputs quantized\n"
          "with the model's own scales.\n"
          "\n"
          "  -o X.ct     the ciphertext file to write\n"
          "  -h, --help  this text\n",
          f);
}

int cml_cmd_encrypt(int argc, char **argv) {
    const char *pos[3], *out;
    int rc = cml_io_args("encrypt", argc, argv, usage, pos, 3, &out, NULL, NULL);
    if (rc >= 0) return rc;
    cml_circuit *c = cml_io_load_model("encrypt", pos[0]);
    if (!c) return 1;
    rc = 1;
    cml_client_key *ck = NULL;
    cml_ct *ct = NULL;
    cml_rows in = {0};
    if (cml_client_key_load(pos[1], &ck) != CML_OK) {
        fprintf(stderr, "cml encrypt: %s\n", cml_last_error());
        goto done;
    }
    if (!cml_io_params_match("encrypt", c, cml_client_key_params(ck), "a client key", pos[1],
                             pos[0]))
        goto done;
    if (!cml_io_read_inputs("encrypt", c, pos[2], &in)) goto done;
    if (cml_circuit_encrypt(c, ck, in.rows, (const int64_t *const *)in.v, &ct) != CML_OK ||
        cml_ct_save(ct, out) != CML_OK) {
        fprintf(stderr, "cml encrypt: %s\n", cml_last_error());
        goto done;
    }
    rc = 0;
done:
    cml_io_rows_free(&in);
    cml_ct_destroy(ct);
    cml_client_key_destroy(ck);
    cml_circuit_free(c);
    return rc;
}
