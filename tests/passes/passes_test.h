/* passes_test.h — fixtures shared by the passes suites: a module with a
 * captured diagnostic stream, builders for typed inputs and constants, and
 * an equivalence check that runs a circuit through the interpreter before
 * and after the passes on every input of a small domain (the passes must
 * not change what a circuit computes, and the inferred widths must hold:
 * the second run checks every value against its type).
 * CML_TEST_PRINT_IR=1 in the environment prints the IR after every fx_run. */
#ifndef CML_PASSES_TEST_H
#define CML_PASSES_TEST_H

#include "cml_test.h"
#include "passes.h"

#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    arena a;
    ir_module *m;
    ir_func *f;
    diag_ctx d;
    diag_source src;
    char *buf;
    size_t len;
    FILE *out;
} fixture;

static inline void fx_init(fixture *fx) {
    memset(fx, 0, sizeof *fx);
    arena_init(&fx->a);
    fx->m = ir_module_new(&fx->a, IR_UNIT_CIRCUIT, "t");
    fx->f = fx->m->main;
    fx->out = open_memstream(&fx->buf, &fx->len);
    diag_init(&fx->d, fx->out);
    fx->src = (diag_source){"t.cml", NULL};
}

static inline const char *fx_diag(fixture *fx) {
    fflush(fx->out);
    return fx->buf ? fx->buf : "";
}

static inline void fx_free(fixture *fx) {
    fclose(fx->out);
    free(fx->buf);
    arena_free(&fx->a);
}

/* A location on line `line` of "t.cml". */
static inline diag_loc fx_at(fixture *fx, int line) { return (diag_loc){&fx->src, line, 1}; }

#define DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define VALS(...) ((const int64_t[]){__VA_ARGS__})

static inline ir_type fx_type(bool enc, bool is_signed, int bits, int rank, const int64_t *dims) {
    ir_type t = {.enc = enc, .is_signed = is_signed, .bits = bits, .rank = rank};
    for (int i = 0; i < rank; i++) t.dims[i] = dims[i];
    return t;
}

/* Encrypted unsigned input of `bits` bits. */
static inline ir_op *fx_in(fixture *fx, int index, int bits, int rank, const int64_t *dims) {
    return ir_build_input(fx->f, fx_at(fx, 1), index == 0 ? "x" : "y", index,
                          fx_type(true, false, bits, rank, dims));
}

static inline ir_op *fx_in_signed(fixture *fx, int index, int bits, int rank,
                                  const int64_t *dims) {
    return ir_build_input(fx->f, fx_at(fx, 1), "s", index, fx_type(true, true, bits, rank, dims));
}

static inline ir_op *fx_clear_in(fixture *fx, int index, int bits, int rank, const int64_t *dims) {
    return ir_build_input(fx->f, fx_at(fx, 1), "k", index, fx_type(false, false, bits, rank, dims));
}

static inline ir_op *fx_const(fixture *fx, int rank, const int64_t *dims, const int64_t *v) {
    return ir_build_const_int(fx->f, fx_at(fx, 1), fx_type(false, false, 0, rank, dims), v);
}

static inline ir_op *fx_int(fixture *fx, int64_t v) { return ir_build_scalar_int(fx->f, fx_at(fx, 1), v); }
static inline ir_op *fx_real(fixture *fx, double v) { return ir_build_scalar_float(fx->f, fx_at(fx, 1), v); }

static inline ir_op *fx_b1(fixture *fx, ir_opcode c, int line, ir_op *a) {
    return ir_build1(fx->f, &fx->d, c, fx_at(fx, line), a);
}
static inline ir_op *fx_b2(fixture *fx, ir_opcode c, int line, ir_op *a, ir_op *b) {
    return ir_build2(fx->f, &fx->d, c, fx_at(fx, line), a, b);
}

static inline void fx_out(fixture *fx, int index, ir_op *x) {
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    ir_build_output(fx->f, fx_at(fx, 9), index ? "r" : "t", index, x);
}

/* A tlu body computing f(v) from one op list: `build` receives the body
 * and its input and returns the result. */
typedef ir_op *(*fx_body_fn)(ir_func *body, diag_ctx *d, ir_op *v);
static inline ir_op *fx_tlu(fixture *fx, int line, ir_op *x, fx_body_fn build) {
    ir_func *body = ir_func_new(fx->m, NULL, true);
    ir_op *in = ir_build_input(body, fx_at(fx, line), "", 0, x->type);
    ir_build_output(body, fx_at(fx, line), NULL, 0, build(body, &fx->d, in));
    return ir_build_tlu(fx->f, &fx->d, fx_at(fx, line), x, body);
}

static inline int fx_count(fixture *fx, ir_opcode c) { return ir_count_ops(fx->f, c); }

/* Stands for a missing op so that a failing lookup fails assertions
 * instead of crashing: every operand of it is itself. */
static inline ir_op *fx_none(void) {
    static ir_op none;
    static ir_op *args[3];
    static ir_func body;
    static ir_tlu tlu;
    for (int i = 0; i < 3; i++) args[i] = &none;
    tlu.body = &body;
    none.code = IR_OP_COUNT;
    none.args = args;
    none.nargs = 3;
    none.tlu = &tlu;
    return &none;
}

/* The first op with code c in main (fx_none() if none). */
static inline ir_op *fx_find(fixture *fx, ir_opcode c) {
    ir_foreach(op, fx->f) if (op->code == c) return op;
    CU_FAIL("op not found");
    return fx_none();
}

