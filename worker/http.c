/*
 * http.c -- HTTP/1.1 on a connection: feeding http-parser (the one file that
 * includes http_parser.h), building the struct kiln_req, the limits, and
 * handing a complete request to dispatch.c (the middlewares, the route's
 * handler, 404, 405, a WebSocket upgrade's verdict), whose answer goes to
 * c->rq->out.
 *
 * The callbacks record where the request line and header fields lie in
 * c->rq->in (offsets, since a field may span several reads), and at the end
 * of the header block copy them into the request state's pool as a struct
 * kiln_req, which http_head.c checks.  The body goes where body.c says
 * (c->rq->body, the multipart parser, or the reader of a
 * kiln_route_stream_body() route, whose handler runs as soon as the header
 * block is read).  When the message is complete the route's handler runs
 * (dispatch.c) and its response is appended to c->rq->out; pipelined
 * requests in the same read are handled in turn (conn.c writes c->rq->out
 * once at the end of the read: one write(2) for the batch).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "body.h"
#include "config.h"
#include "conn_private.h"
#include "dispatch.h"
#include "http_rules.h"
#include "json.h"
#include "log.h"
#include "middleware.h"
#include "req_store.h"
#include "request.h"
#include "response.h"
#include "router.h"
#include "scrape.h"
#include "url.h"
#include "worker.h"

static const http_parser_settings parser_settings;

size_t http_state_size(void)
{
    return sizeof(http_parser);
}

void http_init(struct conn *c)
{
    http_parser_init(c->rq->parser, HTTP_REQUEST);
    c->rq->parser->data = c;
}

void http_attach(struct conn *c)
{
    c->rq->parser->data = c;
}

/* ---- the request being parsed ------------------------------------------- */

/* Stops the parser with an error status of ours; returns what the callback
 * must return. */
static int fail(struct conn *c, int status)
{
    if (!c->rq->err_status)
        c->rq->err_status = status;
    return -1;
}

/*
 * 431 once the header block passed max_header_size, counting every byte the
 * client sent in it (padding included): in a callback, from the request
 * line's first byte to `end`; between reads (end NULL), what http-parser
 * counted of the message so far (its nread is current only then).
 * Trailers are bounded by http-parser's own limit (80 kB).
 */
static inline int head_check(struct conn *c, const char *end)
{
    size_t n;

    if (c->state != CS_HEAD)
        return 0;
    if (end == NULL)
        n = c->rq->parser->nread;
    else
        n = (size_t)(end - c->rq->in.data) - c->rq->msg_off;
    return n > c->w->cfg->max_header_size ? fail(c, 431) : 0;
}

static int on_message_begin(http_parser *p)
{
    struct conn *c = p->data;

    c->state = CS_HEAD;
    c->rq->head_start = ev_now(c->w->loop);
    return 0;
}

/* The length of a method's name, worked out once per method. */
static size_t method_len(unsigned method)
{
    static unsigned char len[256];  /* http_parser's method is 8 bits */

    if (len[method & 0xff] == 0)
        len[method & 0xff] = (unsigned char)strlen(http_method_str(method));
    return len[method & 0xff];
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;

    if (!c->rq->have_url) {
        c->rq->have_url = 1;
        c->rq->url_off = (size_t)(at - c->rq->in.data);
        /* the method and one space precede the target */
        c->rq->msg_off = c->rq->url_off - method_len(p->method) - 1;
    }
    c->rq->url_len += len;
    if (c->rq->url_len > c->w->cfg->max_uri_size)
        return fail(c, 414);
    return head_check(c, at + len);
}

/* Makes room for one more header field; 431 past max_headers. */
static int hdr_push(struct conn *c, size_t off)
{
    struct hdr_span *h;

    if (c->rq->nhdrs >= c->w->cfg->max_headers)
        return fail(c, 431);
    if (c->rq->nhdrs == c->rq->cap_hdrs) {
        /* The table lives in the request's pool: grown by copying, gone
         * with the request. */
        size_t cap = c->rq->cap_hdrs ? c->rq->cap_hdrs * 2 : 16;

        h = pool_alloc(&c->rq->pool, cap * sizeof(*h));
        if (!h)
            return fail(c, 500);
        if (c->rq->nhdrs)
            memcpy(h, c->rq->hdrs, c->rq->nhdrs * sizeof(*h));
        c->rq->hdrs = h;
        c->rq->cap_hdrs = cap;
    }
    h = &c->rq->hdrs[c->rq->nhdrs++];
    h->name_off = off;
    h->name_len = 0;
    h->val_off = off;
    h->val_len = 0;
    return 0;
}

