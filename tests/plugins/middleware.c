/*
 * Test plugin: middlewares, each showing one rule -- "auth" answers 401 to
 * /mw/private without an Authorization header; "tag" (an after only)
 * tags every response with what it saw and, asked by X-Rewrite, changes
 * its status, headers and body; "later" defers its before on ?defer=next
 * or ?defer=ok and resumes from a timer; "errors" replaces error bodies
 * asked by X-Error-Page; "cors" answers OPTIONS; "wsguard" refuses
 * /mw/ws?deny with 403; "extra" adds a header.  Every before appends its
 * name to the trace /mw/trace answers with, every after an X-Trace header.
 * X-Hang makes "auth" hang (worker_timeout's kill).
 * A response-sent hook writes a line per response to [middleware]
 * sent_log, reopened (with a "reopened" line) by the reopen hook; the
 * function "middleware.double" is exported for mw_peer.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <kiln.h>

static const char *sent_path;
static int sent_fd = -1;

/* ---- the trace of befores and afters ------------------------------------------------ */

static void trace_before(kiln_req *req, const char *name)
{
    const char *t = kiln_req_get(req, "trace");
    char buf[256];

    char *copy;

    snprintf(buf, sizeof buf, "%s%s%s", t ? t : "", t ? "," : "", name);
    if ((copy = strdup(buf)) != NULL && kiln_req_set(req, "trace", copy, free) != 0)
        free(copy);
}

static void trace_after(kiln_req *req, void *data)
{
    char v[64];

    snprintf(v, sizeof v, "a:%s", (const char *)data);
    kiln_add_header(req, "X-Trace", v);
}

/* ---- the middlewares ------------------------------------------------------------------ */

static int auth_before(kiln_req *req, void *data)
{
    trace_before(req, data);
    if (kiln_header(req, "X-Hang") != NULL)
        sleep(20);                  /* a stuck worker, for worker_timeout */
    if (strncmp(kiln_path(req), "/mw/private", 11) == 0
        && kiln_header(req, "Authorization") == NULL) {
        kiln_add_header(req, "WWW-Authenticate", "Basic realm=\"test\"");
        return kiln_error(req, 401, NULL);
    }
    return KILN_NEXT;
}

/* After only: what it saw, and the rewrite X-Rewrite asks for. */
static void tag_after(kiln_req *req, void *data)
{
    char v[64];
    size_t len = 0;

    (void)data;
    snprintf(v, sizeof v, "%d", kiln_resp_status(req));
    kiln_add_header(req, "X-Seen-Status", v);
    kiln_add_header(req, "X-Seen-Error", kiln_resp_is_error(req) ? "1" : "0");
    kiln_add_header(req, "X-Seen-Stream", kiln_resp_is_stream(req) ? "1" : "0");
    kiln_resp_body(req, &len);
    snprintf(v, sizeof v, "%zu", len);
    kiln_add_header(req, "X-Seen-Length", v);
    if (kiln_header(req, "X-Rewrite") == NULL)
        return;
    snprintf(v, sizeof v, "%d", kiln_resp_remove_header(req, "X-Remove-Me"));
    kiln_add_header(req, "X-Removed", v);
    kiln_set_status(req, 203);
    if (kiln_resp_clear_body(req) == 0)
        kiln_printf(req, "rewritten (was %s)\n", kiln_resp_header(req, "X-Original") ?
                    kiln_resp_header(req, "X-Original") : "-");
}

struct later {
    kiln_id id;
    int ok;
};

static void later_fire(kiln_timer *t, void *arg)
{
    struct later *l = arg;
    kiln_req *req = kiln_pending(l->id);

    (void)t;
    if (req != NULL && l->ok)
        kiln_text(req, 202, "answered by the before\n");
    if (req != NULL)
        kiln_resume(l->id, l->ok ? KILN_OK : KILN_NEXT);
    free(l);
}

static int later_before(kiln_req *req, void *data)
{
    const char *d = kiln_query(req, "defer");
    struct later *l;

    trace_before(req, data);
    if (d == NULL)
        return KILN_NEXT;
    if ((l = calloc(1, sizeof *l)) == NULL)
        return KILN_ERROR;
    l->ok = strcmp(d, "ok") == 0;
    l->id = kiln_defer(req, NULL, NULL);
    kiln_timer_start(0.05, 0, later_fire, l);
    return KILN_PENDING;
}

