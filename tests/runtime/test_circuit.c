/* test_circuit.c — the circuit loader (cml/runtime.h): the spec parser on
 * valid and broken YAML, loading real compiled models, their clear twin
 * against `cmlc --simulate`, and loading everything that is not a model.
 *
 * Why it exists: a model.so is untrusted input. Every way a spec can be
 * wrong must give CML_ERR_FORMAT and a message naming the origin and the
 * key (tested on strings through cml_spec_parse, one mutation of a valid
 * spec each); every way a file can be wrong must give a status and a
 * message naming the file, never a crash. Models are compiled at test time
 * by the cmlc binary (CMLC_PATH) into a temporary directory; the small
 * foreign .so files are built with $CC (default cc) and their tests are
 * skipped with a note if no compiler runs. */
#include "circuit_spec.h"
#include "cml_test.h"

#include <cml/circuit_abi.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CMLC_PATH
#error "CMLC_PATH must name the cmlc binary"
#endif
#ifndef CML_SOURCE_DIR
#error "CML_SOURCE_DIR must name the source tree"
#endif

/* ---- the spec parser on strings ---------------------------------------- */

static const char base_spec[] =
    "format: 1\n"
    "abi: 2\n"
    "name: \"iris\"\n"
    "kind: model\n"
    "compiler: \"cmlc 0.1.0\"\n"
    "inputs:\n"
    "  - name: \"x\"\n"
    "    shape: [4]\n"
    "    encrypted: true\n"
    "    encoding_bits: 9\n"
    "    signed: true\n"
    "    range: [0, 15]\n"
    "    quant: {scale: 0.5, zero_point: 1, bits: 4}\n"
    "outputs:\n"
    "  - name: \"out0\"\n"
    "    shape: [3]\n"
    "    encoding_bits: 10\n"
    "    signed: true\n"
    "    range: [-334, 259]\n"
    "    quant: {scale: 0.25, zero_point: 0}\n"
    "    post: argmax\n"
    "params:\n"
    "  precision: 8\n"
    "  glwe_dimension: 1\n"
    "  polynomial_size: 32768\n"
    "  lwe_dimension: 1023\n"
    "  pbs_base_log: 15\n"
    "  pbs_level: 2\n"
    "  ks_base_log: 3\n"
    "  ks_level: 7\n"
    "  lwe_noise_std: 7.8004184013955643e-08\n"
    "  glwe_noise_std: 2.1684043449710089e-19\n"
    "  fingerprint: \"0x7d6715d509f65cf5\"\n"
    "stats:\n"
    "  tlu_count: 1\n"
    "  pbs_count: 32\n"
    "  log2_p_error_pbs: -40.5\n"
    "  log2_p_error_circuit: -35.5\n";

/* base_spec with the first `from` replaced by `to` (static buffer). */
static const char *mutate(const char *from, const char *to) {
    static char buf[sizeof base_spec + 512];
    const char *at = strstr(base_spec, from);
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    size_t pre = (size_t)(at - base_spec);
    CU_ASSERT_FATAL(sizeof base_spec + strlen(to) < sizeof buf);
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)pre, base_spec, to, at + strlen(from));
    return buf;
}

