/*
 * arena.c — the per-request arena (STYLE.md §5). Bump allocation out of a
 * chain of blocks; large requests get a block of their own. Cleanups run
 * newest first when the arena is destroyed.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16

struct arena_block {
    struct arena_block *next;
    size_t size;
    size_t used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

struct arena_cleanup {
    struct arena_cleanup *next;
    void (*fn)(void *);
    void *data;
};

struct tarn_arena {
    struct arena_block *head;
    struct arena_cleanup *cleanups;
    size_t block_size;
};

static struct arena_block *block_new(size_t size)
{
    struct arena_block *b = malloc(sizeof(*b) + size);
    if (!b)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

tarn_arena *tarn_arena_create(size_t block_size)
{
    tarn_arena *a = malloc(sizeof(*a));
    if (!a)
        return NULL;
    a->block_size = block_size ? block_size : 4096;
    a->cleanups = NULL;
    a->head = block_new(a->block_size);
    if (!a->head) {
        free(a);
        return NULL;
    }
    return a;
}

void tarn_arena_destroy(tarn_arena *a)
{
    if (!a)
        return;
    for (struct arena_cleanup *c = a->cleanups; c; c = c->next)
        c->fn(c->data);
    struct arena_block *b = a->head;
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

void *tarn_arena_alloc(tarn_arena *a, size_t n)
{
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < n)
        return NULL; /* overflow */
    struct arena_block *b = a->head;
    if (b->size - b->used >= need) {
        void *p = b->data + b->used;
        b->used += need;
        return p;
    }
    /* A big request gets its own block behind the current one, so the
     * current block's free space stays usable for small allocations. */
    if (need > a->block_size / 4) {
        struct arena_block *big = block_new(need);
        if (!big)
            return NULL;
        big->used = need;
        big->next = b->next;
        b->next = big;
        return big->data;
    }
    struct arena_block *nb = block_new(a->block_size);
    if (!nb)
        return NULL;
    nb->next = b;
    a->head = nb;
    nb->used = need;
    return nb->data;
}

void *tarn_arena_calloc(tarn_arena *a, size_t n)
{
    void *p = tarn_arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *tarn_arena_strndup(tarn_arena *a, const char *s, size_t n)
{
    char *p = tarn_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *tarn_arena_strdup(tarn_arena *a, const char *s)
{
    return tarn_arena_strndup(a, s, strlen(s));
}

char *tarn_arena_printf(tarn_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = tarn_arena_alloc(a, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

int tarn_arena_cleanup_add(tarn_arena *a, void (*fn)(void *), void *data)
{
    struct arena_cleanup *c = tarn_arena_alloc(a, sizeof(*c));
    if (!c)
        return TARN_E_NOMEM;
    c->fn = fn;
    c->data = data;
    c->next = a->cleanups;
    a->cleanups = c;
    return 0;
}
