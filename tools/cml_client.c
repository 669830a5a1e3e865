/* cml_client.c — `cml client URL MODEL --keys DIR INPUT.csv`: the client
 * side of `cml serve` in one command (docs/deployment.md).
 *
 * MODEL is the name of a served model: the client fetches its spec
 * (GET /models/NAME/spec), which holds everything a client needs (input
 * encodings and quantization, parameters, outputs and their
 * post-processing), and works from it (cml_circuit_from_spec). Or MODEL is
 * a local MODEL.so: then the server's spec must equal the local one byte for
 * byte, else a stale or different build would encrypt at the wrong
 * encodings.
 *
 * Keys: DIR holds client.key and server.key as `cml keygen` writes them
 * (made here when DIR has neither), and key_id, the id the server gave
 * server.key. The id is the BLAKE2b-256 of server.key's bytes, so a key_id
 * that no longer matches server.key (keys regenerated) is never used: the
 * current key is uploaded instead. A 404 for the id (a server with another
 * key store) uploads it again, once. Output rows are printed by the code
 * `cml decrypt` and `cml predict` use (cml_io_print_row). */
#include "cml_io.h"
#include "cml_serve.h"
#include "cml_tool.h"

#include <cml/client.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *f) {
    fputs("usage: cml client URL MODEL --keys DIR INPUT.csv [-v]\n"
          "\n"
          "Runs the model on a `cml serve` server at URL (http://HOST:PORT) without the\n"
          "server seeing inputs or outputs: encrypts every sample of INPUT.csv (read as\n"
          "`cml predict` reads it) with DIR/client.key, sends the ciphertexts, decrypts\n"
          "the answer and prints one row per sample, the text of `cml predict`.\n"
          "MODEL is the name of a model the server runs (`GET URL/models` lists them):\n"
          "the client works from the spec the server gives; or a local MODEL.so, which\n"
          "must then match the server's spec for the model of its name.\n"
          "\n"
          "  --keys DIR  client.key and server.key (as `cml keygen` writes them; made\n"
          "              when DIR has neither) and key_id, the id of server.key on the\n"
          "              server (uploaded when the server does not know it)\n"
          "  -v          print the steps and their times to stderr\n"
          "  -h, --help  this text\n",
          f);
}

