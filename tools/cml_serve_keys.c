/* cml_serve_keys.c — the key store of `cml serve` (see cml_serve.h).
 *
 * Why it looks like this: evaluation keys are large (tens of MB to GB) and
 * public, and the server must survive restarts without asking every client
 * to upload again. So keys go to disk, named by the hash of their bytes
 * (idempotent uploads, ids nobody can choose), and only a few stay loaded.
 * A key is only ever written after the runtime's validating loader accepted
 * it as a server key of the model's parameters; a client (secret) key is
 * recognised from its header before any parsing, refused and wiped from
 * memory. Ids are checked to be 64 hex digits before they are used in a
 * path, so a request cannot name a file outside the store.
 *
 * Concurrency: one mutex over the cache list. Loading a key from disk (up to
 * seconds for large keys) happens outside the lock; a second request for the
 * same id waits for that load instead of starting another. */
#include "cml_serve.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct serve_key_ref {
    const serve_model *m;
    char id[SERVE_KEY_ID_LEN + 1];
    cml_server_key *sk; /* NULL while loading or after a failed load */
    bool loading, cached;
    serve_err err;      /* why a load failed */
    size_t refs;        /* users, plus one while in the cache */
    uint64_t used;      /* LRU clock */
    serve_key_ref *next;
};

struct serve_keys {
    char *root;
    cml_context *ctx;
    size_t cache_max, n;
    uint64_t tick;
    serve_key_ref *list; /* cached entries */
    pthread_mutex_t lock;
    pthread_cond_t loaded;
};

void serve_err_set(serve_err *e, int status, const char *fmt, ...) {
    e->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

serve_keys *serve_keys_create(const char *root, cml_context *ctx, size_t cache_max) {
    serve_keys *ks = calloc(1, sizeof *ks);
    if (!ks || !(ks->root = strdup(root))) {
        free(ks);
        return NULL;
    }
    ks->ctx = ctx;
    ks->cache_max = cache_max ? cache_max : 1;
    pthread_mutex_init(&ks->lock, NULL);
    pthread_cond_init(&ks->loaded, NULL);
    return ks;
}

static void ref_free(serve_key_ref *r) {
    cml_server_key_destroy(r->sk);
    free(r);
}

void serve_keys_destroy(serve_keys *ks) {
    if (!ks) return;
    for (serve_key_ref *r = ks->list, *next; r; r = next) {
        next = r->next;
        ref_free(r); /* no request is running any more */
    }
    pthread_mutex_destroy(&ks->lock);
    pthread_cond_destroy(&ks->loaded);
    free(ks->root);
    free(ks);
}

/* ROOT/MODEL[/FILE], malloc'd. */
static char *store_path(const serve_keys *ks, const serve_model *m, const char *file) {
    size_t n = strlen(ks->root) + strlen(m->name) + (file ? strlen(file) : 0) + 3;
    char *p = malloc(n);
    if (!p) return NULL;
    if (file)
        snprintf(p, n, "%s/%s/%s", ks->root, m->name, file);
    else
        snprintf(p, n, "%s/%s", ks->root, m->name);
    return p;
}

static char *key_path(const serve_keys *ks, const serve_model *m, const char *id) {
    char file[SERVE_KEY_ID_LEN + 8];
    snprintf(file, sizeof file, "%s.key", id);
    return store_path(ks, m, file);
}

bool serve_keys_prepare(serve_keys *ks, const serve_model *m) {
    char *dir = store_path(ks, m, NULL);
    if (!dir) {
        errno = ENOMEM;
        return false;
    }
    bool ok = mkdir(dir, 0755) == 0 || errno == EEXIST;
    struct stat st;
    if (ok && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
        errno = ENOTDIR;
        ok = false;
    }
    free(dir);
    return ok;
}

bool serve_key_id_valid(const char *id) {
    size_t n = 0;
    for (; id[n]; n++)
        if (!((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'a' && id[n] <= 'f'))) return false;
    return n == SERVE_KEY_ID_LEN;
}

/* ---- the cache (callers hold ks->lock) ------------------------------------------ */

static serve_key_ref *find(serve_keys *ks, const serve_model *m, const char *id) {
    for (serve_key_ref *r = ks->list; r; r = r->next)
        if (r->m == m && !strcmp(r->id, id)) return r;
    return NULL;
}

static void unlink_ref(serve_keys *ks, serve_key_ref *r) {
    for (serve_key_ref **p = &ks->list; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            r->cached = false;
            ks->n--;
            return;
        }
    }
}

/* Drops the cache's reference; frees the entry once nobody uses it. */
static void drop(serve_keys *ks, serve_key_ref *r) {
    unlink_ref(ks, r);
    if (--r->refs == 0) ref_free(r);
}

