/* lower.h — from the syntax tree to the op-graph IR: the step that gives the
 * language its meaning (names, builtins, types, the integer/real rules of
 * circuits, and post-training quantization of models). Everything after it
 * (passes/, backend/) sees only IR. */
#ifndef CML_FRONTEND_LOWER_H
#define CML_FRONTEND_LOWER_H

#include "ast.h"
#include "ir.h"

/* Lowers one unit. Circuits become integer IR directly; models are run in
 * real arithmetic on calibration data, then emitted as quantized integer IR
 * (inputs/outputs carry their scale and zero point). `base_dir` is the
 * directory `calibrate "file.csv"` paths are relative to (NULL or "" = the
 * current directory). All IR lives in `a`. Returns NULL after reporting
 * errors through d. */
ir_module *lower_unit(arena *a, diag_ctx *d, const ast_unit *u, const char *base_dir);

#endif
