/*
 * conn.c -- an HTTP/1.1 connection: reading, parsing with http-parser,
 * dispatching to a route, writing the responses in order, timeouts and limits.
 *
 * What happens to a byte that arrives: conn_read() appends it to c->in and
 * feeds http-parser; the callbacks record where the request line and header
 * fields lie in c->in (offsets, since a field may span several reads), and at
 * the end of the header block copy them into the connection's pool as a
 * struct kiln_req.  The body is collected in c->body.  When the message is
 * complete the route's handler runs and its response is appended to c->out;
 * pipelined requests in the same read are handled in turn, and c->out is
 * written once at the end of the read (one write(2) for the batch).
 *
 * Timeouts use one ev_timer per connection, re-armed lazily: a read only
 * stores the time, and the timer callback works out the deadline of the
 * current state (idle, header block, body, stalled write, lingering close).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <http_parser.h>

#include "config.h"
#include "conn.h"
#include "log.h"
#include "plugin.h"
#include "request.h"
#include "response.h"
#include "router.h"
#include "url.h"
#include "worker.h"
#include "ws.h"

#define READ_CHUNK 16384            /* bytes asked of one read(2) */
#define OUT_HIGH_WATER (1u << 20)   /* stop reading while this much is queued */
#define LINGER_TIME 2.0             /* s to wait for the peer's EOF */
#define LINGER_BYTES (1u << 20)     /* bytes to discard while lingering */
#define DRAIN_IDLE 1.0              /* s an idle connection may wait for one
                                       more request while the worker drains */
#define POOL_FIRST 4096
#define BIG_BUF 65536               /* a buffer larger is freed when idle */

enum conn_state {
    CS_IDLE,                        /* between requests */
    CS_HEAD,                        /* inside a header block */
    CS_BODY,                        /* inside a body */
    CS_LINGER                       /* response sent, waiting for EOF */
};

struct hdr_span {                   /* a header field, as offsets into c->in */
    size_t name_off, name_len;
    size_t val_off, val_len;
};

struct conn {
    struct worker *w;
    struct conn *prev, *next;
    int fd;
    enum conn_state state;
    ev_io rio, wio;
    ev_timer timer;
    double timer_at;                /* when the armed timer fires */
    double last_io;                 /* last read, or last write progress */
    double head_start;              /* first byte of the current header block */
    double idle_since;              /* end of the last response, or accept */
    double linger_start;

    http_parser parser;
    struct buf in;                  /* received, not yet dropped */
    size_t parsed;                  /* bytes of `in` fed to the parser */
    size_t msg_off;                 /* where the request line starts in `in` */
    size_t url_off, url_len;
    int have_url;
    struct hdr_span *hdrs;
    size_t nhdrs, cap_hdrs;
    int in_value;                   /* last header callback was a value */
    size_t head_bytes;              /* size of the header block so far */

    struct pool pool;
    struct buf body;                /* request body */
    struct buf rhdr, rbody;         /* response being built by a handler */
    struct buf out;                 /* bytes to write, in order */
    struct kiln_req req;
    enum router_result route_res;
    char allow[128];

    struct kiln_ws *ws;             /* an accepted upgrade, to hand the socket to */
    int err_status;                 /* an error of ours to answer, or 0 */
    unsigned requests;
    unsigned want_close : 1;        /* close once `out` is written */
    unsigned linger : 1;            /* ... and wait for the peer's EOF first */
    unsigned read_eof : 1;
    unsigned reading : 1;           /* rio is started */
    unsigned nodelay : 1;           /* TCP_NODELAY is set */
    unsigned upgraded : 1;          /* an upgrade request to a plain route
                                       ended: the parser must restart */
};

static void conn_close(struct conn *c);
static void conn_try_send(struct conn *c);
static void conn_timer_update(struct conn *c);

/* ---- the request being parsed ------------------------------------------- */