/* After only: an error page in place of every error body, when asked. */
static void errors_after(kiln_req *req, void *data)
{
    (void)data;
    if (!kiln_resp_is_error(req) || kiln_header(req, "X-Error-Page") == NULL)
        return;
    kiln_resp_clear_body(req);
    kiln_set_content_type(req, "text/html");
    kiln_printf(req, "<h1>error %d</h1>\n", kiln_resp_status(req));
}

static int cors_before(kiln_req *req, void *data)
{
    trace_before(req, data);
    if (strcmp(kiln_method(req), "OPTIONS") != 0)
        return KILN_NEXT;
    kiln_add_header(req, "Access-Control-Allow-Origin", "*");
    kiln_add_header(req, "Access-Control-Allow-Methods", "GET, POST");
    kiln_set_status(req, 204);
    return KILN_OK;
}

static int wsguard_before(kiln_req *req, void *data)
{
    trace_before(req, data);
    if (strcmp(kiln_path(req), "/mw/ws") == 0 && kiln_query(req, "deny") != NULL)
        return kiln_error(req, 403, "no upgrade for you\n");
    return KILN_NEXT;
}

static void extra_after(kiln_req *req, void *data)
{
    (void)data;
    kiln_add_header(req, "X-Extra", "1");
}

/* ---- handlers ---------------------------------------------------------------------- */

static int hello(kiln_req *req, void *data)
{
    (void)data;
    kiln_add_header(req, "X-Remove-Me", "1");
    kiln_add_header(req, "X-Remove-Me", "2");
    kiln_add_header(req, "X-Original", "hello");
    return kiln_text(req, 200, "hello\n");
}

static int trace(kiln_req *req, void *data)
{
    const char *t = kiln_req_get(req, "trace");

    (void)data;
    return kiln_text(req, 200, "%s\n", t ? t : "");
}

static int fail(kiln_req *req, void *data)
{
    (void)data;
    return kiln_error(req, 409, "conflict\n");
}

static int own_json_400(kiln_req *req, void *data)
{
    (void)data;
    kiln_set_content_type(req, "application/json");
    kiln_set_status(req, 400);
    return kiln_printf(req, "{\"error\":\"mine\"}") == 0 ? KILN_OK : KILN_ERROR;
}

static void pending_fire(kiln_timer *t, void *arg)
{
    kiln_id id = (kiln_id)(size_t)arg;
    kiln_req *req = kiln_pending(id);

    (void)t;
    if (req == NULL)
        return;
    kiln_text(req, 200, "late\n");
    kiln_resume(id, KILN_OK);
}

static int pending(kiln_req *req, void *data)
{
    kiln_id id = kiln_defer(req, NULL, NULL);

    (void)data;
    kiln_timer_start(0.05, 0, pending_fire, (void *)(size_t)id);
    return KILN_PENDING;
}

struct ticker {
    kiln_id id;
    kiln_timer *t;
    int left;
};

static void ticker_tick(kiln_timer *t, void *arg)
{
    struct ticker *k = arg;

    (void)t;
    kiln_stream_write(k->id, "tick\n", 5);
    if (--k->left > 0)
        return;
    kiln_stream_end(k->id);
    kiln_timer_stop(k->t);
    free(k);
}

static void ticker_cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    struct ticker *k = arg;

    (void)id;
    (void)why;
    kiln_timer_stop(k->t);
    free(k);
}

/* /mw/stream?n=N: N lines "tick\n", one each 20 ms. */
static int stream(kiln_req *req, void *data)
{
    static const struct kiln_stream_ops ops = { NULL, ticker_cancel };
    const char *n = kiln_query(req, "n");
    struct ticker *k = calloc(1, sizeof *k);

    (void)data;
    if (k == NULL)
        return KILN_ERROR;
    k->left = n ? atoi(n) : 3;
    kiln_add_header(req, "X-Stream-Header", "1");
    kiln_set_content_type(req, "text/plain");
    k->id = kiln_stream(req, 200, -1, &ops, k);
    k->t = kiln_timer_start(0.02, 0.02, ticker_tick, k);
    return KILN_PENDING;
}

