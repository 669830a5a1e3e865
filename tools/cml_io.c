/* cml_io.c — the helpers of cml_io.h shared by the `cml` subcommands (see
 * there for why they are shared). */
#define _POSIX_C_SOURCE 200809L
#include "cml_io.h"

#include "csv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

cml_circuit *cml_io_load_model(const char *cmd, const char *path) {
    cml_circuit *c;
    if (cml_circuit_load(path, &c) != CML_OK) {
        fprintf(stderr, "cml %s: %s\n", cmd, cml_last_error());
        return NULL;
    }
    return c;
}

bool cml_io_params_match(const char *cmd, const cml_circuit *c, const cml_params *have,
                         const char *what, const char *path, const char *model_path) {
    const cml_params *p = cml_circuit_params(c);
    if (!p) {
        fprintf(stderr, "cml %s: %s: the spec has no TFHE parameters (compiled before parameter "
                        "selection)\n", cmd, model_path);
        return false;
    }
    if (cml_params_fingerprint(p) == cml_params_fingerprint(have)) return true;
    fprintf(stderr, "cml %s: %s: %s for other parameters than %s's (another model?)\n", cmd, path,
            what, model_path);
    return false;
}

/* ---- rows of tensors ----------------------------------------------------------- */

static bool rows_alloc(const char *cmd, size_t n, size_t rows,
                       const cml_tensor_spec *(*get)(const cml_circuit *, size_t),
                       const cml_circuit *c, cml_rows *out) {
    out->rows = rows;
    out->n = n;
    out->v = calloc(n ? n : 1, sizeof *out->v);
    bool ok = out->v != NULL;
    for (size_t k = 0; ok && k < n; k++) {
        size_t count = (size_t)get(c, k)->count;
        ok = !rows || count <= SIZE_MAX / sizeof(int64_t) / rows;
        size_t values = rows * count;
        if (ok) ok = (out->v[k] = calloc(values ? values : 1, sizeof(int64_t))) != NULL;
    }
    if (!ok) {
        cml_io_rows_free(out);
        fprintf(stderr, "cml %s: out of memory (%zu rows)\n", cmd, rows);
    }
    return ok;
}

void cml_io_rows_free(cml_rows *r) {
    for (size_t k = 0; r->v && k < r->n; k++) free(r->v[k]);
    free(r->v);
    r->v = NULL;
    r->n = r->rows = 0;
}

bool cml_io_alloc_outputs(const char *cmd, const cml_circuit *c, size_t rows, cml_rows *out) {
    return rows_alloc(cmd, cml_circuit_num_outputs(c), rows, cml_circuit_output, c, out);
}

/* Values per row the model needs; false (after a message) if `t` differs. */
static bool check_columns(const char *cmd, const cml_circuit *c, const csv_table *t,
                          const char *path) {
    int64_t want = 0;
    size_t nin = cml_circuit_num_inputs(c);
    for (size_t k = 0; k < nin; k++) want += cml_circuit_input(c, k)->count;
    if (t->cols == want) return true;
    fprintf(stderr, "cml %s: %s: rows need %" PRId64 " values (", cmd, path, want);
    for (size_t k = 0; k < nin; k++)
        fprintf(stderr, "%s%s: %" PRId64, k ? ", " : "", cml_circuit_input(c, k)->name,
                cml_circuit_input(c, k)->count);
    fprintf(stderr, "), got %" PRId64 "\n", t->cols);
    return false;
}

bool cml_io_read_inputs(const char *cmd, const cml_circuit *c, const char *csv_path,
                        cml_rows *out) {
    memset(out, 0, sizeof *out);
    diag_ctx d;
    diag_init(&d, stderr);
    csv_table t;
    if (!csv_read(csv_path, &d, &t)) return false;
    size_t nin = cml_circuit_num_inputs(c);
    bool ok = check_columns(cmd, c, &t, csv_path) &&
              rows_alloc(cmd, nin, (size_t)t.rows, cml_circuit_input, c, out);
    for (int64_t r = 0; ok && r < t.rows; r++) {
        const double *row = t.values + r * t.cols;
        for (size_t k = 0; ok && k < nin; k++) {
            const cml_tensor_spec *s = cml_circuit_input(c, k);
            if (cml_quantize_input(c, k, row, out->v[k] + (size_t)r * (size_t)s->count) != CML_OK) {
                fprintf(stderr, "cml %s: %s: row %" PRId64 ": %s\n", cmd, csv_path, r + 1,
                        cml_last_error());
                ok = false;
            }
            row += s->count;
        }
    }
    csv_free(&t);
    if (!ok) cml_io_rows_free(out);
    return ok;
}

