/* requires: noise (norm2 of every encrypted value; rounded, so every PBS
 *           fits the precision limit);
 * provides: the module's TFHE parameters (m->params, a pass_params);
 * breaks: nothing (no op changes but the rounds' round_chunk, and their
 *         norm2 with it).
 *
 * params.c — parameter selection (DESIGN §5.6, docs/params.md "Parameter
 * selection in the compiler"). First, how each round splits its bits
 * (choose_round_chunks). With PBS, the runtime's optimiser chooses
 * the cheapest set meeting one need per PBS precision in use (pass_pbs_of:
 * tlus, and rounds as PBS of precision `shift`): the largest norm2 over PBS
 * outputs and the largest over encrypted inputs entering a PBS of that
 * precision (cml_params_select_needs), each PBS failing with
 * probability at most --p-error, or 1 - (1 - P)^(1/count)
 * for --global-p-error P. Every encrypted output must then also decrypt: a
 * PBS output carries the bootstrap's noise V_pbs, an input the GLWE noise,
 * so an output of width w needs nu_pbs^2 V_pbs + nu_in^2 V_glwe <=
 * (2^-(w+2) / kappa)^2; when the chosen set misses that, the selection is
 * repeated with one more need at the set's precision p, both norms raised
 * by 4^(w-p), which implies it (the PBS budget at precision p is
 * (2^-(p+2) / kappa)^2 and also holds the keyswitch and modulus switch).
 * Without PBS (a linear circuit), no bootstrap or keyswitch key exists: the
 * smallest big-key dimension N (k = 1, N >= 512 where the security curve is
 * trusted) whose fresh noise keeps every output decryptable.
 *
 * Where the result lives: ir_module gets `struct pass_params *params`, an
 * incomplete type in ir.h that only passes.h defines, allocated in the
 * module's arena. The IR stays free of crypto headers (DESIGN §2) yet the
 * pointer is typed, so no cast and no void * can carry the wrong thing;
 * printing the parameters (the `// params:` comment under --emit-ir, the
 * --stats section) is also here, not in ir/print.c. */
#include "pass_internal.h"

#include <cml/circuit_ops.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

/* Big-key dimensions tried for a linear circuit: the security curve of the
 * runtime is not trusted below dimension 450 (cml_params_validate refuses
 * n < 450), so the smallest power of two is 512; 2^17 is the runtime's
 * largest polynomial size. */
enum { LINEAR_LOGN_MIN = 9, LINEAR_LOGN_MAX = 17 };

#define SQRT_PI 1.7724538509055160273
#define LN2 0.69314718055994530942

/* ln erfc(x) for x >= 0, also far below the double range of erfc (as in
 * runtime/src/params.c, which does not export it): past x = 20 the
 * asymptotic series takes over. */
static double log_erfc(double x) {
    if (x < 20.0) return log(erfc(x));
    double t = 1.0 / (2.0 * x * x);
    double s = 1.0 + t * (-1.0 + t * (3.0 + t * (-15.0 + t * (105.0 + t * -945.0))));
    return -x * x - log(x * SQRT_PI) + log(s);
}

/* log2 P(|N(0, variance)| >= 2^-(w+2)): a w-bit message with one padding
 * bit decrypts wrongly. */
static double log2_fail(int w, double variance) {
    if (!(variance > 0)) return -INFINITY;
    return log_erfc(ldexp(1.0, -w - 2) / sqrt(2.0 * variance)) / LN2;
}

/* log2 of 1 - (1 - p)^count, p = 2^log2_p: one of count independent events
 * of probability p happens. */
static double log2_any(double log2_p, int64_t count) {
    if (count <= 0 || log2_p == -INFINITY) return -INFINITY;
    if (log2_p < -900) return log2_p + log2((double)count); /* p underflows: count * p */
    return log2(-expm1((double)count * log1p(-exp2(log2_p))));
}

/* "2^-40", "2^-40.26", or "0". */
static const char *pow2_str(char *buf, size_t size, double log2v) {
    if (log2v == -INFINITY)
        snprintf(buf, size, "0");
    else if (log2v > -1e-3)
        snprintf(buf, size, "1");
    else if (fabs(log2v - round(log2v)) < 1e-9 && fabs(log2v) < 1e15)
        snprintf(buf, size, "2^%.0f", log2v);
    else if (fabs(log2v) >= 1e6) /* a linear circuit far inside its bound */
        snprintf(buf, size, "2^%.3g", log2v);
    else
        snprintf(buf, size, "2^%.2f", log2v);
    return buf;
}

