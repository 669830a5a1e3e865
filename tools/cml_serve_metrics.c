/* cml_serve_metrics.c — what `cml serve` counts, and GET /metrics in the
 * Prometheus text format (0.0.4).
 *
 * Counters are kept per endpoint and HTTP status (a fixed table: statuses
 * are 100..599), per model (rows and PBS run); predict latencies go to a
 * ring of the most recent `window` requests, from which the 0.5/0.9/0.99
 * quantiles are computed at scrape time (a sliding window, so a slow start
 * does not weigh forever). One mutex: every update is a few stores. */
#include "cml_serve.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_MIN 100
#define STATUS_N 500

struct serve_metrics {
    pthread_mutex_t lock;
    uint64_t requests[EP_COUNT][STATUS_N];
    size_t nmodels;
    uint64_t *rows, *pbs, *predicts; /* per model */
    double *lat;                     /* ring of the latest predict latencies, seconds */
    size_t window, lat_next, lat_n;
    double lat_sum;
    uint64_t lat_count;
};

static const char *const endpoint_name[EP_COUNT] = {"health", "models", "spec", "keys",
                                                     "predict", "metrics", "other"};

serve_metrics *serve_metrics_create(size_t nmodels, size_t window) {
    serve_metrics *mt = calloc(1, sizeof *mt);
    if (!mt) return NULL;
    mt->nmodels = nmodels;
    mt->window = window ? window : 1;
    mt->rows = calloc(nmodels ? nmodels : 1, sizeof *mt->rows);
    mt->pbs = calloc(nmodels ? nmodels : 1, sizeof *mt->pbs);
    mt->predicts = calloc(nmodels ? nmodels : 1, sizeof *mt->predicts);
    mt->lat = calloc(mt->window, sizeof *mt->lat);
    if (!mt->rows || !mt->pbs || !mt->predicts || !mt->lat) {
        serve_metrics_destroy(mt);
        return NULL;
    }
    pthread_mutex_init(&mt->lock, NULL);
    return mt;
}

void serve_metrics_destroy(serve_metrics *mt) {
    if (!mt) return;
    if (mt->lat) pthread_mutex_destroy(&mt->lock);
    free(mt->rows);
    free(mt->pbs);
    free(mt->predicts);
    free(mt->lat);
    free(mt);
}

void serve_metrics_request(serve_metrics *mt, serve_endpoint ep, int status) {
    if (status < STATUS_MIN || status >= STATUS_MIN + STATUS_N || ep >= EP_COUNT) return;
    pthread_mutex_lock(&mt->lock);
    mt->requests[ep][status - STATUS_MIN]++;
    pthread_mutex_unlock(&mt->lock);
}

void serve_metrics_predict(serve_metrics *mt, size_t model, size_t rows, int64_t pbs,
                           double seconds) {
    pthread_mutex_lock(&mt->lock);
    if (model < mt->nmodels) {
        mt->rows[model] += rows;
        mt->pbs[model] += (uint64_t)(pbs > 0 ? pbs : 0);
        mt->predicts[model]++;
    }
    mt->lat[mt->lat_next] = seconds;
    mt->lat_next = (mt->lat_next + 1) % mt->window;
    if (mt->lat_n < mt->window) mt->lat_n++;
    mt->lat_sum += seconds;
    mt->lat_count++;
    pthread_mutex_unlock(&mt->lock);
}

/* ---- the text ------------------------------------------------------------------ */

typedef struct text {
    char *p;
    size_t len, cap;
    bool oom;
} text;

