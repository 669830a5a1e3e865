/* pipeline.c — the pass manager: runs the passes in DESIGN §5 order up to a
 * stage (`cmlc --emit-ir=STAGE` stops there), checking the IR with the
 * verifier after every pass when asked and always in debug builds, so a
 * pass that breaks the IR is caught at that pass. */
#include "pass_internal.h"

#include <string.h>

static const char *const stage_names[] = {
    [PASS_STAGE_PARSED] = "parsed",
    [PASS_STAGE_FUSED] = "fused",
    [PASS_STAGE_BITWIDTH] = "bitwidth",
    [PASS_STAGE_ROUNDED] = "rounded",
    [PASS_STAGE_NOISE] = "noise",
    [PASS_STAGE_PARAMS] = "params",
};

bool pass_stage_from_name(const char *name, pass_stage *out) {
    for (int i = 0; i <= PASS_STAGE_PARAMS; i++) {
        if (name && strcmp(name, stage_names[i]) == 0) {
            *out = (pass_stage)i;
            return true;
        }
    }
    return false;
}

const char *pass_stage_name(pass_stage s) {
    return s >= PASS_STAGE_PARSED && s <= PASS_STAGE_PARAMS ? stage_names[s] : "?";
}

static bool checked(bool ok, ir_module *m, diag_ctx *d, bool verify, bool fused) {
    return ok && (!verify || ir_verify(m, d, fused));
}

bool pass_run(ir_module *m, diag_ctx *d, const pass_opts *o, pass_stage stop) {
    static const pass_opts defaults = {0};
    if (!o) o = &defaults;
    if (o->round_to < 0 || o->round_to > PASS_MAX_TLU_BITS) {
        diag_error(d, (diag_loc){0}, "the rounding precision must be between 1 and %d, got %d",
                   PASS_MAX_TLU_BITS, o->round_to);
        return false;
    }
    bool verify = o->verify;
#ifndef NDEBUG
    verify = true;
#endif
    if (!checked(pass_shapes(m, d), m, d, verify, false)) return false;
    if (stop == PASS_STAGE_PARSED) return true;
    if (!checked(pass_lower_binary(m, d), m, d, verify, false)) return false;
    if (!checked(pass_fuse(m, d), m, d, true, true)) return false; /* fusion's contract */
    if (stop == PASS_STAGE_FUSED) return true;
    if (!checked(pass_bitwidth(m, d, o), m, d, verify, true)) return false;
    if (stop == PASS_STAGE_BITWIDTH) return true;
    if (!checked(pass_round(m, d, o), m, d, verify, true)) return false;
    if (stop == PASS_STAGE_ROUNDED) return true;
    if (!checked(pass_noise(m, d), m, d, verify, true)) return false;
    if (stop == PASS_STAGE_NOISE) return true;
    return pass_params_select(m, d, o); /* changes no op: nothing to verify */
}