/* Forgets the finished request: its strings, headers, body and response. */
static void req_reset(struct conn *c)
{
    pool_reset(&c->pool);
    buf_reset(&c->body);
    buf_reset(&c->rhdr);
    buf_reset(&c->rbody);
    c->have_url = 0;
    c->url_len = 0;
    c->hdrs = NULL;
    c->nhdrs = 0;
    c->cap_hdrs = 0;
    c->in_value = 0;
    c->head_bytes = 0;
    memset(&c->req, 0, sizeof(c->req));
}

/* Stops the parser with an error status of ours; returns what the callback
 * must return. */
static int fail(struct conn *c, int status)
{
    if (!c->err_status)
        c->err_status = status;
    return -1;
}

/* Counts header-block bytes; 431 past max_header_size. */
static int head_grow(struct conn *c, size_t len)
{
    c->head_bytes += len;
    if (c->head_bytes > c->w->cfg->max_header_size)
        return fail(c, 431);
    return 0;
}

static int on_message_begin(http_parser *p)
{
    struct conn *c = p->data;

    c->state = CS_HEAD;
    c->head_start = ev_now(c->w->loop);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;

    if (!c->have_url) {
        c->have_url = 1;
        c->url_off = (size_t)(at - c->in.data);
        /* the method and one space precede the target */
        c->msg_off = c->url_off - strlen(http_method_str(p->method)) - 1;
    }
    c->url_len += len;
    if (c->url_len > c->w->cfg->max_uri_size)
        return fail(c, 414);
    return head_grow(c, len);
}

