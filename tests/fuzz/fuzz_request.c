/*
 * fuzz_request.c -- libFuzzer harness of the request path as a worker runs
 * it: bytes from a client, read by worker/conn.c and parsed by worker/http.c
 * (limits, header checks, Host and framing, target splitting, percent-
 * decoding and dot-segments), routed (literal, capture and regex routes,
 * methods, 404/405), answered by handlers that read the request through the
 * kiln_* API (the query, cookie and form parsing included, and a value
 * kept with kiln_req_set(), freed at the request's end), multipart bodies
 * parsed as they arrive, bodies read by a plugin's reader as they arrive
 * (/stream: a piece starting with 'P' pauses and resumes it, one starting
 * with 'R' answers before the body's end; /stream/early answers at once)
 * and, for WebSocket routes, upgraded and handed to libwebsockets.
 *
 * Input: byte 0 chooses the worker's settings (bit 0: tight limits, bit 1:
 * draining, bit 2: debug logging) and the client (bit 3: a slow reader,
 * whose answers stall in kiln's buffers), bytes 1 and 2 two offsets at
 * which the rest is cut into three reads (the split-read bug class), the
 * rest is what the client sends (pipelined requests welcome).  Whatever
 * kiln writes must start with a status line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "feed.h"
#include "kiln.h"
#include "log.h"
#include "plugin.h"
#include "router.h"
#include "worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config normal, tight;

/* ---- handlers ----------------------------------------------------------- */

static int h_root(kiln_req *req, void *data)
{
    (void)data;
    return kiln_text(req, 200, "hello\n");
}

/* The capture and a query parameter, echoed. */
static int h_hello(kiln_req *req, void *data)
{
    const char *g = kiln_query(req, "greeting");

    (void)data;
    return kiln_text(req, 200, "%s, %s\n", g ? g : "Hello", kiln_match(req, "name"));
}

/* The body back, with a header and a content type taken from the query. */
static int h_echo(kiln_req *req, void *data)
{
    const char *h = kiln_query(req, "h"), *type = kiln_query(req, "type");
    size_t len;
    const void *body = kiln_body(req, &len);

    (void)data;
    if (h)
        kiln_add_header(req, "X-Echo", h);
    if (type)
        kiln_set_content_type(req, type);
    return kiln_bytes(req, 200, body, len);
}

/* Everything the request API reads, and a status from the query. */
static int h_any(kiln_req *req, void *data)
{
    static const char *const names[] = { "a", "b", "status", "", "a b", "x=y" };
    const char *name, *value, *st = kiln_query(req, "status");
    char *kept;
    size_t i;

    (void)data;
    kiln_printf(req, "%s %s %s [%s] id=%s\n", kiln_method(req), kiln_target(req),
                kiln_path(req), kiln_query_string(req), kiln_match(req, "id"));
    for (i = 0; kiln_header_at(req, i, &name, &value) == 0; i++)
        kiln_printf(req, "%s: %s\n", name, value);
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        value = kiln_query(req, names[i]);
        kiln_printf(req, "%s=%s\n", names[i], value ? value : "(none)");
    }
    for (i = 0; kiln_query_at(req, i, &name, &value) == 0; i++)
        kiln_printf(req, "q %s=%s\n", name, value);
    for (i = 0; kiln_cookie_at(req, i, &name, &value) == 0; i++)
        kiln_printf(req, "c %s=%s\n", name, value);
    for (i = 0; kiln_form_at(req, i, &name, &value) == 0; i++)
        kiln_printf(req, "f %s=%s%s\n", name, value, kiln_form_nth(req, name, 1) ? " +" : "");
    kept = strdup("kept");
    if (kiln_req_set(req, kiln_query_string(req), kept, free) != 0)
        free(kept);
    if (kiln_header(req, "x-header") != NULL)
        kiln_add_header(req, kiln_header(req, "x-header"), "1");
    if (st != NULL)
        kiln_set_status(req, atoi(st));
    return KILN_OK;
}

static int h_file(kiln_req *req, void *data)
{
    (void)data;
    kiln_set_status(req, strcmp(kiln_method(req), "DELETE") == 0 ? 204 : 201);
    kiln_add_header(req, "X-File", kiln_match(req, "name"));
    return KILN_OK;
}

static int h_fail(kiln_req *req, void *data)
{
    (void)req;
    (void)data;
    return KILN_ERROR;
}

/* A reader: counts the body; 'P' pauses and resumes, 'R' answers early. */
static int r_data(kiln_id id, const void *data, size_t len, void *arg)
{
    size_t *n = arg;

    *n += len;
    if (len > 0 && *(const char *)data == 'P') {
        /* resumed at once: a reader paused for good never reads the
         * client's end of stream, which this harness requires */
        kiln_body_pause(id);
        kiln_body_resume(id);
    }
    if (len > 0 && *(const char *)data == 'R') {
        kiln_set_status(kiln_pending(id), 409);
        kiln_resume(id, KILN_OK);
        free(n);
    }
    return 1;
}

static void r_end(kiln_id id, enum kiln_body_end how, void *arg)
{
    size_t *n = arg;

    if (how == KILN_BODY_DONE) {
        kiln_printf(kiln_pending(id), "%zu\n", *n);
        kiln_resume(id, KILN_OK);
    }
    free(n);
}

