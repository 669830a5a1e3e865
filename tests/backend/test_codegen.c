/* test_codegen.c — backend.codegen: the compiled clear twin against the
 * interpreter. Every example and a set of small circuits covering every op
 * the final IR can hold (inline below, plus hand-built IR for the ops the
 * language only leaves on clear data) are compiled to a model.so in a
 * temporary directory and loaded with dlopen; the ABI version and the spec
 * are checked, then cml_circuit_simulate and ir_interp (with width checks)
 * run on the same random inputs within the declared ranges (a fixed-seed
 * xorshift) and must agree exactly: the same outputs value by value, or
 * both failing — at the same op, since the interpreter's observer tells
 * which op it failed at and the twin returns that op's %id + 1. */
#include "ast.h"
#include "backend.h"
#include "cml/circuit_abi.h"
#include "cml_test.h"
#include "lower.h"
#include "passes.h"

#include <dirent.h>
#include <dlfcn.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef CML_SOURCE_DIR
#define CML_SOURCE_DIR "."
#endif

/* Samples per circuit: cheap, so not scaled by CML_TEST_SCALE. */
enum { SAMPLES = 200, MAX_IO = 16 };

/* ---- compiling and loading --------------------------------------------------- */

typedef struct unit {
    arena a;
    ir_module *m;
    diag_ctx d;
    FILE *log;
    char *logbuf;
    size_t loglen;
    diag_source src;
    char dir[4096], so_path[4200];
    void *so;
    cml_circuit_simulate_fn sim;
    const char *spec;
    const uint32_t *abi;
} unit;

static const char *unit_log(unit *u) {
    fflush(u->log);
    return u->logbuf ? u->logbuf : "";
}