/* ---- printing -------------------------------------------------------------------- */

bool cml_io_print_row(const char *cmd, FILE *f, const cml_circuit *c, const cml_rows *q,
                      size_t r) {
    for (size_t k = 0; k < q->n; k++) {
        const cml_tensor_spec *s = cml_circuit_output(c, k);
        if (k) fputc(',', f);
        if (cml_output_fprint(f, s, cml_io_row(q, s, k, r)) != CML_OK) {
            fprintf(stderr, "cml %s: %s\n", cmd, cml_last_error());
            return false;
        }
    }
    return true;
}

bool cml_io_rows_equal(const cml_circuit *c, const cml_rows *a, const cml_rows *b, size_t r) {
    for (size_t k = 0; k < a->n; k++) {
        const cml_tensor_spec *s = cml_circuit_output(c, k);
        if (memcmp(cml_io_row(a, s, k, r), cml_io_row(b, s, k, r),
                   (size_t)s->count * sizeof(int64_t)) != 0)
            return false;
    }
    return true;
}

bool cml_io_flush_stdout(const char *cmd) {
    if (fflush(stdout) == 0 && !ferror(stdout)) return true;
    fprintf(stderr, "cml %s: cannot write the output\n", cmd);
    return false;
}

/* ---- time, sizes, progress ----------------------------------------------------------- */

double cml_io_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *cml_io_bytes(char *buf, size_t size, double bytes) {
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024.0 && u < 4) {
        bytes /= 1024.0;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
    return buf;
}

void cml_io_progress_start(cml_progress *p, const char *what) {
    p->what = what;
    p->t0 = p->last = cml_io_now();
    p->tty = isatty(STDERR_FILENO) != 0;
    p->shown = false;
}

void cml_io_progress(size_t done, size_t rows, void *arg) {
    cml_progress *p = arg;
    if (!p->tty) return;
    double t = cml_io_now();
    /* at most ~10 redraws a second, and always the last */
    if (done < rows && t - p->last < 0.1) return;
    p->last = t;
    fprintf(stderr, "\r  %s: %zu/%zu rows, %.1f s ", p->what, done, rows, t - p->t0);
    fflush(stderr);
    p->shown = true;
}

void cml_io_progress_end(cml_progress *p) {
    if (p->shown) fputs("\r\033[K", stderr); /* back to the start, erase the line */
    p->shown = false;
}

/* ---- arguments ----------------------------------------------------------------------------- */

int cml_io_args(const char *cmd, int argc, char **argv, void (*usage)(FILE *), const char **pos,
                int npos, const char **out, const char *const *flags, bool *flag_values) {
    int got = 0;
    if (out) *out = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (out && !strcmp(a, "-o")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "cml %s: -o needs a file name\n", cmd);
                usage(stderr);
                return 2;
            }
            *out = argv[++i];
            continue;
        }
        bool flag = false;
        for (size_t f = 0; flags && flags[f]; f++) {
            if (!strcmp(a, flags[f])) {
                flag_values[f] = true;
                flag = true;
            }
        }
        if (flag) continue;
        if (a[0] == '-' && a[1]) {
            fprintf(stderr, "cml %s: unknown option '%s'\n", cmd, a);
            usage(stderr);
            return 2;
        }
        if (got == npos) {
            fprintf(stderr, "cml %s: unexpected argument '%s'\n", cmd, a);
            usage(stderr);
            return 2;
        }
        pos[got++] = a;
    }
    if (got != npos) {
        fprintf(stderr, "cml %s: expected %d arguments, got %d\n", cmd, npos, got);
        usage(stderr);
        return 2;
    }
    if (out && !*out) {
        fprintf(stderr, "cml %s: missing -o FILE\n", cmd);
        usage(stderr);
        return 2;
    }
    return -1;
}

char *cml_io_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

bool cml_io_make_dir(const char *dir) {
    char *p = strdup(dir);
    if (!p) return false;
    bool ok = true;
    for (char *s = p + 1; ok; s++) {
        if (*s != '/' && *s != '\0') continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) ok = false;
        *s = c;
        if (!c) break;
    }
    free(p);
    struct stat st;
    if (ok && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
        errno = ENOTDIR;
        ok = false;
    }
    return ok;
}
