/* circuit_ops.c — cml_circuit_tlu and cml_circuit_round (cml/circuit_ops.h):
 * the two nonlinear ops of a compiled circuit, each one or two batches of
 * bootstraps around cml_pbs_batch with the encoding arithmetic that makes
 * them exact. */
#include "internal.h"

#include <cml/circuit_ops.h>
#include <stdlib.h>
#include <string.h>

/* Shared argument checks; sets *L to the ciphertext size. */
static cml_status check(const char *fn, cml_context *ctx, const cml_server_key *sk, uint64_t *out,
                        const uint64_t *in, size_t count, size_t *L) {
    if (!ctx || !sk || (count && (!out || !in)))
        return cml_error(CML_ERR_ARG, "%s: NULL argument", fn);
    *L = cml_lwe_size(&sk->params);
    if (count && out < in + count * *L && in < out + count * *L)
        return cml_error(CML_ERR_ARG, "%s: output overlaps input", fn);
    return CML_OK;
}

static uint64_t *ct_alloc(size_t count, size_t L) {
    return count ? malloc(count * L * sizeof(uint64_t)) : NULL;
}

/* Whether the tables fold (see cml_circuit_tlu_precision): with h =
 * 2^(p-1), every table's f(j) + f(j + h) is one constant per table over the
 * domain; sums[t] gets it (0 for a domain within h). */
static bool tables_fold(uint32_t p, int64_t dom_count, uint32_t out_bits, const int64_t *tables,
                        size_t ntables, int64_t *sums) {
    if (p < 2 || out_bits > 61 || dom_count < 1 || (uint64_t)dom_count > (UINT64_C(1) << p))
        return false;
    const int64_t h = INT64_C(1) << (p - 1);
    /* entries are out_bits-bit values; |f| < 2^61 keeps the sums in range */
    const int64_t bound = INT64_C(1) << 61;
    for (size_t t = 0; t < ntables; t++) {
        const int64_t *f = tables + t * (size_t)dom_count;
        for (int64_t j = 0; j < dom_count; j++)
            if (f[j] <= -bound || f[j] >= bound) return false;
        int64_t s = 0;
        for (int64_t j = 0; j + h < dom_count; j++) {
            int64_t sj = f[j] + f[j + h];
            if (j == 0)
                s = sj;
            else if (sj != s)
                return false;
        }
        if (sums) sums[t] = s;
    }
    return true;
}

uint32_t cml_circuit_tlu_precision(uint32_t in_bits, uint32_t shift, int64_t dom_count,
                                   uint32_t out_bits, const int64_t *tables, size_t ntables,
                                   int *folded) {
    uint32_t p = shift < in_bits ? in_bits - shift : 1;
    bool f = tables && ntables >= 1 && tables_fold(p, dom_count, out_bits, tables, ntables, NULL);
    if (folded) *folded = f;
    return f ? p - 1 : p;
}