/*
 * A piece of a field name.  Any byte outside tchar is 400 (RFC 9112 5.1):
 * white space before the colon included, since a proxy that drops such a
 * line and kiln would read the message differently.  Trailers (after a
 * chunked body) are checked but not kept: kiln gives them to no one.
 */
static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;

    if (!http_is_token(at, len))
        return fail(c, 400);
    if (c->state == CS_BODY)
        return 0;
    if ((c->rq->nhdrs == 0 || c->rq->in_value) &&
        hdr_push(c, (size_t)(at - c->rq->in.data)) < 0)
        return -1;
    c->rq->in_value = 0;
    c->rq->hdrs[c->rq->nhdrs - 1].name_len += len;
    return head_check(c, at + len);
}

/* A piece of a field value.  A value continued on the next line (obs-fold),
 * an empty one's included, is 400 (RFC 9112 5.2). */
static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    struct hdr_span *h;

    if (c->state == CS_BODY)
        return 0;
    h = &c->rq->hdrs[c->rq->nhdrs - 1];
    if (!c->rq->in_value) {
        c->rq->in_value = 1;
        if (len == 0)                   /* an empty value, reported at the next line */
            return head_check(c, at);
        if (!http_value_on_name_line(c->rq->in.data + h->name_off + h->name_len, at))
            return fail(c, 400);
        h->val_off = (size_t)(at - c->rq->in.data);
    } else if (at != c->rq->in.data + h->val_off + h->val_len) {
        return fail(c, 400);            /* obs-fold: a line folded into a value */
    }
    h->val_len += len;
    return head_check(c, at + len);
}

/* Whether a field name of `len` bytes is `lower` (lowercase letters and
 * '-', of that length) in any case: a token (http-parser checked it) only
 * meets a letter or '-' when OR-ed with 0x20 if it was one. */
static int name_is(const char *name, const char *lower, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((name[i] | 0x20) != lower[i])
            return 0;
    return 1;
}

/* Notes where header i is when it is a Host, a Transfer-Encoding or an
 * Expect (the fields the message's checks need), while the headers are
 * copied. */
static void note_framing(struct conn *c, size_t i, size_t len)
{
    struct conn_req *q = c->rq;
    const char *name = q->req.headers[i].name;

    if (len == 4 && name_is(name, "host", 4)) {
        if (q->nhost++ == 0)
            q->host = i;
    } else if (len == 17 && name_is(name, "transfer-encoding", 17)) {
        if (q->nte++ == 0)
            q->te = i;
    } else if (len == 6 && q->expect == NULL && name_is(name, "expect", 6)) {
        q->expect = q->req.headers[i].value;
    }
}

/* Copies s[0..n) to *at, NUL-terminated, and moves *at past it; the copy. */
static char *copy_out(char **at, const char *s, size_t n)
{
    char *d = *at;

    memcpy(d, s, n);
    d[n] = '\0';
    *at = d + n + 1;
    return d;
}

/* Copies the request line and header fields out of c->rq->in into the pool,
 * the target and every name and value into one allocation. */
static int req_materialize(struct conn *c)
{
    struct kiln_req *r = &c->rq->req;
    const char *in = c->rq->in.data;
    size_t i, room = c->rq->url_len + 1;
    char *at;

    r->conn = c;
    r->pool = &c->rq->pool;
    r->resp_headers = &c->rq->rhdr;
    r->resp_body = &c->rq->rbody;
    r->method = http_method_str(c->rq->parser->method);
    r->http_major = c->rq->parser->http_major;
    r->http_minor = c->rq->parser->http_minor;
    for (i = 0; i < c->rq->nhdrs; i++)     /* spans of the read buffer: no overflow */
        room += c->rq->hdrs[i].name_len + c->rq->hdrs[i].val_len + 2;
    r->headers = pool_alloc(&c->rq->pool, (c->rq->nhdrs + 1) * sizeof(*r->headers));
    at = pool_alloc(&c->rq->pool, room);
    if (!r->headers || !at)
        return -1;
    r->target = copy_out(&at, in + c->rq->url_off, c->rq->url_len);
    for (i = 0; i < c->rq->nhdrs; i++) {
        const struct hdr_span *h = &c->rq->hdrs[i];
        size_t vl = h->val_len;

        while (vl > 0 && (in[h->val_off + vl - 1] == ' ' ||
                          in[h->val_off + vl - 1] == '\t'))
            vl--;
        r->headers[i].name = copy_out(&at, in + h->name_off, h->name_len);
        r->headers[i].value = copy_out(&at, in + h->val_off, vl);
        note_framing(c, i, h->name_len);
    }
    r->nheaders = c->rq->nhdrs;
    return 0;
}

