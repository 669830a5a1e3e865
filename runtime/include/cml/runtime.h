/* cml/runtime.h — loading a compiled model (`cmlc m.cml -o m.so`) and using
 * it from C: its spec (inputs, outputs, encodings, quantization, TFHE
 * parameters), its clear twin, and the float <-> integer conversions a
 * client needs around it.
 *
 * Why a loader: a model.so is untrusted input as much as a key file is. The
 * loader checks the exported ABI version and parses and validates the whole
 * spec (docs/spec.md) before anything calls into the module, so a stale or
 * foreign .so gives one clear message instead of a crash or a wrong answer.
 *
 * Conventions are those of cml/tfhe.h: cml_status results, cml_last_error()
 * for the message (which names the file), the creator owns, freeing NULL is
 * a no-op, nothing exits or aborts.
 *
 * Encrypted execution: cml_circuit_keygen (client side) makes the client
 * key and the evaluation keys for the spec's parameters;
 * cml_circuit_encrypt turns rows of integer inputs into one ciphertext
 * vector; cml_circuit_run (server side: evaluation keys only) evaluates the
 * circuit on it row by row; cml_circuit_decrypt gives the integer outputs,
 * exactly what cml_circuit_simulate gives on the same rows. */
#ifndef CML_RUNTIME_H
#define CML_RUNTIME_H

#include <cml/tfhe.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Shapes have 0 to CML_SHAPE_MAX_RANK dimensions, at most CML_TENSOR_MAX_COUNT
 * elements (the loader refuses a spec beyond either). */
#define CML_SHAPE_MAX_RANK 6
#define CML_TENSOR_MAX_COUNT (INT64_C(1) << 24)

/* Client-side post-processing of a model output, after dequantization. */
typedef enum cml_post {
    CML_POST_NONE = 0,
    CML_POST_ARGMAX = 1,  /* the index of the largest value (the first on ties) */
    CML_POST_SOFTMAX = 2, /* exp(y_i - max) / sum */
    CML_POST_SIGMOID = 3, /* 1 / (1 + exp(-y_i)) */
    CML_POST_EXP = 4,     /* exp(y_i): the inverse link of log-link GLMs */
    CML_POST_VOTE = 5     /* the most frequent value (the smallest on ties): knn's vote */
} cml_post;

/* One input or output of a circuit, as its spec describes it. */
typedef struct cml_tensor_spec {
    const char *name;
    int rank;                          /* 0..CML_SHAPE_MAX_RANK; 0: a scalar */
    int64_t dims[CML_SHAPE_MAX_RANK];  /* dims[0..rank), each >= 1 */
    int64_t count;                     /* product of dims: values in the flat tensor */
    uint32_t encoding_bits;            /* 1..62: plaintext m * 2^(63 - bits) */
    int is_signed;
    int encrypted;                     /* inputs: 0 for a clear input; outputs: always 1 */
    int64_t lo, hi;                    /* the values it holds (inputs: may send) */
    int has_quant;                     /* models: real = scale * (q - zero_point) */
    double scale;                      /* > 0, finite (0 when quant_features > 0) */
    int64_t zero_point;
    int64_t quant_features;            /* inputs: 0, or F: one scale and zero point per */
    const double *scales;              /*   feature, the last axis (F = dims[rank - 1]): */
    const int64_t *zero_points;        /*   element i uses scales[i % F], zero_points[i % F] */
    const int64_t *edge_at;            /* or (scales NULL) tree bins: q = the number of */
    const double *edges;               /*   edges[edge_at[f] .. edge_at[f+1]) below x */
    uint32_t quant_bits;               /* inputs: q = clamp(round(x/scale) + zp, 0, 2^bits - 1); outputs: 0 */
    cml_post post;                     /* outputs of models; CML_POST_NONE otherwise */
} cml_tensor_spec;

/* The spec's `stats:` section. */
typedef struct cml_spec_stats {
    int64_t tlu_count;
    int64_t pbs_count;
    int has_p_error;                   /* the log2 figures are given (parameters chosen) */
    double log2_p_error_pbs;
    double log2_p_error_circuit;
} cml_spec_stats;

typedef struct cml_circuit cml_circuit;

/* Loads a compiled model: dlopen (RTLD_NOW | RTLD_LOCAL), the ABI version
 * must equal CML_CIRCUIT_ABI_VERSION, the spec must parse and validate, the
 * clear twin must be exported. CML_ERR_IO: no such file / not loadable;
 * CML_ERR_FORMAT: symbols missing, spec malformed; CML_ERR_MISMATCH: ABI
 * version of another runtime. */
cml_status cml_circuit_load(const char *path, cml_circuit **out);
/* A circuit known only by its spec (len bytes of YAML, docs/spec.md), as a
 * client of `cml serve` fetches it: everything a client does works (the
 * spec's accessors, quantization, keygen, encrypt, decrypt), while the
 * clear twin and cml_circuit_run, which live in the module, fail with
 * CML_ERR_FORMAT. `origin` names it in messages (cml_circuit_path). The
 * text is copied. CML_ERR_FORMAT: the spec is malformed. */
cml_status cml_circuit_from_spec(const char *yaml, size_t len, const char *origin,
                                 cml_circuit **out);
void cml_circuit_free(cml_circuit *c);

const char *cml_circuit_path(const cml_circuit *c);
const char *cml_circuit_name(const cml_circuit *c);
const char *cml_circuit_compiler(const cml_circuit *c);
/* 1 for a `model` (quantized inputs/outputs), 0 for an integer `circuit`. */
int cml_circuit_is_model(const cml_circuit *c);
/* The spec as the module carries it (a YAML document, docs/spec.md). */
const char *cml_circuit_spec_text(const cml_circuit *c);