static const char *bytes_str(char *buf, size_t size, uint64_t b) {
    if (b >= (1ull << 30))
        snprintf(buf, size, "%.1f GiB", (double)b / (1ull << 30));
    else if (b >= (1ull << 20))
        snprintf(buf, size, "%.1f MiB", (double)b / (1ull << 20));
    else
        snprintf(buf, size, "%.1f KiB", (double)b / (1ull << 10));
    return buf;
}

/* ---- collecting what the selection needs ----------------------------------- */

typedef struct request {
    int64_t pbs_count, outputs;
    cml_pbs_need needs[64]; /* one per PBS precision in use, then per output width */
    /* per need, the largest norm2 over tlu outputs and over round PBS
     * outputs apart (needs[j].norm2 is the largest of their sum), for a
     * light bootstrap key (choose_light) */
    double tlu_part[64], light_part[64];
    bool on_light[64];      /* need j is the input of rounds' bootstraps */
    int64_t light_pbs;      /* PBS inside rounds */
    size_t nneeds;
    int precision;          /* widest PBS */
    double norm2;           /* largest norm2 entering a PBS */
    const ir_op *widest;    /* PBS of the widest precision (the largest norm2 among them) */
    const ir_op *noisiest;  /* PBS with the largest norm2 */
    int widest_precision;
    double widest_norm2;
} request;

static const char *pbs_kind(const ir_op *op) {
    return op->code == IR_TLU ? "table lookup" : "rounding PBS";
}

/* d NULL: no diagnostics (a trial, see choose_round_chunks) */
static bool collect(ir_module *m, diag_ctx *d, request *r) {
    memset(r, 0, sizeof *r);
    ir_foreach(op, m->main) {
        if (op->code == IR_OUTPUT && op->args[0]->type.enc) {
            r->outputs += ir_type_count(&op->args[0]->type);
            if (!isfinite(op->args[0]->norm2)) {
                if (d)
                    diag_error(d, op->loc, "the noise of this output is unbounded (norm2 %g): "
                                           "no TFHE parameters can keep it decryptable",
                               op->args[0]->norm2);
                return false;
            }
        }
        pass_pbs b;
        if (!pass_pbs_of(op, &b)) continue;
        if (!isfinite(b.norm2)) {
            if (d)
                diag_error(d, op->loc, "the noise entering this %s is unbounded (norm2 %g): no "
                                       "TFHE parameters can bound its failure probability",
                           pbs_kind(op), b.norm2);
            return false;
        }
        r->pbs_count += b.count;
        if (op->code == IR_ROUND) r->light_pbs += b.count;
        if (b.precision >= 1 && b.precision <= (int)CML_PRECISION_MAX) {
            /* one need per precision and kind: a light key bootstraps the
             * rounds' (its own modulus switch), the main key the rest */
            const bool round = op->code == IR_ROUND;
            size_t j = 0;
            while (j < r->nneeds && (r->needs[j].precision != (uint32_t)b.precision ||
                                     r->on_light[j] != round))
                j++;
            if (j == r->nneeds) {
                r->needs[r->nneeds] = (cml_pbs_need){(uint32_t)b.precision, 0, 0, 0};
                r->tlu_part[r->nneeds] = r->light_part[r->nneeds] = 0;
                r->on_light[r->nneeds] = round;
                r->nneeds++;
            }
            r->needs[j].norm2 = fmax(r->needs[j].norm2, b.norm2_pbs + b.norm2_light);
            r->needs[j].norm2_fresh = fmax(r->needs[j].norm2_fresh, b.norm2_in);
            r->tlu_part[j] = fmax(r->tlu_part[j], b.norm2_pbs);
            r->light_part[j] = fmax(r->light_part[j], b.norm2_light);
        }
        if (!r->noisiest || b.norm2 > r->norm2) {
            r->noisiest = op;
            r->norm2 = b.norm2;
        }
        if (!r->widest || b.precision > r->widest_precision ||
            (b.precision == r->widest_precision && b.norm2 > r->widest_norm2)) {
            r->widest = op;
            r->widest_precision = b.precision;
            r->widest_norm2 = b.norm2;
        }
    }
    r->precision = r->widest_precision;
    return true;
}

/* The --p-error / --global-p-error a module is compiled for, and the
 * per-event target they give. */
