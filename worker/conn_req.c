/*
 * conn_req.c -- the life of a connection's request state (struct conn_req):
 * taken from the worker's cache when bytes arrive on an idle connection,
 * reset between requests, given back when the connection is idle again.
 *
 * An idle keep-alive connection keeps its struct conn alone: its socket, its
 * read watcher and timer, a few flags.  A busy one takes a struct conn_req
 * (parser, buffers, pool, the struct kiln_req being served) from a LIFO cache
 * of warm objects whose read buffer, pool chunk and small response buffers
 * are still allocated, so that a steady stream of keep-alive requests costs
 * no malloc: each request takes back the object the last one gave up.
 */
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "conn_private.h"
#include "json.h"
#include "pool.h"
#include "req_store.h"

#define POOL_FIRST 4096
#define BIG_BUF 65536               /* a buffer larger is freed when idle */

#define RQ_CACHE_MAX 64             /* warm objects kept per worker (one thread) */

/* Under AddressSanitizer a cached object is poisoned: a use of the request
 * state after it was given back is reported as one after a free. */
#if defined(__SANITIZE_ADDRESS__)
#define RQ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RQ_ASAN 1
#endif
#endif
#ifdef RQ_ASAN
#include <sanitizer/asan_interface.h>
#define RQ_POISON(q) ASAN_POISON_MEMORY_REGION((q), sizeof(*(q)) + http_state_size())
#define RQ_UNPOISON(q) ASAN_UNPOISON_MEMORY_REGION((q), sizeof(*(q)) + http_state_size())
#else
#define RQ_POISON(q) ((void)(q))
#define RQ_UNPOISON(q) ((void)(q))
#endif

static const unsigned rq_cache_max = RQ_CACHE_MAX;
static struct conn_req *cache;
static unsigned ncache;

/* ---- buffers ------------------------------------------------------------- */

void conn_in_free(struct conn_req *q)
{
    if (q->in.cap == CONN_READ_CHUNK)
        block_put(q->in.data, CONN_READ_CHUNK);
    else
        free(q->in.data);
    buf_init(&q->in);
    q->parsed = 0;
}

/* Frees everything the object holds, and the object. */
static void rq_free(struct conn_req *q)
{
    pool_free(&q->pool);
    conn_in_free(q);
    buf_free(&q->out);
    buf_free(&q->body);
    buf_free(&q->rhdr);
    buf_free(&q->rbody);
    free(q);
}

/* Back to the cache (it keeps its buffers), or freed when the cache is full. */
static void rq_cache(struct conn_req *q)
{
    if (ncache >= rq_cache_max) {
        rq_free(q);
        return;
    }
    q->next_free = cache;
    cache = q;
    ncache++;
    RQ_POISON(q);
}

/* ---- taking and giving back ---------------------------------------------- */

struct conn_req *conn_req_take(struct conn *c)
{
    struct conn_req *q = cache;

    if (q != NULL) {
        RQ_UNPOISON(q);
        cache = q->next_free;
        ncache--;
        c->rq = q;
        http_attach(c);                 /* idle, or reset at a close */
        return q;
    }
    /* One allocation: the object, then http.c's parser state. */
    q = calloc(1, sizeof(*q) + http_state_size());
    if (q == NULL)
        return NULL;
    q->parser = (struct http_parser *)(void *)(q + 1);
    pool_init(&q->pool, POOL_FIRST);
    c->rq = q;
    http_init(c);
    return q;
}

void conn_req_reset(struct conn *c)
{
    struct conn_req *q = c->rq;

    body_release(c);                /* before the pool: its files are there */
    req_store_clear(&q->req);
    json_release(&q->req);
    pool_reset(&q->pool);
    buf_reset(&q->body);
    buf_reset(&q->rhdr);
    buf_reset(&q->rbody);
    q->have_url = 0;
    q->url_len = 0;
    q->hdrs = NULL;
    q->nhdrs = 0;
    q->cap_hdrs = 0;
    q->in_value = 0;
    q->nhost = q->nte = 0;
    q->expect = NULL;
    q->http10_te = 0;
    memset(&q->req, 0, sizeof(q->req));
}

void conn_req_idle(struct conn *c)
{
    struct conn_req *q = c->rq;

    /* Small buffers stay with the object for the next request; one big
     * body, response or header block does not stay pinned. */
    if (q->in.cap != CONN_READ_CHUNK)
        conn_in_free(q);
    q->in.len = 0;
    q->parsed = 0;
    if (q->body.cap > BIG_BUF)
        buf_free(&q->body);
    if (q->rbody.cap > BIG_BUF)
        buf_free(&q->rbody);
    if (q->out.cap > BIG_BUF)
        buf_free(&q->out);
    c->rq = NULL;
    rq_cache(q);
}

/*
 * At a close, whatever the object's state: its request's leftovers are
 * released (the caller cancelled what had to be), and every field that is
 * not a buffer is cleared for the next connection that takes it.
 */
void conn_req_drop(struct conn *c)
{
    struct conn_req *q = c->rq;
    struct conn_req keep;

    conn_req_reset(c);
    if (ncache >= rq_cache_max) {
        c->rq = NULL;
        rq_free(q);
        return;
    }
    http_init(c);                       /* whatever the parser was in */
    keep = *q;
    memset(q, 0, sizeof(*q));
    q->parser = keep.parser;
    q->pool = keep.pool;
    q->in = keep.in;
    q->body = keep.body;
    q->rhdr = keep.rhdr;
    q->rbody = keep.rbody;
    q->out = keep.out;
    q->out.len = 0;
    conn_req_idle(c);
}

void conn_req_cache_clear(void)
{
    while (cache != NULL) {
        struct conn_req *q = cache;

        RQ_UNPOISON(q);
        cache = q->next_free;
        rq_free(q);
    }
    ncache = 0;
}
