/*
 * middleware.c -- middlewares on the request path: their befores and
 * afters (each run as its plugin's), the response as they see it
 * (kiln_resp_*), the response-sent hook, and kiln.h's 1.5 registrations
 * (kiln_add_middleware, kiln_on_response_sent, kiln_on_reopen, kiln_export,
 * kiln_import), whose lists core/registry.c keeps.
 */
#define _GNU_SOURCE             /* memmem */
#include <string.h>
#include <strings.h>

#include "conn_private.h"
#include "log.h"
#include "middleware.h"
#include "pending.h"
#include "plugin.h"
#include "registry.h"
#include "response.h"
#include "scrape.h"
#include "worker.h"

int mw_active;
int mw_sent_active;

static struct registry_mw *const *order;     /* the middlewares that run */
static size_t norder;
static const struct registry_sent *sents;
static size_t nsents;

static int counting;                        /* scrape_count() each answer */

void mw_start(int count)
{
    order = registry_mws(&norder);
    sents = registry_sents(&nsents);
    counting = count;
    mw_active = norder > 0;
    mw_sent_active = nsents > 0 || count;
}

void mw_stop(void)
{
    mw_active = mw_sent_active = counting = 0;
    order = NULL;
    sents = NULL;
    norder = nsents = 0;
}

/* ---- running them -------------------------------------------------------------- */

/* Marks the worker's scoreboard slot "in plugin P, BEFORE/AFTER NAME", what
 * the master reports of a worker that dies or hangs there. */
static void mark(struct conn *c, const struct registry_mw *m, const char *what)
{
    struct scoreboard_slot *slot = c->w->slot;

    if (scoreboard_enter(slot, m))
        scoreboard_name(slot, m, plugin_name(m->plugin), what, m->name);
}

/* Runs m's before as its plugin's, with kiln_defer() allowed. */
static int call_before(struct conn *c, const struct registry_mw *m)
{
    struct plugin *outer = plugin_current;
    const struct route *route = plugin_route;
    int rc;

    mark(c, m, "BEFORE");
    plugin_current = m->plugin;
    plugin_route = NULL;            /* what it starts is its plugin's */
    c->rq->in_handler = 1;
    c->rq->req.mw.in_before = 1;
    rc = m->before(&c->rq->req, m->data);
    c->rq->req.mw.in_before = 0;
    c->rq->in_handler = 0;
    plugin_current = outer;
    plugin_route = route;
    scoreboard_leave(c->w->slot, 0);
    return rc;
}

int mw_befores(struct conn *c)
{
    struct kiln_req *r = &c->rq->req;

    while (r->mw.upto < norder) {
        const struct registry_mw *m = order[r->mw.upto++];
        int rc;

        if (m->before == NULL)
            continue;
        rc = call_before(c, m);
        if (c->rq->pending) {
            if (rc == KILN_PENDING && !c->rq->resumed) {
                r->mw.before_pending = 1;
                return KILN_PENDING;
            }
            if (rc == KILN_PENDING)         /* resumed before it returned */
                rc = c->rq->resume_result;
            pending_forget(c->rq->pending);
            c->rq->pending = 0;
            c->rq->resumed = 0;
        }
        if (rc == KILN_NEXT)
            continue;
        if (rc == KILN_OK)
            return KILN_OK;
        log_error("%s %s: the before of middleware \"%s\" returned %d%s", r->method, r->target,
                  m->name, rc, rc == KILN_PENDING ? " (KILN_PENDING without kiln_defer())" : "");
        return KILN_ERROR;
    }
    return KILN_NEXT;
}

struct plugin *mw_pending_plugin(const struct conn *c)
{
    unsigned i = c->rq->req.mw.upto;

    return i > 0 && i <= norder ? order[i - 1]->plugin : NULL;
}

/* kiln's own answer `status` in req, replacing what was built. */
static int own_answer(struct kiln_req *r, int status, const char *extra)
{
    char text[HTTP_STATUS_TEXT_MAX];
    size_t n = http_status_text(status, text);

    buf_reset(r->resp_headers);
    buf_reset(r->resp_body);
    r->content_type_set = 0;
    r->mw.stream = 0;
    r->status = status;
    r->error_answer = 1;
    r->compress = -1;               /* as kiln's own answers always go */
    if (kiln_set_content_type(r, "text/plain; charset=utf-8") != 0
        || (extra != NULL && buf_append_str(r->resp_headers, extra) < 0))
        return -1;
    return buf_append(r->resp_body, text, n);
}

