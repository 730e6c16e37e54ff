/*
 * sleep.c -- the simplest handler that answers later: GET /sleep?ms=N
 * answers "slept N ms" N milliseconds later (0 to 60000, 100 by default),
 * from a timer, while the worker goes on serving everyone else.
 *
 * What a Python developer writes for it in aiohttp:
 *
 *     async def sleep(request):
 *         ms = int(request.query.get("ms", 100))
 *         await asyncio.sleep(ms / 1000)
 *         return web.Response(text=f"slept {ms} ms\n")
 *
 * Here the handler defers its request, starts a timer and returns
 * KILN_PENDING; the timer's callback answers.  If the request is cancelled
 * first (the client left, pending_timeout, the worker stops), the cancel
 * callback stops the timer: whatever a handler starts, its cancel releases.
 */
#include <stdlib.h>
#include <kiln.h>

struct nap {
    kiln_id id;
    kiln_timer *timer;
    long ms;
};

static void wake(kiln_timer *t, void *arg)
{
    struct nap *n = arg;
    kiln_req *req = kiln_pending(n->id);

    (void)t;
    kiln_text(req, 200, "slept %ld ms\n", n->ms);
    kiln_resume(n->id, KILN_OK);
    free(n);
}

static void cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    struct nap *n = arg;

    (void)id;
    (void)why;
    kiln_timer_stop(n->timer);
    free(n);
}

static int sleep_handler(kiln_req *req, void *data)
{
    const char *v = kiln_query(req, "ms");
    struct nap *n;
    char *end;
    long ms = 100;

    (void)data;
    if (v) {
        ms = strtol(v, &end, 10);
        if (*v == '\0' || *end != '\0' || ms < 0 || ms > 60000)
            return kiln_text(req, 400, "ms must be a number of milliseconds, 0 to 60000\n");
    }
    n = malloc(sizeof(*n));
    if (!n)
        return KILN_ERROR;
    n->ms = ms;
    n->id = kiln_defer(req, cancel, n);
    n->timer = n->id ? kiln_timer_start(ms / 1000.0, 0, wake, n) : NULL;
    if (!n->timer) {
        free(n);                /* a 500; the deferral is dropped */
        return KILN_ERROR;
    }
    return KILN_PENDING;
}

static int init(kiln_app *app)
{
    return kiln_add_get(app, "/sleep", sleep_handler, NULL);
}

KILN_PLUGIN("sleep", init, NULL);
