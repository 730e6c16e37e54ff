/*
 * timer.c -- plugins' timers: kiln_timer_start() and kiln_timer_stop() on the
 * worker's libev loop, so that a plugin needs nothing of libev's ABI.
 *
 * Each timer remembers the plugin and route whose code created it, and its
 * callback runs with them marked as running (kiln_log's prefix, and what
 * the master names if the worker dies there).  Timers are kept in one list,
 * so that those a plugin leaves running are freed when the worker stops.
 */
#include <stdlib.h>
#include <ev.h>

#include "kiln.h"
#include "plugin.h"
#include "router.h"
#include "timer.h"
#include "worker.h"

struct kiln_timer {
    ev_timer ev;
    kiln_timer_fn cb;
    void *arg;
    struct plugin *plugin;
    const struct route *route;      /* NULL when created outside a handler */
    struct kiln_timer *prev, *next;
    unsigned running : 1;           /* inside its callback */
    unsigned stopped : 1;           /* stopped from inside it: free after */
};

static struct worker *self;
static struct kiln_timer *timers;

static void unlink_free(struct kiln_timer *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        timers = t->next;
    if (t->next)
        t->next->prev = t->prev;
    free(t);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct kiln_timer *t = w->data;
    struct plugin *outer = plugin_current;

    (void)loop;
    (void)revents;
    t->running = 1;
    if (t->route)
        plugin_enter(self->slot, t->route, "TIMER");
    else
        plugin_current = t->plugin;
    t->cb(t, t->arg);
    if (t->route)
        plugin_leave(self->slot, 0);
    plugin_current = outer;
    t->running = 0;
    if (t->stopped || !ev_is_active(&t->ev))
        unlink_free(t);             /* stopped, or a one-shot that fired */
}

KILN_EXPORT kiln_timer *kiln_timer_start(double after, double repeat, kiln_timer_fn cb,
                                         void *arg)
{
    struct kiln_timer *t;

    if (!self || !cb || !(after >= 0) || !(repeat >= 0) || after > 1e9 || repeat > 1e9)
        return NULL;
    t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->cb = cb;
    t->arg = arg;
    t->plugin = plugin_current;
    t->route = plugin_route;
    ev_timer_init(&t->ev, on_timer, after, repeat);
    t->ev.data = t;
    ev_timer_start(self->loop, &t->ev);
    t->next = timers;
    if (timers)
        timers->prev = t;
    timers = t;
    return t;
}

KILN_EXPORT void kiln_timer_stop(kiln_timer *t)
{
    if (!t || t->stopped)
        return;
    ev_timer_stop(self->loop, &t->ev);
    if (t->running)
        t->stopped = 1;             /* freed when its callback returns */
    else
        unlink_free(t);
}

void timers_init(struct worker *w)
{
    self = w;
}

void timers_shutdown(void)
{
    while (timers) {
        ev_timer_stop(self->loop, &timers->ev);
        unlink_free(timers);
    }
}
