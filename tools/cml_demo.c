/* cml_demo.c — `cml demo`: the runtime end to end on one screen. Generates
 * 4-bit keys, encrypts all 16 messages, applies x^2 mod 16 by programmable
 * bootstrapping, decrypts, and prints clear vs decrypted with timings. */
#include "cml_tool.h"

#include <cml/tfhe.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

#define TRY(call)                                                   \
    do {                                                            \
        if ((call) != CML_OK) {                                     \
            fprintf(stderr, "cml demo: %s\n", cml_last_error());    \
            goto out;                                               \
        }                                                           \
    } while (0)

int cml_cmd_demo(int argc, char **argv) {
    if (argc > 0 && (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"))) {
        puts("usage: cml demo\n"
             "  Runs the TFHE runtime end to end: 4-bit keys, encrypt 0..15, apply\n"
             "  x^2 mod 16 by programmable bootstrapping, decrypt, compare.");
        return 0;
    }
    if (argc > 0) {
        fprintf(stderr, "cml demo: unexpected argument '%s' (see cml demo --help)\n", argv[0]);
        return 2;
    }
    enum { P = 4, M = 1 << P };
    int rc = 1;
    cml_context *ctx = NULL;
    cml_client_key *ck = NULL;
    cml_server_key *sk = NULL;
    cml_lut *lut = NULL;
    cml_ct *ct = NULL;
    int64_t msg[M], table[M], dec[M];
    for (int i = 0; i < M; i++) msg[i] = i, table[i] = (int64_t)(i * i) % M;

    cml_params params;
    TRY(cml_params_select(P, 1.0, ldexp(1.0, -40), &params));
    printf("parameters: %u-bit messages, k=%u N=%u n=%u, predicted failure 2^%.1f per bootstrap\n",
           P, params.glwe_dimension, params.polynomial_size, params.lwe_dimension, params.log2_p_error);
    TRY(cml_context_create(0, &ctx));
    double t0 = now_ms();
    TRY(cml_client_key_create(&params, &ck));
    TRY(cml_server_key_create(ctx, ck, &sk));
    printf("keygen:     %.0f ms (bootstrap key %.1f MB, keyswitch key %.1f MB)\n", now_ms() - t0,
           (double)cml_server_key_bsk_bytes(sk) / 1e6, (double)cml_server_key_ksk_bytes(sk) / 1e6);
    TRY(cml_encrypt(ck, msg, M, P, &ct));
    TRY(cml_lut_create(&params, P, 0, P, table, &lut));
    const cml_lut *luts[1] = {lut};
    t0 = now_ms();
    TRY(cml_pbs_batch(ctx, sk, luts, 1, cml_ct_data(ct), cml_ct_data(ct), M));
    double t_pbs = now_ms() - t0;
    TRY(cml_decrypt(ck, ct, P, dec));
    printf("bootstrap:  %d PBS in %.1f ms on %u thread(s) (%.2f ms each)\n\n", M, t_pbs,
           cml_context_threads(ctx), t_pbs / M);
    printf("   x | clear x^2 mod 16 | decrypted\n");
    printf("-----+------------------+----------\n");
    int wrong = 0;
    for (int i = 0; i < M; i++) {
        printf("%4d | %16lld | %9lld%s\n", i, (long long)table[i], (long long)dec[i],
               dec[i] == table[i] ? "" : "   MISMATCH");
        wrong += dec[i] != table[i];
    }
    printf("\n%s: %d of %d decrypted results equal the clear computation\n", wrong ? "FAILED" : "OK",
           M - wrong, M);
    rc = wrong ? 1 : 0;
out:
    cml_ct_destroy(ct);
    cml_lut_destroy(lut);
    cml_server_key_destroy(sk);
    cml_client_key_destroy(ck);
    cml_context_destroy(ctx);
    return rc;
}
