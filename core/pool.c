/* pool.c -- the per-connection bump arena and the growable byte buffer. */
#define _GNU_SOURCE                 /* strchrnul */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

#define ALIGN_UP(n) (((n) + POOL_ALIGN - 1) & ~(POOL_ALIGN - 1))

/* Smallest capacity a buffer starts with. */
#define BUF_MIN 256

/* A chunk's usable bytes follow its header (pool.h) at CHUNK_HDR. */

#define CHUNK_HDR ALIGN_UP(sizeof(struct pool_chunk))

/* ---- the block cache ------------------------------------------------------ */

#if defined(__SANITIZE_ADDRESS__)
#define BLOCK_CACHE_MAX 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BLOCK_CACHE_MAX 0
#endif
#endif
#ifndef BLOCK_CACHE_MAX
#define BLOCK_CACHE_MAX 256         /* blocks kept per size */
#endif
#define BLOCK_SIZES 4               /* distinct sizes cached */

static const size_t block_cache_max = BLOCK_CACHE_MAX;

struct block {                      /* a cached block's first bytes */
    struct block *next;
};

static struct block_class {
    size_t size;                    /* 0: slot unused */
    size_t n;
    struct block *free;
} block_class[BLOCK_SIZES];

/* The cache of blocks of `size` (creating it if a slot is free), or NULL. */
static struct block_class *block_class_of(size_t size)
{
    size_t i;

    for (i = 0; i < BLOCK_SIZES; i++) {
        if (block_class[i].size == size)
            return &block_class[i];
        if (block_class[i].size == 0) {
            block_class[i].size = size;
            return &block_class[i];
        }
    }
    return NULL;
}

void *block_get(size_t size)
{
    struct block_class *bc = block_class_of(size);
    struct block *b;

    if (bc == NULL || bc->free == NULL)
        return malloc(size);
    b = bc->free;
    bc->free = b->next;
    bc->n--;
    return b;
}

void block_put(void *block, size_t size)
{
    struct block_class *bc = block_class_of(size);
    struct block *b = block;

    if (block == NULL)
        return;
    if (bc == NULL || bc->n >= block_cache_max || size < sizeof(*b)) {
        free(block);
        return;
    }
    b->next = bc->free;
    bc->free = b;
    bc->n++;
}

void block_cache_clear(void)
{
    size_t i;
    struct block *b;

    for (i = 0; i < BLOCK_SIZES; i++) {
        while ((b = block_class[i].free) != NULL) {
            block_class[i].free = b->next;
            free(b);
        }
        block_class[i].n = 0;
    }
}

/* ---- the pool -------------------------------------------------------------- */

void pool_init(struct pool *p, size_t first_size)
{
    p->head = NULL;
    if (first_size < CHUNK_HDR + POOL_ALIGN)
        first_size = CHUNK_HDR + POOL_ALIGN;
    p->first_size = first_size;
}

/* Pushes a chunk of max(first_size, n + header) bytes; NULL on OOM. */
static struct pool_chunk *chunk_new(struct pool *p, size_t n)
{
    size_t size = n + CHUNK_HDR;
    struct pool_chunk *c;

    if (size < p->first_size)
        size = p->first_size;
    c = size == p->first_size ? block_get(size) : malloc(size);
    if (c == NULL)
        return NULL;
    c->next = p->head;
    c->cur = (char *)c + CHUNK_HDR;
    c->end = (char *)c + size;
    p->head = c;
    return c;
}

void *pool_alloc_chunk(struct pool *p, size_t n)
{
    struct pool_chunk *c = p->head;
    void *ptr;

    if (n > (size_t)PTRDIFF_MAX - CHUNK_HDR - POOL_ALIGN)
        return NULL;
    n = n ? ALIGN_UP(n) : POOL_ALIGN;
    if (c == NULL || (size_t)(c->end - c->cur) < n) {
        c = chunk_new(p, n);
        if (c == NULL)
            return NULL;
    }
    ptr = c->cur;
    c->cur += n;
    return ptr;
}