static void unit_init(unit *u, const char *name) {
    memset(u, 0, sizeof *u);
    arena_init(&u->a);
    u->log = open_memstream(&u->logbuf, &u->loglen);
    diag_init(&u->d, u->log);
    u->src = (diag_source){name, NULL};
    const char *tmp = getenv("TMPDIR");
    snprintf(u->dir, sizeof u->dir, "%s/cml-codegen-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(u->dir));
    snprintf(u->so_path, sizeof u->so_path, "%s/model.so", u->dir);
}

static void unit_free(unit *u) {
    if (u->so) dlclose(u->so);
    unlink(u->so_path);
    rmdir(u->dir);
    fclose(u->log);
    free(u->logbuf);
    arena_free(&u->a);
}

/* Runs the passes on u->m (unless raw: IR built by hand, run as it is,
 * widths unset), compiles it to u->so_path and loads it. */
static bool unit_build_ex(unit *u, const pass_opts *po, bool raw) {
    pass_opts o = po ? *po : (pass_opts){0};
    o.verify = true;
    if (!raw && !pass_run(u->m, &u->d, &o, PASS_STAGE_PARAMS)) {
        fprintf(stderr, "\n%s: passes failed:\n%s", u->src.path, unit_log(u));
        return false;
    }
    backend_opts bo = {.kind = BACKEND_EMIT_SHARED, .path = u->so_path};
    if (!backend_compile(u->m, &u->d, &bo)) {
        fprintf(stderr, "\n%s: backend failed:\n%s", u->src.path, unit_log(u));
        return false;
    }
    u->so = dlopen(u->so_path, RTLD_NOW | RTLD_LOCAL);
    if (!u->so) {
        fprintf(stderr, "\n%s: dlopen: %s\n", u->src.path, dlerror());
        return false;
    }
    u->abi = dlsym(u->so, CML_CIRCUIT_SYM_ABI);
    u->spec = dlsym(u->so, CML_CIRCUIT_SYM_SPEC);
    *(void **)&u->sim = dlsym(u->so, CML_CIRCUIT_SYM_SIMULATE);
    CU_ASSERT_PTR_NOT_NULL(u->abi);
    CU_ASSERT_PTR_NOT_NULL(u->spec);
    CU_ASSERT_PTR_NOT_NULL(u->sim);
    if (!u->abi || !u->spec || !u->sim) return false;
    CU_ASSERT_EQUAL(*u->abi, CML_CIRCUIT_ABI_VERSION);
    CU_ASSERT_EQUAL(strncmp(u->spec, "format: 1\n", 10), 0);
    /* the encrypted evaluation exists once parameters are chosen, unless
     * the circuit computes on clear values (the backend warns) */
    if (u->m->params && !strstr(unit_log(u), "no encrypted evaluation")) {
        CU_ASSERT_PTR_NOT_NULL(dlsym(u->so, CML_CIRCUIT_SYM_RUN));
    } else {
        CU_ASSERT_PTR_NULL(dlsym(u->so, CML_CIRCUIT_SYM_RUN));
    }
    return true;
}

static bool unit_build(unit *u, const pass_opts *po) { return unit_build_ex(u, po, false); }

/* Parses, lowers and builds a .cml text (kept alive by the caller). */
static bool unit_compile(unit *u, const char *text, const char *base_dir, const pass_opts *po) {
    u->src.text = text;
    ast_unit *au = parse_unit(&u->a, &u->d, &u->src, strlen(text));
    u->m = au ? lower_unit(&u->a, &u->d, au, base_dir) : NULL;
    if (!u->m) {
        fprintf(stderr, "\n%s: front end failed:\n%s", u->src.path, unit_log(u));
        return false;
    }
    return unit_build(u, po);
}

/* ---- comparing -------------------------------------------------------------- */

static uint64_t xorshift(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* The values an input may take: its declared range within its type. */
static void input_range(const ir_op *in, int64_t *lo, int64_t *hi) {
    ir_type_range(&in->type, lo, hi);
    if (in->has_range) {
        if (in->lo > *lo) *lo = in->lo;
        if (in->hi < *hi) *hi = in->hi;
    }
}

/* Values within the input's range: uniform with the ends of the range
 * often (mag < 0), or all of magnitude below 2^mag (samples of small values,
 * so that full-range inputs also give results that do not overflow). */
static void fill_random(const ir_op *in, ir_tensor *t, uint64_t *rng, int mag) {
    int64_t lo, hi;
    input_range(in, &lo, &hi);
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1; /* 0: the whole of int64 */
    for (int64_t k = 0; k < t->count; k++) {
        uint64_t r = xorshift(rng);
        if (mag >= 0) {
            int64_t v = (int64_t)((r >> 1) & ((UINT64_C(1) << mag) - 1)) * (r & 1 ? -1 : 1);
            t->i[k] = v < lo ? lo : v > hi ? hi : v;
            continue;
        }
        switch (r & 7) {
        case 0: t->i[k] = lo; break;
        case 1: t->i[k] = hi; break;
        default: t->i[k] = (int64_t)((uint64_t)lo + (span ? (r >> 3) % span : r >> 3)); break;
        }
    }
}

static void last_op(void *ctx, const ir_op *op, const ir_tensor *v) {
    (void)v;
    *(int *)ctx = op->id;
}

typedef struct tally {
    int ok, failed;           /* samples both computed / both rejected */
    int fail_at[IR_OP_COUNT]; /* rejections by the code of the op that failed */
} tally;

/* One sample: the interpreter and the twin on the same inputs; *rc_out gets
 * the twin's return code. */
static bool compare_one(unit *u, ir_tensor *xs, int nin, const ir_op **outs, int nout,
                        int *rc_out) {
    const int64_t *in[MAX_IO];
    int64_t *out[MAX_IO];
    ir_tensor want[MAX_IO];
    for (int k = 0; k < nin; k++) in[k] = xs[k].i;
    for (int k = 0; k < nout; k++) {
        out[k] = calloc((size_t)ir_type_count(&outs[k]->type), sizeof *out[k]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(out[k]);
    }
    int last = -1;
    bool ok = ir_interp(u->m->main, xs, want, &u->d, IR_INTERP_CHECK_WIDTHS, last_op, &last);
    int rc = u->sim(in, out);
    if (rc_out) *rc_out = rc;
    bool same = true;
    if (ok) {
        CU_ASSERT_EQUAL(rc, 0);
        same = rc == 0;
        for (int k = 0; k < nout && same; k++)
            for (int64_t e = 0; e < want[k].count; e++)
                if (want[k].i[e] != out[k][e]) {
                    fprintf(stderr,
                            "\n%s: output %d element %" PRId64 ": interpreter %" PRId64
                            ", compiled %" PRId64 "\n",
                            u->src.path, k, e, want[k].i[e], out[k][e]);
                    same = false;
                    break;
                }
        CU_ASSERT_TRUE(same);
        for (int k = 0; k < nout; k++) ir_tensor_free(&want[k]);
    } else {
        /* the twin reports the op the interpreter stopped at */
        CU_ASSERT_EQUAL(rc, last + 2);
        same = rc == last + 2;
        if (!same)
            fprintf(stderr, "\n%s: interpreter failed at %%%d, compiled returned %d\n%s",
                    u->src.path, last + 1, rc, unit_log(u));
    }
    for (int k = 0; k < nout; k++) free(out[k]);
    return same;
}

/* `samples` random samples (seeded); stops at the first disagreement. */
static tally compare(unit *u, int samples, uint64_t seed) {
    tally t = {0};
    const ir_op *ins[MAX_IO] = {0}, *outs[MAX_IO] = {0};
    int nin = 0, nout = 0;
    ir_foreach(op, u->m->main) {
        if (op->code == IR_INPUT && op->index < MAX_IO) ins[op->index] = op, nin++;
        if (op->code == IR_OUTPUT && op->index < MAX_IO) outs[op->index] = op, nout++;
    }
    CU_ASSERT_FATAL(nin <= MAX_IO && nout <= MAX_IO);
    ir_tensor xs[MAX_IO];
    for (int k = 0; k < nin; k++)
        CU_ASSERT_FATAL(ir_tensor_alloc(&xs[k], false, ins[k]->type.rank, ins[k]->type.dims));
    uint64_t rng = seed | 1;
    for (int s = 0; s < samples; s++) {
        uint64_t r = xorshift(&rng);
        int mag = r % 2 ? -1 : (int)((r >> 1) % 63); /* half the samples uniform */
        for (int k = 0; k < nin; k++) fill_random(ins[k], &xs[k], &rng, mag);
        int before = u->d.errors, rc = 0;
        if (!compare_one(u, xs, nin, outs, nout, &rc)) break;
        if (u->d.errors == before) {
            t.ok++;
            continue;
        }
        t.failed++;
        ir_foreach(op, u->m->main) if (op->code != IR_OUTPUT && op->id == rc - 1)
            t.fail_at[op->code]++;
    }
    for (int k = 0; k < nin; k++) ir_tensor_free(&xs[k]);
    return t;
}

/* Compiles text and compares SAMPLES samples, none of which may fail. */
static void check_text(const char *name, const char *text, const pass_opts *po) {
    unit u;
    unit_init(&u, name);
    bool built = unit_compile(&u, text, NULL, po);
    CU_ASSERT_TRUE(built);
    if (built) {
        tally t = compare(&u, SAMPLES, 0x5eed0000u + (uint64_t)strlen(text));
        CU_ASSERT_EQUAL(t.ok, SAMPLES);
        if (t.failed) fprintf(stderr, "\n%s: %d samples failed:\n%s", name, t.failed, unit_log(&u));
    }
    unit_free(&u);
}

/* ---- the examples ------------------------------------------------------------- */

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = '\0';
    fclose(f);
    return s;
}

static void test_examples(void) {
    const char *dir = CML_SOURCE_DIR "/examples";
    DIR *dp = opendir(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dp);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".cml")) continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *text = slurp(path);
        CU_ASSERT_PTR_NOT_NULL_FATAL(text);
        unit u;
        unit_init(&u, e->d_name);
        bool built = unit_compile(&u, text, dir, NULL);
        CU_ASSERT_TRUE(built);
        if (built) {
            tally t = compare(&u, SAMPLES, 0xe8a3u + (uint64_t)len);
            CU_ASSERT_EQUAL(t.ok, SAMPLES);
            if (u.m->kind == IR_UNIT_MODEL)
                CU_ASSERT_PTR_NOT_NULL(strstr(u.spec, "    quant: {scale: "));
        }
        unit_free(&u);
        free(text);
        n++;
    }
    closedir(dp);
    CU_ASSERT_TRUE(n >= 6);
}

