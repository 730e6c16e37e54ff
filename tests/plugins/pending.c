/*
 * Test plugin: handlers that answer later, each showing one rule of the
 * pending API -- /late?ms=N keeps its timer when cancelled and logs what
 * kiln_pending() and kiln_resume() give for its dead id; /inside defers and
 * resumes before returning; /forgot returns KILN_PENDING without deferring;
 * /fails resumes with KILN_ERROR; /empty resumes with nothing set; /ticks
 * answers after three ticks of a repeating timer; /twice defers twice;
 * /pipe?msg=M sends M through a pipe that a readiness watcher, opened by
 * the worker start hook, reads and answers with; /loop tells whether
 * kiln_loop() gives a loop; on the WebSocket /ws-later, "later N" makes a
 * timer send "later done" N ms later through the connection's id, and logs
 * when the connection was gone by then; /hash?mb=N[&ms=M] checksums N MiB (then sleeps M ms) on the
 * thread pool and logs the jobs that a stop dropped.  Every cancel is logged with its
 * reason, and the start and stop hooks log themselves.
 */
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>
#include <kiln.h>

struct late {
    kiln_id id;
    kiln_timer *timer;
    long ms;
    struct late *prev, *next;       /* in lates, until its timer fires */
};

static struct late *lates;          /* freed by the stop hook if still there */

static void late_unlink_free(struct late *l)
{
    if (l->prev)
        l->prev->next = l->next;
    else
        lates = l->next;
    if (l->next)
        l->next->prev = l->prev;
    free(l);
}

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
        late_unlink_free(l);
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
    late_unlink_free(l);
}

