/* ws_api.c -- what a plugin calls for WebSocket routes: kiln_add_websocket() and the kiln_ws_* functions. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "kiln.h"
#include "log.h"
#include "plugin.h"
#include "pool.h"
#include "pubsub.h"
#include "pubsub_frame.h"
#include "router.h"
#include "worker.h"
#include "ws.h"
#include "ws_private.h"

#define WS_TEXT_KEEP ((size_t)64 << 10) /* kiln_ws_send_text's buffer kept up to this */

/* A subprotocol name: a non-empty HTTP token. */
static int proto_name_ok(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++)
        if (*s <= ' ' || *s >= 127 || strchr("()<>@,;:\\\"/[]?={}", *s))
            return 0;
    return 1;
}

/* Copies a NULL-terminated subprotocol list; -1 with err on a bad name or
 * no memory. */
static int protos_copy(struct ws_route *wr, const char *const *src,
                       char *err, size_t errlen)
{
    size_t n = 0, i;

    while (src && src[n])
        n++;
    if (n == 0)
        return 0;
    wr->protos = calloc(n + 1, sizeof(char *));
    if (!wr->protos)
        return snprintf(err, errlen, "out of memory"), -1;
    for (i = 0; i < n; i++) {
        if (!proto_name_ok(src[i]))
            return snprintf(err, errlen, "bad subprotocol name \"%s\"",
                            src[i] ? src[i] : ""), -1;
        wr->protos[i] = strdup(src[i]);
        if (!wr->protos[i])
            return snprintf(err, errlen, "out of memory"), -1;
    }
    return 0;
}

KILN_EXPORT kiln_id kiln_ws_id(const kiln_ws *ws)
{
    return ws ? ws->id : 0;
}

KILN_EXPORT kiln_ws *kiln_ws_get(kiln_id id)
{
    return ws_by_id(id);
}

void ws_route_free(void *arg)
{
    struct ws_route *wr = arg;
    char **p;

    for (p = wr->protos; p && *p; p++)
        free(*p);
    free(wr->protos);
    free(wr);
}

/* Makes the route description, or NULL with err. */
/*
 * How much of a plugin's struct kiln_ws_handlers kiln reads: the members
 * its ABI minor had (kiln.h: structs grow at their end only).  The rest of
 * kiln's copy stays zero, so a 1.0 plugin behaves as it did under 1.0.
 */
static size_t handlers_size(const struct plugin *p)
{
    unsigned minor = p != NULL && p->desc != NULL ? p->desc->abi_minor : KILN_ABI_MINOR;

    if (minor == 0)
        return offsetof(struct kiln_ws_handlers, max_msg_size);
    return sizeof(struct kiln_ws_handlers);
}

/* Makes the route description, or NULL with err. */
static struct ws_route *route_new(const kiln_app *app,
                                  const struct kiln_ws_handlers *h, void *data,
                                  char *err, size_t errlen)
{
    struct ws_route *wr = calloc(1, sizeof(*wr));

    if (!wr) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(&wr->h, h, handlers_size(app->plugin));
    wr->data = data;
    wr->plugin = app->plugin;
    wr->max_msg = wr->h.max_msg_size ? wr->h.max_msg_size
                : app->cfg->ws_max_msg_size ? app->cfg->ws_max_msg_size
                : WS_DEFAULT_MAX_MSG;
    if (protos_copy(wr, wr->h.subprotocols, err, errlen) < 0) {
        ws_route_free(wr);
        return NULL;
    }
    wr->h.subprotocols = (const char *const *)wr->protos;
    return wr;
}

/* Gives each route of the chain rt (one per mount prefix) its description.
 * 0, or -1 with err set. */
static int describe(const kiln_app *app, struct route *rt, const struct kiln_ws_handlers *h,
                    void *data, char *err, size_t errlen)
{
    struct ws_route *wr;

    for (; rt != NULL; rt = rt->twin) {
        if ((wr = route_new(app, h, data, err, errlen)) == NULL)
            return -1;
        rt->ws = wr;
        rt->ws_free = ws_route_free;
        wr->route = rt;
    }
    return 0;
}

KILN_EXPORT int kiln_add_websocket(kiln_app *app, const char *pattern,
                                   const struct kiln_ws_handlers *h, void *data)
{
    char err[256] = "";
    struct route *rt;

    if (app == NULL)
        return -1;
    app->last = NULL;
    if (pattern == NULL || h == NULL)
        snprintf(err, sizeof(err), "no %s", pattern ? "handlers" : "pattern");
    else if ((rt = router_add_mounted(app->router, app->mount, "GET", pattern, NULL, data,
                                      app->plugin, err, sizeof(err))) != NULL &&
             describe(app, rt, h, data, err, sizeof(err)) == 0) {
        app->last = rt;
        return 0;
    }
    log_error("%s: add_websocket(%s): %s", plugin_name(app->plugin),
              pattern ? pattern : "(null)", err[0] ? err : "refused");
    app->failed = 1;
    return -1;
}

KILN_EXPORT int kiln_ws_send(kiln_ws *ws, int binary, const void *msg,
                             size_t len)
{
    if (ws == NULL || (ws->state != WS_OPEN && ws->state != WS_PENDING) ||
        (msg == NULL && len > 0))
        return -1;
    if (len > ws->ctx->max_queue - ws->qbytes) {
        log_warn("websocket %s: send queue above %zu bytes: closing (1008)",
                 ws->path, ws->ctx->max_queue);
        ws_session_close(ws, 1008, "send queue full", 1);
        return -1;
    }
    return ws_session_queue(ws, binary, msg, len);
}