__attribute__((format(printf, 2, 3))) static void put(text *t, const char *fmt, ...) {
    if (t->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = true;
            return;
        }
        if (t->p && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 4096;
        while (cap < t->len + (size_t)n + 1) cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->oom = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank quantile of sorted v[0..n). */
static double quantile(const double *v, size_t n, double q) {
    if (n == 0) return NAN;
    size_t k = (size_t)ceil(q * (double)n);
    return v[k ? k - 1 : 0];
}

char *serve_metrics_text(serve_metrics *mt, const serve_model *models, size_t nmodels,
                         const serve_gauges *g, size_t *len) {
    text t = {0};
    pthread_mutex_lock(&mt->lock);
    size_t n = mt->lat_n;
    double *lat = malloc((n ? n : 1) * sizeof *lat);
    if (lat) memcpy(lat, mt->lat, n * sizeof *lat);
    double lat_sum = mt->lat_sum;
    uint64_t lat_count = mt->lat_count;

    put(&t, "# HELP cml_http_requests_total HTTP requests served, by endpoint and status.\n"
            "# TYPE cml_http_requests_total counter\n");
    for (int e = 0; e < EP_COUNT; e++)
        for (int s = 0; s < STATUS_N; s++)
            if (mt->requests[e][s])
                put(&t, "cml_http_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n",
                    endpoint_name[e], s + STATUS_MIN, (unsigned long long)mt->requests[e][s]);
    put(&t, "# HELP cml_predict_requests_total Successful predictions, by model.\n"
            "# TYPE cml_predict_requests_total counter\n");
    for (size_t m = 0; m < nmodels && m < mt->nmodels; m++)
        put(&t, "cml_predict_requests_total{model=\"%s\"} %llu\n", models[m].name,
            (unsigned long long)mt->predicts[m]);
    put(&t, "# HELP cml_predict_rows_total Samples (rows of ciphertexts) evaluated, by model.\n"
            "# TYPE cml_predict_rows_total counter\n");
    for (size_t m = 0; m < nmodels && m < mt->nmodels; m++)
        put(&t, "cml_predict_rows_total{model=\"%s\"} %llu\n", models[m].name,
            (unsigned long long)mt->rows[m]);
    put(&t, "# HELP cml_pbs_total Programmable bootstraps executed (the spec's pbs_count times "
            "rows), by model.\n"
            "# TYPE cml_pbs_total counter\n");
    for (size_t m = 0; m < nmodels && m < mt->nmodels; m++)
        put(&t, "cml_pbs_total{model=\"%s\"} %llu\n", models[m].name,
            (unsigned long long)mt->pbs[m]);
    pthread_mutex_unlock(&mt->lock);

    if (lat) qsort(lat, n, sizeof *lat, cmp_double);
    put(&t, "# HELP cml_predict_latency_seconds Latency of successful predict requests over "
            "the last %zu (quantiles), and in total (sum, count).\n"
            "# TYPE cml_predict_latency_seconds summary\n",
        mt->window);
    static const double qs[] = {0.5, 0.9, 0.99};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        double v = lat ? quantile(lat, n, qs[i]) : NAN;
        if (isnan(v))
            put(&t, "cml_predict_latency_seconds{quantile=\"%g\"} NaN\n", qs[i]);
        else
            put(&t, "cml_predict_latency_seconds{quantile=\"%g\"} %.6f\n", qs[i], v);
    }
    put(&t, "cml_predict_latency_seconds_sum %.6f\ncml_predict_latency_seconds_count %llu\n",
        lat_sum, (unsigned long long)lat_count);
    free(lat);

    put(&t, "# HELP cml_http_requests_in_flight Requests being received, run or answered.\n"
            "# TYPE cml_http_requests_in_flight gauge\n"
            "cml_http_requests_in_flight %ld\n",
        g->in_flight);
    put(&t, "# HELP cml_jobs_running Predictions and key uploads being processed.\n"
            "# TYPE cml_jobs_running gauge\ncml_jobs_running %ld\n",
        g->jobs_running);
    put(&t, "# HELP cml_jobs_queued Admitted jobs waiting (or still uploading).\n"
            "# TYPE cml_jobs_queued gauge\ncml_jobs_queued %ld\n",
        g->jobs_queued);
    put(&t, "# HELP cml_jobs_limit Jobs run at once (--threads) and waiting (--queue).\n"
            "# TYPE cml_jobs_limit gauge\n"
            "cml_jobs_limit{kind=\"threads\"} %ld\ncml_jobs_limit{kind=\"queue\"} %ld\n",
        g->threads, g->queue);
    put(&t, "# HELP cml_keys_cached Server keys loaded in memory.\n"
            "# TYPE cml_keys_cached gauge\ncml_keys_cached %ld\n",
        g->keys_cached);
    if (t.oom) {
        free(t.p);
        return NULL;
    }
    *len = t.len;
    return t.p;
}
