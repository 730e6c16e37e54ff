/*
 * body.c -- where a request body's bytes go: into memory (c->rq->body), through
 * the multipart parser as they arrive (a form's files past
 * upload_spool_size continue into temporary files), or to a plugin's
 * reader (kiln_body_stream()) with back-pressure; and the reader's ids,
 * pause and resumption.
 *
 * A reader is a pending request (pending.c) whose handler ran once the
 * header block was read, in state CS_BODY: its id is the pending id, and
 * the pending request's cancel callback is the reader's own (its end
 * callback until the body ended, ops->cancel after).  A pause stops the
 * parser after the piece just delivered and the connection's reading
 * (conn_body_pause()): the client's bytes stay in the kernel's socket
 * buffer and then the client's, so a slow consumer fills the TCP window,
 * not the worker's memory.  kiln_body_resume() only queues the id; a
 * prepare watcher restarts the parse before the loop next waits, so a data
 * callback never runs inside a plugin's call.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "body.h"
#include "config.h"
#include "conn_private.h"
#include "form_data.h"
#include "log.h"
#include "pending.h"
#include "plugin.h"
#include "worker.h"

struct body_reader {
    struct kiln_body_ops ops;
    void *arg;
    kiln_id id;
    unsigned ended : 1;             /* the end callback ran (KILN_BODY_DONE) */
};

static struct worker *self;
static struct form_spool spool;     /* [server] upload_* */
static ev_prepare waker;
static kiln_id *wake;               /* readers resumed, their parse not restarted */
static size_t nwake, cap_wake;

/* ---- choosing the sink ------------------------------------------------------ */

/* Whether the request's Content-Type is multipart/form-data (any case). */
static int is_multipart(const struct kiln_req *r, const char **ct)
{
    static const char type[] = "multipart/form-data";
    const char *v = request_header(r, "Content-Type", NULL);

    *ct = v;
    return v && strncasecmp(v, type, sizeof(type) - 1) == 0 &&
           strchr(" \t;", v[sizeof(type) - 1]) != NULL && v[sizeof(type) - 1] != '\0';
}

/* A multipart body parsed as it arrives, when its boundary is good (else
 * it stays in memory, and kiln_form_error() says why on first use). */
static int begin_form(struct conn *c, const char *ct)
{
    struct kiln_req *r = &c->rq->req;
    struct form_data *f = pool_alloc(&c->rq->pool, sizeof(*f));

    if (f == NULL)
        return 500;
    if (form_data_begin(f, &c->rq->pool, ct, &r->form, &r->files) != NULL)
        return 0;
    form_data_spool(f, &spool);
    r->form_stream = f;
    c->rq->sink = SINK_FORM;
    return 0;
}

int body_begin(struct conn *c)
{
    const struct route *rt = c->rq->req.match.route;
    const char *ct;

    c->rq->sink = SINK_MEMORY;
    c->rq->body_seen = 0;
    if (c->rq->route_res != ROUTER_FOUND || rt->ws)
        return 0;
    if (rt->stream_body) {
        c->rq->sink = SINK_DISCARD;     /* until a reader attaches */
        return 0;
    }
    if (http_body_left(c) == 0)
        return 0;                       /* no body: no form to parse */
    return is_multipart(&c->rq->req, &ct) ? begin_form(c, ct) : 0;
}

int body_streamed(const struct conn *c)
{
    const struct route *rt = c->rq->req.match.route;

    return c->rq->route_res == ROUTER_FOUND && rt->stream_body && !rt->ws;
}

/* ---- the bytes ---------------------------------------------------------------- */

/* A piece for the multipart parser: a parse error only stops the parse (the
 * handler reads it from kiln_form_error()); a file too large, or a
 * temporary file that cannot be written, stops the request. */
static int take_form(struct conn *c, const char *at, size_t len)
{
    struct form_data *f = c->rq->req.form_stream;

    if (form_data_feed(f, at, len) == 0 || f->status == 0)
        return 0;
    if (f->status == 500)
        log_error("%s %s: a temporary file in %s: %s", c->rq->req.method, c->rq->req.target,
                  spool.dir, strerror(f->err));
    return f->status;
}

/* A piece for the reader, unless the request was answered. */
static void take_reader(struct conn *c, const char *at, size_t len)
{
    struct body_reader *rd = c->rq->reader;
    int go;

    if (rd == NULL || c->rq->resumed || !c->rq->pending || !rd->ops.data)
        return;
    plugin_enter(self->slot, c->rq->req.match.route, c->rq->req.method);
    c->rq->in_body_cb = 1;
    go = rd->ops.data(rd->id, at, len, rd->arg);
    c->rq->in_body_cb = 0;
    plugin_leave(self->slot, 0);
    if (go == 0 && c->rq->pending && !c->rq->resumed)
        kiln_body_pause(rd->id);
}

int body_take(struct conn *c, const char *at, size_t len)
{
    if (c->rq->body_seen + len > c->rq->max_body)
        return 413;
    c->rq->body_seen += len;
    switch (c->rq->sink) {
    case SINK_MEMORY:
        return buf_append(&c->rq->body, at, len) < 0 ? 500 : 0;
    case SINK_FORM:
        return take_form(c, at, len);
    case SINK_READER:
        take_reader(c, at, len);
        return 0;
    default:
        return 0;
    }
}

