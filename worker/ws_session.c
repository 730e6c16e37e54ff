/*
 * ws_session.c -- a WebSocket connection on libwebsockets: the protocol
 * callback, frames written from the send queue, pings, and the close
 * handshake; the connection's own state is in ws_conn.c.
 *
 * Life of a connection: conn.c sees a request for a WebSocket route and calls
 * ws_check_upgrade() (ws_conn.c), which checks the handshake
 * (ws_handshake.c), creates the struct kiln_ws and runs the route's open
 * callback, and gives the connection back to conn.c.  conn.c then calls
 * ws_adopt() (ws_context.c) with it, which hands the socket to
 * libwebsockets with a canonical upgrade request rebuilt from the checked
 * headers, followed by whatever arrived after the header block.  lws answers 101 and calls back with ESTABLISHED inside the
 * adoption; from then on ws_callback() dispatches to the route's handlers,
 * until CLOSED.
 *
 * Timing (heartbeats, idle timeouts, close deadlines) runs on one ev_timer
 * per worker (ws_context.c): lws 4.1's own timers can fire late on libev,
 * so nothing here depends on them.
 *
 * Close codes kiln chooses: 1009 for a message above the route's limit,
 * 1008 when a send queue passes ws_max_queue, 1001 on a graceful stop and on
 * ws_idle_timeout, 1011 when memory runs out, 1002 for a close frame RFC
 * 6455 forbids; lws sends 1002 for other protocol errors and 1007 for text
 * that is not UTF-8, after which the socket is closed at once.  A peer
 * that does not answer a heartbeat ping within ws_heartbeat/2 is presumed
 * dead and dropped without a close frame; its close handler sees 1006.  A
 * close of ours waits WS_CLOSE_TIMEOUT for the peer's answering close, then
 * the socket is closed regardless.
 */
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "worker.h"
#include "ws.h"
#include "ws_private.h"

#define WS_FRAG          ((size_t)64 << 10) /* payload bytes per frame written */
#define WS_SYNC_FRAG     ((size_t)16 << 10) /* the same, written outside WRITEABLE */
#define WS_RX_BUFFER     1024               /* lws' receive buffer, per connection */
#define WS_PROTO_DEFAULT "kiln"             /* lws protocol when none is negotiated */
/* lws' own value for a close frame (kept out of its public enum). */
#define WS_WRITE_CLOSE   ((enum lws_write_protocol)4)

static double ws_now(const struct ws_ctx *ctx)
{
    return ev_now(ctx->w->loop);
}

/* ---- messages in ---------------------------------------------------------------- */

/*
 * LWS_CALLBACK_RECEIVE: a piece of a message (UTF-8 already checked by lws),
 * reassembled by ws_conn_receive.
 */
static int on_receive(struct kiln_ws *ws, const void *in, size_t len)
{
    size_t rest = lws_remaining_packet_payload(ws->wsi);

    ws->last_rx = ws_now(ws->ctx);
    ws_conn_receive(ws, in, len, rest, lws_frame_is_binary(ws->wsi),
                    lws_is_final_fragment(ws->wsi));
    return 0;
}

/* ---- messages out --------------------------------------------------------------- */

static void rx_pause(struct kiln_ws *ws, int pause);

/*
 * Writes a message of up to WS_SYNC_FRAG bytes at once, as one frame, when
 * nothing is ahead of it: the connection is open, the peer's close has not
 * come (nothing is answered after it), nothing is queued or retired, lws
 * holds no part of a frame, no ping is due.  This spares the queue's
 * copy and the round through the loop for WRITEABLE (two epoll_ctl and an
 * epoll_wait per message).  The payload goes through one buffer of the
 * worker's: lws copies what the socket does not take, and permessage-deflate
 * compresses a frame this small whole inside lws_write, keeping nothing of
 * it.  1 when written, 0 when it must be queued, -1 when lws failed (the
 * connection is then closed).
 */
static int send_now(struct kiln_ws *ws, int binary, const void *msg, size_t len)
{
    static unsigned char buf[LWS_PRE + WS_SYNC_FRAG];

    if (!ws->wsi || ws->state != WS_OPEN || ws->got_close || ws->qhead || ws->retired ||
        ws->ping_due || len == 0 || len > WS_SYNC_FRAG || lws_partial_buffered(ws->wsi))
        return 0;
    memcpy(buf + LWS_PRE, msg, len);
    if (lws_write(ws->wsi, buf + LWS_PRE, len,
                  binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) < 0) {
        ws_session_close(ws, 1011, "write failed", 1);
        return -1;
    }
    if (lws_partial_buffered(ws->wsi)) {    /* lws sends the rest: as in WRITEABLE */
        rx_pause(ws, 1);
        lws_callback_on_writable(ws->wsi);
    }
    return 1;
}