static void test_parse_valid(void) {
    cml_spec s;
    CU_ASSERT_EQUAL_FATAL(cml_spec_parse(base_spec, strlen(base_spec), "t.yaml", &s), CML_OK);
    CU_ASSERT_STRING_EQUAL(s.name, "iris");
    CU_ASSERT_STRING_EQUAL(s.compiler, "cmlc 0.1.0");
    CU_ASSERT(s.is_model);
    CU_ASSERT_EQUAL(s.ninputs, 1);
    CU_ASSERT_EQUAL(s.noutputs, 1);
    const cml_tensor_spec *x = &s.inputs[0], *y = &s.outputs[0];
    CU_ASSERT_STRING_EQUAL(x->name, "x");
    CU_ASSERT(x->rank == 1 && x->dims[0] == 4 && x->count == 4);
    CU_ASSERT(x->encoding_bits == 9 && x->is_signed && x->encrypted);
    CU_ASSERT(x->lo == 0 && x->hi == 15);
    CU_ASSERT(x->has_quant && x->scale == 0.5 && x->zero_point == 1 && x->quant_bits == 4);
    CU_ASSERT_EQUAL(x->post, CML_POST_NONE);
    CU_ASSERT(y->count == 3 && y->lo == -334 && y->hi == 259 && y->encrypted);
    CU_ASSERT(y->has_quant && y->scale == 0.25 && y->quant_bits == 0);
    CU_ASSERT_EQUAL(y->post, CML_POST_ARGMAX);
    CU_ASSERT(s.has_params);
    CU_ASSERT(s.params.polynomial_size == 32768 && s.params.lwe_dimension == 1023);
    CU_ASSERT(s.params.ks_level == 7 && s.params.lwe_noise_std == 7.8004184013955643e-08);
    CU_ASSERT_EQUAL(s.params.log2_p_error, -40.5);
    CU_ASSERT(s.stats.tlu_count == 1 && s.stats.pbs_count == 32 && s.stats.has_p_error);
    CU_ASSERT_EQUAL(s.stats.log2_p_error_circuit, -35.5);
    CU_ASSERT(!s.has_light);
    cml_spec_free(&s);
    cml_spec_free(&s); /* emptied: harmless twice */
    /* the same input quantized per feature */
    const char *pf = mutate("scale: 0.5, zero_point: 1,",
                            "scales: [0.5, 0.25, 2, 1e-3], zero_points: [1, 0, 3, 15],");
    CU_ASSERT_EQUAL_FATAL(cml_spec_parse(pf, strlen(pf), "pf.yaml", &s), CML_OK);
    x = &s.inputs[0];
    CU_ASSERT(x->has_quant && x->quant_features == 4 && x->quant_bits == 4);
    CU_ASSERT(x->scales[1] == 0.25 && x->scales[3] == 1e-3);
    CU_ASSERT(x->zero_points[0] == 1 && x->zero_points[2] == 3 && x->zero_points[3] == 15);
    cml_spec_free(&s);
    /* ... and binned by split points */
    const char *tb = mutate("scale: 0.5, zero_point: 1,", "edges: [[1], [], [-2, 3.5], [0]],");
    CU_ASSERT_EQUAL_FATAL(cml_spec_parse(tb, strlen(tb), "tb.yaml", &s), CML_OK);
    x = &s.inputs[0];
    CU_ASSERT(x->has_quant && x->quant_features == 4 && x->scales == NULL);
    CU_ASSERT(x->edge_at[0] == 0 && x->edge_at[1] == 1 && x->edge_at[2] == 1);
    CU_ASSERT(x->edge_at[3] == 3 && x->edge_at[4] == 4);
    CU_ASSERT(x->edges[1] == -2 && x->edges[2] == 3.5);
    cml_spec_free(&s);
    /* a light bootstrap key for the rounds (base_spec has none) */
    const char *lk = mutate("  pbs_level: 2\n", "  pbs_level: 2\n  light_base_log: 23\n  light_level: 1\n");
    CU_ASSERT_EQUAL_FATAL(cml_spec_parse(lk, strlen(lk), "lk.yaml", &s), CML_OK);
    CU_ASSERT(s.has_light && s.light.pbs_base_log == 23 && s.light.pbs_level == 1);
    CU_ASSERT(s.light.glwe_dimension == s.params.glwe_dimension &&
              s.light.polynomial_size == s.params.polynomial_size);
    cml_spec_free(&s);
    /* ... and one with a smaller GLWE key (the start of the main one) */
    lk = mutate("  pbs_level: 2\n", "  pbs_level: 2\n  light_base_log: 23\n  light_level: 1\n"
                                    "  light_glwe_dimension: 2\n  light_polynomial_size: 1024\n");
    CU_ASSERT_EQUAL_FATAL(cml_spec_parse(lk, strlen(lk), "lk.yaml", &s), CML_OK);
    CU_ASSERT(s.has_light && s.light.glwe_dimension == 2 && s.light.polynomial_size == 1024);
    CU_ASSERT(s.light.glwe_noise_std == cml_secure_noise_std(2048));
    cml_spec_free(&s);

    /* optional parts: no params, no log2 figures, no quant, scalars,
     * plain names, clear inputs, post none, no inputs at all */
    const char *min = "format: 1\nabi: 2\nname: c\nkind: circuit\ncompiler: x\ninputs: []\n"
                      "outputs:\n  - {name: y, shape: [], encoding_bits: 3, signed: false, "
                      "range: [0, 7]}\nstats: {tlu_count: 0, pbs_count: 0}\n";
    CU_ASSERT_EQUAL_FATAL(cml_spec_parse(min, strlen(min), "t.yaml", &s), CML_OK);
    CU_ASSERT(!s.is_model && !s.has_params && !s.stats.has_p_error && s.ninputs == 0);
    CU_ASSERT(s.outputs[0].rank == 0 && s.outputs[0].count == 1 && !s.outputs[0].has_quant);
    cml_spec_free(&s);

    const char *txt = mutate("  - name: \"x\"\n    shape: [4]\n    encrypted: true",
                             "  - name: \"x\"\n    shape: [2, 2]\n    encrypted: false");
    CU_ASSERT_EQUAL_FATAL(cml_spec_parse(txt, strlen(txt), "t.yaml", &s), CML_OK);
    CU_ASSERT(s.inputs[0].rank == 2 && s.inputs[0].count == 4 && !s.inputs[0].encrypted);
    cml_spec_free(&s);
    txt = mutate("log2_p_error_pbs: -40.5", "log2_p_error_pbs: -.inf");
    CU_ASSERT_EQUAL_FATAL(cml_spec_parse(txt, strlen(txt), "t.yaml", &s), CML_OK);
    CU_ASSERT(isinf(s.stats.log2_p_error_pbs) && s.stats.log2_p_error_pbs < 0);
    cml_spec_free(&s);
}

typedef struct broken {
    const char *from, *to; /* mutation of base_spec (from NULL: `to` is the whole text) */
    const char *msg;       /* expected in the message */
} broken;

