/*
 * conn.c -- an HTTP/1.1 connection's socket: reading, writing the responses
 * in order, timeouts, lingering close, and the hand-off of an upgraded
 * socket to the WebSocket layer.
 *
 * What happens to a byte that arrives: on_readable() gives an idle
 * connection its request state (c->rq, from conn_req.c's cache), appends
 * the byte to c->rq->in and has http.c parse it (http_parse()), which
 * answers whatever requests complete into c->rq->out; pipelined requests in
 * the same read are handled in turn, and c->rq->out is written once at the
 * end of the read (one write(2) for the batch).  Once the connection is idle
 * again with nothing unsent or unparsed, the request state goes back to the
 * cache (conn_maybe_idle()).
 *
 * Timeouts use one ev_timer per connection, re-armed lazily: a read only
 * stores the time, and the timer callback works out the deadline of the
 * current state (idle, header block, body, stalled write, lingering close:
 * conn_timer.c) and acts on it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "conn_private.h"
#include "log.h"
#include "json.h"
#include "dispatch.h"
#include "middleware.h"
#include "pending.h"
#include "pool.h"
#include "req_store.h"
#include "stream.h"
#include "proxies.h"
#include "worker.h"
#include "ws.h"

#define OUT_HIGH_WATER (1u << 20)   /* stop reading while this much is queued */
#define LINGER_BYTES (1u << 20)     /* bytes to discard while lingering */
#define BIG_BUF 65536               /* a buffer larger is freed when drained */
#define PENDING_INPUT 65536         /* pipelined bytes read behind a pending request */
#define HANDOFF_RETRY 0.01          /* s between checks of a hand-off waiting for the peer */

static void conn_close(struct conn *c);
/* What an idle connection holds (DEVELOPERS.md, "Memory per connection"). */
_Static_assert(sizeof(void *) != 8 || sizeof(struct conn) <= 176,
               "struct conn grew: an idle connection costs more (see DEVELOPERS.md)");

static int closing_all;                 /* conn_close_all() runs: the worker stops */
static void conn_try_send(struct conn *c);
static void conn_parsed(struct conn *c, int parsed);
static void conn_reading(struct conn *c, int on);
static void conn_stream_drained(struct conn *c);
static void on_writable(struct ev_loop *loop, ev_io *w, int revents);
static struct conn_req *conn_busy(struct conn *c);
static void conn_maybe_idle(struct conn *c);

/* ---- the hand-off --------------------------------------------------------- */

/*
 * Gives the socket to libwebsockets with the upgrade request's bytes (and
 * whatever followed them), after what was queued for earlier requests.  The
 * connection is freed; the fd now belongs to the WebSocket layer.
 */
/* Bytes written to the socket that the peer has not acknowledged yet. */
static int conn_unacked(int fd)
{
    int n = 0;

    return ioctl(fd, SIOCOUTQ, &n) == 0 ? n : 0;
}

