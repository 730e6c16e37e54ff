/*
 * stream.c -- streamed responses (kiln_stream*): a body written piece by
 * piece after its head, with back-pressure, ids that outlive the stream,
 * and its cancellation.
 *
 * A stream is a connection in CS_PENDING whose c->rq->stream is set: the parser
 * stays paused, so pipelined requests wait their turn.  Writes only append
 * to c->rq->out (framed as chunks for a chunked body) and start the
 * connection's write watcher: bytes go out from the loop (conn.c's
 * on_writable), never from inside a plugin's call.  conn.c reports write
 * progress (stream_progress(), which runs the ready callback) and, once an
 * ended stream's bytes are all written, completes the request
 * (stream_finish(), then http_finish()).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "compress.h"
#include "conn_private.h"
#include "handles.h"
#include "log.h"
#include "middleware.h"
#include "pending.h"
#include "plugin.h"
#include "pubsub.h"
#include "response.h"
#include "stream.h"
#include "worker.h"

struct stream {
    struct conn *c;
    kiln_id id;
    struct kiln_stream_ops ops;
    void *arg;
    long long length;               /* Content-Length, or -1 */
    long long sent;                 /* body bytes written by the plugin */
    unsigned long long wire, head;  /* bytes queued or sent, and of the head */
    unsigned chunked : 1;           /* Transfer-Encoding: chunked */
    unsigned discard : 1;           /* HEAD: nothing of the body is sent */
    unsigned ended : 1;             /* kiln_stream_end() (or a write too long) */
    unsigned want_ready : 1;        /* a write returned 0 */
    unsigned sse : 1;               /* kiln_sse()'s (publish/subscribe) */
    ev_timer beat;                  /* kiln_stream_heartbeat()'s */
    double beat_every;
    double last_write;
    const char *beat_text;
    size_t beat_len;
    int file_fd;                    /* stream_file()'s body, or -1 */
    long long file_off, file_left;
    struct compress_stream *gz;     /* kiln_compress(): the body's deflate
                                       state (compress.c), or NULL */
};

/* The most of a file one turn of the loop sends before other connections
 * have theirs (the socket may well take it all on loopback). */
#define FILE_TURN (512 * 1024)

static struct worker *self;
static struct handles ids;          /* id -> struct stream */

static const char *stream_plugin(const struct stream *s)
{
    const struct route *rt = s->c->rq->req.match.route;

    return rt && rt->plugin ? plugin_name(rt->plugin) : "-";
}

/* The ops members of the plugin's ABI minor (all of them, since 1.4). */
static size_t ops_size(void)
{
    return sizeof(struct kiln_stream_ops);
}

/* Has the loop write what was queued; a write that starts now is timed
 * from now (body_timeout), not from the stream's last progress. */
static void stream_kick(struct conn *c)
{
    if (ev_is_active(&c->rq->wio))
        return;
    c->rq->last_io = ev_now(self->loop);
    ev_io_start(self->loop, &c->rq->wio);
}

static void stream_free(struct stream *s)
{
    if (s->sse)
        pubsub_gone(PUBSUB_SSE, s->id);
    handle_free(&ids, s->id);
    ev_timer_stop(self->loop, &s->beat);
    if (s->file_fd >= 0)
        close(s->file_fd);
    compress_stream_free(s->gz);
    s->c->rq->stream = NULL;
    free(s);
}

/* ---- what conn.c calls ------------------------------------------------------ */

void stream_progress(struct conn *c)
{
    struct stream *s = c->rq->stream;
    const struct route *rt = c->rq->req.match.route;

    if (!s || s->ended || !s->want_ready || c->rq->out.len >= KILN_STREAM_LOW_WATER)
        return;
    s->want_ready = 0;
    if (!s->ops.ready || !rt)
        return;
    plugin_enter(self->slot, rt, c->rq->req.method);
    s->ops.ready(s->id, s->arg);
    plugin_leave(self->slot, 0);
}

int stream_ended(const struct conn *c)
{
    return c->rq->stream && c->rq->stream->ended;
}

int stream_finish(struct conn *c)
{
    struct stream *s = c->rq->stream;
    int keep = 1;

    if (s->length >= 0 && s->sent != s->length && !s->discard) {
        log_warn("%s: %s %s: stream ended after %lld of its %lld bytes; closing the "
                 "connection", stream_plugin(s), c->rq->req.method, c->rq->req.target, s->sent,
                 s->length);
        keep = 0;
    }
    if (mw_sent_active)
        mw_sent(c, s->wire, s->wire - s->head, 1);
    stream_free(s);
    return keep;
}

