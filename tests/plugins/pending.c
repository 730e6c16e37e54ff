/*
 * Test plugin: handlers that answer later, each showing one rule of the
 * pending API -- /late?ms=N keeps its timer when cancelled and logs what
 * kiln_pending() and kiln_resume() give for its dead id; /inside defers and
 * resumes before returning; /forgot returns KILN_PENDING without deferring;
 * /fails resumes with KILN_ERROR; /empty resumes with nothing set; /ticks
 * answers after three ticks of a repeating timer; /twice defers twice.
 * Every cancel is logged with its reason.
 */
#include <stdlib.h>
#include <kiln.h>

struct late {
    kiln_id id;
    kiln_timer *timer;
    long ms;
};

static const char *why_name(enum kiln_cancel why)
{
    return why == KILN_CANCEL_GONE ? "gone" : why == KILN_CANCEL_DEADLINE ? "deadline" : "stop";
}

static void log_cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    (void)arg;
    kiln_log(KILN_LOG_INFO, "cancelled %s: pending %s", why_name(why),
             kiln_pending(id) ? "alive" : "dead");
}

/* /late keeps its timer when cancelled, to show what a dead id gives;
 * only a stopping worker, where the timer would never fire, frees it. */
static void late_cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    struct late *l = arg;

    log_cancel(id, why, NULL);
    if (why == KILN_CANCEL_STOP) {
        kiln_timer_stop(l->timer);
        free(l);
    }
}

static void late_wake(kiln_timer *t, void *arg)
{
    struct late *l = arg;
    kiln_req *req = kiln_pending(l->id);

    (void)t;
    if (req)
        kiln_text(req, 200, "late %ld\n", l->ms);
    else
        kiln_log(KILN_LOG_INFO, "late: pending NULL, resume %d", kiln_resume(l->id, KILN_OK));
    if (req)
        kiln_resume(l->id, KILN_OK);
    free(l);
}

static int late(kiln_req *req, void *data)
{
    const char *v = kiln_query(req, "ms");
    struct late *l = malloc(sizeof(*l));

    (void)data;
    if (!l)
        return KILN_ERROR;
    l->ms = v ? atol(v) : 100;
    l->id = kiln_defer(req, late_cancel, l);
    l->timer = l->id ? kiln_timer_start(l->ms / 1000.0, 0, late_wake, l) : NULL;
    if (!l->timer) {
        free(l);
        return KILN_ERROR;
    }
    return KILN_PENDING;
}

static int inside(kiln_req *req, void *data)
{
    kiln_id id = kiln_defer(req, log_cancel, NULL);

    (void)data;
    kiln_text(kiln_pending(id), 200, "resumed inside\n");
    kiln_resume(id, KILN_OK);
    return KILN_PENDING;
}

static int forgot(kiln_req *req, void *data)
{
    (void)req;
    (void)data;
    return KILN_PENDING;
}

static void resume_error(kiln_timer *t, void *arg)
{
    (void)t;
    kiln_resume(*(kiln_id *)arg, KILN_ERROR);
    free(arg);
}

static void resume_ok(kiln_timer *t, void *arg)
{
    (void)t;
    kiln_resume(*(kiln_id *)arg, KILN_OK);
    free(arg);
}

static int later_with(kiln_req *req, kiln_timer_fn fn)
{
    kiln_id *id = malloc(sizeof(*id));

    if (!id)
        return KILN_ERROR;
    *id = kiln_defer(req, log_cancel, NULL);
    if (!*id || !kiln_timer_start(0.01, 0, fn, id)) {
        free(id);
        return KILN_ERROR;
    }
    return KILN_PENDING;
}

static int fails(kiln_req *req, void *data)
{
    (void)data;
    return later_with(req, resume_error);
}

static int empty(kiln_req *req, void *data)
{
    (void)data;
    return later_with(req, resume_ok);
}

struct ticker {
    kiln_id id;
    int n;
};

static void tick(kiln_timer *t, void *arg)
{
    struct ticker *k = arg;

    if (++k->n < 3)
        return;
    kiln_timer_stop(t);
    kiln_text(kiln_pending(k->id), 200, "ticks %d\n", k->n);
    kiln_resume(k->id, KILN_OK);
    free(k);
}

static int ticks(kiln_req *req, void *data)
{
    struct ticker *k = calloc(1, sizeof(*k));

    (void)data;
    if (!k)
        return KILN_ERROR;
    k->id = kiln_defer(req, log_cancel, NULL);
    if (!k->id || !kiln_timer_start(0.01, 0.01, tick, k)) {
        free(k);
        return KILN_ERROR;
    }
    return KILN_PENDING;
}

static int twice(kiln_req *req, void *data)
{
    kiln_id a = kiln_defer(req, NULL, NULL), b = kiln_defer(req, NULL, NULL);

    (void)data;
    return kiln_text(req, 200, "first %s, second %s\n", a ? "id" : "0", b ? "id" : "0");
}

static int init(kiln_app *app)
{
    return kiln_add_get(app, "/late", late, NULL) || kiln_add_get(app, "/inside", inside, NULL) ||
           kiln_add_get(app, "/forgot", forgot, NULL) || kiln_add_get(app, "/fails", fails, NULL) ||
           kiln_add_get(app, "/empty", empty, NULL) || kiln_add_get(app, "/ticks", ticks, NULL) ||
           kiln_add_get(app, "/twice", twice, NULL) ? -1 : 0;
}

KILN_PLUGIN("pending", init, NULL);