/* Makes room for one more header field; 431 past max_headers. */
static int hdr_push(struct conn *c, size_t off)
{
    struct hdr_span *h;

    if (c->nhdrs >= c->w->cfg->max_headers)
        return fail(c, 431);
    if (c->nhdrs == c->cap_hdrs) {
        /* The table lives in the request's pool: grown by copying, gone
         * with the request. */
        size_t cap = c->cap_hdrs ? c->cap_hdrs * 2 : 16;

        h = pool_alloc(&c->pool, cap * sizeof(*h));
        if (!h)
            return fail(c, 500);
        if (c->nhdrs)
            memcpy(h, c->hdrs, c->nhdrs * sizeof(*h));
        c->hdrs = h;
        c->cap_hdrs = cap;
    }
    h = &c->hdrs[c->nhdrs++];
    h->name_off = off;
    h->name_len = 0;
    h->val_off = off;
    h->val_len = 0;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;

    if ((c->nhdrs == 0 || c->in_value) &&
        hdr_push(c, (size_t)(at - c->in.data)) < 0)
        return -1;
    c->in_value = 0;
    c->hdrs[c->nhdrs - 1].name_len += len;
    return head_grow(c, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    struct hdr_span *h = &c->hdrs[c->nhdrs - 1];

    if (!c->in_value) {
        c->in_value = 1;
        h->val_off = (size_t)(at - c->in.data);
    } else if (at != c->in.data + h->val_off + h->val_len) {
        return fail(c, 400);            /* obs-fold: a line folded into a value */
    }
    h->val_len += len;
    return head_grow(c, len);
}

/* Copies the request line and header fields out of c->in into the pool. */
static int req_materialize(struct conn *c)
{
    struct kiln_req *r = &c->req;
    const char *in = c->in.data;
    size_t i;

    r->conn = c;
    r->pool = &c->pool;
    r->resp_headers = &c->rhdr;
    r->resp_body = &c->rbody;
    r->nparams = -1;
    r->method = http_method_str(c->parser.method);
    r->http_major = c->parser.http_major;
    r->http_minor = c->parser.http_minor;
    r->target = pool_strndup(&c->pool, in + c->url_off, c->url_len);
    r->headers = pool_alloc(&c->pool, (c->nhdrs + 1) * sizeof(*r->headers));
    if (!r->target || !r->headers)
        return -1;
    for (i = 0; i < c->nhdrs; i++) {
        const struct hdr_span *h = &c->hdrs[i];
        size_t vl = h->val_len;

        while (vl > 0 && (in[h->val_off + vl - 1] == ' ' ||
                          in[h->val_off + vl - 1] == '\t'))
            vl--;
        r->headers[i].name = pool_strndup(&c->pool, in + h->name_off, h->name_len);
        r->headers[i].value = pool_strndup(&c->pool, in + h->val_off, vl);
        if (!r->headers[i].name || !r->headers[i].value)
            return -1;
    }
    r->nheaders = c->nhdrs;
    return 0;
}

/*
 * Splits the target into path and query and the path into decoded segments.
 * Accepts origin-form ("/a?b") and absolute-form ("http://h/a").  400 else.
 */
static int req_split_target(struct conn *c)
{
    struct kiln_req *r = &c->req;
    const char *path = r->target, *q;
    size_t plen;

    if (strncasecmp(path, "http://", 7) == 0 || strncasecmp(path, "https://", 8) == 0) {
        /* absolute-form: the authority ends at the first '/', '?' or '#' */
        const char *auth = strstr(path, "//") + 2;

        path = auth + strcspn(auth, "/?#");
        if (*path == '#')
            path = "";
        if (*path != '/') {
            /* no path: "/" with whatever query followed */
            char *p = pool_alloc(&c->pool, strlen(path) + 2);

            if (!p)
                return -1;
            p[0] = '/';
            strcpy(p + 1, path);
            path = p;
        }
    }
    if (path[0] != '/')
        return -1;
    q = strchr(path, '?');
    plen = q ? (size_t)(q - path) : strlen(path);
    r->query = q ? q + 1 : "";
    r->segs = pool_alloc(&c->pool, URL_MAX_SEGMENTS * sizeof(char *));
    if (!r->segs)
        return -1;
    r->nsegs = url_split_path(&c->pool, path, plen, r->segs, &r->path);
    return r->nsegs < 0 ? -1 : 0;
}

/* Answers "Expect: 100-continue" once we know the body will be read. */
static int req_expect(struct conn *c)
{
    const char *e = kiln_header(&c->req, "expect");

    if (!e || c->req.http_minor == 0)
        return 0;
    if (strcasecmp(e, "100-continue") != 0)
        return fail(c, 417);
    if (c->route_res == ROUTER_NOT_FOUND)
        return fail(c, 404);
    if (c->route_res == ROUTER_METHOD_NOT_ALLOWED)
        return fail(c, 405);
    if (buf_append_str(&c->out, "HTTP/1.1 100 Continue\r\n\r\n") < 0)
        return fail(c, 500);
    conn_try_send(c);
    return 0;
}

/* Only "chunked" is a transfer coding we implement; anything else is 501. */
static int req_check_te(struct conn *c)
{
    const char *te = kiln_header(&c->req, "transfer-encoding");

    if (te && strcasecmp(te, "chunked") != 0)
        return fail(c, 501);
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct conn *c = p->data;
    const struct config *cfg = c->w->cfg;

    c->req.is_head = p->method == HTTP_HEAD;
    if (req_materialize(c) < 0)
        return fail(c, 500);
    if (req_check_te(c) < 0)
        return -1;
    if (req_split_target(c) < 0)
        return fail(c, 400);
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > cfg->max_body_size)
        return fail(c, 413);
    c->req.keep_alive = http_should_keep_alive(p) && !c->w->draining &&
                        c->requests + 1 < cfg->keepalive_requests;
    c->route_res = router_match(c->w->router, c->req.method, c->req.segs,
                                c->req.nsegs, &c->req.match, c->allow,
                                sizeof(c->allow));
    if (c->route_res == ROUTER_FOUND && c->req.match.route->ws &&
        ((p->flags & F_CHUNKED) || ((p->flags & F_CONTENTLENGTH) && p->content_length > 0)))
        return fail(c, 400);            /* an upgrade carries no body */
    if (req_expect(c) < 0)
        return -1;
    c->state = CS_BODY;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;

    if (c->body.len + len > c->w->cfg->max_body_size)
        return fail(c, 413);
    if (buf_append(&c->body, at, len) < 0)
        return fail(c, 500);
    return 0;
}