/* The whole file, or NULL after a message. */
static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cml client: %s: cannot open: %s\n", path, strerror(errno));
        return NULL;
    }
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            size_t c = cap ? cap * 2 : 1 << 16;
            uint8_t *p = realloc(buf, c);
            if (!p) {
                fprintf(stderr, "cml client: %s: out of memory\n", path);
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
            cap = c;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    bool err = ferror(f) != 0;
    fclose(f);
    if (err) {
        fprintf(stderr, "cml client: %s: read error\n", path);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* DIR/key_id's id, or "" when absent or not an id. */
static void read_key_id(const char *path, char id[CML_CLIENT_KEY_ID_SIZE]) {
    id[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[128];
    if (fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\r\n");
        line[n] = '\0';
        if (n == CML_CLIENT_KEY_ID_SIZE - 1) memcpy(id, line, CML_CLIENT_KEY_ID_SIZE);
    }
    fclose(f);
}

static bool write_key_id(const char *path, const char *id) {
    size_t n = strlen(path) + 8;
    char *tmp = malloc(n);
    if (!tmp) return false;
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    bool ok = f && fprintf(f, "%s\n", id) > 0;
    if (f && fclose(f) != 0) ok = false;
    if (ok && rename(tmp, path) != 0) ok = false;
    if (!ok) {
        fprintf(stderr, "cml client: %s: cannot write: %s\n", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return ok;
}

/* Uploads DIR/server.key and remembers its id. */
static bool upload(cml_client *cl, const char *model, const char *sk_path, const char *id_path,
                   const uint8_t *sk, size_t sk_len, char id[CML_CLIENT_KEY_ID_SIZE],
                   bool verbose) {
    double t0 = cml_io_now();
    if (cml_client_upload_key(cl, model, sk, sk_len, id) != CML_OK) {
        fprintf(stderr, "cml client: %s: %s\n", sk_path, cml_client_last_error());
        return false;
    }
    if (verbose) {
        char b[32];
        fprintf(stderr, "cml client: uploaded %s (%s) in %.2f s: key id %s\n", sk_path,
                cml_io_bytes(b, sizeof b, (double)sk_len), cml_io_now() - t0, id);
    }
    return write_key_id(id_path, id);
}

int cml_cmd_client(int argc, char **argv) {
    const char *pos[3] = {0}, *dir = NULL;
    int npos = 0;
    bool verbose = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "-v")) {
            verbose = true;
        } else if (!strcmp(a, "--keys")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "cml client: --keys needs a directory\n");
                usage(stderr);
                return 2;
            }
            dir = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "cml client: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (npos == 3) {
            fprintf(stderr, "cml client: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        } else {
            pos[npos++] = a;
        }
    }
    if (npos != 3) {
        fprintf(stderr, "cml client: expected 3 arguments (URL MODEL INPUT.csv), got %d\n",
                npos);
        usage(stderr);
        return 2;
    }
    if (!dir) {
        fprintf(stderr, "cml client: missing --keys DIR\n");
        usage(stderr);
        return 2;
    }
    const char *url = pos[0], *model_path = pos[1], *csv = pos[2];

    int rc = 1;
    size_t ml = strlen(model_path);
    bool local = ml > 3 && !strcmp(model_path + ml - 3, ".so");
    cml_circuit *c = NULL;
    if (local && !(c = cml_io_load_model("client", model_path))) return 1;
    char *ck_path = cml_io_join(dir, "client.key"), *sk_path = cml_io_join(dir, "server.key");
    char *id_path = cml_io_join(dir, "key_id");
    cml_client *cl = NULL;
    char *spec = NULL;
    uint8_t *sk = NULL;
    size_t sk_len = 0;
    cml_client_key *ck = NULL;
    cml_ct *x = NULL, *y = NULL;
    cml_rows in = {0}, q = {0};
    const char *name = local ? cml_circuit_name(c) : model_path;
    double t0 = cml_io_now();
    if (!ck_path || !sk_path || !id_path) {
        fprintf(stderr, "cml client: out of memory\n");
        goto done;
    }
    /* a local model's inputs first: a bad CSV costs no keygen and no network */
    if (local && !cml_io_read_inputs("client", c, csv, &in)) goto done;

    if (cml_client_connect(url, &cl) != CML_OK) {
        fprintf(stderr, "cml client: %s\n", cml_client_last_error());
        goto done;
    }
    size_t spec_len;
    if (cml_client_spec(cl, name, &spec, &spec_len) != CML_OK) {
        fprintf(stderr, "cml client: %s\n", cml_client_last_error());
        goto done;
    }
    if (local && strcmp(spec, cml_circuit_spec_text(c)) != 0) {
        fprintf(stderr, "cml client: %s: the server's model '%s' is not this model (their specs "
                        "differ: another build?)\n", model_path, name);
        goto done;
    }
    if (!local) {
        char origin[512];
        snprintf(origin, sizeof origin, "%s/models/%s", url, name);
        if (cml_circuit_from_spec(spec, spec_len, origin, &c) != CML_OK) {
            fprintf(stderr, "cml client: %s\n", cml_last_error());
            goto done;
        }
        if (!cml_io_read_inputs("client", c, csv, &in)) goto done;
    }
    if (!cml_circuit_params(c)) {
        fprintf(stderr, "cml client: %s: the spec has no TFHE parameters (compiled before "
                        "parameter selection)\n", model_path);
        goto done;
    }

    bool have_ck = access(ck_path, F_OK) == 0, have_sk = access(sk_path, F_OK) == 0;
    if (have_ck != have_sk) {
        fprintf(stderr, "cml client: %s: has %s but not %s (remove it for a fresh pair)\n",
                dir, have_ck ? "client.key" : "server.key", have_ck ? "server.key" : "client.key");
        goto done;
    }
    if (!have_ck && !cml_io_keygen("client", c, model_path, dir, false)) goto done;
    if (cml_client_key_load(ck_path, &ck) != CML_OK) {
        fprintf(stderr, "cml client: %s\n", cml_last_error());
        goto done;
    }
    if (!cml_io_params_match("client", c, cml_client_key_params(ck), "a client key", ck_path,
                             model_path))
        goto done;

    /* the id the server knows server.key by; a stale key_id is never used */
    if (!(sk = read_file(sk_path, &sk_len))) goto done;
    char id[CML_CLIENT_KEY_ID_SIZE], have_id[CML_CLIENT_KEY_ID_SIZE];
    cml_client_key_id(sk, sk_len, id);
    read_key_id(id_path, have_id);
    bool uploaded = false;
    if (strcmp(id, have_id) != 0) {
        if (!upload(cl, name, sk_path, id_path, sk, sk_len, id, verbose)) goto done;
        uploaded = true;
    }

    double t1 = cml_io_now();
    if (cml_circuit_encrypt(c, ck, in.rows, (const int64_t *const *)in.v, &x) != CML_OK) {
        fprintf(stderr, "cml client: %s\n", cml_last_error());
        goto done;
    }
    double t2 = cml_io_now();
    cml_status st = cml_client_predict(cl, name, id, x, &y);
    if (st != CML_OK && cml_client_http_status(cl) == 404 && !uploaded) {
        /* a server that does not know the key (another key store): once more */
        if (verbose) fprintf(stderr, "cml client: the server does not know key %s\n", id);
        if (!upload(cl, name, sk_path, id_path, sk, sk_len, id, verbose)) goto done;
        st = cml_client_predict(cl, name, id, x, &y);
    }
    if (st != CML_OK) {
        fprintf(stderr, "cml client: %s\n", cml_client_last_error());
        goto done;
    }
    double t3 = cml_io_now();
    if (!cml_io_alloc_outputs("client", c, in.rows, &q)) goto done;
    size_t rows = 0;
    if (cml_circuit_decrypt(c, ck, y, q.v, &rows) != CML_OK) {
        fprintf(stderr, "cml client: %s\n", cml_last_error());
        goto done;
    }
    if (rows != in.rows) {
        fprintf(stderr, "cml client: the server answered %zu rows for %zu\n", rows, in.rows);
        goto done;
    }
    bool ok = true;
    for (size_t r = 0; ok && r < q.rows; r++) {
        ok = cml_io_print_row("client", stdout, c, &q, r);
        if (ok) fputc('\n', stdout);
    }
    if (!ok || !cml_io_flush_stdout("client")) goto done;
    if (verbose)
        fprintf(stderr, "cml client: %zu rows: setup %.3f s, encrypt %.3f s, server round trip "
                        "%.3f s, decrypt %.3f s\n",
                in.rows, t1 - t0, t2 - t1, t3 - t2, cml_io_now() - t3);
    rc = 0;
done:
    cml_io_rows_free(&q);
    cml_io_rows_free(&in);
    cml_ct_destroy(y);
    cml_ct_destroy(x);
    free(sk);
    cml_client_key_destroy(ck);
    cml_client_free(spec);
    cml_client_close(cl);
    free(ck_path);
    free(sk_path);
    free(id_path);
    cml_circuit_free(c);
    return rc;
}
