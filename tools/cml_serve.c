/* cml_serve.c — `cml serve MODEL.so... --key-store DIR`: compiled models
 * behind HTTP, on libmicrohttpd (docs/deployment.md, docs/openapi.yaml).
 *
 * Why this shape:
 *  - The server holds evaluation keys only. Clients upload server.key once
 *    (POST /models/NAME/keys, validated by the runtime's loader, stored by
 *    hash: cml_serve_keys.c) and then send ciphertexts exactly as `cml
 *    encrypt` writes them; answers are exactly what `cml run` writes. So the
 *    HTTP layer adds no format of its own and `cml decrypt` reads answers.
 *  - Threading: libmicrohttpd's thread per connection, and admission
 *    control in front of the expensive work. A predict or key upload is
 *    admitted when its headers arrive — before its body is read — if fewer
 *    than threads + queue jobs are admitted; else 503 with Retry-After. At
 *    most --threads admitted jobs run at once, the others wait. Memory is
 *    thus bounded by (threads + queue) bodies, and a client learns "busy"
 *    without sending megabytes first. Bodies over the limit are refused
 *    from Content-Length, also before they are read.
 *  - Every input is untrusted: the runtime's validating loaders decide what
 *    a key or a ciphertext is; key ids are checked before they touch a
 *    path; nothing here exits on a bad request. Each request gets one log
 *    line on stderr and a JSON error body when it fails.
 *  - Shutdown on SIGTERM/SIGINT: the listening socket closes at once, the
 *    requests in flight finish (answers then say Connection: close), and
 *    the process exits 0. A second signal exits at once (status 1). */
#include "cml_io.h"
#include "cml_serve.h"
#include "cml_tool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY ((size_t)64 << 20)
#define DEFAULT_QUEUE 16
#define DEFAULT_KEY_CACHE 4
#define LATENCY_WINDOW 1024
#define CONNECTION_LIMIT 256    /* open connections (one thread each) */
#define CONNECTION_TIMEOUT 120  /* seconds of inactivity before a connection is closed */
#define TOO_BIG_SLACK ((size_t)16 << 20) /* chunked bodies past the limit read and dropped */

static void usage(FILE *f) {
    fputs("usage: cml serve MODEL.so [MODEL.so ...] --key-store DIR [options]\n"
          "\n"
          "Serves compiled models over HTTP: clients upload their server (evaluation)\n"
          "key once, then send ciphertexts from `cml encrypt` and get back what `cml run`\n"
          "writes. The server never sees a secret key. Endpoints (docs/deployment.md):\n"
          "  GET  /health                       {\"status\":\"ok\"}\n"
          "  GET  /models                       the model names (JSON)\n"
          "  GET  /models/NAME/spec             the model's spec (YAML): what a client needs\n"
          "  POST /models/NAME/keys             body: server.key -> 201 {\"key_id\": ...}\n"
          "  POST /models/NAME/predict?key=ID   body: ciphertexts -> encrypted outputs\n"
          "  GET  /metrics                      Prometheus text\n"
          "Prints `listening on http://HOST:PORT` on stdout, one line per request on\n"
          "stderr; SIGTERM or SIGINT finishes the requests in flight, then exits.\n"
          "\n"
          "  --key-store DIR   where uploaded keys are kept (DIR/NAME/ID.key); created if\n"
          "                    needed; keys persist across restarts\n"
          "  --host HOST       address to listen on (default 127.0.0.1)\n"
          "  --port PORT       port (default 8080; 0 picks a free one)\n"
          "  --max-body BYTES  largest request body (default 64M; suffixes K, M, G); a key\n"
          "                    upload may always be as large as the model's server key\n"
          "  --threads N       jobs (predictions, key uploads) run at once (default: cores)\n"
          "  --queue N         admitted jobs waiting beyond those; more get 503 (default 16)\n"
          "  --key-cache N     server keys kept loaded in memory (default 4)\n"
          "  -h, --help        this text\n"
          "Bootstraps run on $CML_THREADS threads (default: all cores), shared by the jobs.\n",
          f);
}

/* ---- the server's state ----------------------------------------------------------- */