/* ---- dispatch ------------------------------------------------------------- */

/* Runs the matched handler; its response (or a 500) goes to c->out. */
static int run_handler(struct conn *c)
{
    const struct route *rt = c->req.match.route;
    int rc;

    plugin_enter(c->w->slot, rt, rt->method);
    rc = rt->handler(&c->req, rt->data);
    plugin_leave(c->w->slot, 1);
    if (rc != KILN_OK) {
        log_error("%s %s: handler of \"%s %s\" returned %d", c->req.method,
                  c->req.target, rt->method, rt->pattern, rc);
        return response_error(&c->out, 500, c->req.keep_alive, c->req.is_head, NULL);
    }
    return response_serialize(&c->req, &c->out);
}

/* Answers the complete request in c->req. */
static int dispatch(struct conn *c)
{
    char extra[sizeof(c->allow) + 16];
    struct kiln_req *r = &c->req;

    response_update_date(ev_now(c->w->loop));
    r->body = c->body.len ? c->body.data : "";
    r->body_len = c->body.len;
    switch (c->route_res) {
    case ROUTER_FOUND:
        return run_handler(c);
    case ROUTER_METHOD_NOT_ALLOWED:
        snprintf(extra, sizeof(extra), "Allow: %s\r\n", c->allow);
        return response_error(&c->out, 405, r->keep_alive, r->is_head, extra);
    default:
        return response_error(&c->out, 404, r->keep_alive, r->is_head, NULL);
    }
}

/* Ends a request that was answered: ready for the next one, or closing. */
static void req_done(struct conn *c)
{
    int keep = c->req.keep_alive;

    c->requests++;
    c->upgraded = c->parser.upgrade;
    req_reset(c);
    c->state = CS_IDLE;
    c->idle_since = ev_now(c->w->loop);
    if (keep && !c->nodelay) {
        /* A kept connection will see small responses back to back: no
         * Nagle delay for them (a closing one never needs the syscall). */
        int one = 1;

        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->nodelay = 1;
    }
    if (!keep) {
        /* The answer said "close": read nothing more of this connection.
         * When the client did not ask for that, it may be sending more:
         * close with a lingering read (see conn_linger). */
        c->want_close = 1;
        c->linger = http_should_keep_alive(&c->parser) != 0;
        http_parser_pause(&c->parser, 1);
    }
}

/*
 * A complete request for a WebSocket route: a valid upgrade pauses the
 * parser for the hand-off (conn_parse does it); anything else is answered
 * here (426 without an upgrade, 400 for a bad one, the open callback's
 * refusal, 503 while draining).
 */