void stream_sent(const struct conn *c, unsigned long long *bytes, unsigned long long *body)
{
    *bytes = c->rq->stream->wire;
    *body = c->rq->stream->wire - c->rq->stream->head;
}

void stream_cancel(struct conn *c, enum kiln_cancel why)
{
    struct stream *s = c->rq->stream;
    const struct route *rt = c->rq->req.match.route;
    struct kiln_stream_ops ops = s->ops;
    kiln_id id = s->id;
    void *arg = s->arg;
    int ended = s->ended;

    stream_free(s);                 /* dead from the callback's first line */
    log_debug("%s %s: stream cancelled (%s)", c->rq->req.method, c->rq->req.target,
              why == KILN_CANCEL_GONE ? "client gone" :
              why == KILN_CANCEL_DEADLINE ? "client stalled" : "worker stopping");
    if (ended || !ops.cancel || !rt)
        return;
    plugin_enter(self->slot, rt, c->rq->req.method);
    ops.cancel(id, why, arg);
    plugin_leave(self->slot, 0);
}

/* ---- writing ---------------------------------------------------------------- */

/* Appends bytes of the body as they go out, framed as a chunk when the
 * body is chunked (never an empty one: it would end the body).  0, or -1
 * out of memory. */
static int stream_frame(struct stream *s, const void *data, size_t len)
{
    struct buf *out = &s->c->rq->out;
    char size[24];
    int n;

    if (!s->chunked || len == 0) {
        s->wire += len;
        return buf_append(out, data, len);
    }
    n = snprintf(size, sizeof(size), "%zx\r\n", len);
    if (buf_reserve(out, (size_t)n + len + 2) != 0)
        return -1;
    s->wire += (size_t)n + len + 2;
    buf_append(out, size, (size_t)n);
    buf_append(out, data, len);
    buf_append(out, "\r\n", 2);
    return 0;
}

/* Appends the plugin's bytes (gzipped first for a compressed stream, and
 * its last bytes with `finish`); 0, or -1 out of memory. */
static int stream_append(struct stream *s, const void *data, size_t len, int finish)
{
    const struct buf *z;
    int rc;

    if (s->gz == NULL)
        return stream_frame(s, data, len);
    z = compress_stream_write(s->gz, data, len, finish);
    rc = z ? stream_frame(s, z->data, z->len) : -1;
    compress_done();
    return rc;
}

/* The stream of a live id that takes writes, or NULL. */
static struct stream *stream_open(kiln_id id)
{
    struct stream *s = handle_get(&ids, id);

    return s && !s->ended ? s : NULL;
}

/* 1 under the high-water mark, else 0 (and the ready callback is due). */
static int stream_room(struct stream *s)
{
    if (s->c->rq->out.len < KILN_STREAM_HIGH_WATER)
        return 1;
    s->want_ready = 1;
    return 0;
}

/* kiln_stream_write() of a live stream; the SSE calls use it too. */
static int stream_write(struct stream *s, const void *data, size_t len)
{
    if (s->length >= 0 && (long long)len > s->length - s->sent) {
        log_warn("%s: %s %s: a write of %zu bytes passes the stream's length "
                 "(%lld of %lld written): ending it", stream_plugin(s),
                 s->c->rq->req.method, s->c->rq->req.target, len, s->sent, s->length);
        s->ended = 1;
        stream_kick(s->c);
        return -1;
    }
    s->last_write = ev_now(self->loop);
    if (len == 0 || s->discard) {
        s->sent += (long long)len;
        return stream_room(s);
    }
    if (stream_append(s, data, len, 0) < 0)
        return -1;
    s->sent += (long long)len;
    stream_kick(s->c);
    return stream_room(s);
}

/* ---- the plugin API --------------------------------------------------------- */

/* Whether req may start a stream now: its handler runs, or it is pending. */
static int stream_allowed(const struct conn *c)
{
    if (c->rq->stream || c->rq->resumed || c->rq->ws || c->state == CS_LINGER || c->rq->req.mw.in_before)
        return 0;
    return c->rq->in_handler || (c->state == CS_PENDING && c->rq->pending);
}

