/*
 * dispatch.c -- the answer to a parsed request: the middlewares' befores
 * and afters (middleware.c runs them), the route's handler run as
 * its plugin's (at the message's end, or, for a kiln_route_stream_body()
 * route, once the header block is read), a deferred answer left pending,
 * 404 (or 308 to the path normalize_path and merge_slashes make of it) and
 * 405, a WebSocket route's verdict, and what an answer that comes
 * before its body ended does to the rest of it.  http.c calls in as the
 * parser reports; the parser itself stays behind http.c (http_pause(),
 * http_upgrade(), http_body_left()).
 */
#include <stdio.h>
#include <string.h>

#include "body.h"
#include "config.h"
#include "http_rules.h"
#include "conn_private.h"
#include "dispatch.h"
#include "log.h"
#include "middleware.h"
#include "pending.h"
#include "plugin.h"
#include "response.h"
#include "router.h"
#include "scrape.h"
#include "url.h"
#include "worker.h"
#include "ws.h"

#define DISCARD_MAX 65536            /* body bytes left that an early answer
                                       reads and drops rather than close */

int dispatch_out(struct conn *c, int status, const char *extra)
{
    struct kiln_req *r = &c->rq->req;
    size_t from = c->rq->out.len;
    int rc;

    if (!(mw_active | mw_sent_active)) {    /* the common case: nothing else */
        if (status == 0)
            return response_serialize(r, &c->rq->out);
        return response_error(&c->rq->out, status, r->keep_alive, r->is_head, extra);
    }
    if (mw_active) {                /* the answer goes through the afters */
        if (mw_afters(c, status, extra) < 0)
            return -1;
        status = 0;
    }
    if (status == 0)
        rc = response_serialize(r, &c->rq->out);
    else
        rc = response_error(&c->rq->out, status, r->keep_alive, r->is_head, extra);
    if (mw_sent_active && rc == 0) {
        if (status != 0)
            r->status = status;
        mw_sent_queued(c, from, status == 0);
    }
    return rc;
}

/* Runs the matched handler as its plugin's: what it returned. */
static int call_handler(struct conn *c)
{
    const struct route *rt = c->rq->req.match.route;
    int rc;

    response_update_date(ev_now(c->w->loop));
    plugin_enter(c->w->slot, rt, rt->method);
    c->rq->in_handler = 1;
    rc = rt->handler(&c->rq->req, rt->data);
    c->rq->in_handler = 0;
    plugin_leave(c->w->slot, 1);
    return rc;
}

/* The handler answered (returned, or resumed inside): its response, or a
 * 500, into c->rq->out. */
static int answer(struct conn *c, int rc)
{
    const struct route *rt = c->rq->req.match.route;

    if (c->rq->pending) {               /* answered after all */
        if (rc == KILN_PENDING)
            rc = c->rq->resume_result;
        pending_forget(c->rq->pending);
        c->rq->pending = 0;
        c->rq->resumed = 0;
    }
    if (rc == KILN_PENDING)
        log_error("%s %s: handler of \"%s %s\" returned KILN_PENDING without kiln_defer()",
                  c->rq->req.method, c->rq->req.target, rt->method, rt->pattern);
    if (rc != KILN_OK) {
        log_error("%s %s: handler of \"%s %s\" returned %d", c->rq->req.method,
                  c->rq->req.target, rt->method, rt->pattern, rc);
        return dispatch_out(c, 500, NULL);
    }
    return dispatch_out(c, 0, NULL);
}

/*
 * Runs the matched handler; its response (or a 500) goes to c->rq->out.  A
 * handler that deferred its answer and returned KILN_PENDING leaves the
 * connection in CS_PENDING, its parser paused, with nothing to send.
 */