int ws_session_queue(struct kiln_ws *ws, int binary, const void *msg, size_t len)
{
    struct ws_msg *m;
    int rc = send_now(ws, binary, msg, len);

    if (rc != 0)
        return rc > 0 ? 0 : -1;
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

/* Writes the next frame (up to `max` bytes) of message m. */
static int write_data(struct kiln_ws *ws, struct ws_msg *m, size_t max)
{
    size_t left = m->len - m->sent, n = left < max ? left : max;
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
static int write_fragment(struct kiln_ws *ws, size_t max)
{
    struct ws_msg *m = ws->qhead;

    if (write_data(ws, m, max) < 0)
        return -1;
    if (m->sent == m->len) {
        ws->qhead = m->next;
        if (!ws->qhead)
            ws->qtail = NULL;
        ws_conn_retire(ws, m);
    }
    return 0;
}

/*
 * Writes what is queued at once, for a close of the peer that arrived
 * behind messages whose answers are still queued: lws answers a close
 * before anything else, so they would never go out.  It stops at the
 * first frame the socket does not take whole: lws sends the rest of that
 * frame ahead of its close, but would write a frame given after it without
 * its header.  What is left is dropped with the queue (RFC 6455 5.5.1 lets
 * the close go before it).  Frames of WS_SYNC_FRAG leave permessage-deflate
 * no output for a later WRITEABLE.
 */
static void flush_queue(struct kiln_ws *ws)
{
    while (ws->qhead && !lws_partial_buffered(ws->wsi) &&
           write_fragment(ws, WS_SYNC_FRAG) == 0)
        ;
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

/*
 * Reads nothing more while lws holds part of a frame the socket did not
 * take: lws 4.1 drops the connection without a close frame when the peer's
 * close arrives then, and a peer that sends without reading is held back
 * by TCP instead of by kiln's memory.  Reading resumes at the next
 * WRITEABLE (lws calls it once the frame is out) and whenever kiln closes.
 */
static void rx_pause(struct kiln_ws *ws, int pause)
{
    if (pause != ws->rx_paused) {
        ws->rx_paused = pause ? 1 : 0;
        lws_rx_flow_control(ws->wsi, !pause);
    }
}

/* LWS_CALLBACK_SERVER_WRITEABLE: one frame per call (a close, a ping, or a
 * piece of the oldest message), then asks again if more is waiting. */
static int on_writeable(struct kiln_ws *ws)
{
    /* lws hides empty pongs from us: the ping carries a payload. */
    static unsigned char ping[LWS_PRE + 4] = {[LWS_PRE] = 'k', 'i', 'l', 'n'};

    ws_conn_retired_free(ws);
    if (ws->sent_close)
        return 0;
    if (lws_get_close_length(ws->wsi) > 0) {
        /*
         * lws failed the connection (a protocol error, 1002, or text that
         * is not UTF-8, 1007) and sent its close frame, which is what it
         * does before anything else once it has a close to send.  Nothing
         * may follow that frame (RFC 6455 5.5.1), and lws would now wait
         * 5 s for an answer its parser, left inside the bad frame, cannot
         * recognise: close the socket instead (RFC 6455 7.1.7).
         */
        ws_conn_queue_free(ws);
        return -1;
    }
    if (ws->state == WS_CLOSING && (ws->close_now || !ws->qhead)) {
        rx_pause(ws, 0);                /* the peer's close must be read */
        return send_close(ws);
    }
    if (ws->ping_due) {
        ws->ping_due = 0;
        if (lws_write(ws->wsi, ping + LWS_PRE, 4, LWS_WRITE_PING) < 0)
            return -1;
    } else if (ws->qhead && write_fragment(ws, WS_FRAG) < 0) {
        return -1;
    }
    rx_pause(ws, ws->state == WS_OPEN && lws_partial_buffered(ws->wsi));
    /* One more for what was retired: freed then, send_now() may write again. */
    if (ws->qhead || ws->ping_due || ws->state == WS_CLOSING || ws->retired)
        lws_callback_on_writable(ws->wsi);
    return 0;
}

/* ---- the peer's close ----------------------------------------------------------- */

/* Answers a close frame that breaks RFC 6455 with 1002, and closes. */
static int peer_close_invalid(struct kiln_ws *ws, const char *why)
{
    ws->state = WS_CLOSING;
    ws->close_code = 1002;
    ws_conn_set_reason(ws, why, strlen(why));
    lws_close_reason(ws->wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR,
                     (unsigned char *)ws->close_reason, strlen(ws->close_reason));
    return -1;
}

/*
 * LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: keeps the peer's code and reason,
 * after sending what is still queued.  lws has already turned the codes
 * below 5000 that RFC 6455 7.4 forbids into 1002, and failed the connection
 * on a reason that is not UTF-8; a lone byte, which no code fits, and codes
 * from 5000 up are answered 1002 here.  Returns 0 to let lws answer with
 * the same close, or -1 when this is the answer to our own close (lws then
 * just closes the socket) or an invalid one.
 */
static int on_peer_close(struct kiln_ws *ws, const unsigned char *in,
                         size_t len)
{
    if (ws->sent_close)
        return -1;
    if (len == 1)
        return peer_close_invalid(ws, "close frame of one byte");
    if (len >= 2 && ((in[0] << 8) | in[1]) >= 5000)
        return peer_close_invalid(ws, "close code out of range");
    if (ws->state == WS_OPEN)
        flush_queue(ws);
    ws->got_close = 1;
    if (len == 0) {
        ws->close_code = 1005;          /* a close frame without a code */
        ws->close_reason[0] = '\0';
        return 0;
    }
    ws->close_code = (in[0] << 8) | in[1];
    ws_conn_set_reason(ws, (const char *)in + 2, len - 2);
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
    if (ws->ctx->shutting_down)         /* accepted just before a stop: it
                                           goes the way of the others */
        ws_session_close(ws, 1001, "server shutting down", 0);
    ws->last_rx = now;
    ws->linked = 1;
    if (wr->conns == NULL)
        ws_route_joined(wr);
    ws->next = wr->conns;
    if (wr->conns)
        wr->conns->prev = ws;
    wr->conns = ws;
    ws->ctx->nconns++;
    /* A compressed message goes out in frames of up to 64 KiB, as a plain
     * one does, not lws' default of 1 KiB per frame and per send(). */
    if (wr->h.deflate)
        lws_set_extension_option(ws->wsi, "permessage-deflate", "tx_buf_size", "16");
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
        if (wr->conns == NULL)
            ws_route_left(wr);
    }
    if (ctx->adopting == ws)
        ctx->adopting = NULL;
    ws_conn_end(ws, code, code == 1006 ? "" : ws->close_reason);
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

static int proto_known(const struct lws_protocols *p, size_t n,
                       const char *name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(p[i].name, name) == 0)
            return 1;
    return 0;
}

struct lws_protocols *ws_session_protocols(const struct ws_ctx *ctx)
{
    struct lws_protocols *p, proto;
    size_t n = 1, cap = 2;
    char **s;

    for (size_t i = 0; i < ctx->nroutes; i++)
        for (s = ctx->routes[i]->protos; s && *s; s++)
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
    for (size_t i = 0; i < ctx->nroutes; i++) {
        for (s = ctx->routes[i]->protos; s && *s; s++) {
            if (proto_known(p, n, *s))
                continue;
            proto.name = *s;
            p[n++] = proto;
        }
    }
    return p;
}

/* ---- closing ---------------------------------------------------------------------- */

/* The close frame goes out from WRITEABLE; the sweep hard-closes after
 * WS_CLOSE_TIMEOUT. */
void ws_session_close(struct kiln_ws *ws, int code, const char *reason, int now)
{
    if (ws->state != WS_OPEN && ws->state != WS_PENDING)
        return;
    ws->state = WS_CLOSING;
    ws->close_code = code;
    ws_conn_set_reason(ws, reason, strlen(reason));
    ws->close_now = now ? 1 : 0;
    ws->closing_at = ws_now(ws->ctx);
    if (now)
        ws_conn_queue_free(ws);
    if (ws->wsi)
        lws_callback_on_writable(ws->wsi);
}

void ws_shutdown(struct worker *w)
{
    struct ws_ctx *ctx = w->ws;
    struct kiln_ws *ws;

    if (!ctx || ctx->shutting_down)
        return;
    ctx->shutting_down = 1;
    for (size_t i = 0; i < ctx->nroutes; i++) {
        for (ws = ctx->routes[i]->conns; ws; ws = ws->next)
            ws_session_close(ws, 1001, "server shutting down", 0);   /* not if closing */
    }
}

size_t ws_count(const struct worker *w)
{
    return w->ws ? w->ws->nconns : 0;
}
