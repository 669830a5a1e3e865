/* quantize.c — post-training quantization maths (quantize.h). Kept free of
 * IR and AST types: lower_model.c decides *what* to quantize, this file only
 * how, so the numbers can be checked by hand in tests/frontend. */
#include "quantize.h"

#include <math.h>

int64_t quant_round(double x) {
    if (x != x) return 0;
    const double lim = 4611686018427387904.0; /* 2^62 */
    if (x >= lim) return INT64_C(1) << 62;
    if (x <= -lim) return -(INT64_C(1) << 62);
    return (int64_t)round(x);
}

static int64_t umax(int bits) { return (INT64_C(1) << bits) - 1; }

void quant_affine(double lo, double hi, int bits, double *scale, int64_t *zero_point) {
    if (lo > 0) lo = 0;
    if (hi < 0) hi = 0;
    int64_t qmax = umax(bits);
    if (!(hi - lo > 0) || !isfinite(hi - lo)) {
        *scale = 1.0;
        *zero_point = 0;
        return;
    }
    *scale = (hi - lo) / (double)qmax;
    int64_t z = quant_round(-lo / *scale);
    *zero_point = z < 0 ? 0 : z > qmax ? qmax : z;
}

double quant_symmetric(const double *v, int64_t n, int bits, int64_t *out) {
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        if (fabs(v[i]) > m) m = fabs(v[i]);
    int64_t qmax = bits >= 2 ? (INT64_C(1) << (bits - 1)) - 1 : 1;
    double scale = m > 0 ? m / (double)qmax : 1.0;
    for (int64_t i = 0; i < n; i++) {
        int64_t q = quant_round(v[i] / scale);
        out[i] = q > qmax ? qmax : q < -qmax ? -qmax : q;
    }
    return scale;
}

int64_t quant_value(double x, double scale, int64_t zero_point, int bits) {
    int64_t q = quant_round(x / scale) + zero_point, qmax = umax(bits);
    return q < 0 ? 0 : q > qmax ? qmax : q;
}

double quant_dequant(int64_t q, double scale, int64_t zero_point) {
    return scale * (double)(q - zero_point);
}

bool quant_dense_offset(const int64_t *wq, int64_t k, int64_t m, int64_t z, const int64_t *zk,
                        const double *b, double acc_scale, int64_t *c) {
    bool any = false;
    for (int64_t j = 0; j < m; j++) {
        int64_t zsum = 0;
        for (int64_t i = 0; i < k; i++) zsum += (zk ? zk[i] : z) * wq[i * m + j];
        c[j] = -zsum + (b ? quant_round(b[j] / acc_scale) : 0);
        any |= c[j] != 0;
    }
    return any;
}

int64_t quant_window_out(int64_t in, int k, int stride, int pad) {
    return (in + 2 * (int64_t)pad - k) / stride + 1;
}

bool quant_conv_offset(const int64_t *wq, int64_t o, int64_t c, int64_t kh, int64_t kw, int64_t h,
                       int64_t w, const int stride[2], const int pad[2], int64_t z, const double *b,
                       double acc_scale, int64_t *out) {
    int64_t oh = quant_window_out(h, (int)kh, stride[0], pad[0]);
    int64_t ow = quant_window_out(w, (int)kw, stride[1], pad[1]);
    bool any = false;
    for (int64_t oc = 0; oc < o; oc++) {
        int64_t bias = b ? quant_round(b[oc] / acc_scale) : 0;
        for (int64_t i = 0; i < oh; i++)
            for (int64_t j = 0; j < ow; j++) {
                int64_t s = 0;
                if (z != 0) {
                    for (int64_t ki = 0; ki < kh; ki++) {
                        int64_t y = i * stride[0] - pad[0] + ki;
                        if (y < 0 || y >= h) continue;
                        for (int64_t kj = 0; kj < kw; kj++) {
                            int64_t x = j * stride[1] - pad[1] + kj;
                            if (x < 0 || x >= w) continue;
                            for (int64_t ic = 0; ic < c; ic++)
                                s += wq[((oc * c + ic) * kh + ki) * kw + kj];
                        }
                    }
                }
                int64_t v = -z * s + bias;
                out[(oc * oh + i) * ow + j] = v;
                any |= v != 0;
            }
    }
    return any;
}

void quant_pool_counts(int64_t h, int64_t w, const int kernel[2], const int stride[2],
                       const int pad[2], int64_t *cnt) {
    int64_t oh = quant_window_out(h, kernel[0], stride[0], pad[0]);
    int64_t ow = quant_window_out(w, kernel[1], stride[1], pad[1]);
    for (int64_t i = 0; i < oh; i++)
        for (int64_t j = 0; j < ow; j++) {
            int64_t n = 0;
            for (int ki = 0; ki < kernel[0]; ki++) {
                int64_t y = i * stride[0] - pad[0] + ki;
                for (int kj = 0; kj < kernel[1]; kj++) {
                    int64_t x = j * stride[1] - pad[1] + kj;
                    n += y >= 0 && y < h && x >= 0 && x < w;
                }
            }
            cnt[i * ow + j] = n;
        }
}

int64_t quant_threshold(double t, double scale, int64_t zero_point, int bits) {
    double q = floor(t / scale + (double)zero_point + 1e-9);
    double hi = (double)(INT64_C(1) << bits);
    if (!(q >= -1)) return -1; /* also NaN */
    return q > hi ? (int64_t)hi : (int64_t)q;
}

int64_t quant_bin(double x, const double *edges, int64_t n) {
    int64_t lo = 0, hi = n; /* first edge >= x */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (edges[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}
