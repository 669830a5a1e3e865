/* csv.h — the numeric CSV files CML reads (calibration data, `--input`,
 * `cml encrypt`): one row per sample, comma-separated numbers, an optional
 * first line starting with `#` as a header, blank trailing lines allowed
 * (DESIGN §1). Errors point into the file like compiler diagnostics
 * (`data.csv:3:7: error: ...` with the line and a caret) because a bad
 * calibration file is a user error to be fixed at a precise place. */
#ifndef CML_SUPPORT_CSV_H
#define CML_SUPPORT_CSV_H

#include "diag.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct csv_table {
    int64_t rows, cols;
    double *values; /* rows * cols, row-major; malloc-owned (csv_free) */
} csv_table;

/* Reads and validates the whole file. On error reports through d (a missing
 * or unreadable file without a location, everything else at its line and
 * column) and returns false with *out zeroed. */
/* path "-" reads standard input. */
bool csv_read(const char *path, diag_ctx *d, csv_table *out);
/* Same from text already in memory (`len` bytes; NUL bytes are errors);
 * `path` only names the source in diagnostics. */
bool csv_parse(const char *path, const char *text, size_t len, diag_ctx *d, csv_table *out);
void csv_free(csv_table *t);

#endif