typedef struct server {
    serve_model *models;
    size_t nmodels;
    serve_keys *keys;
    serve_metrics *metrics;
    cml_context *ctx;
    size_t max_body;
    unsigned threads, queue;
    pthread_mutex_t lock;
    pthread_cond_t cv;    /* a job slot freed, or a request finished */
    long in_flight;       /* requests between their headers and their completion */
    unsigned admitted;    /* jobs admitted (uploading, waiting or running) */
    unsigned running;     /* jobs running */
    atomic_int stopping;  /* set once by the main thread; read by request threads */
} server;

typedef enum job_state { JOB_NONE, JOB_ADMITTED, JOB_RUNNING } job_state;

/* One request, from its headers to its completion callback. */
typedef struct req {
    serve_endpoint ep;
    size_t model; /* index into server.models */
    char key_id[SERVE_KEY_ID_LEN + 1];
    char method[16];
    char path[256];     /* for the log line: printable characters only */
    uint8_t *body;
    size_t len, cap, limit, received;
    size_t announced;   /* Content-Length, 0 if none */
    bool too_big;
    bool deferred;      /* not a POST: answered when the request is complete */
    job_state job;
    int status;         /* 0 until an answer is queued */
    size_t bytes_out;
    double t0;
} req;

/* ---- job admission (the bounded queue) ------------------------------------------------ */

static bool job_admit(server *s, req *r) {
    pthread_mutex_lock(&s->lock);
    bool ok = s->admitted < s->threads + s->queue;
    if (ok) {
        s->admitted++;
        r->job = JOB_ADMITTED;
    }
    pthread_mutex_unlock(&s->lock);
    return ok;
}

/* Waits for one of the --threads running slots. */
static void job_run(server *s, req *r) {
    pthread_mutex_lock(&s->lock);
    while (s->running >= s->threads) pthread_cond_wait(&s->cv, &s->lock);
    s->running++;
    r->job = JOB_RUNNING;
    pthread_mutex_unlock(&s->lock);
}

/* Gives up whatever the request holds: called when the job is done and
 * from the completion callback (a client that went away mid-upload). */
static void job_leave(server *s, req *r) {
    if (r->job == JOB_NONE) return;
    pthread_mutex_lock(&s->lock);
    if (r->job == JOB_RUNNING) s->running--;
    s->admitted--;
    r->job = JOB_NONE;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->lock);
}

/* The first n bytes of src (up to its NUL) for a message: control and
 * non-ASCII bytes become '?', at most size - 1 characters. */
static const char *printable(char *dst, size_t size, const char *src, size_t n) {
    size_t o = 0;
    for (size_t i = 0; i < n && src[i] && o + 1 < size; i++)
        dst[o++] = (unsigned char)src[i] < 0x20 || (unsigned char)src[i] >= 0x7f ? '?' : src[i];
    dst[o] = '\0';
    return dst;
}

/* ---- answers ------------------------------------------------------------------------------- */

