/* circuit_hello.c — the C API of a compiled model, end to end (docs/runtime.md):
 * load MODEL.so, make keys, quantize and encrypt one sample of reals, run it
 * with the evaluation keys only, decrypt, and print the prediction next to
 * the clear twin's. Build: cc circuit_hello.c -lcmlrt
 * usage: circuit_hello MODEL.so X1 X2 ...   (the model's inputs, flattened) */
#include <cml/runtime.h>
#include <stdio.h>
#include <stdlib.h>

static int check(cml_status s, const char *what) {
    if (s != CML_OK) fprintf(stderr, "circuit_hello: %s: %s\n", what, cml_last_error());
    return s != CML_OK;
}

int main(int argc, char **argv) {
    cml_circuit *c;
    if (argc < 2 || check(cml_circuit_load(argv[1], &c), "load")) return 1;
    size_t ni = cml_circuit_num_inputs(c), no = cml_circuit_num_outputs(c), used = 0;
    int64_t *q[8] = {0}, *fhe[8] = {0}, *clear[8] = {0};
    if (ni > 8 || no > 8) return 1;
    for (size_t k = 0; k < ni; k++) { /* reals -> the model's integers */
        const cml_tensor_spec *t = cml_circuit_input(c, k);
        double *x = calloc((size_t)t->count, sizeof *x);
        q[k] = calloc((size_t)t->count, sizeof *q[k]);
        for (int64_t i = 0; i < t->count && 2 + used < (size_t)argc; i++) x[i] = atof(argv[2 + used++]);
        if (check(cml_quantize_input(c, k, x, q[k]), "quantize")) return 1;
        free(x);
    }
    for (size_t k = 0; k < no; k++) {
        fhe[k] = calloc((size_t)cml_circuit_output(c, k)->count, sizeof *fhe[k]);
        clear[k] = calloc((size_t)cml_circuit_output(c, k)->count, sizeof *clear[k]);
    }
    cml_context *ctx;
    cml_client_key *ck; /* client side: secret */
    cml_server_key *sk; /* server side: evaluation keys only */
    cml_ct *x, *y;
    size_t rows;
    if (check(cml_context_create(0, &ctx), "context") ||
        check(cml_circuit_keygen(c, ctx, &ck, &sk), "keygen") ||
        check(cml_circuit_encrypt(c, ck, 1, (const int64_t *const *)q, &x), "encrypt") ||
        check(cml_circuit_run(c, ctx, sk, x, &y, NULL, NULL), "run") ||
        check(cml_circuit_decrypt(c, ck, y, fhe, &rows), "decrypt") ||
        check(cml_circuit_simulate(c, (const int64_t *const *)q, clear), "clear twin"))
        return 1;
    for (size_t k = 0; k < no; k++) {
        const cml_tensor_spec *t = cml_circuit_output(c, k);
        printf("%s: encrypted ", t->name);
        cml_output_fprint(stdout, t, fhe[k]);
        printf(", clear ");
        cml_output_fprint(stdout, t, clear[k]);
        printf("\n");
    }
    cml_ct_destroy(x);
    cml_ct_destroy(y);
    cml_server_key_destroy(sk);
    cml_client_key_destroy(ck);
    cml_context_destroy(ctx);
    for (size_t k = 0; k < 8; k++) free(q[k]), free(fhe[k]), free(clear[k]);
    cml_circuit_free(c);
    return 0;
}