/* ---- every op ---------------------------------------------------------------- */

static void test_arith(void) {
    check_text("arith.cml",
               "circuit arith(x: enc u4[3], y: enc i3[3], z: enc i5) {\n"
               "    return x + y, x - y, -x, x - 7, -(y + z), x + z, 3 - x;\n"
               "}\n",
               NULL);
}

static void test_mul(void) {
    check_text("mul.cml",
               "circuit mul(x: enc u3[2], y: enc i3[2], s: enc i4) {\n"
               "    return x * 3, x * [2, -1], x * y, s * s, y * -5 + x * s;\n"
               "}\n",
               NULL);
}

static void test_linear_algebra(void) {
    check_text(
        "linalg.cml",
        "circuit linalg(x: enc u3[4], y: enc u2[4], m: enc i3[2,3]) {\n"
        "    const W = [[1, -2, 3], [0, 4, -1], [2, 2, 2], [-3, 1, 0]];\n"
        "    return dot(x, [1, 2, -3, 4]), x @ W, dot(x, y), m @ [[1, 2], [3, -1], [0, 2]],\n"
        "           [1, -1] @ m, matmul(m, [1, 0, -1]), [[2, 1], [0, -3]] @ m;\n"
        "}\n",
        NULL);
}

static void test_sum(void) {
    check_text("sums.cml",
               "circuit sums(x: enc i4[2,3,2]) {\n"
               "    return sum(x), sum(x, 0), sum(x, 1), sum(x, -1), sum(sum(x, 2), 0);\n"
               "}\n",
               NULL);
}

static void test_shapes(void) {
    check_text(
        "shapes.cml",
        "circuit views(x: enc u4[2,3], y: enc u4[3]) {\n"
        "    a = reshape(x, [3, 2]);\n"
        "    return a, transpose(x), transpose(reshape(x, [1, 2, 3]), [2, 0, 1]),\n"
        "           concat(x, x, axis=0), concat(x, reshape(y, [1, 3])), concat(a, a, axis=1),\n"
        "           x[1], x[:, 0], x[0, ::2], x[-1, 1:], x[1, 2], a + 1, reshape(a + y[0], [6]);\n"
        "}\n",
        NULL);
}

static void test_lut(void) {
    check_text(
        "luts.cml",
        "circuit luts(x: enc u3[4], s: enc i4) {\n"
        "    return lut(x, [5, -3, 7, 2, 2, 9, 0, 1]), lut(x + 2, [5, -3, 7, 2, 2, 9, 0, 1, 100, "
        "200]),\n"
        "           lut(x, (v) => v / 3), lut(x, (v) => v * v * [1, 2, 3, 4]),\n"
        "           lut(s, (v) => sigmoid(v) * 10), lut(s, (v) => v * v - 3), relu(s - 2) * 3;\n"
        "}\n",
        NULL);
}

static void test_round(void) {
    check_text(
        "keep4.cml",
        "circuit keep4(x: enc u8[3], y: enc i7) {\n"
        "    r = round(x, 4);\n"
        "    return r, lut(r, (v) => v / 16), round(y, 3), lut(round(y * 2, 2), (v) => v * v);\n"
        "}\n",
        NULL);
    pass_opts po = {.round_to = 4};
    check_text("round_to.cml",
               "circuit wide(x: enc u6[4], y: enc u6[4]) {\n"
               "    s = x + y;\n"
               "    return lut(s, (v) => v * v / 64), relu(s - 60), sum(s) > 200;\n"
               "}\n",
               &po);
}

static void test_comparisons(void) {
    check_text("cmp.cml",
               "circuit cmp(x: enc i4[3], y: enc i4[3]) {\n"
               "    return x < y, x <= y, x > y, x >= y, x == y, x != y,\n"
               "           x < 3, x <= -1, x > 2, x >= -2, x == 0, x != 1, 5 > x;\n"
               "}\n",
               NULL);
}

static void test_nonlinear(void) {
    check_text("nonlin.cml",
               "circuit nonlin(x: enc i4[3], y: enc i4[3], c: enc u1[3]) {\n"
               "    return min(x, y), max(x, y), min(x, 2), max(x, -3), relu(x), abs(x),\n"
               "           where(c, x, y), where(x > 0, 1, -1), where(c, x, 7), clip(x, -2, 5);\n"
               "}\n",
               NULL);
}

static void test_broadcast(void) {
    check_text("bcast.cml",
               "circuit bcast(x: enc u4[2,3], y: enc u4[3,1], s: enc u4) {\n"
               "    return x + [1, 2, 3], x * [[2], [3]], y + [1, 2], y * [[1, 2, 3]], x + s, x + "
               "y[0, 0],\n"
               "           x - [[1], [2]] * [1, 2, 3], lut(x, (v) => v * [[1], [2]]), s + y;\n"
               "}\n",
               NULL);
}