static struct stream *stream_new(struct conn *c, long long length,
                                 const struct kiln_stream_ops *ops, void *arg)
{
    struct stream *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->id = handle_new(&ids, s);
    if (s->id == 0) {
        free(s);
        return NULL;
    }
    s->c = c;
    if (ops)
        memcpy(&s->ops, ops, ops_size());
    s->arg = arg;
    s->length = length;
    s->chunked = length < 0 && c->rq->req.http_major == 1 && c->rq->req.http_minor >= 1;
    s->discard = c->rq->req.is_head != 0;
    s->last_write = ev_now(self->loop);
    s->file_fd = -1;
    ev_init(&s->beat, NULL);
    return s;
}

/* Whether the stream s of req is gzipped (kiln_compress(), compress.c):
 * then its wire length is unknown, and a body is chunked.  0, or -1. */
static int stream_gzip(struct stream *s, kiln_req *req, int status, long long *wire)
{
    int rc = compress_stream_start(req, status, &s->gz);

    if (rc == 1) {
        *wire = -1;
        s->chunked = req->http_major == 1 && req->http_minor >= 1;
    }
    return rc < 0 ? -1 : 0;
}

/* The stream of kiln_stream() and stream_file() (`file`: never gzipped):
 * its head queued. */
static struct stream *stream_start(kiln_req *req, int status, long long length,
                                   const struct kiln_stream_ops *ops, void *arg, int file)
{
    struct conn *c = req->conn;
    struct stream *s = stream_new(c, length, ops, arg);
    long long wire = length;

    if (!s)
        return NULL;
    if (!file && stream_gzip(s, req, status, &wire) < 0)
        goto fail;
    if (wire < 0 && !s->chunked)
        req->keep_alive = 0;        /* HTTP/1.0: the close ends the body */
    s->head = c->rq->out.len;
    if (mw_active) {                /* the afters see the head before it goes */
        req->mw.stream = 1;
        req->status = status;
        if (mw_afters(c, 0, NULL) < 0)
            goto fail;
        status = req->status;
    }
    if (response_stream_head(req, &c->rq->out, status, wire, s->chunked) < 0)
        goto fail;
    s->head = c->rq->out.len - s->head;
    s->wire = s->head;
    buf_reset(req->resp_body);
    if (c->rq->pending) {               /* the stream's ops replace its cancel */
        pending_forget(c->rq->pending);
        c->rq->pending = 0;
        c->rq->cancel = NULL;
    }
    c->rq->stream = s;
    stream_kick(c);
    return s;
fail:
    compress_stream_free(s->gz);
    handle_free(&ids, s->id);
    free(s);
    return NULL;
}

KILN_EXPORT kiln_id kiln_stream(kiln_req *req, int status, long long length,
                                const struct kiln_stream_ops *ops, void *arg)
{
    struct conn *c = req ? req->conn : NULL;
    struct stream *s;

    if (!c || !self || !stream_allowed(c)) {
        kiln_log(KILN_LOG_WARN, "kiln_stream: the request is not in its handler nor pending");
        return 0;
    }
    if (status < 200 || status > 599 || status == 204 || status == 304 || length < -1) {
        kiln_log(KILN_LOG_WARN, "kiln_stream(%d, %lld): bad status or length", status, length);
        return 0;
    }
    s = stream_start(req, status, length, ops, arg, 0);
    return s ? s->id : 0;
}

KILN_EXPORT int kiln_stream_write(kiln_id id, const void *data, size_t len)
{
    struct stream *s = stream_open(id);

    if (!s || (len > 0 && !data))
        return -1;
    return stream_write(s, data, len);
}

KILN_EXPORT int kiln_stream_end(kiln_id id)
{
    struct stream *s = stream_open(id);

    if (!s)
        return -1;
    if (s->gz && !s->discard && stream_append(s, NULL, 0, 1) < 0)
        return -1;
    if (s->chunked && !s->discard && buf_append(&s->c->rq->out, "0\r\n\r\n", 5) < 0)
        return -1;
    if (s->chunked && !s->discard)
        s->wire += 5;
    s->ended = 1;
    handle_free(&ids, s->id);       /* dead from here on */
    stream_kick(s->c);
    return 0;
}

KILN_EXPORT size_t kiln_stream_unsent(kiln_id id)
{
    struct stream *s = handle_get(&ids, id);

    return s ? s->c->rq->out.len : 0;
}

/* ---- a file's body (file_response.c) ------------------------------------- */

