/* graph/internal.h - shared by the graph sources only; not installed. */
#ifndef RECUR_GRAPH_INTERNAL_H
#define RECUR_GRAPH_INTERNAL_H

#include "recur/op.h"

/* Heap memory through the installed allocator; 64-byte aligned. */
void *rc__alloc(size_t bytes);
void rc__free(void *p);

/* Bump allocator made of blocks that a reset rewinds but keeps. */
typedef struct rc_block rc_block;
typedef struct rc_arena {
    rc_block *head, *cur;
    size_t capacity;
    size_t handed; /* bytes handed out since the last rewind */
} rc_arena;

void *rc__arena_alloc(rc_arena *a, size_t bytes); /* NULL when out of memory */
void rc__arena_rewind(rc_arena *a);
void rc__arena_free(rc_arena *a);

#endif