/* Clear circuit inputs: integer and real computations stay in clear. */
static void test_clear_inputs(void) {
    check_text(
        "clear.cml",
        "circuit clears(x: enc u4[3], k: clear u3, t: clear u4[3], j: clear i3[3],\n"
        "              m: clear i3[3,3]) {\n"
        "    a = x * k + relu(k - 3) + lut(k, [1, 5, 2, 7, 3, 3, 3, 3]);\n"
        "    b = x + t * 2 + max(t, 3) + (t < 5) + min(t, j) + abs(j) + -j + where(j, t, 2);\n"
        "    c = x @ m + dot(t, j) + sum(t) + k * j;\n"
        "    d = x * t + (j > 0) + (t == k) + (j != 1) + (j <= 0) + (t >= 2);\n"
        "    return a, b, c, d;\n"
        "}\n",
        NULL);
    check_text(
        "clear_reals.cml",
        "circuit reals(x: enc u4, k: clear u4[3], j: clear i3[3]) {\n"
        "    a = sigmoid(k) * 10 + tanh(j) * 5 + exp(j) + log(k + 1) + sqrt(k) * 3;\n"
        "    b = gelu(j) * 4 + softplus(j) * 2 + silu(j) * 3 + sin(k) * 7 + cos(j) * 7\n"
        "        + pow(k, 0.5) + k / 3;\n"
        "    c = floor(k / 2) + ceil(j / 3) + round(j / 2) + abs(j / 2) * 2 + relu(j / 2) * 2\n"
        "        - k / 4;\n"
        "    d = where(j > 0, k / 2, j / 3) * 2 + min(k / 2, j) + max(k / 3, j / 2)\n"
        "        + (k / 2 < j) + (k / 2 >= j / 3) + (k / 2 == j) + (k / 2 != j) + (j / 2 > 0)\n"
        "        + (j / 2 <= 1);\n"
        "    return x + a, x + b, x + c, x + d;\n"
        "}\n",
        NULL);
}

/* Appends a tensor literal of shape dims holding small pseudo-random reals
 * (multiples of 1/16 in [-0.5, 0.5]). */
static size_t put_literal(char *buf, size_t n, int rank, const int *dims, int *counter) {
    if (rank == 0) {
        int i = (*counter)++;
        return (size_t)snprintf(buf, n, "%g", (double)((i * 7 + 3) % 17 - 8) / 16.0);
    }
    size_t w = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < dims[0]; i++) {
        if (i) w += (size_t)snprintf(buf + w, n - w, ", ");
        w += put_literal(buf + w, n - w, rank - 1, dims + 1, counter);
    }
    return w + (size_t)snprintf(buf + w, n - w, "]");
}

static void test_model_layers(void) {
    static char text[32768], k[1024], w1[4096], w2[2048];
    int c = 0;
    put_literal(k, sizeof k, 4, (const int[]){2, 1, 3, 3}, &c);
    put_literal(w1, sizeof w1, 2, (const int[]){32, 3}, &c);
    put_literal(w2, sizeof w2, 2, (const int[]){18, 2}, &c);
    snprintf(text, sizeof text,
             "model layers {\n"
             "    input x: f32[1,6,6] range [0, 1];\n"
             "    quantize inputs 4, weights 4, activations 4, accumulator 8;\n"
             "    param K: f32[2,1,3,3] = %s;\n"
             "    param b: f32[2] = [0.1, -0.2];\n"
             "    param W1: f32[32,3] = %s;\n"
             "    param W2: f32[18,2] = %s;\n"
             "    h = relu(conv2d(x, K, b, stride=1, padding=1));\n"
             "    p = avgpool2d(h, 2, stride=2, padding=1);\n"
             "    q = maxpool2d(h, 2);\n"
             "    return argmax(dense(flatten(p), W1)), dense(flatten(q), W2);\n"
             "}\n",
             k, w1, w2);
    check_text("layers.cml", text, NULL);
}

/* Large values: the scratch block is malloc'd, constants and tables are
 * stored as raw bytes (more than 4096 elements). */
static void test_large(void) {
    static char text[65536];
    int o = snprintf(text, sizeof text,
                     "circuit big(x: enc u4[64,80], y: enc u8[20]) {\n    const W = [");
    for (int i = 0; i < 64 * 80; i++)
        o += snprintf(text + o, sizeof text - (size_t)o, "%s%d", i ? ", " : "", (i * 37) % 11 - 5);
    snprintf(text + o, sizeof text - (size_t)o,
             "];\n"
             "    return relu(x - 7) + x, sum(x, 0), x * reshape(W, [64, 80]),\n"
             "           lut(y, (v) => v * [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, "
             "17, 18, 19, 20] / 7);\n"
             "}\n");
    check_text("big.cml", text, NULL);
}

/* Ops the language leaves only on clear data (maxpool2d, sumpool2d with
 * padding, conv2d with clear-input weights), built as IR. */