/* `s` as the inside of a JSON string. */
static void json_escape(char *out, size_t size, const char *s) {
    size_t o = 0;
    for (; *s && o + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

/* Queues an answer. data is copied unless free_fn is given (then the
 * response owns it). */
static enum MHD_Result answer(server *s, struct MHD_Connection *conn, req *r, int status,
                              const char *ctype, void *data, size_t len,
                              void (*free_fn)(void *)) {
    struct MHD_Response *resp =
        free_fn ? MHD_create_response_from_buffer_with_free_callback(len, data, free_fn)
                : MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_COPY);
    if (!resp) {
        if (free_fn) free_fn(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                r->ep == EP_KEYS || r->ep == EP_PREDICT ? "POST" : "GET, HEAD");
    /* An early answer leaves a body unread, and a stopping server wants its
     * connections back: either way the connection ends with this answer. */
    if (s->stopping || ((r->ep == EP_KEYS || r->ep == EP_PREDICT) && r->status == 0 &&
                        r->job == JOB_NONE && r->received == 0))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    r->status = status;
    r->bytes_out = len;
    return ok;
}

static enum MHD_Result answer_json(server *s, struct MHD_Connection *conn, req *r, int status,
                                   const char *json) {
    return answer(s, conn, r, status, "application/json", (void *)json, strlen(json), NULL);
}

__attribute__((format(printf, 5, 6))) static enum MHD_Result
answer_error(server *s, struct MHD_Connection *conn, req *r, int status, const char *fmt, ...) {
    char msg[1024], esc[2048], body[2100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_escape(esc, sizeof esc, msg);
    snprintf(body, sizeof body, "{\"error\": \"%s\"}\n", esc);
    return answer_json(s, conn, r, status, body);
}

static enum MHD_Result answer_err(server *s, struct MHD_Connection *conn, req *r,
                                  const serve_err *e) {
    return answer_error(s, conn, r, e->status, "%s", e->msg);
}

/* ---- GET endpoints ------------------------------------------------------------------------- */

static enum MHD_Result get_models(server *s, struct MHD_Connection *conn, req *r) {
    size_t cap = 8;
    for (size_t m = 0; m < s->nmodels; m++) cap += 2 * strlen(s->models[m].name) + 8;
    char *p = malloc(cap);
    if (!p) return answer_error(s, conn, r, 500, "out of memory");
    size_t o = (size_t)snprintf(p, cap, "[");
    for (size_t m = 0; m < s->nmodels; m++) {
        char esc[512];
        json_escape(esc, sizeof esc, s->models[m].name);
        o += (size_t)snprintf(p + o, cap - o, "%s\"%s\"", m ? ", " : "", esc);
    }
    snprintf(p + o, cap - o, "]\n");
    return answer(s, conn, r, 200, "application/json", p, strlen(p), free);
}

static enum MHD_Result get_metrics(server *s, struct MHD_Connection *conn, req *r) {
    serve_gauges g = {0};
    pthread_mutex_lock(&s->lock);
    g.in_flight = s->in_flight;
    g.jobs_running = s->running;
    g.jobs_queued = (long)s->admitted - (long)s->running;
    pthread_mutex_unlock(&s->lock);
    g.keys_cached = (long)serve_keys_cached(s->keys);
    g.threads = s->threads;
    g.queue = s->queue;
    size_t len;
    char *t = serve_metrics_text(s->metrics, s->models, s->nmodels, &g, &len);
    if (!t) return answer_error(s, conn, r, 500, "out of memory");
    return answer(s, conn, r, 200, "text/plain; version=0.0.4; charset=utf-8", t, len, free);
}

/* ---- POST endpoints (jobs) ----------------------------------------------------------------- */

static enum MHD_Result post_keys(server *s, struct MHD_Connection *conn, req *r) {
    const serve_model *m = &s->models[r->model];
    job_run(s, r);
    char id[SERVE_KEY_ID_LEN + 1];
    serve_err e;
    int st = serve_keys_put(s->keys, m, r->body, r->len, id, &e);
    job_leave(s, r);
    free(r->body);
    r->body = NULL;
    if (st != 200 && st != 201) return answer_err(s, conn, r, &e);
    char body[128];
    snprintf(body, sizeof body, "{\"key_id\": \"%s\"}\n", id);
    return answer_json(s, conn, r, st, body);
}

static enum MHD_Result post_predict(server *s, struct MHD_Connection *conn, req *r) {
    const serve_model *m = &s->models[r->model];
    const cml_params *p = cml_circuit_params(m->c);
    cml_ct *in = NULL;
    cml_status st = cml_ct_deserialize(r->body, r->len, p, &in);
    if (st != CML_OK && serve_is_client_key(r->body, r->len)) {
        sodium_memzero(r->body, r->len);
        free(r->body);
        r->body = NULL;
        return answer_error(s, conn, r, 400, "this is a client (secret) key, not ciphertexts: "
                                             "secret keys are never accepted");
    }
    free(r->body);
    r->body = NULL;
    if (st == CML_ERR_MISMATCH)
        return answer_error(s, conn, r, 400,
                            "ciphertexts for other parameters than model '%s': %s (encrypted "
                            "with keys of another model?)",
                            m->name, cml_last_error());
    if (st != CML_OK)
        return answer_error(s, conn, r, 400, "invalid ciphertexts: %s", cml_last_error());
    size_t per = cml_circuit_row_cts(m->c, 0), count = cml_ct_count(in);
    if (count == 0 || count % per != 0) {
        cml_ct_destroy(in);
        return answer_error(s, conn, r, 400,
                            "%zu ciphertexts are not a whole number of rows of model '%s' (%zu "
                            "per row)",
                            count, m->name, per);
    }
    size_t rows = count / per;
    job_run(s, r);
    serve_err e;
    serve_key_ref *key = serve_keys_get(s->keys, m, r->key_id, &e);
    cml_ct *out = NULL;
    if (key)
        st = cml_circuit_run(m->c, s->ctx, serve_key_ref_key(key), in, &out, NULL, NULL);
    char msg[512];
    if (key && st != CML_OK) snprintf(msg, sizeof msg, "%s", cml_last_error());
    serve_keys_release(s->keys, key);
    job_leave(s, r);
    cml_ct_destroy(in);
    if (!key) return answer_err(s, conn, r, &e);
    if (st != CML_OK)
        return answer_error(s, conn, r, st == CML_ERR_NOMEM ? 503 : 500,
                            "evaluation failed: %s", msg);
    uint8_t *buf;
    size_t len;
    st = cml_ct_serialize(out, &buf, &len);
    cml_ct_destroy(out);
    if (st != CML_OK) return answer_error(s, conn, r, 500, "%s", cml_last_error());
    serve_metrics_predict(s->metrics, r->model, rows, m->pbs_per_row * (int64_t)rows,
                          cml_io_now() - r->t0);
    return answer(s, conn, r, 200, "application/octet-stream", buf, len, cml_free);
}

/* ---- routing ------------------------------------------------------------------------------- */

static bool is_get(const char *method) {
    return !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
}

/* A decimal Content-Length; false if absent or malformed. */
static bool content_length(struct MHD_Connection *conn, uint64_t *out) {
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!v || !*v || strlen(v) > 19) return false;
    uint64_t n = 0;
    for (const char *c = v; *c; c++) {
        if (*c < '0' || *c > '9') return false;
        n = n * 10 + (uint64_t)(*c - '0');
    }
    *out = n;
    return true;
}

/* Routes a request and answers it, except an admitted job (a POST whose
 * body comes next). Called when a POST's headers are in, before its body,
 * and for every other method once the request is complete (on_request). */
static enum MHD_Result begin(server *s, struct MHD_Connection *conn, req *r, const char *url,
                             const char *method) {
    r->ep = EP_OTHER;
    if (!strcmp(url, "/health")) r->ep = EP_HEALTH;
    else if (!strcmp(url, "/models")) r->ep = EP_MODELS;
    else if (!strcmp(url, "/metrics")) r->ep = EP_METRICS;
    else if (!strncmp(url, "/models/", 8)) {
        const char *name = url + 8, *slash = strchr(name, '/');
        if (!slash)
            return answer_error(s, conn, r, 404, "no such path: %s (try /models/NAME/spec)",
                                r->path);
        const char *action = slash + 1;
        if (!strcmp(action, "spec")) r->ep = EP_SPEC;
        else if (!strcmp(action, "keys")) r->ep = EP_KEYS;
        else if (!strcmp(action, "predict")) r->ep = EP_PREDICT;
        else return answer_error(s, conn, r, 404, "no such path: %s", r->path);
        size_t n = (size_t)(slash - name), m = 0;
        while (m < s->nmodels &&
               (strlen(s->models[m].name) != n || memcmp(s->models[m].name, name, n) != 0))
            m++;
        if (m == s->nmodels) {
            char esc[121];
            return answer_error(s, conn, r, 404, "unknown model '%s' (GET /models lists them)",
                                printable(esc, sizeof esc, name, n));
        }
        r->model = m;
    } else {
        return answer_error(s, conn, r, 404, "no such path: %s", r->path);
    }

    bool post = r->ep == EP_KEYS || r->ep == EP_PREDICT;
    if (post ? strcmp(method, MHD_HTTP_METHOD_POST) != 0 : !is_get(method))
        return answer_error(s, conn, r, 405, "method %s not allowed on %s (use %s)", r->method,
                            r->path, post ? "POST" : "GET");
    switch (r->ep) {
    case EP_HEALTH: return answer_json(s, conn, r, 200, "{\"status\":\"ok\"}\n");
    case EP_MODELS: return get_models(s, conn, r);
    case EP_METRICS: return get_metrics(s, conn, r);
    case EP_SPEC: {
        const char *spec = cml_circuit_spec_text(s->models[r->model].c);
        return answer(s, conn, r, 200, "application/yaml", (void *)spec, strlen(spec), NULL);
    }
    default: break;
    }

    const serve_model *m = &s->models[r->model];
    if (r->ep == EP_PREDICT) {
        const char *key = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "key");
        if (!key || !*key)
            return answer_error(s, conn, r, 400, "missing ?key=ID (the id POST /models/%s/keys "
                                                 "answered)", m->name);
        if (!serve_keys_exists(s->keys, m, key)) {
            char esc[81];
            printable(esc, sizeof esc, key, sizeof esc);
            return answer_error(s, conn, r, 404,
                                "unknown key id '%s' for model '%s' (upload the server key to "
                                "POST /models/%s/keys first)",
                                esc, m->name, m->name);
        }
        memcpy(r->key_id, key, SERVE_KEY_ID_LEN + 1);
    }
    /* a key upload may be as large as the model's server key, whatever --max-body */
    r->limit = r->ep == EP_KEYS && m->key_bytes > s->max_body ? m->key_bytes : s->max_body;
    uint64_t cl;
    if (content_length(conn, &cl) && cl > r->limit) {
        if (r->ep == EP_KEYS)
            return answer_error(s, conn, r, 413,
                                "body of %" PRIu64 " bytes exceeds the limit of %zu bytes (a "
                                "server key for model '%s' is %zu bytes: keys of another model?)",
                                cl, r->limit, m->name, m->key_bytes);
        return answer_error(s, conn, r, 413,
                            "body of %" PRIu64 " bytes exceeds the limit of %zu bytes "
                            "(--max-body): send fewer rows per request",
                            cl, r->limit);
    }
    if (content_length(conn, &cl)) r->announced = (size_t)cl;
    if (s->stopping) return answer_error(s, conn, r, 503, "shutting down");
    if (!job_admit(s, r))
        return answer_error(s, conn, r, 503, "busy: %u jobs running or queued, try again",
                            s->threads + s->queue);
    return MHD_YES; /* the body comes next */
}

/* Appends a chunk of the body; past the limit (a chunked body without
 * Content-Length) the rest is read and dropped, then answered 413. */
static enum MHD_Result receive(req *r, const char *data, size_t n) {
    r->received += n;
    if (r->too_big) return r->received > r->limit + TOO_BIG_SLACK ? MHD_NO : MHD_YES;
    if (n > r->limit - r->len) {
        r->too_big = true;
        free(r->body);
        r->body = NULL;
        r->len = r->cap = 0;
        return MHD_YES;
    }
    if (r->len + n > r->cap) {
        /* the announced length at once (it is within the limit), else
         * doubling up to the limit */
        size_t cap = r->cap ? r->cap : r->announced > 0 ? r->announced : 1 << 16;
        while (cap < r->len + n && cap <= SIZE_MAX / 2) cap *= 2;
        if (cap < r->len + n || cap > r->limit) cap = r->limit;
        uint8_t *p = realloc(r->body, cap);
        if (!p) return MHD_NO;
        r->body = p;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return MHD_YES;
}

/* The access handler, called once when the headers are in, once per body
 * chunk, and once when the request is complete. A POST is routed and
 * admitted on the first call, so that it can be refused before its body is
 * read (that answer closes the connection). Everything else is answered on
 * the last call: libmicrohttpd closes the connection after an answer queued
 * before the request is complete, and GETs should keep it alive. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_size, void **req_cls) {
    (void)version;
    server *s = cls;
    req *r = *req_cls;
    if (!r) {
        if (!(r = calloc(1, sizeof *r))) return MHD_NO;
        *req_cls = r;
        r->t0 = cml_io_now();
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        for (char *c = r->path; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) *c = '?';
        pthread_mutex_lock(&s->lock);
        s->in_flight++;
        pthread_mutex_unlock(&s->lock);
        if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
            r->deferred = true;
            return MHD_YES;
        }
        return begin(s, conn, r, url, method);
    }
    if (*data_size) {
        size_t n = *data_size;
        *data_size = 0;
        if (r->status) return MHD_YES; /* answered already: drop the rest */
        if (r->deferred) {             /* a body on a GET: ignored */
            r->received += n;
            return MHD_YES;
        }
        return receive(r, data, n);
    }
    if (r->status) return MHD_YES;
    if (r->deferred) {
        r->deferred = false;
        enum MHD_Result ok = begin(s, conn, r, url, method);
        if (r->status || ok != MHD_YES) return ok;
        /* only a POST is admitted as a job, and a POST is never deferred */
        return answer_error(s, conn, r, 500, "internal error: request not answered");
    }
    if (r->too_big)
        return answer_error(s, conn, r, 413, "body exceeds the limit of %zu bytes", r->limit);
    return r->ep == EP_KEYS ? post_keys(s, conn, r) : post_predict(s, conn, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)conn;
    server *s = cls;
    req *r = *req_cls;
    if (!r) return;
    *req_cls = NULL;
    job_leave(s, r);
    double ms = 1e3 * (cml_io_now() - r->t0);
    if (r->status)
        fprintf(stderr, "cml serve: %s %s %d %zu B %.1f ms%s\n", r->method, r->path, r->status,
                r->bytes_out, ms,
                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (answer not delivered)");
    else
        fprintf(stderr, "cml serve: %s %s - 0 B %.1f ms (client went away after %zu bytes)\n",
                r->method, r->path, ms, r->received);
    serve_metrics_request(s->metrics, r->ep, r->status ? r->status : 499);
    free(r->body);
    free(r);
    pthread_mutex_lock(&s->lock);
    s->in_flight--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->lock);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    fprintf(stderr, "cml serve: http: %s\n", msg);
}