static bool target(diag_ctx *d, const pass_opts *o, int64_t events, pass_params *pp) {
    double p = o ? o->p_error : 0, g = o ? o->global_p_error : 0;
    if (!(p == 0 || (p > 0 && p < 1))) {
        diag_error(d, (diag_loc){0}, "the PBS failure probability (--p-error) must be in (0, 1), "
                                     "got %g",
                   p);
        return false;
    }
    if (!(g == 0 || (g > 0 && g < 1))) {
        diag_error(d, (diag_loc){0}, "the circuit failure probability (--global-p-error) must be "
                                     "in (0, 1), got %g",
                   g);
        return false;
    }
    if (p && g) {
        diag_error(d, (diag_loc){0}, "--p-error and --global-p-error exclude each other");
        return false;
    }
    pp->global_p_error = g;
    if (g) {
        /* 1 - (1 - g)^(1/events), without the cancellation of the direct form */
        pp->p_error = events > 0 ? -expm1(log1p(-g) / (double)events) : g;
        if (!(pp->p_error > 0)) {
            diag_error(d, (diag_loc){0}, "--global-p-error %g over %" PRId64 " events leaves a "
                                         "per-event target below the smallest double",
                       g, events);
            return false;
        }
    } else {
        pp->p_error = p ? p : exp2(CML_P_ERROR_DEFAULT_LOG2);
    }
    return true;
}

/* ---- with PBS: the runtime's optimiser ----------------------------------- */

static void infeasible_pbs(diag_ctx *d, const request *r, double p_error, const char *why) {
    char pe[32];
    pow2_str(pe, sizeof pe, log2(p_error));
    diag_error(d, r->widest->loc,
               "no TFHE parameters for a %d-bit %s with norm2 %g at p_error %s: %s", r->precision,
               pbs_kind(r->widest), r->norm2, pe, why);
    if (r->noisiest != r->widest && r->norm2 > r->widest_norm2)
        diag_note(d, r->noisiest->loc, "the largest norm2 entering a PBS, %g, is here", r->norm2);
}

/* Adds to r a decryption need per width of the encrypted outputs that the
 * chosen set does not keep decryptable (the largest norms of each width);
 * returns the first such output, NULL if every output decrypts. */
static const ir_op *undecryptable(ir_module *m, const cml_params *cp, double p_error,
                                  request *r) {
    double v_pbs = cml_noise_pbs(cp), v_in = cml_noise_fresh_glwe(cp), lim = log2(p_error);
    const ir_op *first = NULL;
    ir_foreach(op, m->main) {
        if (op->code != IR_OUTPUT || !op->args[0]->type.enc) continue;
        const ir_op *x = op->args[0];
        if (log2_fail(x->type.bits, (x->norm2_pbs + x->norm2_light) * v_pbs + x->norm2_in * v_in) <=
            lim)
            continue;
        if (!first) first = op;
        size_t j = 0;
        while (j < r->nneeds && !(r->needs[j].decrypt &&
                                  r->needs[j].precision == (uint32_t)x->type.bits))
            j++;
        if (j == r->nneeds && r->nneeds == sizeof r->needs / sizeof *r->needs) {
            /* full (more widths than slots): a wider need implies a
             * narrower one with the same norms, so widen the last */
            j = r->nneeds - 1;
            if (r->needs[j].precision < (uint32_t)x->type.bits)
                r->needs[j].precision = (uint32_t)x->type.bits;
        } else if (j == r->nneeds) {
            r->needs[r->nneeds] = (cml_pbs_need){(uint32_t)x->type.bits, 0, 0, 1};
            r->tlu_part[r->nneeds] = r->light_part[r->nneeds] = 0;
            r->on_light[r->nneeds] = false;
            r->nneeds++;
        }
        r->needs[j].norm2 = fmax(r->needs[j].norm2, x->norm2_pbs + x->norm2_light);
        r->needs[j].norm2_fresh = fmax(r->needs[j].norm2_fresh, x->norm2_in);
        r->tlu_part[j] = fmax(r->tlu_part[j], x->norm2_pbs);
        r->light_part[j] = fmax(r->light_part[j], x->norm2_light);
    }
    return first;
}

/* The cheapest set for r's PBS needs (a need below 1 in sum is a PBS of
 * nothing noisier than one fresh ciphertext: counted as 1), then, if some
 * output would not decrypt, with a decryption need for each such width
 * (*out: the first such output). *rq: the needs used, the first
 * *pbs_needs of them the PBS ones. */