static void test_clear_windows(void) {
    unit u;
    unit_init(&u, "windows");
    u.m = ir_module_new(&u.a, IR_UNIT_CIRCUIT, "windows");
    ir_func *f = u.m->main;
    diag_loc at = {&u.src, 1, 1};
    ir_type tk = {.bits = 4, .rank = 3, .dims = {1, 4, 4}};
    ir_type tw = {.bits = 3, .is_signed = true, .rank = 4, .dims = {2, 1, 2, 2}};
    ir_type tx = {.enc = true, .bits = 3, .rank = 3, .dims = {1, 3, 3}};
    ir_op *k = ir_build_input(f, at, "k", 0, tk);
    ir_op *w = ir_build_input(f, at, "w", 1, tw);
    ir_op *x = ir_build_input(f, at, "x", 2, tx);
    ir_op *mp = ir_build_pool(f, &u.d, IR_MAXPOOL2D, at, k, (const int[]){2, 2},
                              (const int[]){2, 2}, (const int[]){1, 1});
    ir_op *sp = ir_build_pool(f, &u.d, IR_SUMPOOL2D, at, k, (const int[]){2, 2},
                              (const int[]){2, 2}, (const int[]){1, 1});
    ir_op *s = ir_build2(f, &u.d, IR_ADD, at, x, mp);
    ir_op *cv = ir_build_conv2d(f, &u.d, at, s, w, (const int[]){1, 1}, (const int[]){1, 1});
    ir_op *cw = ir_build_conv2d(f, &u.d, at, k, w, (const int[]){2, 2}, (const int[]){0, 0});
    ir_op *t = ir_build2(f, &u.d, IR_ADD, at, x, sp);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cv);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cw);
    ir_build_output(f, at, "c", 0, cv);
    ir_build_output(f, at, "t", 1, t);
    ir_build_output(f, at, "u", 2,
                    ir_build2(f, &u.d, IR_ADD, at, ir_build_sum(f, &u.d, at, x, -1),
                              ir_build_sum(f, &u.d, at, cw, -1)));
    bool built = unit_build(&u, NULL);
    CU_ASSERT_TRUE(built);
    if (built) {
        CU_ASSERT_EQUAL(ir_count_ops(u.m->main, IR_MAXPOOL2D), 1);
        CU_ASSERT_EQUAL(ir_count_ops(u.m->main, IR_SUMPOOL2D), 1);
        tally t2 = compare(&u, SAMPLES, 77);
        CU_ASSERT_EQUAL(t2.ok, SAMPLES);
    }
    unit_free(&u);
}

/* ---- every op as IR, widths unset -------------------------------------------- */

/* The frontend rewrites some ops before they reach the backend (min, max,
 * where, comparisons become subtractions and relus, even on clear data) and
 * sound widths rule out int64 overflow; built by hand and run without the
 * passes, every op meets full-range int64 inputs (bits 0: no width), so
 * each overflow check and each integer and real formula is compared with the
 * interpreter on its own. */

typedef struct irb {
    unit u;
    ir_func *f;
    diag_loc at;
    int nin;
} irb;

static void irb_init(irb *b, const char *name) {
    unit_init(&b->u, name);
    b->u.m = ir_module_new(&b->u.a, IR_UNIT_CIRCUIT, name);
    b->f = b->u.m->main;
    b->at = (diag_loc){&b->u.src, 1, 1};
    b->nin = 0;
}

/* A clear integer input (bits 0: any int64; else a signed width). */
static ir_op *irb_in(irb *b, int bits, int rank, const int64_t *dims) {
    ir_type t = {.is_signed = true, .bits = bits, .rank = rank};
    for (int i = 0; i < rank; i++) t.dims[i] = dims[i];
    static const char *const names[] = {"a", "b", "c", "d"};
    int k = b->nin++;
    return ir_build_input(b->f, b->at, names[k], k, t);
}

/* Outputs r, compiles without passes and compares; returns the tally. */
static tally irb_run(irb *b, ir_op *r) {
    tally t = {0};
    CU_ASSERT_PTR_NOT_NULL(r);
    if (!r) {
        fprintf(stderr, "\n%s: %s", b->u.src.path, unit_log(&b->u));
        return t;
    }
    ir_build_output(b->f, b->at, "r", 0, r);
    bool built = unit_build_ex(&b->u, NULL, true);
    CU_ASSERT_TRUE(built);
    if (built) t = compare(&b->u, SAMPLES, 0xb0b + (uint64_t)r->code);
    CU_ASSERT_EQUAL(t.ok + t.failed, SAMPLES);
    return t;
}

static void test_ir_elemwise(void) {
    static const ir_opcode bin[] = {IR_ADD, IR_SUB, IR_MUL, IR_MIN, IR_MAX, IR_LT,
                                    IR_LE,  IR_GT,  IR_GE,  IR_EQ,  IR_NE};
    for (size_t i = 0; i < sizeof bin / sizeof *bin; i++) {
        irb b;
        irb_init(&b, ir_op_name(bin[i]));
        ir_op *x = irb_in(&b, 0, 2, (const int64_t[]){2, 3});
        ir_op *y = irb_in(&b, 0, 1, (const int64_t[]){3}); /* broadcast along rows */
        tally t = irb_run(&b, ir_build2(b.f, &b.u.d, bin[i], b.at, x, y));
        bool may_overflow = bin[i] == IR_ADD || bin[i] == IR_SUB || bin[i] == IR_MUL;
        CU_ASSERT_TRUE(t.ok > 0);
        CU_ASSERT_EQUAL(t.failed > 0, may_overflow);
        unit_free(&b.u);
    }
    static const ir_opcode un[] = {IR_NEG, IR_ABS, IR_RELU, IR_TOINT};
    for (size_t i = 0; i < sizeof un / sizeof *un; i++) {
        irb b;
        irb_init(&b, ir_op_name(un[i]));
        ir_op *x = irb_in(&b, 0, 1, (const int64_t[]){5});
        tally t = irb_run(&b, ir_build1(b.f, &b.u.d, un[i], b.at, x));
        CU_ASSERT_TRUE(t.ok > 0); /* neg and abs of INT64_MIN overflow: the ends of the range */
        CU_ASSERT_EQUAL(t.failed > 0, un[i] == IR_NEG || un[i] == IR_ABS);
        unit_free(&b.u);
    }
    irb b;
    irb_init(&b, "where");
    ir_op *c = irb_in(&b, 2, 2, (const int64_t[]){2, 3});
    ir_op *x = irb_in(&b, 0, 1, (const int64_t[]){3});
    ir_op *y = irb_in(&b, 0, 2, (const int64_t[]){2, 1});
    tally t = irb_run(&b, ir_build(b.f, &b.u.d, IR_WHERE, b.at, 3, (ir_op *[]){c, x, y}));
    CU_ASSERT_EQUAL(t.ok, SAMPLES);
    unit_free(&b.u);

    irb_init(&b, "lookup");
    ir_type tt = {.rank = 1, .dims = {5}};
    ir_op *tab = ir_build_const_int(b.f, b.at, tt, (const int64_t[]){7, -3, 0, 12, 5});
    ir_op *i = irb_in(&b, 4, 1, (const int64_t[]){2}); /* -8..7: often outside [0, 5) */
    t = irb_run(&b, ir_build2(b.f, &b.u.d, IR_LOOKUP, b.at, tab, i));
    CU_ASSERT_TRUE(t.ok > 0);
    CU_ASSERT_TRUE(t.failed > 0);
    unit_free(&b.u);
}

