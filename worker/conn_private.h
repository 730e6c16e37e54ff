/*
 * conn_private.h -- a connection's state (struct conn, what an idle one
 * holds) and its request state (struct conn_req, while busy), shared by its
 * two halves: conn.c (the socket: reading, writing, lingering close,
 * hand-off; conn_timer.c its deadlines, conn_req.c its request state's
 * life) and http.c (the bytes: parsing, the request, the answer;
 * http_head.c the header block's checks), and by pending.c (a request
 * answered later), by stream.c (a streamed response), by identity.c (who
 * the peer is), by middleware.c (befores and afters) and by scrape.c (the
 * metrics path, the gauges).  Nothing else in the worker includes it; the
 * rest of the worker sees conn.h.
 */
#ifndef KILN_CONN_PRIVATE_H
#define KILN_CONN_PRIVATE_H

#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <ev.h>

#include "body.h"
#include "kiln.h"
#include "pool.h"
#include "request.h"
#include "router.h"

struct body_reader;
struct http_parser;
struct kiln_ws;
struct stream;
struct worker;

struct hdr_span {                   /* a header field, as offsets into rq->in */
    size_t name_off, name_len;
    size_t val_off, val_len;
};

enum conn_state {
    CS_IDLE,                        /* between requests */
    CS_HEAD,                        /* inside a header block */
    CS_BODY,                        /* inside a body */
    CS_PENDING,                     /* its handler answers later (pending.c) */
    CS_LINGER                       /* response sent, waiting for EOF */
};


/*
 * A connection's request state: everything from a request's first byte to
 * the end of its response, and the bytes in flight either way.  Taken from
 * the worker's cache (conn_req.c) when bytes arrive on an idle connection,
 * given back when the connection is idle again with nothing left to write
 * or to parse; a busy connection takes back the same warm object, its
 * buffers and pool chunk still allocated, so the hot path never mallocs.
 * http-parser's state follows it in the same allocation.
 */
struct conn_req {
    struct conn_req *next_free;     /* in the cache */
    struct http_parser *parser;     /* http.c's, allocated with it */
    ev_io wio;                      /* started while `out` waits for the socket */
    double last_io;                 /* last read, or last write progress */
    double head_start;              /* first byte of the current header block */
    double pending_since;           /* when the handler returned KILN_PENDING */
    double handoff_since;           /* when an upgrade began waiting for the peer */
    double linger_start;

    struct buf in;                  /* received, not yet dropped */
    size_t parsed;                  /* bytes of `in` fed to the parser */
    size_t msg_off;                 /* where the request line starts in `in` */
    size_t url_off, url_len;
    int have_url;
    struct hdr_span *hdrs;
    size_t nhdrs, cap_hdrs;
    int in_value;                   /* last header callback was a value */
    unsigned nhost, nte;            /* Host and Transfer-Encoding fields */
    size_t host, te;                /* the first of each, in req.headers */
    const char *expect;             /* the first Expect field's value, or NULL */

    struct pool pool;
    struct buf body;                /* request body */
    struct buf rhdr, rbody;         /* response being built by a handler */
    struct buf out;                 /* bytes to write, in order */
    struct kiln_req req;
    enum router_result route_res;
    char allow[128];

    struct kiln_ws *ws;             /* an accepted upgrade, to hand the socket to */
    int err_status;                 /* an error of ours to answer, or 0 */
    kiln_id pending;                /* kiln_defer()'s id, or 0 */
    kiln_cancel_fn cancel;          /* ... and what it asked to run if */
    void *cancel_arg;               /* the request is cancelled */
    struct stream *stream;          /* kiln_stream()'s, while it runs (stream.c) */
    int resume_result;              /* kiln_resume() inside the handler: its result */
    unsigned resumed : 1;           /* kiln_resume() came (inside the handler, or
                                       queued for the loop's next prepare) */
    unsigned in_handler : 1;        /* the route's handler is running */
    unsigned handoff_wait : 1;      /* an accepted upgrade waits for the peer
                                       to take what was sent (conn_handoff) */
    unsigned http10_te : 1;         /* an HTTP/1.0 message with a
                                       Transfer-Encoding: close after it */
    unsigned upgraded : 1;          /* an upgrade request to a plain route
                                       ended: the parser must restart */
    unsigned body_paused : 1;       /* the reader paused: nothing is read */
    unsigned in_body_cb : 1;        /* the reader's data callback runs */
    unsigned expect_continue : 1;   /* "100 Continue" waits for a reader */
    unsigned answered_early : 1;    /* answered before its body ended: the
                                       rest is read and dropped */
    size_t max_body;                /* the current request's body limit */
    size_t body_seen;               /* body bytes so far (body.c) */
    enum body_sink sink;            /* where they go (body.c) */
    struct body_reader *reader;     /* kiln_body_stream()'s, in the pool */
    int body_error;                 /* the KILN_BODY_* an abort reports */
};

/*
 * A connection: what an idle keep-alive one holds, its request state
 * (above) only while busy.  Its size on x86-64, and what else an idle
 * connection costs, are in DEVELOPERS.md ("Memory per connection").
 */
struct conn {
    struct worker *w;
    struct conn *prev, *next;
    struct conn_req *rq;            /* busy: the request state; idle: NULL */
    ev_io rio;
    ev_timer timer;
    double timer_at;                /* when the armed timer fires */
    double idle_since;              /* end of the last response, or accept */
    int fd;
    unsigned requests;              /* answered on this connection */
    enum conn_state state : 8;
    unsigned want_close : 1;        /* close once `out` is written */
    unsigned linger : 1;            /* ... and wait for the peer's EOF first */
    unsigned read_eof : 1;
    unsigned reading : 1;           /* rio is started */
    unsigned nodelay : 1;           /* TCP_NODELAY is set */
    unsigned peer_known : 1;        /* peer_* below were read (conn_peer) */
    unsigned peer_ip : 1;           /* 1: peer_addr holds it; 0: not IP (unix) */
    unsigned short peer_port;
    unsigned char peer_addr[16];    /* IPv6, IPv4 mapped */
};

