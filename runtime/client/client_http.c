/* client_http.c — libcmlclient (cml/client.h): the HTTP side of a client of
 * `cml serve`, on libcurl.
 *
 * Why it is small: everything cryptographic is libcmlrt's (serialization,
 * the validating loaders); this file moves bytes and turns HTTP answers
 * into a cml_status and one message. The server's errors are JSON objects
 * {"error": "..."}; the message quotes that text, so a user sees the
 * server's reason (e.g. "unknown key id") and not only a code.
 *
 * A 503 is the server's bounded job queue saying "busy": it is retried after
 * Retry-After (capped), a bounded number of times. Nothing else is retried:
 * a predict is not idempotent in cost, and every other failure is final. */
#define _POSIX_C_SOURCE 200809L
#include <cml/client.h>

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RETRY_AFTER_MAX 10 /* seconds: a server asking for longer is waited on at most this */

struct cml_client {
    CURL *curl;
    char *base;        /* the URL without a trailing slash */
    long http_status;  /* of the last request; 0: no answer */
    unsigned retries;  /* 503 retries */
    long timeout;      /* seconds; 0: none */
};

/* ---- messages ---------------------------------------------------------------- */

static _Thread_local char last_error[1024];

const char *cml_client_last_error(void) { return last_error; }

static cml_status fail(cml_status s, const char *fmt, ...) {
    char buf[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(last_error, buf, sizeof buf);
    return s;
}

void cml_client_free(void *p) { free(p); }

/* ---- one-time initialisation ------------------------------------------------------ */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_ok;

static void init_libs(void) {
    init_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK && sodium_init() >= 0;
}

/* ---- growing buffers ----------------------------------------------------------------- */

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
    int oom;
} buf;

/* Appends n bytes, keeping one spare byte for a terminating NUL. */
static int buf_add(buf *b, const void *data, size_t n) {
    if (n >= SIZE_MAX - b->len - 1) return 0;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
    return 1;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg) {
    buf *b = arg;
    if (!buf_add(b, data, size * n)) {
        b->oom = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    return size * n;
}

/* ---- the server's JSON answers ---------------------------------------------------------- */

/* The string value of `key` in a flat JSON object (the server's
 * {"error": ...} and {"key_id": ...}), unescaped into out; 0 if absent or
 * malformed. \uXXXX escapes become UTF-8 (surrogate pairs as '?'). */
static int json_string(const char *s, size_t len, const char *key, char *out, size_t size) {
    const char *end = s + len;
    size_t klen = strlen(key);
    for (const char *p = s; p + klen + 2 <= end; p++) {
        if (*p != '"' || memcmp(p + 1, key, klen) != 0 || p[klen + 1] != '"') continue;
        const char *q = p + klen + 2;
        while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) q++;
        if (q >= end || *q++ != ':') continue;
        while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) q++;
        if (q >= end || *q++ != '"') return 0;
        size_t o = 0;
        while (q < end && *q != '"') {
            char c = *q++;
            if (c == '\\') {
                if (q >= end) return 0;
                c = *q++;
                switch (c) {
                case 'n': c = '\n'; break;
                case 't': c = '\t'; break;
                case 'r': c = '\r'; break;
                case 'b': c = '\b'; break;
                case 'f': c = '\f'; break;
                case 'u': {
                    unsigned v = 0;
                    for (int i = 0; i < 4; i++, q++) {
                        if (q >= end) return 0;
                        char h = *q;
                        v = v * 16 + (unsigned)(h >= '0' && h <= '9' ? h - '0'
                                                : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                                : h >= 'A' && h <= 'F' ? h - 'A' + 10 : 0);
                    }
                    char u[3];
                    size_t un = 0;
                    if (v < 0x80) u[un++] = (char)v;
                    else if (v < 0x800) {
                        u[un++] = (char)(0xC0 | (v >> 6));
                        u[un++] = (char)(0x80 | (v & 0x3F));
                    } else u[un++] = '?';
                    for (size_t i = 0; i < un; i++)
                        if (o + 1 < size) out[o++] = u[i];
                    continue;
                }
                default: break; /* \" \\ \/ stand for themselves */
                }
            }
            if (o + 1 < size) out[o++] = c;
        }
        if (q >= end) return 0;
        if (size) out[o] = '\0';
        return 1;
    }
    return 0;
}

/* ---- requests ------------------------------------------------------------------------------ */