static int small(kiln_req *req, void *data)
{
    size_t len = 0;

    (void)data;
    kiln_body(req, &len);
    return kiln_text(req, 200, "got %zu bytes\n", len);
}

static int ws_open(kiln_ws *ws, kiln_req *req, void *data)
{
    (void)ws;
    (void)req;
    (void)data;
    return 0;
}

static void ws_message(kiln_ws *ws, int binary, const void *msg, size_t len, void *data)
{
    (void)data;
    kiln_ws_send(ws, binary, msg, len);
}

static int twice(int n)
{
    return 2 * n;
}

/* ---- the response-sent hook and the reopen hook -------------------------------------- */

static void sent_line(const kiln_req *req, const struct kiln_sent *s, void *data)
{
    char line[512];
    int n;

    (void)data;
    if (sent_fd < 0)
        return;
    n = snprintf(line, sizeof line, "%d %d %llu %llu %llu %s %s %d %d\n", s->status,
                 s->complete, s->bytes, s->body_bytes, s->received, kiln_method(req),
                 kiln_target(req)[0] ? kiln_target(req) : "-",
                 s->start > 1.7e9 && s->start < 4e9, s->duration >= 0 && s->duration < 60);
    if (write(sent_fd, line, (size_t)n) != n)
        kiln_log(KILN_LOG_WARN, "sent_log: short write");
}

static void sent_open(void)
{
    if (sent_path != NULL)
        sent_fd = open(sent_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

static void on_start(kiln_app *app)
{
    (void)app;
    sent_open();
}

static void on_stop(kiln_app *app)
{
    (void)app;
    if (sent_fd >= 0)
        close(sent_fd);
    sent_fd = -1;
}

static void on_reopen(kiln_app *app)
{
    on_stop(app);
    sent_open();
    if (sent_fd >= 0 && write(sent_fd, "reopened\n", 9) != 9)
        kiln_log(KILN_LOG_WARN, "sent_log: short write");
    kiln_log(KILN_LOG_INFO, "reopen hook ran");
}

static int init(kiln_app *app)
{
    static const struct kiln_ws_handlers ws = { .open = ws_open, .message = ws_message };
    static char auth[] = "auth", later[] = "later", cors[] = "cors", wsguard[] = "wsguard";

    sent_path = kiln_config(app, "sent_log", NULL);
    kiln_add_middleware(app, "auth", auth_before, trace_after, auth);
    kiln_add_middleware(app, "tag", NULL, tag_after, NULL);
    kiln_add_middleware(app, "later", later_before, trace_after, later);
    kiln_add_middleware(app, "errors", NULL, errors_after, NULL);
    kiln_add_middleware(app, "cors", cors_before, trace_after, cors);
    kiln_add_middleware(app, "wsguard", wsguard_before, trace_after, wsguard);
    kiln_add_middleware(app, "extra", NULL, extra_after, NULL);
    if (sent_path != NULL)
        kiln_on_response_sent(app, sent_line, NULL);
    kiln_on_reopen(app, on_reopen);
    kiln_worker_hooks(app, on_start, on_stop);
    kiln_export(app, "middleware.double", (void *)twice);
    kiln_add_get(app, "/mw/hello", hello, NULL);
    kiln_add_get(app, "/mw/private", hello, NULL);
    kiln_add_get(app, "/mw/trace", trace, NULL);
    kiln_add_get(app, "/mw/fail", fail, NULL);
    kiln_add_get(app, "/mw/json400", own_json_400, NULL);
    kiln_add_get(app, "/mw/pending", pending, NULL);
    kiln_add_get(app, "/mw/stream", stream, NULL);
    kiln_add_post(app, "/mw/small", small, NULL);
    kiln_route_max_body(app, "POST", "/mw/small", 10);
    kiln_add_websocket(app, "/mw/ws", &ws, NULL);
    return 0;
}

KILN_PLUGIN("middleware", init, NULL);
