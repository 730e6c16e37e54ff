/*
 * ws.c -- WebSocket routes: the upgrade checks, the hand-off of a socket to
 * libwebsockets on the worker's libev loop, whole messages in and out, send
 * queues, heartbeats, idle timeouts and closing.
 *
 * Life of a connection: conn.c sees a request for a WebSocket route and calls
 * ws_check_upgrade(), which validates the handshake headers, picks the
 * subprotocol, creates the struct kiln_ws and runs the route's open callback.
 * conn.c then calls ws_adopt(), which hands the socket to libwebsockets with
 * a canonical upgrade request rebuilt from the checked headers, followed by
 * whatever arrived after the header block.  So lws never sees a header we did
 * not validate, and the only subprotocol it is offered is the one we chose.
 * lws answers 101 and calls back with ESTABLISHED inside the adoption; from
 * then on ws_callback() dispatches to the route's handlers, until CLOSED.
 *
 * Timing (heartbeats, idle timeouts, close deadlines) runs on one ev_timer of
 * ours per worker that walks the open connections: lws 4.1's own timers can
 * fire late on libev, so nothing here depends on them.
 *
 * Close codes kiln chooses: 1009 for a message above ws_max_msg_size, 1008
 * when a send queue passes ws_max_queue, 1001 on a graceful stop and on
 * ws_idle_timeout, 1011 when memory runs out, 1007 (from lws) for text that
 * is not UTF-8.  A peer that does not answer a heartbeat ping within
 * ws_heartbeat/2 is presumed dead and dropped without a close frame; its
 * close handler sees 1006.  A close of ours waits WS_CLOSE_TIMEOUT for the
 * peer's answering close, then the socket is closed regardless.
 */
#define _GNU_SOURCE                 /* vasprintf */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "config.h"
#include "log.h"
#include "plugin.h"
#include "request.h"
#include "router.h"
#include "worker.h"
#include "ws.h"

#define WS_DEFAULT_MAX_MSG   ((size_t)4 << 20)  /* when the config says 0 */
#define WS_DEFAULT_MAX_QUEUE ((size_t)16 << 20)
#define WS_FRAG          ((size_t)64 << 10) /* payload bytes per frame written */
#define WS_RX_BUFFER     4096               /* lws' receive buffer, per connection */
#define WS_SERV_BUF      (32u << 10)        /* lws' read buffer, per worker */
#define WS_FD_LIMIT_MAX  262144             /* caps lws' fd tables (16 B per fd) */
#define WS_CLOSE_TIMEOUT 5.0                /* s from deciding to close to a hard close */
#define WS_REASON_MAX    123                /* bytes of a close reason */
#define WS_EXT_MAX       1024               /* bytes of extension offers passed on */
#define WS_PROTO_DEFAULT "kiln"             /* lws protocol when none is negotiated */
/* lws' own value for a close frame (kept out of its public enum). */
#define WS_WRITE_CLOSE   ((enum lws_write_protocol)4)

enum ws_state {
    WS_PENDING,                     /* opened by ws_check_upgrade, not adopted */
    WS_OPEN,                        /* handshake done: messages flow */
    WS_CLOSING,                     /* a close of ours is on its way */
    WS_CLOSED                       /* lws closed it: freed after the handler */
};

/* One queued outgoing message. */
struct ws_msg {
    struct ws_msg *next;
    size_t len;                     /* payload bytes */
    size_t sent;                    /* payload bytes written so far */
    int binary;
    unsigned char buf[];            /* LWS_PRE bytes of headroom, the payload */
};

/* route->ws: what kiln_add_websocket registered. */
struct ws_route {
    struct kiln_ws_handlers h;      /* h.subprotocols points at protos */
    void *data;
    struct plugin *plugin;
    const struct router *router;    /* it was registered in */
    const struct route *route;      /* its entry there (pattern) */
    char **protos;                  /* NULL-terminated copy, or NULL */
    struct kiln_ws *conns;          /* its open connections (broadcast) */
    struct ws_route *next;          /* every WebSocket route of the process */
};

struct kiln_ws {
    struct ws_ctx *ctx;
    struct ws_route *rt;
    struct lws *wsi;                /* NULL until adopted */
    struct kiln_ws *prev, *next;    /* in rt->conns from ESTABLISHED to CLOSED */
    void *user;                     /* kiln_ws_set_data */
    char *path;
    const char *proto;              /* in rt->protos, or NULL */
    enum ws_state state;

    struct ws_msg *qhead, *qtail;   /* to send, oldest first */
    struct ws_msg *retired;         /* written, maybe still read by lws */
    size_t qbytes;                  /* payload bytes of all of them */

    unsigned char *rx;              /* the message being reassembled */
    size_t rxlen, rxcap;
    int rxbinary;
    int in_msg;                     /* a fragment of it arrived */

    double last_rx;                 /* when a frame last arrived */
    double ping_at;                 /* when the last ping was queued; 0: none */
    double closing_at;              /* when state became WS_CLOSING */
    int close_code;                 /* ours while closing, or the peer's */
    char close_reason[WS_REASON_MAX + 1];
    unsigned ping_due : 1;          /* a ping waits for WRITEABLE */
    unsigned close_now : 1;         /* close without sending the queue first */
    unsigned got_close : 1;         /* close_code came from the peer */
    unsigned sent_close : 1;        /* our close frame went to lws */
    unsigned linked : 1;            /* established: in rt->conns, counted */
};

