/*
 * ws_private.h -- what the five files of the WebSocket layer share: the
 * route, connection and context structures, and the calls between them.
 *
 *   ws_handshake.c  the upgrade request's checks (pure C, unit-tested)
 *   ws_conn.c       a connection's own state: its id, the upgrade and the
 *                   open callback, messages in reassembled, its queues
 *                   freed, its end and the close callback
 *   ws_session.c    a connection on libwebsockets: the protocol callback,
 *                   messages out, pings, closing
 *   ws_context.c    the worker's libwebsockets context on its libev loop:
 *                   adoption, heartbeats and deadlines
 *   ws_api.c        kiln_add_websocket() and the kiln_ws_* calls
 * libwebsockets.h is included by ws_session.c and ws_context.c only (it
 * clashes with http_parser.h); this header names its types opaquely.
 * Nothing outside these files includes this header: the rest of the worker
 * uses ws.h.
 */
#ifndef KILN_WS_PRIVATE_H
#define KILN_WS_PRIVATE_H

#include <stddef.h>
#include <ev.h>

#include "kiln.h"

struct lws;
struct lws_context;
struct lws_vhost;
struct lws_protocols;
struct plugin;
struct route;
struct worker;

#define WS_DEFAULT_MAX_MSG   ((size_t)4 << 20)  /* when the config says 0 */
#define WS_DEFAULT_MAX_QUEUE ((size_t)16 << 20)
#define WS_REASON_MAX    123                /* bytes of a close reason */
#define WS_WHOLE_MAX     ((size_t)16 << 10) /* a message in one piece: no allocation */

enum ws_state {
    WS_PENDING,                     /* accepted by ws_check_upgrade, not adopted */
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
    unsigned char buf[];            /* lws' headroom, then the payload */
};

/* route->ws: what kiln_add_websocket registered; owned by the router. */
struct ws_route {
    struct kiln_ws_handlers h;      /* the plugin's, as its ABI minor reads;
                                       h.subprotocols points at protos */
    void *data;
    struct plugin *plugin;
    const struct route *route;      /* its entry in the router (pattern) */
    char **protos;                  /* NULL-terminated copy, or NULL */
    size_t max_msg;                 /* h.max_msg_size, else ws_max_msg_size */
    struct kiln_ws *conns;          /* its open connections (broadcast) */
};

struct kiln_ws {
    struct ws_ctx *ctx;
    kiln_id id;                     /* kiln_ws_id(): a handle, or 0 */
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
    unsigned rx_paused : 1;         /* lws reads nothing: a frame is half sent */
    unsigned deflate : 1;           /* permessage-deflate offered to lws */
};

/* A worker's WebSocket state (w->ws): NULL when no plugin has a route. */
struct ws_ctx {
    struct worker *w;
    struct lws_context *lws;
    struct lws_vhost *vh;
    struct lws_protocols *protocols;
    void *loops[1];                 /* the worker's loop, for lws */
    struct ws_route **routes;       /* the router's WebSocket routes */
    size_t nroutes;
    size_t nconns;                  /* established, not yet closed */
    struct kiln_ws *adopting;       /* inside lws_adopt_socket_vhost_readbuf */
    int adopt_fd;
    ev_timer sweep;                 /* heartbeats, idle and close deadlines */
    size_t max_queue;
    double heartbeat, idle;
    int shutting_down;
};

/* ---- ws_conn.c --------------------------------------------------------------- */

/* The connection of a live id (kiln_ws_get), or NULL. */
struct kiln_ws *ws_by_id(kiln_id id);

/* Copies at most WS_REASON_MAX bytes of `reason` to ws->close_reason, not
 * splitting a UTF-8 sequence. */
void ws_conn_set_reason(struct kiln_ws *ws, const char *reason, size_t len);

/* Keeps a message lws has been given whole until lws cannot still be
 * deflating from it (freed at once without permessage-deflate). */
void ws_conn_retire(struct kiln_ws *ws, struct ws_msg *m);

/* Frees the messages written: called where lws cannot still be deflating
 * from them (a new WRITEABLE, or the end). */
void ws_conn_retired_free(struct kiln_ws *ws);

/* Drops what is queued; a message partly written is retired instead, as
 * lws may still be reading from it. */
void ws_conn_queue_free(struct kiln_ws *ws);

/*
 * A piece of a message arrived: `len` bytes at `in`, `rest` more announced
 * in its frame, `binary` its type, `final` when it ends the message, which
 * then goes to the route's message handler.  A message above the route's
 * limit closes with 1009, no memory with 1011; while closing, what arrives
 * is dropped.
 */
void ws_conn_receive(struct kiln_ws *ws, const void *in, size_t len,
                     size_t rest, int binary, int final);

/* The end: runs the route's close handler with code and reason, then frees
 * ws. */
void ws_conn_end(struct kiln_ws *ws, int code, const char *reason);

/* ---- ws_session.c ------------------------------------------------------------ */

/* The vhost's protocol list: the default one and every route's
 * subprotocols (once each), all on the session's callback.  Malloc'd, or
 * NULL. */
struct lws_protocols *ws_session_protocols(const struct ws_ctx *ctx);

/* Queues a message on ws (sent once open).  0, or -1 (no memory). */
int ws_session_queue(struct kiln_ws *ws, int binary, const void *msg, size_t len);

/*
 * Starts a close of ours with `code` and `reason`: `now` drops what is
 * queued, otherwise the queue is sent first.
 */
void ws_session_close(struct kiln_ws *ws, int code, const char *reason, int now);

/* ---- ws_api.c ------------------------------------------------------------------ */

/* Frees a route description (the router's destructor for route->ws). */
void ws_route_free(void *wr);

/* wr's first connection opened, or its last closed: this worker joins or
 * leaves the route's broadcast channel (kiln_ws_broadcast()). */
void ws_route_joined(struct ws_route *wr);
void ws_route_left(struct ws_route *wr);

#endif