static void sleep_seconds(long s) {
    struct timespec ts = {s, 0};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static cml_status status_of_http(long code, const char *msg) {
    if (code == 404 || code == 405 || code == 413) return CML_ERR_ARG;
    if (code == 400) return strstr(msg, "other parameters") ? CML_ERR_MISMATCH : CML_ERR_FORMAT;
    return CML_ERR_IO;
}

/* METHOD base+path with `body` (POST when not NULL); a 2xx answer's body in
 * *resp (NUL-terminated, owned by the caller), else a message. */
static cml_status request(cml_client *cl, const char *path, const uint8_t *body, size_t len,
                          buf *resp) {
    memset(resp, 0, sizeof *resp);
    cl->http_status = 0;
    size_t ulen = strlen(cl->base) + strlen(path) + 1;
    char *url = malloc(ulen);
    if (!url) return fail(CML_ERR_NOMEM, "out of memory");
    snprintf(url, ulen, "%s%s", cl->base, path);
    const char *method = body ? "POST" : "GET";
    struct curl_slist *hdr = NULL;
    if (body) {
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/octet-stream");
        if (!h) {
            free(url);
            return fail(CML_ERR_NOMEM, "out of memory");
        }
        hdr = h;
    }
    cml_status st = CML_OK;
    for (unsigned attempt = 0;; attempt++) {
        free(resp->p);
        memset(resp, 0, sizeof *resp);
        CURL *c = cl->curl;
        curl_easy_reset(c); /* keeps the live connection */
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, cl->timeout);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
        if (body) {
            curl_easy_setopt(c, CURLOPT_POST, 1L);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)body);
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
        } else {
            curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        }
        CURLcode rc = curl_easy_perform(c);
        if (rc != CURLE_OK) {
            st = resp->oom ? fail(CML_ERR_NOMEM, "%s %s: out of memory for the answer", method, url)
                           : fail(CML_ERR_IO, "%s %s: %s", method, url, curl_easy_strerror(rc));
            break;
        }
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        cl->http_status = code;
        if (code >= 200 && code < 300) break;
        if (code == 503 && attempt < cl->retries) {
            curl_off_t wait = 0;
            if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &wait) != CURLE_OK || wait <= 0) wait = 1;
            sleep_seconds(wait > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : (long)wait);
            continue;
        }
        char msg[512] = "";
        if (!resp->p || !json_string((const char *)resp->p, resp->len, "error", msg, sizeof msg))
            snprintf(msg, sizeof msg, "no error message");
        st = fail(status_of_http(code, msg), "%s %s: HTTP %ld: %s", method, url, code, msg);
        break;
    }
    curl_slist_free_all(hdr);
    free(url);
    if (st) {
        free(resp->p);
        memset(resp, 0, sizeof *resp);
    }
    return st;
}

/* "/models/NAME" + suffix, NAME percent-escaped. */
static char *model_path(cml_client *cl, const char *model, const char *suffix) {
    char *esc = curl_easy_escape(cl->curl, model, 0);
    if (!esc) return NULL;
    size_t n = strlen("/models/") + strlen(esc) + strlen(suffix) + 1;
    char *p = malloc(n);
    if (p) snprintf(p, n, "/models/%s%s", esc, suffix);
    curl_free(esc);
    return p;
}

/* ---- the API ----------------------------------------------------------------------------------- */

cml_status cml_client_connect(const char *url, cml_client **out) {
    if (!out) return fail(CML_ERR_ARG, "cml_client_connect: out is NULL");
    *out = NULL;
    if (!url || !*url) return fail(CML_ERR_ARG, "cml_client_connect: no URL");
    pthread_once(&init_once, init_libs);
    if (!init_ok) return fail(CML_ERR_INTERNAL, "cannot initialise libcurl or libsodium");
    cml_client *cl = calloc(1, sizeof *cl);
    if (!cl || !(cl->base = strdup(url)) || !(cl->curl = curl_easy_init())) {
        cml_client_close(cl);
        return fail(CML_ERR_NOMEM, "out of memory");
    }
    size_t n = strlen(cl->base);
    while (n > 0 && cl->base[n - 1] == '/') cl->base[--n] = '\0';
    cl->retries = 20;
    buf r;
    cml_status st = request(cl, "/health", NULL, 0, &r);
    if (st == CML_OK && !strstr((const char *)r.p, "\"ok\""))
        st = fail(CML_ERR_FORMAT, "GET %s/health: not a cml serve answer", cl->base);
    free(r.p);
    if (st) {
        cml_client_close(cl);
        return st;
    }
    *out = cl;
    return CML_OK;
}

void cml_client_close(cml_client *cl) {
    if (!cl) return;
    if (cl->curl) curl_easy_cleanup(cl->curl);
    free(cl->base);
    free(cl);
}

long cml_client_http_status(const cml_client *cl) { return cl ? cl->http_status : 0; }
void cml_client_set_retries(cml_client *cl, unsigned retries) {
    if (cl) cl->retries = retries;
}
void cml_client_set_timeout(cml_client *cl, long seconds) {
    if (cl) cl->timeout = seconds > 0 ? seconds : 0;
}

cml_status cml_client_spec(cml_client *cl, const char *model, char **yaml, size_t *len) {
    if (yaml) *yaml = NULL;
    if (len) *len = 0;
    if (!cl || !model || !yaml) return fail(CML_ERR_ARG, "cml_client_spec: NULL argument");
    char *path = model_path(cl, model, "/spec");
    if (!path) return fail(CML_ERR_NOMEM, "out of memory");
    buf r;
    cml_status st = request(cl, path, NULL, 0, &r);
    free(path);
    if (st) return st;
    if (!r.p && !buf_add(&r, "", 0)) return fail(CML_ERR_NOMEM, "out of memory");
    *yaml = (char *)r.p;
    if (len) *len = r.len;
    return CML_OK;
}