/*
 * The text is formatted into one buffer of the worker's, kept from message
 * to message (no allocation each, and "%s" or "%.*s" copied without
 * vsnprintf: buf_vprintf), given back when a message left it larger than
 * WS_TEXT_KEEP.  kiln_ws_send copies the text before anything can call a
 * plugin back, so a send from such a callback may format into it again.
 */
KILN_EXPORT int kiln_ws_send_text(kiln_ws *ws, const char *fmt, ...)
{
    static struct buf kept;
    va_list ap;
    int rc;

    kept.len = 0;
    va_start(ap, fmt);
    rc = buf_vprintf(&kept, fmt, ap);
    va_end(ap);
    if (rc == 0)
        rc = kiln_ws_send(ws, 0, kept.data, kept.len);
    if (kept.cap > WS_TEXT_KEEP)
        buf_free(&kept);
    return rc;
}

/* Valid codes to send: 1000-1003, 1007-1011 and the 3000-4999 range. */
static int close_code_ok(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

KILN_EXPORT int kiln_ws_close(kiln_ws *ws, int code, const char *reason)
{
    if (ws == NULL || !close_code_ok(code) ||
        (ws->state != WS_OPEN && ws->state != WS_PENDING))
        return -1;
    ws_session_close(ws, code, reason ? reason : "", 0);
    return 0;
}

/* ---- broadcasts across workers, and publish/subscribe ------------------------- */

/* The route's broadcast channel, kiln's own (a NUL first): "\0ws:" and its
 * pattern, or a hash of a pattern too long for a channel name.  Its length. */
static size_t route_channel(const struct ws_route *wr, char *buf)
{
    const char *pat = wr->route->pattern;
    size_t n = strlen(pat);
    uint64_t h = 14695981039346656037ull;

    if (n + 4 <= PUBSUB_CHANNEL_MAX) {
        memcpy(buf, "\0ws:", 4);
        memcpy(buf + 4, pat, n);
        return n + 4;
    }
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)pat[i]) * 1099511628211ull;
    memcpy(buf, "\0ws#", 4);
    return 4 + (size_t)snprintf(buf + 4, PUBSUB_CHANNEL_MAX - 4, "%016llx",
                                (unsigned long long)h);
}

/* Sends to every open connection of wr; how many took it. */
static int route_send(struct ws_route *wr, int binary, const void *msg, size_t len)
{
    struct kiln_ws *c, *next;
    int n = 0;

    for (c = wr->conns; c; c = next) {
        next = c->next;
        if (c->state == WS_OPEN && kiln_ws_send(c, binary, msg, len) == 0)
            n++;
    }
    return n;
}

/* Another worker's broadcast on one of this worker's routes. */
static void route_message(const char *channel, size_t channel_len, int binary,
                          const void *msg, size_t len, void *data)
{
    (void)channel;
    (void)channel_len;
    route_send(data, binary, msg, len);
}

void ws_route_joined(struct ws_route *wr)
{
    char ch[PUBSUB_CHANNEL_MAX + 1];

    if (pubsub_join(ch, route_channel(wr, ch), route_message, wr) < 0)
        log_warn("websocket %s: out of memory: broadcasts from other workers are lost",
                 wr->route->pattern);
}

void ws_route_left(struct ws_route *wr)
{
    char ch[PUBSUB_CHANNEL_MAX + 1];

    pubsub_leave(ch, route_channel(wr, ch), route_message, wr);
}

KILN_EXPORT int kiln_ws_broadcast(kiln_ws *ws, int binary, const void *msg,
                                  size_t len)
{
    char ch[PUBSUB_CHANNEL_MAX + 1];
    int n = 0;

    if (ws == NULL || (msg == NULL && len > 0))
        return 0;
    if (ws->state == WS_PENDING && kiln_ws_send(ws, binary, msg, len) == 0)
        n++;
    n += route_send(ws->rt, binary, msg, len);
    if (pubsub_send_out(ch, route_channel(ws->rt, ch), binary, msg, len) < 0 &&
        len > ws->ctx->w->cfg->pubsub_max_message)
        log_warn("websocket %s: a broadcast of %zu bytes reached this worker's "
                 "connections only (above pubsub_max_message)", ws->path, len);
    return n;
}

kiln_id ws_live_id(const struct kiln_ws *ws)
{
    return ws && (ws->state == WS_OPEN || ws->state == WS_PENDING) ? ws->id : 0;
}

int ws_pubsub_send(kiln_id id, int binary, const void *msg, size_t len, size_t limit)
{
    struct kiln_ws *ws = ws_by_id(id);

    if (ws == NULL || (ws->state != WS_OPEN && ws->state != WS_PENDING))
        return -1;
    if (ws->qbytes > limit) {
        log_warn("websocket %s: %zu bytes unsent, above pubsub_subscriber_queue "
                 "(%zu): closing (1008)", ws->path, ws->qbytes, limit);
        ws_session_close(ws, 1008, "subscriber too slow", 1);
        return 1;
    }
    return kiln_ws_send(ws, binary, msg, len) == 0 ? 0 : -1;
}

KILN_EXPORT void kiln_ws_set_data(kiln_ws *ws, void *user)
{
    if (ws)
        ws->user = user;
}

KILN_EXPORT void *kiln_ws_data(const kiln_ws *ws)
{
    return ws ? ws->user : NULL;
}

KILN_EXPORT const char *kiln_ws_subprotocol(const kiln_ws *ws)
{
    return ws ? ws->proto : NULL;
}

KILN_EXPORT const char *kiln_ws_path(const kiln_ws *ws)
{
    return ws ? ws->path : NULL;
}