/* ---- startup ---------------------------------------------------------------------------------- */

/* "64M", "1048576", "1G" (binary multiples). */
static bool parse_size(const char *s, size_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno || *s == '-') return false;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k') shift = 10, end++;
    else if (*end == 'M' || *end == 'm') shift = 20, end++;
    else if (*end == 'G' || *end == 'g') shift = 30, end++;
    if (*end == 'B' || *end == 'b') end++;
    if (*end || v == 0 || v > (SIZE_MAX >> shift)) return false;
    *out = (size_t)v << shift;
    return true;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || *end || errno || *s == '-' || v > max) return false;
    *out = v;
    return true;
}

/* A model name must be one URL path segment and one directory name. */
static bool name_ok(const char *n) {
    size_t len = strlen(n);
    if (len == 0 || len > 128 || n[0] == '.') return false;
    for (const char *c = n; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-' || *c == '.'))
            return false;
    return true;
}

typedef struct options {
    const char **paths;
    size_t npaths;
    const char *host, *key_store;
    unsigned long port, threads, queue, key_cache;
    size_t max_body;
} options;

static int parse_args(int argc, char **argv, options *o) {
    o->host = "127.0.0.1";
    o->port = 8080;
    o->max_body = DEFAULT_MAX_BODY;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = cores > 0 ? (unsigned long)cores : 1;
    o->queue = DEFAULT_QUEUE;
    o->key_cache = DEFAULT_KEY_CACHE;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (a[0] == '-' && a[1]) {
            static const char *const with_value[] = {"--host", "--port", "--key-store",
                                                     "--max-body", "--threads", "--queue",
                                                     "--key-cache", NULL};
            size_t k = 0;
            while (with_value[k] && strcmp(a, with_value[k])) k++;
            if (!with_value[k]) {
                fprintf(stderr, "cml serve: unknown option '%s'\n", a);
                usage(stderr);
                return 2;
            }
            if (i + 1 >= argc) {
                fprintf(stderr, "cml serve: %s needs a value\n", a);
                usage(stderr);
                return 2;
            }
            const char *v = argv[++i];
            bool ok = true;
            if (!strcmp(a, "--host")) o->host = v;
            else if (!strcmp(a, "--key-store")) o->key_store = v;
            else if (!strcmp(a, "--port")) ok = parse_uint(v, 65535, &o->port);
            else if (!strcmp(a, "--max-body")) ok = parse_size(v, &o->max_body);
            else if (!strcmp(a, "--threads"))
                ok = parse_uint(v, 1024, &o->threads) && o->threads > 0;
            else if (!strcmp(a, "--queue")) ok = parse_uint(v, 65536, &o->queue);
            else ok = parse_uint(v, 1024, &o->key_cache) && o->key_cache > 0;
            if (!ok) {
                fprintf(stderr, "cml serve: %s: invalid value '%s'\n", a, v);
                usage(stderr);
                return 2;
            }
            continue;
        }
        o->paths[o->npaths++] = a;
    }
    if (o->npaths == 0) {
        fprintf(stderr, "cml serve: no model given\n");
        usage(stderr);
        return 2;
    }
    if (!o->key_store) {
        fprintf(stderr, "cml serve: missing --key-store DIR\n");
        usage(stderr);
        return 2;
    }
    return -1;
}