size_t cml_circuit_num_inputs(const cml_circuit *c);
size_t cml_circuit_num_outputs(const cml_circuit *c);
/* Input k (declaration order) / output k (return order); NULL if k is out
 * of range. Valid until cml_circuit_free. */
const cml_tensor_spec *cml_circuit_input(const cml_circuit *c, size_t k);
const cml_tensor_spec *cml_circuit_output(const cml_circuit *c, size_t k);
/* The TFHE parameters, or NULL when the spec has none (compiled before
 * parameter selection). Their fingerprint was checked against the spec's. */
const cml_params *cml_circuit_params(const cml_circuit *c);
/* The parameters of the light bootstrap key the compiler sized the rounds
 * for (NULL if none): cml_circuit_keygen makes it (cml_server_key_add_light).
 * A server key without it still runs the circuit, exactly, only slower. */
const cml_params *cml_circuit_light(const cml_circuit *c);
const cml_spec_stats *cml_circuit_stats(const cml_circuit *c);

/* Runs the clear twin: exactly `cmlc --simulate` on integers. in[k] holds
 * input k's count values, out[k] room for output k's. An input outside its
 * range or a value leaving its inferred width gives CML_ERR_ARG naming the
 * op (out[] is then unspecified); out of memory in the module CML_ERR_NOMEM. */
cml_status cml_circuit_simulate(const cml_circuit *c, const int64_t *const *in,
                                int64_t *const *out);

/* Input k from reals: q = clamp(round(x/scale) + zero_point, 0, 2^bits - 1)
 * for a quantized input (per feature: that feature's scale and zero point); otherwise x must hold integers within the input's
 * range (CML_ERR_ARG naming the element if not). count values each. */
cml_status cml_quantize_input(const cml_circuit *c, size_t k, const double *x, int64_t *q);
/* Output k to reals: y = scale * (q - zero_point), or y = q without quant. */
cml_status cml_dequantize_output(const cml_circuit *c, size_t k, const int64_t *q, double *y);

/* Applies `post` to y[0..n) in place and returns how many values the result
 * has: n, or 1 for argmax and vote (y[0] = the index or the value). */
size_t cml_post_apply(cml_post post, double *y, size_t n);
/* "none", "argmax", "softmax", "sigmoid", "exp", "vote". */
const char *cml_post_name(cml_post post);

/* Writes output values as `cmlc --simulate` and `cml predict` print them:
 * comma-separated, no newline. Quantized or post-processed outputs are
 * dequantized, post-processed and printed with %.9g (argmax as an integer
 * index); plain integer outputs as integers. t->count values of q. */
cml_status cml_output_fprint(FILE *f, const cml_tensor_spec *t, const int64_t *q);

/* ---- encrypted execution -------------------------------------------------- */

/* Layout of a ciphertext vector for `rows` samples: row after row; within a
 * row, the inputs (or outputs) in order, each its `count` ciphertexts, one
 * per element, encoded at its encoding_bits. So a row of inputs holds
 * cml_circuit_row_cts(c, 0) ciphertexts and a row of outputs
 * cml_circuit_row_cts(c, 1). */
size_t cml_circuit_row_cts(const cml_circuit *c, int outputs);

/* Fresh keys for the circuit's parameters (CML_ERR_ARG if the spec has
 * none). *ck is secret; *sk holds only evaluation keys (empty for a circuit
 * without PBS). Either output may be NULL when not wanted. */
cml_status cml_circuit_keygen(const cml_circuit *c, cml_context *ctx, cml_client_key **ck,
                              cml_server_key **sk);

/* Encrypts `rows` samples: in[k] holds rows * count values of input k (row
 * after row), each within the input's range (else CML_ERR_ARG naming the
 * row and element). Every input must be encrypted (a circuit with clear
 * inputs is refused: CML_ERR_ARG). ck must be of the circuit's parameters
 * (CML_ERR_MISMATCH). */
cml_status cml_circuit_encrypt(const cml_circuit *c, const cml_client_key *ck, size_t rows,
                               const int64_t *const *in, cml_ct **out);

/* Evaluates the circuit on every row of `in` (a multiple of
 * cml_circuit_row_cts(c, 0) ciphertexts of the circuit's parameters), with
 * evaluation keys only. CML_ERR_MISMATCH when in or sk belongs to other
 * parameters, CML_ERR_FORMAT when in's count is not a whole number of rows.
 * progress, if not NULL, is called after each row with (done, rows). */
cml_status cml_circuit_run(const cml_circuit *c, cml_context *ctx, const cml_server_key *sk,
                           const cml_ct *in, cml_ct **out,
                           void (*progress)(size_t done, size_t rows, void *arg), void *arg);

/* 1 if the module exports cml_circuit_run (compiled with encrypted
 * execution), else 0: cml_circuit_run would fail with CML_ERR_FORMAT. Lets a
 * caller refuse before generating keys. */
int cml_circuit_can_run(const cml_circuit *c);

/* Decrypts `out` (a whole number of output rows): q[k] gets rows * count
 * values of output k; *rows (if not NULL) the number of rows. */
cml_status cml_circuit_decrypt(const cml_circuit *c, const cml_client_key *ck, const cml_ct *out,
                               int64_t *const *q, size_t *rows);

#ifdef __cplusplus
}
#endif
#endif