static cml_status choose(ir_module *m, const request *r, double p_error, request *rq,
                         cml_params *cp, size_t *pbs_needs, const ir_op **out) {
    *rq = *r;
    *out = NULL;
    for (size_t j = 0; j < rq->nneeds; j++)
        if (rq->needs[j].norm2 + rq->needs[j].norm2_fresh < 1) rq->needs[j].norm2 = 1;
    *pbs_needs = rq->nneeds;
    cml_status st = cml_params_select_needs(rq->needs, rq->nneeds, p_error, cp);
    if (st != CML_OK) return st;
    *out = undecryptable(m, cp, p_error, rq);
    return *out ? cml_params_select_needs(rq->needs, rq->nneeds, p_error, cp) : CML_OK;
}

/* Bytes of a Fourier bootstrap key: n GGSW of (k+1) x level x (k+1)
 * polynomials of N/2 complex doubles (runtime/src/internal.h,
 * cml_bsk_fourier_values). */
static uint64_t bsk_bytes(const cml_params *cp) {
    uint64_t k1 = cp->glwe_dimension + 1u;
    return (uint64_t)cp->lwe_dimension * k1 * cp->pbs_level * k1 * (cp->polynomial_size / 2) *
           16u;
}

/* The worst log2 failure probability over rq's first `count` needs when the
 * rounds bootstrap on the light set lp and everything else on cp: PBS
 * outputs weigh in at their own key's variance, the rounds' inputs go
 * through lp's modulus switch (to 2 N of lp), all through cp's keyswitch. */
static double light_log2_fail(const request *rq, size_t count, const cml_params *cp,
                              const cml_params *lp) {
    const double v_main = cml_noise_pbs(cp), v_light = cml_noise_pbs(lp);
    const double v_in = cml_noise_fresh_glwe(cp), v_ks = cml_noise_keyswitch(cp);
    double worst = -INFINITY;
    for (size_t j = 0; j < count; j++) {
        const cml_pbs_need *q = &rq->needs[j];
        if (rq->on_light[j] && q->precision > lp->precision) return INFINITY;
        double v = rq->tlu_part[j] * v_main + rq->light_part[j] * v_light;
        if (rq->tlu_part[j] + rq->light_part[j] + q->norm2_fresh < 1) v = fmax(v_main, v_light);
        v += q->norm2_fresh * v_in;
        if (!q->decrypt) v += v_ks + cml_noise_modswitch(rq->on_light[j] ? lp : cp);
        worst = fmax(worst, log2_fail((int)q->precision, v));
    }
    return worst;
}

/* The rounds' bootstraps may run on a light bootstrap key
 * (cml_server_key_add_light): the same small key and keyswitch, a GLWE key
 * that is the start of the main one (k N at most the main k N) and its own
 * decomposition, so cheaper and noisier. The rounds' outputs only feed
 * other lookups in the usual models (an MLP's accumulator rounded before
 * its activation), and their inputs read a few bits, while the main set is
 * often held by a wide lookup or a wide decrypted output. Every shape
 * (k, N, levels) cheaper by the cost model than the main bootstrap is
 * tried with its base of least noise; the cheapest under which every need
 * still holds wins, if it saves at least a tenth of the circuit's bootstrap
 * work by the cost model: the key costs the client its generation and the
 * server its memory, for a handful of cheaper PBS not worth it. */
static void choose_light(const request *rq, size_t pbs_needs, double p_error, pass_params *pp) {
    const cml_params *cp = &pp->params;
    pp->has_light = false;
    pp->light_bytes = 0;
    pp->light_pbs = 0;
    if (!rq->light_pbs || cp->lwe_dimension == 0) return;
    const double lim = log2(p_error) + 1e-9;
    const uint64_t big = (uint64_t)cp->glwe_dimension * cp->polynomial_size;
    const double main_cost = cml_params_cost_pbs(cp);
    /* the light key must cost at most this per PBS to save a tenth */
    double best_cost = main_cost * (1 - 0.1 * (double)rq->pbs_count / (double)rq->light_pbs);
    if (!(best_cost > 0)) return;
    for (uint32_t k = 1; k <= big / 256; k++) {
        for (uint32_t N = 256; (uint64_t)k * N <= big; N *= 2) {
            for (uint32_t l = 1; l <= 53; l++) {
                cml_params t = *cp;
                t.glwe_dimension = k;
                t.polynomial_size = N;
                t.pbs_level = l;
                if (!(cml_params_cost_pbs(&t) < best_cost)) break; /* more levels cost more */
                cml_params lp = {0};
                double v = INFINITY;
                for (uint32_t b = 1; b * l <= 53; b++) {
                    cml_params c;
                    if (cml_params_light(cp, k, N, b, l, &c) != CML_OK) continue;
                    double cv = cml_noise_pbs(&c);
                    if (cv < v) {
                        v = cv;
                        lp = c;
                    }
                }
                if (!isfinite(v) || !(light_log2_fail(rq, rq->nneeds, cp, &lp) <= lim)) continue;
                best_cost = cml_params_cost_pbs(&lp);
                pp->has_light = true;
                pp->light = lp;
            }
        }
    }
    if (!pp->has_light) return;
    pp->light_pbs = rq->light_pbs;
    pp->light_bytes = bsk_bytes(&pp->light);
    pp->log2_p_error = light_log2_fail(rq, pbs_needs, cp, &pp->light);
}

