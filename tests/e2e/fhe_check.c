/* fhe_check.c — end-to-end check of one compiled model: keys from the
 * spec's parameters, ROWS random inputs drawn uniformly from each input's
 * declared range, encrypted, run with the evaluation keys only, decrypted,
 * and compared element by element with the clear twin (which the backend's
 * tests hold equal to the interpreter and `cmlc --simulate`). Any
 * difference fails: the FHE result must equal the clear one to the bit.
 *
 * usage: fhe_check MODEL.so ROWS [SEED]
 * Inputs come from a fixed xorshift generator (test data, not secrets; the
 * keys and encryption noise come from libsodium as always). Prints one line
 * per row (time) and a summary; exit 0 only when every output matched. */
#include <cml/runtime.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t state = 0x9e3779b97f4a7c15u;
static uint64_t next(void) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int fail(const char *what) {
    fprintf(stderr, "fhe_check: %s: %s\n", what, cml_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: fhe_check MODEL.so ROWS [SEED]\n");
        return 2;
    }
    size_t rows = (size_t)strtoul(argv[2], NULL, 10);
    if (argc > 3) state ^= strtoull(argv[3], NULL, 10) * 0x2545f4914f6cdd1du;
    if (rows < 1) rows = 1;
    cml_circuit *c;
    if (cml_circuit_load(argv[1], &c)) return fail("load");
    size_t ni = cml_circuit_num_inputs(c), no = cml_circuit_num_outputs(c);
    cml_context *ctx;
    cml_client_key *ck;
    cml_server_key *sk;
    if (cml_context_create(0, &ctx)) return fail("context");
    double t0 = now();
    if (cml_circuit_keygen(c, ctx, &ck, &sk)) return fail("keygen");
    printf("keygen %.2f s\n", now() - t0);

    int64_t **in = calloc(ni + 1, sizeof *in), **fhe = calloc(no + 1, sizeof *fhe);
    int64_t **clear = calloc(no + 1, sizeof *clear);
    const int64_t **row_in = calloc(ni + 1, sizeof *row_in);
    int64_t **row_out = calloc(no + 1, sizeof *row_out);
    for (size_t k = 0; k < ni; k++) {
        const cml_tensor_spec *t = cml_circuit_input(c, k);
        in[k] = malloc(rows * (size_t)t->count * sizeof **in);
        for (size_t i = 0; i < rows * (size_t)t->count; i++)
            in[k][i] = t->lo + (int64_t)(next() % (uint64_t)(t->hi - t->lo + 1));
    }
    for (size_t k = 0; k < no; k++) {
        size_t n = (size_t)cml_circuit_output(c, k)->count;
        fhe[k] = malloc(rows * n * sizeof **fhe);
        clear[k] = malloc(rows * n * sizeof **clear);
    }
    cml_ct *x, *y;
    if (cml_circuit_encrypt(c, ck, rows, (const int64_t *const *)in, &x)) return fail("encrypt");
    t0 = now();
    if (cml_circuit_run(c, ctx, sk, x, &y, NULL, NULL)) return fail("run");
    double dt = now() - t0;
    size_t got = 0;
    if (cml_circuit_decrypt(c, ck, y, fhe, &got) || got != rows) return fail("decrypt");

    size_t bad = 0, values = 0;
    for (size_t r = 0; r < rows; r++) {
        for (size_t k = 0; k < ni; k++) row_in[k] = in[k] + r * (size_t)cml_circuit_input(c, k)->count;
        for (size_t k = 0; k < no; k++) row_out[k] = clear[k] + r * (size_t)cml_circuit_output(c, k)->count;
        if (cml_circuit_simulate(c, row_in, row_out)) return fail("clear twin");
        for (size_t k = 0; k < no; k++) {
            const cml_tensor_spec *t = cml_circuit_output(c, k);
            for (int64_t i = 0; i < t->count; i++) {
                size_t at = r * (size_t)t->count + (size_t)i;
                values++;
                if (fhe[k][at] != clear[k][at]) {
                    if (bad++ < 20)
                        printf("row %zu output %s[%" PRId64 "]: fhe %" PRId64 ", clear %" PRId64 "\n",
                               r, t->name, i, fhe[k][at], clear[k][at]);
                }
            }
        }
    }
    const cml_spec_stats *st = cml_circuit_stats(c);
    printf("%s: %zu rows, %zu values, %zu differ; run %.3f s per row (%" PRId64 " PBS per row)\n",
           argv[1], rows, values, bad, dt / (double)rows, st->pbs_count);
    cml_ct_destroy(x);
    cml_ct_destroy(y);
    for (size_t k = 0; k < ni; k++) free(in[k]);
    for (size_t k = 0; k < no; k++) {
        free(fhe[k]);
        free(clear[k]);
    }
    free(in);
    free(fhe);
    free(clear);
    free(row_in);
    free(row_out);
    cml_server_key_destroy(sk);
    cml_client_key_destroy(ck);
    cml_context_destroy(ctx);
    cml_circuit_free(c);
    return bad ? 1 : 0;
}
