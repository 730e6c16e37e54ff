/*
 * pending.c -- requests answered later: the ids of pending requests, their
 * resumption on the loop, and their cancellation.
 *
 * A pending request is a connection in CS_PENDING whose handler called
 * kiln_defer().  Its id names a slot of a table (low 32 bits: the slot,
 * high 32 bits: the slot's generation), so that an id outlives its request
 * safely: a dead id finds a slot of another generation, or a free one.
 * kiln_resume() only queues the id; a prepare watcher completes the queued
 * requests before the loop next waits, so a response never goes out from
 * inside a plugin's callback (and a handler never runs inside another).
 */
#include <stdint.h>
#include <stdlib.h>

#include "conn_private.h"
#include "log.h"
#include "pending.h"
#include "plugin.h"
#include "worker.h"

struct slot {
    uint32_t gen;                   /* odd while in use */
    uint32_t next_free;             /* index + 1, or 0 */
    struct conn *conn;
    kiln_cancel_fn cancel;
    void *arg;
    const struct route *route;      /* whose handler deferred it */
};

struct resume {
    kiln_id id;
    int result;
};

static struct worker *self;
static struct slot *slots;
static uint32_t nslots, cap_slots, free_head;
static struct resume *queue;        /* resumed, not yet completed */
static size_t nqueue, cap_queue;
static ev_prepare completer;

static kiln_id id_of(uint32_t i)
{
    return ((kiln_id)slots[i].gen << 32) | (i + 1);
}

/* The slot of a live id, or NULL. */
static struct slot *slot_of(kiln_id id)
{
    uint32_t i = (uint32_t)(id & 0xffffffffu), gen = (uint32_t)(id >> 32);

    if (i == 0 || i > nslots || slots[i - 1].gen != gen || !(gen & 1))
        return NULL;
    return &slots[i - 1];
}

static void slot_free(struct slot *s)
{
    s->gen++;                       /* even: free, and every old id is dead */
    s->conn = NULL;
    s->next_free = free_head;
    free_head = (uint32_t)(s - slots) + 1;
}

static int slots_grow(void)
{
    uint32_t cap = cap_slots ? cap_slots * 2 : 64;
    struct slot *p = realloc(slots, cap * sizeof(*p));

    if (!p)
        return -1;
    slots = p;
    cap_slots = cap;
    return 0;
}

kiln_id pending_new(struct conn *c, kiln_cancel_fn cancel, void *arg)
{
    struct slot *s;
    uint32_t i;

    if (free_head) {
        i = free_head - 1;
        free_head = slots[i].next_free;
    } else {
        if (nslots == cap_slots && slots_grow() < 0)
            return 0;
        i = nslots++;
        slots[i].gen = 0;
    }
    s = &slots[i];
    s->gen++;                       /* odd: in use */
    s->next_free = 0;
    s->conn = c;
    s->cancel = cancel;
    s->arg = arg;
    s->route = c->req.match.route;
    return id_of(i);
}

void pending_forget(kiln_id id)
{
    struct slot *s = slot_of(id);

    if (s)
        slot_free(s);
}

void pending_cancel(struct conn *c, enum kiln_cancel why)
{
    struct slot *s = slot_of(c->pending);
    kiln_cancel_fn cancel;
    kiln_id id = c->pending;
    void *arg;

    c->pending = 0;
    if (!s)
        return;
    cancel = s->cancel;
    arg = s->arg;
    log_debug("%s %s: pending request cancelled (%s)", c->req.method, c->req.target,
                  why == KILN_CANCEL_GONE ? "client gone" :
              why == KILN_CANCEL_DEADLINE ? "pending_timeout" : "worker stopping");
    if (cancel && s->route) {
        plugin_enter(self->slot, s->route, c->req.method);
        slot_free(s);               /* dead from the callback's first line */
        cancel(id, why, arg);
        plugin_leave(self->slot, 0);
    } else {
        slot_free(s);
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
        struct slot *s = slot_of(queue[i].id);
        struct conn *c;

        if (!s)
            continue;               /* cancelled since */
        c = s->conn;
        slot_free(s);
        c->pending = 0;
        conn_resume(c, queue[i].result);
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

    if (!c || !c->in_handler || c->pending)
        return 0;
    c->pending = pending_new(c, cancel, arg);
    return c->pending;
}

KILN_EXPORT kiln_req *kiln_pending(kiln_id id)
{
    struct slot *s = slot_of(id);

    return s ? &s->conn->req : NULL;
}

KILN_EXPORT int kiln_resume(kiln_id id, int result)
{
    struct slot *s = slot_of(id);

    if (!s)
        return -1;
    if (s->conn->in_handler) {      /* resumed before its handler returned */
        s->conn->resumed = 1;
        s->conn->resume_result = result;
        return 0;
    }
    return queue_push(id, result);
}

void pending_init(struct worker *w)
{
    self = w;
    ev_prepare_init(&completer, on_prepare);
}

void pending_shutdown(void)
{
    if (self && ev_is_active(&completer))
        ev_prepare_stop(self->loop, &completer);
    free(slots);
    free(queue);
    slots = NULL;
    queue = NULL;
    nslots = cap_slots = free_head = 0;
    nqueue = cap_queue = 0;
}
