/* arena.h — bump allocation for the compiler: AST, IR and pass data live
 * in arenas and are freed all at once, so no pass frees individual nodes. */
#ifndef CML_SUPPORT_ARENA_H
#define CML_SUPPORT_ARENA_H

#include <stddef.h>

typedef struct arena_block arena_block;
typedef struct arena {
    arena_block *head;
    size_t bytes; /* total handed out, for --stats */
} arena;

void arena_init(arena *a);
void arena_free(arena *a);
/* Zeroed, 16-byte aligned memory; NULL only if the system is out of memory. */
void *arena_alloc(arena *a, size_t size);
/* size*count with overflow check; NULL on overflow or out of memory. */
void *arena_array(arena *a, size_t count, size_t size);
char *arena_strndup(arena *a, const char *s, size_t n);

#endif
