/* bench_infer.c — `cml bench infer MODEL.so [--runs R]`: what encrypted
 * inference of one compiled model costs. Prints, one figure a line:
 * keygen time, key sizes, PBS per run, latency of one sample on 1 thread
 * and on all threads (median of R runs on random inputs from the declared
 * ranges), the time of one keyswitch + bootstrap at the model's parameters
 * (median of R), and the ratio of the 1-thread latency to PBS count times
 * that single-PBS time: how close the generated code is to pure bootstrap
 * cost (1.0 = nothing but bootstraps). bench/infer.sh adds compile time and
 * .so size per example. */
#include "bench.h"

#include <cml/runtime.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


static int fail(const char *what) {
    fprintf(stderr, "cml bench infer: %s: %s\n", what, cml_last_error());
    return 1;
}

/* Median latency of one sample (R runs) on ctx. */
static int time_runs(const cml_circuit *c, cml_context *ctx, const cml_server_key *sk,
                     const cml_ct *x, int runs, double *ms) {
    double *t = calloc((size_t)runs, sizeof *t);
    if (!t) return 1;
    for (int r = 0; r < runs; r++) {
        cml_ct *y = NULL;
        double t0 = bench_now_ms();
        if (cml_circuit_run(c, ctx, sk, x, &y, NULL, NULL)) {
            free(t);
            return fail("run");
        }
        t[r] = bench_now_ms() - t0;
        cml_ct_destroy(y);
    }
    *ms = bench_median(t, runs);
    free(t);
    return 0;
}

/* Median time of one keyswitch + PBS at the model's parameters. */
static int time_pbs(cml_context *ctx, const cml_client_key *ck, const cml_server_key *sk,
                    int runs, double *ms) {
    const cml_params *p = cml_client_key_params(ck);
    size_t entries = (size_t)1 << p->precision;
    int64_t *table = malloc(entries * sizeof *table), m = 1;
    double *t = calloc((size_t)runs, sizeof *t);
    cml_lut *lut = NULL;
    cml_ct *ct = NULL;
    int rc = 1;
    if (!table || !t) goto done;
    for (size_t i = 0; i < entries; i++) table[i] = (int64_t)(i * 3 % entries);
    if (cml_lut_create(p, p->precision, 0, p->precision, table, &lut) ||
        cml_encrypt(ck, &m, 1, p->precision, &ct)) {
        fail("single PBS");
        goto done;
    }
    size_t L = cml_lwe_size(p);
    uint64_t *out = malloc(L * sizeof *out);
    if (!out) goto done;
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now_ms();
        if (cml_pbs(ctx, sk, lut, out, cml_ct_cdata(ct))) {
            free(out);
            fail("single PBS");
            goto done;
        }
        t[r] = bench_now_ms() - t0;
    }
    free(out);
    *ms = bench_median(t, runs);
    rc = 0;
done:
    cml_lut_destroy(lut);
    cml_ct_destroy(ct);
    free(table);
    free(t);
    return rc;
}

int cml_bench_infer(int argc, char **argv) {
    const char *path = NULL;
    int runs = 3;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            runs = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            puts("usage: cml bench infer MODEL.so [--runs R]\n"
                 "  Keygen time, key sizes, PBS count, encrypted latency of one sample on\n"
                 "  1 thread and on all threads (median of R runs, default 3), single\n"
                 "  PBS time and latency / (PBS count x single PBS). One `name value unit`\n"
                 "  line each; bench/infer.sh runs it over examples/ with compile times.");
            return 0;
        } else if (!path) {
            path = argv[i];
        } else {
            fprintf(stderr, "cml bench infer: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!path || runs < 1) {
        fprintf(stderr, "usage: cml bench infer MODEL.so [--runs R]\n");
        return 2;
    }
    cml_circuit *c;
    if (cml_circuit_load(path, &c)) return fail("load");
    const char *name = cml_circuit_name(c);
    cml_context *one = NULL, *all = NULL;
    cml_client_key *ck = NULL;
    cml_server_key *sk = NULL;
    cml_ct *x = NULL;
    int rc = 1;
    size_t ni = cml_circuit_num_inputs(c);
    int64_t **in = calloc(ni + 1, sizeof *in);
    if (!in || cml_context_create(1, &one) || cml_context_create(0, &all)) {
        fail("context");
        goto done;
    }
    double t0 = bench_now_ms();
    if (cml_circuit_keygen(c, all, &ck, &sk)) {
        fail("keygen");
        goto done;
    }
    printf("infer.%s.keygen %.1f ms\n", name, bench_now_ms() - t0);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (cml_client_key_serialize(ck, &buf, &len) == CML_OK) printf("infer.%s.client_key %zu bytes\n", name, len);
    cml_free(buf);
    printf("infer.%s.bsk %zu bytes\n", name, cml_server_key_bsk_bytes(sk));
    printf("infer.%s.ksk %zu bytes\n", name, cml_server_key_ksk_bytes(sk));
    int64_t pbs = cml_circuit_stats(c)->pbs_count;
    printf("infer.%s.pbs_count %" PRId64 " count\n", name, pbs);
    uint64_t s = 88172645463325252u;
    for (size_t k = 0; k < ni; k++) {
        const cml_tensor_spec *t = cml_circuit_input(c, k);
        in[k] = malloc((size_t)t->count * sizeof **in);
        if (!in[k]) goto done;
        for (int64_t i = 0; i < t->count; i++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            in[k][i] = t->lo + (int64_t)(s % (uint64_t)(t->hi - t->lo + 1));
        }
    }
    if (cml_circuit_encrypt(c, ck, 1, (const int64_t *const *)in, &x)) {
        fail("encrypt");
        goto done;
    }
    double lat1, latn;
    if (time_runs(c, one, sk, x, runs, &lat1) || time_runs(c, all, sk, x, runs, &latn)) goto done;
    printf("infer.%s.latency.t1 %.2f ms\n", name, lat1);
    printf("infer.%s.latency.tall %.2f ms\n", name, latn);
    printf("infer.%s.threads %u count\n", name, cml_context_threads(all));
    if (pbs > 0) {
        double one_pbs;
        if (time_pbs(one, ck, sk, runs < 5 ? 5 : runs, &one_pbs)) goto done;
        printf("infer.%s.pbs_single %.2f ms\n", name, one_pbs);
        printf("infer.%s.latency_over_pbs %.3f ratio\n", name, lat1 / ((double)pbs * one_pbs));
    }
    rc = 0;
done:
    for (size_t k = 0; in && k < ni; k++) free(in[k]);
    free(in);
    cml_ct_destroy(x);
    cml_server_key_destroy(sk);
    cml_client_key_destroy(ck);
    cml_context_destroy(one);
    cml_context_destroy(all);
    cml_circuit_free(c);
    return rc;
}