struct ws_ctx {
    struct worker *w;
    struct lws_context *lws;
    struct lws_vhost *vh;
    struct lws_protocols *protocols;
    void *loops[1];                 /* the worker's loop, for lws */
    size_t nconns;                  /* established, not yet closed */
    struct kiln_ws *pending;        /* between ws_check_upgrade and ws_adopt */
    const struct kiln_req *pending_req;
    struct kiln_ws *adopting;       /* inside lws_adopt_socket_vhost_readbuf */
    int adopt_fd;
    ev_timer sweep;                 /* heartbeats, idle and close deadlines */
    size_t max_msg, max_queue;
    double heartbeat, idle;
    int shutting_down;
    int destroying;
};

/* Every WebSocket route registered in this process (plugins load after the
 * fork, so this is per worker).  The lws vhost needs their subprotocols. */
static struct ws_route *ws_routes;

static const struct lws_extension ws_extensions[] = {
    {"permessage-deflate", lws_extension_callback_pm_deflate,
     "permessage-deflate; client_max_window_bits"},
    {NULL, NULL, NULL}
};

static void begin_close(struct kiln_ws *ws, int code, const char *reason,
                        int now);

/* ---- small helpers --------------------------------------------------------- */

/* Copies at most WS_REASON_MAX bytes of `reason`, not splitting a UTF-8
 * sequence. */
static void set_reason(struct kiln_ws *ws, const char *reason, size_t len)
{
    if (len > WS_REASON_MAX) {
        len = WS_REASON_MAX;
        while (len > 0 && ((unsigned char)reason[len] & 0xc0) == 0x80)
            len--;
    }
    memcpy(ws->close_reason, reason, len);
    ws->close_reason[len] = '\0';
}

static double ws_now(const struct ws_ctx *ctx)
{
    return ev_now(ctx->w->loop);
}

static void ws_enter(const struct ws_ctx *ctx, const struct ws_route *wr)
{
    plugin_enter(ctx->w->slot, wr->route, "WS");
}

static void ws_leave(const struct ws_ctx *ctx)
{
    plugin_leave(ctx->w->slot, 0);
}

/* Frees the message written last: called where lws cannot still be
 * deflating from it (a new WRITEABLE, or the end). */
static void retired_free(struct kiln_ws *ws)
{
    if (ws->retired) {
        ws->qbytes -= ws->retired->len;
        free(ws->retired);
        ws->retired = NULL;
    }
}

/* Drops what is queued; a message partly written is retired instead, as
 * lws may still be reading from it. */
static void queue_free(struct kiln_ws *ws)
{
    struct ws_msg *m = ws->qhead, *next;

    if (m && m->sent > 0) {
        retired_free(ws);
        ws->retired = m;
        m = m->next;
    }
    for (; m; m = next) {
        next = m->next;
        ws->qbytes -= m->len;
        free(m);
    }
    ws->qhead = ws->qtail = NULL;
}

static void rx_reset(struct kiln_ws *ws)
{
    free(ws->rx);
    ws->rx = NULL;
    ws->rxlen = ws->rxcap = 0;
    ws->in_msg = 0;
}

static void ws_free(struct kiln_ws *ws)
{
    queue_free(ws);
    retired_free(ws);
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

/* Ends a connection that was opened but never reached lws: close handler
 * with 1006, then free. */
static void ws_abort(struct kiln_ws *ws)
{
    ws->state = WS_CLOSED;
    run_close(ws, 1006, "");
    ws_free(ws);
}

static void discard_pending(struct ws_ctx *ctx)
{
    struct kiln_ws *ws = ctx->pending;

    ctx->pending = NULL;
    ctx->pending_req = NULL;
    if (ws) {
        log_warn("websocket %s: accepted but never handed over", ws->path);
        ws_abort(ws);
    }
}

/* ---- the upgrade request ------------------------------------------------------ */

/* The first request header called `name`, and how many there are. */
static const char *header(const struct kiln_req *req, const char *name,
                          int *count)
{
    const char *v = NULL;
    size_t i;
    int n = 0;

    for (i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].name, name) != 0)
            continue;
        if (n++ == 0)
            v = req->headers[i].value;
    }
    if (count)
        *count = n;
    return v;
}

/*
 * Finds the next comma-separated token of a header value at *p: sets *tok
 * and *len (spaces trimmed) and advances *p.  0 at the end of the value.
 */
static int next_token(const char **p, const char **tok, size_t *len)
{
    const char *s = *p, *e;

    while (*s == ' ' || *s == '\t' || *s == ',')
        s++;
    if (*s == '\0')
        return 0;
    e = s;
    while (*e != '\0' && *e != ',')
        e++;
    *p = e;
    *tok = s;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *len = (size_t)(e - s);
    return 1;
}

