/* cml_info.c — `cml info MODEL.so [--json]`: what a compiled model expects
 * and returns, read through the runtime's loader (so what it prints has
 * passed the same validation a client's load does). The text form is for
 * people; --json is for scripts and mirrors the spec's structure
 * (docs/spec.md), with non-finite figures as null. */
#include "cml_tool.h"

#include <cml/circuit_abi.h>
#include <cml/runtime.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
    fputs("usage: cml info MODEL.so [--json]\n"
          "\n"
          "Prints a compiled model's spec: its inputs and outputs (shapes, encodings,\n"
          "value ranges, quantization, post-processing), its TFHE parameters and its\n"
          "statistics. The model is loaded and validated as a client would load it.\n"
          "\n"
          "  --json      one JSON object with the spec's fields (docs/spec.md)\n"
          "  -h, --help  this text\n",
          f);
}

static void text_shape(FILE *f, const cml_tensor_spec *t) {
    if (t->rank == 0) {
        fputs("scalar", f);
        return;
    }
    fputc('[', f);
    for (int i = 0; i < t->rank; i++) fprintf(f, "%s%" PRId64, i ? ", " : "", t->dims[i]);
    fputc(']', f);
}

static void text_tensor(FILE *f, const cml_tensor_spec *t, bool input) {
    fprintf(f, "  %s: ", t->name);
    text_shape(f, t);
    fprintf(f, ", %s, %u-bit %s encoding, range [%" PRId64 ", %" PRId64 "]\n",
            t->encrypted ? "encrypted" : "clear", t->encoding_bits,
            t->is_signed ? "signed" : "unsigned", t->lo, t->hi);
    if (t->has_quant && t->edges) {
        fprintf(f, "    quantization: tree bins, %u bits (q = the number of a feature's split "
                "points below x), f = 0..%" PRId64 ":\n", t->quant_bits, t->quant_features - 1);
        for (int64_t i = 0; i < t->quant_features; i++) {
            fputs("      [", f);
            for (int64_t k = t->edge_at[i]; k < t->edge_at[i + 1]; k++)
                fprintf(f, "%s%.9g", k > t->edge_at[i] ? ", " : "", t->edges[k]);
            fputs("]\n", f);
        }
    } else if (t->has_quant && t->quant_features) {
        fprintf(f, "    quantization: per feature, %u bits (q = clamp(round(x / scale[f]) + "
                "zero_point[f], 0, %" PRId64 ")), f = 0..%" PRId64 ":\n",
                t->quant_bits, (INT64_C(1) << t->quant_bits) - 1, t->quant_features - 1);
        for (int64_t i = 0; i < t->quant_features; i++)
            fprintf(f, "      scale %.9g, zero point %" PRId64 "\n", t->scales[i],
                    t->zero_points[i]);
    } else if (t->has_quant) {
        fprintf(f, "    quantization: scale %.9g, zero point %" PRId64, t->scale, t->zero_point);
        if (input)
            fprintf(f, ", %u bits (q = clamp(round(x / scale) + zero_point, 0, %" PRId64 "))\n",
                    t->quant_bits, (INT64_C(1) << t->quant_bits) - 1);
        else
            fputs(" (real = scale * (q - zero_point))\n", f);
    }
    if (!input && t->post != CML_POST_NONE) fprintf(f, "    post-processing: %s\n",
                                                    cml_post_name(t->post));
}