/* Real ops (only on clear data in practice): r = toint(op(a / 4, b / 3) * 1e12),
 * so that any difference in the last bits shows. */
static void test_ir_reals(void) {
    static const ir_opcode ops[] = {
        IR_FLOOR,   IR_CEIL,     IR_RINT, IR_EXP, IR_LOG, IR_SQRT, IR_SIGMOID, IR_TANH,
        IR_GELU,    IR_SOFTPLUS, IR_SILU, IR_SIN, IR_COS, IR_ABS,  IR_RELU,    IR_NEG,
        IR_TOFLOAT, IR_ADD,      IR_SUB,  IR_MUL, IR_DIV, IR_POW,  IR_MIN,     IR_MAX,
        IR_LT,      IR_LE,       IR_GT,   IR_GE,  IR_EQ,  IR_NE,   IR_WHERE,   IR_TOINT};
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
        irb b;
        irb_init(&b, ir_op_name(ops[k]));
        ir_op *a = irb_in(&b, 7, 1, (const int64_t[]){4}); /* -64..63 */
        ir_op *c = irb_in(&b, 4, 0, NULL);
        diag_ctx *d = &b.u.d;
        ir_op *x = ir_build2(b.f, d, IR_DIV, b.at, a, ir_build_scalar_float(b.f, b.at, 4.0));
        ir_op *y = ir_build2(b.f, d, IR_DIV, b.at, c, ir_build_scalar_float(b.f, b.at, 3.0));
        int arity = ir_op_arity(ops[k]);
        ir_op *r = arity == 1   ? ir_build1(b.f, d, ops[k], b.at, x)
                   : arity == 2 ? ir_build2(b.f, d, ops[k], b.at, x, y)
                                : ir_build(b.f, d, ops[k], b.at, 3, (ir_op *[]){y, x, a});
        if (ops[k] == IR_TOINT || ops[k] == IR_POW) /* integer-valued / one more real step */
            r = ir_build2(b.f, d, IR_ADD, b.at, r, ir_build_scalar_float(b.f, b.at, 0.5));
        r = ir_build2(b.f, d, IR_MUL, b.at, r, ir_build_scalar_float(b.f, b.at, 1e12));
        tally t = irb_run(&b, ir_build1(b.f, d, IR_TOINT, b.at, r));
        CU_ASSERT_TRUE(t.ok > 0); /* log, sqrt, pow of negatives, x / 0: NaN or inf fail */
        unit_free(&b.u);
    }
}

/* Reductions and windows on full-range values: every accumulation checked. */
static void test_ir_overflow(void) {
    for (int k = 0; k < 9; k++) {
        irb b;
        irb_init(&b, "acc");
        diag_ctx *d = &b.u.d;
        ir_op *r = NULL;
        if (k < 2) { /* sum, all and along an axis */
            ir_op *x = irb_in(&b, 0, 2, (const int64_t[]){2, 3});
            r = ir_build_sum(b.f, d, b.at, x, k ? 1 : -1);
        } else if (k < 4) { /* dot, matmul */
            ir_op *x = irb_in(&b, 0, k == 2 ? 1 : 2,
                              k == 2 ? (const int64_t[]){3} : (const int64_t[]){2, 3});
            ir_op *w = irb_in(&b, 0, k == 2 ? 1 : 2,
                              k == 2 ? (const int64_t[]){3} : (const int64_t[]){3, 2});
            r = ir_build2(b.f, d, k == 2 ? IR_DOT : IR_MATMUL, b.at, x, w);
        } else if (k < 7) { /* conv2d with padding and stride, sumpool2d, maxpool2d */
            ir_op *x = irb_in(&b, 0, 3, (const int64_t[]){2, 4, 3});
            if (k == 4) {
                ir_op *w = irb_in(&b, 0, 4, (const int64_t[]){2, 2, 2, 2});
                r = ir_build_conv2d(b.f, d, b.at, x, w, (const int[]){2, 1}, (const int[]){1, 1});
            } else {
                r = ir_build_pool(b.f, d, k == 5 ? IR_SUMPOOL2D : IR_MAXPOOL2D, b.at, x,
                                  (const int[]){2, 3}, (const int[]){1, 2}, (const int[]){1, 1});
            }
        } else { /* round: the rounding add near the top of int64; round of a narrower value */
            ir_op *x = irb_in(&b, k == 7 ? 0 : 12, 1, (const int64_t[]){4});
            r = ir_build_round(b.f, d, b.at, x, 0, k == 7 ? 5 : 3);
        }
        tally t = irb_run(&b, r);
        CU_ASSERT_TRUE(t.ok > 0);
        if (k != 6 && k != 8) CU_ASSERT_TRUE(t.failed > 0); /* maxpool, small round: never */
        unit_free(&b.u);
    }
}