/* True when a header `name` (any of them) lists `token` (case-insensitive). */
static int has_token(const struct kiln_req *req, const char *name,
                     const char *token)
{
    size_t i, len, tl = strlen(token);
    const char *p, *t;

    for (i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].name, name) != 0)
            continue;
        p = req->headers[i].value;
        while (next_token(&p, &t, &len))
            if (len == tl && strncasecmp(t, token, len) == 0)
                return 1;
    }
    return 0;
}

/* Sec-WebSocket-Key: 16 bytes in base64, i.e. 22 characters and "==". */
static int key_ok(const char *key)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int i;

    if (key == NULL || strlen(key) != 24 || strcmp(key + 22, "==") != 0)
        return 0;
    for (i = 0; i < 22; i++)
        if (strchr(b64, key[i]) == NULL)
            return 0;
    return 1;
}

/*
 * The handshake headers: 426 (with Upgrade/Connection in extra) when this is
 * no WebSocket upgrade at all, 400 for a bad version (with the version we
 * speak in extra) or key.  0 when they are fine.
 */
static int check_headers(const struct kiln_req *req, int upgrade, char *extra,
                         size_t extralen)
{
    const char *v;
    int n;

    if (!upgrade || strcmp(req->method, "GET") != 0 ||
        !has_token(req, "upgrade", "websocket") ||
        !has_token(req, "connection", "upgrade")) {
        snprintf(extra, extralen, "Upgrade: websocket\r\nConnection: Upgrade\r\n");
        return 426;
    }
    if (req->http_major < 1 || (req->http_major == 1 && req->http_minor < 1))
        return 400;
    v = header(req, "sec-websocket-version", &n);
    if (v == NULL || n != 1 || strcmp(v, "13") != 0) {
        snprintf(extra, extralen, "Sec-WebSocket-Version: 13\r\n");
        return 400;
    }
    v = header(req, "sec-websocket-key", &n);
    if (n != 1 || !key_ok(v))
        return 400;
    return 0;
}

/* True when the client offered subprotocol `name`. */
static int client_offers(const struct kiln_req *req, const char *name)
{
    return has_token(req, "sec-websocket-protocol", name);
}

/* True when the client offered any subprotocol. */
static int client_asks(const struct kiln_req *req)
{
    const char *p, *t;
    size_t i, len;

    for (i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].name, "sec-websocket-protocol") != 0)
            continue;
        p = req->headers[i].value;
        if (next_token(&p, &t, &len))
            return 1;
    }
    return 0;
}

/*
 * The route's most preferred subprotocol that the client offered (*out, or
 * NULL when the client asked for none).  400 when it asked only for others.
 */
static int pick_subprotocol(const struct ws_route *wr,
                            const struct kiln_req *req, const char **out)
{
    char **p;

    *out = NULL;
    if (!client_asks(req))
        return 0;
    for (p = wr->protos; p && *p; p++) {
        if (client_offers(req, *p)) {
            *out = *p;
            return 0;
        }
    }
    return 400;
}

/* Where the header block of `bytes` ends (after its blank line), or len. */
static size_t head_end(const char *bytes, size_t len)
{
    size_t i = 0;

    while (i < len && (bytes[i] == '\r' || bytes[i] == '\n'))
        i++;
    for (; i + 1 < len; i++) {
        if (bytes[i] != '\n')
            continue;
        if (bytes[i + 1] == '\n')
            return i + 2;
        if (bytes[i + 1] == '\r' && i + 2 < len && bytes[i + 2] == '\n')
            return i + 3;
    }
    return len;
}

/* The client's extension offers, joined, when the route wants deflate and
 * they fit in WS_EXT_MAX; else "". */
static void extension_offers(const struct ws_route *wr,
                             const struct kiln_req *req, char *out, size_t cap)
{
    size_t i, n = 0, l;

    out[0] = '\0';
    if (!wr->h.deflate)
        return;
    for (i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].name, "sec-websocket-extensions") != 0)
            continue;
        l = strlen(req->headers[i].value);
        if (n + l + 3 > cap) {
            out[0] = '\0';
            return;
        }
        n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? ", " : "",
                              req->headers[i].value);
    }
}

/*
 * The bytes lws gets: a canonical upgrade request carrying the checked key,
 * the chosen subprotocol and the deflate offers, then whatever followed the
 * header block in `bytes`.  Malloc'd (*outlen bytes), or NULL.
 */
static char *build_request(const struct kiln_ws *ws, const struct kiln_req *req,
                           const char *bytes, size_t len, size_t *outlen)
{
    char ext[WS_EXT_MAX + 1];
    size_t tail = head_end(bytes, len), cap;
    const char *key = header(req, "sec-websocket-key", NULL);
    char *out;
    int n;

    extension_offers(ws->rt, req, ext, sizeof(ext));
    cap = 256 + strlen(key) + (ws->proto ? strlen(ws->proto) : 0) +
          strlen(ext) + (len - tail);
    out = malloc(cap);
    if (!out)
        return NULL;
    n = snprintf(out, cap,
                 "GET / HTTP/1.1\r\nHost: kiln\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Key: %s\r\n%s%s%s%s%s%s\r\n", key,
                 ws->proto ? "Sec-WebSocket-Protocol: " : "",
                 ws->proto ? ws->proto : "", ws->proto ? "\r\n" : "",
                 ext[0] ? "Sec-WebSocket-Extensions: " : "", ext,
                 ext[0] ? "\r\n" : "");
    memcpy(out + n, bytes + tail, len - tail);
    *outlen = (size_t)n + (len - tail);
    return out;
}

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
    return ws;
}