static void print_text(FILE *f, const cml_circuit *c, const char *path) {
    fprintf(f, "%s: %s '%s', compiled by %s (spec format 1, circuit ABI %u)\n",
            path, cml_circuit_is_model(c) ? "model" : "circuit",
            cml_circuit_name(c), cml_circuit_compiler(c), CML_CIRCUIT_ABI_VERSION);
    size_t nin = cml_circuit_num_inputs(c), nout = cml_circuit_num_outputs(c);
    fprintf(f, "inputs (%zu):\n", nin);
    for (size_t k = 0; k < nin; k++) text_tensor(f, cml_circuit_input(c, k), true);
    fprintf(f, "outputs (%zu):\n", nout);
    for (size_t k = 0; k < nout; k++) text_tensor(f, cml_circuit_output(c, k), false);
    const cml_params *p = cml_circuit_params(c);
    if (p) {
        fprintf(f,
                "params:\n  precision %u bits, GLWE dimension %u, polynomial size %u, LWE "
                "dimension %u%s\n"
                "  bootstrap: base log %u, %u levels; keyswitch: base log %u, %u levels\n"
                "  noise std: LWE %.3g, GLWE %.3g; fingerprint 0x%016" PRIx64 "\n",
                p->precision, p->glwe_dimension, p->polynomial_size, p->lwe_dimension,
                p->lwe_dimension ? "" : " (no bootstrap: a linear circuit)", p->pbs_base_log,
                p->pbs_level, p->ks_base_log, p->ks_level, p->lwe_noise_std, p->glwe_noise_std,
                cml_params_fingerprint(p));
    } else {
        fputs("params: none (compiled before parameter selection)\n", f);
    }
    const cml_spec_stats *s = cml_circuit_stats(c);
    fprintf(f, "stats:\n  %" PRId64 " table lookups, %" PRId64 " PBS per run\n", s->tlu_count,
            s->pbs_count);
    if (s->has_p_error)
        fprintf(f, "  failure probability: 2^%.2f per PBS, 2^%.2f per run\n", s->log2_p_error_pbs,
                s->log2_p_error_circuit);
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void json_real(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.17g", v);
    else fputs("null", f);
}

static void json_tensor(FILE *f, const cml_tensor_spec *t, bool input, bool model) {
    fputs("{\"name\": ", f);
    json_str(f, t->name);
    fputs(", \"shape\": [", f);
    for (int i = 0; i < t->rank; i++) fprintf(f, "%s%" PRId64, i ? ", " : "", t->dims[i]);
    fprintf(f, "], \"count\": %" PRId64, t->count);
    if (input) fprintf(f, ", \"encrypted\": %s", t->encrypted ? "true" : "false");
    fprintf(f, ", \"encoding_bits\": %u, \"signed\": %s, \"range\": [%" PRId64 ", %" PRId64 "]",
            t->encoding_bits, t->is_signed ? "true" : "false", t->lo, t->hi);
    if (t->has_quant && t->edges) {
        fputs(", \"quant\": {\"edges\": [", f);
        for (int64_t i = 0; i < t->quant_features; i++) {
            fputs(i ? ", [" : "[", f);
            for (int64_t k = t->edge_at[i]; k < t->edge_at[i + 1]; k++) {
                if (k > t->edge_at[i]) fputs(", ", f);
                json_real(f, t->edges[k]);
            }
            fputc(']', f);
        }
        fprintf(f, "], \"bits\": %u}", t->quant_bits);
    } else if (t->has_quant && t->quant_features) {
        fputs(", \"quant\": {\"scales\": [", f);
        for (int64_t i = 0; i < t->quant_features; i++) {
            if (i) fputs(", ", f);
            json_real(f, t->scales[i]);
        }
        fputs("], \"zero_points\": [", f);
        for (int64_t i = 0; i < t->quant_features; i++)
            fprintf(f, "%s%" PRId64, i ? ", " : "", t->zero_points[i]);
        fprintf(f, "], \"bits\": %u}", t->quant_bits);
    } else if (t->has_quant) {
        fputs(", \"quant\": {\"scale\": ", f);
        json_real(f, t->scale);
        fprintf(f, ", \"zero_point\": %" PRId64, t->zero_point);
        if (input) fprintf(f, ", \"bits\": %u", t->quant_bits);
        fputc('}', f);
    }
    if (!input && model) fprintf(f, ", \"post\": \"%s\"", cml_post_name(t->post));
    fputc('}', f);
}

static void print_json(FILE *f, const cml_circuit *c) {
    bool model = cml_circuit_is_model(c);
    fprintf(f, "{\"format\": 1, \"abi\": %u, \"name\": ", CML_CIRCUIT_ABI_VERSION);
    json_str(f, cml_circuit_name(c));
    fprintf(f, ", \"kind\": \"%s\", \"compiler\": ", model ? "model" : "circuit");
    json_str(f, cml_circuit_compiler(c));
    for (int pass = 0; pass < 2; pass++) {
        size_t n = pass ? cml_circuit_num_outputs(c) : cml_circuit_num_inputs(c);
        fprintf(f, ",\n \"%s\": [", pass ? "outputs" : "inputs");
        for (size_t k = 0; k < n; k++) {
            fputs(k ? ",\n  " : "\n  ", f);
            json_tensor(f, pass ? cml_circuit_output(c, k) : cml_circuit_input(c, k), !pass, model);
        }
        fputs("]", f);
    }
    const cml_params *p = cml_circuit_params(c);
    if (p) {
        fprintf(f,
                ",\n \"params\": {\"precision\": %u, \"glwe_dimension\": %u, \"polynomial_size\": "
                "%u, \"lwe_dimension\": %u, \"pbs_base_log\": %u, \"pbs_level\": %u, "
                "\"ks_base_log\": %u, \"ks_level\": %u, \"lwe_noise_std\": ",
                p->precision, p->glwe_dimension, p->polynomial_size, p->lwe_dimension,
                p->pbs_base_log, p->pbs_level, p->ks_base_log, p->ks_level);
        json_real(f, p->lwe_noise_std);
        fputs(", \"glwe_noise_std\": ", f);
        json_real(f, p->glwe_noise_std);
        fprintf(f, ", \"fingerprint\": \"0x%016" PRIx64 "\"}", cml_params_fingerprint(p));
    }
    const cml_spec_stats *s = cml_circuit_stats(c);
    fprintf(f, ",\n \"stats\": {\"tlu_count\": %" PRId64 ", \"pbs_count\": %" PRId64, s->tlu_count,
            s->pbs_count);
    if (s->has_p_error) {
        fputs(", \"log2_p_error_pbs\": ", f);
        json_real(f, s->log2_p_error_pbs);
        fputs(", \"log2_p_error_circuit\": ", f);
        json_real(f, s->log2_p_error_circuit);
    }
    fputs("}}\n", f);
}

int cml_cmd_info(int argc, char **argv) {
    const char *path = NULL;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "cml info: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (path) {
            fprintf(stderr, "cml info: one model at a time ('%s' and '%s')\n", path, argv[i]);
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    cml_circuit *c;
    if (cml_circuit_load(path, &c) != CML_OK) {
        fprintf(stderr, "cml info: %s\n", cml_last_error());
        return 1;
    }
    if (json) print_json(stdout, c);
    else print_text(stdout, c, path);
    cml_circuit_free(c);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "cml info: cannot write the output\n");
        return 1;
    }
    return 0;
}
