/* diag.c — prints diagnostics with the source line and a caret (diag.h). */
#include "diag.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

void diag_init(diag_ctx *d, FILE *out) {
    d->out = out;
    d->errors = d->warnings = 0;
    d->color = isatty(fileno(out));
}

static const char *level_name(diag_level l) {
    switch (l) {
    case DIAG_ERROR: return "error";
    case DIAG_WARNING: return "warning";
    default: return "note";
    }
}

static const char *level_color(diag_level l) {
    switch (l) {
    case DIAG_ERROR: return "\033[1;31m";
    case DIAG_WARNING: return "\033[1;35m";
    default: return "\033[1;36m";
    }
}

/* Prints line `line` of the source and a caret under column `col`. Tabs in
 * the prefix are kept so the caret lines up whatever the tab width. */
static void print_source_line(FILE *out, const diag_source *src, int line, int col) {
    const char *p = src->text;
    for (int l = 1; l < line && p; l++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    if (!p || !*p) return;
    size_t len = strcspn(p, "\n");
    fprintf(out, "%5d | %.*s\n      | ", line, (int)len, p);
    for (int c = 1; c < col && (size_t)(c - 1) < len; c++) fputc(p[c - 1] == '\t' ? '\t' : ' ', out);
    fputs("^\n", out);
}

void diag_report(diag_ctx *d, diag_level level, diag_loc loc, const char *fmt, ...) {
    if (level == DIAG_ERROR) d->errors++;
    if (level == DIAG_WARNING) d->warnings++;
    FILE *out = d->out;
    if (d->color) fputs("\033[1m", out);
    if (loc.src)
        fprintf(out, "%s:%d:%d: ", loc.src->path, loc.line, loc.col);
    if (d->color) fputs(level_color(level), out);
    fprintf(out, "%s:", level_name(level));
    if (d->color) fputs("\033[0m\033[1m", out);
    fputc(' ', out);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    if (d->color) fputs("\033[0m", out);
    fputc('\n', out);
    if (loc.src && loc.src->text) print_source_line(out, loc.src, loc.line, loc.col);
}