int ws_check_upgrade(struct worker *w, const struct route *rt,
                     struct kiln_req *req, int upgrade, char *extra,
                     size_t extralen)
{
    struct ws_ctx *ctx = w->ws;
    struct ws_route *wr = rt->ws;
    struct kiln_ws *ws;
    const char *proto;
    int st;

    if (extralen > 0)
        extra[0] = '\0';
    if (!ctx || !wr)
        return 500;
    discard_pending(ctx);
    st = check_headers(req, upgrade, extra, extralen);
    if (st == 0)
        st = pick_subprotocol(wr, req, &proto);
    if (st != 0)
        return st;
    if (ctx->shutting_down || w->draining)
        return 503;
    ws = ws_new(ctx, wr, req->path, proto);
    if (!ws)
        return 500;
    st = run_open(ws, req);
    if (st != 0) {
        ws_free(ws);
        return st;
    }
    ctx->pending = ws;
    ctx->pending_req = req;
    return 0;
}

/* The connection ws_check_upgrade() accepted for this request, taken out of
 * ctx->pending; NULL (logged) when there is none. */
static struct kiln_ws *take_pending(struct ws_ctx *ctx, const struct route *rt,
                                    const struct kiln_req *req)
{
    struct kiln_ws *ws = ctx ? ctx->pending : NULL;

    if (!ws || ctx->pending_req != req || ws->rt != rt->ws) {
        log_error("ws_adopt() without a matching ws_check_upgrade()");
        if (ctx)
            discard_pending(ctx);
        return NULL;
    }
    ctx->pending = NULL;
    ctx->pending_req = NULL;
    return ws;
}

int ws_adopt(struct worker *w, int fd, const struct route *rt,
             struct kiln_req *req, const char *bytes, size_t len)
{
    struct ws_ctx *ctx = w->ws;
    struct kiln_ws *ws = take_pending(ctx, rt, req);
    struct lws *wsi;
    size_t hlen = 0;
    char *head = ws ? build_request(ws, req, bytes, len, &hlen) : NULL;

    if (!head) {
        close(fd);
        if (ws)
            ws_abort(ws);
        return -1;
    }
    ctx->adopting = ws;
    ctx->adopt_fd = fd;
    wsi = lws_adopt_socket_vhost_readbuf(ctx->vh, fd, head, hlen);
    free(head);
    if (ctx->adopting == NULL)
        return 0;               /* opened, and already closed inside */
    ctx->adopting = NULL;
    if (ws->wsi)
        return 0;
    if (wsi) {                  /* handshake still under way: bind now */
        ws->wsi = wsi;
        lws_set_opaque_user_data(wsi, ws);
        return 0;
    }
    log_error("websocket %s: libwebsockets refused the connection", ws->path);
    ws_abort(ws);               /* lws closed the fd */
    return -1;
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
    if (cap > ws->ctx->max_msg + 1 && need <= ws->ctx->max_msg + 1)
        cap = ws->ctx->max_msg + 1;
    p = realloc(ws->rx, cap);
    if (!p)
        return -1;
    ws->rx = p;
    ws->rxcap = cap;
    return 0;
}

/* Hands the reassembled message to the route's message handler. */
static void deliver(struct kiln_ws *ws)
{
    const struct ws_route *wr = ws->rt;
    static unsigned char empty[1];
    unsigned char *msg = ws->rx ? ws->rx : empty;

    msg[ws->rxlen] = '\0';
    if (wr->h.message && ws->state == WS_OPEN) {
        ws_enter(ws->ctx, wr);
        wr->h.message(ws, ws->rxbinary, msg, ws->rxlen, wr->data);
        ws_leave(ws->ctx);
    }
    rx_reset(ws);
}

/*
 * LWS_CALLBACK_RECEIVE: a piece of a message (UTF-8 already checked by lws).
 * Once closing, what arrives is dropped: the close goes out from WRITEABLE,
 * so that lws then waits for the peer's close instead of resetting a peer
 * that is still sending.
 */
static int on_receive(struct kiln_ws *ws, const void *in, size_t len)
{
    size_t rest = lws_remaining_packet_payload(ws->wsi);

    ws->last_rx = ws_now(ws->ctx);
    if (ws->state == WS_CLOSING) {
        rx_reset(ws);
        return 0;
    }
    if (!ws->in_msg) {
        ws->in_msg = 1;
        ws->rxlen = 0;
        ws->rxbinary = lws_frame_is_binary(ws->wsi) ? 1 : 0;
    }
    if (len > ws->ctx->max_msg - ws->rxlen ||
        rest > ws->ctx->max_msg - ws->rxlen - len) {
        rx_reset(ws);
        begin_close(ws, 1009, "message too big", 1);
        return 0;
    }
    if (len > 0) {
        if (rx_reserve(ws, len) < 0) {
            rx_reset(ws);
            begin_close(ws, 1011, "out of memory", 1);
            return 0;
        }
        memcpy(ws->rx + ws->rxlen, in, len);
        ws->rxlen += len;
    }
    if (lws_is_final_fragment(ws->wsi))
        deliver(ws);
    return 0;
}

