/*
 * ws.h -- WebSocket routes: the bridge between kiln's HTTP layer and
 * libwebsockets running on the worker's libev loop.
 *
 * libwebsockets.h is included by ws.c only (it clashes with http_parser.h).
 * The HTTP layer owns a socket until a request for a WebSocket route carries
 * a valid upgrade; ws_adopt() then hands the socket, with every byte read so
 * far, to libwebsockets.
 */
#ifndef KILN_WS_H
#define KILN_WS_H

#include <stddef.h>

struct worker;
struct route;
struct kiln_req;

/* Creates the worker's lws context on w->loop (after fork).  0 or -1 (logged). */
int ws_init(struct worker *w);

/*
 * Checks an upgrade request for WebSocket route `rt` before any hand-off:
 * `upgrade` (the HTTP parser saw an upgrade: nothing of the request was
 * read past its header block), Upgrade: websocket, Connection: upgrade,
 * Sec-WebSocket-Version: 13, a
 * Sec-WebSocket-Key of 16 bytes in base64, a subprotocol the route speaks
 * (when the client asks for some), then runs the route's open callback.
 * Returns 0 when the caller must call ws_adopt(), or the HTTP status to
 * answer instead (400, 426 with "Upgrade: websocket", the open callback's
 * refusal, 503 while the worker drains).  `extra` receives extra response
 * header lines for that answer.  The open callback runs only when the
 * request is an acceptable upgrade.
 */
int ws_check_upgrade(struct worker *w, const struct route *rt,
                     struct kiln_req *req, int upgrade, char *extra,
                     size_t extralen);

/*
 * Hands the connection to libwebsockets: `fd` (ownership passes, even on
 * failure), and `bytes` = the request as received from its first byte,
 * including anything read after the header block.  Returns 0, or -1 (the
 * fd was closed).
 */
int ws_adopt(struct worker *w, int fd, const struct route *rt,
             struct kiln_req *req, const char *bytes, size_t len);

/* Graceful stop or reload: every open WebSocket gets close 1001. */
void ws_shutdown(struct worker *w);

/* Open WebSocket connections in this worker. */
size_t ws_count(const struct worker *w);

/* Destroys the context (never from inside an lws callback). */
void ws_destroy(struct worker *w);

#endif
