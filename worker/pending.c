/*
 * pending.c -- requests answered later: the ids of pending requests, their
 * resumption on the loop, and their cancellation.
 *
 * A pending request is a connection in CS_PENDING whose handler called
 * kiln_defer().  Its id is a handle (core/handles.c) of the connection, so
 * that an id outlives its request safely.
 * kiln_resume() only queues the id; a prepare watcher completes the queued
 * requests before the loop next waits, so a response never goes out from
 * inside a plugin's callback (and a handler never runs inside another).
 * From kiln_resume() on, the request counts as answered (c->rq->resumed): the
 * plugin may free what its cancel callback would use, so a connection that
 * ends before the completion (its EOF read later in the same loop turn)
 * drops the request without running that callback.
 */
#include <stdlib.h>

#include "conn_private.h"
#include "handles.h"
#include "log.h"
#include "middleware.h"
#include "pending.h"
#include "plugin.h"
#include "worker.h"

struct resume {
    kiln_id id;
    int result;
};

static struct worker *self;
static struct handles ids;          /* id -> the pending request's conn */
static struct resume *queue;        /* resumed, not yet completed */
static size_t nqueue, cap_queue;
static ev_prepare completer;
static void (*complete)(struct conn *c, int result);    /* conn_resume */

kiln_id pending_new(struct conn *c, kiln_cancel_fn cancel, void *arg)
{
    c->rq->cancel = cancel;
    c->rq->cancel_arg = arg;
    return handle_new(&ids, c);
}

struct conn *pending_conn(kiln_id id)
{
    return handle_get(&ids, id);
}

void pending_forget(kiln_id id)
{
    handle_free(&ids, id);
}

void pending_cancel(struct conn *c, enum kiln_cancel why)
{
    const struct route *rt = c->rq->req.match.route;
    kiln_id id = c->rq->pending;

    c->rq->pending = 0;
    if (!handle_get(&ids, id))
        return;
    handle_free(&ids, id);          /* dead from the callback's first line */
    if (c->rq->resumed) {               /* answered, not sent yet: nothing to cancel */
        c->rq->resumed = 0;
        log_debug("%s %s: answered, but the connection ended before it was sent",
                  c->rq->req.method, c->rq->req.target);
        return;
    }
    log_debug("%s %s: pending request cancelled (%s)", c->rq->req.method, c->rq->req.target,
              why == KILN_CANCEL_GONE ? "client gone" :
              why == KILN_CANCEL_DEADLINE ? "pending_timeout" : "worker stopping");
    if (c->rq->cancel && c->rq->req.mw.before_pending) {     /* a middleware's */
        struct plugin *outer = plugin_current;

        plugin_current = mw_pending_plugin(c);
        c->rq->cancel(id, why, c->rq->cancel_arg);
        plugin_current = outer;
    } else if (c->rq->cancel && rt) {
        plugin_enter(self->slot, rt, c->rq->req.method);
        c->rq->cancel(id, why, c->rq->cancel_arg);
        plugin_leave(self->slot, 0);
    }
}

/* ---- resumption --------------------------------------------------------- */

/* Completes the requests resumed since the loop last waited. */
static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
    size_t i;

    (void)revents;
    /* A completion may run handlers that resume others: take them in turns. */
    for (i = 0; i < nqueue; i++) {
        struct conn *c = handle_get(&ids, queue[i].id);

        if (!c)
            continue;               /* its connection ended since */
        handle_free(&ids, queue[i].id);
        c->rq->pending = 0;
        c->rq->resumed = 0;
        complete(c, queue[i].result);
    }
    nqueue = 0;
    ev_prepare_stop(loop, w);
}

static int queue_push(kiln_id id, int result)
{
    if (nqueue == cap_queue) {
        size_t cap = cap_queue ? cap_queue * 2 : 64;
        struct resume *p = realloc(queue, cap * sizeof(*p));

        if (!p)
            return -1;
        queue = p;
        cap_queue = cap;
    }
    queue[nqueue].id = id;
    queue[nqueue].result = result;
    nqueue++;
    if (!ev_is_active(&completer))
        ev_prepare_start(self->loop, &completer);
    return 0;
}

/* ---- the plugin API -------------------------------------------------------- */

KILN_EXPORT kiln_id kiln_defer(kiln_req *req, kiln_cancel_fn cancel, void *arg)
{
    struct conn *c = req ? req->conn : NULL;

    if (!c || !c->rq->in_handler || c->rq->pending)
        return 0;
    c->rq->pending = pending_new(c, cancel, arg);
    return c->rq->pending;
}

KILN_EXPORT kiln_req *kiln_pending(kiln_id id)
{
    struct conn *c = handle_get(&ids, id);

    return c && !c->rq->resumed ? &c->rq->req : NULL;
}

KILN_EXPORT int kiln_resume(kiln_id id, int result)
{
    struct conn *c = handle_get(&ids, id);

    if (!c || c->rq->resumed)
        return -1;
    if (c->rq->in_handler) {            /* resumed before its handler returned */
        c->rq->resumed = 1;
        c->rq->resume_result = result;
        return 0;
    }
    if (queue_push(id, result) < 0)
        return -1;
    c->rq->resumed = 1;                 /* answered: no cancel callback from now on */
    return 0;
}

void pending_init(struct worker *w, void (*completion)(struct conn *c, int result))
{
    self = w;
    complete = completion;
    ev_prepare_init(&completer, on_prepare);
}

void pending_shutdown(void)
{
    if (self && ev_is_active(&completer))
        ev_prepare_stop(self->loop, &completer);
    handles_clear(&ids);
    free(queue);
    queue = NULL;
    nqueue = cap_queue = 0;
}