static inline ir_op *fx_output_arg(fixture *fx, int index) {
    ir_foreach(op, fx->f) if (op->code == IR_OUTPUT && op->index == index) return op->args[0];
    CU_FAIL("output not found");
    return fx_none();
}

static inline bool fx_run(fixture *fx, const pass_opts *o, pass_stage stop) {
    pass_opts opts = o ? *o : (pass_opts){0};
    opts.verify = true;
    bool ok = pass_run(fx->m, &fx->d, &opts, stop);
    if (!ok) fprintf(stderr, "\n%s", fx_diag(fx));
    if (getenv("CML_TEST_PRINT_IR")) ir_print(stderr, fx->m, IR_PRINT_RANGES | IR_PRINT_NORM2);
    return ok;
}

/* ---- equivalence on every input of a small domain ------------------------ */

enum { FX_MAX_IO = 4, FX_MAX_ELEMS = 4096 };

typedef struct fx_io {
    int nin, nout;
    ir_tensor in[FX_MAX_IO];
    int64_t lo[FX_MAX_IO], hi[FX_MAX_IO]; /* per input: element range to enumerate */
} fx_io;

/* Prepares one tensor per INPUT of f, enumerating [lo, hi] per element. */
static inline void fx_io_init(fixture *fx, fx_io *io) {
    memset(io, 0, sizeof *io);
    ir_foreach(op, fx->f) {
        if (op->code == IR_OUTPUT) io->nout++;
        if (op->code != IR_INPUT) continue;
        int k = op->index;
        CU_ASSERT_FATAL(k < FX_MAX_IO);
        CU_ASSERT_FATAL(ir_tensor_alloc(&io->in[k], false, op->type.rank, op->type.dims));
        ir_type_range(&op->type, &io->lo[k], &io->hi[k]);
        for (int64_t e = 0; e < io->in[k].count; e++) io->in[k].i[e] = io->lo[k];
        io->nin++;
    }
}

/* Next input combination; false after the last. */
static inline bool fx_io_next(fx_io *io) {
    for (int k = 0; k < io->nin; k++) {
        for (int64_t e = 0; e < io->in[k].count; e++) {
            if (io->in[k].i[e] < io->hi[k]) {
                io->in[k].i[e]++;
                return true;
            }
            io->in[k].i[e] = io->lo[k];
        }
    }
    return false;
}

static inline void fx_io_free(fx_io *io) {
    for (int k = 0; k < io->nin; k++) ir_tensor_free(&io->in[k]);
}

/* Runs `build` twice: the reference is the interpreter on the IR as built,
 * the other copy goes through the passes up to `stop`; both must agree on
 * every input combination (at most `limit` of them), the second with width
 * checks. Returns the number of combinations compared. */
/* Random inputs instead of the enumeration (deterministic LCG). */
static inline void fx_io_random(fx_io *io, uint64_t *state) {
    for (int k = 0; k < io->nin; k++) {
        uint64_t span = (uint64_t)(io->hi[k] - io->lo[k]) + 1;
        for (int64_t e = 0; e < io->in[k].count; e++) {
            *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
            io->in[k].i[e] = io->lo[k] + (int64_t)((*state >> 33) % span);
        }
    }
}

typedef void (*fx_build_fn)(fixture *fx);
/* With random = true, `limit` random input combinations instead. */
static inline int64_t fx_equiv_ex(fx_build_fn build, const pass_opts *o, pass_stage stop,
                                  int64_t limit, bool random) {
    fixture ref, fx;
    fx_init(&ref);
    fx_init(&fx);
    build(&ref);
    build(&fx);
    CU_ASSERT_TRUE(fx_run(&fx, o, stop));
    fx_io io;
    fx_io_init(&ref, &io);
    int64_t n = 0;
    uint64_t state = 12345;
    if (random) fx_io_random(&io, &state);
    unsigned flags = stop >= PASS_STAGE_BITWIDTH ? IR_INTERP_CHECK_WIDTHS : 0;
    do {
        ir_tensor want[FX_MAX_IO], got[FX_MAX_IO];
        bool ok1 = ir_interp(ref.f, io.in, want, &ref.d, 0, NULL, NULL);
        bool ok2 = ok1 && ir_interp(fx.f, io.in, got, &fx.d, flags, NULL, NULL);
        CU_ASSERT_TRUE(ok1);
        CU_ASSERT_TRUE(ok2);
        if (!ok1 || !ok2) {
            fprintf(stderr, "\n%s%s", fx_diag(&ref), fx_diag(&fx));
            if (ok1)
                for (int k = 0; k < io.nout; k++) ir_tensor_free(&want[k]);
            break;
        }
        bool same = true;
        for (int k = 0; k < io.nout; k++) {
            same &= want[k].count == got[k].count;
            for (int64_t e = 0; same && e < want[k].count; e++) same = want[k].i[e] == got[k].i[e];
            ir_tensor_free(&want[k]);
            ir_tensor_free(&got[k]);
        }
        CU_ASSERT_TRUE(same);
        if (!same) break;
        n++;
        if (random) fx_io_random(&io, &state);
    } while (n < limit && (random || fx_io_next(&io)));
    fx_io_free(&io);
    fx_free(&ref);
    fx_free(&fx);
    return n;
}

static inline int64_t fx_equiv(fx_build_fn build, const pass_opts *o, pass_stage stop,
                               int64_t limit) {
    return fx_equiv_ex(build, o, stop, limit, false);
}

#endif