static void test_parse_errors(void) {
    static const broken cases[] = {
        /* versions */
        {"format: 1", "format: 2", "unsupported spec format 2"},
        {"format: 1\n", "", "missing key 'format'"},
        {"format: 1", "format: one", "format: expected an integer"},
        {"abi: 2", "abi: 7", "abi: circuit ABI 7"},
        /* keys */
        {"kind: model\n", "", "missing key 'kind'"},
        {"stats:\n", "extra: 1\nstats:\n", "unknown key 'extra'"},
        {"    encrypted: true\n", "    encrypted: true\n    foo: 1\n",
         "inputs[0]: unknown key 'foo'"},
        {"    shape: [3]\n", "    shape: [3]\n    encrypted: true\n",
         "outputs[0]: unknown key 'encrypted'"},
        {"    range: [0, 15]\n", "    range: [0, 15]\n    post: none\n",
         "inputs[0]: unknown key 'post'"},
        {"zero_point: 0}", "zero_point: 0, bits: 4}", "outputs[0].quant: unknown key 'bits'"},
        {"{scale: 0.5, ", "{", "inputs[0].quant: missing key 'scale'"},
        {"  pbs_level: 2\n", "", "params: missing key 'pbs_level'"},
        /* the optional light bootstrap key: both keys, a valid decomposition */
        {"  pbs_level: 2\n", "  pbs_level: 2\n  light_level: 1\n",
         "light_base_log and light_level go together"},
        {"  pbs_level: 2\n", "  pbs_level: 2\n  light_base_log: 40\n  light_level: 2\n",
         "at most 53 bits"},
        {"  pbs_level: 2\n", "  pbs_level: 2\n  light_base_log: 15\n  light_level: 2\n",
         "would only duplicate it"},
        {"  pbs_level: 2\n", "  pbs_level: 2\n  light_glwe_dimension: 1\n",
         "light_glwe_dimension and light_polynomial_size go together"},
        {"  pbs_level: 2\n",
         "  pbs_level: 2\n  light_glwe_dimension: 1\n  light_polynomial_size: 1024\n",
         "need light_base_log and light_level"},
        {"  pbs_level: 2\n",
         "  pbs_level: 2\n  light_base_log: 23\n  light_level: 1\n  light_glwe_dimension: 2\n"
         "  light_polynomial_size: 32768\n",
         "the start of the main one"},
        {"name: \"iris\"", "name: \"iris\"\nname: \"again\"", "key 'name' appears twice"},
        {"    signed: true\n    range: [0, 15]", "    range: [0, 15]", "missing key 'signed'"},
        /* kinds and values */
        {"kind: model", "kind: network", "kind: expected model or circuit"},
        {"name: \"iris\"", "name: {a: 1}", "name: expected a string"},
        {"encrypted: true", "encrypted: yes", "inputs[0].encrypted: expected true or false"},
        {"post: argmax", "post: maximum", "unknown post-processing 'maximum'"},
        {"post: argmax", "post: \"argmax\"", "outputs[0].post: expected none"},
        /* shapes */
        {"shape: [4]", "shape: [4, 0]", "inputs[0].shape: dimension 1 is 0, must be positive"},
        {"shape: [4]", "shape: [-4]", "dimension 0 is -4"},
        {"shape: [4]", "shape: [1, 1, 1, 1, 1, 1, 4]", "7 dimensions, at most 6"},
        {"shape: [4]", "shape: [4096, 4096, 2]", "more than 2^24 elements"},
        {"shape: [4]", "shape: 4", "inputs[0].shape: expected a list"},
        {"shape: [4]", "shape: [4.5]", "expected an integer, got '4.5'"},
        {"shape: [4]", "shape: [99999999999999999999]", "expected an integer"},
        /* encodings and ranges */
        {"encoding_bits: 9", "encoding_bits: 0", "inputs[0].encoding_bits: 0 is out of range [1, 62]"},
        {"encoding_bits: 9", "encoding_bits: 63", "63 is out of range [1, 62]"},
        {"range: [0, 15]", "range: [15, 0]", "inputs[0].range: lo 15 > hi 0"},
        {"range: [0, 15]", "range: [0]", "expected [lo, hi]"},
        {"range: [0, 15]", "range: [0, 256]", "does not fit 9-bit signed encoding"},
        /* quantization */
        {"scale: 0.5", "scale: -0.5", "inputs[0].quant.scale: -0.5 is not a positive finite scale"},
        {"scale: 0.5", "scale: 0", "not a positive finite scale"},
        {"scale: 0.5", "scale: .inf", "not a positive finite scale"},
        {"scale: 0.5", "scale: .nan", "not a positive finite scale"},
        {"scale: 0.5", "scale: \"0.5\"", "quant.scale: expected a number"},
        {"scale: 0.5", "scale: inf", "expected a number, got 'inf'"},
        {"bits: 4}", "bits: 0}", "inputs[0].quant.bits: 0 is out of range"},
        /* per-feature quantization (inputs only, one entry per last-axis index) */
        {"scale: 0.5, zero_point: 1,", "scales: [0.5, 0.5, 0.5], zero_points: [1, 1, 1, 1],",
         "inputs[0].quant.scales: expected 4 values (one per feature), got 3"},
        {"scale: 0.5, zero_point: 1,", "scales: [0.5, -1, 0.5, 0.5], zero_points: [1, 1, 1, 1],",
         "inputs[0].quant.scales[1]: -1 is not a positive finite scale"},
        {"scale: 0.5, zero_point: 1,", "scales: [0.5, 1, 0.5, 0.5], zero_points: [1, 1.5, 1, 1],",
         "inputs[0].quant.zero_points[1]: expected an integer"},
        {"scale: 0.5, zero_point: 1,", "scale: 0.5, scales: [0.5, 1, 0.5, 0.5], zero_point: 1,",
         "inputs[0].quant: one of scale and zero_point, scales and zero_points, or edges"},
        {"scale: 0.5, zero_point: 1,", "scales: [0.5, 1, 0.5, 0.5],",
         "inputs[0].quant: missing key 'zero_points'"},
        {"zero_point: 0}", "zero_point: 0, scales: [1]}", "outputs[0].quant: unknown key 'scales'"},
        /* tree bins: one increasing list of edges per feature */
        {"scale: 0.5, zero_point: 1,", "edges: [[1], [], [2, 3]],",
         "inputs[0].quant.edges: expected 4 lists (one per feature), got 3"},
        {"scale: 0.5, zero_point: 1,", "edges: [[1], [], [3, 2], [0]],",
         "inputs[0].quant.edges[2][1]: edges must increase (2 after 3)"},
        {"scale: 0.5, zero_point: 1,", "edges: [[1], [], [2, 2], [0]],", "edges must increase"},
        {"scale: 0.5, zero_point: 1,", "edges: [[1], [], [.inf], [0]],",
         "inputs[0].quant.edges[2][0]: inf is not a finite edge"},
        {"scale: 0.5, zero_point: 1,", "edges: [[1], 2, [3], [0]],",
         "inputs[0].quant.edges[1]: expected a list"},
        {"scale: 0.5, zero_point: 1,", "scale: 0.5, edges: [[1], [], [3], [0]],",
         "one of scale and zero_point, scales and zero_points, or edges"},
        /* params and stats */
        {"polynomial_size: 32768", "polynomial_size: 32769", "fingerprint: 0x7d6715d509f65cf5 does not match"},
        {"fingerprint: \"0x7d6715d509f65cf5\"", "fingerprint: \"7d67\"", "expected \"0x\" and 16 hex"},
        {"lwe_noise_std: 7.8004184013955643e-08", "lwe_noise_std: -1", "not a noise standard deviation"},
        {"ks_level: 7", "ks_level: -7", "params.ks_level: -7 is out of range"},
        {"  log2_p_error_circuit: -35.5\n", "", "go together"},
        {"pbs_count: 32", "pbs_count: -1", "stats.pbs_count: -1 is out of range"},
        {"stats:\n  tlu_count: 1\n  pbs_count: 32\n", "stats:\n  tlu_count: 1\n",
         "stats: missing key 'pbs_count'"},
        {"inputs:\n  - name: \"x\"\n    shape: [4]\n    encrypted: true\n    encoding_bits: 9\n"
         "    signed: true\n    range: [0, 15]\n    quant: {scale: 0.5, zero_point: 1, bits: 4}\n",
         "inputs: 3\n", "inputs: expected a list"},
        {"stats:\n  tlu_count: 1\n  pbs_count: 32\n  log2_p_error_pbs: -40.5\n"
         "  log2_p_error_circuit: -35.5\n",
         "stats: [1]\n", "stats: expected a mapping"},
        /* documents */
        {NULL, "", "the document is empty"},
        {NULL, "- 1\n- 2\n", "expected a mapping at the top"},
        {NULL, "format: 1\ninputs: [\n", "invalid circuit spec, line"},
        {NULL, "format: 1\n\tabi: 2\n", "invalid circuit spec, line 2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const broken *b = &cases[i];
        const char *txt = b->from ? mutate(b->from, b->to) : b->to;
        cml_spec s;
        cml_status st = cml_spec_parse(txt, strlen(txt), "bad.yaml", &s);
        const char *msg = cml_last_error();
        bool ok = st == CML_ERR_FORMAT && strstr(msg, b->msg) && !strncmp(msg, "bad.yaml: ", 10);
        if (!ok)
            fprintf(stderr, "\ncase %zu ('%s' -> '%s'): status %s, message '%s', expected '%s'\n",
                    i, b->from ? b->from : "", b->to, cml_status_name(st), msg, b->msg);
        CU_ASSERT(ok);
        CU_ASSERT(s.name == NULL && s.inputs == NULL && s.ninputs == 0);
        cml_spec_free(&s);
    }
    /* a NUL inside the text: the length given is what counts */
    cml_spec s;
    CU_ASSERT_EQUAL(cml_spec_parse(base_spec, 40, "cut.yaml", &s), CML_ERR_FORMAT);
    CU_ASSERT_EQUAL(cml_spec_parse(NULL, 0, "x", &s), CML_ERR_ARG);
}

/* ---- compiled models ------------------------------------------------------ */

static char tmpdir[64];

static void remove_tmpdir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

static const char *tmp_path(const char *name) {
    static char buf[4][160];
    static int next;
    char *p = buf[next++ % 4];
    if (!tmpdir[0]) {
        strcpy(tmpdir, "/tmp/cml_circuit_XXXXXX");
        if (!mkdtemp(tmpdir)) {
            tmpdir[0] = '\0';
            return NULL;
        }
        atexit(remove_tmpdir);
    }
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

static int run(const char *cmd) {
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "\n'%s' failed (%d)\n", cmd, rc);
    return rc;
}

/* Compiles CML_SOURCE_DIR/src (once) to tmpdir/name.so; NULL on failure. */
static const char *compiled(const char *src, const char *name, const char *flags) {
    char so[64];
    snprintf(so, sizeof so, "%s.so", name);
    const char *out = tmp_path(so);
    if (!out) return NULL;
    if (access(out, R_OK) == 0) return out;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' '%s/%s' %s -o '%s'", CMLC_PATH, CML_SOURCE_DIR, src, flags,
             out);
    return run(cmd) == 0 ? out : NULL;
}