static void call_after(struct conn *c, const struct registry_mw *m)
{
    struct plugin *outer = plugin_current;
    const struct route *route = plugin_route;
    int nested = c->rq->in_handler;     /* a stream's head, from its handler */

    mark(c, m, "AFTER");
    plugin_current = m->plugin;
    plugin_route = NULL;
    m->after(&c->rq->req, m->data);
    plugin_current = outer;
    plugin_route = route;
    if (!nested)
        scoreboard_leave(c->w->slot, 0);
}

int mw_afters(struct conn *c, int status, const char *extra)
{
    struct kiln_req *r = &c->rq->req;

    if (status != 0 && own_answer(r, status, extra) < 0)
        return -1;
    if (r->mw.afters_done)
        return 0;
    r->mw.afters_done = 1;
    for (size_t i = norder; i-- > 0;) {
        const struct registry_mw *m = order[i];

        if (m->after != NULL && (m->before == NULL || i < r->mw.upto))
            call_after(c, m);
    }
    return 0;
}

/* ---- the response-sent hook ------------------------------------------------------- */

/* A request kiln could not read: what the hooks' accessors need. */
static void unread_request(struct conn *c)
{
    struct kiln_req *r = &c->rq->req;

    r->conn = c;
    r->pool = &c->rq->pool;
    r->resp_headers = &c->rq->rhdr;
    r->resp_body = &c->rq->rbody;
    if (r->method == NULL)
        r->method = "";
    if (r->target == NULL)
        r->target = (char *)"";
}

void mw_sent(struct conn *c, unsigned long long bytes, unsigned long long body, int complete)
{
    struct kiln_req *r = &c->rq->req;
    struct plugin *outer = plugin_current;
    const struct route *route = plugin_route;
    struct kiln_sent s;

    if (r->mw.sent)
        return;
    r->mw.sent = 1;
    unread_request(c);
    s.status = r->status;
    s.complete = complete;
    s.bytes = bytes;
    s.body_bytes = body;
    s.received = r->mw.received + c->rq->body_seen;
    s.start = c->state == CS_IDLE ? ev_now(c->w->loop) : c->rq->head_start;
    s.duration = ev_time() - s.start;
    if (s.duration < 0)
        s.duration = 0;
    if (counting)
        scrape_count(c, s.status, s.received, s.bytes, s.duration);
    plugin_route = NULL;
    for (size_t i = 0; i < nsents; i++) {
        plugin_current = sents[i].plugin;
        sents[i].fn(r, &s, sents[i].data);
    }
    plugin_current = outer;
    plugin_route = route;
}

void mw_sent_queued(struct conn *c, size_t from, int serialized)
{
    const char *p = c->rq->out.data + from, *q;
    size_t n = c->rq->out.len - from, head = n;

    if (serialized) {               /* response_serialize() said how much */
        mw_sent(c, n, c->rq->req.mw.body_out, 1);
        return;
    }
    if ((q = memmem(p, n, "\r\n\r\n", 4)) != NULL)
        head = (size_t)(q + 4 - p);
    mw_sent(c, n, n - head, 1);
}

/* ---- the response as a middleware sees it --------------------------------------------- */

/* The value of the "Name: value\r\n" line of `name` at or after *pos in b
 * (and *len its length), advancing *pos past it; NULL when none is left. */
static const char *header_line(const struct buf *b, const char *name, size_t *pos,
                               size_t *start, size_t *len)
{
    size_t nl = strlen(name);

    while (*pos < b->len) {
        const char *line = b->data + *pos, *eol = memchr(line, '\n', b->len - *pos);
        size_t end = eol ? (size_t)(eol - b->data) + 1 : b->len;

        *start = *pos;
        *pos = end;
        if (end - *start > nl + 2 && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
            const char *v = line + nl + 1;

            while (*v == ' ')
                v++;
            *len = (size_t)(b->data + end - v);
            while (*len > 0 && (v[*len - 1] == '\n' || v[*len - 1] == '\r'))
                (*len)--;
            return v;
        }
    }
    return NULL;
}

KILN_EXPORT int kiln_resp_status(const kiln_req *req)
{
    return req ? req->status : 0;
}