static int h_stream(kiln_req *req, void *data)
{
    static const struct kiln_body_ops ops = { r_data, r_end, NULL };
    size_t *n = calloc(1, sizeof(*n));

    (void)data;
    if (n == NULL || kiln_body_stream(req, &ops, n) == 0) {
        free(n);
        return KILN_ERROR;
    }
    return KILN_PENDING;
}

static int h_early(kiln_req *req, void *data)
{
    (void)data;
    return kiln_error(req, 403, "no\n");
}

/* WebSocket routes: refused with ?deny, messages echoed, "close" closes. */
static int ws_open(kiln_ws *ws, kiln_req *req, void *data)
{
    (void)data;
    if (kiln_query(req, "deny") != NULL)
        return 403;
    if (kiln_query(req, "hi") != NULL)
        kiln_ws_send_text(ws, "hi %s", kiln_ws_path(ws));
    return 0;
}

static void ws_message(kiln_ws *ws, int binary, const void *msg, size_t len, void *data)
{
    (void)data;
    if (!binary && len == 5 && memcmp(msg, "close", 5) == 0)
        kiln_ws_close(ws, 1000, "bye");
    else if (!binary && len == 9 && memcmp(msg, "broadcast", 9) == 0)
        kiln_ws_broadcast(ws, 0, msg, len);
    else
        kiln_ws_send(ws, binary, msg, len);
}

static void ws_close(kiln_ws *ws, int code, const char *reason, void *data)
{
    (void)ws;
    (void)code;
    (void)reason;
    (void)data;
}

/* The routes, registered as a plugin's init would. */
static struct router *routes(void)
{
    static const char *const protos[] = { "chat", "superchat", NULL };
    static const struct kiln_ws_handlers echo = {
        .open = ws_open, .message = ws_message, .close = ws_close,
    };
    /* With deflate: a long Sec-WebSocket-Extensions once overwrote
     * libwebsockets 4.1's 101 answer in its buffer (crashers/fuzz_request/
     * lws-extensions-*); lws now gets one short offer. */
    static struct kiln_ws_handlers chat = {
        .open = ws_open, .message = ws_message, .close = ws_close,
        .subprotocols = protos, .deflate = 1, .max_msg_size = 64,
    };
    struct router *r = router_new();
    struct kiln_app app = { .plugin = feed_plugin(), .router = r, .cfg = &normal };


    if (r == NULL ||
        kiln_add_get(&app, "/", h_root, NULL) < 0 ||
        kiln_add_get(&app, "/hello/{name}", h_hello, NULL) < 0 ||
        kiln_add_post(&app, "/echo", h_echo, NULL) < 0 ||
        kiln_add_route(&app, "*", "/any/{id:[0-9]+}", h_any, NULL) < 0 ||
        kiln_add_route(&app, "*", "/any/{id:[0-9]+}/{rest}", h_any, NULL) < 0 ||
        kiln_add_put(&app, "/files/{dir}/{name}", h_file, NULL) < 0 ||
        kiln_add_delete(&app, "/files/{dir}/{name}", h_file, NULL) < 0 ||
        kiln_add_get(&app, "/files/static/list", h_any, NULL) < 0 ||
        kiln_add_get(&app, "/fail", h_fail, NULL) < 0 ||
        kiln_add_post(&app, "/stream", h_stream, NULL) < 0 ||
        kiln_route_stream_body(&app, "POST", "/stream") < 0 ||
        kiln_add_post(&app, "/stream/early", h_early, NULL) < 0 ||
        kiln_route_stream_body(&app, "POST", "/stream/early") < 0 ||
        kiln_add_websocket(&app, "/ws", &echo, NULL) < 0 ||
        kiln_add_websocket(&app, "/chat/{room}", &chat, NULL) < 0)
        abort();
    return r;
}

/* ---- the harness ------------------------------------------------------------ */

static struct worker *setup(void)
{
    static struct worker *w;

    if (w != NULL)
        return w;
    config_defaults(&normal);
    config_defaults(&tight);
    tight.max_uri_size = 40;
    tight.max_header_size = 200;
    tight.max_headers = 4;
    tight.max_body_size = 16;
    tight.keepalive_requests = 3;
    w = feed_worker(&normal, routes());
    return w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct worker *w = setup();
    const uint8_t *parts[3];
    size_t lens[3], outlen;
    const char *out;
    struct config *cfg;

    if (size < 3)
        return 0;
    cfg = data[0] & 1 ? &tight : &normal;
    cfg->log_level = data[0] & 4 ? LOG_DEBUG : LOG_INFO;
    w = feed_worker(cfg, w->router);
    w->draining = (data[0] & 2) != 0;
    feed_split(data + 3, size - 3, data[1], data[2], parts, lens);
    feed_serve(w, parts, lens, 3, (data[0] & 8) != 0, &out, &outlen);
    w->draining = 0;
    if (outlen > 0 && (outlen < 9 || memcmp(out, "HTTP/1.1 ", 9) != 0)) {
        fprintf(stderr, "fuzz_request: kiln answered with no status line\n");
        abort();
    }
    return 0;
}
