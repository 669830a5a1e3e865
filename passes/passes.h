/* passes.h — the compiler passes between the op-graph IR the frontend builds
 * and the TFHE-level lowering (DESIGN §5): shapes, lowering of ops on two
 * encrypted values, TLU fusion, bit-width inference, rounding, noise,
 * parameter selection, and the statistics `cmlc --stats` prints. One file
 * per pass; pass_run() runs them in order up to a stage, verifying the IR
 * between passes. Parameter selection asks the runtime's optimiser
 * (cml/tfhe.h: the runtime's public headers are allowed here, DESIGN §2). */
#ifndef CML_PASSES_H
#define CML_PASSES_H

#include "cml/tfhe.h"
#include "interp.h"
#include "ir.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The widest PBS precision of the runtime parameter sets kept in CI: the
 * automatic rounding target. */
#define PASS_MAX_PRECISION 8
/* The widest table lookup input the compiler materialises at all. */
#define PASS_MAX_TLU_BITS 16
/* The most ops the main function may count after lowering ops of two
 * encrypted values (a maxpool2d window of KxK on encrypted data becomes
 * about 6 K^2 ops): bounds the work of every later pass. */
#define PASS_MAX_OPS (1 << 15)

typedef struct pass_opts {
    int round_to; /* 0 = automatic: tlu precision limit = PASS_MAX_PRECISION; else 1..16 */
    /* Optional calibration data: calib_rows rows of one tensor per circuit
     * input (calib_inputs[row * ninputs + k] feeds the input of index k).
     * When set, bit-width inference uses the ranges observed on these rows
     * instead of the sound interval analysis. */
    const ir_tensor *calib_inputs;
    int64_t calib_rows;
    bool verify; /* ir_verify after every pass (always on in builds without NDEBUG) */
    /* Parameter selection: failure probability of one PBS, in (0, 1); 0 =
     * default 2^-40 (CML_P_ERROR_DEFAULT_LOG2). Or, with global_p_error in
     * (0, 1) instead (0 = unset; setting both is an error), the probability
     * that any PBS of one run fails. */
    double p_error;
    double global_p_error;
} pass_opts;

typedef enum {
    PASS_STAGE_PARSED,   /* shapes checked, encrypted broadcasts explicit */
    PASS_STAGE_FUSED,    /* two-encrypted-operand ops lowered, TLUs fused */
    PASS_STAGE_BITWIDTH, /* ranges, widths, unified encodings, tables */
    PASS_STAGE_ROUNDED,  /* rounds inserted so every TLU fits the precision limit */
    PASS_STAGE_NOISE,    /* norm2 of every encrypted value */
    PASS_STAGE_PARAMS,   /* TFHE parameters chosen (m->params) */
} pass_stage;

/* "parsed", "fused", "bitwidth", "rounded", "noise", "params". */
bool pass_stage_from_name(const char *name, pass_stage *out);
const char *pass_stage_name(pass_stage s);

/* Runs the passes up to and including `stop` (stage "parsed" = the shapes
 * pass only). o may be NULL (defaults). false after reporting through d. */
bool pass_run(ir_module *m, diag_ctx *d, const pass_opts *o, pass_stage stop);

/* The passes, in pipeline order (each file opens with its contract). */
bool pass_shapes(ir_module *m, diag_ctx *d);
bool pass_lower_binary(ir_module *m, diag_ctx *d);
bool pass_fuse(ir_module *m, diag_ctx *d);
bool pass_bitwidth(ir_module *m, diag_ctx *d, const pass_opts *o);
bool pass_round(ir_module *m, diag_ctx *d, const pass_opts *o);
bool pass_noise(ir_module *m, diag_ctx *d);
bool pass_params_select(ir_module *m, diag_ctx *d, const pass_opts *o);

/* Bits an encrypted tlu reads: its operand's encoding width minus the
 * operand's shift when the operand is a `round`. Valid after bitwidth. */
int pass_tlu_precision(const ir_op *tlu);
/* Its PBS precision: that, or one bit less when its materialised tables
 * fold (*folded set; may be NULL), as cml_circuit_tlu_precision decides.
 * What the rounding pass fits to its limit and what parameters are chosen
 * for. */
int pass_tlu_pbs_precision(const ir_op *tlu, bool *folded);

