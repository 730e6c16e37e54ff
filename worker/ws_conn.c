/*
 * ws_conn.c -- a WebSocket connection's own state, apart from libwebsockets:
 * its id, its creation at the upgrade (the checks, the route's open
 * callback), the message being reassembled and its delivery, its queues
 * freed, and its end with the route's close callback.
 *
 * ws_session.c drives it from libwebsockets' callbacks; nothing here
 * includes libwebsockets.h.
 */
#include <stdlib.h>
#include <string.h>

#include "handles.h"
#include "log.h"
#include "plugin.h"
#include "pubsub.h"
#include "request.h"
#include "router.h"
#include "worker.h"
#include "ws.h"
#include "ws_handshake.h"
#include "ws_private.h"

static struct handles ids;          /* kiln_ws_id() -> the connection */

struct kiln_ws *ws_by_id(kiln_id id)
{
    return handle_get(&ids, id);
}

/* Copies at most WS_REASON_MAX bytes of `reason`, not splitting a UTF-8
 * sequence. */
void ws_conn_set_reason(struct kiln_ws *ws, const char *reason, size_t len)
{
    if (len > WS_REASON_MAX) {
        len = WS_REASON_MAX;
        while (len > 0 && ((unsigned char)reason[len] & 0xc0) == 0x80)
            len--;
    }
    memcpy(ws->close_reason, reason, len);
    ws->close_reason[len] = '\0';
}

static void ws_enter(const struct ws_ctx *ctx, const struct ws_route *wr)
{
    plugin_enter(ctx->w->slot, wr->route, "WS");
}

static void ws_leave(const struct ws_ctx *ctx)
{
    plugin_leave(ctx->w->slot, 0);
}

/* ---- the queues ---------------------------------------------------------------- */

/* Keeps a message lws has been given whole until lws cannot still be
 * deflating from it; without permessage-deflate lws copies what it keeps,
 * and the message is freed at once. */
void ws_conn_retire(struct kiln_ws *ws, struct ws_msg *m)
{
    if (!ws->deflate) {
        ws->qbytes -= m->len;
        free(m);
        return;
    }
    m->next = ws->retired;
    ws->retired = m;
}

/* Frees the messages written: called where lws cannot still be deflating
 * from them (a new WRITEABLE, or the end). */
void ws_conn_retired_free(struct kiln_ws *ws)
{
    struct ws_msg *m, *next;

    for (m = ws->retired; m; m = next) {
        next = m->next;
        ws->qbytes -= m->len;
        free(m);
    }
    ws->retired = NULL;
}

/* Drops what is queued; a message partly written is retired instead, as
 * lws may still be reading from it. */
void ws_conn_queue_free(struct kiln_ws *ws)
{
    struct ws_msg *m = ws->qhead, *next;

    if (m && m->sent > 0) {
        next = m->next;
        ws_conn_retire(ws, m);
        m = next;
    }
    for (; m; m = next) {
        next = m->next;
        ws->qbytes -= m->len;
        free(m);
    }
    ws->qhead = ws->qtail = NULL;
}

/* ---- the connection's life ----------------------------------------------------- */

static void rx_reset(struct kiln_ws *ws)
{
    free(ws->rx);
    ws->rx = NULL;
    ws->rxlen = ws->rxcap = 0;
    ws->in_msg = 0;
}

static void ws_free(struct kiln_ws *ws)
{
    pubsub_gone(PUBSUB_WS, ws->id);
    handle_free(&ids, ws->id);
    ws_conn_queue_free(ws);
    ws_conn_retired_free(ws);
    rx_reset(ws);
    free(ws->path);
    free(ws);
}

/* Runs the route's close handler once, with the plugin marked as running. */
static void run_close(struct kiln_ws *ws, int code, const char *reason)
{
    if (!ws->rt->h.close)
        return;
    ws_enter(ws->ctx, ws->rt);
    ws->rt->h.close(ws, code, reason, ws->rt->data);
    ws_leave(ws->ctx);
}

void ws_conn_end(struct kiln_ws *ws, int code, const char *reason)
{
    ws->state = WS_CLOSED;
    run_close(ws, code, reason);
    ws_free(ws);
}

void ws_discard(struct kiln_ws *ws)
{
    ws_conn_end(ws, 1006, "");
}

/* ---- the upgrade --------------------------------------------------------------- */

/* Runs the open callback: 0 to accept, else the HTTP status to answer. */
static int run_open(struct kiln_ws *ws, struct kiln_req *req)
{
    const struct ws_route *wr = ws->rt;
    int st;

    if (!wr->h.open)
        return 0;
    ws_enter(ws->ctx, wr);
    st = wr->h.open(ws, req, wr->data);
    ws_leave(ws->ctx);
    if (st == 0)
        return 0;
    if (st < 300 || st > 599) {
        log_error("websocket %s: open callback of %s returned %d: answering 500",
                  ws->path, plugin_name(wr->plugin), st);
        return 500;
    }
    return st;
}