static int ws_request(struct conn *c, const struct route *rt)
{
    char extra[256] = "";
    int upgrade = c->parser.upgrade, status;

    status = ws_check_upgrade(c->w, rt, &c->req, upgrade, &c->ws, extra, sizeof(extra));
    if (status == 0) {
        http_parser_pause(&c->parser, 1);
        return 0;
    }
    if (upgrade)
        c->req.keep_alive = 0;      /* what follows is not HTTP */
    response_update_date(ev_now(c->w->loop));
    if (response_error(&c->out, status, c->req.keep_alive, c->req.is_head,
                       extra[0] ? extra : NULL) < 0)
        return fail(c, 500);
    req_done(c);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct conn *c = p->data;

    if (c->route_res == ROUTER_FOUND && c->req.match.route->ws)
        return ws_request(c, c->req.match.route);
    if (dispatch(c) < 0)
        return fail(c, 500);
    req_done(c);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* The status for a parser error that none of our callbacks chose. */
static int parse_error_status(enum http_errno e)
{
    switch (e) {
    case HPE_HEADER_OVERFLOW:
        return 431;
    case HPE_INVALID_TRANSFER_ENCODING:
        return 501;
    default:
        return 400;
    }
}

/* Queues an error response of ours and closes after it (lingering). */
static void conn_error(struct conn *c, int status)
{
    int is_head = (c->state == CS_HEAD || c->state == CS_BODY) &&
                  c->have_url && c->parser.method == HTTP_HEAD;

    if (c->w->cfg->log_level >= LOG_DEBUG)
        log_debug("connection %d: answering %d (%s)", c->fd, status,
                  http_errno_name(HTTP_PARSER_ERRNO(&c->parser)));
    response_update_date(ev_now(c->w->loop));
    req_reset(c);
    c->want_close = 1;
    c->linger = response_error(&c->out, status, 0, is_head, NULL) == 0;
}

/*
 * Gives the socket to libwebsockets with the upgrade request's bytes (and
 * whatever followed them), after what was queued for earlier requests.  The
 * connection is freed; the fd now belongs to the WebSocket layer.
 */
static void conn_handoff(struct conn *c)
{
    struct worker *w = c->w;
    struct kiln_ws *ws;
    int fd = c->fd;

    if (c->out.len > 0)
        conn_try_send(c);
    if (c->out.len > 0) {               /* cannot block here: give up */
        log_debug("connection %d: output pending at upgrade; closing", fd);
        conn_close(c);
        return;
    }
    if (c->msg_off > c->in.len) {       /* cannot happen; never hand off junk */
        log_error("connection %d: upgrade request not in the buffer", fd);
        conn_close(c);
        return;
    }
    ev_io_stop(w->loop, &c->rio);
    ev_io_stop(w->loop, &c->wio);
    c->reading = 0;
    c->fd = -1;
    ws = c->ws;
    c->ws = NULL;
    ws_adopt(w, fd, ws, &c->req, c->in.data + c->msg_off, c->in.len - c->msg_off);
    conn_close(c);
}

/*
 * Feeds the unparsed part of c->in to the parser, then drops what is no
 * longer needed (everything parsed, except the header block in progress).
 * Returns -1 when the connection must stop reading (error, close), 1 when
 * it was handed to the WebSocket layer (c is gone), 0 otherwise.
 */
static int conn_parse(struct conn *c)
{
    size_t n, avail = c->in.len - c->parsed, keep;
    enum http_errno e;

    n = http_parser_execute(&c->parser, &parser_settings, c->in.data + c->parsed,
                            avail);
    c->parsed += n;
    e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED && c->ws) {
        conn_handoff(c);
        return 1;
    }
    if (e == HPE_PAUSED)
        return -1;
    if (e != HPE_OK || c->err_status) {
        conn_error(c, c->err_status ? c->err_status : parse_error_status(e));
        return -1;
    }
    if (c->upgraded) {
        /* An upgrade to a protocol we do not speak here: the request was
         * answered as plain HTTP; what follows it is parsed as HTTP. */
        c->upgraded = 0;
        http_parser_init(&c->parser, HTTP_REQUEST);
        c->parser.data = c;
        if (c->parsed < c->in.len)
            return conn_parse(c);
    }
    /* Keep the header block in progress from its first byte (all of it
     * while the request line is still incomplete). */
    if (c->state == CS_HEAD)
        keep = c->have_url ? c->msg_off : 0;
    else
        keep = c->parsed;
    buf_consume(&c->in, keep);
    c->parsed -= keep;
    if (c->state == CS_HEAD && c->have_url) {
        size_t i;

        c->msg_off -= keep;
        c->url_off -= keep;
        for (i = 0; i < c->nhdrs; i++) {
            c->hdrs[i].name_off -= keep;
            c->hdrs[i].val_off -= keep;
        }
    }
    return 0;
}

/* ---- I/O ---------------------------------------------------------------- */

static void conn_reading(struct conn *c, int on)
{
    if (on && !c->reading)
        ev_io_start(c->w->loop, &c->rio);
    else if (!on && c->reading)
        ev_io_stop(c->w->loop, &c->rio);
    c->reading = on;
}