/* A PBS of the final IR: an encrypted tlu (precision pass_tlu_precision, or
 * one bit less with the input doubled when its tables fold:
 * cml_circuit_tlu_precision), or a round with shift > 0 (two PBS of
 * precision `shift` per element, seeing the operand's noise times
 * 2^(bits - shift): cml/circuit_ops.h), with its PBS count per run and the
 * norm2 entering it. Stats and parameter selection both read the PBS
 * through this. */
typedef struct pass_pbs {
    const ir_op *op;
    int precision;
    bool folded;              /* a tlu whose tables fold (norm2s already times 4) */
    int64_t count;
    double norm2;             /* norm2_pbs + norm2_light + norm2_in */
    double norm2_pbs, norm2_light, norm2_in; /* over tlu outputs / round PBS outputs / inputs */
} pass_pbs;
/* true, with *out filled, when op is a PBS. */
bool pass_pbs_of(const ir_op *op, pass_pbs *out);

/* ---- parameters (passes/params.c) ---------------------------------------- */

/* What parameter selection chose for a module, hung off it as m->params.
 * A circuit without PBS gets params.lwe_dimension == 0: no keyswitch and no
 * bootstrap key (levels and base logs 0 too), only a big-key encryption
 * (k = 1, N) that keeps every output decryptable; such a set is not one
 * cml_params_validate accepts (it demands n >= 450). */
typedef struct pass_params {
    cml_params params;
    int64_t pbs_count;           /* PBS per run; 0 = a linear circuit */
    int64_t outputs;             /* encrypted output elements (decryptions per run) */
    double norm2_pbs;            /* largest norm2 entering a PBS (0 without PBS) */
    /* what the set was selected for (cml_params_select_needs): one need per
     * PBS precision in use, then, when the set chosen for those would not
     * decrypt some output, one decryption need per such output width */
    cml_pbs_need needs[64];
    size_t nneeds, output_needs;
    double p_error;              /* target per PBS (per decryption without PBS) */
    double global_p_error;       /* --global-p-error asked, 0 if none */
    double log2_p_error;         /* predicted, per PBS (per decryption without PBS) */
    double log2_p_error_circuit; /* predicted: any of them fails in one run */
    uint64_t bsk_bytes;          /* bootstrap key, Fourier domain */
    uint64_t ksk_bytes;          /* keyswitch key, 32-bit words */
    /* the light bootstrap key the rounds use (cml_server_key_add_light), when
     * one is cheaper and every need still holds (cml_params_light) */
    bool has_light;
    cml_params light;
    uint64_t light_bytes;
    int64_t light_pbs;           /* PBS per run on it */
} pass_params;

typedef enum {
    PASS_PARAMS_COMMENT, /* one `// params: ...` line, after the printed IR */
    PASS_PARAMS_TEXT,    /* the "parameters" section of --stats */
    PASS_PARAMS_JSON,    /* a JSON object (the value of "parameters") */
} pass_params_format;
void pass_params_print(FILE *out, const pass_params *p, pass_params_format fmt);

/* ---- statistics (cmlc --stats) ----------------------------------------- */

typedef struct pass_tlu_stat {
    diag_loc loc;
    int precision;   /* PBS precision (bits) */
    bool folded;     /* its tables fold (pass_pbs.folded) */
    int64_t elements; /* PBS count of this tlu */
    double norm2;    /* norm2 entering its PBS (its input's, times 4 when folded) */
} pass_tlu_stat;

typedef struct pass_stats {
    int ntlu;              /* encrypted tlu ops */
    int64_t pbs_count;     /* tlu elements + elements of every round with shift > 0 */
    int max_precision;     /* widest tlu PBS precision */
    double max_norm2;      /* largest norm2 entering a PBS (tlu or round) */
    double max_output_norm2; /* largest norm2 of an encrypted output */
    int rounds;            /* round ops with shift > 0 */
    int rounds_inserted;   /* of which inserted by the rounding pass */
    pass_tlu_stat *tlus;   /* ntlu entries, in the module's arena */
    const pass_params *params; /* m->params: NULL before the params stage */
} pass_stats;

/* Fills s from the final IR (after the noise pass for meaningful norm2).
 * false only on out-of-memory. */
bool pass_stats_collect(ir_module *m, pass_stats *s);
/* Human-readable table, or one JSON object (valid JSON, strings escaped). */
void pass_stats_print(FILE *out, const pass_stats *s, bool json);

#endif
