/* lwe_keyswitch.c — LWE keyswitch from the big key (k*N, 64-bit torus) to
 * the small key (n, 32-bit torus; see internal.h for why):
 *   out = (0, b) - sum_i sum_j digit_j(a_i) * KSK[i][j].
 * Phase is kept up to the decomposition rounding and the key rows' noise
 * (see params.c). The inner loop is a scaled vector subtract over n+1
 * 32-bit words. Also the small-key modulus switches. */
#include "decomposition.h"
#include "internal.h"
#include "prefetch.h"

#include <string.h>

enum { KS_LEVEL_MAX = 32 }; /* base_log * level <= 32 (params.c) */

void cml_keyswitch_group(const cml_server_key *sk, uint32_t *out, size_t out_stride,
                         const uint64_t *in, size_t in_stride, size_t count) {
    const cml_params *p = &sk->params;
    const size_t n = p->lwe_dimension, d = cml_big_dim(p);
    const uint32_t bl = p->ks_base_log, l = p->ks_level;
    const size_t row_words = n + 1, block_bytes = l * row_words * sizeof *sk->ksk;
    /* one prefetch block per CML_PREFETCH_BLOCK words of the first
     * ciphertext's row loops: the next coefficient's rows arrive meanwhile */
    const size_t blocks = l * ((row_words + CML_PREFETCH_BLOCK - 1) / CML_PREFETCH_BLOCK);
    for (size_t g = 0; g < count; g++) {
        memset(out + g * out_stride, 0, n * sizeof *out);
        out[g * out_stride + n] = cml_torus_to32(in[g * in_stride + d]);
    }
    /* input coefficient outermost: its l key rows are read from memory once
     * and used by every ciphertext of the group from cache */
    for (size_t i = 0; i < d; i++) {
        const uint32_t *rows = sk->ksk + i * l * row_words;
        cml_prefetch stream = cml_prefetch_stream(rows + l * row_words, i + 1 < d ? block_bytes : 0,
                                                  blocks);
        for (size_t g = 0; g < count; g++) {
            uint32_t *restrict o = out + g * out_stride;
            cml_prefetch *pf = g == 0 ? &stream : NULL;
            /* digits come out least significant (level l) first; the rows
             * are then walked in memory order, level 1 first */
            uint32_t digit[KS_LEVEL_MAX];
            uint64_t state = decomp_round(in[g * in_stride + i], bl * l);
            for (uint32_t j = l; j >= 1; j--) digit[j - 1] = (uint32_t)decomp_next_digit(&state, bl);
            for (uint32_t j = 0; j < l; j++) {
                const uint32_t m = digit[j];
                const uint32_t *restrict row = rows + (size_t)j * row_words;
                for (size_t w0 = 0; w0 < row_words; w0 += CML_PREFETCH_BLOCK) {
                    cml_prefetch_block(pf);
                    const size_t end = w0 + CML_PREFETCH_BLOCK < row_words ? w0 + CML_PREFETCH_BLOCK
                                                                           : row_words;
                    for (size_t w = w0; w < end; w++) o[w] -= m * row[w];
                }
            }
        }
    }
}

void cml_keyswitch_raw(const cml_server_key *sk, uint32_t *out, const uint64_t *in) {
    cml_keyswitch_group(sk, out, 0, in, 0, 1);
}

uint32_t cml_lwe_phase_raw32(const uint32_t *ct, const uint64_t *key, size_t dim) {
    uint32_t s = 0;
    for (size_t i = 0; i < dim; i++) s += ct[i] * (uint32_t)key[i];
    return ct[dim] - s;
}

void cml_modswitch_centered(const uint32_t *ct, uint32_t n, uint32_t log2_2n, uint32_t *out) {
    /* rounding error of a_i on the 32-bit torus: e_i = round(a_i) * 2^shift - a_i */
    const uint32_t shift = 32 - log2_2n;
    uint32_t half_err_sum = 0; /* sum of e_i / 2, mod 2^32 like the body it corrects */
    for (uint32_t i = 0; i < n; i++) {
        out[i] = cml_modswitch(ct[i], log2_2n);
        uint32_t back = out[i] << shift;
        half_err_sum += (uint32_t)((int32_t)(back - ct[i]) / 2);
    }
    out[n] = cml_modswitch(ct[n] + half_err_sum, log2_2n);
}
