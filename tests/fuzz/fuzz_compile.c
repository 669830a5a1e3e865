/* fuzz_compile.c — libFuzzer target for the whole compiler front half:
 * parse_unit, lower_unit, every pass up to noise (verifier on), then the IR
 * printer and the statistics.
 *
 * Why it exists: cmlc must never crash, assert, leak or run away on any
 * input; it either compiles the text or reports errors. So on every input:
 * a parse, lowering or pass failure must come with an error (and success
 * with none), and what compiled is printed and measured, so the printer and
 * stats walk every op the passes made. Calibration files never exist
 * (base_dir "/nonexistent"): `calibrate "x.csv"` must fail cleanly. The same
 * entry point is replayed over tests/fuzz/compile_corpus by replay.c in
 * every build (ctest compile.fuzz_corpus).
 *
 * Input: the file's bytes, as is (NULs included: the length is explicit).
 */
#include "ast.h"
#include "lower.h"
#include "passes.h"

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
    ir_module *m = u ? lower_unit(&a, &d, u, "/nonexistent") : NULL;
    if (u && (m == NULL) != (d.errors > 0)) abort();
    if (m) {
        bool ok = pass_run(m, &d, &(pass_opts){.verify = true}, PASS_STAGE_NOISE);
        if (ok != (d.errors == 0)) abort();
        if (ok) {
            ir_print(sink, m, IR_PRINT_RANGES | IR_PRINT_NORM2);
            pass_stats st;
            if (pass_stats_collect(m, &st)) {
                pass_stats_print(sink, &st, false);
                pass_stats_print(sink, &st, true);
            }
        }
    }
    arena_free(&a);
    free(text);
    return 0;
}