/* Widths set by hand narrower than the values: each op's check fires
 * (copies too, where an alias would skip it). */
static void test_ir_widths(void) {
    for (int k = 0; k < 7; k++) {
        irb b;
        irb_init(&b, "narrow");
        diag_ctx *d = &b.u.d;
        ir_op *x = irb_in(&b, 8, 2, (const int64_t[]){2, 3}); /* -128..127 */
        ir_op *r;
        switch (k) {
        case 0: r = ir_build2(b.f, d, IR_ADD, b.at, x, x); break;
        case 1: r = ir_build_reshape(b.f, d, b.at, x, 1, (const int64_t[]){6}); break;
        case 2: r = ir_build_transpose(b.f, d, b.at, x, (const int64_t[]){1, 0}); break;
        case 3:
            r = ir_build_slice(b.f, d, b.at, x, (const int64_t[]){1, 0}, (const int64_t[]){2, 3},
                               (const int64_t[]){1, 2});
            break;
        case 4: r = ir_build_concat(b.f, d, b.at, 2, (ir_op *[]){x, x}, 1); break;
        case 5: r = ir_build_broadcast(b.f, d, b.at, x, 3, (const int64_t[]){2, 2, 3}); break;
        default: r = ir_build_sum(b.f, d, b.at, x, 0); break;
        }
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        r->type.bits = 6; /* -32..31 */
        r->type.is_signed = true;
        tally t = irb_run(&b, r);
        CU_ASSERT_TRUE(t.ok > 0);
        CU_ASSERT_TRUE(t.failed > 0);
        CU_ASSERT_EQUAL(t.fail_at[r->code], t.failed);
        unit_free(&b.u);
    }
}

/* ---- failures ---------------------------------------------------------------- */

static const char *const square = "circuit scaled_square(x: enc u4[3], y: enc u4) {\n"
                                  "    s = sum(x) + y;\n"
                                  "    t = lut(s, (v) => (v * v) / 8);\n"
                                  "    r = relu(s - 20);\n"
                                  "    return t, r;\n"
                                  "}\n";

/* An input outside its declared range: both refuse it, at the input. */
static void test_input_out_of_range(void) {
    unit u;
    unit_init(&u, "square.cml");
    CU_ASSERT_TRUE_FATAL(unit_compile(&u, square, NULL, NULL));
    ir_tensor xs[2];
    CU_ASSERT_FATAL(ir_tensor_alloc(&xs[0], false, 1, (const int64_t[]){3}));
    CU_ASSERT_FATAL(ir_tensor_alloc(&xs[1], false, 0, NULL));
    const ir_op *outs[2] = {0};
    ir_foreach(op, u.m->main) if (op->code == IR_OUTPUT) outs[op->index] = op;
    int64_t cases[][4] = {{1, 2, 3, 4},     {16, 0, 0, 0}, {0, 0, 0, -1},
                          {15, 15, 15, 15}, {0, -3, 0, 0}, {0, 0, 0, 16}};
    int want_rc[] = {0, 1, 2, 0, 1, 2}; /* x is %0, y is %1 */
    for (int c = 0; c < 6; c++) {
        memcpy(xs[0].i, cases[c], 3 * sizeof(int64_t));
        xs[1].i[0] = cases[c][3];
        int errors = u.d.errors;
        CU_ASSERT_TRUE(compare_one(&u, xs, 2, outs, 2, NULL));
        CU_ASSERT_EQUAL(u.d.errors > errors, want_rc[c] != 0);
        const int64_t *in[2] = {xs[0].i, xs[1].i};
        int64_t o0, o1, *out[2] = {&o0, &o1};
        CU_ASSERT_EQUAL(u.sim(in, out), want_rc[c]);
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(unit_log(&u), "outside its declared range [0, 15]"));
    ir_tensor_free(&xs[0]);
    ir_tensor_free(&xs[1]);
    unit_free(&u);
}

/* Widths inferred from calibration samples are too tight for other inputs:
 * the twin reports the first op that leaves its width, as --simulate. */
static void test_width_overflow(void) {
    unit u;
    unit_init(&u, "calib.cml");
    const char *text = "circuit calib(x: enc u4[2]) {\n"
                       "    s = x[0] * 3 + x[1];\n"
                       "    return s * 5, lut(s, (v) => v * 2);\n"
                       "}\n";
    ir_tensor rows[2];
    for (int r = 0; r < 2; r++) {
        CU_ASSERT_FATAL(ir_tensor_alloc(&rows[r], false, 1, (const int64_t[]){2}));
        rows[r].i[0] = r + 1;
        rows[r].i[1] = 2 * r;
    }
    pass_opts po = {.calib_inputs = rows, .calib_rows = 2};
    CU_ASSERT_TRUE_FATAL(unit_compile(&u, text, NULL, &po));
    tally t = compare(&u, SAMPLES, 99);
    CU_ASSERT_EQUAL(t.ok + t.failed, SAMPLES);
    CU_ASSERT_TRUE(t.ok > 0);
    CU_ASSERT_TRUE(t.fail_at[IR_MUL] > 0); /* s * 5 leaves its calibrated width */
    for (int r = 0; r < 2; r++) ir_tensor_free(&rows[r]);
    unit_free(&u);
}

/* ---- the spec and the other outputs ----------------------------------------------- */