cml_status cml_circuit_tlu(cml_context *ctx, const cml_server_key *sk, uint64_t *out,
                           const uint64_t *in, size_t count, uint32_t in_bits, uint32_t shift,
                           int64_t dom_lo, int64_t dom_count, uint32_t out_bits,
                           const int64_t *tables, size_t ntables, const int32_t *table_of) {
    size_t L = 0;
    cml_status st = check("cml_circuit_tlu", ctx, sk, out, in, count, &L);
    if (st) return st;
    if (in_bits < 1 || in_bits > 62 || shift > in_bits || !tables || ntables < 1 ||
        (ntables > 1 && !table_of) || dom_count < 1 || out_bits < 1 || out_bits > 62)
        return cml_error(CML_ERR_ARG, "cml_circuit_tlu: invalid table description");
    const uint32_t p = shift < in_bits ? in_bits - shift : 1;
    if ((uint64_t)dom_count > (UINT64_C(1) << p))
        return cml_error(CML_ERR_ARG, "cml_circuit_tlu: %lld table entries do not fit %u bits",
                         (long long)dom_count, p);
    int64_t *sums = malloc(ntables * sizeof *sums);
    if (!sums) return cml_error(CML_ERR_NOMEM, "out of memory in a table lookup");
    const bool fold = tables_fold(p, dom_count, out_bits, tables, ntables, sums);
    /* folded: the PBS reads p - 1 bits of 2 (x - dom_lo), whose top bit
     * lands on the padding and selects the negated half of the tables */
    const uint32_t pbs_bits = fold ? p - 1 : p, lut_bits = fold ? out_bits + 1 : out_bits;
    if (pbs_bits > sk->params.precision) {
        free(sums);
        return cml_error(CML_ERR_ARG,
                         "cml_circuit_tlu: a %u-bit lookup exceeds the parameters' precision %u",
                         pbs_bits, sk->params.precision);
    }
    if (count == 0) {
        free(sums);
        return CML_OK;
    }
    size_t entries = (size_t)1 << pbs_bits;
    uint64_t *shifted = ct_alloc(count, L);
    int64_t *padded = malloc(entries * sizeof *padded);
    cml_lut **luts = calloc(ntables, sizeof *luts);
    const cml_lut **per = ntables > 1 ? malloc(count * sizeof *per) : NULL;
    if (!shifted || !padded || !luts || (ntables > 1 && !per)) {
        st = cml_error(CML_ERR_NOMEM, "out of memory in a table lookup of %zu elements", count);
        goto done;
    }
    /* x - dom_lo = j * 2^shift: at in_bits that is j encoded at p bits */
    const uint64_t minus_lo = cml_encode(-dom_lo, in_bits);
    for (size_t i = 0; i < count; i++) {
        cml_lwe_add_plain(shifted + i * L, in + i * L, minus_lo, L - 1);
        if (fold) cml_lwe_mul_clear(shifted + i * L, shifted + i * L, 2, L - 1);
    }
    for (size_t t = 0; t < ntables && !st; t++) {
        const int64_t *row = tables + t * (size_t)dom_count;
        for (size_t j = 0; j < entries; j++) { /* entries past the domain are never read */
            int64_t v = row[j < (size_t)dom_count ? j : (size_t)dom_count - 1];
            /* folded: f - s/2 at twice the resolution; entry j + h reads
             * -(f(j) - s/2) = f(j + h) - s/2 */
            padded[j] = fold ? 2 * v - sums[t] : v;
        }
        st = cml_lut_create(&sk->params, pbs_bits, 0, lut_bits, padded, &luts[t]);
    }
    if (!st && per) {
        for (size_t i = 0; i < count && !st; i++) {
            if (table_of[i] < 0 || (size_t)table_of[i] >= ntables)
                st = cml_error(CML_ERR_ARG, "cml_circuit_tlu: element %zu has no table", i);
            else
                per[i] = luts[table_of[i]];
        }
    }
    if (!st)
        st = cml_pbs_batch(ctx, sk, per ? per : (const cml_lut *const *)luts, per ? count : 1, out,
                           shifted, count);
    if (!st && fold) /* add back s/2 */
        for (size_t i = 0; i < count; i++)
            cml_lwe_add_plain(out + i * L, out + i * L,
                              cml_encode(sums[per ? table_of[i] : 0], lut_bits), L - 1);
done:
    for (size_t t = 0; luts && t < ntables; t++) cml_lut_destroy(luts[t]);
    free(per);
    free(luts);
    free(padded);
    free(shifted);
    free(sums);
    return st;
}

uint32_t cml_circuit_round_chunks(uint32_t shift, uint32_t chunk, uint32_t *widths) {
    if (shift == 0) return 0;
    if (chunk == 0 || chunk > shift) chunk = shift;
    const uint32_t n = (shift + chunk - 1) / chunk, base = shift / n, wider = shift % n;
    for (uint32_t i = 0; widths && i < n; i++) widths[i] = base + (i < wider);
    return n;
}