static void conn_handoff(struct conn *c)
{
    struct worker *w = c->w;
    struct kiln_ws *ws;
    int fd = c->fd;

    if (c->rq->out.len > 0)
        conn_try_send(c);
    if (c->rq->out.len > 0) {               /* cannot block here: give up */
        log_debug("connection %d: output pending at upgrade; closing", fd);
        conn_close(c);
        return;
    }
    /*
     * libwebsockets 4.1 writes the 101 itself, and when the socket does not
     * take it whole while input waits in its buffer, its loop hook spins
     * until the peer reads.  So the socket is handed over once the peer has
     * taken what was sent before (at once on a first request; after a round
     * trip behind a response), waiting no longer than body_timeout; meanwhile
 * it is read on, so that a peer that leaves is seen.
     */
    if (conn_unacked(fd) > 0) {
        double now = ev_now(w->loop);

        if (!c->rq->handoff_wait) {
            c->rq->handoff_wait = 1;
            c->rq->handoff_since = now;
        } else if (now - c->rq->handoff_since >= w->cfg->body_timeout) {
            log_debug("connection %d: the peer takes nothing; closing before the upgrade", fd);
            conn_close(c);
            return;
        }
        /* Reading on sees the peer leave; what it sends is handed over too. */
        conn_reading(c, c->rq->in.len - c->rq->msg_off < PENDING_INPUT);
        ev_timer_stop(w->loop, &c->timer);
        ev_timer_set(&c->timer, HANDOFF_RETRY, 0.);
        ev_timer_start(w->loop, &c->timer);
        c->timer_at = now + HANDOFF_RETRY;
        return;
    }
    if (c->rq->msg_off > c->rq->in.len) {       /* cannot happen; never hand off junk */
        log_error("connection %d: upgrade request not in the buffer", fd);
        conn_close(c);
        return;
    }
    if (mw_sent_active) {               /* libwebsockets writes the 101 */
        c->rq->req.status = 101;
        mw_sent(c, 0, 0, 1);
    }
    conn_nodelay(c);                    /* lws keeps the socket's options */
    ev_io_stop(w->loop, &c->rio);
    ev_io_stop(w->loop, &c->rq->wio);
    c->reading = 0;
    c->fd = -1;
    ws = c->rq->ws;
    c->rq->ws = NULL;
    ws_adopt(w, fd, ws, &c->rq->req, c->rq->in.data + c->rq->msg_off, c->rq->in.len - c->rq->msg_off);
    conn_close(c);
}

/* ---- I/O ---------------------------------------------------------------- */



static void conn_reading(struct conn *c, int on)
{
    if (on && c->state == CS_BODY && c->rq->body_paused)
        on = 0;                 /* its reader paused: the client waits */
    if (on && !c->reading)
        ev_io_start(c->w->loop, &c->rio);
    else if (!on && c->reading)
        ev_io_stop(c->w->loop, &c->rio);
    c->reading = on;
}

/* Starts a lingering close: no more writing, read until EOF or timeout. */
static void conn_linger(struct conn *c)
{
    if (conn_busy(c) == NULL) {
        conn_close(c);
        return;
    }
    shutdown(c->fd, SHUT_WR);
    c->state = CS_LINGER;
    c->rq->linger_start = ev_now(c->w->loop);
    c->rq->in.len = 0;
    c->rq->parsed = 0;
    conn_reading(c, 1);
    conn_timer_update(c);
}

/* Called when c->rq->out has been written completely. */
static void conn_drained(struct conn *c)
{
    if (ev_is_active(&c->rq->wio) || ev_is_pending(&c->rq->wio))
        ev_io_stop(c->w->loop, &c->rq->wio);    /* most answers never waited */
    if (c->rq->out.cap > BIG_BUF)
        buf_free(&c->rq->out);      /* a big response does not stay pinned */
    if (c->rq->stream) {
        conn_stream_drained(c);
        return;
    }
    if (c->want_close) {
        if ((c->linger || c->rq->in.len > c->rq->parsed) && !c->read_eof)
            conn_linger(c);
        else
            conn_close(c);
        return;
    }
    if (c->read_eof) {
        conn_close(c);
        return;
    }
    conn_reading(c, 1);
    if (c->w->draining)
        conn_timer_update(c);       /* the short idle deadline of a drain */
    conn_maybe_idle(c);
}

/* Sends what the socket takes now, without waiting or closing (safe inside
 * parser callbacks); conn_flush() finishes the job later. */
static void conn_try_send(struct conn *c)
{
    ssize_t n = send(c->fd, c->rq->out.data, c->rq->out.len, MSG_NOSIGNAL);

    if (n > 0)
        buf_consume(&c->rq->out, (size_t)n);
}

/* The socket takes no more now: the rest goes out when it is writable. */
static void conn_wait_writable(struct conn *c)
{
    ev_io_start(c->w->loop, &c->rq->wio);
    if (c->rq->out.len > OUT_HIGH_WATER)
        conn_reading(c, 0);
    conn_timer_update(c);
    if (c->rq->stream)
        stream_progress(c);     /* the ready callback, when due */
}

