/*
 * Test plugin: streamed responses and Server-Sent Events, each route showing
 * one rule of the stream API -- /chunks?n=N&ms=M writes "chunk I\n" N times
 * from a timer (defer=1: from a pending request, the stream started by the
 * timer; len=1: with a known length), and when its client leaves logs the
 * cancel and what a write on the dead id gives at the next tick; /fill?kb=N
 * writes N KiB as fast as back-pressure allows, logging the ready callbacks
 * it got and the most unsent bytes it ever saw; /short declares 100 bytes
 * and ends after 10; /over writes past its length; /sse/clock?n=N sends an
 * event "tick" every 100 ms with ids counting on from Last-Event-ID, a retry
 * of 300 ms first, and ends after N; /sse/beat sends one event, a comment,
 * then only heartbeats every 200 ms; /sse/bad tries a CR in an event name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kiln.h>

struct job {
    kiln_id id, pid;                /* the stream's; the pending request's (defer=1) */
    kiln_timer *timer;
    long i, n, ms;
    int gone, known;
    size_t sent, total, max_unsent;
    unsigned readies;
};

static const char *why_name(enum kiln_cancel why)
{
    return why == KILN_CANCEL_GONE ? "gone" : why == KILN_CANCEL_DEADLINE ? "deadline" : "stop";
}

static long qnum(kiln_req *req, const char *name, long def, long max)
{
    const char *v = kiln_query(req, name);
    char *end;
    long n;

    if (!v)
        return def;
    n = strtol(v, &end, 10);
    return *end || n < 0 || n > max ? -1 : n;
}

static void job_free(struct job *j)
{
    if (j->timer)
        kiln_timer_stop(j->timer);
    free(j);
}

/* A client that left: the next tick shows the dead id, then frees. */
static void chunks_cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    struct job *j = arg;

    kiln_log(KILN_LOG_INFO, "chunks cancelled %s after %ld, unsent %zu", why_name(why),
             j->i, kiln_stream_unsent(id));
    if (why == KILN_CANCEL_GONE) {
        j->gone = 1;
        return;
    }
    job_free(j);
}

static const struct kiln_stream_ops chunks_ops = { NULL, chunks_cancel };

static void chunks_start(struct job *j, kiln_req *req)
{
    long long len = -1;

    if (j->known)                   /* "chunk I\n" with I < 10 is 8 bytes */
        len = 8LL * j->n;
    kiln_set_content_type(req, "text/plain");
    kiln_add_header(req, "X-Stream", "chunks");
    j->id = kiln_stream(req, 200, len, &chunks_ops, j);
}

static void chunks_tick(kiln_timer *t, void *arg)
{
    struct job *j = arg;
    char line[32];
    int n, rc;

    (void)t;
    if (j->gone) {
        rc = kiln_stream_write(j->id, "late\n", 5);
        kiln_log(KILN_LOG_INFO, "write after cancel: %d, end %d", rc, kiln_stream_end(j->id));
        job_free(j);
        return;
    }
    if (j->id == 0) {               /* defer=1: the pending request streams now */
        chunks_start(j, kiln_pending(j->pid));
        kiln_log(KILN_LOG_INFO, "stream from pending: pending now %s",
                 kiln_pending(j->pid) ? "alive" : "dead");
        if (j->id == 0) {
            job_free(j);
            return;
        }
    }
    n = snprintf(line, sizeof(line), "chunk %ld\n", j->i);
    kiln_stream_write(j->id, line, (size_t)n);
    if (++j->i == j->n) {
        kiln_stream_end(j->id);
        job_free(j);
    }
}

static void pending_cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    (void)id;
    kiln_log(KILN_LOG_INFO, "pending cancelled %s", why_name(why));
    job_free(arg);
}

static int chunks(kiln_req *req, void *data)
{
    struct job *j = calloc(1, sizeof(*j));

    (void)data;
    if (!j)
        return KILN_ERROR;
    j->n = qnum(req, "n", 5, 9);
    j->ms = qnum(req, "ms", 100, 60000);
    j->known = qnum(req, "len", 0, 1) == 1;
    if (j->n <= 0 || j->ms < 0) {
        free(j);
        return kiln_text(req, 400, "bad n or ms\n");
    }
    if (qnum(req, "defer", 0, 1) == 1)
        j->pid = kiln_defer(req, pending_cancel, j);
    else
        chunks_start(j, req);
    j->timer = kiln_timer_start(j->ms / 1000.0, j->ms / 1000.0, chunks_tick, j);
    if ((j->id == 0 && j->pid == 0) || !j->timer) {
        job_free(j);
        return KILN_ERROR;
    }
    return KILN_PENDING;
}

/* ---- /fill ------------------------------------------------------------------- */

static void flood_write(struct job *j)
{
    static char block[16384];
    size_t n, unsent;
    int rc = 1;

    while (rc == 1 && j->sent < j->total) {
        n = j->total - j->sent < sizeof(block) ? j->total - j->sent : sizeof(block);
        memset(block, 'a' + (int)(j->sent / sizeof(block) % 26), n);
        rc = kiln_stream_write(j->id, block, n);
        if (rc < 0)
            return;
        j->sent += n;
        unsent = kiln_stream_unsent(j->id);
        if (unsent > j->max_unsent)
            j->max_unsent = unsent;
    }
    if (j->sent == j->total) {
        kiln_log(KILN_LOG_INFO, "flood done: %zu bytes, %u readies, max unsent %zu",
                 j->sent, j->readies, j->max_unsent);
        kiln_stream_end(j->id);
        free(j);
    }
}

