/*
 * sse_plugin.c -- the kiln side of bench/sse.sh: GET /events opens a
 * Server-Sent Events stream that gets "event: hello" at once, then, with
 * every other open stream, "event: tick" from one timer per worker every
 * [ssebench] interval seconds (2), and a heartbeat after 15 s of silence;
 * GET / answers "Hello, Anonymous" (the bench's readiness check).
 * Built by bench/sse.sh with `cc -shared -fPIC`; not part of the make graph.
 */
#include <stdio.h>
#include <stdlib.h>
#include <kiln.h>

struct sub {
    kiln_id id;
    struct sub *prev, *next;
};

static struct sub *subs;             /* the worker's open streams */
static unsigned long ticks;
static double interval = 2.0;

static void unlink_sub(struct sub *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    free(s);
}

static void on_cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    (void)id;
    (void)why;
    unlink_sub(arg);
}

static const struct kiln_stream_ops ops = { NULL, on_cancel };

static void on_tick(kiln_timer *t, void *arg)
{
    char data[32];
    struct sub *s;

    (void)t;
    (void)arg;
    snprintf(data, sizeof(data), "%lu", ++ticks);
    for (s = subs; s != NULL; s = s->next)
        kiln_sse_send(s->id, "tick", data, NULL);
}

static int on_events(kiln_req *req, void *data)
{
    struct sub *s = calloc(1, sizeof(*s));

    (void)data;
    if (s == NULL)
        return KILN_ERROR;
    s->id = kiln_sse(req, &ops, s);
    if (s->id == 0) {
        free(s);
        return KILN_ERROR;
    }
    s->next = subs;
    if (subs)
        subs->prev = s;
    subs = s;
    kiln_sse_send(s->id, "hello", "welcome", NULL);
    kiln_sse_heartbeat(s->id, 15.0);
    return KILN_PENDING;
}

static int on_root(kiln_req *req, void *data)
{
    (void)data;
    return kiln_text(req, 200, "Hello, Anonymous");
}

static void on_start(kiln_app *app)
{
    (void)app;
    if (kiln_timer_start(interval, interval, on_tick, NULL) == NULL)
        kiln_log(KILN_LOG_ERROR, "ssebench: no timer");
}

static int init(kiln_app *app)
{
    interval = atof(kiln_config(app, "interval", "2"));
    if (interval <= 0)
        interval = 2.0;
    return kiln_add_get(app, "/events", on_events, NULL)
        || kiln_add_get(app, "/", on_root, NULL)
        || kiln_worker_hooks(app, on_start, NULL);
}

KILN_PLUGIN("ssebench", init, NULL);
