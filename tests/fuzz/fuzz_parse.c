/* fuzz_parse.c — libFuzzer target for the .cml frontend (parse_unit).
 *
 * Why it exists: cmlc reads whatever file it is given; on any bytes the
 * scanner and parser must either build a tree or report an error — never
 * crash, overflow the stack, read out of bounds or leak — and the two
 * outcomes must agree with the error count. A tree that was built is
 * printed too, so ast_print walks every node the parser made. The same
 * entry point is replayed over tests/fuzz/parse_corpus by replay.c in every
 * build (ctest frontend.fuzz_corpus).
 *
 * Input: the file's bytes, as is (NULs included: the length is explicit).
 */
#include "ast.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static FILE *sink;
    if (!sink) sink = fopen("/dev/null", "w");
    if (!sink) abort();
    /* diag_source wants a NUL-terminated text (for printing source lines) */
    char *text = malloc(size + 1);
    if (!text) return 0;
    if (size) memcpy(text, data, size);
    text[size] = '\0';
    diag_source src = {"fuzz.cml", text};
    diag_ctx d;
    diag_init(&d, sink);
    arena a;
    arena_init(&a);
    ast_unit *u = parse_unit(&a, &d, &src, size);
    if ((u == NULL) != (d.errors > 0)) abort();
    if (u) ast_print(sink, u);
    arena_free(&a);
    free(text);
    return 0;
}