/* Writes as much of c->rq->out as the socket takes, then a file body's next
 * piece (the head sent with MSG_MORE, so that it leaves in the body's first
 * segment); waits for POLLOUT if not all. */
static void conn_flush(struct conn *c)
{
    int more = stream_file_left(c) ? MSG_MORE : 0;
    ssize_t n;

    while (c->rq->out.len > 0) {
        n = send(c->fd, c->rq->out.data, c->rq->out.len, MSG_NOSIGNAL | more);
        if (n > 0) {
            buf_consume(&c->rq->out, (size_t)n);
            c->rq->last_io = ev_now(c->w->loop);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            conn_wait_writable(c);
            return;
        }
        conn_close(c);                  /* EPIPE, ECONNRESET: peer is gone */
        return;
    }
    switch (stream_send_file(c)) {      /* a file's body, after its head */
    case 1:
        conn_wait_writable(c);
        return;
    case -1:
        conn_close(c);
        return;
    }
    conn_drained(c);
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    conn_flush(w->data);
}

/* Reads and discards during a lingering close. */
static void linger_read(struct conn *c)
{
    char sink[4096];
    ssize_t n = read(c->fd, sink, sizeof(sink));

    if (n > 0) {
        c->rq->in.len += (size_t)n;         /* counts the bytes discarded */
        if (c->rq->in.len < LINGER_BYTES)
            return;
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    conn_close(c);
}

/* A read buffer with room for a read: a cached block when there is none,
 * a bigger one only while a large header block is being collected. */
static int conn_in_acquire(struct conn_req *q)
{
    if (q->in.data == NULL) {
        q->in.data = block_get(CONN_READ_CHUNK);
        if (q->in.data == NULL)
            return -1;
        q->in.cap = CONN_READ_CHUNK;
    }
    if (q->in.cap - q->in.len < CONN_READ_CHUNK / 4)
        return buf_reserve(&q->in, CONN_READ_CHUNK);
    return 0;
}

/*
 * The request state for bytes about to arrive, its write watcher set.  The
 * watcher is set again only when it was last set for another descriptor:
 * ev_io_set() has libev hand the descriptor to epoll again at its next
 * start (an epoll_ctl the kernel answers EEXIST, one a streamed response
 * would pay for every request).
 */
static struct conn_req *conn_busy(struct conn *c)
{
    struct conn_req *q = c->rq;

    if (q == NULL) {
        q = conn_req_take(c);
        if (q == NULL)
            return NULL;
        if (q->wio.cb != on_writable || q->wio.fd != c->fd)
            ev_io_init(&q->wio, on_writable, c->fd, EV_WRITE);
        q->wio.data = c;
    }
    return q;
}

/* An idle connection with nothing unsent or unparsed keeps its struct
 * alone: its request state goes back to the cache. */
static void conn_maybe_idle(struct conn *c)
{
    if (c->state == CS_IDLE && !c->want_close && c->rq->in.len == 0 && c->rq->out.len == 0)
        conn_req_idle(c);
}

/* Reads what arrived and handles it; returns after one read(2). */
static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    struct conn *c = w->data;
    struct conn_req *q;
    ssize_t n;

    (void)revents;
    if (c->state == CS_LINGER) {
        linger_read(c);
        return;
    }
    q = conn_busy(c);
    if (q == NULL || conn_in_acquire(q) < 0) {
        conn_close(c);
        return;
    }
    n = read(c->fd, q->in.data + q->in.len, q->in.cap - q->in.len);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            conn_close(c);
        else
            conn_maybe_idle(c);
        return;
    }
    if (n == 0) {
        c->read_eof = 1;
        conn_reading(c, 0);
        if (q->out.len == 0 || c->state != CS_IDLE)
            conn_close(c);
        return;
    }
    c->rq->in.len += (size_t)n;
    c->rq->last_io = ev_now(loop);
    conn_parsed(c, http_parse(c));
}

