/* prefetch.h — a stream of memory to prefetch, spread over hot loops
 * (internal). The keyswitch and the bootstrap stream their keys from memory
 * once per ciphertext; each fetches the key rows it needs next while it
 * computes on the current ones, a few cache lines at a time: all at once
 * would ask for more lines than the memory system keeps in flight, and stall.
 *
 * A loop calls cml_prefetch_block once per unit of its work (the
 * keyswitch: per CML_PREFETCH_BLOCK key words; the bootstrap: per 64-point
 * block of its transforms, fft.c); each call issues the next `step` bytes
 * (whole cache lines) of the stream, never past `end`. NULL: nothing. */
#ifndef CML_RUNTIME_PREFETCH_H
#define CML_RUNTIME_PREFETCH_H

#include <stddef.h>

enum { CML_PREFETCH_BLOCK = 16 };

typedef struct cml_prefetch {
    const char *at, *end;
    size_t step;
} cml_prefetch;

/* A stream of `bytes` at `start` spread over `blocks` calls. */
static inline cml_prefetch cml_prefetch_stream(const void *start, size_t bytes, size_t blocks) {
    const char *s = start;
    return (cml_prefetch){s, s + bytes, (bytes / (blocks ? blocks : 1) + 64) & ~(size_t)63};
}

static inline void cml_prefetch_block(cml_prefetch *pf) {
    if (!pf) return;
    const char *stop = pf->end - pf->at > (ptrdiff_t)pf->step ? pf->at + pf->step : pf->end;
    for (; pf->at < stop; pf->at += 64) __builtin_prefetch(pf->at, 0, 3);
}

#endif
