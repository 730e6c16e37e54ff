/*
 * ws.h -- WebSocket routes as the rest of the worker sees them: the bridge
 * between kiln's HTTP layer and libwebsockets running on the worker's libev
 * loop (ws_context.c, ws_session.c, ws_conn.c, ws_handshake.c, ws_api.c).
 *
 * The HTTP layer owns a socket until a request for a WebSocket route carries
 * a valid upgrade: ws_check_upgrade() accepts it and gives the connection
 * (struct kiln_ws) to the caller, which passes it to ws_adopt() with the
 * socket and every byte read so far, or to ws_discard() when it cannot.
 */
#ifndef KILN_WS_H
#define KILN_WS_H

#include <stddef.h>

#include "kiln.h"

struct kiln_req;
struct kiln_ws;
struct route;
struct worker;

/* Creates the worker's lws context on w->loop when the router has WebSocket
 * routes (after fork).  0 or -1 (logged). */
int ws_init(struct worker *w);

/*
 * Checks an upgrade request for WebSocket route `rt` before any hand-off
 * (ws_handshake_check: `upgrade` is the HTTP parser's verdict), then runs
 * the route's open callback.  Returns 0 with the accepted connection in
 * *ws, which the caller must pass to ws_adopt() or ws_discard(); or the
 * HTTP status to answer instead (400, 426, the open callback's refusal,
 * 503 while the worker drains), with `extra` header lines for it.  The open
 * callback runs only when the request is an acceptable upgrade.
 */
int ws_check_upgrade(struct worker *w, const struct route *rt, struct kiln_req *req,
                     int upgrade, struct kiln_ws **ws, char *extra, size_t extralen);

/*
 * Hands the connection to libwebsockets: `fd` (ownership passes, even on
 * failure), `ws` from ws_check_upgrade(), and `bytes` = the request as
 * received from its first byte, including anything read after the header
 * block.  Returns 0, or -1 (the fd was closed, the close handler ran).
 */
int ws_adopt(struct worker *w, int fd, struct kiln_ws *ws, struct kiln_req *req,
             const char *bytes, size_t len);

/* Ends an accepted connection that never reached libwebsockets: its close
 * handler sees 1006, then it is freed. */
void ws_discard(struct kiln_ws *ws);

/* Graceful stop or reload: every open WebSocket gets close 1001 after what
 * is queued for it, and so does one whose upgrade completes afterwards. */
void ws_shutdown(struct worker *w);

/* ---- publish/subscribe (ws_api.c) ---- */

/* ws's id while it is accepted or open (messages can be queued), else 0. */
kiln_id ws_live_id(const struct kiln_ws *ws);

/*
 * A published message for connection `id`: queued, unless its unsent bytes
 * are past `limit`, which closes it (1008 "subscriber too slow").  0 when
 * queued, 1 when closed so, -1 when the connection is gone or closing.
 */
int ws_pubsub_send(kiln_id id, int binary, const void *msg, size_t len, size_t limit);

/* Open WebSocket connections in this worker. */
size_t ws_count(const struct worker *w);

/* Destroys the context (never from inside an lws callback). */
void ws_destroy(struct worker *w);

#endif
