/*
 * conn_timer.c -- a connection's deadline: the one of its current state
 * (idle, header block, body, pending answer, stalled write, lingering
 * close), and its one ev_timer, re-armed lazily to it.
 *
 * A read or a write only stores the time; the timer is moved only when a
 * deadline comes earlier than the armed one, and when it fires conn.c asks
 * for the deadline again before acting (activity since: it sleeps on).
 */
#include "config.h"
#include "conn_private.h"
#include "stream.h"
#include "worker.h"

#define LINGER_TIME 2.0             /* s to wait for the peer's EOF */
#define DRAIN_IDLE 1.0              /* s an idle connection may wait for one
                                       more request while the worker drains */
#define STREAM_IDLE 1e9             /* s: a stream with nothing unsent has no deadline */

/* A pending request's time to answer: its route's, or the server's. */
double conn_pending_timeout(const struct conn *c)
{
    const struct route *rt = c->rq->req.match.route;

    return rt && rt->pending_timeout > 0 ? rt->pending_timeout : c->w->cfg->pending_timeout;
}

/* The deadline of the connection's current state. */
double conn_deadline(const struct conn *c)
{
    const struct config *cfg = c->w->cfg;

    if (c->state == CS_LINGER)
        return c->rq->linger_start + LINGER_TIME;
    if (c->rq && (c->rq->out.len > 0 || stream_file_left(c)))
        return c->rq->last_io + cfg->body_timeout;      /* stalled write */
    switch (c->state) {
    case CS_HEAD:
        return c->rq->head_start + cfg->header_timeout;
    case CS_BODY:
        if (c->rq->body_paused)         /* its reader's time, not the client's */
            return c->rq->pending_since + conn_pending_timeout(c);
        return c->rq->last_io + cfg->body_timeout;
    case CS_PENDING:
        if (c->rq->stream)              /* pending_timeout ends at kiln_stream() */
            return ev_now(c->w->loop) + STREAM_IDLE;
        return c->rq->pending_since + conn_pending_timeout(c);
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
void conn_timer_update(struct conn *c)
{
    double at = conn_deadline(c);

    if (ev_is_active(&c->timer) && at >= c->timer_at)
        return;
    ev_timer_stop(c->w->loop, &c->timer);
    ev_timer_set(&c->timer, at - ev_now(c->w->loop), 0.);
    ev_timer_start(c->w->loop, &c->timer);
    c->timer_at = at;
}
