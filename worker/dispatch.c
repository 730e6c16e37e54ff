/*
 * dispatch.c -- the answer to a parsed request: the route's handler run as
 * its plugin's (at the message's end, or, for a kiln_route_stream_body()
 * route, once the header block is read), a deferred answer left pending,
 * 404 (or 308 to the path normalize_path and merge_slashes make of it) and
 * 405, and what an answer that comes before its body ended does
 * to the rest of it.  http.c calls in as the parser reports; the parser
 * itself stays behind http.c (http_pause(), http_body_left()).
 */
#include <stdio.h>
#include <string.h>

#include "body.h"
#include "config.h"
#include "http_rules.h"
#include "conn_private.h"
#include "dispatch.h"
#include "log.h"
#include "pending.h"
#include "plugin.h"
#include "response.h"
#include "router.h"
#include "url.h"
#include "worker.h"

#define DISCARD_MAX 65536            /* body bytes left that an early answer
                                       reads and drops rather than close */

/* Runs the matched handler as its plugin's: what it returned. */
static int call_handler(struct conn *c)
{
    const struct route *rt = c->req.match.route;
    int rc;

    response_update_date(ev_now(c->w->loop));
    plugin_enter(c->w->slot, rt, rt->method);
    c->in_handler = 1;
    rc = rt->handler(&c->req, rt->data);
    c->in_handler = 0;
    plugin_leave(c->w->slot, 1);
    return rc;
}

/* The handler answered (returned, or resumed inside): its response, or a
 * 500, into c->out. */
static int answer(struct conn *c, int rc)
{
    const struct route *rt = c->req.match.route;

    if (c->pending) {               /* answered after all */
        if (rc == KILN_PENDING)
            rc = c->resume_result;
        pending_forget(c->pending);
        c->pending = 0;
        c->resumed = 0;
    }
    if (rc == KILN_PENDING)
        log_error("%s %s: handler of \"%s %s\" returned KILN_PENDING without kiln_defer()",
                  c->req.method, c->req.target, rt->method, rt->pattern);
    if (rc != KILN_OK) {
        log_error("%s %s: handler of \"%s %s\" returned %d", c->req.method,
                  c->req.target, rt->method, rt->pattern, rc);
        return response_error(&c->out, 500, c->req.keep_alive, c->req.is_head, NULL);
    }
    return response_serialize(&c->req, &c->out);
}

/*
 * Runs the matched handler; its response (or a 500) goes to c->out.  A
 * handler that deferred its answer and returned KILN_PENDING leaves the
 * connection in CS_PENDING, its parser paused, with nothing to send.
 */
static int run_handler(struct conn *c)
{
    int rc = call_handler(c);

    if (c->stream) {                /* kiln_stream(): its return is not used */
        c->state = CS_PENDING;
        http_pause(c, 1);
        return 0;
    }
    if (c->pending && rc == KILN_PENDING && !c->resumed) {
        c->state = CS_PENDING;
        c->pending_since = ev_now(c->w->loop);
        http_pause(c, 1);
        return 0;
    }
    return answer(c, rc);
}

/* ---- a body read by its handler (kiln_route_stream_body) -------------------------- */

/*
 * An answer comes before the body ended.  As nginx and aiohttp do, the rest
 * of a small body (a known length with at most DISCARD_MAX bytes left, no
 * "100 Continue" withheld) is read and dropped, and the connection serves
 * the next request; otherwise (chunked, larger) the answer says close and
 * the connection closes after it, with a lingering read (conn_linger).
 * Called before the answer is serialized.
 */
void dispatch_early_prepare(struct conn *c)
{
    long long left = http_body_left(c);

    if (c->expect_continue || left < 0 || left > DISCARD_MAX)
        c->req.keep_alive = 0;
    c->expect_continue = 0;
    c->body_paused = 0;
}

/* ... and after: 1 when the rest is read and dropped, 0 when the request
 * is done and the connection closes. */
