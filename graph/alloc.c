/* Every heap allocation recur makes, so a hook can count or redirect them. */
#include <stdlib.h>

#include "internal.h"

static void *default_alloc(void *ctx, size_t size, size_t align)
{
    (void)ctx;
    /* aligned_alloc wants a size that is a multiple of the alignment */
    size_t rounded = (size + align - 1) / align * align;
    return aligned_alloc(align, rounded ? rounded : align);
}

static void default_release(void *ctx, void *ptr)
{
    (void)ctx;
    free(ptr);
}

static rc_allocator allocator = {default_alloc, default_release, NULL};

void rc_set_allocator(const rc_allocator *a)
{
    if (a && a->alloc && a->release)
        allocator = *a;
    else
        allocator = (rc_allocator){default_alloc, default_release, NULL};
}

void *rc__alloc(size_t bytes)
{
    return allocator.alloc(allocator.ctx, bytes, 64);
}

void rc__free(void *p)
{
    if (p)
        allocator.release(allocator.ctx, p);
}
