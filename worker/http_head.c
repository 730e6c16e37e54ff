/*
 * http_head.c -- the checks of a request's header block once http.c has
 * copied it into the pool: version, transfer coding, target, Host (RFC 9112
 * 2-3, 6.1), "Expect: 100-continue", the body limit, and the block's size.
 *
 * Each check that fails records the status to answer in c->rq->err_status
 * (the first one wins) and returns -1; http.c stops the parser and answers.
 */
#include <string.h>
#include <strings.h>

#include "body.h"
#include "config.h"
#include "conn_private.h"
#include "dispatch.h"
#include "http_rules.h"
#include "request.h"
#include "router.h"
#include "url.h"
#include "worker.h"

/* Records an error status of ours; returns -1. */
static int fail(struct conn *c, int status)
{
    if (!c->rq->err_status)
        c->rq->err_status = status;
    return -1;
}

/*
 * Splits the target (http_split_target: origin- or absolute-form, fragment
 * dropped) and its path into decoded segments, dot-segments removed; the
 * authority of an absolute-form target goes to *authp, *alen (NULL: none).
 * -1 for a bad target (400).
 */
static int req_split_target(struct conn *c, const char **authp, size_t *alen)
{
    struct kiln_req *r = &c->rq->req;
    struct http_target t;

    if (http_split_target(&c->rq->pool, r->target, &t) < 0)
        return -1;
    *authp = t.authority;
    *alen = t.alen;
    r->query = t.query;
    r->segs = pool_alloc(&c->rq->pool, URL_MAX_SEGMENTS * sizeof(char *));
    if (!r->segs)
        return -1;
    r->nsegs = url_split_path(&c->rq->pool, t.path, t.plen, r->segs, &r->path);
    return r->nsegs < 0 ? -1 : 0;
}

/* Answers "Expect: 100-continue" once we know the body will be read. */
int http_head_expect(struct conn *c)
{
    const char *e = c->rq->expect;

    if (!e || c->rq->req.http_minor == 0)
        return 0;
    if (strcasecmp(e, "100-continue") != 0)
        return fail(c, 417);
    if (c->rq->route_res == ROUTER_NOT_FOUND && !dispatch_redirects(c))
        return fail(c, 404);
    if (c->rq->route_res == ROUTER_METHOD_NOT_ALLOWED)
        return fail(c, 405);
    if (body_streamed(c)) {         /* sent when a reader attaches */
        c->rq->expect_continue = 1;
        return 0;
    }
    /* conn.c writes c->rq->out once the parser has taken what was read, before
     * the body arrives */
    if (buf_append_str(&c->rq->out, "HTTP/1.1 100 Continue\r\n\r\n") < 0)
        return fail(c, 500);
    return 0;
}

/*
 * Only "chunked", once, is a transfer coding kiln implements: any other
 * list, on one line or several, is 501.  After an HTTP/1.0 message with a
 * Transfer-Encoding the connection closes (RFC 9112 6.1).
 */
static int req_check_te(struct conn *c)
{
    if (c->rq->nte == 0)
        return 0;
    if (c->rq->nte > 1 || strcasecmp(c->rq->req.headers[c->rq->te].value, "chunked") != 0)
        return fail(c, 501);
    if (c->rq->req.http_minor == 0)
        c->rq->http10_te = 1;
    return 0;
}

/* HTTP/1.0 and 1.1 are served, a higher 1.x as 1.1 (RFC 9110 2.5); 2 and
 * above are 505; what http-parser took for HTTP/0.9 (no version) is 400. */
static int req_check_version(struct conn *c)
{
    if (c->rq->req.http_major == 0)
        return fail(c, 400);
    if (c->rq->req.http_major > 1)
        return fail(c, 505);
    return 0;
}

/*
 * An HTTP/1.1 request needs exactly one valid Host (RFC 9112 3.2): 400
 * otherwise.  With an absolute-form target, the target's authority is the
 * host, and what the Host field reports.
 */
static int req_check_host(struct conn *c, const char *authority, size_t alen)
{
    struct kiln_req *r = &c->rq->req;

    if (c->rq->nhost > 1 || (c->rq->nhost == 0 && r->http_minor >= 1) ||
        (c->rq->nhost == 1 && !http_host_ok(r->headers[c->rq->host].value)))
        return fail(c, 400);
    if (authority == NULL || c->rq->nhost == 0)
        return 0;
    r->headers[c->rq->host].value = pool_strndup(&c->rq->pool, authority, alen);
    return r->headers[c->rq->host].value == NULL ? fail(c, 500) : 0;
}

/* The message's framing, version, target and Host: 0, or -1 (failed). */
int http_head_check(struct conn *c)
{
    const char *auth;
    size_t alen = 0;

    if (req_check_version(c) < 0 || req_check_te(c) < 0)
        return -1;
    if (req_split_target(c, &auth, &alen) < 0)
        return fail(c, 400);
    return req_check_host(c, auth, alen);
}

/* The bytes of the header block just read, blank line included (for the
 * response-sent hook). */
unsigned long long http_head_bytes(const struct conn *c)
{
    const char *in = c->rq->in.data, *end = in + c->rq->in.len, *p;
    size_t from = c->rq->nhdrs ? c->rq->hdrs[c->rq->nhdrs - 1].val_off + c->rq->hdrs[c->rq->nhdrs - 1].val_len
                           : c->rq->url_off + c->rq->url_len;

    for (p = in + from; p < end; p++)
        if (*p == '\n' && p + 1 < end && (p[1] == '\n' || (p[1] == '\r' && p + 2 < end
                                                           && p[2] == '\n')))
            return (unsigned long long)(p + (p[1] == '\n' ? 2 : 3) - (in + c->rq->msg_off));
    return (unsigned long long)(c->rq->in.len - c->rq->msg_off);
}
