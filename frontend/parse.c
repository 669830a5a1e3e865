/* parse.c — parse_unit(): runs the flex scanner and the bison parser over
 * one file held in memory.
 *
 * Why it exists apart from the grammar: it owns the scanner's lifetime
 * (created and destroyed here on every path, errors included, so nothing
 * leaks) and the one rule every error path relies on — the first error is
 * reported, the rest are consequences and stay silent. */
#include "ast.h"
#include "parse_internal.h"

#include "parser.h"
/* lexer.h needs the parser's value and location types under flex's names. */
#define YYSTYPE CMLYYSTYPE
#define YYLTYPE CMLYYLTYPE
#include "lexer.h"

#include <limits.h>
#include <stdarg.h>

void parse_error(parse_ctx *p, diag_loc loc, const char *fmt, ...) {
    if (p->failed) return;
    p->failed = true;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_error(p->d, loc, "%s", msg);
}

/* Scans and parses; the scanner leaves through p->fatal only when out of
 * memory. Nothing in this frame changes between setjmp and longjmp. */
static int run(parse_ctx *p, yyscan_t scanner, YY_BUFFER_STATE *buf) {
    jmp_buf fatal;
    p->fatal = &fatal;
    if (setjmp(fatal) != 0) return 1;
    *buf = cmlyy_scan_bytes(p->text, (int)p->len, scanner);
    return cmlyyparse(scanner, p);
}

ast_unit *parse_unit(arena *a, diag_ctx *d, const diag_source *src, size_t len) {
    parse_ctx p = {
        .a = a, .d = d, .src = src, .text = src->text, .len = len, .line = 1, .col = 1,
    };
    /* flex sizes its buffers with int and appends two sentinel bytes */
    if (len > (size_t)INT_MAX - 2) {
        parse_error(&p, (diag_loc){src, 1, 1}, "file too large (%zu bytes)", len);
        return NULL;
    }
    yyscan_t scanner;
    if (cmlyylex_init_extra(&p, &scanner) != 0) {
        parse_error(&p, (diag_loc){0}, "out of memory while parsing %s", src->path);
        return NULL;
    }
    YY_BUFFER_STATE buf = NULL;
    int rc = run(&p, scanner, &buf);
    p.fatal = NULL;
    if (buf) cmlyy_delete_buffer(buf, scanner);
    cmlyylex_destroy(scanner);
    if (rc != 0 || !p.unit) {
        /* every failure path reports its own error; this is a safety net */
        parse_error(&p, (diag_loc){src, p.line, p.col}, "syntax error");
        return NULL;
    }
    return p.unit;
}