/* Loads and checks every model; false after a one-line message. */
static bool load_models(server *s, const options *o) {
    s->models = calloc(o->npaths, sizeof *s->models);
    if (!s->models) {
        fprintf(stderr, "cml serve: out of memory\n");
        return false;
    }
    for (size_t i = 0; i < o->npaths; i++) {
        const char *path = o->paths[i];
        cml_circuit *c = cml_io_load_model("serve", path);
        if (!c) return false;
        serve_model *m = &s->models[s->nmodels++];
        m->c = c;
        m->name = cml_circuit_name(c);
        const cml_params *p = cml_circuit_params(c);
        if (!p) {
            fprintf(stderr, "cml serve: %s: the spec has no TFHE parameters (compiled before "
                            "parameter selection)\n", path);
            return false;
        }
        if (!cml_circuit_can_run(c)) {
            fprintf(stderr, "cml serve: %s: compiled without encrypted execution (recompile "
                            "with this cmlc)\n", path);
            return false;
        }
        for (size_t k = 0; k < cml_circuit_num_inputs(c); k++) {
            if (!cml_circuit_input(c, k)->encrypted) {
                fprintf(stderr, "cml serve: %s: input '%s' is a clear input; serving supports "
                                "encrypted inputs only\n", path, cml_circuit_input(c, k)->name);
                return false;
            }
        }
        if (!name_ok(m->name)) {
            fprintf(stderr, "cml serve: %s: model name '%s' cannot be used in a URL (letters, "
                            "digits, '_', '-', '.')\n", path, m->name);
            return false;
        }
        for (size_t j = 0; j + 1 < s->nmodels; j++) {
            if (!strcmp(s->models[j].name, m->name)) {
                fprintf(stderr, "cml serve: %s and %s are both named '%s': models are served by "
                                "name\n", cml_circuit_path(s->models[j].c), path, m->name);
                return false;
            }
        }
        m->fingerprint = cml_params_fingerprint(p);
        m->key_bytes = cml_server_key_file_bytes(p, cml_circuit_light(c));
        m->pbs_per_row = cml_circuit_stats(c) ? cml_circuit_stats(c)->pbs_count : 0;
    }
    return true;
}