static bool select_pbs(ir_module *m, diag_ctx *d, const request *r, pass_params *pp) {
    char buf[160];
    if (r->precision > (int)CML_PRECISION_MAX) {
        snprintf(buf, sizeof buf,
                 "the widest supported precision is %u bits (CML_PRECISION_MAX); lower the bit "
                 "widths or use --round-to %u",
                 CML_PRECISION_MAX, CML_PRECISION_MAX);
        infeasible_pbs(d, r, pp->p_error, buf);
        return false;
    }
    request rq;
    cml_params cp;
    const ir_op *out = NULL;
    size_t pbs_needs = 0;
    cml_status st = choose(m, r, pp->p_error, &rq, &cp, &pbs_needs, &out);
    if (st == CML_ERR_INFEASIBLE && !out) {
        snprintf(buf, sizeof buf,
                 "no secure set meets it; lower the bit widths or the weights%s, or relax %s",
                 r->precision > 1 ? " (--round-to N narrows every table lookup to N bits)" : "",
                 pp->global_p_error ? "--global-p-error" : "--p-error");
        infeasible_pbs(d, r, pp->p_error, buf);
        return false;
    }
    if (st != CML_OK && !out) {
        diag_error(d, r->widest->loc, "internal error: parameter selection failed: %s",
                   cml_last_error());
        return false;
    }
    if (out) {
        const ir_op *x = out->args[0];
        if (st == CML_ERR_INFEASIBLE) {
            char pe[32];
            diag_error(d, out->loc,
                       "no TFHE parameters keep this %d-bit output decryptable at p_error %s: "
                       "its norm2 %g after %d-bit PBS asks more of the bootstrap's noise than "
                       "any secure set gives; lower its bit width or the weights feeding it",
                       x->type.bits, pow2_str(pe, sizeof pe, log2(pp->p_error)), x->norm2,
                       r->precision);
            return false;
        }
        if (st != CML_OK) {
            diag_error(d, out->loc, "internal error: parameter selection failed: %s",
                       cml_last_error());
            return false;
        }
    }
    pp->params = cp;
    pp->log2_p_error = cp.log2_p_error; /* the worst over the PBS needs */
    memcpy(pp->needs, rq.needs, rq.nneeds * sizeof *rq.needs);
    pp->nneeds = rq.nneeds;
    pp->output_needs = rq.nneeds - pbs_needs;
    /* keyswitch key: k N x l_ks rows of n + 1 32-bit words
     * (runtime/src/internal.h, cml_ksk_words) */
    pp->bsk_bytes = bsk_bytes(&cp);
    pp->ksk_bytes = (uint64_t)cp.glwe_dimension * cp.polynomial_size * cp.ks_level *
                    (cp.lwe_dimension + 1u) * 4u;
    choose_light(&rq, pbs_needs, pp->p_error, pp);
    return true;
}

/* ---- without PBS: the smallest secure encryption ---------------------------- */

/* log2 failure probability of the worst encrypted output when fresh
 * ciphertexts have noise std sigma; *worst is that output. */
static double linear_worst(ir_module *m, double sigma, const ir_op **worst) {
    double w2 = -INFINITY;
    *worst = NULL;
    ir_foreach(op, m->main) {
        if (op->code != IR_OUTPUT || !op->args[0]->type.enc) continue;
        const ir_op *x = op->args[0];
        double l = log2_fail(x->type.bits, x->norm2 * sigma * sigma);
        if (!*worst || l > w2) {
            w2 = l;
            *worst = op;
        }
    }
    return w2;
}

