/*
 * loop.c -- a plugin's own work on the worker's libev loop: timers
 * (kiln_timer_*), readiness watchers on its own fds (kiln_watch_*), and
 * kiln_loop() for libraries that bring a libev adapter.  A plugin needs
 * nothing of libev's ABI for the first two.
 *
 * Each timer and watcher remembers the plugin and route whose code created
 * it, and its callback runs with them marked as running (kiln_log's
 * prefix, and what the master names if the worker dies there).  They are
 * kept in lists, so that those a plugin leaves running are freed when the
 * worker stops.
 */
#include <stdlib.h>
#include <ev.h>

#include "kiln.h"
#include "plugin.h"
#include "router.h"
#include "loop.h"
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

/* ---- readiness watchers ----------------------------------------------------- */

struct kiln_watch {
    ev_io ev;
    kiln_watch_fn cb;
    void *arg;
    struct plugin *plugin;
    const struct route *route;
    struct kiln_watch *prev, *next;
    unsigned running : 1;
    unsigned stopped : 1;
};

static struct kiln_watch *watches;

static void watch_free(struct kiln_watch *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    free(w);
}

static int ev_events(int events)
{
    return (events & KILN_READ ? EV_READ : 0) | (events & KILN_WRITE ? EV_WRITE : 0);
}

static void on_ready(struct ev_loop *loop, ev_io *io, int revents)
{
    struct kiln_watch *w = io->data;
    struct plugin *outer = plugin_current;

    (void)loop;
    w->running = 1;
    if (w->route)
        plugin_enter(self->slot, w->route, "WATCH");
    else
        plugin_current = w->plugin;
    w->cb(w, w->ev.fd, (revents & EV_READ ? KILN_READ : 0) | (revents & EV_WRITE ? KILN_WRITE : 0),
          w->arg);
    if (w->route)
        plugin_leave(self->slot, 0);
    plugin_current = outer;
    w->running = 0;
    if (w->stopped)
        watch_free(w);
}

KILN_EXPORT kiln_watch *kiln_watch_fd(int fd, int events, kiln_watch_fn cb, void *arg)
{
    struct kiln_watch *w;

    if (!self || !cb || fd < 0 || (events & ~(KILN_READ | KILN_WRITE)))
        return NULL;
    w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->cb = cb;
    w->arg = arg;
    w->plugin = plugin_current;
    w->route = plugin_route;
    ev_io_init(&w->ev, on_ready, fd, ev_events(events));
    w->ev.data = w;
    if (events)
        ev_io_start(self->loop, &w->ev);
    w->next = watches;
    if (watches)
        watches->prev = w;
    watches = w;
    return w;
}

KILN_EXPORT int kiln_watch_set(kiln_watch *w, int events)
{
    if (!w || w->stopped || (events & ~(KILN_READ | KILN_WRITE)))
        return -1;
    if ((w->ev.events & (EV_READ | EV_WRITE)) == ev_events(events) && ev_is_active(&w->ev))
        return 0;
    ev_io_stop(self->loop, &w->ev);
    ev_io_set(&w->ev, w->ev.fd, ev_events(events));
    if (events)
        ev_io_start(self->loop, &w->ev);
    return 0;
}

KILN_EXPORT void kiln_watch_stop(kiln_watch *w)
{
    if (!w || w->stopped)
        return;
    ev_io_stop(self->loop, &w->ev);
    if (w->running)
        w->stopped = 1;
    else
        watch_free(w);
}

KILN_EXPORT void *kiln_loop(void)
{
    return self ? self->loop : NULL;
}

void loop_init(struct worker *w)
{
    self = w;
}

void loop_shutdown(void)
{
    while (timers) {
        ev_timer_stop(self->loop, &timers->ev);
        unlink_free(timers);
    }
    while (watches) {
        ev_io_stop(self->loop, &watches->ev);
        watch_free(watches);
    }
}