/* Resolves HOST into addr (port set); false after a message. */
static bool resolve(const char *host, unsigned port, struct sockaddr_storage *addr,
                    socklen_t *len) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || !res) {
        fprintf(stderr, "cml serve: --host %s: %s\n", host, gai_strerror(rc));
        return false;
    }
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    if (addr->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)addr)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)addr)->sin_port = htons((uint16_t)port);
    return true;
}

static unsigned bound_port(struct MHD_Daemon *d) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_storage a;
    socklen_t len = sizeof a;
    if (!info || getsockname(info->listen_fd, (struct sockaddr *)&a, &len) != 0) return 0;
    return a.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&a)->sin6_port)
                                   : ntohs(((struct sockaddr_in *)&a)->sin_port);
}

/* Blocks until SIGTERM/SIGINT, then drains: false if a second signal
 * cut the wait short. */
static bool wait_and_drain(server *s, struct MHD_Daemon *d, const sigset_t *sigs) {
    int sig = 0;
    while (sigwait(sigs, &sig) != 0) {
    }
    s->stopping = 1;
    MHD_socket lfd = MHD_quiesce_daemon(d); /* no new connections from here on */
    if (lfd != MHD_INVALID_SOCKET) close(lfd);
    pthread_mutex_lock(&s->lock);
    long left = s->in_flight;
    pthread_mutex_unlock(&s->lock);
    fprintf(stderr, "cml serve: %s: no longer accepting; finishing %ld request%s in flight\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", left, left == 1 ? "" : "s");
    for (;;) {
        pthread_mutex_lock(&s->lock);
        left = s->in_flight;
        pthread_mutex_unlock(&s->lock);
        if (left == 0) return true;
        struct timespec tick = {0, 50 * 1000 * 1000};
        if (sigtimedwait(sigs, NULL, &tick) > 0) {
            fprintf(stderr, "cml serve: second signal: exiting with %ld request%s unfinished\n",
                    left, left == 1 ? "" : "s");
            return false;
        }
    }
}

