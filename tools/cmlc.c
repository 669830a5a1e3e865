/* cmlc.c — the compiler driver: reads a .cml file, parses, lowers to the
 * op-graph IR, runs the passes up to the requested stage, and prints the IR
 * (--emit-ir, with the chosen TFHE parameters as a trailing comment at stage
 * params: ir/print.c knows nothing of crypto), the statistics (--stats) or
 * the exact clear execution (--simulate), or hands the final IR to the
 * backend (-o FILE.so, -c, -S, --emit-llvm). Exit status: 0 ok, 1 error in
 * the input, 2 usage error. */
#include "ast.h"
#include "backend.h"
#include "cmlc.h"
#include "lower.h"
#include "passes.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef CML_VERSION
#define CML_VERSION "unknown"
#endif

#define MAX_SOURCE_BYTES (64u << 20)

static void usage(FILE *f) {
    fputs("usage: cmlc FILE.cml [options]\n"
          "\n"
          "Compiles a .cml circuit or model: parse, lower to the op-graph IR, fuse table\n"
          "lookups, infer bit widths, round, analyse noise, choose TFHE parameters.\n"
          "\n"
          "output (one of):\n"
          "  --emit-ir[=STAGE]     print the IR after STAGE: parsed, fused, bitwidth,\n"
          "                        rounded, noise, params (default: params, the final IR,\n"
          "                        followed by a `// params:` line), or lowered (the\n"
          "                        TFHE-level program the encrypted evaluation runs)\n"
          "  --stats[=json]        TLU count, PBS count, bit widths, 2-norms, TFHE\n"
          "                        parameters, predicted failure probability, key sizes\n"
          "  --simulate            run the final IR exactly on clear values (no crypto)\n"
          "      --input FILE.csv  one sample per row, inputs flattened in declaration\n"
          "                        order ('-' reads stdin); prints one row per sample\n"
          "  -o FILE.so            native code: a shared object exporting the spec,\n"
          "                        cml_circuit_run (on ciphertexts) and cml_circuit_simulate\n"
          "                        (the clear twin; docs/backend.md)\n"
          "  -c [-o FILE.o]        an object file instead (default name: the input's, .o)\n"
          "  -S [-o FILE.s]        assembly (stdout without -o)\n"
          "  --emit-llvm [-o FILE] the generated LLVM IR, optimised (stdout without -o)\n"
          "\n"
          "options:\n"
          "  --round-to BITS       round table-lookup inputs so that every PBS reads at\n"
          "                        most BITS bits (1-16; default: automatic, 8)\n"
          "  --calibrate FILE.csv  infer bit widths from these samples instead of the\n"
          "                        sound interval analysis (simulation then reports any\n"
          "                        value that leaves them)\n"
          "  --p-error P           failure probability of one PBS, in (0, 1): 1e-12 or\n"
          "                        2^-40 (default: 2^-40)\n"
          "  --global-p-error P    instead: probability that any PBS of one run fails\n"
          "                        (a linear circuit: that any output decrypts wrongly)\n"
          "  --verify              run the IR verifier after every pass\n"
          "  -h, --help            this text\n"
          "  --version             the compiler version\n",
          f);
}

