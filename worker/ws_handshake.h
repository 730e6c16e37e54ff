/*
 * ws_handshake.h -- the WebSocket upgrade request (RFC 6455 section 4.2),
 * checked before anything is handed over: plain C over a parsed request, no
 * libwebsockets, so that it is unit-tested (tests/unit/test_ws_handshake.c).
 */
#ifndef KILN_WS_HANDSHAKE_H
#define KILN_WS_HANDSHAKE_H

#include <stddef.h>

struct kiln_req;

/*
 * Checks the handshake of `req` for a route speaking the NULL-terminated
 * subprotocols `protos` (NULL: none).  `upgrade`: the HTTP parser saw an
 * upgrade (nothing of the request was read past its header block).  Returns
 * 0 with the chosen subprotocol in *proto (an entry of protos, or NULL when
 * the client asked for none), or the status to answer: 426 with
 * "Upgrade: websocket" and "Connection: Upgrade" in `extra` for no upgrade
 * (a plain GET), 400 (with "Sec-WebSocket-Version: 13" in `extra` for
 * another version) for a bad version, key or HTTP version, 400 when the
 * client asks only for subprotocols the route does not speak.
 */
int ws_handshake_check(const struct kiln_req *req, int upgrade, char *const *protos,
                       const char **proto, char *extra, size_t extralen);

/*
 * The permessage-deflate offer to accept (RFC 7692), in the form handed to
 * libwebsockets, or NULL to decline compression.  The first offer among the
 * client's Sec-WebSocket-Extensions that holds only what kiln keeps to
 * wins: server_no_context_takeover (answered together with
 * client_no_context_takeover, so that both sides reset per message, the
 * only reset lws 4.1 does right), client_no_context_takeover and
 * client_max_window_bits (hints kiln may ignore).  An offer with
 * server_max_window_bits is declined: lws 4.1 cannot compress with a
 * smaller window; so is one with an unknown, repeated or badly valued
 * parameter.
 */
const char *ws_deflate_offer(const struct kiln_req *req);

/*
 * The bytes libwebsockets gets for a checked request: a canonical upgrade
 * request carrying the checked key, the chosen subprotocol `proto` and,
 * with `deflate`, the offer ws_deflate_offer() accepts, then what
 * followed the header block in `bytes` (the request as received from its
 * first byte).  So lws never sees a header kiln did not check, and the
 * only subprotocol it is offered is the one chosen.  Malloc'd (*outlen
 * bytes), or NULL.
 */
char *ws_handshake_request(const struct kiln_req *req, const char *proto, int deflate,
                           const char *bytes, size_t len, size_t *outlen);

#endif
