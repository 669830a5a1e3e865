/* emit_spec.c — the circuit spec (docs/spec.md) a model.so carries, and the
 * two exported globals holding it and the ABI version
 * (runtime/include/cml/circuit_abi.h). The spec is written here as text
 * with a fixed key order so that the runtime's loader can refuse what it
 * does not know; names are always double-quoted (a circuit output named
 * `null` or `yes` must stay a string), reals use %.17g (they round-trip)
 * and YAML's .inf/.nan spellings. */
#include "backend.h"
#include "cml/circuit_abi.h"
#include "llvm_ctx.h"
#include "passes.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef CML_VERSION
#define CML_VERSION "unknown"
#endif

static void put_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void put_real(FILE *f, double v) {
    if (isnan(v))
        fputs(".nan", f);
    else if (isinf(v))
        fputs(v > 0 ? ".inf" : "-.inf", f);
    else
        fprintf(f, "%.17g", v);
}

static void put_shape(FILE *f, const ir_type *t) {
    fputc('[', f);
    for (int i = 0; i < t->rank; i++) fprintf(f, "%s%" PRId64, i ? ", " : "", t->dims[i]);
    fputc(']', f);
}

/* The values a tensor holds: its interval when known, else its type's. */
static void value_range(const ir_op *op, int64_t *lo, int64_t *hi) {
    ir_type_range(&op->type, lo, hi);
    if (op->has_range) {
        *lo = op->lo;
        *hi = op->hi;
    }
}

static const char *post_name(ir_post p) {
    switch (p) {
    case IR_POST_ARGMAX: return "argmax";
    case IR_POST_SOFTMAX: return "softmax";
    case IR_POST_SIGMOID: return "sigmoid";
    case IR_POST_EXP: return "exp";
    case IR_POST_VOTE: return "vote";
    default: return "none";
    }
}

/* One entry of `inputs:` / `outputs:`; `v` is the value (the output's operand). */
static void put_tensor(FILE *f, const ir_module *m, const ir_op *io, const ir_op *v) {
    int64_t lo, hi;
    fputs("  - name: ", f);
    put_str(f, io->name);
    fputs("\n    shape: ", f);
    put_shape(f, &v->type);
    if (io->code == IR_INPUT) fprintf(f, "\n    encrypted: %s", v->type.enc ? "true" : "false");
    fprintf(f, "\n    encoding_bits: %d\n    signed: %s\n", v->type.bits,
            v->type.is_signed ? "true" : "false");
    value_range(v, &lo, &hi);
    fprintf(f, "    range: [%" PRId64 ", %" PRId64 "]\n", lo, hi);
    if (io->quant.present && io->quant.edges) {
        fputs("    quant: {edges: [", f);
        for (int64_t i = 0; i < io->quant.nfeat; i++) {
            fputs(i ? ", [" : "[", f);
            for (int64_t k = io->quant.edge_at[i]; k < io->quant.edge_at[i + 1]; k++) {
                if (k > io->quant.edge_at[i]) fputs(", ", f);
                put_real(f, io->quant.edges[k]);
            }
            fputc(']', f);
        }
        fprintf(f, "], bits: %d}\n", io->quant.bits);
    } else if (io->quant.present && io->quant.nfeat) {
        fputs("    quant: {scales: [", f);
        for (int64_t i = 0; i < io->quant.nfeat; i++) {
            if (i) fputs(", ", f);
            put_real(f, io->quant.scales[i]);
        }
        fputs("], zero_points: [", f);
        for (int64_t i = 0; i < io->quant.nfeat; i++)
            fprintf(f, "%s%" PRId64, i ? ", " : "", io->quant.zero_points[i]);
        fprintf(f, "], bits: %d}\n", io->quant.bits);
    } else if (io->quant.present) {
        fputs("    quant: {scale: ", f);
        put_real(f, io->quant.scale);
        fprintf(f, ", zero_point: %" PRId64, io->quant.zero_point);
        if (io->code == IR_INPUT) fprintf(f, ", bits: %d", io->quant.bits);
        fputs("}\n", f);
    }
    if (io->code == IR_OUTPUT && m->kind == IR_UNIT_MODEL)
        fprintf(f, "    post: %s\n", post_name(io->post));
}