/* Keeps at most cache_max entries: the least recently used loaded ones go
 * (entries still loading are never chosen). */
static void evict(serve_keys *ks) {
    while (ks->n > ks->cache_max) {
        serve_key_ref *lru = NULL;
        for (serve_key_ref *r = ks->list; r; r = r->next)
            if (!r->loading && (!lru || r->used < lru->used)) lru = r;
        if (!lru) return;
        drop(ks, lru);
    }
}

static serve_key_ref *insert(serve_keys *ks, const serve_model *m, const char *id) {
    serve_key_ref *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->m = m;
    memcpy(r->id, id, SERVE_KEY_ID_LEN + 1);
    r->cached = true;
    r->refs = 1;
    r->used = ++ks->tick;
    r->next = ks->list;
    ks->list = r;
    ks->n++;
    return r;
}

size_t serve_keys_cached(serve_keys *ks) {
    pthread_mutex_lock(&ks->lock);
    size_t n = 0;
    for (serve_key_ref *r = ks->list; r; r = r->next) n += r->sk != NULL;
    pthread_mutex_unlock(&ks->lock);
    return n;
}

bool serve_keys_exists(serve_keys *ks, const serve_model *m, const char *id) {
    if (!serve_key_id_valid(id)) return false;
    pthread_mutex_lock(&ks->lock);
    serve_key_ref *r = find(ks, m, id);
    bool found = r && (r->sk || r->loading);
    pthread_mutex_unlock(&ks->lock);
    if (found) return true;
    char *p = key_path(ks, m, id);
    found = p && access(p, R_OK) == 0;
    free(p);
    return found;
}

/* ---- reading keys ------------------------------------------------------------------- */

static void unknown_key(serve_err *err, const serve_model *m, const char *id) {
    serve_err_set(err, 404, "unknown key id '%.80s' for model '%s' (upload the server key to "
                            "POST /models/%s/keys first)", id, m->name, m->name);
}

/* Loads ROOT/MODEL/ID.key outside the lock: NULL with err set on failure. */
static cml_server_key *load_from_disk(serve_keys *ks, const serve_model *m, const char *id,
                                      serve_err *err) {
    char *p = key_path(ks, m, id);
    if (!p) {
        serve_err_set(err, 500, "out of memory");
        return NULL;
    }
    cml_server_key *sk = NULL;
    if (access(p, F_OK) != 0) {
        unknown_key(err, m, id);
    } else if (cml_server_key_load(ks->ctx, p, &sk) != CML_OK) {
        serve_err_set(err, 500, "stored key %s cannot be loaded: %s", id, cml_last_error());
    } else if (cml_params_fingerprint(cml_server_key_params(sk)) != m->fingerprint) {
        serve_err_set(err, 500, "stored key %s is for other parameters than model '%s'", id,
                      m->name);
        cml_server_key_destroy(sk);
        sk = NULL;
    }
    free(p);
    return sk;
}

serve_key_ref *serve_keys_get(serve_keys *ks, const serve_model *m, const char *id,
                              serve_err *err) {
    if (!serve_key_id_valid(id)) {
        unknown_key(err, m, "(not 64 hex digits)");
        return NULL;
    }
    pthread_mutex_lock(&ks->lock);
    serve_key_ref *r = find(ks, m, id);
    if (r) {
        r->refs++;
        while (r->loading) pthread_cond_wait(&ks->loaded, &ks->lock);
        if (!r->sk) { /* the load we waited for failed */
            *err = r->err;
            if (--r->refs == 0) ref_free(r);
            r = NULL;
        } else {
            r->used = ++ks->tick;
        }
        pthread_mutex_unlock(&ks->lock);
        return r;
    }
    if (!(r = insert(ks, m, id))) {
        pthread_mutex_unlock(&ks->lock);
        serve_err_set(err, 500, "out of memory");
        return NULL;
    }
    r->refs++; /* ours */
    r->loading = true;
    pthread_mutex_unlock(&ks->lock);

    cml_server_key *sk = load_from_disk(ks, m, id, &r->err);

    pthread_mutex_lock(&ks->lock);
    r->loading = false;
    r->sk = sk;
    if (!sk) {
        *err = r->err;
        size_t gone = 1; /* ours, and the cache's unless evicted meanwhile */
        if (r->cached) {
            unlink_ref(ks, r);
            gone++;
        }
        r->refs -= gone;
        if (r->refs == 0) ref_free(r);
        r = NULL;
    } else {
        evict(ks);
    }
    pthread_cond_broadcast(&ks->loaded);
    pthread_mutex_unlock(&ks->lock);
    return r;
}

const cml_server_key *serve_key_ref_key(const serve_key_ref *r) { return r ? r->sk : NULL; }