static int run_handler(struct conn *c)
{
    int rc = call_handler(c);

    if (c->rq->stream) {                /* kiln_stream(): its return is not used */
        c->state = CS_PENDING;
        http_pause(c, 1);
        return 0;
    }
    if (c->rq->pending && rc == KILN_PENDING && !c->rq->resumed) {
        c->state = CS_PENDING;
        c->rq->pending_since = ev_now(c->w->loop);
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

    if (c->rq->expect_continue || left < 0 || left > DISCARD_MAX)
        c->rq->req.keep_alive = 0;
    c->rq->expect_continue = 0;
    c->rq->body_paused = 0;
}

/* ... and after: 1 when the rest is read and dropped, 0 when the request
 * is done and the connection closes. */
int dispatch_early_after(struct conn *c)
{
    if (!c->rq->req.keep_alive) {
        http_req_done(c);
        return 0;
    }
    c->rq->answered_early = 1;
    c->rq->sink = SINK_DISCARD;
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

    c->rq->req.body = "";
    c->rq->req.body_len = 0;
    if (mw_active && (rc = dispatch_befores(c)) <= 0)
        return rc;
    rc = call_handler(c);
    if (c->rq->stream) {
        c->rq->req.keep_alive = 0;
        c->state = CS_PENDING;
        http_pause(c, 1);
        return 0;
    }
    if (c->rq->pending && rc == KILN_PENDING && !c->rq->resumed) {
        if (c->rq->body_paused)         /* paused before any of it */
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
    if (c->rq->answered_early) {
        http_req_done(c);
        return 0;
    }
    body_end(c);
    if (!c->rq->pending) {              /* the stream case: cannot happen here */
        http_req_done(c);
        return 0;
    }
    c->state = CS_PENDING;
    c->rq->pending_since = ev_now(c->w->loop);
    http_pause(c, 1);
    return 0;
}

/* Whether the raw path p has a route for the request's method. */
static int routed(struct conn *c, const char *p)
{
    char *segs[URL_MAX_SEGMENTS], *dec;
    struct route_match m;
    int n = url_split_path(&c->rq->pool, p, strlen(p), segs, &dec);

    return n >= 0 && router_match(c->w->router, c->rq->req.method, dec, segs, n, &m, NULL, 0)
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
        http_split_target(&c->rq->pool, c->rq->req.target, &t) < 0)
        return NULL;
    p = url_normalize(&c->rq->pool, t.path, t.plen, cfg->merge_slashes,
                      (enum url_slash)cfg->normalize_path);
    if (p != NULL && routed(c, p))
        return p;
    if (cfg->merge_slashes && cfg->normalize_path != URL_SLASH_KEEP &&
        (p = url_normalize(&c->rq->pool, t.path, t.plen, 1, URL_SLASH_KEEP)) != NULL &&
        routed(c, p))
        return p;
    return NULL;
}

int dispatch_redirects(struct conn *c)
{
    return normalized(c) != NULL;
}

/* 404, or 308 to the normalized path, with the query. */
static int not_found(struct conn *c)
{
    struct kiln_req *r = &c->rq->req;
    const char *p = normalized(c), *q = r->query ? r->query : "";
    char *extra;
    size_t n;

    if (p == NULL)
        return dispatch_out(c, 404, NULL);
    n = strlen(p) + strlen(q) + 16;
    extra = pool_alloc(&c->rq->pool, n);
    if (extra == NULL)
        return dispatch_out(c, 500, NULL);
    snprintf(extra, n, "Location: %s%s%s\r\n", p, q[0] ? "?" : "", q);
    return dispatch_out(c, 308, extra);
}

/* The route's answer to c's complete request: its handler, 404 or 405. */
static int dispatch_route(struct conn *c)
{
    char extra[sizeof(c->rq->allow) + 16];

    switch (c->rq->route_res) {
    case ROUTER_FOUND:
        return run_handler(c);
    case ROUTER_METHOD_NOT_ALLOWED:
        snprintf(extra, sizeof(extra), "Allow: %s\r\n", c->rq->allow);
        return dispatch_out(c, 405, extra);
    default:
        return not_found(c);
    }
}

/* Answers the complete request in c->rq->req. */
int dispatch_request(struct conn *c)
{
    struct kiln_req *r = &c->rq->req;
    int rc;

    response_update_date(ev_now(c->w->loop));
    r->body = c->rq->body.len ? c->rq->body.data : "";
    r->body_len = c->rq->body.len;
    if (r->scrape)                  /* kiln's own answer, before any plugin */
        return scrape_answer(c);
    if (mw_active && (rc = dispatch_befores(c)) <= 0)
        return rc;
    return dispatch_route(c);
}

int dispatch_error(struct conn *c, int status, int is_head)
{
    struct kiln_req *r = &c->rq->req;
    size_t from = c->rq->out.len;
    int rc, serialized = 0;

    if (r->mw.received == 0)        /* its head unread: what was read of it */
        r->mw.received = c->rq->in.len;
    if (mw_active && r->path != NULL && status != 400) {
        r->keep_alive = 0;
        r->is_head = is_head;
        rc = mw_afters(c, status, NULL) < 0 ? -1 : response_serialize(r, &c->rq->out);
        serialized = 1;
    } else {
        r->status = status;
        rc = response_error(&c->rq->out, status, 0, is_head, NULL);
    }
    if (rc == 0 && mw_sent_active)
        mw_sent_queued(c, from, serialized);
    return rc;
}

/* ---- WebSocket routes ------------------------------------------------------------- */

/*
 * A WebSocket route's request, its befores passed: a valid upgrade pauses
 * the parser for the hand-off (conn.c does it when http_parse() says so),
 * 1; anything else is answered here, 0 (426 without an upgrade, 400 for a
 * bad one, the open callback's refusal, 503 while draining); -1 out of
 * memory.
 */
static int ws_verdict(struct conn *c, const struct route *rt)
{
    char extra[256] = "";
    int upgrade = http_upgrade(c), status;

    status = ws_check_upgrade(c->w, rt, &c->rq->req, upgrade, &c->rq->ws, extra, sizeof(extra));
    if (status == 0) {
        http_pause(c, 1);
        return 1;
    }
    response_update_date(ev_now(c->w->loop));
    return dispatch_out(c, status, extra[0] ? extra : NULL) < 0 ? -1 : 0;
}

int dispatch_ws(struct conn *c)
{
    const struct route *rt = c->rq->req.match.route;
    int rc = 1;

    if (http_upgrade(c))
        c->rq->req.keep_alive = 0;      /* after a refusal, what follows is not HTTP */
    if (mw_active && (rc = dispatch_befores(c)) == 0 && c->state != CS_PENDING)
        http_req_done(c);
    if (rc > 0 && (rc = ws_verdict(c, rt)) == 0)
        http_req_done(c);
    return rc < 0 ? -1 : 0;
}

/* A WebSocket route's befores went on after a pending one was resumed: the
 * handshake's verdict.  Returns as http_parse(). */
static int ws_resumed(struct conn *c)
{
    int rc = ws_verdict(c, c->rq->req.match.route);

    if (rc < 0) {
        http_error(c, 500);
        return -1;
    }
    return rc > 0 ? 1 : http_finish(c, 1);
}

/* ---- middlewares' befores ------------------------------------------------------------ */

/* Waits for a before that deferred its answer: the parser paused. */
static void wait_before(struct conn *c)
{
    c->state = CS_PENDING;
    c->rq->pending_since = ev_now(c->w->loop);
    http_pause(c, 1);
}

int dispatch_befores(struct conn *c)
{
    int rc, early = body_streamed(c);

    response_update_date(ev_now(c->w->loop));
    rc = mw_befores(c);
    if (rc == KILN_NEXT)
        return 1;
    if (rc == KILN_PENDING) {
        wait_before(c);
        return 0;
    }
    if (early)
        dispatch_early_prepare(c);
    if (dispatch_out(c, rc == KILN_OK ? 0 : 500, NULL) < 0)
        return -1;
    if (early)
        dispatch_early_after(c);
    return 0;
}

/* A streamed route's befores all went on after a resumption: its handler
 * now, then its body.  Returns as http_parse(). */
static int resumed_streamed(struct conn *c)
{
    if (dispatch_streamed(c) < 0) {
        http_error(c, 500);
        return -1;
    }
    if (c->state == CS_PENDING)     /* another before deferred, or a stream */
        return 0;
    return c->state == CS_BODY ? http_continue(c) : 0;
}

int dispatch_before_resumed(struct conn *c, int result)
{
    int streamed = body_streamed(c), rc;

    c->rq->req.mw.before_pending = 0;
    if (streamed)
        c->state = CS_BODY;
    if (result != KILN_NEXT)
        return http_resume(c, result == KILN_OK ? 0 : 500);
    if (streamed)
        return resumed_streamed(c);
    if (c->rq->req.match.route && c->rq->req.match.route->ws && c->rq->route_res == ROUTER_FOUND)
        return ws_resumed(c);
    c->state = CS_BODY;
    if ((rc = dispatch_befores(c)) > 0)
        rc = dispatch_route(c);
    if (rc < 0) {
        http_error(c, 500);
        return -1;
    }
    return c->state == CS_PENDING ? 0 : http_finish(c, 1);
}