static void put_params(FILE *f, const pass_params *pp) {
    const cml_params *p = &pp->params;
    fprintf(f,
            "params:\n  precision: %u\n  glwe_dimension: %u\n  polynomial_size: %u\n"
            "  lwe_dimension: %u\n  pbs_base_log: %u\n  pbs_level: %u\n  ks_base_log: %u\n"
            "  ks_level: %u\n",
            p->precision, p->glwe_dimension, p->polynomial_size, p->lwe_dimension, p->pbs_base_log,
            p->pbs_level, p->ks_base_log, p->ks_level);
    fputs("  lwe_noise_std: ", f);
    put_real(f, p->lwe_noise_std);
    fputs("\n  glwe_noise_std: ", f);
    put_real(f, p->glwe_noise_std);
    fprintf(f, "\n  fingerprint: \"0x%016" PRIx64 "\"\n", cml_params_fingerprint(p));
    if (pp->has_light)
        fprintf(f,
                "  light_glwe_dimension: %u\n  light_polynomial_size: %u\n"
                "  light_base_log: %u\n  light_level: %u\n",
                pp->light.glwe_dimension, pp->light.polynomial_size, pp->light.pbs_base_log,
                pp->light.pbs_level);
}

char *backend_spec_text(ir_module *m) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    pass_stats st;
    if (!pass_stats_collect(m, &st)) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fprintf(f, "format: 1\nabi: %u\nname: ", CML_CIRCUIT_ABI_VERSION);
    put_str(f, m->main->name);
    fprintf(f, "\nkind: %s\ncompiler: ", m->kind == IR_UNIT_MODEL ? "model" : "circuit");
    put_str(f, "cmlc " CML_VERSION);
    fputc('\n', f);
    /* inputs and outputs by index (declaration / return order) */
    for (int pass = 0; pass < 2; pass++) {
        ir_opcode code = pass ? IR_OUTPUT : IR_INPUT;
        int n = ir_count_ops(m->main, code);
        fprintf(f, "%s:%s\n", pass ? "outputs" : "inputs", n ? "" : " []");
        for (int k = 0; k < n; k++)
            ir_foreach(op, m->main) if (op->code == code && op->index == k)
                put_tensor(f, m, op, pass ? op->args[0] : op);
    }
    if (m->params) put_params(f, m->params);
    fprintf(f, "stats:\n  tlu_count: %d\n  pbs_count: %" PRId64 "\n", st.ntlu, st.pbs_count);
    if (m->params) {
        fputs("  log2_p_error_pbs: ", f);
        put_real(f, m->params->log2_p_error);
        fputs("\n  log2_p_error_circuit: ", f);
        put_real(f, m->params->log2_p_error_circuit);
        fputc('\n', f);
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* An exported constant global. */
static void exported(llvm_ctx *c, const char *name, LLVMValueRef init) {
    LLVMValueRef g = LLVMAddGlobal(c->mod, LLVMTypeOf(init), name);
    LLVMSetInitializer(g, init);
    LLVMSetGlobalConstant(g, true);
    LLVMSetLinkage(g, LLVMExternalLinkage);
    LLVMSetVisibility(g, LLVMDefaultVisibility);
}

bool llvm_emit_spec(llvm_ctx *c, ir_module *m) {
    char *spec = backend_spec_text(m);
    if (!spec) {
        diag_error(c->d, (diag_loc){0}, "out of memory");
        return false;
    }
    exported(c, CML_CIRCUIT_SYM_ABI, LLVMConstInt(c->t_i32, CML_CIRCUIT_ABI_VERSION, false));
    /* with its terminating NUL: a C string for the loader */
    exported(c, CML_CIRCUIT_SYM_SPEC,
             LLVMConstStringInContext(c->ctx, spec, (unsigned)strlen(spec), false));
    free(spec);
    return true;
}