/* The body limit of the request just routed: its route's
 * (kiln_route_max_body), else max_body_size. */
static size_t body_limit(const struct conn *c)
{
    const struct route *rt = c->rq->req.match.route;

    if (c->rq->route_res == ROUTER_FOUND && rt->max_body_set)
        return rt->max_body;
    return c->w->cfg->max_body_size;
}

static int on_headers_complete(http_parser *p)
{
    struct conn *c = p->data;
    struct conn_req *q = c->rq;
    const struct config *cfg = c->w->cfg;
    int status;

    q->req.is_head = p->method == HTTP_HEAD;
    if (req_materialize(c) < 0)
        return fail(c, 500);
    if (mw_sent_active)
        q->req.mw.received = http_head_bytes(c);
    if (http_head_check(c) < 0)
        return -1;
    q->req.keep_alive = http_should_keep_alive(p) && !q->http10_te && !c->w->draining &&
                        c->requests + 1 < cfg->keepalive_requests;
    q->route_res = router_match(c->w->router, q->req.method, q->req.path, q->req.segs,
                                q->req.nsegs, &q->req.match, q->allow, sizeof(q->allow));
    if (cfg->metrics != NULL)
        scrape_mark(c);
    q->max_body = body_limit(c);
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > q->max_body)
        return fail(c, 413);
    if (q->route_res == ROUTER_FOUND && q->req.match.route->ws &&
        ((p->flags & F_CHUNKED) || ((p->flags & F_CONTENTLENGTH) && p->content_length > 0)))
        return fail(c, 400);            /* an upgrade carries no body */
    if (http_head_expect(c) < 0)
        return -1;
    c->state = CS_BODY;
    if ((status = body_begin(c)) != 0)
        return fail(c, status);
    if (body_streamed(c) && dispatch_streamed(c) < 0)
        return fail(c, 500);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    int status = body_take(c, at, len);

    if (status != 0)
        return fail(c, status);
    if (c->rq->body_paused)             /* its reader asked: nothing more now */
        http_parser_pause(p, 1);
    return 0;
}

int http_upgrade(const struct conn *c)
{
    return c->rq->parser->upgrade;
}

void http_pause(struct conn *c, int on)
{
    http_parser_pause(c->rq->parser, on);
}

long long http_body_left(const struct conn *c)
{
    const http_parser *p = c->rq->parser;

    if (p->flags & F_CHUNKED)
        return -1;
    return (p->flags & F_CONTENTLENGTH) ? (long long)p->content_length : 0;
}

/* Ends a request that was answered: ready for the next one, or closing. */
void http_req_done(struct conn *c)
{
    int keep = c->rq->req.keep_alive;

    c->requests++;
    c->rq->upgraded = c->rq->parser->upgrade;
    conn_req_reset(c);
    c->state = CS_IDLE;
    c->idle_since = ev_now(c->w->loop);
    if (keep)
        conn_nodelay(c);
    if (!keep) {
        /* The answer said "close": read nothing more of this connection.
         * When the client did not ask for that, it may be sending more:
         * close with a lingering read (see conn_linger). */
        c->want_close = 1;
        c->linger = http_should_keep_alive(c->rq->parser) != 0;
        http_parser_pause(c->rq->parser, 1);
    }
}

static int on_message_complete(http_parser *p)
{
    struct conn *c = p->data;

    if (c->rq->route_res == ROUTER_FOUND && c->rq->req.match.route->ws)
        return dispatch_ws(c) < 0 ? fail(c, 500) : 0;
    if (body_streamed(c))
        return dispatch_streamed_end(c);
    body_end(c);
    if (dispatch_request(c) < 0)
        return fail(c, 500);
    if (c->state != CS_PENDING)
        http_req_done(c);
    return 0;
}

int http_resume(struct conn *c, int status)
{
    int rc, early;

    if (c->rq->req.mw.before_pending) {     /* a before's answer, 500 or 504 */
        c->rq->req.mw.before_pending = 0;
        if (body_streamed(c))
            c->state = CS_BODY;
    }
    early = c->state == CS_BODY;        /* before its body ended */
    if (early)
        dispatch_early_prepare(c);
    response_update_date(ev_now(c->w->loop));
    rc = dispatch_out(c, status, NULL);
    if (rc < 0) {
        http_error(c, 500);
        return -1;
    }
    if (early)
        return dispatch_early_after(c) ? http_continue(c) : 0;
    return http_finish(c, 1);
}