/*
 * LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: keeps the peer's code and reason.
 * Returns 0 to let lws answer with the same close, or -1 when this is the
 * answer to our own close (lws then just closes the socket).
 */
static int on_peer_close(struct kiln_ws *ws, const unsigned char *in,
                         size_t len)
{
    if (ws->sent_close)
        return -1;
    ws->got_close = 1;
    if (len < 2) {
        ws->close_code = 1005;          /* a close frame without a code */
        ws->close_reason[0] = '\0';
        return 0;
    }
    ws->close_code = (in[0] << 8) | in[1];
    set_reason(ws, (const char *)in + 2, len - 2);
    return 0;
}

/* ---- messages out --------------------------------------------------------------- */

/*
 * Writes an empty message as ready-made frame bytes: lws 4.1's
 * permessage-deflate asserts on an empty write, and an uncompressed
 * message is always allowed.
 */
static int write_empty(struct kiln_ws *ws, int binary)
{
    unsigned char f[LWS_PRE + 2];

    f[LWS_PRE] = binary ? 0x82 : 0x81;      /* FIN, text or binary */
    f[LWS_PRE + 1] = 0;                     /* unmasked, no payload */
    return lws_write(ws->wsi, f + LWS_PRE, 2, LWS_WRITE_HTTP) < 0 ? -1 : 0;
}

/* Writes the next frame (up to WS_FRAG bytes) of message m. */
static int write_data(struct kiln_ws *ws, struct ws_msg *m)
{
    size_t left = m->len - m->sent, n = left < WS_FRAG ? left : WS_FRAG;
    int wp;

    if (m->len == 0)
        return write_empty(ws, m->binary);
    if (m->sent == 0)
        wp = m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT;
    else
        wp = LWS_WRITE_CONTINUATION;
    if (n < left)
        wp |= LWS_WRITE_NO_FIN;
    if (lws_write(ws->wsi, m->buf + LWS_PRE + m->sent, n,
                  (enum lws_write_protocol)wp) < 0)
        return -1;
    m->sent += n;
    return 0;
}

/*
 * Writes the next frame of the oldest queued message.  A message written
 * whole is retired, not freed: with permessage-deflate lws may still
 * compress from it until it calls WRITEABLE again.
 */
static int write_fragment(struct kiln_ws *ws)
{
    struct ws_msg *m = ws->qhead;

    if (write_data(ws, m) < 0)
        return -1;
    if (m->sent == m->len) {
        ws->qhead = m->next;
        if (!ws->qhead)
            ws->qtail = NULL;
        ws->retired = m;
    }
    return 0;
}

/*
 * Writes our close frame.  It goes out as a plain frame rather than through
 * lws_close_reason(): lws 4.1 closes the socket right after a close of its
 * own, resetting a peer that is still sending, so it would never see the
 * code.  This way lws keeps reading until the peer's close arrives
 * (on_peer_close) or the sweep gives up after WS_CLOSE_TIMEOUT.
 */
static int send_close(struct kiln_ws *ws)
{
    unsigned char buf[LWS_PRE + 2 + WS_REASON_MAX];
    size_t rl = strlen(ws->close_reason);

    buf[LWS_PRE] = (unsigned char)(ws->close_code >> 8);
    buf[LWS_PRE + 1] = (unsigned char)ws->close_code;
    memcpy(buf + LWS_PRE + 2, ws->close_reason, rl);
    ws->sent_close = 1;
    return lws_write(ws->wsi, buf + LWS_PRE, 2 + rl, WS_WRITE_CLOSE) < 0 ? -1 : 0;
}

/* LWS_CALLBACK_SERVER_WRITEABLE: one frame per call (a close, a ping, or a
 * piece of the oldest message), then asks again if more is waiting. */
static int on_writeable(struct kiln_ws *ws)
{
    /* lws hides empty pongs from us: the ping carries a payload. */
    static unsigned char ping[LWS_PRE + 4] = {[LWS_PRE] = 'k', 'i', 'l', 'n'};

    retired_free(ws);
    if (ws->sent_close)
        return 0;
    if (ws->state == WS_CLOSING && (ws->close_now || !ws->qhead))
        return send_close(ws);
    if (ws->ping_due) {
        ws->ping_due = 0;
        if (lws_write(ws->wsi, ping + LWS_PRE, 4, LWS_WRITE_PING) < 0)
            return -1;
    } else if (ws->qhead && write_fragment(ws) < 0) {
        return -1;
    }
    if (ws->qhead || ws->ping_due || ws->state == WS_CLOSING)
        lws_callback_on_writable(ws->wsi);
    return 0;
}

/* ---- connection life -------------------------------------------------------------- */

/* The connection behind `wsi`; ESTABLISHED binds the one being adopted. */
static struct kiln_ws *ws_of(struct ws_ctx *ctx, struct lws *wsi,
                             enum lws_callback_reasons reason)
{
    struct kiln_ws *ws = lws_get_opaque_user_data(wsi);