cml_status cml_circuit_round(cml_context *ctx, const cml_server_key *sk, uint64_t *out,
                             const uint64_t *in, size_t count, uint32_t bits, uint32_t shift,
                             uint32_t chunk) {
    size_t L = 0;
    cml_status st = check("cml_circuit_round", ctx, sk, out, in, count, &L);
    if (st) return st;
    if (bits < 1 || bits > 62 || shift > bits)
        return cml_error(CML_ERR_ARG, "cml_circuit_round: cannot drop %u bits of %u", shift,
                         bits);
    if (shift == 0 || count == 0) {
        if (count) memcpy(out, in, count * L * sizeof *out);
        return CML_OK;
    }
    uint32_t widths[64];
    const uint32_t nch = cml_circuit_round_chunks(shift, chunk, widths);
    /* the light bootstrap key when there is one (cml_server_key_add_light):
     * same small key and keyswitch, cheaper bootstraps, main-key outputs */
    const cml_server_key *bk = sk->light ? sk->light : sk;
    if (widths[0] > bk->params.precision)
        return cml_error(CML_ERR_ARG,
                         "cml_circuit_round: dropping %u bits at a time needs a %u-bit PBS; the "
                         "%sparameters read %u",
                         widths[0], widths[0], sk->light ? "light bootstrap key's " : "",
                         bk->params.precision);
    const size_t d = L - 1;
    const uint64_t half = cml_encode(INT64_C(1) << (shift - 1), bits);
    uint64_t *y = ct_alloc(count, L), *z = ct_alloc(count, L), *o = ct_alloc(count, L);
    int64_t *table = malloc(((size_t)1 << widths[0]) * sizeof *table);
    if (!y || !z || !o || !table) {
        st = cml_error(CML_ERR_NOMEM, "out of memory in a rounding of %zu elements", count);
        goto done;
    }
    for (size_t i = 0; i < count; i++) cml_lwe_add_plain(y + i * L, in + i * L, half, d);
    /* y's bits [lo, lo + c) are cleared chunk by chunk from the bottom; the
     * bits below lo are already exactly 0 */
    for (uint32_t ch = 0, lo = 0; ch < nch && !st; lo += widths[ch++]) {
        const uint32_t c = widths[ch], top = lo + c;
        const size_t entries = (size_t)1 << c;
        const int64_t lift = INT64_C(1) << (bits - top);
        cml_lut *sign = NULL, *low = NULL;
        /* sign: every entry 2^(bits-1) (2^(c-1) lifted, as values of y):
         * the PBS returns -2^(bits-1) when bit `top` of y (at the padding
         * position after the lift) is set. Made lifted by the table rather
         * than by multiplying its output, so its noise enters the second
         * PBS once, not lift^2 times. low: the chunk's bits themselves, read
         * with that bit cleared, as their value in y (times 2^lo). */
        for (size_t j = 0; j < entries; j++) table[j] = INT64_C(1) << (bits - 1);
        if ((st = cml_lut_create(&bk->params, c, 0, bits, table, &sign))) goto chunk_done;
        for (size_t j = 0; j < entries; j++) table[j] = (int64_t)j << lo;
        if ((st = cml_lut_create(&bk->params, c, 0, bits, table, &low))) goto chunk_done;
        for (size_t i = 0; i < count; i++) cml_lwe_mul_clear(z + i * L, y + i * L, lift, d);
        if ((st = cml_pbs_batch_on(ctx, sk, bk, (const cml_lut *const *)&sign, 1, o, z, count)))
            goto chunk_done;
        const uint64_t lifted_half = cml_encode(INT64_C(1) << (bits - 1), bits);
        for (size_t i = 0; i < count; i++) {
            /* lift (y + (+-2^(top-1)) - 2^(top-1)): y with bit `top`
             * cleared, lifted */
            cml_lwe_add(z + i * L, z + i * L, o + i * L, d);
            cml_lwe_add_plain(z + i * L, z + i * L, (uint64_t)0 - lifted_half, d);
        }
        if ((st = cml_pbs_batch_on(ctx, sk, bk, (const cml_lut *const *)&low, 1, o, z, count)))
            goto chunk_done;
        for (size_t i = 0; i < count; i++) cml_lwe_sub(y + i * L, y + i * L, o + i * L, d);
    chunk_done:
        cml_lut_destroy(sign);
        cml_lut_destroy(low);
    }
    if (!st) memcpy(out, y, count * L * sizeof *out);
done:
    free(table);
    free(y);
    free(z);
    free(o);
    return st;
}