int http_continue(struct conn *c)
{
    http_parser_pause(c->rq->parser, 0);
    /* nothing unparsed: an empty feed would tell the parser the input ended */
    return c->rq->parsed < c->rq->in.len ? http_parse(c) : 0;
}

int http_finish(struct conn *c, int keep)
{
    if (!keep)
        c->rq->req.keep_alive = 0;
    http_parser_pause(c->rq->parser, 0);
    http_req_done(c);                    /* pauses it again when closing */
    return http_parse(c);
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

/* Whether the line http-parser stopped in (at c->rq->in.data + pos) starts with
 * a well-formed method that it does not know. */
static int method_unknown(const struct conn *c, size_t pos)
{
    const char *start = c->rq->in.data, *m = start + (pos < c->rq->in.len ? pos : c->rq->in.len);

    while (m > start && m[-1] != '\n')
        m--;
    return http_method_token(m, start + c->rq->in.len);
}

/* The status for a parser error that none of our callbacks chose: 501 for
 * a method kiln does not implement (RFC 9110 9.1), 431, 501 for a transfer
 * coding, 400 else. */
static int parse_error_status(const struct conn *c, enum http_errno e, size_t pos)
{
    switch (e) {
    case HPE_HEADER_OVERFLOW:
        return 431;
    case HPE_INVALID_TRANSFER_ENCODING:
        return 501;
    case HPE_INVALID_METHOD:
        return method_unknown(c, pos) ? 501 : 400;
    default:
        return 400;
    }
}

void http_error(struct conn *c, int status)
{
    int is_head = (c->state == CS_HEAD || c->state == CS_BODY) &&
                  c->rq->have_url && c->rq->parser->method == HTTP_HEAD;

    if (c->w->cfg->log_level >= LOG_DEBUG)
        log_debug("connection %d: answering %d (%s)", c->fd, status,
                  http_errno_name(HTTP_PARSER_ERRNO(c->rq->parser)));
    body_abort(c, status);          /* a reader's end callback, with the error */
    response_update_date(ev_now(c->w->loop));
    if (mw_active || mw_sent_active)
        c->linger = dispatch_error(c, status, is_head) == 0;
    else
        c->linger = response_error(&c->rq->out, status, 0, is_head, NULL) == 0;
    conn_req_reset(c);
    c->want_close = 1;
}

int http_parse(struct conn *c)
{
    size_t n, avail = c->rq->in.len - c->rq->parsed, keep;
    enum http_errno e;

    if (c->state == CS_PENDING)
        return 0;                   /* what follows waits its turn */
    n = http_parser_execute(c->rq->parser, &parser_settings, c->rq->in.data + c->rq->parsed,
                            avail);
    c->rq->parsed += n;
    e = HTTP_PARSER_ERRNO(c->rq->parser);
    if (e == HPE_PAUSED && c->rq->ws)
        return 1;
    if (e == HPE_PAUSED)
        return -1;
    if (e != HPE_OK || c->rq->err_status) {
        http_error(c, c->rq->err_status ? c->rq->err_status : parse_error_status(c, e, c->rq->parsed));
        return -1;
    }
    if (head_check(c, NULL) < 0) {      /* a block in progress: padding included */
        http_error(c, c->rq->err_status);
        return -1;
    }
    if (c->rq->upgraded) {
        /* An upgrade to a protocol we do not speak here: the request was
         * answered as plain HTTP; what follows it is parsed as HTTP. */
        c->rq->upgraded = 0;
        http_init(c);
        if (c->rq->parsed < c->rq->in.len)
            return http_parse(c);
    }
    /* Keep the header block in progress from its first byte (all of it
     * while the request line is still incomplete). */
    if (c->state == CS_HEAD)
        keep = c->rq->have_url ? c->rq->msg_off : 0;
    else
        keep = c->rq->parsed;
    buf_consume(&c->rq->in, keep);
    c->rq->parsed -= keep;
    if (c->state == CS_HEAD && c->rq->have_url) {
        size_t i;

        c->rq->msg_off -= keep;
        c->rq->url_off -= keep;
        for (i = 0; i < c->rq->nhdrs; i++) {
            c->rq->hdrs[i].name_off -= keep;
            c->rq->hdrs[i].val_off -= keep;
        }
    }
    return 0;
}