static int late(kiln_req *req, void *data)
{
    const char *v = kiln_query(req, "ms");
    struct late *l = calloc(1, sizeof(*l));

    (void)data;
    if (!l)
        return KILN_ERROR;
    l->next = lates;
    if (lates)
        lates->prev = l;
    lates = l;
    l->ms = v ? atol(v) : 100;
    l->id = kiln_defer(req, late_cancel, l);
    l->timer = l->id ? kiln_timer_start(l->ms / 1000.0, 0, late_wake, l) : NULL;
    if (!l->timer) {
        late_unlink_free(l);
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

/* ---- a pipe read by a watcher, opened by the start hook ---- */

static int pipefd[2] = {-1, -1};
static kiln_watch *reader;
static kiln_id waiting;             /* the /pipe request the watcher answers */

static void on_pipe(kiln_watch *w, int fd, int revents, void *arg)
{
    char buf[256];
    ssize_t n = read(fd, buf, sizeof(buf));
    kiln_req *req = kiln_pending(waiting);

    (void)w;
    (void)arg;
    if (n <= 0 || !(revents & KILN_READ) || !req)
        return;
    kiln_text(req, 200, "piped %.*s\n", (int)n, buf);
    kiln_resume(waiting, KILN_OK);
    waiting = 0;
}

static int pipe_route(kiln_req *req, void *data)
{
    const char *msg = kiln_query(req, "msg");

    (void)data;
    if (!msg || waiting || !reader)
        return kiln_text(req, 409, "busy\n");
    waiting = kiln_defer(req, log_cancel, NULL);
    if (!waiting || write(pipefd[1], msg, strlen(msg)) < 0)
        return KILN_ERROR;
    return KILN_PENDING;
}

static int loop_route(kiln_req *req, void *data)
{
    (void)data;
    return kiln_text(req, 200, "loop %s\n", kiln_loop() ? "yes" : "no");
}

static void start(kiln_app *app)
{
    (void)app;
    if (pipe(pipefd) == 0)
        reader = kiln_watch_fd(pipefd[0], KILN_READ, on_pipe, NULL);
    kiln_log(KILN_LOG_INFO, "worker start: watcher %s", reader ? "on" : "off");
}

static void stop(kiln_app *app)
{
    (void)app;
    while (lates) {                 /* cancelled earlier, timer not fired yet */
        kiln_timer_stop(lates->timer);
        late_unlink_free(lates);
    }
    kiln_watch_stop(reader);
    reader = NULL;
    close(pipefd[0]);
    close(pipefd[1]);
    kiln_log(KILN_LOG_INFO, "worker stop");
}

/* ---- a WebSocket sent to from a timer, by id ---- */

static void ws_later_fire(kiln_timer *t, void *arg)
{
    kiln_id *id = arg;
    kiln_ws *ws = kiln_ws_get(*id);

    (void)t;
    if (ws)
        kiln_ws_send_text(ws, "later done");
    else
        kiln_log(KILN_LOG_INFO, "ws-later: connection gone");
    free(id);
}

static void ws_later_message(kiln_ws *ws, int binary, const void *msg, size_t len, void *data)
{
    kiln_id *id;
    long ms;

    (void)binary;
    (void)data;
    if (len < 7 || memcmp(msg, "later ", 6) != 0 || (id = malloc(sizeof(*id))) == NULL)
        return;
    ms = atol((const char *)msg + 6);
    *id = kiln_ws_id(ws);
    if (!kiln_timer_start(ms / 1000.0, 0, ws_later_fire, id))
        free(id);
}

/* ---- work on the thread pool ---- */

struct hash_job {
    kiln_id id;
    long mb;
    long ms;                    /* and then sleeps this long */
    unsigned long sum;
};

static void hash_run(void *arg)
{
    struct hash_job *h = arg;
    unsigned long x = 1469598103934665603ul;
    struct timespec ts = { h->ms / 1000, h->ms % 1000 * 1000000L };

    for (long i = 0; i < h->mb << 20; i++)
        x = (x ^ (unsigned char)(i * 31)) * 1099511628211ul;
    h->sum = x;
    if (h->ms > 0)
        nanosleep(&ts, NULL);
}

static void hash_done(void *arg, int cancelled)
{
    struct hash_job *h = arg;
    kiln_req *req = kiln_pending(h->id);

    if (cancelled)
        kiln_log(KILN_LOG_INFO, "hash: job dropped");
    else if (req) {
        kiln_text(req, 200, "%ld MiB: %lx\n", h->mb, h->sum);
        kiln_resume(h->id, KILN_OK);
    }
    free(h);
}

static int hash_route(kiln_req *req, void *data)
{
    const char *v = kiln_query(req, "mb"), *ms = kiln_query(req, "ms");
    struct hash_job *h = calloc(1, sizeof(*h));

    (void)data;
    if (!h)
        return KILN_ERROR;
    h->mb = v ? atol(v) : 1;
    h->ms = ms ? atol(ms) : 0;
    h->id = kiln_defer(req, log_cancel, NULL);
    if (!h->id || kiln_offload(hash_run, hash_done, h) != 0) {
        free(h);
        return KILN_ERROR;
    }
    return KILN_PENDING;
}

static void never(kiln_timer *t, void *arg)
{
    (void)t;
    (void)arg;
}

static int init(kiln_app *app)
{
    kiln_timer *t = kiln_timer_start(60, 0, never, NULL);

    kiln_log(KILN_LOG_INFO, "init: timer %s, loop %s", t ? "started" : "NULL",
             kiln_loop() ? "yes" : "no");
    kiln_timer_stop(t);
    static const struct kiln_ws_handlers ws_later = {.message = ws_later_message};

    if (kiln_worker_hooks(app, start, stop) != 0 ||
        kiln_add_websocket(app, "/ws-later", &ws_later, NULL) != 0 ||
        kiln_add_get(app, "/late-short", late, NULL) ||
        kiln_route_pending_timeout(app, "GET", "/late-short", 0.5) ||
        kiln_add_get(app, "/pipe", pipe_route, NULL) || kiln_add_get(app, "/hash", hash_route, NULL) || kiln_add_get(app, "/loop", loop_route, NULL))
        return -1;
    return kiln_add_get(app, "/late", late, NULL) || kiln_add_get(app, "/inside", inside, NULL) ||
           kiln_add_get(app, "/forgot", forgot, NULL) || kiln_add_get(app, "/fails", fails, NULL) ||
           kiln_add_get(app, "/empty", empty, NULL) || kiln_add_get(app, "/ticks", ticks, NULL) ||
           kiln_add_get(app, "/twice", twice, NULL) ? -1 : 0;
}

KILN_PLUGIN("pending", init, NULL);
