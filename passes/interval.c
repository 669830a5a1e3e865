/* interval.c — sound interval arithmetic over the elementwise ops, for
 * bit-width inference: exact int64 bounds on integers (leaving int64 is an
 * error, never a wrap), doubles on reals (infinite when unbounded). Also
 * bounds a tlu body that is too wide to tabulate. Real functions are
 * evaluated with the interpreter's definitions (interp.h) so that an
 * endpoint computed here is the value the table would hold. */
#include "pass_internal.h"

#include <math.h>
#include <stdlib.h>

static void to_real(pass_ival *v) {
    if (v->flt) return;
    v->flo = (double)v->lo;
    v->fhi = (double)v->hi;
    v->flt = true;
}

static bool set_real(pass_ival *o, double lo, double hi) {
    if (isnan(lo)) lo = -INFINITY;
    if (isnan(hi)) hi = INFINITY;
    o->flt = true;
    o->flo = lo;
    o->fhi = hi;
    o->lo = o->hi = 0;
    return true;
}

static bool set_int(pass_ival *o, int64_t lo, int64_t hi) {
    o->flt = false;
    o->lo = lo;
    o->hi = hi;
    o->flo = o->fhi = 0;
    return true;
}

/* Integer-valued real bounds to an int interval; false outside int64. */
static bool real_to_int(pass_ival *o, double lo, double hi) {
    if (!(lo >= -0x1p63 && hi < 0x1p63 && lo <= hi)) return false;
    return set_int(o, (int64_t)lo, (int64_t)hi);
}

static double dmin4(double a, double b, double c, double d) {
    double m = a;
    if (b < m) m = b;
    if (c < m) m = c;
    if (d < m) m = d;
    return m;
}

static double dmax4(double a, double b, double c, double d) {
    double m = a;
    if (b > m) m = b;
    if (c > m) m = c;
    if (d > m) m = d;
    return m;
}

static bool any_nan4(double a, double b, double c, double d) {
    return isnan(a) || isnan(b) || isnan(c) || isnan(d);
}

void pass_ival_const(const ir_op *c, pass_ival *out) {
    int64_t n = ir_type_count(&c->type);
    if (c->fdata) {
        double lo = INFINITY, hi = -INFINITY;
        for (int64_t i = 0; i < n; i++) {
            double v = c->fdata[i];
            if (isnan(v)) {
                lo = -INFINITY;
                hi = INFINITY;
                break;
            }
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        set_real(out, lo, hi);
        return;
    }
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int64_t i = 0; i < n; i++) {
        if (c->idata[i] < lo) lo = c->idata[i];
        if (c->idata[i] > hi) hi = c->idata[i];
    }
    set_int(out, lo, hi);
}

static bool mul_int(pass_ival *o, const pass_ival *a, const pass_ival *b) {
    int64_t p[4];
    if (__builtin_mul_overflow(a->lo, b->lo, &p[0]) || __builtin_mul_overflow(a->lo, b->hi, &p[1]) ||
        __builtin_mul_overflow(a->hi, b->lo, &p[2]) || __builtin_mul_overflow(a->hi, b->hi, &p[3]))
        return false;
    int64_t lo = p[0], hi = p[0];
    for (int i = 1; i < 4; i++) {
        if (p[i] < lo) lo = p[i];
        if (p[i] > hi) hi = p[i];
    }
    return set_int(o, lo, hi);
}

static bool mul_real(pass_ival *o, pass_ival a, pass_ival b) {
    to_real(&a);
    to_real(&b);
    double p0 = a.flo * b.flo, p1 = a.flo * b.fhi, p2 = a.fhi * b.flo, p3 = a.fhi * b.fhi;
    if (any_nan4(p0, p1, p2, p3)) return set_real(o, -INFINITY, INFINITY);
    return set_real(o, dmin4(p0, p1, p2, p3), dmax4(p0, p1, p2, p3));
}

/* Monotone non-decreasing real function applied to the bounds. */
static bool monotone(pass_ival *o, ir_opcode code, pass_ival a) {
    to_real(&a);
    double lo = ir_eval_real1(code, a.flo), hi = ir_eval_real1(code, a.fhi);
    if (isnan(lo)) lo = -INFINITY;
    if (isnan(hi)) hi = INFINITY;
    return set_real(o, lo, hi);
}

/* gelu and silu dip below zero once: the extremes are at the endpoints or
 * at the known minimum (bounded from below slightly loosely). */
static bool dip(pass_ival *o, ir_opcode code, pass_ival a, double argmin, double fmin) {
    to_real(&a);
    double l = ir_eval_real1(code, a.flo), h = ir_eval_real1(code, a.fhi);
    if (isnan(l) || isnan(h)) return set_real(o, -INFINITY, INFINITY);
    double lo = l < h ? l : h, hi = l < h ? h : l;
    if (a.flo < argmin && argmin < a.fhi && fmin < lo) lo = fmin;
    return set_real(o, lo, hi);
}

