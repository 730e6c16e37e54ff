/*
 * pool.h -- per-connection memory: a bump arena reset between requests, and
 * a growable byte buffer.
 *
 * A connection owns one pool; everything a request needs (decoded path,
 * match values, header table, query table) is carved from it and released at
 * once by pool_reset() when the response is done.  The first chunk is kept
 * across resets, so a steady stream of small requests allocates nothing.
 */
#ifndef KILN_POOL_H
#define KILN_POOL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A chunk header; its usable bytes follow it, aligned (pool.c). */
struct pool_chunk {
    struct pool_chunk *next;    /* the chunk allocated before this one */
    char *cur;                  /* first free byte */
    char *end;                  /* one past the chunk's last byte */
};

struct pool {
    struct pool_chunk *head;    /* current chunk; earlier ones linked behind */
    size_t first_size;          /* size of the chunk kept across resets */
};

#define POOL_ALIGN ((size_t)_Alignof(max_align_t))

void pool_init(struct pool *p, size_t first_size);
/* pool_alloc's way when the current chunk is full (or too big a request). */
void *pool_alloc_chunk(struct pool *p, size_t n);

/* Aligned (max_align_t) memory valid until pool_reset/pool_free; NULL on OOM.
 * Inline: a request makes several, and most fit the current chunk. */
static inline void *pool_alloc(struct pool *p, size_t n)
{
    struct pool_chunk *c = p->head;
    size_t a = n ? (n + POOL_ALIGN - 1) & ~(POOL_ALIGN - 1) : POOL_ALIGN;
    void *ptr;

    if (c == NULL || n > (size_t)PTRDIFF_MAX / 2 || (size_t)(c->end - c->cur) < a)
        return pool_alloc_chunk(p, n);
    ptr = c->cur;
    c->cur += a;
    return ptr;
}
char *pool_strndup(struct pool *p, const char *s, size_t n);
/* Frees every chunk but the first and rewinds it. */
void pool_reset(struct pool *p);
/* Gives every chunk back (the first to the block cache); the pool stays
 * usable and allocates again on the next pool_alloc.  For idle connections. */
void pool_release(struct pool *p);
void pool_free(struct pool *p);

/*
 * A per-process cache of fixed-size blocks (a worker is one thread).  Idle
 * connections hand back their read buffer and their pool's first chunk, and
 * busy ones take them again, so that neither idle connections nor a steady
 * stream of requests cost malloc calls.  block_get returns a malloc'd block
 * of `size` bytes (cached or new; NULL on OOM); block_put caches it, or frees
 * it when the cache of that size is full.  Disabled under AddressSanitizer,
 * which must see every free.
 */
void *block_get(size_t size);
void block_put(void *block, size_t size);
/* Frees every cached block (at exit, for leak checkers). */
void block_cache_clear(void);

/* A growable byte buffer (malloc'd).  data[len] is not kept NUL. */
struct buf {
    char *data;
    size_t len;
    size_t cap;
};

void buf_init(struct buf *b);
/* buf_reserve's way when the buffer must grow. */
int buf_grow(struct buf *b, size_t n);
/* Makes room for `n` more bytes.  0, or -1 on OOM. */
static inline int buf_reserve(struct buf *b, size_t n)
{
    return b->cap - b->len >= n ? 0 : buf_grow(b, n);
}

static inline int buf_append(struct buf *b, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    if (buf_reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return 0;
}

static inline int buf_append_str(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Drops the first n bytes (memmove). */
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);      /* len = 0, keeps the memory */
void buf_free(struct buf *b);

#endif