/*
 * The peer's address (16 bytes, an IPv4 one mapped) and port, asked of the
 * socket once per connection: 0, or -1 when the peer is not on IP (a Unix
 * socket) or getpeername() failed.
 */
int conn_peer(struct conn *c, unsigned char addr[16], int *port);

/*
 * Sets TCP_NODELAY once: on a connection that will carry more than one
 * answer (kept alive, or upgraded to a WebSocket), so that small writes
 * back to back never wait for the peer's delayed ACK.  A connection closed
 * after one response never needs the syscall.
 */
static inline void conn_nodelay(struct conn *c)
{
    int one = 1;

    if (c->nodelay)
        return;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->nodelay = 1;
}

/* A reader paused (body.c): the connection stops reading, and the
 * deadline becomes pending_timeout from now. */
void conn_body_pause(struct conn *c);

/* ... and resumed: reading again, and the parse of what was read goes on
 * (from the loop, never inside a plugin's call). */
void conn_body_resume(struct conn *c);

/* ---- conn_timer.c ------------------------------------------------------------ */

/* A pending request's time to answer: its route's, or the server's. */
double conn_pending_timeout(const struct conn *c);

/* The deadline of c's current state (ev_now()'s clock). */
double conn_deadline(const struct conn *c);

/* Re-arms c's timer when the deadline moved earlier than the armed one. */
void conn_timer_update(struct conn *c);

/* ---- conn_req.c -------------------------------------------------------------- */

/* Gives c a request state (c->rq, its parser initialized) from the cache,
 * or a new one; NULL on OOM.  The caller sets up its write watcher. */
struct conn_req *conn_req_take(struct conn *c);

/* Forgets the finished request: its strings, headers, body and response
 * (the pool rewound); the buffers keep their memory. */
void conn_req_reset(struct conn *c);

/* c is idle with nothing unsent or unparsed: its request state goes back
 * to the cache (c->rq is NULL after). */
void conn_req_idle(struct conn *c);

/* c closes: its request state, whatever it holds, is released (c->rq is
 * NULL after).  Its watchers must be stopped, its callbacks cancelled. */
void conn_req_drop(struct conn *c);

/* Frees the cache (at the worker's stop, for leak checkers). */
void conn_req_cache_clear(void);

#define CONN_READ_CHUNK 16384       /* bytes asked of one read(2): the read
                                       buffer's size, a cached block */

/* Frees the read buffer (to the block cache when it kept its size). */
void conn_in_free(struct conn_req *q);

/* ---- http.c ------------------------------------------------------------------ */

/* Bytes of parser state conn_req_take() allocates right after struct
 * conn_req. */
size_t http_state_size(void);

/* Starts (or restarts) parsing c->rq->in as requests. */
void http_init(struct conn *c);

/* Gives c the parser of a request state that was idle (between messages,
 * so clean): its callbacks see c. */
void http_attach(struct conn *c);

/*
 * Feeds the unparsed part of c->in to the parser, answering what completes
 * into c->out, then drops what is no longer needed (everything parsed,
 * except the header block in progress).  Returns -1 when the connection
 * must stop reading (error answered, close), 1 when an accepted WebSocket
 * upgrade waits in c->ws for conn_handoff(), 0 otherwise.
 */
int http_parse(struct conn *c);

/* Queues an error response of ours (408, 400, ...) and closes after it,
 * lingering. */
void http_error(struct conn *c, int status);

/*
 * Completes the pending request of c (CS_PENDING): `status` 0 sends the
 * response its plugin built, another status answers that error (500,
 * 504); then parses what was pipelined behind it.  Returns as http_parse().
 */
int http_resume(struct conn *c, int status);

/* Pauses (1) or un-pauses (0) c's parser (for dispatch.c), and whether the
 * request asked for an upgrade. */
void http_pause(struct conn *c, int on);
int http_upgrade(const struct conn *c);

/* The body bytes still to come: the Content-Length left, 0 without a
 * body, -1 when chunked (not known). */
long long http_body_left(const struct conn *c);

/* Ends c's answered request: ready for the next one (kept alive), or
 * closing (the parser paused, a lingering close when the client may
 * still be sending). */
void http_req_done(struct conn *c);

/* Un-pauses the parser of a body that was paused by its reader and parses
 * what is left of c->in.  Returns as http_parse(). */
int http_continue(struct conn *c);

/*
 * Completes c's streamed request, whose bytes are all queued: with `keep`
 * 0 the connection closes after them; then parses what was pipelined
 * behind it.  Returns as http_parse().
 */
int http_finish(struct conn *c, int keep);

/* ---- http_head.c ------------------------------------------------------------- */

/* The message's framing, version, target and Host, once its header block is
 * in c->rq->req: 0, or -1 (failed: the status is in c->rq->err_status). */
int http_head_check(struct conn *c);

/* Answers "Expect: 100-continue" once the body will be read (into
 * c->rq->out, or when a reader attaches); 417, 404, 405 else.  As above. */
int http_head_expect(struct conn *c);

/* The bytes of the header block just read, blank line included (for the
 * response-sent hook). */
unsigned long long http_head_bytes(const struct conn *c);

#endif
