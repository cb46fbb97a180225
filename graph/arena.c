/* The arena: blocks of memory handed out by bumping a pointer. A rewind
 * keeps every block, so a step that asks for the same sizes in the same
 * order as the previous one is served without touching the heap. */
#include <stdint.h>

#include "internal.h"

struct rc_block {
    rc_block *next;
    size_t cap, used;
    unsigned char *mem;
};

enum { ALIGN = 64, MIN_BLOCK = 1 << 20 };

static rc_block *block_new(size_t cap)
{
    rc_block *b = rc__alloc(sizeof *b);
    if (!b)
        return NULL;
    b->mem = rc__alloc(cap);
    if (!b->mem) {
        rc__free(b);
        return NULL;
    }
    b->next = NULL;
    b->cap = cap;
    b->used = 0;
    return b;
}

void *rc__arena_alloc(rc_arena *a, size_t bytes)
{
    if (bytes > SIZE_MAX - ALIGN)
        return NULL;
    bytes = (bytes + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (bytes == 0)
        bytes = ALIGN;
    /* Current block first, then the ones kept from earlier steps. */
    for (rc_block *b = a->cur; b; b = b->next) {
        if (b->cap - b->used >= bytes) {
            void *p = b->mem + b->used;
            b->used += bytes;
            a->cur = b;
            a->handed += bytes;
            return p;
        }
    }
    size_t cap = a->capacity > MIN_BLOCK ? a->capacity : MIN_BLOCK;
    if (cap < bytes)
        cap = bytes;
    rc_block *nb = block_new(cap);
    if (!nb)
        return NULL;
    nb->used = bytes;
    if (!a->head) {
        a->head = nb;
    } else {
        rc_block *last = a->cur ? a->cur : a->head;
        while (last->next)
            last = last->next;
        last->next = nb;
    }
    a->cur = nb;
    a->capacity += cap;
    a->handed += bytes;
    return nb->mem;
}

void rc__arena_rewind(rc_arena *a)
{
    for (rc_block *b = a->head; b; b = b->next)
        b->used = 0;
    a->cur = a->head;
    a->handed = 0;
}

void rc__arena_free(rc_arena *a)
{
    rc_block *b = a->head;
    while (b) {
        rc_block *next = b->next;
        rc__free(b->mem);
        rc__free(b);
        b = next;
    }
    *a = (rc_arena){0};
}
