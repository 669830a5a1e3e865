/* client_hello.c — the C API of libcmlclient, end to end (docs/deployment.md):
 * make keys for MODEL.so, upload the evaluation key to a `cml serve`
 * server, encrypt one sample, predict on the server, decrypt and print the
 * outputs as `cml predict` does. Build: cc client_hello.c -lcmlclient -lcmlrt
 * usage: client_hello URL MODEL.so X1 X2 ...   (one input, flattened) */
#include <cml/client.h>
#include <cml/runtime.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(call, msg)                                                                  \
    do {                                                                                  \
        if ((call) != CML_OK) {                                                           \
            fprintf(stderr, "client_hello: %s\n", msg);                                   \
            return 1;                                                                     \
        }                                                                                 \
    } while (0)

int main(int argc, char **argv) {
    cml_circuit *c;
    cml_client *cl;
    if (argc < 3) return 2;
    CHECK(cml_circuit_load(argv[2], &c), cml_last_error());
    CHECK(cml_client_connect(argv[1], &cl), cml_client_last_error());
    const char *model = cml_circuit_name(c);

    /* keys, on the client: the server gets only the evaluation key */
    cml_context *ctx;
    cml_client_key *ck;
    cml_server_key *sk;
    char key_id[CML_CLIENT_KEY_ID_SIZE];
    CHECK(cml_context_create(1, &ctx), cml_last_error());
    CHECK(cml_circuit_keygen(c, ctx, &ck, &sk), cml_last_error());
    CHECK(cml_client_upload_server_key(cl, model, sk, key_id), cml_client_last_error());
    cml_server_key_destroy(sk);

    /* one sample: reals -> the model's integers -> ciphertexts */
    const cml_tensor_spec *x = cml_circuit_input(c, 0);
    double *real = calloc((size_t)x->count, sizeof *real);
    int64_t *q = calloc((size_t)x->count, sizeof *q);
    for (int64_t i = 0; i < x->count && 3 + i < argc; i++) real[i] = atof(argv[3 + i]);
    CHECK(cml_quantize_input(c, 0, real, q), cml_last_error());
    cml_ct *in, *out;
    CHECK(cml_circuit_encrypt(c, ck, 1, (const int64_t *const *)&q, &in), cml_last_error());

    /* the server evaluates; the answer is ciphertexts of the same parameters */
    CHECK(cml_client_predict(cl, model, key_id, in, &out), cml_client_last_error());

    /* decrypt and print every output, comma-separated */
    size_t no = cml_circuit_num_outputs(c);
    int64_t *y[8];
    for (size_t k = 0; k < no && k < 8; k++)
        y[k] = calloc((size_t)cml_circuit_output(c, k)->count, sizeof *y[k]);
    CHECK(no <= 8 ? cml_circuit_decrypt(c, ck, out, y, NULL) : CML_ERR_ARG, cml_last_error());
    for (size_t k = 0; k < no; k++) {
        if (k) putchar(',');
        CHECK(cml_output_fprint(stdout, cml_circuit_output(c, k), y[k]), cml_last_error());
        free(y[k]);
    }
    putchar('\n');

    cml_ct_destroy(in);
    cml_ct_destroy(out);
    cml_client_key_destroy(ck);
    cml_context_destroy(ctx);
    cml_client_close(cl);
    cml_circuit_free(c);
    free(real);
    free(q);
    return 0;
}
