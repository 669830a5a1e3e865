/* cml_io.h — what the `cml` subcommands share around a compiled model:
 * loading it with a one-line error, CSV samples in (width checked,
 * quantized), output rows out (printed as `cml predict --simulate` prints
 * them), key and ciphertext files, the progress line. One copy, so that
 * encrypt, decrypt and predict cannot drift apart in what they accept or
 * print. Every function that fails has already written its one line,
 * `cml CMD: FILE: problem`, to stderr. */
#ifndef CML_TOOL_IO_H
#define CML_TOOL_IO_H

#include <cml/runtime.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Values of every row of samples, one buffer per tensor: v[k] holds
 * rows * count values of input (or output) k, row after row — the layout
 * cml_circuit_encrypt takes and cml_circuit_decrypt gives. */
typedef struct cml_rows {
    size_t rows, n;
    int64_t **v;
} cml_rows;

/* "DIR/NAME", malloc'd (NULL if out of memory). */
char *cml_io_join(const char *dir, const char *name);
/* DIR and its missing parents, like mkdir -p; false with errno set (ENOTDIR
 * if DIR exists but is not a directory). */
bool cml_io_make_dir(const char *dir);

/* Makes DIR/client.key and DIR/server.key for c (`cml keygen`; also `cml
 * client` on a spec fetched from a server), refusing to replace keys
 * without `force`; prints what it wrote. MODEL names c in messages. */
bool cml_io_keygen(const char *cmd, const cml_circuit *c, const char *model, const char *dir,
                   bool force);

/* cml_circuit_load, or NULL after "cml CMD: <message>". */
cml_circuit *cml_io_load_model(const char *cmd, const char *path);

/* A key's or ciphertext file's parameters must be the model's: else "cml
 * CMD: PATH: WHAT for other parameters than MODEL's (another model?)" (WHAT:
 * "a client key", "ciphertexts", ...). The runtime refuses such objects
 * too, but names the model, not the file. */
bool cml_io_params_match(const char *cmd, const cml_circuit *c, const cml_params *have,
                         const char *what, const char *path, const char *model_path);

/* Reads CSV samples (csv_read: '-' is stdin), checks their width against
 * the model's inputs and quantizes every row (cml_quantize_input). */
bool cml_io_read_inputs(const char *cmd, const cml_circuit *c, const char *csv_path,
                        cml_rows *out);
/* Zeroed room for `rows` rows of the model's outputs. */
bool cml_io_alloc_outputs(const char *cmd, const cml_circuit *c, size_t rows, cml_rows *out);
void cml_io_rows_free(cml_rows *r);
/* The values of row r of tensor k. */
static inline const int64_t *cml_io_row(const cml_rows *t, const cml_tensor_spec *s, size_t k,
                                        size_t r) {
    return t->v[k] + r * (size_t)s->count;
}

/* Row r of the outputs as `cml predict --simulate` prints it: every output
 * through cml_output_fprint, comma-joined, no newline. */
bool cml_io_print_row(const char *cmd, FILE *f, const cml_circuit *c, const cml_rows *q, size_t r);
/* 1 if row r of a and b are equal (same integer outputs). */
bool cml_io_rows_equal(const cml_circuit *c, const cml_rows *a, const cml_rows *b, size_t r);

/* fflush(stdout), or "cml CMD: cannot write the output". */
bool cml_io_flush_stdout(const char *cmd);

/* Seconds on a monotonic clock. */
double cml_io_now(void);
/* "12.3 MiB", "960 B": into buf. */
const char *cml_io_bytes(char *buf, size_t size, double bytes);

/* A progress line on stderr for batches, only when stderr is a terminal:
 * "  run: 12/100 rows, 3.2 s". cml_io_progress is a cml_circuit_run
 * progress callback (arg: the cml_progress). */
typedef struct cml_progress {
    const char *what;
    double t0, last;
    bool tty, shown;
} cml_progress;
void cml_io_progress_start(cml_progress *p, const char *what);
void cml_io_progress(size_t done, size_t rows, void *arg);
/* Clears the line if one was drawn. */
void cml_io_progress_end(cml_progress *p);

/* Parses `[options] POS...` for the keygen/encrypt/run/decrypt commands:
 * exactly npos positional arguments; "-o FILE" when out is not NULL (then
 * required); flags: NULL-terminated names ("--force", "-v") with one bool
 * each. Returns -1 to go on, else the exit status (0 after --help, 2 after
 * a usage error, both with the usage printed). */
int cml_io_args(const char *cmd, int argc, char **argv, void (*usage)(FILE *), const char **pos,
                int npos, const char **out, const char *const *flags, bool *flag_values);

#endif
