/* diag.h — compiler diagnostics in clang's form:
 *     file.cml:12:7: error: message
 *        12 | h = relu(dense(x, W1, b1));
 *           |       ^
 * Every AST node and IR op carries a diag_loc so every error can point at
 * source. Diagnostics go to a FILE* (stderr in the tools, a memstream in
 * tests) and are counted so the driver can exit with status 1. */
#ifndef CML_SUPPORT_DIAG_H
#define CML_SUPPORT_DIAG_H

#include <stdio.h>

typedef struct diag_source {
    const char *path;  /* as given on the command line */
    const char *text;  /* whole file, NUL-terminated */
} diag_source;

typedef struct diag_loc {
    const diag_source *src; /* NULL: no location (command-line errors) */
    int line, col;          /* 1-based */
} diag_loc;

typedef enum { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } diag_level;

typedef struct diag_ctx {
    FILE *out;
    int errors, warnings;
    int color; /* ANSI colours when out is a terminal */
} diag_ctx;

void diag_init(diag_ctx *d, FILE *out);
void diag_report(diag_ctx *d, diag_level level, diag_loc loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define diag_error(d, loc, ...) diag_report((d), DIAG_ERROR, (loc), __VA_ARGS__)
#define diag_note(d, loc, ...) diag_report((d), DIAG_NOTE, (loc), __VA_ARGS__)
#define diag_warning(d, loc, ...) diag_report((d), DIAG_WARNING, (loc), __VA_ARGS__)

#endif