KILN_EXPORT const char *kiln_resp_header(const kiln_req *req, const char *name)
{
    size_t pos = 0, start, len;
    const char *v;

    if (req == NULL || name == NULL || req->resp_headers == NULL)
        return NULL;
    v = header_line(req->resp_headers, name, &pos, &start, &len);
    return v ? pool_strndup(req->pool, v, len) : NULL;
}

KILN_EXPORT const void *kiln_resp_body(const kiln_req *req, size_t *len)
{
    int none = req == NULL || req->mw.stream || req->resp_body == NULL;

    if (len)
        *len = none ? 0 : req->resp_body->len;
    return none ? NULL : req->resp_body->data ? req->resp_body->data : "";
}

KILN_EXPORT int kiln_resp_remove_header(kiln_req *req, const char *name)
{
    size_t pos = 0, start, len;
    int n = 0;

    if (req == NULL || name == NULL || req->resp_headers == NULL)
        return 0;
    while (header_line(req->resp_headers, name, &pos, &start, &len) != NULL) {
        struct buf *b = req->resp_headers;

        memmove(b->data + start, b->data + pos, b->len - pos);
        b->len -= pos - start;
        pos = start;
        n++;
    }
    if (n > 0 && strcasecmp(name, "Content-Type") == 0)
        req->content_type_set = 0;
    return n;
}

KILN_EXPORT int kiln_resp_clear_body(kiln_req *req)
{
    if (req == NULL || req->mw.stream || req->resp_body == NULL)
        return -1;
    buf_reset(req->resp_body);
    return 0;
}

KILN_EXPORT int kiln_resp_is_error(const kiln_req *req)
{
    return req && req->error_answer;
}

KILN_EXPORT int kiln_resp_is_stream(const kiln_req *req)
{
    return req && req->mw.stream;
}

/* ---- registration ------------------------------------------------------------------- */

/* Letters, digits, '-', '_' and '.': what [server] middlewares can list. */
static int name_ok(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return 0;
    for (; *name != '\0'; name++)
        if (!(*name == '-' || *name == '_' || *name == '.' || (*name >= '0' && *name <= '9')
              || (*name >= 'a' && *name <= 'z') || (*name >= 'A' && *name <= 'Z')))
            return 0;
    return 1;
}

/* Logs why a registration of app's plugin was refused, and refuses it. */
static int refuse(kiln_app *app, const char *call, const char *name, const char *why)
{
    log_error("%s: %s(%s): %s", plugin_name(app->plugin), call, name ? name : "(null)", why);
    app->failed = 1;
    return -1;
}

KILN_EXPORT int kiln_add_middleware(kiln_app *app, const char *name, kiln_mw_before before,
                                    kiln_mw_after after, void *data)
{
    if (app == NULL)
        return -1;
    if (!app->in_init)
        return refuse(app, "add_middleware", name, "only from init");
    if (!name_ok(name))
        return refuse(app, "add_middleware", name,
                      "a name is letters, digits, '-', '_' and '.'");
    if (before == NULL && after == NULL)
        return refuse(app, "add_middleware", name, "neither a before nor an after");
    if (registry_add_mw(app->plugin, name, before, after, data) < 0) {
        app->failed = 1;
        return -1;
    }
    return 0;
}

KILN_EXPORT int kiln_on_response_sent(kiln_app *app, kiln_sent_fn fn, void *data)
{
    if (app == NULL)
        return -1;
    if (!app->in_init || fn == NULL)
        return refuse(app, "on_response_sent", "", fn ? "only from init" : "no function");
    return registry_add_sent(app->plugin, fn, data) < 0 ? (app->failed = 1, -1) : 0;
}

KILN_EXPORT int kiln_on_reopen(kiln_app *app, void (*fn)(kiln_app *app))
{
    if (app == NULL)
        return -1;
    if (!app->in_init || fn == NULL)
        return refuse(app, "on_reopen", "", fn ? "only from init" : "no function");
    app->plugin->on_reopen = fn;
    return 0;
}

KILN_EXPORT int kiln_export(kiln_app *app, const char *name, void *fn)
{
    if (app == NULL)
        return -1;
    if (!app->in_init || name == NULL || name[0] == '\0' || fn == NULL)
        return refuse(app, "export", name, !app->in_init ? "only from init"
                                            : "no name or no function");
    return registry_export(app->plugin, name, fn) < 0 ? (app->failed = 1, -1) : 0;
}

KILN_EXPORT void *kiln_import(const char *name)
{
    return registry_import(name);
}