    if (!ws && reason == LWS_CALLBACK_ESTABLISHED && ctx->adopting &&
        !ctx->adopting->wsi && lws_get_socket_fd(wsi) == ctx->adopt_fd) {
        ws = ctx->adopting;
        ws->wsi = wsi;
        lws_set_opaque_user_data(wsi, ws);
    }
    return ws;
}

/* LWS_CALLBACK_ESTABLISHED: the 101 went out; sends what open() queued. */
static void on_established(struct kiln_ws *ws)
{
    struct ws_route *wr = ws->rt;
    double now = ws_now(ws->ctx);

    if (ws->state == WS_PENDING)
        ws->state = WS_OPEN;
    else
        ws->closing_at = now;           /* open() already closed it */
    ws->last_rx = now;
    ws->linked = 1;
    ws->next = wr->conns;
    if (wr->conns)
        wr->conns->prev = ws;
    wr->conns = ws;
    ws->ctx->nconns++;
    if (ws->qhead || ws->state == WS_CLOSING)
        lws_callback_on_writable(ws->wsi);
}

/* LWS_CALLBACK_CLOSED: reports the close, frees the connection and lets a
 * draining worker exit once nothing is left. */
static void on_closed(struct kiln_ws *ws)
{
    struct ws_ctx *ctx = ws->ctx;
    struct ws_route *wr = ws->rt;
    int code = ws->got_close || ws->state == WS_CLOSING ? ws->close_code : 1006;

    lws_set_opaque_user_data(ws->wsi, NULL);
    if (ws->linked) {
        if (ws->prev)
            ws->prev->next = ws->next;
        else
            wr->conns = ws->next;
        if (ws->next)
            ws->next->prev = ws->prev;
        ctx->nconns--;
    }
    if (ctx->adopting == ws)
        ctx->adopting = NULL;
    ws->state = WS_CLOSED;
    run_close(ws, code, code == 1006 ? "" : ws->close_reason);
    ws_free(ws);
}

/* The one lws protocol callback, for every subprotocol. */
static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len)
{
    struct ws_ctx *ctx = lws_context_user(lws_get_context(wsi));
    struct kiln_ws *ws;

    (void)user;
    if (!ctx)
        return 0;
    ws = ws_of(ctx, wsi, reason);
    if (!ws)
        return reason == LWS_CALLBACK_ESTABLISHED ? -1 : 0;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        on_established(ws);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return on_receive(ws, in, len);
    case LWS_CALLBACK_RECEIVE_PONG:
        ws->last_rx = ws_now(ctx);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(ws);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        return on_peer_close(ws, in, len);
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        on_closed(ws);
        return 0;
    default:
        return 0;
    }
}

/* ---- timers --------------------------------------------------------------------- */

