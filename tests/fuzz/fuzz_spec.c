/* fuzz_spec.c — libFuzzer target for the circuit spec parser, through
 * cml_circuit_from_spec.
 *
 * Why it exists: `cml client` builds its circuit from the spec a server
 * sends, so the spec parser reads bytes from the network. Whatever they
 * are, it must refuse them with a message or produce a circuit whose
 * client-side calls (accessors, quantization of every input, row sizes)
 * stay in bounds, without crashing or leaking. Replayed over
 * tests/fuzz/spec_corpus by replay.c in every build (ctest
 * runtime.fuzz_spec_corpus).
 */
#include <cml/runtime.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cml_circuit *c = NULL;
    if (cml_circuit_from_spec((const char *)data, size, "fuzz", &c) != CML_OK) return 0;
    (void)cml_circuit_row_cts(c, 0);
    (void)cml_circuit_row_cts(c, 1);
    for (size_t k = 0; k < cml_circuit_num_inputs(c); k++) {
        const cml_tensor_spec *t = cml_circuit_input(c, k);
        if (t->count > (1 << 16)) continue; /* bounded work per input */
        double *x = malloc((size_t)t->count * sizeof *x);
        int64_t *q = malloc((size_t)t->count * sizeof *q);
        if (x && q) {
            for (int64_t i = 0; i < t->count; i++) x[i] = (double)(i % 7) - 3.25;
            (void)cml_quantize_input(c, k, x, q);
        }
        free(x);
        free(q);
    }
    for (size_t k = 0; k < cml_circuit_num_outputs(c); k++) {
        const cml_tensor_spec *t = cml_circuit_output(c, k);
        if (t->count > (1 << 16)) continue;
        int64_t *q = calloc((size_t)t->count, sizeof *q);
        double *y = calloc((size_t)t->count, sizeof *y);
        if (q && y) {
            (void)cml_dequantize_output(c, k, q, y);
            (void)cml_post_apply(t->post, y, (size_t)t->count);
        }
        free(q);
        free(y);
    }
    cml_circuit_free(c);
    return 0;
}
