/*
 * Per-request arena: bump allocation in chained blocks, all released at once
 * when the request ends (PostgreSQL's memory contexts, nginx's pools). The
 * first block is kept between requests so a typical request allocates nothing
 * from malloc.
 */
#include "rr.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RR_ARENA_BLOCK (64 * 1024)

typedef struct rr_block {
    struct rr_block *next;
    size_t cap;
    size_t used;
    max_align_t data[];
} rr_block_t;

struct rr_arena {
    rr_block_t *head; /* current block */
    rr_block_t *first;
};

static rr_block_t *block_new(size_t cap)
{
    rr_block_t *b = malloc(sizeof(*b) + cap);
    if (!b)
        return NULL;
    b->next = NULL;
    b->cap = cap;
    b->used = 0;
    return b;
}

rr_arena_t *rr_arena_new(void)
{
    rr_arena_t *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->first = a->head = block_new(RR_ARENA_BLOCK);
    if (!a->first) {
        free(a);
        return NULL;
    }
    return a;
}

void *rr_arena_alloc(rr_arena_t *a, size_t size)
{
    const size_t align = _Alignof(max_align_t);
    if (size > SIZE_MAX - sizeof(rr_block_t) - align)
        return NULL; /* rounding up or adding the block header would wrap */
    size = (size + align - 1) & ~(align - 1);
    if (size == 0)
        size = align;
    rr_block_t *b = a->head;
    if (b->cap - b->used < size) {
        size_t cap = size > RR_ARENA_BLOCK ? size : RR_ARENA_BLOCK;
        rr_block_t *nb = block_new(cap);
        if (!nb)
            return NULL;
        b->next = nb;
        a->head = b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    return p;
}

char *rr_arena_strndup(rr_arena_t *a, const char *s, size_t n)
{
    char *p = rr_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *rr_arena_strdup(rr_arena_t *a, const char *s)
{
    return s ? rr_arena_strndup(a, s, strlen(s)) : NULL;
}

char *rr_arena_vsprintf(rr_arena_t *a, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return NULL;
    char *p = rr_arena_alloc(a, (size_t)n + 1);
    if (p)
        vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *rr_arena_sprintf(rr_arena_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = rr_arena_vsprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

void rr_arena_reset(rr_arena_t *a)
{
    rr_block_t *b = a->first->next;
    while (b) {
        rr_block_t *n = b->next;
        free(b);
        b = n;
    }
    a->first->next = NULL;
    a->first->used = 0;
    a->head = a->first;
}

void rr_arena_free(rr_arena_t *a)
{
    if (!a)
        return;
    rr_arena_reset(a);
    free(a->first);
    free(a);
}
