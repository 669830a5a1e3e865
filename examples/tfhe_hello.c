/* tfhe_hello.c — the smallest complete program on the TFHE-level API of
 * libcmlrt (docs/runtime.md walks through it). It is compiled and run by
 * ctest (runtime.example), so the documented code cannot rot.
 *
 *   cc tfhe_hello.c -lcmlrt -o tfhe_hello && ./tfhe_hello
 */
#include <cml/tfhe.h>
#include <math.h>
#include <stdio.h>

#define CHECK(call)                                                              \
    do {                                                                         \
        cml_status st_ = (call);                                                 \
        if (st_ != CML_OK) {                                                     \
            fprintf(stderr, "%s: %s\n", cml_status_name(st_), cml_last_error()); \
            return 1;                                                            \
        }                                                                        \
    } while (0)

int main(void) {
    /* 1. parameters for 3-bit messages, failure probability 2^-40 per bootstrap */
    cml_params params;
    CHECK(cml_params_select(3, 1.0, ldexp(1.0, -40), &params));

    /* 2. client: secret key; server: evaluation keys (no secret inside) */
    cml_context *ctx;
    cml_client_key *ck;
    cml_server_key *sk;
    CHECK(cml_context_create(0, &ctx));
    CHECK(cml_client_key_create(&params, &ck));
    CHECK(cml_server_key_create(ctx, ck, &sk));

    /* 3. client encrypts x = 0..6 (3-bit values) */
    enum { COUNT = 7 };
    int64_t x[COUNT] = {0, 1, 2, 3, 4, 5, 6};
    cml_ct *ct;
    CHECK(cml_encrypt(ck, x, COUNT, 3, &ct));

    /* 4. server computes relu(x - 3) by a linear step then a bootstrap */
    uint64_t *data = cml_ct_data(ct);
    size_t sz = cml_lwe_size(&params);
    for (int i = 0; i < COUNT; i++)
        cml_lwe_add_plain(data + i * sz, data + i * sz, cml_encode(-3, 3), sz - 1);
    /* x - 3 is signed, in [-3, 3]: a signed 3-bit input table over [-4, 4),
     * indexed from -4 */
    int64_t relu[8];
    for (int v = -4; v < 4; v++) relu[v + 4] = v > 0 ? v : 0;
    cml_lut *lut;
    CHECK(cml_lut_create(&params, 3, 1, 3, relu, &lut));
    const cml_lut *luts[1] = {lut};
    CHECK(cml_pbs_batch(ctx, sk, luts, 1, data, data, COUNT));

    /* 5. client decrypts */
    int64_t y[COUNT];
    CHECK(cml_decrypt(ck, ct, 3, y));
    int ok = 1;
    for (int i = 0; i < COUNT; i++) {
        int64_t want = x[i] - 3 > 0 ? x[i] - 3 : 0;
        printf("relu(%lld - 3) = %lld%s\n", (long long)x[i], (long long)y[i], y[i] == want ? "" : "  WRONG");
        ok &= y[i] == want;
    }

    cml_lut_destroy(lut);
    cml_ct_destroy(ct);
    cml_server_key_destroy(sk);
    cml_client_key_destroy(ck);
    cml_context_destroy(ctx);
    return ok ? 0 : 1;
}
