/* context.c — cml_context: the FFT plan cache and the worker pool that
 * batch bootstrapping spreads over. Workers sleep on a condition variable;
 * a job hands out indices through an atomic counter and the calling thread
 * works too (as worker 0), so threads == 1 means no extra thread at all.
 * One job runs at a time per context; concurrent callers queue on job_lock. */
#include "fft.h"
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

enum { MAX_LOG2_N = 17 };

struct cml_context {
    pthread_mutex_t fft_lock;
    cml_fft *ffts[MAX_LOG2_N + 1];

    unsigned threads;
    pthread_t *workers;          /* threads - 1 of them */
    pthread_mutex_t job_lock;    /* serialises jobs */
    pthread_mutex_t pool_lock;
    pthread_cond_t work_cv, done_cv;
    unsigned long generation;    /* bumped per job; workers wait for a change */
    unsigned busy;               /* workers still inside the current job */
    int shutdown;
    cml_task_fn fn;
    void *arg;
    size_t count;
    atomic_size_t next;
};

typedef struct worker_start {
    cml_context *ctx;
    unsigned index;
} worker_start;

static void run_share(cml_context *ctx, unsigned worker) {
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&ctx->next, 1, memory_order_relaxed);
        if (i >= ctx->count) break;
        ctx->fn(ctx->arg, i, worker);
    }
}

static void *worker_main(void *p) {
    worker_start ws = *(worker_start *)p;
    free(p);
    cml_context *ctx = ws.ctx;
    unsigned long seen = 0;
    pthread_mutex_lock(&ctx->pool_lock);
    for (;;) {
        while (!ctx->shutdown && ctx->generation == seen) pthread_cond_wait(&ctx->work_cv, &ctx->pool_lock);
        if (ctx->shutdown) break;
        seen = ctx->generation;
        pthread_mutex_unlock(&ctx->pool_lock);
        run_share(ctx, ws.index);
        pthread_mutex_lock(&ctx->pool_lock);
        if (--ctx->busy == 0) pthread_cond_signal(&ctx->done_cv);
    }
    pthread_mutex_unlock(&ctx->pool_lock);
    return NULL;
}

static unsigned default_threads(void) {
    const char *env = getenv("CML_THREADS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v >= 1 && v <= 1024) return (unsigned)v;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 ? (unsigned)n : 1;
}

cml_status cml_context_create(unsigned threads, cml_context **out) {
    if (!out) return cml_error(CML_ERR_ARG, "cml_context_create: out is NULL");
    *out = NULL;
    if (threads > 1024) return cml_error(CML_ERR_ARG, "cml_context_create: %u threads is too many", threads);
    cml_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return cml_error(CML_ERR_NOMEM, "out of memory creating a context");
    ctx->threads = threads ? threads : default_threads();
    pthread_mutex_init(&ctx->fft_lock, NULL);
    pthread_mutex_init(&ctx->job_lock, NULL);
    pthread_mutex_init(&ctx->pool_lock, NULL);
    pthread_cond_init(&ctx->work_cv, NULL);
    pthread_cond_init(&ctx->done_cv, NULL);
    if (ctx->threads > 1) {
        ctx->workers = calloc(ctx->threads - 1, sizeof *ctx->workers);
        if (!ctx->workers) {
            ctx->threads = 1;
            cml_context_destroy(ctx);
            return cml_error(CML_ERR_NOMEM, "out of memory creating worker threads");
        }
        for (unsigned w = 1; w < ctx->threads; w++) {
            worker_start *ws = malloc(sizeof *ws);
            if (ws) *ws = (worker_start){ctx, w};
            if (!ws || pthread_create(&ctx->workers[w - 1], NULL, worker_main, ws) != 0) {
                free(ws);
                ctx->threads = w; /* destroy joins the ones that started */
                cml_context_destroy(ctx);
                return cml_error(CML_ERR_NOMEM, "could not start worker thread %u", w);
            }
        }
    }
    *out = ctx;
    return CML_OK;
}

void cml_context_destroy(cml_context *ctx) {
    if (!ctx) return;
    if (ctx->threads > 1) {
        pthread_mutex_lock(&ctx->pool_lock);
        ctx->shutdown = 1;
        pthread_cond_broadcast(&ctx->work_cv);
        pthread_mutex_unlock(&ctx->pool_lock);
        for (unsigned w = 1; w < ctx->threads; w++) pthread_join(ctx->workers[w - 1], NULL);
    }
    free(ctx->workers);
    for (int i = 0; i <= MAX_LOG2_N; i++) cml_fft_destroy(ctx->ffts[i]);
    pthread_mutex_destroy(&ctx->fft_lock);
    pthread_mutex_destroy(&ctx->job_lock);
    pthread_mutex_destroy(&ctx->pool_lock);
    pthread_cond_destroy(&ctx->work_cv);
    pthread_cond_destroy(&ctx->done_cv);
    free(ctx);
}

unsigned cml_context_threads(const cml_context *ctx) { return ctx ? ctx->threads : 0; }

cml_status cml_context_fft(cml_context *ctx, uint32_t N, const cml_fft **out) {
    int lg = 0;
    while (lg <= MAX_LOG2_N && (UINT32_C(1) << lg) != N) lg++;
    if (lg > MAX_LOG2_N || lg < 2)
        return cml_error(CML_ERR_ARG, "polynomial size %u is not a power of two in 4..2^%d", N,
                         MAX_LOG2_N);
    cml_status st = CML_OK;
    pthread_mutex_lock(&ctx->fft_lock);
    if (!ctx->ffts[lg]) st = cml_fft_create(N, &ctx->ffts[lg]);
    *out = ctx->ffts[lg];
    pthread_mutex_unlock(&ctx->fft_lock);
    return st;
}

void cml_context_parallel_for(cml_context *ctx, size_t count, cml_task_fn fn, void *arg) {
    if (count == 0) return;
    if (ctx->threads == 1 || count == 1) {
        for (size_t i = 0; i < count; i++) fn(arg, i, 0);
        return;
    }
    pthread_mutex_lock(&ctx->job_lock);
    pthread_mutex_lock(&ctx->pool_lock);
    ctx->fn = fn;
    ctx->arg = arg;
    ctx->count = count;
    atomic_store(&ctx->next, 0);
    ctx->busy = ctx->threads - 1;
    ctx->generation++;
    pthread_cond_broadcast(&ctx->work_cv);
    pthread_mutex_unlock(&ctx->pool_lock);
    run_share(ctx, 0);
    pthread_mutex_lock(&ctx->pool_lock);
    while (ctx->busy) pthread_cond_wait(&ctx->done_cv, &ctx->pool_lock);
    pthread_mutex_unlock(&ctx->pool_lock);
    pthread_mutex_unlock(&ctx->job_lock);
}