void body_end(struct conn *c)
{
    struct body_reader *rd = c->rq->reader;

    if (c->rq->sink == SINK_FORM) {
        c->rq->req.form_error = form_data_end(c->rq->req.form_stream);
        c->rq->req.form_parsed = 1;
        return;
    }
    if (c->rq->sink != SINK_READER || rd == NULL || rd->ended || !c->rq->pending || c->rq->resumed)
        return;
    rd->ended = 1;
    if (!rd->ops.end)
        return;
    plugin_enter(self->slot, c->rq->req.match.route, c->rq->req.method);
    rd->ops.end(rd->id, KILN_BODY_DONE, rd->arg);
    plugin_leave(self->slot, 0);
}

void body_release(struct conn *c)
{
    if (c->rq->req.form_stream != NULL)
        form_data_close(c->rq->req.form_stream);
    c->rq->req.form_stream = NULL;
    c->rq->reader = NULL;
    c->rq->sink = SINK_MEMORY;
    c->rq->body_seen = 0;
    c->rq->body_paused = 0;
    c->rq->expect_continue = 0;
    c->rq->answered_early = 0;
    c->rq->body_error = 0;
}

/* ---- the reader ------------------------------------------------------------------ */

/* The pending request's cancel callback: the reader's end callback while
 * its body runs (with the error kiln answers, or why the request ended),
 * ops->cancel once it ended. */
static void reader_cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    struct conn *c = arg;
    struct body_reader *rd = c->rq->reader;

    if (rd == NULL)
        return;
    if (!rd->ended) {
        rd->ended = 1;
        if (rd->ops.end)
            rd->ops.end(id, c->rq->body_error ? (enum kiln_body_end)c->rq->body_error
                                          : (enum kiln_body_end)why, rd->arg);
    } else if (rd->ops.cancel) {
        rd->ops.cancel(id, why, rd->arg);
    }
}

void body_abort(struct conn *c, int status)
{
    if (!c->rq->pending || c->rq->reader == NULL)
        return;
    c->rq->body_error = status == 413 ? KILN_BODY_TOO_LARGE :
                        status == 408 || status == 504 ? KILN_BODY_TIMEOUT : KILN_BODY_BAD;
    pending_cancel(c, KILN_CANCEL_GONE);
}

KILN_EXPORT kiln_id kiln_body_stream(kiln_req *req, const struct kiln_body_ops *ops, void *arg)
{
    struct conn *c = req ? req->conn : NULL;
    struct body_reader *rd;

    if (c == NULL || ops == NULL || !c->rq->in_handler || c->rq->pending || c->state != CS_BODY ||
        !body_streamed(c))
        goto refused;
    rd = pool_alloc(&c->rq->pool, sizeof(*rd));
    if (rd == NULL)
        goto refused;
    memset(rd, 0, sizeof(*rd));
    rd->ops = *ops;
    rd->arg = arg;
    rd->id = c->rq->pending = pending_new(c, reader_cancel, c);
    if (rd->id == 0)
        goto refused;
    if (c->rq->expect_continue &&
        buf_append_str(&c->rq->out, "HTTP/1.1 100 Continue\r\n\r\n") < 0) {
        pending_forget(rd->id);
        c->rq->pending = 0;
        goto refused;
    }
    c->rq->expect_continue = 0;
    c->rq->reader = rd;
    c->rq->sink = SINK_READER;
    return rd->id;
refused:
    log_warn("%s %s: kiln_body_stream() refused: %s", req ? req->method : "-",
             req ? req->target : "-",
             c == NULL || ops == NULL ? "no request or no ops" :
             !body_streamed(c) ? "the route was not marked with kiln_route_stream_body()" :
             !c->rq->in_handler || c->state != CS_BODY ? "not in the route's handler" :
             c->rq->pending ? "the request is already pending" : "out of memory");
    return 0;
}

/* The connection of a live reader whose body is still being read. */
static struct conn *reading(kiln_id id)
{
    struct conn *c = pending_conn(id);

    return c && c->rq->reader && c->rq->reader->id == id && c->state == CS_BODY && !c->rq->resumed &&
           !c->rq->reader->ended ? c : NULL;
}

KILN_EXPORT int kiln_body_pause(kiln_id id)
{
    struct conn *c = reading(id);

    if (c == NULL)
        return -1;
    if (!c->rq->body_paused) {
        c->rq->body_paused = 1;
        c->rq->pending_since = ev_now(self->loop);
        conn_body_pause(c);
    }
    return 0;
}

/* Restarts the parse of the readers resumed since the loop last waited. */
static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)revents;
    for (size_t i = 0; i < nwake; i++) {
        struct conn *c = reading(wake[i]);

        if (c != NULL && !c->rq->body_paused)
            conn_body_resume(c);
    }
    nwake = 0;
    ev_prepare_stop(loop, w);
}

KILN_EXPORT int kiln_body_resume(kiln_id id)
{
    struct conn *c = reading(id);

    if (c == NULL)
        return -1;
    if (!c->rq->body_paused)
        return 0;
    if (nwake == cap_wake) {
        size_t cap = cap_wake ? cap_wake * 2 : 16;
        kiln_id *p = realloc(wake, cap * sizeof(*p));

        if (p == NULL)
            return -1;
        wake = p;
        cap_wake = cap;
    }
    c->rq->body_paused = 0;
    wake[nwake++] = id;
    if (!ev_is_active(&waker))
        ev_prepare_start(self->loop, &waker);
    return 0;
}

void body_init(struct worker *w)
{
    self = w;
    spool.dir = w->cfg->upload_dir ? w->cfg->upload_dir : "/tmp";
    spool.threshold = w->cfg->upload_spool_size;
    spool.max_file = w->cfg->max_upload_file_size;
    ev_prepare_init(&waker, on_prepare);
}

void body_shutdown(void)
{
    if (self && ev_is_active(&waker))
        ev_prepare_stop(self->loop, &waker);
    free(wake);
    wake = NULL;
    nwake = cap_wake = 0;
}
