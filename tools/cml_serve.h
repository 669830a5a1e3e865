/* cml_serve.h — the parts of `cml serve` (docs/deployment.md), one file
 * each: the HTTP front (cml_serve.c: options, routing, the job queue,
 * shutdown), the key store (cml_serve_keys.c: evaluation keys on disk and a
 * bounded in-memory cache) and the metrics (cml_serve_metrics.c:
 * Prometheus text). Internal to the `cml` tool. */
#ifndef CML_SERVE_H
#define CML_SERVE_H

#include <cml/runtime.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERVE_KEY_ID_LEN 64 /* hex digits of a BLAKE2b-256 hash */

/* One served model. Its name is the spec's, checked to be usable as one URL
 * path segment and one directory name. */
typedef struct serve_model {
    const char *name;
    cml_circuit *c;
    size_t key_bytes;   /* exact size of a serialized server key of its parameters */
    uint64_t fingerprint;
    int64_t pbs_per_row;
} serve_model;

/* An error for an HTTP answer: the status and the text of {"error": ...}. */
typedef struct serve_err {
    int status;
    char msg[640];
} serve_err;
void serve_err_set(serve_err *e, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- key store (cml_serve_keys.c) ---------------------------------------------
 * Keys live in ROOT/MODEL/ID.key, ID the BLAKE2b-256 of the uploaded bytes
 * (so one key uploaded twice is stored once). A key is validated by the
 * runtime's loader before it is written; written to a temporary file and
 * renamed; loaded lazily when an id is first used after a restart; at most
 * `cache_max` loaded keys are kept (least recently used dropped first; a
 * key in use stays alive until its last user releases it). */
typedef struct serve_keys serve_keys;
typedef struct serve_key_ref serve_key_ref;

serve_keys *serve_keys_create(const char *root, cml_context *ctx, size_t cache_max);
void serve_keys_destroy(serve_keys *ks);
/* Creates ROOT/MODEL; false with errno set. */
bool serve_keys_prepare(serve_keys *ks, const serve_model *m);
/* True if id has the form of a key id (64 lowercase hex digits). */
bool serve_key_id_valid(const char *id);
/* True if the model has key `id` (cached or on disk): a cheap check before
 * a request body is read. */
bool serve_keys_exists(serve_keys *ks, const serve_model *m, const char *id);
/* Validates and stores a key. 201 (new) or 200 (stored already) with its id,
 * or an error: 400 for anything but a server key of the model's
 * parameters, 500 when it cannot be written. The body is wiped when it
 * turns out to be a client (secret) key. */
int serve_keys_put(serve_keys *ks, const serve_model *m, uint8_t *body, size_t len,
                   char id[SERVE_KEY_ID_LEN + 1], serve_err *err);
/* True if the bytes are a serialized client (secret) key: its header's
 * magic and kind. Such a body is refused wherever it arrives, and wiped. */
bool serve_is_client_key(const uint8_t *b, size_t len);
/* The loaded key, from the cache or from disk; NULL with 404 (unknown) or
 * 500 (unreadable on disk). Release it with serve_keys_release. */
serve_key_ref *serve_keys_get(serve_keys *ks, const serve_model *m, const char *id,
                              serve_err *err);
const cml_server_key *serve_key_ref_key(const serve_key_ref *r);
void serve_keys_release(serve_keys *ks, serve_key_ref *r);
size_t serve_keys_cached(serve_keys *ks);

/* ---- metrics (cml_serve_metrics.c) ----------------------------------------------- */
typedef enum serve_endpoint {
    EP_HEALTH,
    EP_MODELS,
    EP_SPEC,
    EP_KEYS,
    EP_PREDICT,
    EP_METRICS,
    EP_OTHER,
    EP_COUNT
} serve_endpoint;

typedef struct serve_metrics serve_metrics;
serve_metrics *serve_metrics_create(size_t nmodels, size_t window);
void serve_metrics_destroy(serve_metrics *mt);
/* A request finished (status 100..599). */
void serve_metrics_request(serve_metrics *mt, serve_endpoint ep, int status);
/* A predict ran: rows, PBS executed, its latency in seconds (request start
 * to response queued). */
void serve_metrics_predict(serve_metrics *mt, size_t model, size_t rows, int64_t pbs,
                           double seconds);
/* Gauges read at scrape time. */
typedef struct serve_gauges {
    long in_flight, jobs_running, jobs_queued, keys_cached;
    long threads, queue;
} serve_gauges;
/* The Prometheus text exposition (format 0.0.4), malloc'd. */
char *serve_metrics_text(serve_metrics *mt, const serve_model *models, size_t nmodels,
                         const serve_gauges *g, size_t *len);

#endif