/* A NUL-terminated copy of s[0..n) in the pool; NULL on OOM. */
char *pool_strndup(struct pool *p, const char *s, size_t n)
{
    char *d;

    if (n == SIZE_MAX)
        return NULL;
    d = pool_alloc(p, n + 1);
    if (d == NULL)
        return NULL;
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/*
 * Frees every chunk but the first one allocated and rewinds it.  A first
 * chunk that was grown past first_size for a big allocation is freed too,
 * so one large request does not pin its memory to the connection.
 */
/* Frees a chunk, caching it when it has the first chunk's size. */
static void chunk_free(struct pool *p, struct pool_chunk *c)
{
    size_t size = (size_t)(c->end - (char *)c);

    if (size == p->first_size)
        block_put(c, size);
    else
        free(c);
}

void pool_reset(struct pool *p)
{
    struct pool_chunk *c = p->head, *next;

    if (c == NULL)
        return;
    while (c->next != NULL) {
        next = c->next;
        chunk_free(p, c);
        c = next;
    }
    if ((size_t)(c->end - (char *)c) != p->first_size) {
        free(c);
        p->head = NULL;
        return;
    }
    c->cur = (char *)c + CHUNK_HDR;
    p->head = c;
}

void pool_release(struct pool *p)
{
    struct pool_chunk *c = p->head, *next;

    while (c != NULL) {
        next = c->next;
        chunk_free(p, c);
        c = next;
    }
    p->head = NULL;
}

void pool_free(struct pool *p)
{
    pool_release(p);
}

void buf_init(struct buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

/* Grows the capacity by doubling until n more bytes fit.  0, or -1 on OOM. */
int buf_grow(struct buf *b, size_t n)
{
    size_t need, cap;
    char *d;

    if (b->cap - b->len >= n)
        return 0;
    if (n > (size_t)PTRDIFF_MAX - b->len)
        return -1;
    need = b->len + n;
    cap = b->cap ? b->cap : BUF_MIN;
    while (cap < need)
        cap = cap > (size_t)PTRDIFF_MAX / 2 ? need : cap * 2;
    d = realloc(b->data, cap);
    if (d == NULL)
        return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

/*
 * Appends a format of text, %s, %.*s and %% only (NULL for %s is "(null)",
 * as glibc prints it; a NULL for %.*s is left to vsnprintf), in one pass.
 * 0; 1 at another directive, -1 on OOM, nothing appended either way.
 */
static int append_plain(struct buf *b, const char *fmt, va_list ap)
{
    size_t was = b->len;
    const char *p = fmt, *pct;
    va_list aq;
    int rc = 0;

    va_copy(aq, ap);
    for (;;) {
        const char *s;

        pct = strchrnul(p, '%');
        if (buf_append(b, p, (size_t)(pct - p)) < 0)
            goto fail;
        if (*pct == '\0')
            break;
        if (pct[1] == '.' && pct[2] == '*' && pct[3] == 's') {
            int prec = va_arg(aq, int);

            if ((s = va_arg(aq, const char *)) == NULL) {
                rc = 1;
                goto fail;
            }
            if (buf_append(b, s, prec < 0 ? strlen(s) : strnlen(s, (size_t)prec)) < 0)
                goto fail;
            p = pct + 4;
            continue;
        }
        if (pct[1] != 's' && pct[1] != '%') {
            rc = 1;
            goto fail;
        }
        s = pct[1] == '%' ? "%" : va_arg(aq, const char *);
        if (buf_append_str(b, s != NULL ? s : "(null)") < 0)
            goto fail;
        p = pct + 2;
    }
    va_end(aq);
    return 0;
fail:
    va_end(aq);
    b->len = was;
    return rc ? rc : -1;
}

/*
 * Appends formatted text.  A format of text, %s, %.*s and %% only (a
 * handler's "Hello, %s") is copied by hand, at a fraction of vsnprintf's
 * cost; any other is formatted into the free space first and, when the
 * text does not fit, again after growing the buffer.  0, or -1 on error.
 */
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    size_t room;
    va_list aq;
    int n;

    if ((n = append_plain(b, fmt, ap)) <= 0)
        return n;
    room = b->cap - b->len;
    va_copy(aq, ap);
    n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, aq);
    va_end(aq);
    if (n < 0)
        return -1;
    if ((size_t)n >= room) {
        if (buf_reserve(b, (size_t)n + 1) < 0)
            return -1;
        n = vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        if (n < 0)
            return -1;
    }
    b->len += (size_t)n;
    return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
}

void buf_free(struct buf *b)
{
    free(b->data);
    buf_init(b);
}