/* What follows parsing (after a read, or a pending request's answer):
 * the hand-off of an upgrade, writing, the timer. */
static void conn_parsed(struct conn *c, int parsed)
{
    if (parsed > 0) {
        conn_handoff(c);
        return;
    }
    if (c->want_close || (c->rq->body_paused && c->state == CS_BODY))
        conn_reading(c, 0);     /* nothing more is parsed: do not buffer it */
    else if (c->state == CS_PENDING && c->rq->in.len - c->rq->parsed >= PENDING_INPUT)
        conn_reading(c, 0);     /* enough waits behind the pending one */
    if (c->rq->out.len > 0 || c->want_close)
        conn_flush(c);      /* may close c */
    else if (c->state == CS_HEAD || c->state == CS_BODY || c->state == CS_PENDING)
        conn_timer_update(c);
    else
        conn_maybe_idle(c);
}

/* A stream's bytes are all written: the ready callback when due, or,
 * once it ended, the request's completion and what was pipelined behind. */
static void conn_stream_drained(struct conn *c)
{
    if (!stream_ended(c)) {
        stream_progress(c);
        return;
    }
    conn_parsed(c, http_finish(c, stream_finish(c)));
}

void conn_body_pause(struct conn *c)
{
    conn_reading(c, 0);
    conn_timer_update(c);
}

void conn_body_resume(struct conn *c)
{
    if (!c->want_close)
        conn_reading(c, 1);
    conn_parsed(c, http_continue(c));
}

void conn_resume(struct conn *c, int result)
{
    int rc;

    if (!c->rq->req.mw.before_pending) {
        conn_parsed(c, http_resume(c, result == KILN_OK ? 0 : 500));
        return;
    }
    /* A middleware's before deferred: a body read as it arrives may be
     * read on now, with nothing written that would restart the reading. */
    rc = dispatch_before_resumed(c, result);
    if (c->state == CS_BODY && !c->rq->body_paused && !c->want_close && !c->read_eof)
        conn_reading(c, 1);
    conn_parsed(c, rc);
}

int conn_peer(struct conn *c, unsigned char addr[16], int *port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int p = 0;

    if (!c->peer_known) {
        c->peer_known = 1;
        c->peer_ip = getpeername(c->fd, (struct sockaddr *)&ss, &len) == 0 &&
                     proxies_from_sockaddr((struct sockaddr *)&ss, c->peer_addr, &p) == 0;
        c->peer_port = (unsigned short)p;
    }
    if (!c->peer_ip)
        return -1;
    memcpy(addr, c->peer_addr, 16);
    *port = c->peer_port;
    return 0;
}

/* ---- timers ------------------------------------------------------------- */

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct conn *c = w->data;
    double at = conn_deadline(c), now = ev_now(loop);

    (void)revents;
    if (c->rq && c->rq->handoff_wait) {
        conn_handoff(c);
        return;
    }
    if (at > now + 0.001) {             /* activity since: sleep on */
        ev_timer_set(&c->timer, at - now, 0.);
        ev_timer_start(loop, &c->timer);
        c->timer_at = at;
        return;
    }
    if (c->rq == NULL) {                /* idle, nothing in flight */
        if (c->read_eof)
            conn_close(c);
        else
            conn_linger(c);             /* a FIN first: see below */
        return;
    }
    if ((c->state == CS_HEAD || c->state == CS_BODY) && c->rq->out.len == 0) {
        if (c->rq->body_paused)
            log_warn("%s %s: the body's reader stayed paused for pending_timeout (%gs): 504",
                     c->rq->req.method, c->rq->req.target, conn_pending_timeout(c));
        http_error(c, c->state == CS_BODY && c->rq->body_paused ? 504 : 408);
        conn_flush(c);
        return;
    }
    if (c->state == CS_PENDING && c->rq->resumed)
        return;                         /* answered: sent before the loop waits */
    if (c->rq->stream) {
        log_warn("%s %s: the client took nothing of the stream for body_timeout (%gs); "
                 "closing", c->rq->req.method, c->rq->req.target, c->w->cfg->body_timeout);
        stream_cancel(c, KILN_CANCEL_DEADLINE);
        conn_close(c);
        return;
    }
    if (c->state == CS_PENDING && c->rq->out.len == 0) {
        log_warn("%s %s: no answer within pending_timeout (%gs): 504", c->rq->req.method,
                 c->rq->req.target, conn_pending_timeout(c));
        pending_cancel(c, KILN_CANCEL_DEADLINE);
        conn_parsed(c, http_resume(c, 504));
        return;
    }
    if (c->state == CS_IDLE && c->rq->out.len == 0 && !c->read_eof) {
        /* Idle: a request may be on its way.  FIN first and read on, so
         * that it meets a clean end of stream, not a reset. */
        conn_linger(c);
        return;
    }
    conn_close(c);
}