static cml_circuit *load_ok(const char *path) {
    cml_circuit *c = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    cml_status st = cml_circuit_load(path, &c);
    if (st != CML_OK) fprintf(stderr, "\n%s\n", cml_last_error());
    CU_ASSERT_EQUAL_FATAL(st, CML_OK);
    return c;
}

static void test_load_iris(void) {
    cml_circuit *c = load_ok(compiled("examples/iris_mlp.cml", "iris_mlp", ""));
    CU_ASSERT_STRING_EQUAL(cml_circuit_name(c), "iris_mlp");
    CU_ASSERT(!strncmp(cml_circuit_compiler(c), "cmlc ", 5));
    CU_ASSERT(cml_circuit_is_model(c));
    CU_ASSERT(!strncmp(cml_circuit_spec_text(c), "format: 1\n", 10));
    CU_ASSERT_EQUAL(cml_circuit_num_inputs(c), 1);
    CU_ASSERT_EQUAL(cml_circuit_num_outputs(c), 1);
    const cml_tensor_spec *x = cml_circuit_input(c, 0), *y = cml_circuit_output(c, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    CU_ASSERT_PTR_NULL(cml_circuit_input(c, 1));
    CU_ASSERT_PTR_NULL(cml_circuit_output(c, 1));
    CU_ASSERT_STRING_EQUAL(x->name, "x");
    CU_ASSERT(x->rank == 1 && x->dims[0] == 4 && x->count == 4 && x->encrypted);
    CU_ASSERT(x->lo == 0 && x->hi == 7);
    /* 3-bit inputs over the calibrated range [0, 7.9] of iris_train.csv */
    CU_ASSERT(x->has_quant && x->quant_bits == 3 && x->zero_point == 0);
    CU_ASSERT_DOUBLE_EQUAL(x->scale, 7.9 / 7, 1e-12);
    CU_ASSERT_STRING_EQUAL(y->name, "out0");
    CU_ASSERT(y->rank == 1 && y->dims[0] == 3 && y->has_quant && y->scale > 0);
    CU_ASSERT_EQUAL(y->post, CML_POST_ARGMAX);
    const cml_params *p = cml_circuit_params(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(p->precision >= 1 && p->polynomial_size >= 256 && p->lwe_dimension > 0);
    CU_ASSERT(cml_circuit_stats(c)->tlu_count == 1 && cml_circuit_stats(c)->has_p_error);
    cml_circuit_free(c);
    cml_circuit_free(NULL);
    CU_ASSERT_PTR_NULL(cml_circuit_name(NULL));
    CU_ASSERT_EQUAL(cml_circuit_num_inputs(NULL), 0);
}

/* The first `rows` lines `cmlc SRC --simulate --input CSV` prints. */
static char *cmlc_simulate(const char *src, const char *csv) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' '%s/%s' --simulate --input '%s/%s'", CMLC_PATH,
             CML_SOURCE_DIR, src, CML_SOURCE_DIR, csv);
    FILE *f = popen(cmd, "r");
    if (!f) return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
    (void)n;
    if (pclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Quantizes, simulates and prints every row of CSV, as cml predict does. */
static char *predict(const cml_circuit *c, const char *csv) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", CML_SOURCE_DIR, csv);
    FILE *in = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    int64_t q[4][64], y[4][64];
    const int64_t *qin[4] = {q[0], q[1], q[2], q[3]};
    int64_t *const yout[4] = {y[0], y[1], y[2], y[3]};
    char line[4096];
    while (fgets(line, sizeof line, in)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        double row[256];
        size_t n = 0;
        for (char *s = line, *end; n < 256; s = end + 1) {
            row[n++] = strtod(s, &end);
            if (*end != ',') break;
        }
        size_t col = 0;
        for (size_t k = 0; k < cml_circuit_num_inputs(c); k++) {
            CU_ASSERT_FATAL(k < 4 && cml_circuit_input(c, k)->count <= 64);
            CU_ASSERT_EQUAL(cml_quantize_input(c, k, row + col, q[k]), CML_OK);
            col += (size_t)cml_circuit_input(c, k)->count;
        }
        CU_ASSERT_EQUAL(col, n);
        CU_ASSERT_EQUAL_FATAL(cml_circuit_simulate(c, qin, yout), CML_OK);
        for (size_t k = 0; k < cml_circuit_num_outputs(c); k++) {
            if (k) fputc(',', out);
            CU_ASSERT_EQUAL(cml_output_fprint(out, cml_circuit_output(c, k), y[k]), CML_OK);
        }
        fputc('\n', out);
    }
    fclose(in);
    fclose(out);
    return text;
}

static void same_as_cmlc(const char *src, const char *name, const char *csv) {
    cml_circuit *c = load_ok(compiled(src, name, ""));
    char *want = cmlc_simulate(src, csv), *got = predict(c, csv);
    CU_ASSERT_PTR_NOT_NULL_FATAL(want);
    CU_ASSERT(strlen(want) > 0);
    if (strcmp(want, got)) fprintf(stderr, "\ncmlc:\n%s\nruntime:\n%s\n", want, got);
    CU_ASSERT_STRING_EQUAL(want, got);
    free(want);
    free(got);
    cml_circuit_free(c);
}

static void test_simulate_models(void) {
    same_as_cmlc("examples/iris_mlp.cml", "iris_mlp", "examples/iris_test.csv");
    same_as_cmlc("examples/thresholds.cml", "thresholds", "tests/cli/thresholds.csv");
    same_as_cmlc("tests/cli/post_softmax.cml", "post_softmax", "tests/cli/post_softmax.csv");
}

static void test_thresholds(void) {
    cml_circuit *c = load_ok(compiled("examples/thresholds.cml", "thresholds", ""));
    CU_ASSERT(!cml_circuit_is_model(c));
    CU_ASSERT_EQUAL_FATAL(cml_circuit_num_inputs(c), 4);
    CU_ASSERT_EQUAL_FATAL(cml_circuit_num_outputs(c), 3);
    static const char *const in_names[] = {"income", "debt", "age", "weights"};
    static const char *const out_names[] = {"capped", "margin", "out2"};
    for (size_t k = 0; k < 4; k++) CU_ASSERT_STRING_EQUAL(cml_circuit_input(c, k)->name, in_names[k]);
    for (size_t k = 0; k < 3; k++) {
        const cml_tensor_spec *o = cml_circuit_output(c, k);
        CU_ASSERT_STRING_EQUAL(o->name, out_names[k]);
        CU_ASSERT(o->rank == 0 && o->count == 1 && !o->has_quant && o->post == CML_POST_NONE);
    }
    const cml_tensor_spec *age = cml_circuit_input(c, 2), *w = cml_circuit_input(c, 3);
    CU_ASSERT(age->rank == 0 && age->count == 1 && age->lo == 0 && age->hi == 63 && !age->is_signed);
    CU_ASSERT(w->rank == 1 && w->dims[0] == 3 && w->hi == 7 && !w->has_quant);

    int64_t income = 10, debt = 3, agev = 30, wv[3] = {1, 2, 3}, y[3];
    const int64_t *in[4] = {&income, &debt, &agev, wv};
    int64_t *const out[3] = {&y[0], &y[1], &y[2]};
    CU_ASSERT_EQUAL_FATAL(cml_circuit_simulate(c, in, out), CML_OK);
    /* over = [1, 0, 0]; score = 1 + 4 = 5; margin 7; solvent: income */
    CU_ASSERT(y[0] == 5 && y[1] == 7 && y[2] == 10);

    income = 16;
    CU_ASSERT_EQUAL(cml_circuit_simulate(c, in, out), CML_ERR_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(cml_last_error(), "input 'income'[0] = 16 is outside its range [0, 15]"));
    CU_ASSERT_EQUAL(cml_circuit_simulate(c, NULL, out), CML_ERR_ARG);

    /* integer inputs: no quantization, integers within range only */
    double xs[3] = {1, 2, 7}, bad[3] = {1, 2.5, 3}, big[3] = {1, 2, 8};
    int64_t q[3];
    CU_ASSERT_EQUAL(cml_quantize_input(c, 3, xs, q), CML_OK);
    CU_ASSERT(q[0] == 1 && q[1] == 2 && q[2] == 7);
    CU_ASSERT_EQUAL(cml_quantize_input(c, 3, bad, q), CML_ERR_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(cml_last_error(), "'weights'[1] needs integers, got 2.5"));
    CU_ASSERT_EQUAL(cml_quantize_input(c, 3, big, q), CML_ERR_ARG);
    CU_ASSERT_EQUAL(cml_quantize_input(c, 4, xs, q), CML_ERR_ARG);
    double d[1];
    CU_ASSERT_EQUAL(cml_dequantize_output(c, 1, &y[1], d), CML_OK);
    CU_ASSERT_EQUAL(d[0], 7.0);
    cml_circuit_free(c);
}

/* Calibrated bounds narrower than an input allows: the twin reports the op. */
static void test_simulate_overflow(void) {
    cml_circuit *c = load_ok(compiled("tests/check/calibrate_bounds.cml", "calibrated",
                                      "--calibrate '" CML_SOURCE_DIR "/tests/check/calibrate_bounds.csv'"));
    int64_t x[4] = {5, 5, 5, 5}, y[1];
    const int64_t *in[1] = {x};
    int64_t *const out[1] = {y};
    CU_ASSERT_EQUAL(cml_circuit_simulate(c, in, out), CML_OK);
    CU_ASSERT_EQUAL(y[0], 0);
    x[0] = x[1] = x[2] = x[3] = 200;
    CU_ASSERT_EQUAL(cml_circuit_simulate(c, in, out), CML_ERR_ARG);
    const char *msg = cml_last_error();
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "calibrated.so: op %"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "left its inferred width (input out of range or calibration "
                                       "bounds too tight)"));
    cml_circuit_free(c);
}