/* Closes the connection at once, without a close handshake. */
static void kill_now(struct kiln_ws *ws)
{
    lws_set_timeout(ws->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

/* Pings a connection that was silent for ws_heartbeat; drops one whose ping
 * is unanswered after ws_heartbeat/2. */
static void heartbeat(struct ws_ctx *ctx, struct kiln_ws *ws, double now)
{
    if (ws->ping_at > ws->last_rx) {            /* a ping is unanswered */
        if (now - ws->ping_at >= ctx->heartbeat / 2) {
            log_info("websocket %s: no pong within %.3gs: dropping it",
                     ws->path, ctx->heartbeat / 2);
            kill_now(ws);
        }
        return;
    }
    if (now - ws->last_rx >= ctx->heartbeat) {
        ws->ping_at = now;
        ws->ping_due = 1;
        lws_callback_on_writable(ws->wsi);
    }
}

static void sweep_one(struct ws_ctx *ctx, struct kiln_ws *ws, double now)
{
    if (ws->state == WS_CLOSING) {
        if (now - ws->closing_at >= WS_CLOSE_TIMEOUT)
            kill_now(ws);
        return;
    }
    if (ws->state != WS_OPEN)
        return;
    if (ctx->idle > 0 && now - ws->last_rx >= ctx->idle) {
        begin_close(ws, 1001, "idle timeout", 1);
        return;
    }
    if (ctx->heartbeat > 0)
        heartbeat(ctx, ws, now);
}

static void on_sweep(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct ws_ctx *ctx = t->data;
    double now = ev_now(loop);
    struct ws_route *wr;
    struct kiln_ws *ws, *next;

    (void)revents;
    for (wr = ws_routes; wr; wr = wr->next) {
        for (ws = wr->conns; ws; ws = next) {
            next = ws->next;
            sweep_one(ctx, ws, now);
        }
    }
}

/* How often the sweep runs: a quarter of the shortest period, within
 * [50 ms, 1 s]. */
static double sweep_interval(const struct ws_ctx *ctx)
{
    double t = 1.0;

    if (ctx->heartbeat > 0 && ctx->heartbeat / 4 < t)
        t = ctx->heartbeat / 4;
    if (ctx->idle > 0 && ctx->idle / 4 < t)
        t = ctx->idle / 4;
    return t < 0.05 ? 0.05 : t;
}

/* ---- closing ---------------------------------------------------------------------- */

/*
 * Starts a close of ours with `code` and `reason`: `now` drops what is
 * queued, otherwise the queue is sent first.  The close frame goes out from
 * WRITEABLE; the sweep hard-closes after WS_CLOSE_TIMEOUT.
 */
static void begin_close(struct kiln_ws *ws, int code, const char *reason,
                        int now)
{
    if (ws->state != WS_OPEN && ws->state != WS_PENDING)
        return;
    ws->state = WS_CLOSING;
    ws->close_code = code;
    set_reason(ws, reason, strlen(reason));
    ws->close_now = now ? 1 : 0;
    ws->closing_at = ws_now(ws->ctx);
    if (now)
        queue_free(ws);
    if (ws->wsi)
        lws_callback_on_writable(ws->wsi);
}

void ws_shutdown(struct worker *w)
{
    struct ws_ctx *ctx = w->ws;
    struct ws_route *wr;
    struct kiln_ws *ws;

    if (!ctx || ctx->shutting_down)
        return;
    ctx->shutting_down = 1;
    discard_pending(ctx);
    for (wr = ws_routes; wr; wr = wr->next) {
        for (ws = wr->conns; ws; ws = ws->next) {
            if (ws->state == WS_CLOSING) {
                ws->close_now = 1;
                queue_free(ws);
                lws_callback_on_writable(ws->wsi);
            } else {
                begin_close(ws, 1001, "server shutting down", 1);
            }
        }
    }
}

size_t ws_count(const struct worker *w)
{
    return w->ws ? w->ws->nconns : 0;
}

/* ---- context ---------------------------------------------------------------------- */

/* libwebsockets' log lines, into ours (minus the line it logs as an error
 * on every adoption). */
static void lws_emit(int level, const char *line)
{
    int lv = level & LLL_ERR ? LOG_ERROR : LOG_WARN;
    size_t n = strlen(line);

    if (strstr(line, "adopt_socket_readbuf: calling service"))
        return;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    log_msg(lv, "libwebsockets: %.*s", (int)n, line);
}

static int proto_known(const struct lws_protocols *p, size_t n,
                       const char *name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(p[i].name, name) == 0)
            return 1;
    return 0;
}

/* The vhost's protocol list: the default one and every route's
 * subprotocols (once each), all on ws_callback.  Malloc'd, or NULL. */
static struct lws_protocols *protocols_new(void)
{
    struct lws_protocols *p, proto;
    const struct ws_route *wr;
    size_t n = 1, cap = 2;
    char **s;

    for (wr = ws_routes; wr; wr = wr->next)
        for (s = wr->protos; s && *s; s++)
            cap++;
    p = calloc(cap, sizeof(*p));
    if (!p)
        return NULL;
    memset(&proto, 0, sizeof(proto));
    proto.callback = ws_callback;
    proto.rx_buffer_size = WS_RX_BUFFER;
    proto.tx_packet_size = WS_FRAG + 16;    /* a whole frame per send() */
    proto.name = WS_PROTO_DEFAULT;
    p[0] = proto;
    for (wr = ws_routes; wr; wr = wr->next) {
        for (s = wr->protos; s && *s; s++) {
            if (proto_known(p, n, *s))
                continue;
            proto.name = *s;
            p[n++] = proto;
        }
    }
    return p;
}

/* lws sizes its fd tables by this, and refuses fds numbered above it. */
static unsigned fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur > WS_FD_LIMIT_MAX)
        return WS_FD_LIMIT_MAX;
    return (unsigned)rl.rlim_cur;
}

/* Creates the lws context on the worker's loop and our one vhost. */
static int context_new(struct ws_ctx *ctx)
{
    struct lws_context_creation_info info;

    memset(&info, 0, sizeof(info));
    ctx->loops[0] = ctx->w->loop;
    info.options = LWS_SERVER_OPTION_LIBEV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                   LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.foreign_loops = ctx->loops;
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.user = ctx;
    info.fd_limit_per_thread = fd_limit();
    info.pt_serv_buf_size = WS_SERV_BUF;
    info.count_threads = 1;
    info.gid = -1;
    info.uid = -1;
    ctx->lws = lws_create_context(&info);
    if (!ctx->lws) {
        log_error("lws_create_context() failed (is libwebsockets-evlib-ev installed?)");
        return -1;
    }
    info.vhost_name = "kiln";
    info.protocols = ctx->protocols;
    info.extensions = ws_extensions;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    ctx->vh = lws_create_vhost(ctx->lws, &info);
    if (!ctx->vh) {
        log_error("lws_create_vhost() failed");
        return -1;
    }
    return 0;
}

static void route_free(struct ws_route *wr)
{
    char **p;

    for (p = wr->protos; p && *p; p++)
        free(*p);
    free(wr->protos);
    free(wr);
}

static void routes_free(void)
{
    struct ws_route *wr, *next;

    for (wr = ws_routes; wr; wr = next) {
        next = wr->next;
        route_free(wr);
    }
    ws_routes = NULL;
}

/* Forgets the routes of any other router (e.g. inherited over a fork). */
static void routes_keep(const struct router *r)
{
    struct ws_route **pp = &ws_routes, *wr;

    while ((wr = *pp) != NULL) {
        if (wr->router == r) {
            pp = &wr->next;
            continue;
        }
        *pp = wr->next;
        route_free(wr);
    }
}

static size_t size_or(size_t v, size_t def)
{
    return v ? v : def;
}