static char *read_file(const char *path, size_t *len, diag_ctx *d) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        diag_error(d, (diag_loc){0}, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            if (cap >= MAX_SOURCE_BYTES) {
                diag_error(d, (diag_loc){0}, "'%s' is larger than %u MiB", path,
                           MAX_SOURCE_BYTES >> 20);
                free(buf);
                buf = NULL;
                break;
            }
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                diag_error(d, (diag_loc){0}, "cannot read '%s': %s", path, strerror(errno));
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    if (f != stdin) fclose(f);
    if (!buf) return NULL;
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Directory part of path ("." when none), for calibrate paths. */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

typedef struct cmlc_opts {
    const char *file;
    const char *emit_stage; /* NULL: no --emit-ir */
    bool emit_ir, stats, stats_json, simulate, verify;
    bool emit_llvm, emit_asm, emit_obj; /* backend outputs other than -o FILE.so */
    const char *input, *output, *calibrate;
    int round_to;
    double p_error, global_p_error; /* 0: unset */
} cmlc_opts;

/* A probability in (0, 1) written "1e-12", "0.001" or "2^-40". */
static bool parse_probability(const char *s, double *out) {
    char *end;
    double v;
    if (!strncmp(s, "2^", 2)) {
        v = strtod(s + 2, &end);
        if (end == s + 2) return false;
        v = exp2(v);
    } else {
        v = strtod(s, &end);
        if (end == s) return false;
    }
    if (*end || !(v > 0 && v < 1)) return false;
    *out = v;
    return true;
}

static int parse_args(int argc, char **argv, cmlc_opts *o) {
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
#define TAKES_VALUE(name)                                                            \
    (!strcmp(a, name) ? (i + 1 < argc ? (val = argv[++i], true)                      \
                                      : (fprintf(stderr, "cmlc: %s needs a value\n", name), \
                                         exit(2), false))                            \
                      : false)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--version")) {
            printf("cmlc %s\n", CML_VERSION);
            exit(0);
        } else if (!strcmp(a, "--emit-ir")) {
            o->emit_ir = true;
        } else if (!strncmp(a, "--emit-ir=", 10)) {
            o->emit_ir = true;
            o->emit_stage = a + 10;
        } else if (!strcmp(a, "--stats")) {
            o->stats = true;
        } else if (!strcmp(a, "--stats=json")) {
            o->stats = o->stats_json = true;
        } else if (!strcmp(a, "--simulate")) {
            o->simulate = true;
        } else if (!strcmp(a, "--verify")) {
            o->verify = true;
        } else if (TAKES_VALUE("--input")) {
            o->input = val;
        } else if (!strcmp(a, "--emit-llvm")) {
            o->emit_llvm = true;
        } else if (!strcmp(a, "-S")) {
            o->emit_asm = true;
        } else if (!strcmp(a, "-c")) {
            o->emit_obj = true;
        } else if (TAKES_VALUE("-o")) {
            o->output = val;
        } else if (TAKES_VALUE("--calibrate")) {
            o->calibrate = val;
        } else if (TAKES_VALUE("--round-to")) {
            char *end;
            long b = strtol(val, &end, 10);
            if (*end || b < 1 || b > 16) {
                fprintf(stderr, "cmlc: --round-to takes a number of bits from 1 to 16, got '%s'\n",
                        val);
                return 2;
            }
            o->round_to = (int)b;
        } else if (TAKES_VALUE("--p-error") || TAKES_VALUE("--global-p-error")) {
            bool global = a[2] == 'g';
            if (!parse_probability(val, global ? &o->global_p_error : &o->p_error)) {
                fprintf(stderr,
                        "cmlc: %s takes a probability strictly between 0 and 1, such as 1e-12 "
                        "or 2^-40, got '%s'\n",
                        a, val);
                return 2;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "cmlc: unknown option '%s' (see cmlc --help)\n", a);
            return 2;
        } else if (o->file) {
            fprintf(stderr, "cmlc: more than one input file ('%s' and '%s')\n", o->file, a);
            return 2;
        } else {
            o->file = a;
        }
#undef TAKES_VALUE
    }
    if (!o->file) {
        fprintf(stderr, "cmlc: no input file (see cmlc --help)\n");
        return 2;
    }
    if (o->simulate && !o->input) {
        fprintf(stderr, "cmlc: --simulate needs --input FILE.csv\n");
        return 2;
    }
    if (o->input && !o->simulate) {
        fprintf(stderr, "cmlc: --input is only used with --simulate\n");
        return 2;
    }
    if (o->p_error && o->global_p_error) {
        fprintf(stderr, "cmlc: --p-error and --global-p-error exclude each other\n");
        return 2;
    }
    int codegen = o->emit_llvm + o->emit_asm + o->emit_obj;
    if (o->emit_ir + o->stats + o->simulate + (codegen || o->output) > 1 || codegen > 1) {
        fprintf(stderr,
                "cmlc: choose one of --emit-ir, --stats, --simulate, -o, -c, -S, --emit-llvm\n");
        return 2;
    }
    return 0;
}