void serve_keys_release(serve_keys *ks, serve_key_ref *r) {
    if (!r) return;
    pthread_mutex_lock(&ks->lock);
    if (--r->refs == 0) ref_free(r);
    pthread_mutex_unlock(&ks->lock);
}

/* ---- storing keys ------------------------------------------------------------------------ */

static bool write_all(int fd, const uint8_t *p, size_t len) {
    while (len > 0) {
        ssize_t w = write(fd, p, len > (1u << 30) ? (1u << 30) : len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        len -= (size_t)w;
    }
    return true;
}

/* Writes the key to a temporary file in the model's directory, then renames
 * it: a crash leaves either no key or the whole key, never half of one. */
static bool store(serve_keys *ks, const serve_model *m, const char *id, const uint8_t *body,
                  size_t len, serve_err *err) {
    char *dir = store_path(ks, m, NULL), *tmp = store_path(ks, m, ".upload.XXXXXX");
    char *path = key_path(ks, m, id);
    bool ok = false;
    int fd = -1;
    if (!dir || !tmp || !path) {
        serve_err_set(err, 500, "out of memory");
        goto done;
    }
    if ((fd = mkstemp(tmp)) < 0) {
        serve_err_set(err, 500, "cannot store the key: %s: %s", dir, strerror(errno));
        goto done;
    }
    if (!write_all(fd, body, len) || fsync(fd) != 0 || fchmod(fd, 0644) != 0) {
        serve_err_set(err, 500, "cannot store the key: %s", strerror(errno));
        goto done;
    }
    if (close(fd) != 0) {
        fd = -1;
        serve_err_set(err, 500, "cannot store the key: %s", strerror(errno));
        goto done;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        serve_err_set(err, 500, "cannot store the key: %s", strerror(errno));
        goto done;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) { /* make the rename itself durable; best effort */
        (void)fsync(dfd);
        close(dfd);
    }
    ok = true;
done:
    if (fd >= 0) close(fd);
    if (!ok && tmp) unlink(tmp);
    free(dir);
    free(tmp);
    free(path);
    return ok;
}

/* The header fields that tell a client key from everything else
 * (docs/serialization.md): the magic, then the kind (1: client key) as a
 * little-endian u32 at offset 12. */
bool serve_is_client_key(const uint8_t *b, size_t len) {
    static const uint8_t magic[8] = {'C', 'M', 'L', 'T', 'F', 'H', 'E', 0};
    return len >= 16 && memcmp(b, magic, 8) == 0 && b[12] == 1 && b[13] == 0 && b[14] == 0 &&
           b[15] == 0;
}

int serve_keys_put(serve_keys *ks, const serve_model *m, uint8_t *body, size_t len,
                   char id[SERVE_KEY_ID_LEN + 1], serve_err *err) {
    if (len == 0) {
        serve_err_set(err, 400, "empty body: send the serialized server key (server.key)");
        return 400;
    }
    if (serve_is_client_key(body, len)) {
        sodium_memzero(body, len);
        serve_err_set(err, 400, "this is a client (secret) key: secret keys are never accepted; "
                                "upload server.key, the evaluation keys (and treat this client "
                                "key as compromised)");
        return 400;
    }
    cml_server_key *sk;
    if (cml_server_key_deserialize(ks->ctx, body, len, &sk) != CML_OK) {
        serve_err_set(err, 400, "not a valid server key: %s", cml_last_error());
        return 400;
    }
    uint64_t fp = cml_params_fingerprint(cml_server_key_params(sk));
    if (fp != m->fingerprint) {
        cml_server_key_destroy(sk);
        serve_err_set(err, 400,
                      "a server key for other parameters than model '%s' (fingerprint %016llx, "
                      "the model's %016llx): keys from another model?",
                      m->name, (unsigned long long)fp, (unsigned long long)m->fingerprint);
        return 400;
    }
    unsigned char h[32];
    crypto_generichash(h, sizeof h, body, len, NULL, 0);
    sodium_bin2hex(id, SERVE_KEY_ID_LEN + 1, h, sizeof h);

    char *path = key_path(ks, m, id);
    bool had = path && access(path, F_OK) == 0;
    free(path);
    if (!had && !store(ks, m, id, body, len, err)) {
        cml_server_key_destroy(sk);
        return err->status;
    }
    pthread_mutex_lock(&ks->lock);
    serve_key_ref *r = find(ks, m, id);
    if (!r && (r = insert(ks, m, id))) {
        r->sk = sk;
        sk = NULL;
        evict(ks);
    }
    pthread_mutex_unlock(&ks->lock);
    cml_server_key_destroy(sk); /* cached already (or no memory to cache it) */
    return had ? 200 : 201;
}