int stream_file(kiln_req *req, int status, int fd, long long off, long long len)
{
    struct stream *s = NULL;

    if (req->conn && self && req->conn->rq->in_handler && stream_allowed(req->conn))
        s = stream_start(req, status, len, NULL, NULL, 1);
    if (!s) {
        close(fd);
        return -1;
    }
    if (s->discard || len == 0) {   /* HEAD, or nothing to send */
        close(fd);
        s->ended = 1;
        handle_free(&ids, s->id);
        return 0;
    }
    s->file_fd = fd;
    s->file_off = off;
    s->file_left = len;
    return 0;
}

int stream_file_bytes(kiln_req *req, int status, const void *data, long long len)
{
    struct stream *s = NULL;

    if (req->conn && self && req->conn->rq->in_handler && stream_allowed(req->conn))
        s = stream_start(req, status, len, NULL, NULL, 1);
    if (!s)
        return -1;
    if (!s->discard && len > 0 && stream_frame(s, data, (size_t)len) == 0)
        s->sent = len;              /* out of memory: short, the connection closes */
    s->ended = 1;
    handle_free(&ids, s->id);
    stream_kick(req->conn);
    return 0;
}

int stream_file_left(const struct conn *c)
{
    return c->rq->stream && c->rq->stream->file_fd >= 0;
}

/* The file is all sent: the stream ends, its fd closed. */
static void file_done(struct stream *s)
{
    close(s->file_fd);
    s->file_fd = -1;
    s->ended = 1;
    handle_free(&ids, s->id);
}

int stream_send_file(struct conn *c)
{
    struct stream *s = c->rq->stream;
    size_t turn = 0;

    if (!s || s->file_fd < 0)
        return 0;
    while (s->file_left > 0 && turn < FILE_TURN) {
        off_t off = (off_t)s->file_off;
        size_t want = s->file_left < FILE_TURN ? (size_t)s->file_left : FILE_TURN;
        ssize_t n = sendfile(c->fd, s->file_fd, &off, want);

        if (n > 0) {
            s->file_off += n;
            s->file_left -= n;
            s->sent += n;
            s->wire += (unsigned long long)n;
            turn += (size_t)n;
            c->rq->last_io = ev_now(self->loop);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        if (n == 0)
            log_warn("%s %s: the file shrank while it was sent (%lld bytes short); "
                     "closing", c->rq->req.method, c->rq->req.target, s->file_left);
        return -1;
    }
    if (s->file_left > 0)
        return 1;                   /* other connections' turn first */
    file_done(s);
    return 0;
}

/* ---- for sse.c -------------------------------------------------------------- */

int stream_write_id(kiln_id id, const void *data, size_t len)
{
    struct stream *s = stream_open(id);

    return s ? stream_write(s, data, len) : -1;
}

static void on_beat(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct stream *s = t->data;
    double idle = ev_now(loop) - s->last_write;

    (void)revents;
    if (s->ended)
        return;
    if (idle >= s->beat_every - 0.001)
        stream_write(s, s->beat_text, s->beat_len);
    idle = ev_now(loop) - s->last_write;
    ev_timer_set(t, s->beat_every - idle > 0.001 ? s->beat_every - idle : s->beat_every, 0.);
    ev_timer_start(loop, t);
}

int stream_heartbeat(kiln_id id, double seconds, const char *text)
{
    struct stream *s = stream_open(id);

    if (!s || !(seconds >= 0) || seconds > 86400. * 365)
        return -1;
    ev_timer_stop(self->loop, &s->beat);
    if (seconds == 0)
        return 0;
    s->beat_every = seconds;
    s->beat_text = text;
    s->beat_len = strlen(text);
    ev_timer_init(&s->beat, on_beat, seconds, 0.);
    s->beat.data = s;
    ev_timer_start(self->loop, &s->beat);
    return 0;
}

/* ---- start and stop --------------------------------------------------------- */

void stream_init(struct worker *w)
{
    self = w;
}

void stream_shutdown(void)
{
    handles_clear(&ids);
}

int stream_mark_sse(kiln_id id)
{
    struct stream *s = handle_get(&ids, id);

    if (s == NULL)
        return -1;
    s->sse = 1;
    return 0;
}

int stream_is_sse(kiln_id id)
{
    struct stream *s = handle_get(&ids, id);

    return s != NULL && s->sse && !s->ended;
}