int ws_init(struct worker *w)
{
    struct ws_ctx *ctx;
    double t;

    routes_keep(w->router);
    if (!ws_routes)
        return 0;                       /* no WebSocket route: no lws at all */
    ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return -1;
    ctx->w = w;
    ctx->max_msg = size_or(w->cfg->ws_max_msg_size, WS_DEFAULT_MAX_MSG);
    ctx->max_queue = size_or(w->cfg->ws_max_queue, WS_DEFAULT_MAX_QUEUE);
    ctx->heartbeat = w->cfg->ws_heartbeat;
    ctx->idle = w->cfg->ws_idle_timeout;
    w->ws = ctx;
    /* lws' notices run to several lines per frame on libev: never wanted. */
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_emit);
    ctx->protocols = protocols_new();
    if (!ctx->protocols || context_new(ctx) < 0) {
        ws_destroy(w);
        return -1;
    }
    t = sweep_interval(ctx);
    ev_timer_init(&ctx->sweep, on_sweep, t, t);
    ctx->sweep.data = ctx;
    ev_timer_start(w->loop, &ctx->sweep);
    ev_unref(w->loop);                  /* the sweep alone keeps nothing alive */
    return 0;
}

void ws_destroy(struct worker *w)
{
    struct ws_ctx *ctx = w->ws;

    if (ctx) {
        ctx->destroying = 1;
        discard_pending(ctx);
        if (ev_is_active(&ctx->sweep)) {
            ev_ref(w->loop);
            ev_timer_stop(w->loop, &ctx->sweep);
        }
        if (ctx->lws)
            lws_context_destroy(ctx->lws);  /* CLOSED for what is still open */
        free(ctx->protocols);
        free(ctx);
        w->ws = NULL;
    }
    routes_free();
}

/* ---- the plugin API ------------------------------------------------------------- */

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
    wr->h = *h;
    wr->data = data;
    wr->plugin = app->plugin;
    wr->router = app->router;
    if (protos_copy(wr, h->subprotocols, err, errlen) < 0) {
        route_free(wr);
        return NULL;
    }
    wr->h.subprotocols = (const char *const *)wr->protos;
    return wr;
}

KILN_EXPORT int kiln_add_websocket(kiln_app *app, const char *pattern,
                                   const struct kiln_ws_handlers *h, void *data)
{
    char err[256] = "";
    struct ws_route *wr = NULL;
    struct route *rt;

    if (app == NULL)
        return -1;
    if (pattern == NULL || h == NULL)
        snprintf(err, sizeof(err), "no %s", pattern ? "handlers" : "pattern");
    else if ((wr = route_new(app, h, data, err, sizeof(err))) != NULL &&
             (rt = router_add(app->router, "GET", pattern, NULL, data,
                              app->plugin, err, sizeof(err))) != NULL) {
        rt->ws = wr;
        wr->route = rt;
        wr->next = ws_routes;
        ws_routes = wr;
        return 0;
    }
    if (wr)
        route_free(wr);
    log_error("%s: add_websocket(%s): %s", plugin_name(app->plugin),
              pattern ? pattern : "(null)", err[0] ? err : "refused");
    app->failed = 1;
    return -1;
}

KILN_EXPORT int kiln_ws_send(kiln_ws *ws, int binary, const void *msg,
                             size_t len)
{
    struct ws_msg *m;

    if (ws == NULL || (ws->state != WS_OPEN && ws->state != WS_PENDING) ||
        (msg == NULL && len > 0))
        return -1;
    if (len > ws->ctx->max_queue - ws->qbytes) {
        log_warn("websocket %s: send queue above %zu bytes: closing (1008)",
                 ws->path, ws->ctx->max_queue);
        begin_close(ws, 1008, "send queue full", 1);
        return -1;
    }
    m = malloc(sizeof(*m) + LWS_PRE + len);
    if (!m)
        return -1;
    m->next = NULL;
    m->len = len;
    m->sent = 0;
    m->binary = binary ? 1 : 0;
    if (len)
        memcpy(m->buf + LWS_PRE, msg, len);
    if (ws->qtail)
        ws->qtail->next = m;
    else
        ws->qhead = m;
    ws->qtail = m;
    ws->qbytes += len;
    if (ws->wsi && ws->state == WS_OPEN)
        lws_callback_on_writable(ws->wsi);
    return 0;
}

KILN_EXPORT int kiln_ws_send_text(kiln_ws *ws, const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n, rc;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    rc = kiln_ws_send(ws, 0, s, (size_t)n);
    free(s);
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
    begin_close(ws, code, reason ? reason : "", 0);
    return 0;
}

KILN_EXPORT int kiln_ws_broadcast(kiln_ws *ws, int binary, const void *msg,
                                  size_t len)
{
    struct kiln_ws *c, *next;
    int n = 0;

    if (ws == NULL)
        return 0;
    if (ws->state == WS_PENDING && kiln_ws_send(ws, binary, msg, len) == 0)
        n++;
    for (c = ws->rt->conns; c; c = next) {
        next = c->next;
        if (c->state == WS_OPEN && kiln_ws_send(c, binary, msg, len) == 0)
            n++;
    }
    return n;
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
