/* quantize.h — the arithmetic of post-training quantization (uniform affine,
 * as Concrete ML), as pure functions so it can be tested against numbers
 * computed by hand, apart from the IR building in lower_model.c.
 *
 * Convention everywhere: real = scale * (q - zero_point).
 *   - activations and inputs: unsigned q in [0, 2^bits - 1] (quant_affine);
 *   - weights: signed, symmetric, zero point 0, q in [-(2^(bits-1) - 1),
 *     2^(bits-1) - 1] (quant_symmetric);
 *   - rounding is to nearest, halves away from zero (the language's rule,
 *     C's round()). */
#ifndef CML_FRONTEND_QUANTIZE_H
#define CML_FRONTEND_QUANTIZE_H

#include <stdbool.h>
#include <stdint.h>

/* Nearest integer, halves away from zero, saturated to +-2^62 (NaN -> 0). */
int64_t quant_round(double x);

/* Unsigned affine parameters for values in [lo, hi] on `bits` bits. The
 * range is first extended to contain 0 (so that 0, e.g. zero padding or a
 * relu's floor, is exactly representable); an empty range ([0, 0]) gets
 * scale 1. scale = (hi - lo) / (2^bits - 1), zero_point = round(-lo / scale)
 * clamped into [0, 2^bits - 1]. */
void quant_affine(double lo, double hi, int bits, double *scale, int64_t *zero_point);

/* Symmetric signed quantization of n values: scale = max|v| / (2^(bits-1) - 1)
 * (1 when every value is 0), out[i] = round(v[i] / scale) (clamped). Returns
 * the scale. bits >= 2. */
double quant_symmetric(const double *v, int64_t n, int bits, int64_t *out);

/* q = clamp(round(x / scale) + zero_point, 0, 2^bits - 1). */
int64_t quant_value(double x, double scale, int64_t zero_point, int bits);
/* real value of q */
double quant_dequant(int64_t q, double scale, int64_t zero_point);

/* Integer offset of a quantized dense layer y = x @ W + b with x = s (q - z),
 * W = sw * Wq (Wq [K, M] row-major), so y = s sw (q @ Wq + c):
 *   c[m] = -sum_k z_k Wq[k, m] + round(b[m] / (s sw))     (b may be NULL),
 * z_k = zk[k] for inputs quantized per feature (their scales folded into W
 * beforehand, s = 1), else z. Returns false when every c[m] is 0. */
bool quant_dense_offset(const int64_t *wq, int64_t k, int64_t m, int64_t z, const int64_t *zk,
                        const double *b, double acc_scale, int64_t *c);

/* Integer offset of a quantized conv2d (x[C,H,W] = s (q - z), zero padding
 * in the real domain): c[o, i, j] = -z * (sum of Wq[o] over the kernel
 * positions that fall inside the input) + round(b[o] / (s sw)). Wq is
 * [O, C, KH, KW]; c is [O, OH, OW] with the usual output size. Returns false
 * when every c is 0. */
bool quant_conv_offset(const int64_t *wq, int64_t o, int64_t c, int64_t kh, int64_t kw, int64_t h,
                       int64_t w, const int stride[2], const int pad[2], int64_t z, const double *b,
                       double acc_scale, int64_t *out);

/* Number of in-bounds input positions of every pooling window (zero
 * padding): cnt is [OH, OW]. */
void quant_pool_counts(int64_t h, int64_t w, const int kernel[2], const int stride[2],
                       const int pad[2], int64_t *cnt);

/* Tree split `x <= t` on the quantized grid of x (real = scale (q - z)):
 * the largest integer q whose real value is <= t, i.e. floor(t / scale + z)
 * (with a 1e-9 relative slack so that a threshold exactly on a grid point
 * keeps it), clamped to [-1, 2^bits] (always false / always true). */
int64_t quant_threshold(double t, double scale, int64_t zero_point, int bits);

/* Tree-bin quantization (`tree_bins`): the number of edges (sorted
 * ascending, n of them) strictly below x, so that x <= edges[j] iff the
 * result is <= j. */
int64_t quant_bin(double x, const double *edges, int64_t n);

/* Output size of a window op along one dimension. */
int64_t quant_window_out(int64_t in, int k, int stride, int pad);

#endif
