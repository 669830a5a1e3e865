/* cml_keygen.c — `cml keygen MODEL.so -o DIR`: the client side's first
 * step. Makes fresh keys for the model's parameters and writes them as two
 * files because they go to two places: DIR/client.key is the secret (mode
 * 0600, stays with the client), DIR/server.key holds only evaluation keys
 * (goes to whoever runs the model). Both are written atomically by the
 * runtime; an existing client key is not replaced without --force, since
 * ciphertexts made under it could never be decrypted again. */
#include "cml_io.h"
#include "cml_tool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *f) {
    fputs("usage: cml keygen MODEL.so -o DIR [--force]\n"
          "\n"
          "Generates fresh keys for the model's TFHE parameters and writes\n"
          "  DIR/client.key  the secret key (file mode 0600): encrypts and decrypts;\n"
          "                  keep it on the client\n"
          "  DIR/server.key  the evaluation keys only: what `cml run` needs\n"
          "DIR is created if needed. Key sizes and the time taken go to stderr.\n"
          "\n"
          "  -o DIR      where to write the keys\n"
          "  --force     replace existing keys (ciphertexts made with them can no\n"
          "              longer be decrypted)\n"
          "  -h, --help  this text\n",
          f);
}

int cml_cmd_keygen(int argc, char **argv) {
    const char *pos[1], *dir;
    static const char *const flags[] = {"--force", NULL};
    bool force = false;
    int rc = cml_io_args("keygen", argc, argv, usage, pos, 1, &dir, flags, &force);
    if (rc >= 0) return rc;

    cml_circuit *c = cml_io_load_model("keygen", pos[0]);
    if (!c) return 1;
    rc = cml_io_keygen("keygen", c, pos[0], dir, force) ? 0 : 1;
    cml_circuit_free(c);
    return rc;
}

bool cml_io_keygen(const char *cmd, const cml_circuit *c, const char *model, const char *dir,
                   bool force) {
    bool ok = false;
    char *ck_path = cml_io_join(dir, "client.key"), *sk_path = cml_io_join(dir, "server.key");
    cml_context *ctx = NULL;
    cml_client_key *ck = NULL;
    cml_server_key *sk = NULL;
    if (!ck_path || !sk_path) {
        fprintf(stderr, "cml %s: out of memory\n", cmd);
        goto done;
    }
    if (!cml_circuit_params(c)) {
        fprintf(stderr, "cml %s: %s: the spec has no TFHE parameters (compiled before "
                        "parameter selection)\n", cmd, model);
        goto done;
    }
    if (!cml_io_make_dir(dir)) {
        fprintf(stderr, "cml %s: %s: cannot create the directory: %s\n", cmd, dir,
                strerror(errno));
        goto done;
    }
    if (!force && (access(ck_path, F_OK) == 0 || access(sk_path, F_OK) == 0)) {
        fprintf(stderr,
                "cml %s: %s: keys exist already (--force replaces them; ciphertexts made "
                "with the old client key could no longer be decrypted)\n", cmd,
                access(ck_path, F_OK) == 0 ? ck_path : sk_path);
        goto done;
    }
    if (cml_context_create(0, &ctx) != CML_OK) {
        fprintf(stderr, "cml %s: %s\n", cmd, cml_last_error());
        goto done;
    }
    double t0 = cml_io_now();
    if (cml_circuit_keygen(c, ctx, &ck, &sk) != CML_OK) {
        fprintf(stderr, "cml %s: %s\n", cmd, cml_last_error());
        goto done;
    }
    double t1 = cml_io_now();
    if (cml_client_key_save(ck, ck_path) != CML_OK) {
        fprintf(stderr, "cml %s: %s\n", cmd, cml_last_error());
        goto done;
    }
    if (cml_server_key_save(sk, sk_path) != CML_OK) {
        fprintf(stderr, "cml %s: %s\n", cmd, cml_last_error());
        unlink(ck_path); /* half a key set is of no use */
        goto done;
    }
    double t2 = cml_io_now();
    struct stat cs, ss;
    char a[32], b[32], e[32];
    if (stat(ck_path, &cs) != 0 || stat(sk_path, &ss) != 0) cs.st_size = ss.st_size = 0;
    const cml_params *p = cml_circuit_params(c);
    fprintf(stderr,
            "cml %s: %s: keys for '%s' (k %u, N %u, n %u%s) in %.2f s, written in %.2f s\n",
            cmd, dir, cml_circuit_name(c), p->glwe_dimension, p->polynomial_size,
            p->lwe_dimension, p->lwe_dimension ? "" : ": no bootstrap", t1 - t0, t2 - t1);
    fprintf(stderr, "  %s: %s (secret: keep it on the client)\n", ck_path,
            cml_io_bytes(a, sizeof a, (double)cs.st_size));
    fprintf(stderr, "  %s: %s (bootstrap key %s, keyswitch key %s", sk_path,
            cml_io_bytes(a, sizeof a, (double)ss.st_size),
            cml_io_bytes(b, sizeof b, (double)cml_server_key_bsk_bytes(sk)),
            cml_io_bytes(e, sizeof e, (double)cml_server_key_ksk_bytes(sk)));
    if (cml_server_key_light_bytes(sk))
        fprintf(stderr, ", light bootstrap key %s",
                cml_io_bytes(b, sizeof b, (double)cml_server_key_light_bytes(sk)));
    fputs(")\n", stderr);
    ok = true;
done:
    cml_server_key_destroy(sk);
    cml_client_key_destroy(ck);
    cml_context_destroy(ctx);
    free(ck_path);
    free(sk_path);
    return ok;
}