static bool select_linear(ir_module *m, diag_ctx *d, pass_params *pp) {
    double lim = log2(pp->p_error);
    int logN = LINEAR_LOGN_MIN;
    double sigma = 0, worst_l = 0;
    const ir_op *worst = NULL;
    for (; logN <= LINEAR_LOGN_MAX; logN++) {
        sigma = cml_secure_noise_std(1u << logN);
        worst_l = linear_worst(m, sigma, &worst);
        if (worst_l <= lim) break;
    }
    if (logN > LINEAR_LOGN_MAX) {
        const ir_op *x = worst->args[0];
        char pe[32], got[32], sg[32];
        diag_error(d, worst->loc,
                   "no TFHE parameters keep this %d-bit output decryptable with norm2 %g at "
                   "p_error %s: even the quietest secure encryption (N = 2^%d, std %s) fails "
                   "with probability %s; lower its bit width or the weights feeding it, or "
                   "relax %s",
                   x->type.bits, x->norm2, pow2_str(pe, sizeof pe, lim), LINEAR_LOGN_MAX,
                   pow2_str(sg, sizeof sg, log2(sigma)), pow2_str(got, sizeof got, worst_l),
                   pp->global_p_error ? "--global-p-error" : "--p-error");
        return false;
    }
    cml_params cp = {0};
    cp.precision = 1;
    ir_foreach(op, m->main) {
        if (op->code != IR_OUTPUT || !op->args[0]->type.enc) continue;
        uint32_t w = (uint32_t)op->args[0]->type.bits;
        if (w > cp.precision) cp.precision = w;
        cp.norm2 = fmax(cp.norm2, op->args[0]->norm2);
    }
    cp.glwe_dimension = 1;
    cp.polynomial_size = 1u << logN;
    cp.lwe_dimension = 0; /* no keyswitch, no bootstrap: levels and bases stay 0 */
    cp.glwe_noise_std = sigma;
    cp.log2_p_error = worst_l;
    pp->params = cp;
    pp->log2_p_error = worst_l;
    return true;
}

/* ---- how rounds split their bits ------------------------------------------ */

/* Chunks of at most `limit` bits (stored as the widest chunk's width, 0 for
 * one chunk: limits giving the same split print the same) */
static void set_round_chunks(ir_module *m, int limit) {
    ir_foreach(op, m->main) {
        if (op->code != IR_ROUND) continue;
        uint32_t w[64];
        op->round_chunk = 0;
        if (limit >= 1 && limit < op->round_shift && op->round_shift <= 64 &&
            cml_circuit_round_chunks((uint32_t)op->round_shift, (uint32_t)limit, w) > 1)
            op->round_chunk = (int)w[0];
    }
}

/* A round may clear its bits in narrower chunks (cml_circuit_round): two
 * more PBS per element and chunk, but each reads fewer bits, with the same
 * noise relative to what it reads from the input and four times more room
 * per bit for the keyswitch and modulus switch. Tries every chunk limit
 * from the widest round's shift down to 1 (the noise analysis again for
 * each: a round's output carries one PBS output per chunk) and keeps the
 * one of least total cost, cost per PBS times PBS count (ties: the wider
 * chunks, fewer PBS). Sets every round's round_chunk and leaves the noise
 * analysis matching it. */
static bool choose_round_chunks(ir_module *m, diag_ctx *d, const pass_opts *o) {
    int widest = 0;
    ir_foreach(op, m->main) if (op->code == IR_ROUND && op->type.enc && op->round_shift > widest)
        widest = op->round_shift;
    set_round_chunks(m, widest);
    if (widest < 2) return true;
    int best = widest;
    double best_cost = INFINITY;
    for (int limit = widest; limit >= 1; limit--) {
        set_round_chunks(m, limit);
        if (!pass_noise(m, d)) return false;
        request r, rq;
        pass_params trial = {0};
        cml_params cp;
        const ir_op *out;
        size_t pbs_needs;
        if (!collect(m, NULL, &r) || r.precision > (int)CML_PRECISION_MAX) continue;
        if (!target(d, o, r.pbs_count, &trial)) return false;
        if (choose(m, &r, trial.p_error, &rq, &cp, &pbs_needs, &out) != CML_OK) continue;
        /* the rounds' PBS at the light key's cost when there is one */
        trial.params = cp;
        choose_light(&rq, pbs_needs, trial.p_error, &trial);
        double total = cp.cost * (double)r.pbs_count;
        if (trial.has_light)
            total -= (cml_params_cost_pbs(&cp) - cml_params_cost_pbs(&trial.light)) *
                     (double)trial.light_pbs;
        if (total < best_cost * (1 - 1e-9)) {
            best_cost = total;
            best = limit;
        }
    }
    set_round_chunks(m, best);
    return pass_noise(m, d);
}

