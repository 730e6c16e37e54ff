/*
 * Test plugin: responses for test_compress.py, each showing one rule of
 * compression -- /body?n=N&type=T answers N bytes of text (a line
 * repeated) as type T (default text/plain; charset=utf-8), with
 * force=on|off calling kiln_compress(), vary=V and etag=E setting those
 * headers, ce=C a Content-Encoding of the handler's own, status=S
 * (204, 206 with a Content-Range, 304) the status; /deferred answers the
 * same body from a timer after kiln_defer(); /stream?n=N&ms=M streams N
 * pieces of 2,000 bytes of text/plain, one every M ms (force=on: after
 * kiln_compress(); len=1: with its length declared).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kiln.h>

#define LINE "the quick brown fox jumps over the lazy dog, again and again\n"

static long qnum(kiln_req *req, const char *name, long def)
{
    const char *v = kiln_query(req, name);

    return v ? strtol(v, NULL, 10) : def;
}

/* n bytes of LINE repeated. */
static void write_text(kiln_req *req, long n)
{
    static const char line[] = LINE;

    for (long i = 0; i < n; i += (long)sizeof(line) - 1) {
        size_t k = (size_t)(n - i) < sizeof(line) - 1 ? (size_t)(n - i) : sizeof(line) - 1;

        kiln_write(req, line, k);
    }
}

/* The response /body and /deferred answer, from the query. */
static int answer(kiln_req *req)
{
    const char *type = kiln_query(req, "type"), *force = kiln_query(req, "force");
    const char *v;
    long status = qnum(req, "status", 200), n = qnum(req, "n", 4000);

    kiln_set_status(req, (int)status);
    kiln_set_content_type(req, type ? type : "text/plain; charset=utf-8");
    if (force)
        kiln_compress(req, strcmp(force, "on") == 0);
    if ((v = kiln_query(req, "vary")) != NULL)
        kiln_add_header(req, "Vary", v);
    if ((v = kiln_query(req, "etag")) != NULL)
        kiln_add_header(req, "ETag", v);
    if ((v = kiln_query(req, "ce")) != NULL)
        kiln_add_header(req, "Content-Encoding", v);
    if (status == 206) {
        char range[64];

        snprintf(range, sizeof(range), "bytes 0-%ld/%ld", n - 1, n * 2);
        kiln_add_header(req, "Content-Range", range);
    }
    write_text(req, n);
    return KILN_OK;
}

static int body(kiln_req *req, void *data)
{
    (void)data;
    return answer(req);
}

static void deferred_tick(kiln_timer *t, void *arg)
{
    kiln_id id = (kiln_id)(size_t)arg;
    kiln_req *req = kiln_pending(id);

    (void)t;
    if (req)
        kiln_resume(id, answer(req));
}

static int deferred(kiln_req *req, void *data)
{
    kiln_id id = kiln_defer(req, NULL, NULL);

    (void)data;
    if (id == 0 || !kiln_timer_start(0.05, 0, deferred_tick, (void *)(size_t)id))
        return KILN_ERROR;
    return KILN_PENDING;
}

struct job {
    kiln_id id;
    kiln_timer *timer;
    long left;
};

static void stream_piece(struct job *j)
{
    char piece[2000];

    for (size_t i = 0; i < sizeof(piece); i++)
        piece[i] = LINE[i % (sizeof(LINE) - 1)];
    kiln_stream_write(j->id, piece, sizeof(piece));
    if (--j->left > 0)
        return;
    kiln_stream_end(j->id);
    kiln_timer_stop(j->timer);
    free(j);
}

static void stream_tick(kiln_timer *t, void *arg)
{
    (void)t;
    stream_piece(arg);
}

static void stream_cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    struct job *j = arg;

    (void)id;
    (void)why;
    kiln_timer_stop(j->timer);
    free(j);
}

static const struct kiln_stream_ops stream_ops = { NULL, stream_cancel };

static int stream(kiln_req *req, void *data)
{
    struct job *j = calloc(1, sizeof(*j));
    double every = (double)qnum(req, "ms", 300) / 1000;
    const char *force = kiln_query(req, "force");

    (void)data;
    if (!j)
        return KILN_ERROR;
    j->left = qnum(req, "n", 2);
    kiln_set_content_type(req, "text/plain; charset=utf-8");
    if (force)
        kiln_compress(req, strcmp(force, "on") == 0);
    j->id = kiln_stream(req, 200, qnum(req, "len", 0) ? 2000 * j->left : -1, &stream_ops, j);
    if (j->id == 0) {
        free(j);
        return KILN_ERROR;
    }
    j->timer = kiln_timer_start(every, every, stream_tick, j);
    stream_piece(j);
    return KILN_PENDING;
}

static int init(kiln_app *app)
{
    return kiln_add_get(app, "/body", body, NULL) |
           kiln_add_get(app, "/deferred", deferred, NULL) |
           kiln_add_get(app, "/stream", stream, NULL);
}

KILN_PLUGIN("compress", init, NULL);
