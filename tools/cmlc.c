/* cmlc.c — the compiler driver: reads a .cml file, parses, lowers to the
 * op-graph IR, runs the passes up to the requested stage, and prints the IR
 * (--emit-ir), the statistics (--stats) or the exact clear execution
 * (--simulate). Exit status: 0 ok, 1 error in the input, 2 usage error. */
#include "ast.h"
#include "cmlc.h"
#include "lower.h"
#include "passes.h"

#include <errno.h>
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
          "lookups, infer bit widths, round, analyse noise.\n"
          "\n"
          "output (one of):\n"
          "  --emit-ir[=STAGE]     print the IR after STAGE: parsed, fused, bitwidth,\n"
          "                        rounded, noise (default: noise, the final IR)\n"
          "  --stats[=json]        TLU count, PBS count, bit widths, 2-norms\n"
          "  --simulate            run the final IR exactly on clear values (no crypto)\n"
          "      --input FILE.csv  one sample per row, inputs flattened in declaration\n"
          "                        order ('-' reads stdin); prints one row per sample\n"
          "  -o FILE.so            native code generation (not implemented yet)\n"
          "\n"
          "options:\n"
          "  --round-to BITS       round every table-lookup input to at most BITS bits\n"
          "                        (1-16; default: automatic, 8)\n"
          "  --calibrate FILE.csv  infer bit widths from these samples instead of the\n"
          "                        sound interval analysis (simulation then reports any\n"
          "                        value that leaves them)\n"
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
    const char *input, *output, *calibrate;
    int round_to;
} cmlc_opts;

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
    if (o->emit_ir + o->stats + o->simulate + (o->output != NULL) > 1) {
        fprintf(stderr, "cmlc: choose one of --emit-ir, --stats, --simulate, -o\n");
        return 2;
    }
    return 0;
}

int main(int argc, char **argv) {
    cmlc_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc;
    pass_stage stop = PASS_STAGE_NOISE;
    if (o.emit_stage && !pass_stage_from_name(o.emit_stage, &stop)) {
        fprintf(stderr,
                "cmlc: unknown IR stage '%s' (stages: parsed, fused, bitwidth, rounded, noise)\n",
                o.emit_stage);
        return 2;
    }

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
    pass_opts po = {.round_to = o.round_to, .verify = o.verify};
    if (o.calibrate) {
        if (!cmlc_load_calibration(m, o.calibrate, &d, &calib)) goto done;
        po.calib_inputs = calib.inputs;
        po.calib_rows = calib.rows;
    }
    if (!pass_run(m, &d, &po, stop)) goto done;

    if (o.output) {
        diag_error(&d, (diag_loc){0},
                   "native code generation (-o %s) is not implemented yet; "
                   "use --emit-ir, --stats or --simulate",
                   o.output);
        goto done;
    }
    if (o.emit_ir) {
        ir_print(stdout, m,
                 (stop >= PASS_STAGE_BITWIDTH ? IR_PRINT_RANGES : 0) |
                     (stop >= PASS_STAGE_NOISE ? IR_PRINT_NORM2 : 0));
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