/* -o/-c/-S/--emit-llvm: the backend writes the code (docs/backend.md). */
static bool cmlc_codegen(ir_module *m, const cmlc_opts *o, diag_ctx *d) {
    backend_opts bo = {.kind = BACKEND_EMIT_SHARED, .path = o->output};
    char *obj = NULL;
    if (o->emit_llvm) {
        bo.kind = BACKEND_EMIT_LLVM;
    } else if (o->emit_asm) {
        bo.kind = BACKEND_EMIT_ASM;
    } else if (o->emit_obj) {
        bo.kind = BACKEND_EMIT_OBJECT;
        if (!o->output) { /* like cc -c: the input's base name, .o, here */
            const char *base = strrchr(o->file, '/') ? strrchr(o->file, '/') + 1 : o->file;
            const char *dot = strrchr(base, '.');
            size_t n = dot ? (size_t)(dot - base) : strlen(base);
            if (!strcmp(base, "-") || n == 0) base = "out", n = 3;
            obj = malloc(n + 3);
            if (!obj) {
                diag_error(d, (diag_loc){0}, "out of memory");
                return false;
            }
            snprintf(obj, n + 3, "%.*s.o", (int)n, base);
            bo.path = obj;
        }
    }
    bool ok = backend_compile(m, d, &bo);
    free(obj);
    return ok;
}

int main(int argc, char **argv) {
    cmlc_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc;
    pass_stage stop = PASS_STAGE_PARAMS;
    bool lowered = o.emit_stage && !strcmp(o.emit_stage, "lowered");
    if (o.emit_stage && !lowered && !pass_stage_from_name(o.emit_stage, &stop)) {
        fprintf(stderr,
                "cmlc: unknown IR stage '%s' (stages: parsed, fused, bitwidth, rounded, noise, "
                "params, lowered)\n",
                o.emit_stage);
        return 2;
    }
    /* The clear simulation needs no cryptographic parameters: a circuit too
     * wide for any parameter set still simulates. */
    if (o.simulate) stop = PASS_STAGE_NOISE;

    diag_ctx d;
    diag_init(&d, stderr);
    size_t len = 0;
    char *text = read_file(o.file, &len, &d);
    if (!text) return 1;
    diag_source src = {o.file, text};
    char *dir = dir_of(o.file);
    arena a;
    arena_init(&a);
    cmlc_calib calib = {0};
    rc = 1;

    ast_unit *unit = parse_unit(&a, &d, &src, len);
    ir_module *m = unit ? lower_unit(&a, &d, unit, dir) : NULL;
    if (!m) goto done;
    pass_opts po = {.round_to = o.round_to,
                    .verify = o.verify,
                    .p_error = o.p_error,
                    .global_p_error = o.global_p_error};
    if (o.calibrate) {
        if (!cmlc_load_calibration(m, o.calibrate, &d, &calib)) goto done;
        po.calib_inputs = calib.inputs;
        po.calib_rows = calib.rows;
    }
    if (!pass_run(m, &d, &po, stop)) goto done;

    if (o.output || o.emit_llvm || o.emit_asm || o.emit_obj) {
        if (!cmlc_codegen(m, &o, &d)) goto done;
    } else if (lowered) {
        if (!backend_print_lowered(stdout, m, &d)) goto done;
    } else if (o.emit_ir) {
        ir_print(stdout, m,
                 (stop >= PASS_STAGE_BITWIDTH ? IR_PRINT_RANGES : 0) |
                     (stop >= PASS_STAGE_NOISE ? IR_PRINT_NORM2 : 0));
        if (m->params) pass_params_print(stdout, m->params, PASS_PARAMS_COMMENT);
    } else if (o.stats) {
        pass_stats st;
        if (!pass_stats_collect(m, &st)) {
            diag_error(&d, (diag_loc){0}, "out of memory");
            goto done;
        }
        pass_stats_print(stdout, &st, o.stats_json);
    } else if (o.simulate) {
        if (!cmlc_simulate(m, o.input, stdout, &d)) goto done;
    }
    rc = 0;
done:
    cmlc_calib_free(&calib);
    arena_free(&a);
    free(dir);
    free(text);
    return rc;
}