static bool pow_ival(pass_ival *o, pass_ival a, pass_ival b) {
    to_real(&a);
    to_real(&b);
    if (a.flo >= 0) {
        double p0 = pow(a.flo, b.flo), p1 = pow(a.flo, b.fhi), p2 = pow(a.fhi, b.flo),
               p3 = pow(a.fhi, b.fhi);
        if (any_nan4(p0, p1, p2, p3)) return set_real(o, -INFINITY, INFINITY);
        double lo = dmin4(p0, p1, p2, p3), hi = dmax4(p0, p1, p2, p3);
        /* x^b for x in [0, ...] with b < 0 is unbounded near 0 */
        if (a.flo == 0 && b.flo < 0) hi = INFINITY;
        return set_real(o, lo, hi);
    }
    /* negative bases: bound the magnitude */
    double m = fabs(a.flo) > fabs(a.fhi) ? fabs(a.flo) : fabs(a.fhi);
    double p0 = pow(m, b.flo), p1 = pow(m, b.fhi), p2 = b.flo < 0 ? INFINITY : 1, p3 = 1;
    if (any_nan4(p0, p1, p2, p3)) return set_real(o, -INFINITY, INFINITY);
    double big = dmax4(p0, p1, p2, p3);
    return set_real(o, -big, big);
}

static bool lookup_ival(pass_ival *o, const ir_op *tab, const pass_ival *idx) {
    int64_t n = ir_type_count(&tab->type);
    int64_t lo = idx->lo < 0 ? 0 : idx->lo, hi = idx->hi >= n ? n - 1 : idx->hi;
    if (lo > hi) {
        lo = 0;
        hi = n - 1;
    }
    if (tab->fdata) {
        double l = INFINITY, h = -INFINITY;
        for (int64_t i = lo; i <= hi; i++) {
            if (isnan(tab->fdata[i])) return set_real(o, -INFINITY, INFINITY);
            if (tab->fdata[i] < l) l = tab->fdata[i];
            if (tab->fdata[i] > h) h = tab->fdata[i];
        }
        return set_real(o, l, h);
    }
    int64_t l = INT64_MAX, h = INT64_MIN;
    for (int64_t i = lo; i <= hi; i++) {
        if (tab->idata[i] < l) l = tab->idata[i];
        if (tab->idata[i] > h) h = tab->idata[i];
    }
    return set_int(o, l, h);
}

static bool union_of(pass_ival *o, pass_ival a, pass_ival b) {
    if (!a.flt && !b.flt)
        return set_int(o, a.lo < b.lo ? a.lo : b.lo, a.hi > b.hi ? a.hi : b.hi);
    to_real(&a);
    to_real(&b);
    return set_real(o, a.flo < b.flo ? a.flo : b.flo, a.fhi > b.fhi ? a.fhi : b.fhi);
}