static void flood_ready(kiln_id id, void *arg)
{
    struct job *j = arg;

    (void)id;
    j->readies++;
    if (j->readies == 1)
        kiln_log(KILN_LOG_INFO, "flood waits: %zu bytes written, max unsent %zu",
                 j->sent, j->max_unsent);
    flood_write(j);
}

static void flood_cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    struct job *j = arg;

    kiln_log(KILN_LOG_INFO, "flood cancelled %s after %zu bytes, max unsent %zu, write %d",
             why_name(why), j->sent, j->max_unsent, kiln_stream_write(id, "x", 1));
    free(j);
}

static const struct kiln_stream_ops flood_ops = { flood_ready, flood_cancel };

static int flood(kiln_req *req, void *data)
{
    struct job *j = calloc(1, sizeof(*j));
    long kb = qnum(req, "kb", 1024, 1 << 20);

    (void)data;
    if (!j || kb < 0) {
        free(j);
        return KILN_ERROR;
    }
    j->total = (size_t)kb * 1024;
    kiln_set_content_type(req, "application/octet-stream");
    j->id = kiln_stream(req, 200, (long long)j->total, &flood_ops, j);
    if (j->id == 0) {
        free(j);
        return KILN_ERROR;
    }
    flood_write(j);
    return KILN_PENDING;
}

/* ---- lengths that are not kept ------------------------------------------------- */

static int short_body(kiln_req *req, void *data)
{
    kiln_id id = kiln_stream(req, 200, 100, NULL, NULL);

    (void)data;
    kiln_stream_write(id, "0123456789", 10);
    kiln_stream_end(id);
    return KILN_PENDING;
}

static int over(kiln_req *req, void *data)
{
    kiln_id id = kiln_stream(req, 200, 4, NULL, NULL);
    int a, b;

    (void)data;
    a = kiln_stream_write(id, "abc", 3);
    b = kiln_stream_write(id, "de", 2);
    kiln_log(KILN_LOG_INFO, "over: %d %d, end %d", a, b, kiln_stream_end(id));
    return KILN_PENDING;
}

static int bad_status(kiln_req *req, void *data)
{
    (void)data;
    if (kiln_stream(req, 204, -1, NULL, NULL) != 0 || kiln_stream(req, 200, -2, NULL, NULL) != 0)
        return KILN_ERROR;
    return kiln_text(req, 200, "refused\n");
}

/* ---- Server-Sent Events ---------------------------------------------------------- */

static void sse_cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    struct job *j = arg;

    (void)id;
    kiln_log(KILN_LOG_INFO, "sse cancelled %s after %ld events", why_name(why), j->i);
    job_free(j);
}

static const struct kiln_stream_ops sse_ops = { NULL, sse_cancel };

static void clock_tick(kiln_timer *t, void *arg)
{
    struct job *j = arg;
    char id[24], data[64];

    (void)t;
    snprintf(id, sizeof(id), "%ld", j->sent + j->i + 1);
    snprintf(data, sizeof(data), "tick %ld\nline two", j->sent + j->i + 1);
    kiln_sse_send(j->id, "tick", data, id);
    if (++j->i == j->n) {
        kiln_stream_end(j->id);
        job_free(j);
    }
}

static int sse_clock(kiln_req *req, void *data)
{
    struct job *j = calloc(1, sizeof(*j));
    const char *last = kiln_header(req, "Last-Event-ID");

    (void)data;
    if (!j)
        return KILN_ERROR;
    j->n = qnum(req, "n", 5, 1000);
    j->sent = last ? strtoul(last, NULL, 10) : 0;   /* ids go on from there */
    kiln_log(KILN_LOG_INFO, "sse clock from %s", last ? last : "(none)");
    j->id = kiln_sse(req, &sse_ops, j);
    if (j->id == 0 || j->n <= 0) {
        free(j);
        return KILN_ERROR;
    }
    kiln_sse_retry(j->id, 300);
    j->timer = kiln_timer_start(0.1, 0.1, clock_tick, j);
    return KILN_PENDING;
}

static int sse_beat(kiln_req *req, void *data)
{
    struct job *j = calloc(1, sizeof(*j));

    (void)data;
    if (!j)
        return KILN_ERROR;
    j->id = kiln_sse(req, &sse_ops, j);
    if (j->id == 0) {
        free(j);
        return KILN_ERROR;
    }
    kiln_sse_send(j->id, NULL, "hello", NULL);
    kiln_sse_comment(j->id, "just a comment");
    kiln_sse_heartbeat(j->id, 0.2);
    return KILN_PENDING;
}

static int sse_bad(kiln_req *req, void *data)
{
    kiln_id id = kiln_sse(req, NULL, NULL);

    (void)data;
    kiln_log(KILN_LOG_INFO, "sse bad: %d %d, retry %d", kiln_sse_send(id, "a\rb", "x", NULL),
             kiln_sse_send(id, NULL, "x", "1\n2"), kiln_sse_retry(id, -1));
    kiln_sse_send(id, "ok", "", NULL);
    kiln_stream_end(id);
    return KILN_PENDING;
}

static int init(kiln_app *app)
{
    return kiln_add_get(app, "/chunks", chunks, NULL) | kiln_add_get(app, "/fill", flood, NULL) |
           kiln_add_get(app, "/short", short_body, NULL) | kiln_add_get(app, "/over", over, NULL) |
           kiln_add_get(app, "/bad-status", bad_status, NULL) |
           kiln_add_get(app, "/sse/clock", sse_clock, NULL) |
           kiln_add_get(app, "/sse/beat", sse_beat, NULL) |
           kiln_add_get(app, "/sse/bad", sse_bad, NULL);
}

KILN_PLUGIN("stream", init, NULL);