bool pass_params_select(ir_module *m, diag_ctx *d, const pass_opts *o) {
    m->params = NULL;
    if (!choose_round_chunks(m, d, o)) return false;
    request r;
    if (!collect(m, d, &r)) return false;
    pass_params *pp = arena_alloc(m->arena, sizeof *pp);
    if (!pp) {
        diag_error(d, (diag_loc){0}, "out of memory");
        return false;
    }
    pp->pbs_count = r.pbs_count;
    pp->outputs = r.outputs;
    pp->norm2_pbs = r.norm2;
    /* the events --global-p-error spreads over: PBS, or decryptions */
    if (!target(d, o, r.pbs_count ? r.pbs_count : r.outputs, pp)) return false;
    if (!(r.pbs_count ? select_pbs(m, d, &r, pp) : select_linear(m, d, pp))) return false;
    pp->log2_p_error_circuit =
        log2_any(pp->log2_p_error, r.pbs_count ? r.pbs_count : r.outputs);
    m->params = pp;
    return true;
}

/* ---- printing --------------------------------------------------------------- */

static void json_num(FILE *out, const char *key, double v, bool last) {
    fprintf(out, "\"%s\": ", key);
    if (isfinite(v))
        fprintf(out, "%.17g", v);
    else
        fputs("null", out);
    fputs(last ? "}" : ", ", out);
}