cml_status cml_client_key_id(const uint8_t *key, size_t len, char id[CML_CLIENT_KEY_ID_SIZE]) {
    if (!key || !id) return fail(CML_ERR_ARG, "cml_client_key_id: NULL argument");
    pthread_once(&init_once, init_libs);
    unsigned char h[32];
    crypto_generichash(h, sizeof h, key, len, NULL, 0);
    sodium_bin2hex(id, CML_CLIENT_KEY_ID_SIZE, h, sizeof h);
    return CML_OK;
}

cml_status cml_client_upload_key(cml_client *cl, const char *model, const uint8_t *key,
                                 size_t len, char id[CML_CLIENT_KEY_ID_SIZE]) {
    if (!cl || !model || !key || !id) return fail(CML_ERR_ARG, "cml_client_upload_key: NULL argument");
    char want[CML_CLIENT_KEY_ID_SIZE];
    cml_client_key_id(key, len, want);
    char *path = model_path(cl, model, "/keys");
    if (!path) return fail(CML_ERR_NOMEM, "out of memory");
    buf r;
    cml_status st = request(cl, path, key, len, &r);
    free(path);
    if (st) return st;
    char got[CML_CLIENT_KEY_ID_SIZE + 1] = "";
    if (!r.p || !json_string((const char *)r.p, r.len, "key_id", got, sizeof got))
        st = fail(CML_ERR_FORMAT, "POST %s/models/%s/keys: the answer has no key_id", cl->base,
                  model);
    else if (strcmp(got, want) != 0)
        st = fail(CML_ERR_FORMAT,
                  "POST %s/models/%s/keys: the server named the key '%s', but its hash is '%s'",
                  cl->base, model, got, want);
    else
        memcpy(id, want, CML_CLIENT_KEY_ID_SIZE);
    free(r.p);
    return st;
}

cml_status cml_client_upload_server_key(cml_client *cl, const char *model,
                                        const cml_server_key *sk,
                                        char id[CML_CLIENT_KEY_ID_SIZE]) {
    if (!sk) return fail(CML_ERR_ARG, "cml_client_upload_server_key: NULL key");
    uint8_t *b;
    size_t n;
    if (cml_server_key_serialize(sk, &b, &n) != CML_OK)
        return fail(CML_ERR_NOMEM, "%s", cml_last_error());
    cml_status st = cml_client_upload_key(cl, model, b, n, id);
    cml_free(b);
    return st;
}

/* A key id as the server names them: 64 lowercase hex digits. */
static int valid_id(const char *id) {
    size_t n = 0;
    for (; id[n]; n++)
        if (!((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'a' && id[n] <= 'f'))) return 0;
    return n == CML_CLIENT_KEY_ID_SIZE - 1;
}

cml_status cml_client_predict_buffer(cml_client *cl, const char *model, const char *key_id,
                                     const uint8_t *in, size_t in_len, uint8_t **out,
                                     size_t *out_len) {
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (!cl || !model || !key_id || !in || !out || !out_len)
        return fail(CML_ERR_ARG, "cml_client_predict_buffer: NULL argument");
    if (!valid_id(key_id))
        return fail(CML_ERR_ARG, "'%s' is not a key id (64 hex digits)", key_id);
    char suffix[sizeof "/predict?key=" + CML_CLIENT_KEY_ID_SIZE];
    snprintf(suffix, sizeof suffix, "/predict?key=%s", key_id);
    char *path = model_path(cl, model, suffix);
    if (!path) return fail(CML_ERR_NOMEM, "out of memory");
    buf r;
    cml_status st = request(cl, path, in, in_len, &r);
    free(path);
    if (st) return st;
    *out = r.p;
    *out_len = r.len;
    return CML_OK;
}

cml_status cml_client_predict(cml_client *cl, const char *model, const char *key_id,
                              const cml_ct *in, cml_ct **out) {
    if (out) *out = NULL;
    if (!in || !out) return fail(CML_ERR_ARG, "cml_client_predict: NULL argument");
    uint8_t *b, *res;
    size_t n, rn;
    if (cml_ct_serialize(in, &b, &n) != CML_OK)
        return fail(CML_ERR_NOMEM, "%s", cml_last_error());
    cml_status st = cml_client_predict_buffer(cl, model, key_id, b, n, &res, &rn);
    cml_free(b);
    if (st) return st;
    st = cml_ct_deserialize(res, rn, cml_ct_params(in), out);
    if (st)
        st = fail(st, "POST %s/models/%s/predict: the answer is not ciphertexts of the inputs' "
                      "parameters: %s",
                  cl->base, model, cml_last_error());
    free(res);
    return st;
}
