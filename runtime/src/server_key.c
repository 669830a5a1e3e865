/* server_key.c — evaluation keys derived from a client key: the keyswitch
 * key (big LWE key -> small LWE key) and the bootstrap key (one GGSW per
 * small-key bit, under the GLWE key, stored in the Fourier domain ready for
 * external products). Layouts are in internal.h. Generation runs on the
 * context's workers, each task with its own derived CSPRNG stream. The result
 * holds no secret: only encryptions. For a set without bootstrap (n = 0, a
 * linear circuit) both keys are empty (NULL, 0 bytes): the server key then
 * only carries the parameters, and cml_pbs refuses it. */
#define _DEFAULT_SOURCE /* madvise's MADV_HUGEPAGE */
#include "fft.h"
#include "internal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Key memory (internal.h). A bootstrap streams its whole key (tens to
 * hundreds of MB) once; on 4 KB pages that is a TLB miss every 4 KB, which
 * the prefetches ahead of the CMux cannot hide. Blocks of 2 MB and more are
 * put on 2 MB pages: aligned to them, and transparent huge pages asked for
 * with madvise (where the kernel has them; without, nothing changes). */
enum { HUGE_PAGE = 2 << 20 };
void *cml_key_alloc(size_t bytes) {
    if (bytes < HUGE_PAGE) return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    const size_t rounded = (bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    void *p = aligned_alloc(HUGE_PAGE, rounded);
#ifdef MADV_HUGEPAGE
    if (p) (void)madvise(p, rounded, MADV_HUGEPAGE);
#endif
    return p;
}

cml_status cml_server_key_alloc(const cml_params *params, uint32_t *share_ksk,
                                cml_server_key **out) {
    cml_server_key *sk = calloc(1, sizeof *sk);
    if (!sk) return cml_error(CML_ERR_NOMEM, "out of memory allocating a server key");
    sk->params = *params;
    if (params->lwe_dimension == 0) {
        *out = sk;
        return CML_OK;
    }
    sk->ksk_borrowed = share_ksk != NULL;
    sk->ksk = share_ksk ? share_ksk : cml_key_alloc(cml_ksk_words(params) * sizeof *sk->ksk);
    sk->bsk = cml_key_alloc(cml_bsk_fourier_doubles(params) * sizeof *sk->bsk);
    if (!sk->ksk || !sk->bsk) {
        cml_server_key_destroy(sk);
        return cml_error(CML_ERR_NOMEM, "out of memory allocating a server key (%zu MB)",
                         (cml_ksk_words(params) * 4 + cml_bsk_fourier_doubles(params) * 8) >> 20);
    }
    *out = sk;
    return CML_OK;
}

void cml_server_key_destroy(cml_server_key *sk) {
    if (!sk) return;
    cml_server_key_destroy(sk->light);
    if (!sk->ksk_borrowed) free(sk->ksk);
    free(sk->bsk);
    free(sk);
}

const cml_params *cml_server_key_params(const cml_server_key *sk) { return sk ? &sk->params : NULL; }
size_t cml_server_key_bsk_bytes(const cml_server_key *sk) {
    return sk ? cml_bsk_fourier_doubles(&sk->params) * sizeof(double) : 0;
}
size_t cml_server_key_ksk_bytes(const cml_server_key *sk) {
    return sk ? cml_ksk_words(&sk->params) * sizeof(uint32_t) : 0;
}

typedef struct keygen_job {
    const cml_client_key *ck;
    cml_server_key *sk;
    const cml_fft *fft;
    const double *key_fourier;
    uint8_t ksk_seed[32], bsk_seed[32];
    uint64_t **ggsw_std;   /* per worker: one GGSW in the standard domain */
    double **scratch;      /* per worker: GLWE encryption scratch */
    uint64_t **ksk_tmp;    /* per worker: one 64-bit small-key ciphertext */
} keygen_job;

/* Keyswitch key rows for big-key bit i: level j encrypts s_big[i] * 2^(64 - j*B),
 * made on the 64-bit torus then rounded to 32 bits (the storage format). */
static void ksk_task(void *arg, size_t i, unsigned worker) {
    keygen_job *job = arg;
    const cml_params *p = &job->sk->params;
    size_t n = p->lwe_dimension;
    uint64_t *tmp = job->ksk_tmp[worker];
    cml_rng rng;
    cml_rng_derive(job->ksk_seed, i, &rng);
    for (uint32_t j = 1; j <= p->ks_level; j++) {
        uint32_t *row = job->sk->ksk + (i * p->ks_level + (j - 1)) * (n + 1);
        uint64_t pt = job->ck->glwe_key[i] << (64 - j * p->ks_base_log);
        cml_lwe_encrypt_raw(&rng, tmp, job->ck->lwe_key, n, pt, p->lwe_noise_std);
        for (size_t w = 0; w <= n; w++) row[w] = cml_torus_to32(tmp[w]);
    }
    cml_rng_wipe(&rng);
}

/* GGSW of small-key bit i: row (c, j) is a GLWE encryption of zero with
 * s_small[i] * 2^(64 - j*B) added to the constant coefficient of component c. */
static void bsk_task(void *arg, size_t i, unsigned worker) {
    keygen_job *job = arg;
    const cml_params *p = &job->sk->params;
    const uint32_t k = p->glwe_dimension, N = p->polynomial_size, l = p->pbs_level;
    const size_t glwe_words = (size_t)(k + 1) * N;
    uint64_t *ggsw = job->ggsw_std[worker];
    uint64_t bit = job->ck->lwe_key[i];
    cml_rng rng;
    cml_rng_derive(job->bsk_seed, i, &rng);
    for (uint32_t c = 0; c <= k; c++) {
        for (uint32_t j = 1; j <= l; j++) {
            uint64_t *row = ggsw + ((size_t)c * l + (j - 1)) * glwe_words;
            cml_glwe_encrypt_raw(&rng, job->fft, row, job->key_fourier, k, NULL,
                                 p->glwe_noise_std, job->scratch[worker]);
            row[(size_t)c * N] += bit << (64 - j * p->pbs_base_log);
        }
    }
    cml_rng_wipe(&rng);
    double *dst = job->sk->bsk + i * cml_ggsw_fourier_doubles(p);
    for (size_t poly = 0; poly < (size_t)(k + 1) * l * (k + 1); poly++)
        cml_fft_forward_torus(job->fft, dst + poly * N, ggsw + poly * N);
}

/* Keys for `params` (the client key's, or a light key's: the GLWE key is
 * then the first k*N coefficients of ck's) from ck's secret keys; the
 * keyswitch key too unless borrow_ksk gives one to share. */
static cml_status keygen(cml_context *ctx, const cml_client_key *ck, const cml_params *p,
                         uint32_t *borrow_ksk, cml_server_key **out) {
    const cml_fft *fft;
    cml_status st = cml_random_ready();
    if (!st) st = cml_context_fft(ctx, p->polynomial_size, &fft);
    if (st) return st;
    cml_server_key *sk;
    if ((st = cml_server_key_alloc(p, borrow_ksk, &sk))) return st;

    unsigned workers = cml_context_threads(ctx);
    keygen_job job = {.ck = ck, .sk = sk, .fft = fft};
    double *key_fourier = cml_fft_alloc(fft, p->glwe_dimension);
    job.ggsw_std = calloc(workers, sizeof *job.ggsw_std);
    job.scratch = calloc(workers, sizeof *job.scratch);
    job.ksk_tmp = calloc(workers, sizeof *job.ksk_tmp);
    int ok = key_fourier && job.ggsw_std && job.scratch && job.ksk_tmp;
    size_t ggsw_words = (size_t)(p->glwe_dimension + 1) * p->pbs_level *
                        (p->glwe_dimension + 1) * p->polynomial_size;
    for (unsigned w = 0; ok && w < workers; w++) {
        job.ggsw_std[w] = malloc(ggsw_words * sizeof(uint64_t));
        job.scratch[w] = cml_fft_alloc(fft, 2);
        job.ksk_tmp[w] = malloc((p->lwe_dimension + 1) * sizeof(uint64_t));
        ok = job.ggsw_std[w] && job.scratch[w] && job.ksk_tmp[w];
    }
    if (ok) {
        cml_glwe_key_fourier(fft, ck->glwe_key, p->glwe_dimension, key_fourier);
        job.key_fourier = key_fourier;
        cml_rng root;
        cml_rng_init(&root);
        cml_rng_bytes(&root, job.ksk_seed, 32);
        cml_rng_bytes(&root, job.bsk_seed, 32);
        cml_rng_wipe(&root);
        if (!borrow_ksk) cml_context_parallel_for(ctx, cml_big_dim(p), ksk_task, &job);
        cml_context_parallel_for(ctx, p->lwe_dimension, bsk_task, &job);
        sodium_memzero(job.ksk_seed, 32);
        sodium_memzero(job.bsk_seed, 32);
    }
    for (unsigned w = 0; job.ggsw_std && w < workers; w++) {
        /* standard-domain GGSWs are encryptions only, but wipe anyway */
        if (job.ggsw_std[w]) sodium_memzero(job.ggsw_std[w], ggsw_words * sizeof(uint64_t));
        free(job.ggsw_std[w]);
        if (job.scratch) free(job.scratch[w]);
        if (job.ksk_tmp) free(job.ksk_tmp[w]);
    }
    free(job.ksk_tmp);
    free(job.ggsw_std);
    free(job.scratch);
    if (key_fourier) {
        sodium_memzero(key_fourier, (size_t)p->glwe_dimension * fft->N * sizeof *key_fourier);
        free(key_fourier);
    }
    if (!ok) {
        cml_server_key_destroy(sk);
        return cml_error(CML_ERR_NOMEM, "out of memory generating the server key");
    }
    *out = sk;
    return CML_OK;
}

cml_status cml_server_key_create(cml_context *ctx, const cml_client_key *ck, cml_server_key **out) {
    if (!out) return cml_error(CML_ERR_ARG, "cml_server_key_create: out is NULL");
    *out = NULL;
    if (!ctx || !ck) return cml_error(CML_ERR_ARG, "cml_server_key_create: NULL argument");
    const cml_params *p = &ck->params;
    if (p->lwe_dimension == 0) return cml_server_key_alloc(p, NULL, out); /* nothing to encrypt */
    return keygen(ctx, ck, p, NULL, out);
}

cml_status cml_server_key_add_light(cml_context *ctx, const cml_client_key *ck,
                                    cml_server_key *sk, uint32_t k, uint32_t N,
                                    uint32_t base_log, uint32_t level) {
    if (!ctx || !ck || !sk) return cml_error(CML_ERR_ARG, "cml_server_key_add_light: NULL argument");
    if (cml_params_fingerprint(&ck->params) != cml_params_fingerprint(&sk->params))
        return cml_error(CML_ERR_MISMATCH,
                         "cml_server_key_add_light: the server key was not made for this client "
                         "key's parameters");
    cml_params lp;
    cml_status st = cml_params_light(&sk->params, k, N, base_log, level, &lp);
    if (st) return st;
    cml_server_key *light;
    if ((st = keygen(ctx, ck, &lp, sk->ksk, &light))) return st;
    cml_server_key_destroy(sk->light);
    sk->light = light;
    return CML_OK;
}

const cml_params *cml_server_key_light(const cml_server_key *sk) {
    return sk && sk->light ? &sk->light->params : NULL;
}

size_t cml_server_key_light_bytes(const cml_server_key *sk) {
    return sk && sk->light ? cml_server_key_bsk_bytes(sk->light) : 0;
}