/* Starts a lingering close: no more writing, read until EOF or timeout. */
static void conn_linger(struct conn *c)
{
    shutdown(c->fd, SHUT_WR);
    c->state = CS_LINGER;
    c->linger_start = ev_now(c->w->loop);
    c->in.len = 0;
    c->parsed = 0;
    conn_reading(c, 1);
    conn_timer_update(c);
}

/* Called when c->out has been written completely. */
static void conn_drained(struct conn *c)
{
    ev_io_stop(c->w->loop, &c->wio);
    if (c->out.cap > BIG_BUF)
        buf_free(&c->out);      /* a big response does not stay pinned */
    if (c->want_close) {
        if ((c->linger || c->in.len > c->parsed) && !c->read_eof)
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
}

/* Sends what the socket takes now, without waiting or closing (safe inside
 * parser callbacks); conn_flush() finishes the job later. */
static void conn_try_send(struct conn *c)
{
    ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);

    if (n > 0)
        buf_consume(&c->out, (size_t)n);
}

/* Writes as much of c->out as the socket takes; waits for POLLOUT if not all. */
static void conn_flush(struct conn *c)
{
    ssize_t n;

    while (c->out.len > 0) {
        n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
        if (n > 0) {
            buf_consume(&c->out, (size_t)n);
            c->last_io = ev_now(c->w->loop);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ev_io_start(c->w->loop, &c->wio);
            if (c->out.len > OUT_HIGH_WATER)
                conn_reading(c, 0);
            conn_timer_update(c);
            return;
        }
        conn_close(c);                  /* EPIPE, ECONNRESET: peer is gone */
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
        c->in.len += (size_t)n;         /* counts the bytes discarded */
        if (c->in.len < LINGER_BYTES)
            return;
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    conn_close(c);
}

/* Gives the read buffer back (to the block cache when it kept its size). */
static void conn_in_free(struct conn *c)
{
    if (c->in.cap == READ_CHUNK)
        block_put(c->in.data, READ_CHUNK);
    else
        free(c->in.data);
    buf_init(&c->in);
    c->parsed = 0;
}

/* A read buffer with room for a read: a cached block when there is none,
 * a bigger one only while a large header block is being collected. */
static int conn_in_acquire(struct conn *c)
{
    if (c->in.data == NULL) {
        c->in.data = block_get(READ_CHUNK);
        if (c->in.data == NULL)
            return -1;
        c->in.cap = READ_CHUNK;
    }
    if (c->in.cap - c->in.len < READ_CHUNK / 4)
        return buf_reserve(&c->in, READ_CHUNK);
    return 0;
}

/*
 * Between requests a connection needs no buffer: an idle keep-alive
 * connection costs its struct alone, and the buffers serve busy ones.
 */
static void conn_release_idle(struct conn *c)
{
    conn_in_free(c);
    pool_release(&c->pool);
    /* Small buffers are kept for the next request; one big body or
     * response does not stay pinned to an idle connection. */
    if (c->body.cap > BIG_BUF)
        buf_free(&c->body);
    if (c->rbody.cap > BIG_BUF)
        buf_free(&c->rbody);
}

/* Reads what arrived and handles it; returns after one read(2). */
static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    struct conn *c = w->data;
    ssize_t n;

    (void)revents;
    if (c->state == CS_LINGER) {
        linger_read(c);
        return;
    }
    if (conn_in_acquire(c) < 0) {
        conn_close(c);
        return;
    }
    n = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            conn_close(c);
        return;
    }
    if (n == 0) {
        c->read_eof = 1;
        conn_reading(c, 0);
        if (c->out.len == 0 || c->state != CS_IDLE)
            conn_close(c);
        return;
    }
    c->in.len += (size_t)n;
    c->last_io = ev_now(loop);
    if (conn_parse(c) > 0)
        return;
    if (c->state == CS_IDLE && c->in.len == 0)
        conn_release_idle(c);
    if (c->want_close)
        conn_reading(c, 0);     /* nothing more is parsed: do not buffer it */
    if (c->out.len > 0 || c->want_close)
        conn_flush(c);      /* may close c */
    else if (c->state == CS_HEAD || c->state == CS_BODY)
        conn_timer_update(c);
}

