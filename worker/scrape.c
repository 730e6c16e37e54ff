/* scrape.c -- a worker's side of [server] metrics: its slot's route names, a count per answer, its gauges, and kiln's own answer at the metrics path. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "conn_private.h"
#include "db.h"
#include "dispatch.h"
#include "log.h"
#include "metrics.h"
#include "proxies.h"
#include "pubsub.h"
#include "router.h"
#include "scrape.h"
#include "worker.h"
#include "ws.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* router_each's callback: names the route's row. */
static void name_route(const struct route *rt, void *arg)
{
    metrics_name_route(arg, rt->index + 1, rt->method, rt->pattern);
}

void scrape_start(struct worker *w, const struct worker_args *a)
{
    w->metrics = a->metrics;
    w->mslot = w->cfg->metrics != NULL ? a->mslot : NULL;
    if (w->mslot == NULL)
        return;
    router_each(w->router, name_route, w->mslot);
    metrics_name_self(w->mslot, w->cfg->metrics);
    scrape_publish(w);
}

/* The worker's publish/subscribe counts, as totals since it started (the
 * slot is this worker's alone, zeroed when it was forked). */
static void pubsub_counted(struct metrics_slot *s)
{
    struct pubsub_stats st;

    pubsub_stats(&st);
    s->c.pubsub_published = st.published;
    s->c.pubsub_delivered = st.delivered;
    s->c.pubsub_dropped = st.dropped_slow + st.refused;
}

void scrape_publish(struct worker *w)
{
    struct metrics_gauges *g;
    size_t size, in_use, waiting;
    int up = redis_up();

    if (w->mslot == NULL)
        return;
    g = &w->mslot->g;
    g->connections = w->nconns;
    g->websockets = ws_count(w);
    g->in_flight = g->pending = 0;
    for (const struct conn *c = w->conns; c != NULL; c = c->next) {
        g->in_flight += c->state == CS_BODY || c->state == CS_PENDING;
        g->pending += c->rq != NULL && c->rq->pending != 0;
    }
    pg_stats(&size, &in_use, &waiting);
    g->pg_configured = w->cfg->pg_dsn != NULL;
    g->pg_size = size;
    g->pg_in_use = in_use;
    g->pg_waiting = waiting;
    g->redis_configured = up >= 0;
    g->redis_up = up > 0;
    pubsub_counted(w->mslot);
}

void scrape_mark(struct conn *c)
{
    const char *path = c->w->cfg->metrics;

    c->rq->req.scrape = path != NULL && strcmp(c->rq->req.path, path) == 0;
    if (c->rq->req.scrape)              /* kiln's own: no route of a capture takes it */
        c->rq->route_res = ROUTER_NOT_FOUND;
}

void scrape_count(struct conn *c, int status, unsigned long long in,
                  unsigned long long out, double seconds)
{
    const struct route *rt = c->rq->req.match.route;
    unsigned row = METRICS_ROW_NONE;

    if (rt != NULL && c->rq->route_res == ROUTER_FOUND)
        row = rt->index < METRICS_ROUTES ? rt->index + 1 : METRICS_ROW_OTHER;
    else if (c->rq->req.scrape)
        row = METRICS_ROW_SELF;
    metrics_count(c->w->mslot, row, status, in, out, seconds);
}

/* Whether c's peer (the socket's, never a forwarded header) may read. */
static int allowed(struct conn *c)
{
    unsigned char addr[16];
    int port;

    return conn_peer(c, addr, &port) == 0 && proxies_match(&c->w->cfg->metrics_allow, addr);
}

int scrape_answer(struct conn *c)
{
    struct kiln_req *r = &c->rq->req;
    struct metrics_view *v;
    int rc;

    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
        return dispatch_out(c, 405, "Allow: GET, HEAD\r\n");
    if (!allowed(c))
        return dispatch_out(c, 403, NULL);
    if ((v = malloc(sizeof *v)) == NULL)
        return dispatch_out(c, 500, NULL);
    scrape_publish(c->w);
    metrics_collect(c->w->metrics, v);
    rc = metrics_render(v, r->resp_body);
    free(v);
    if (rc < 0 || kiln_set_content_type(r, CONTENT_TYPE) < 0)
        return dispatch_out(c, 500, NULL);
    r->status = 200;
    r->compress = -1;
    return dispatch_out(c, 0, NULL);
}