/* ---- life --------------------------------------------------------------- */

/* The response-sent hook of a request whose response the close cut short
 * (or never came). */
static void conn_sent_cut(struct conn *c)
{
    unsigned long long bytes = 0, body = 0;

    if ((c->state != CS_BODY && c->state != CS_PENDING) || c->rq->req.method == NULL)
        return;
    if (c->rq->stream)
        stream_sent(c, &bytes, &body);
    mw_sent(c, bytes, body, 0);
}

/* Cancels what c's request still waits for, and releases its state. */
static void conn_close_req(struct conn *c)
{
    if (mw_sent_active)
        conn_sent_cut(c);
    if (c->rq->pending)
        pending_cancel(c, closing_all ? KILN_CANCEL_STOP : KILN_CANCEL_GONE);
    if (c->rq->stream)
        stream_cancel(c, closing_all ? KILN_CANCEL_STOP : KILN_CANCEL_GONE);
    ev_io_stop(c->w->loop, &c->rq->wio);
    if (c->rq->ws)                      /* accepted, never handed over */
        ws_discard(c->rq->ws);
    c->rq->ws = NULL;
    conn_req_drop(c);                   /* after the cancel: its state may use it */
}

static void conn_close(struct conn *c)
{
    struct worker *w = c->w;

    if (c->rq)
        conn_close_req(c);
    ev_io_stop(w->loop, &c->rio);
    ev_timer_stop(w->loop, &c->timer);
    if (c->fd >= 0)
        close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    free(c);
}

void conn_new(struct worker *w, int fd)
{
    struct conn *c = calloc(1, sizeof(*c));

    if (!c) {
        close(fd);
        return;
    }
    c->w = w;
    c->fd = fd;
    c->state = CS_IDLE;
    c->idle_since = ev_now(w->loop);
    ev_io_init(&c->rio, on_readable, fd, EV_READ);
    ev_init(&c->timer, on_timer);
    c->rio.data = c->timer.data = c;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    conn_reading(c, 1);
    conn_timer_update(c);
}

/*
 * Graceful stop.  Closing an idle keep-alive connection races with a request
 * the client may be sending at that moment (it would meet a reset).  So an
 * idle connection gets DRAIN_IDLE seconds from its last activity for one more
 * request, answered with "Connection: close"; then it is closed with a FIN
 * while kiln reads on (conn_linger), so a request in flight meets a clean end
 * of stream that clients retry on.  A request in progress finishes with
 * "Connection: close".
 */
void conn_drain_all(struct worker *w)
{
    struct conn *c;

    for (c = w->conns; c; c = c->next) {
        if (c->state == CS_LINGER)
            continue;
        if (c->state == CS_BODY || c->state == CS_PENDING)
            c->rq->req.keep_alive = 0;
        conn_timer_update(c);
    }
}

void conn_close_all(struct worker *w)
{
    closing_all = 1;
    while (w->conns)
        conn_close(w->conns);
    closing_all = 0;
    conn_req_cache_clear();
}