static void test_conversions(void) {
    cml_circuit *c = load_ok(compiled("examples/iris_mlp.cml", "iris_mlp", ""));
    const cml_tensor_spec *x = cml_circuit_input(c, 0);
    double v[4] = {x->scale * 3, -1.0, 1e300, NAN};
    int64_t q[4];
    CU_ASSERT_EQUAL(cml_quantize_input(c, 0, v, q), CML_OK);
    CU_ASSERT(q[0] == 3 && q[1] == 0 && q[2] == 7 && q[3] == 0); /* clamped; NaN -> zero point */
    int64_t yq[3] = {4, -8, 0};
    double y[3];
    CU_ASSERT_EQUAL(cml_dequantize_output(c, 0, yq, y), CML_OK);
    const cml_tensor_spec *o = cml_circuit_output(c, 0);
    CU_ASSERT_DOUBLE_EQUAL(y[0], 4 * o->scale, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(y[1], -8 * o->scale, 1e-15);
    CU_ASSERT_EQUAL(cml_dequantize_output(c, 1, yq, y), CML_ERR_ARG);
    CU_ASSERT_EQUAL(cml_quantize_input(c, 0, NULL, q), CML_ERR_ARG);
    cml_circuit_free(c);

    double a[4] = {1, 3, 3, 2};
    CU_ASSERT_EQUAL(cml_post_apply(CML_POST_ARGMAX, a, 4), 1);
    CU_ASSERT_EQUAL(a[0], 1.0); /* the first of equal maxima */
    double s[3] = {1000, 1000, 1000 - log(2.0)};
    CU_ASSERT_EQUAL(cml_post_apply(CML_POST_SOFTMAX, s, 3), 3);
    CU_ASSERT_DOUBLE_EQUAL(s[0], 0.4, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(s[2], 0.2, 1e-12);
    double g[2] = {0, 800};
    CU_ASSERT_EQUAL(cml_post_apply(CML_POST_SIGMOID, g, 2), 2);
    CU_ASSERT(g[0] == 0.5 && g[1] == 1.0);
    CU_ASSERT_EQUAL(cml_post_apply(CML_POST_NONE, g, 2), 2);
    CU_ASSERT_STRING_EQUAL(cml_post_name(CML_POST_SOFTMAX), "softmax");
    double ex[2] = {0, log(3.0)};
    CU_ASSERT_EQUAL(cml_post_apply(CML_POST_EXP, ex, 2), 2);
    CU_ASSERT(ex[0] == 1.0);
    CU_ASSERT_DOUBLE_EQUAL(ex[1], 3.0, 1e-12);
    CU_ASSERT_STRING_EQUAL(cml_post_name(CML_POST_EXP), "exp");
    double vt[5] = {2, 0, 2, 0, 1}; /* 0 and 2 twice each: the smaller wins */
    CU_ASSERT_EQUAL(cml_post_apply(CML_POST_VOTE, vt, 5), 1);
    CU_ASSERT_EQUAL(vt[0], 0.0);
    double v2[3] = {1, 2, 2};
    CU_ASSERT_EQUAL(cml_post_apply(CML_POST_VOTE, v2, 3), 1);
    CU_ASSERT_EQUAL(v2[0], 2.0);
    CU_ASSERT_STRING_EQUAL(cml_post_name(CML_POST_VOTE), "vote");

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cml_tensor_spec t = {.name = "y", .rank = 1, .dims = {3}, .count = 3};
    int64_t vals[3] = {-2, 7, 0};
    CU_ASSERT_EQUAL(cml_output_fprint(f, &t, vals), CML_OK);
    fputc('|', f);
    t.has_quant = 1;
    t.scale = 0.5;
    t.zero_point = 1;
    CU_ASSERT_EQUAL(cml_output_fprint(f, &t, vals), CML_OK);
    fputc('|', f);
    t.post = CML_POST_ARGMAX;
    CU_ASSERT_EQUAL(cml_output_fprint(f, &t, vals), CML_OK);
    fclose(f);
    CU_ASSERT_STRING_EQUAL(text, "-2,7,0|-1.5,3,-0.5|1");
    free(text);
}

/* ---- files that are not models ---------------------------------------- */

static void expect_load_error(const char *path, cml_status want, const char *msg) {
    cml_circuit *c = (cml_circuit *)&c; /* must come back NULL */
    cml_status st = cml_circuit_load(path, &c);
    const char *e = cml_last_error();
    bool ok = st == want && c == NULL && strstr(e, msg) && strstr(e, path);
    if (!ok)
        fprintf(stderr, "\nload %s: %s '%s', expected %s '%s'\n", path, cml_status_name(st), e,
                cml_status_name(want), msg);
    CU_ASSERT(ok);
}

/* Builds tmpdir/name.so from C source; NULL (and a note) if no compiler. */
static const char *build_so(const char *name, const char *csrc) {
    char file[64];
    snprintf(file, sizeof file, "%s.c", name);
    const char *c_path = tmp_path(file);
    snprintf(file, sizeof file, "%s.so", name);
    const char *so = tmp_path(file);
    if (!c_path || !so) return NULL;
    FILE *f = fopen(c_path, "w");
    if (!f) return NULL;
    fputs(csrc, f);
    fclose(f);
    const char *cc = getenv("CC");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' -shared -fPIC -o '%s' '%s' 2>/dev/null", cc && *cc ? cc : "cc",
             so, c_path);
    if (system(cmd) != 0) {
        fprintf(stderr, "\n(no C compiler: skipping the %s case)\n", name);
        return NULL;
    }
    return so;
}

/* A circuit known by its spec only (a client of `cml serve`): accessors and
 * quantization work, the twin and the encrypted evaluation do not. */
static void test_from_spec(void) {
    cml_circuit *c = NULL;
    CU_ASSERT_EQUAL_FATAL(cml_circuit_from_spec(base_spec, strlen(base_spec), "http://h/models/iris", &c),
                          CML_OK);
    CU_ASSERT_STRING_EQUAL(cml_circuit_name(c), "iris");
    CU_ASSERT_STRING_EQUAL(cml_circuit_path(c), "http://h/models/iris");
    CU_ASSERT_STRING_EQUAL(cml_circuit_spec_text(c), base_spec);
    CU_ASSERT_PTR_NOT_NULL(cml_circuit_params(c));
    CU_ASSERT_EQUAL(cml_circuit_can_run(c), 0);
    double x[4] = {0.5, 1.0, 100, -3};
    int64_t q[4], y[3];
    CU_ASSERT_EQUAL(cml_quantize_input(c, 0, x, q), CML_OK);
    CU_ASSERT(q[0] == 2 && q[1] == 3 && q[2] == 15 && q[3] == 0);
    const int64_t *in[1] = {q};
    int64_t *out[1] = {y};
    CU_ASSERT_EQUAL(cml_circuit_simulate(c, in, out), CML_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(cml_last_error(), "known by its spec only"));
    cml_circuit_free(c);
    c = (cml_circuit *)1;
    CU_ASSERT_EQUAL(cml_circuit_from_spec("format: 1\n", 10, "bad", &c), CML_ERR_FORMAT);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_EQUAL(cml_circuit_from_spec(NULL, 0, "x", &c), CML_ERR_ARG);
}

static void test_load_errors(void) {
    expect_load_error("/nonexistent/model.so", CML_ERR_IO, "cannot open");
    const char *txt = tmp_path("notes.so");
    CU_ASSERT_PTR_NOT_NULL_FATAL(txt);
    FILE *f = fopen(txt, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("not a shared object\n", f);
    fclose(f);
    expect_load_error(txt, CML_ERR_IO, "cannot load as a shared object");

    cml_circuit *c = NULL;
    CU_ASSERT_EQUAL(cml_circuit_load(NULL, &c), CML_ERR_ARG);
    CU_ASSERT_EQUAL(cml_circuit_load("x.so", NULL), CML_ERR_ARG);

    const char *so = build_so("nosyms", "int cml_unrelated(void) { return 1; }\n");
    if (so) expect_load_error(so, CML_ERR_FORMAT, "not a compiled CML model (no cml_circuit_abi_version");
    so = build_so("abi3", "const unsigned cml_circuit_abi_version = 3;\n");
    if (so) expect_load_error(so, CML_ERR_MISMATCH, "compiled for circuit ABI 3, this runtime implements 2");
    so = build_so("nospec", "const unsigned cml_circuit_abi_version = 2;\n");
    if (so) expect_load_error(so, CML_ERR_FORMAT, "no circuit spec (cml_circuit_spec symbol)");
    so = build_so("badspec", "const unsigned cml_circuit_abi_version = 2;\n"
                             "const char cml_circuit_spec[] = \"format: 1\\nabi: 2\\nfoo: 2\\n\";\n");
    if (so) expect_load_error(so, CML_ERR_FORMAT, "unknown key 'foo'");
    so = build_so("nonul", "const unsigned cml_circuit_abi_version = 2;\n"
                           "const char cml_circuit_spec[4] = \"abcd\";\n");
    if (so) expect_load_error(so, CML_ERR_FORMAT, "not NUL-terminated");
    /* a valid spec (the iris one above) but no clear twin */
    char src[sizeof base_spec * 2 + 256];
    size_t n = (size_t)snprintf(src, sizeof src, "const unsigned cml_circuit_abi_version = 2;\n"
                                                 "const char cml_circuit_spec[] = \"");
    for (const char *p = base_spec; *p && n + 4 < sizeof src; p++) {
        if (*p == '\n') n += (size_t)snprintf(src + n, sizeof src - n, "\\n");
        else if (*p == '"') n += (size_t)snprintf(src + n, sizeof src - n, "\\\"");
        else src[n++] = *p;
    }
    snprintf(src + n, sizeof src - n, "\";\n");
    so = build_so("notwin", src);
    if (so) expect_load_error(so, CML_ERR_FORMAT, "no clear twin (cml_circuit_simulate symbol)");
}

CU_TestInfo cml_tests_circuit[] = {
    {"spec parser: a valid spec and its optional parts", test_parse_valid},
    {"spec parser: broken specs name the key and line", test_parse_errors},
    {"load iris_mlp.so: spec accessors", test_load_iris},
    {"clear twin through the runtime = cmlc --simulate", test_simulate_models},
    {"thresholds.so: a circuit, scalars, range checks", test_thresholds},
    {"clear twin: a value leaving its width names the op", test_simulate_overflow},
    {"quantize, dequantize, post-processing, printing", test_conversions},
    {"files that are not models: status and message", test_load_errors},
    {"a circuit from its spec alone: client side only", test_from_spec},
    CU_TEST_INFO_NULL,
};