void pass_params_print(FILE *out, const pass_params *pp, pass_params_format fmt) {
    const cml_params *c = &pp->params;
    bool pbs = pp->pbs_count > 0;
    const char *per = pbs ? "PBS" : "output";
    char a[32], b[32], e[32], f[32];
    if (fmt == PASS_PARAMS_JSON) {
        fprintf(out,
                "{\"precision\": %u, \"glwe_dimension\": %u, \"polynomial_size\": %u, "
                "\"lwe_dimension\": %u, \"pbs_base_log\": %u, \"pbs_level\": %u, "
                "\"ks_base_log\": %u, \"ks_level\": %u, ",
                c->precision, c->glwe_dimension, c->polynomial_size, c->lwe_dimension,
                c->pbs_base_log, c->pbs_level, c->ks_base_log, c->ks_level);
        json_num(out, "lwe_noise_std", c->lwe_noise_std, false);
        json_num(out, "glwe_noise_std", c->glwe_noise_std, false);
        json_num(out, "norm2", c->norm2, false);
        json_num(out, "cost", c->cost, false);
        json_num(out, "norm2_pbs", pp->norm2_pbs, false);
        fputs("\"needs\": [", out);
        for (size_t j = 0; j < pp->nneeds; j++)
            fprintf(out, "%s{\"precision\": %u, \"norm2\": %.17g, \"norm2_inputs\": %.17g, "
                    "\"for\": \"%s\"}", j ? ", " : "", pp->needs[j].precision,
                    pp->needs[j].norm2, pp->needs[j].norm2_fresh,
                    pp->needs[j].decrypt ? "output" : "pbs");
        fputs("], ", out);
        fprintf(out, "\"pbs_count\": %" PRId64 ", \"outputs\": %" PRId64 ", ", pp->pbs_count,
                pp->outputs);
        json_num(out, "p_error", pp->p_error, false);
        json_num(out, "global_p_error", pp->global_p_error ? pp->global_p_error : NAN, false);
        json_num(out, "log2_p_error", pp->log2_p_error, false);
        json_num(out, "log2_p_error_circuit", pp->log2_p_error_circuit, false);
        fprintf(out, "\"bootstrap_key_bytes\": %" PRIu64 ", \"keyswitch_key_bytes\": %" PRIu64,
                pp->bsk_bytes, pp->ksk_bytes);
        const cml_params *lp = &pp->light;
        fprintf(out,
                ", \"light_glwe_dimension\": %u, \"light_polynomial_size\": %u"
                ", \"light_base_log\": %u, \"light_level\": %u, \"light_key_bytes\": %" PRIu64
                ", \"light_pbs_count\": %" PRId64 "}",
                pp->has_light ? lp->glwe_dimension : 0, pp->has_light ? lp->polynomial_size : 0,
                pp->has_light ? lp->pbs_base_log : 0, pp->has_light ? lp->pbs_level : 0,
                pp->light_bytes, pp->light_pbs);
        return;
    }
    pow2_str(e, sizeof e, pp->log2_p_error);
    pow2_str(f, sizeof f, pp->log2_p_error_circuit);
    if (fmt == PASS_PARAMS_COMMENT) {
        fprintf(out, "// params: precision %u, k %u, N %u, n %u", c->precision, c->glwe_dimension,
                c->polynomial_size, c->lwe_dimension);
        if (pbs)
            fprintf(out, ", pbs 2^%u x %u, ks 2^%u x %u", c->pbs_base_log, c->pbs_level,
                    c->ks_base_log, c->ks_level);
        else
            fputs(" (no PBS: no bootstrap or keyswitch key)", out);
        if (pp->has_light)
            fprintf(out, ", light pbs k %u N %u 2^%u x %u", pp->light.glwe_dimension,
                    pp->light.polynomial_size, pp->light.pbs_base_log, pp->light.pbs_level);
        fprintf(out, ", p_error %s per %s, %s circuit\n", e, per, f);
        return;
    }
    fprintf(out, "parameters:         precision %u, k %u, N %u, n %u%s\n", c->precision,
            c->glwe_dimension, c->polynomial_size, c->lwe_dimension,
            pbs ? "" : " (no PBS: no bootstrap or keyswitch key)");
    if (pbs) {
        fprintf(out, "bootstrap key:      base 2^%u x %u level%s, %s (%" PRIu64 " bytes)\n",
                c->pbs_base_log, c->pbs_level, c->pbs_level == 1 ? "" : "s",
                bytes_str(a, sizeof a, pp->bsk_bytes), pp->bsk_bytes);
        fprintf(out, "keyswitch key:      base 2^%u x %u level%s, %s (%" PRIu64 " bytes)\n",
                c->ks_base_log, c->ks_level, c->ks_level == 1 ? "" : "s",
                bytes_str(b, sizeof b, pp->ksk_bytes), pp->ksk_bytes);
        if (pp->has_light)
            fprintf(out,
                    "light bootstrap:    k %u, N %u, base 2^%u x %u level%s, %s (%" PRIu64
                    " bytes), for the %" PRId64 " PBS of rounds\n",
                    pp->light.glwe_dimension, pp->light.polynomial_size, pp->light.pbs_base_log,
                    pp->light.pbs_level, pp->light.pbs_level == 1 ? "" : "s",
                    bytes_str(a, sizeof a, pp->light_bytes), pp->light_bytes, pp->light_pbs);
        fprintf(out, "noise std:          GLWE %s, LWE %s\n",
                pow2_str(a, sizeof a, log2(c->glwe_noise_std)),
                pow2_str(b, sizeof b, log2(c->lwe_noise_std)));
        fprintf(out, "cost (model):       %.3g per PBS\n", c->cost);
    } else {
        fprintf(out, "noise std:          GLWE %s\n",
                pow2_str(a, sizeof a, log2(c->glwe_noise_std)));
    }
    if (pbs) {
        fputs("selected for:       ", out);
        for (size_t j = 0; j < pp->nneeds; j++) {
            const cml_pbs_need *q = &pp->needs[j];
            fprintf(out, "%s%u-bit %s norm2 %g + %g on inputs", j ? "; " : "", q->precision,
                    q->decrypt ? "output," : "PBS,", q->norm2, q->norm2_fresh);
        }
    } else {
        fprintf(out, "selected for:       norm2 %g", c->norm2);
    }
    fprintf(out, ", p_error %s per %s", pow2_str(a, sizeof a, log2(pp->p_error)), per);
    if (pp->global_p_error)
        fprintf(out, " (--global-p-error %s over %" PRId64 ")",
                pow2_str(b, sizeof b, log2(pp->global_p_error)), pbs ? pp->pbs_count : pp->outputs);
    int64_t events = pbs ? pp->pbs_count : pp->outputs;
    fprintf(out, "\np_error predicted:  %s per %s, %s per run (%" PRId64 " %s%s)\n", e, per, f,
            events, per, !pbs && events != 1 ? "s" : "");
}