int dispatch_early_after(struct conn *c)
{
    if (!c->req.keep_alive) {
        http_req_done(c);
        return 0;
    }
    c->answered_early = 1;
    c->sink = SINK_DISCARD;
    return 1;
}

/*
 * The handler of a kiln_route_stream_body() route runs once the header
 * block is read; the request stays in CS_BODY while its body arrives, to
 * the reader kiln_body_stream() attached (or dropped, when it deferred the
 * answer without one).  A kiln_stream() before the body's end closes the
 * connection after the stream.
 */
int dispatch_streamed(struct conn *c)
{
    int rc;

    c->req.body = "";
    c->req.body_len = 0;
    rc = call_handler(c);
    if (c->stream) {
        c->req.keep_alive = 0;
        c->state = CS_PENDING;
        http_pause(c, 1);
        return 0;
    }
    if (c->pending && rc == KILN_PENDING && !c->resumed) {
        if (c->body_paused)         /* paused before any of it */
            http_pause(c, 1);
        return 0;                   /* reading on */
    }
    dispatch_early_prepare(c);
    if (answer(c, rc) < 0)
        return -1;
    dispatch_early_after(c);
    return 0;
}

/* The streamed body is complete: the reader's end callback, then the
 * request waits for its answer (kiln_resume), unless it had one. */
int dispatch_streamed_end(struct conn *c)
{
    if (c->answered_early) {
        http_req_done(c);
        return 0;
    }
    body_end(c);
    if (!c->pending) {              /* the stream case: cannot happen here */
        http_req_done(c);
        return 0;
    }
    c->state = CS_PENDING;
    c->pending_since = ev_now(c->w->loop);
    http_pause(c, 1);
    return 0;
}

/* Whether the raw path p has a route for the request's method. */
static int routed(struct conn *c, const char *p)
{
    char *segs[URL_MAX_SEGMENTS], *dec;
    struct route_match m;
    int n = url_split_path(&c->pool, p, strlen(p), segs, &dec);

    return n >= 0 && router_match(c->w->router, c->req.method, dec, segs, n, &m, NULL, 0)
                     == ROUTER_FOUND;
}

/*
 * The path a request that no route took is sent to instead (with
 * [server] normalize_path and merge_slashes): its raw path with slashes
 * merged and a trailing one added or removed, else merged only, when a
 * route takes it; NULL when none does or they are off.
 */
static const char *normalized(struct conn *c)
{
    const struct config *cfg = c->w->cfg;
    struct http_target t;
    char *p;

    if ((cfg->normalize_path == URL_SLASH_KEEP && !cfg->merge_slashes) ||
        http_split_target(&c->pool, c->req.target, &t) < 0)
        return NULL;
    p = url_normalize(&c->pool, t.path, t.plen, cfg->merge_slashes,
                      (enum url_slash)cfg->normalize_path);
    if (p != NULL && routed(c, p))
        return p;
    if (cfg->merge_slashes && cfg->normalize_path != URL_SLASH_KEEP &&
        (p = url_normalize(&c->pool, t.path, t.plen, 1, URL_SLASH_KEEP)) != NULL &&
        routed(c, p))
        return p;
    return NULL;
}

/* 404, or 308 to the normalized path, with the query. */
static int not_found(struct conn *c)
{
    struct kiln_req *r = &c->req;
    const char *p = normalized(c), *q = r->query ? r->query : "";
    char *extra;
    size_t n;

    if (p == NULL)
        return response_error(&c->out, 404, r->keep_alive, r->is_head, NULL);
    n = strlen(p) + strlen(q) + 16;
    extra = pool_alloc(&c->pool, n);
    if (extra == NULL)
        return response_error(&c->out, 500, r->keep_alive, r->is_head, NULL);
    snprintf(extra, n, "Location: %s%s%s\r\n", p, q[0] ? "?" : "", q);
    return response_error(&c->out, 308, r->keep_alive, r->is_head, extra);
}

/* Answers the complete request in c->req. */
int dispatch_request(struct conn *c)
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
        return not_found(c);
    }
}