/* ---- timers ------------------------------------------------------------- */

/* The deadline of the connection's current state. */
static double conn_deadline(const struct conn *c)
{
    const struct config *cfg = c->w->cfg;

    if (c->state == CS_LINGER)
        return c->linger_start + LINGER_TIME;
    if (c->out.len > 0)
        return c->last_io + cfg->body_timeout;      /* stalled write */
    switch (c->state) {
    case CS_HEAD:
        return c->head_start + cfg->header_timeout;
    case CS_BODY:
        return c->last_io + cfg->body_timeout;
    default:
        /* From the end of the last response: bytes that start no request
         * (bare CRLFs) do not keep a connection open. */
        if (c->w->draining)
            return c->idle_since + (cfg->keepalive_timeout < DRAIN_IDLE
                                        ? cfg->keepalive_timeout : DRAIN_IDLE);
        return c->idle_since + (c->requests ? cfg->keepalive_timeout
                                            : cfg->header_timeout);
    }
}

/* Re-arms the timer when the deadline moved earlier than the armed one. */
static void conn_timer_update(struct conn *c)
{
    double at = conn_deadline(c);

    if (ev_is_active(&c->timer) && at >= c->timer_at)
        return;
    ev_timer_stop(c->w->loop, &c->timer);
    ev_timer_set(&c->timer, at - ev_now(c->w->loop), 0.);
    ev_timer_start(c->w->loop, &c->timer);
    c->timer_at = at;
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct conn *c = w->data;
    double at = conn_deadline(c), now = ev_now(loop);

    (void)revents;
    if (at > now + 0.001) {             /* activity since: sleep on */
        ev_timer_set(&c->timer, at - now, 0.);
        ev_timer_start(loop, &c->timer);
        c->timer_at = at;
        return;
    }
    if ((c->state == CS_HEAD || c->state == CS_BODY) && c->out.len == 0) {
        conn_error(c, 408);
        conn_flush(c);
        return;
    }
    if (c->state == CS_IDLE && c->out.len == 0 && !c->read_eof) {
        /* Idle: a request may be on its way.  FIN first and read on, so
         * that it meets a clean end of stream, not a reset. */
        conn_linger(c);
        return;
    }
    conn_close(c);
}

/* ---- life --------------------------------------------------------------- */

static void conn_close(struct conn *c)
{
    struct worker *w = c->w;

    ev_io_stop(w->loop, &c->rio);
    ev_io_stop(w->loop, &c->wio);
    ev_timer_stop(w->loop, &c->timer);
    if (c->fd >= 0)
        close(c->fd);
    if (c->ws)                          /* accepted, never handed over */
        ws_discard(c->ws);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    pool_free(&c->pool);
    conn_in_free(c);
    buf_free(&c->out);
    buf_free(&c->body);
    buf_free(&c->rhdr);
    buf_free(&c->rbody);
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
    c->last_io = c->idle_since = ev_now(w->loop);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    pool_init(&c->pool, POOL_FIRST);
    buf_init(&c->in);
    buf_init(&c->out);
    buf_init(&c->body);
    buf_init(&c->rhdr);
    buf_init(&c->rbody);
    ev_io_init(&c->rio, on_readable, fd, EV_READ);
    ev_io_init(&c->wio, on_writable, fd, EV_WRITE);
    ev_init(&c->timer, on_timer);
    c->rio.data = c->wio.data = c->timer.data = c;
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
        if (c->state == CS_BODY)
            c->req.keep_alive = 0;
        conn_timer_update(c);
    }
}

void conn_close_all(struct worker *w)
{
    while (w->conns)
        conn_close(w->conns);
}
