/* knn.h — the encrypted part of the `knn` model layer as integer IR: clipped
 * squared distances to clear training points, packed with their labels
 * into sort keys, and a top-k selection network of min/max (each
 * compare-exchange one table lookup). Apart from lower_model.c because it
 * only builds IR from integers: the quantization of the points is the
 * caller's.
 *
 * With q [K] the encrypted input on its integer grid (0 .. 2^qbits - 1),
 * t [n, K] the training points on the same grid, D = 2^dist_bits - 1 and
 * lb the label bits (labels < 2^lb - 1, so that the key 2^(dist_bits+lb) - 1
 * is free for padding):
 *
 *   e[v, f] = min((q[f] - v)^2, D)          V*K lookups, V = 2^qbits
 *   d[i]    = sum_f e[t[i, f], f]           free (a 0/1 matrix product)
 *   key[i]  = min(d[i], D) * 2^lb + L[i]    n lookups
 *   top     = the k smallest keys           selection network
 *   out     = top mod 2^lb                  k lookups: the labels
 *
 * so the k labels come out nearest first; equal clipped distances are
 * ordered by label. The network: keys padded with +inf to G groups of K2
 * (K2 the power of two >= k, G a power of two), each group sorted by an
 * ascending bitonic sorter, then groups merged pairwise: of two sorted
 * groups A and B, min(A[i], B[K2-1-i]) holds the K2 smallest (a bitonic
 * sequence), sorted again by log2(K2) half-cleaner layers. */
#ifndef CML_FRONTEND_KNN_H
#define CML_FRONTEND_KNN_H

#include "ir.h"

#include <stdint.h>

typedef struct knn_shape {
    int64_t n, K, k;  /* points, features, neighbours */
    int qbits;        /* the input grid: 0 .. 2^qbits - 1 */
    int dist_bits;    /* D = 2^dist_bits - 1 */
    int label_bits;   /* lb */
} knn_shape;

/* Label bits for labels 0 .. max_label, with one key left for padding. */
int knn_label_bits(int64_t max_label);

/* Builds the network on q ([K], encrypted integers); t is [n, K] row-major
 * on q's grid, labels [n] in 0 .. 2^lb - 2. Returns the [k] labels, NULL on
 * an error (reported through d). */
ir_op *knn_build(ir_func *f, diag_ctx *d, diag_loc loc, ir_op *q, const knn_shape *s,
                 const int64_t *t, const int64_t *labels);

#endif