static void test_spec(void) {
    unit u;
    unit_init(&u, "clear.cml");
    CU_ASSERT_TRUE_FATAL(unit_compile(&u,
                                      "circuit null(x: enc u4[2,3], k: clear i3) {\n"
                                      "    yes = x * k;\n"
                                      "    return yes, lut(x, (v) => v > 7);\n"
                                      "}\n",
                                      NULL, NULL));
    const char *want[] = {
        "format: 1\nabi: 2\nname: \"null\"\nkind: circuit\ncompiler: \"cmlc ",
        "inputs:\n  - name: \"x\"\n    shape: [2, 3]\n    encrypted: true\n    encoding_bits: ",
        "  - name: \"k\"\n    shape: []\n    encrypted: false\n    encoding_bits: 3\n"
        "    signed: true\n    range: [-4, 3]\n",
        "outputs:\n  - name: \"yes\"\n    shape: [2, 3]\n",
        "  - name: \"out1\"\n    shape: [2, 3]\n    encoding_bits: 1\n    signed: false\n"
        "    range: [0, 1]\n",
        "params:\n  precision: ",
        "  fingerprint: \"0x",
        "stats:\n  tlu_count: 1\n  pbs_count: 6\n  log2_p_error_pbs: -",
    };
    const char *at = u.spec;
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const char *p = strstr(at, want[i]);
        if (!p) fprintf(stderr, "\nspec lacks (in order):\n%s\nspec:\n%s", want[i], u.spec);
        CU_ASSERT_PTR_NOT_NULL(p);
        if (p) at = p + strlen(want[i]);
    }
    char *text = backend_spec_text(u.m);
    CU_ASSERT_STRING_EQUAL(text, u.spec);
    free(text);
    unit_free(&u);
}

static bool file_has(const char *path, const char *needle, size_t min_size) {
    struct stat st;
    if (stat(path, &st) != 0 || (size_t)st.st_size < min_size) return false;
    if (!needle) return true;
    char *s = slurp(path);
    bool ok = s && strstr(s, needle);
    free(s);
    return ok;
}

static void test_emit_kinds(void) {
    unit u;
    unit_init(&u, "square.cml");
    CU_ASSERT_TRUE_FATAL(unit_compile(&u, square, NULL, NULL));
    char path[4300];
    struct {
        backend_output kind;
        const char *name, *needle;
    } kinds[] = {
        {BACKEND_EMIT_LLVM, "m.ll", "define i32 @cml_circuit_simulate(i64**"},
        {BACKEND_EMIT_ASM, "m.s", "cml_circuit_simulate:"},
        {BACKEND_EMIT_OBJECT, "m.o", "\177ELF"},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        snprintf(path, sizeof path, "%s/%s", u.dir, kinds[i].name);
        backend_opts bo = {.kind = kinds[i].kind, .path = path};
        CU_ASSERT_TRUE(backend_compile(u.m, &u.d, &bo));
        CU_ASSERT_TRUE(file_has(path, kinds[i].needle, 64));
        unlink(path);
    }
    /* a linker that does not exist, a directory that does not exist */
    snprintf(path, sizeof path, "%s/x.so", u.dir);
    backend_opts bad_cc = {.kind = BACKEND_EMIT_SHARED, .path = path, .cc = "/nonexistent/cc"};
    CU_ASSERT_FALSE(backend_compile(u.m, &u.d, &bad_cc));
    CU_ASSERT_PTR_NOT_NULL(strstr(unit_log(&u), "cannot run the linker '/nonexistent/cc'"));
    backend_opts failing = {.kind = BACKEND_EMIT_SHARED, .path = path, .cc = "false"};
    CU_ASSERT_FALSE(backend_compile(u.m, &u.d, &failing));
    CU_ASSERT_PTR_NOT_NULL(strstr(unit_log(&u), "with 'false' failed (exit status 1)"));
    backend_opts nodir = {.kind = BACKEND_EMIT_LLVM, .path = "/nonexistent/dir/m.ll"};
    CU_ASSERT_FALSE(backend_compile(u.m, &u.d, &nodir));
    CU_ASSERT_PTR_NOT_NULL(strstr(unit_log(&u), "cannot open '/nonexistent/dir/m.ll' for writing"));
    unlink(path);
    unit_free(&u);
}

CU_TestInfo cml_tests_codegen[] = {
    {"examples against the interpreter", test_examples},
    {"add, sub, neg", test_arith},
    {"mul by constants and enc x enc", test_mul},
    {"dot and matmul", test_linear_algebra},
    {"sum with and without axis", test_sum},
    {"reshape, transpose, concat, slice, index", test_shapes},
    {"lut tables and lambdas", test_lut},
    {"round and --round-to", test_round},
    {"comparisons", test_comparisons},
    {"min, max, relu, abs, where", test_nonlinear},
    {"broadcasts of constants", test_broadcast},
    {"clear inputs, integer and real", test_clear_inputs},
    {"model: conv2d, avgpool2d, maxpool2d, dense", test_model_layers},
    {"large values: heap scratch, raw constants", test_large},
    {"clear maxpool2d, sumpool2d, conv2d (built IR)", test_clear_windows},
    {"every elementwise integer op (built IR)", test_ir_elemwise},
    {"every real op (built IR)", test_ir_reals},
    {"int64 overflow in reductions and windows (built IR)", test_ir_overflow},
    {"width checks of ops and copies (built IR)", test_ir_widths},
    {"input outside its range", test_input_out_of_range},
    {"calibrated widths overflow", test_width_overflow},
    {"spec", test_spec},
    {"LLVM IR, assembly, object; link errors", test_emit_kinds},
    CU_TEST_INFO_NULL,
};