bool pass_ival_elem(const ir_op *op, const pass_ival *args, pass_ival *out) {
    pass_ival a = args[0], b = op->nargs > 1 ? args[1] : args[0];
    bool ints = !a.flt && (op->nargs < 2 || !b.flt);
    switch (op->code) {
    case IR_ADD:
        if (ints) {
            int64_t lo, hi;
            if (__builtin_add_overflow(a.lo, b.lo, &lo) || __builtin_add_overflow(a.hi, b.hi, &hi))
                return false;
            return set_int(out, lo, hi);
        }
        to_real(&a);
        to_real(&b);
        return set_real(out, a.flo + b.flo, a.fhi + b.fhi);
    case IR_SUB:
        if (ints) {
            int64_t lo, hi;
            if (__builtin_sub_overflow(a.lo, b.hi, &lo) || __builtin_sub_overflow(a.hi, b.lo, &hi))
                return false;
            return set_int(out, lo, hi);
        }
        to_real(&a);
        to_real(&b);
        return set_real(out, a.flo - b.fhi, a.fhi - b.flo);
    case IR_NEG:
        if (!a.flt) {
            if (a.lo == INT64_MIN) return false;
            return set_int(out, -a.hi, -a.lo);
        }
        return set_real(out, -a.fhi, -a.flo);
    case IR_MUL:
        return ints ? mul_int(out, &a, &b) : mul_real(out, a, b);
    case IR_DIV: {
        to_real(&a);
        to_real(&b);
        if (b.flo <= 0 && b.fhi >= 0) return set_real(out, -INFINITY, INFINITY);
        double p0 = a.flo / b.flo, p1 = a.flo / b.fhi, p2 = a.fhi / b.flo, p3 = a.fhi / b.fhi;
        if (any_nan4(p0, p1, p2, p3)) return set_real(out, -INFINITY, INFINITY);
        return set_real(out, dmin4(p0, p1, p2, p3), dmax4(p0, p1, p2, p3));
    }
    case IR_MIN:
    case IR_MAX: {
        bool mn = op->code == IR_MIN;
        if (ints) {
            int64_t lo = mn ? (a.lo < b.lo ? a.lo : b.lo) : (a.lo > b.lo ? a.lo : b.lo);
            int64_t hi = mn ? (a.hi < b.hi ? a.hi : b.hi) : (a.hi > b.hi ? a.hi : b.hi);
            return set_int(out, lo, hi);
        }
        to_real(&a);
        to_real(&b);
        return set_real(out, mn ? fmin(a.flo, b.flo) : fmax(a.flo, b.flo),
                        mn ? fmin(a.fhi, b.fhi) : fmax(a.fhi, b.fhi));
    }
    case IR_LT: case IR_LE: case IR_GT: case IR_GE: case IR_EQ: case IR_NE:
        return set_int(out, 0, 1);
    case IR_WHERE: {
        pass_ival c = args[0], x = args[1], y = args[2];
        bool c_zero = c.flt ? (c.flo == 0 && c.fhi == 0) : (c.lo == 0 && c.hi == 0);
        bool c_nonzero = c.flt ? (c.flo > 0 || c.fhi < 0) : (c.lo > 0 || c.hi < 0);
        if (c_nonzero) y = x;
        if (c_zero) x = y;
        return union_of(out, x, y);
    }
    case IR_ABS:
        if (!a.flt) {
            if (a.lo >= 0) return set_int(out, a.lo, a.hi);
            if (a.lo == INT64_MIN) return false;
            if (a.hi <= 0) return set_int(out, -a.hi, -a.lo);
            return set_int(out, 0, -a.lo > a.hi ? -a.lo : a.hi);
        }
        if (a.flo >= 0) return set_real(out, a.flo, a.fhi);
        if (a.fhi <= 0) return set_real(out, -a.fhi, -a.flo);
        return set_real(out, 0, fmax(-a.flo, a.fhi));
    case IR_RELU:
        if (!a.flt) return set_int(out, a.lo > 0 ? a.lo : 0, a.hi > 0 ? a.hi : 0);
        return set_real(out, fmax(a.flo, 0), fmax(a.fhi, 0));
    case IR_LOOKUP:
        return lookup_ival(out, op->args[0], &args[1]);
    case IR_TOFLOAT:
        to_real(&a);
        return set_real(out, a.flo, a.fhi);
    case IR_TOINT:
        if (!a.flt) return set_int(out, a.lo, a.hi);
        return real_to_int(out, ir_round_half_away(a.flo), ir_round_half_away(a.fhi));
    case IR_FLOOR:
        to_real(&a);
        return set_real(out, floor(a.flo), floor(a.fhi));
    case IR_CEIL:
        to_real(&a);
        return set_real(out, ceil(a.flo), ceil(a.fhi));
    case IR_RINT:
        to_real(&a);
        return set_real(out, ir_round_half_away(a.flo), ir_round_half_away(a.fhi));
    case IR_EXP: case IR_LOG: case IR_SQRT: case IR_SIGMOID: case IR_TANH: case IR_SOFTPLUS:
        return monotone(out, op->code, a);
    case IR_GELU:
        return dip(out, op->code, a, -0.7518, -0.17);
    case IR_SILU:
        return dip(out, op->code, a, -1.2785, -0.2785);
    case IR_SIN:
    case IR_COS:
        return set_real(out, -1, 1);
    case IR_POW:
        return pow_ival(out, a, b);
    default:
        return false;
    }
}

bool pass_ival_body(const ir_func *body, const pass_ival *in, pass_ival *out) {
    pass_ival *v = calloc((size_t)body->next_id + 1, sizeof *v);
    if (!v) return false;
    bool ok = false;
    for (const ir_op *op = body->first; op; op = op->next) {
        if (op->code == IR_OUTPUT) {
            *out = v[op->args[0]->id];
            ok = !out->flt;
            break;
        }
        pass_ival args[3];
        if (op->code == IR_INPUT) {
            v[op->id] = *in;
            continue;
        }
        if (op->code == IR_CONST) {
            pass_ival_const(op, &v[op->id]);
            continue;
        }
        if (op->nargs > 3) break;
        for (int i = 0; i < op->nargs; i++) args[i] = v[op->args[i]->id];
        if (!pass_ival_elem(op, args, &v[op->id])) break;
    }
    free(v);
    return ok;
}
