/* cmlc.h — pieces of the compiler driver kept out of cmlc.c: running the
 * final IR on CSV samples (--simulate) and loading calibration samples
 * (--calibrate). Both map CSV rows to the circuit's inputs the same way:
 * each row holds every input flattened row-major, in declaration order. */
#ifndef CML_TOOLS_CMLC_H
#define CML_TOOLS_CMLC_H

#include "interp.h"

#include <stdio.h>

typedef struct cmlc_calib {
    ir_tensor *inputs; /* rows x ninputs, row-major */
    int64_t rows;
    int ninputs;
} cmlc_calib;

/* Reads `path` as samples for m's inputs (model inputs are quantized with
 * their input quantization). false after reporting through d. */
bool cmlc_load_calibration(const ir_module *m, const char *path, diag_ctx *d, cmlc_calib *out);
void cmlc_calib_free(cmlc_calib *c);

/* Runs m's final IR on every row of `path` and prints one output row per
 * sample (models: dequantized, then post-processed). */
bool cmlc_simulate(const ir_module *m, const char *path, FILE *out, diag_ctx *d);

#endif