int cml_cmd_serve(int argc, char **argv) {
    options o = {0};
    o.paths = calloc(argc > 0 ? (size_t)argc : 1, sizeof *o.paths);
    if (!o.paths) return 1;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) {
        free(o.paths);
        return rc;
    }
    /* Signals are taken synchronously by this thread (sigwait): blocked
     * before any thread exists (the context's workers, libmicrohttpd's), so
     * every thread inherits the mask and none is killed by SIGTERM. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = 1;
    server s = {0};
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cv, NULL);
    s.max_body = o.max_body;
    s.threads = (unsigned)o.threads;
    s.queue = (unsigned)o.queue;
    struct MHD_Daemon *d = NULL;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    if (!load_models(&s, &o)) goto done;
    if (!resolve(o.host, (unsigned)o.port, &addr, &addr_len)) goto done;
    if (!cml_io_make_dir(o.key_store)) {
        fprintf(stderr, "cml serve: %s: cannot create the key store: %s\n", o.key_store,
                strerror(errno));
        goto done;
    }
    if (cml_context_create(0, &s.ctx) != CML_OK) {
        fprintf(stderr, "cml serve: %s\n", cml_last_error());
        goto done;
    }
    s.keys = serve_keys_create(o.key_store, s.ctx, o.key_cache);
    s.metrics = serve_metrics_create(s.nmodels, LATENCY_WINDOW);
    if (!s.keys || !s.metrics) {
        fprintf(stderr, "cml serve: out of memory\n");
        goto done;
    }
    for (size_t m = 0; m < s.nmodels; m++) {
        if (!serve_keys_prepare(s.keys, &s.models[m])) {
            fprintf(stderr, "cml serve: %s/%s: cannot create the directory: %s\n", o.key_store,
                    s.models[m].name, strerror(errno));
            goto done;
        }
    }

    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, &s,
                         MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT,
                         MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "cml serve: cannot listen on %s port %lu: %s\n", o.host, o.port,
                strerror(errno));
        goto done;
    }
    unsigned port = bound_port(d);
    bool v6 = addr.ss_family == AF_INET6;
    printf("listening on http://%s%s%s:%u\n", v6 ? "[" : "", o.host, v6 ? "]" : "", port);
    fflush(stdout);
    fprintf(stderr, "cml serve: %zu model%s (", s.nmodels, s.nmodels == 1 ? "" : "s");
    for (size_t m = 0; m < s.nmodels; m++)
        fprintf(stderr, "%s%s", m ? ", " : "", s.models[m].name);
    fprintf(stderr, "), key store %s, %u job thread%s, queue %u, max body %zu bytes, %u "
                    "bootstrap threads\n",
            o.key_store, s.threads, s.threads == 1 ? "" : "s", s.queue, s.max_body,
            cml_context_threads(s.ctx));

    if (!wait_and_drain(&s, d, &sigs)) {
        fflush(stderr);
        _exit(1); /* the operator insisted: do not wait for running jobs */
    }
    MHD_stop_daemon(d);
    d = NULL;
    fprintf(stderr, "cml serve: stopped\n");
    rc = 0;
done:
    if (d) MHD_stop_daemon(d);
    serve_metrics_destroy(s.metrics);
    serve_keys_destroy(s.keys);
    cml_context_destroy(s.ctx);
    for (size_t m = 0; m < s.nmodels; m++) cml_circuit_free(s.models[m].c);
    free(s.models);
    free(o.paths);
    pthread_mutex_destroy(&s.lock);
    pthread_cond_destroy(&s.cv);
    return rc;
}
