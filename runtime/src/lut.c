/* lut.c — lookup tables as bootstrap accumulators (test polynomials).
 *
 * With box = N / 2^p coefficients per message, the message m owns the
 * coefficients [m*box, (m+1)*box) of the pre-polynomial, filled with the
 * encoded table entry. The accumulator is that polynomial times X^(-box/2)
 * (the half-box shift), so that after blind rotation by the phase index phi
 * the constant coefficient is table[round(phi / box)]: noise on either side
 * of a message lands in its own box, and a slightly negative phase of
 * message 0 wraps (negacyclically) onto the negated top half, filled so it
 * reads table[0] too. */
#include "internal.h"

#include <stdlib.h>

cml_status cml_lut_create(const cml_params *params, uint32_t in_bits, int in_signed,
                          uint32_t out_bits, const int64_t *table, cml_lut **out) {
    if (!out) return cml_error(CML_ERR_ARG, "cml_lut_create: out is NULL");
    *out = NULL;
    if (!params || !table) return cml_error(CML_ERR_ARG, "cml_lut_create: NULL argument");
    if (params->lwe_dimension == 0)
        return cml_error(CML_ERR_ARG, "cml_lut_create: %s", CML_NO_BOOTSTRAP_MSG);
    const uint32_t N = params->polynomial_size;
    if (in_bits < 1 || in_bits > params->precision)
        return cml_error(CML_ERR_ARG,
                         "cml_lut_create: input width %u bits outside 1..%u (the parameters' precision)",
                         in_bits, params->precision);
    if ((UINT64_C(1) << in_bits) > N)
        return cml_error(CML_ERR_ARG, "cml_lut_create: %u-bit table needs N >= %llu (N = %u)",
                         in_bits, 1ULL << in_bits, N);
    if (out_bits < 1 || out_bits > 62)
        return cml_error(CML_ERR_ARG, "cml_lut_create: output width %u outside 1..62", out_bits);
    cml_lut *lut = calloc(1, sizeof *lut);
    uint64_t *poly = malloc((size_t)N * sizeof *poly);
    if (!lut || !poly) {
        free(lut);
        free(poly);
        return cml_error(CML_ERR_NOMEM, "out of memory building a lookup table");
    }
    const uint32_t box = N >> in_bits, half = box / 2;
    for (uint32_t j = 0; j < N; j++) {
        /* accumulator[j] = pre[j + half], negated when it wraps past N */
        uint32_t src = j + half;
        uint64_t v = cml_encode(table[(src % N) / box], out_bits);
        poly[j] = src < N ? v : (uint64_t)0 - v;
    }
    lut->params = *params;
    lut->in_bits = in_bits;
    lut->in_signed = in_signed != 0;
    lut->out_bits = out_bits;
    lut->poly = poly;
    *out = lut;
    return CML_OK;
}

void cml_lut_destroy(cml_lut *lut) {
    if (!lut) return;
    free(lut->poly);
    free(lut);
}