/* A connection of route wr, PENDING until adopted; NULL on OOM. */
static struct kiln_ws *ws_new(struct ws_ctx *ctx, struct ws_route *wr,
                              const char *path, const char *proto)
{
    struct kiln_ws *ws = calloc(1, sizeof(*ws));

    if (!ws)
        return NULL;
    ws->path = strdup(path ? path : "/");
    if (!ws->path) {
        free(ws);
        return NULL;
    }
    ws->ctx = ctx;
    ws->rt = wr;
    ws->proto = proto;
    ws->state = WS_PENDING;
    ws->id = handle_new(&ids, ws);
    return ws;
}

int ws_check_upgrade(struct worker *w, const struct route *rt, struct kiln_req *req,
                     int upgrade, struct kiln_ws **out, char *extra, size_t extralen)
{
    struct ws_ctx *ctx = w->ws;
    struct ws_route *wr = rt->ws;
    struct kiln_ws *ws;
    const char *proto;
    int st;

    *out = NULL;
    if (extralen > 0)
        extra[0] = '\0';
    if (!ctx || !wr)
        return 500;
    st = ws_handshake_check(req, upgrade, wr->protos, &proto, extra, extralen);
    if (st != 0)
        return st;
    ws = ws_new(ctx, wr, req->path, proto);
    if (!ws)
        return 500;
    st = run_open(ws, req);
    if (st != 0) {
        ws_free(ws);
        return st;
    }
    *out = ws;
    return 0;
}

/* ---- messages in ---------------------------------------------------------------- */

/* Makes room for `more` bytes plus a NUL in the reassembly buffer, growing
 * with what arrives (not with what a frame header announces). */
static int rx_reserve(struct kiln_ws *ws, size_t more)
{
    size_t need = ws->rxlen + more + 1, cap = ws->rxcap ? ws->rxcap : 256;
    unsigned char *p;

    if (need <= ws->rxcap)
        return 0;
    while (cap < need)
        cap *= 2;
    if (cap > ws->rt->max_msg + 1 && need <= ws->rt->max_msg + 1)
        cap = ws->rt->max_msg + 1;
    p = realloc(ws->rx, cap);
    if (!p)
        return -1;
    ws->rx = p;
    ws->rxcap = cap;
    return 0;
}

/* Runs the route's message handler on msg (NUL-terminated) while open. */
static void run_message(struct kiln_ws *ws, int binary, const unsigned char *msg, size_t len)
{
    const struct ws_route *wr = ws->rt;

    if (wr->h.message && ws->state == WS_OPEN) {
        ws_enter(ws->ctx, wr);
        wr->h.message(ws, binary, msg, len, wr->data);
        ws_leave(ws->ctx);
    }
}

/* Hands the reassembled message to the route's message handler. */
static void deliver(struct kiln_ws *ws)
{
    static unsigned char empty[1];
    unsigned char *msg = ws->rx ? ws->rx : empty;

    msg[ws->rxlen] = '\0';
    run_message(ws, ws->rxbinary, msg, ws->rxlen);
    rx_reset(ws);
}

/*
 * A message that arrived whole in one piece: handed over from one buffer
 * of the worker's (for its NUL), so that it costs the connection no
 * allocation.  Handlers do not nest: lws delivers from its loop only.
 */
static void deliver_whole(struct kiln_ws *ws, const void *in, size_t len, int binary)
{
    static unsigned char buf[WS_WHOLE_MAX + 1];

    if (len > 0)                        /* an empty one may come as NULL */
        memcpy(buf, in, len);
    buf[len] = '\0';
    run_message(ws, binary, buf, len);
}

/*
 * Once closing, what arrives is dropped: the close goes out from WRITEABLE,
 * so that lws then waits for the peer's close instead of resetting a peer
 * that is still sending.
 */
void ws_conn_receive(struct kiln_ws *ws, const void *in, size_t len,
                     size_t rest, int binary, int final)
{
    if (ws->state == WS_CLOSING) {
        rx_reset(ws);
        return;
    }
    if (!ws->in_msg && final && rest == 0 && len <= WS_WHOLE_MAX &&
        len <= ws->rt->max_msg) {
        deliver_whole(ws, in, len, binary);
        return;
    }
    if (!ws->in_msg) {
        ws->in_msg = 1;
        ws->rxlen = 0;
        ws->rxbinary = binary ? 1 : 0;
    }
    if (len > ws->rt->max_msg - ws->rxlen ||
        rest > ws->rt->max_msg - ws->rxlen - len) {
        rx_reset(ws);
        ws_session_close(ws, 1009, "message too big", 1);
        return;
    }
    if (len > 0) {
        if (rx_reserve(ws, len) < 0) {
            rx_reset(ws);
            ws_session_close(ws, 1011, "out of memory", 1);
            return;
        }
        memcpy(ws->rx + ws->rxlen, in, len);
        ws->rxlen += len;
    }
    if (final)
        deliver(ws);
}
