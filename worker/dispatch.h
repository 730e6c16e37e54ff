/*
 * dispatch.h -- the answer to a parsed request (dispatch.c): what http.c
 * calls once a message, or a streamed body's header block, is complete.
 */
#ifndef KILN_DISPATCH_H
#define KILN_DISPATCH_H

struct conn;

/* The complete request in c->req: its handler (or 404, 405) answered into
 * c->out, or left pending (CS_PENDING, the parser paused).  0, or -1 (no
 * memory for the answer). */
int dispatch_request(struct conn *c);

/* Whether c's request, which no route takes, is answered 308 to its
 * normalized path ([server] normalize_path, merge_slashes) rather than 404. */
int dispatch_redirects(struct conn *c);

/* A kiln_route_stream_body() route's header block is read: its handler
 * runs now; the request stays in CS_BODY while the body goes to its
 * reader, or is answered early.  0, or -1. */
int dispatch_streamed(struct conn *c);

/* ... and its body ended: the reader's end callback, then the request
 * waits for its answer, or the early-answered request is done.  0. */
int dispatch_streamed_end(struct conn *c);

/* An answer comes before the body ended: before it is serialized, whether
 * the connection can stay (the rest read and dropped); after, 1 when it
 * does, 0 when the request is done and the connection closes. */
void dispatch_early_prepare(struct conn *c);
int dispatch_early_after(struct conn *c);

/*
 * Puts c's answer into c->out: with `status` 0 the response c->req holds,
 * else kiln's own answer `status` (`extra` header lines, or NULL); the
 * middlewares' afters run first and the response-sent hook after, when
 * there are any.  0, or -1 out of memory.
 */
int dispatch_out(struct conn *c, int status, const char *extra);

/*
 * http_error()'s answer when there are middlewares or response-sent hooks:
 * the afters see kiln's own answer to a request whose head was read (413,
 * 404 or 405 to an Expect, 500; not a 400), the hooks see every answer.
 * 0, or -1.
 */
int dispatch_error(struct conn *c, int status, int is_head);

/*
 * A complete request for a WebSocket route: the befores, then the
 * handshake's verdict (a valid upgrade pauses the parser for the hand-off
 * conn.c does; anything else is answered: 426 without an upgrade, 400 for
 * a bad one, the open callback's refusal, 503 while draining).  0, or -1.
 */
int dispatch_ws(struct conn *c);

/*
 * Runs the middlewares' befores left for c's request: 1 when they all went
 * on (the route's turn), 0 when one answered (into c->out) or deferred
 * (CS_PENDING, the parser paused), -1 out of memory.
 */
int dispatch_befores(struct conn *c);

/* A before that deferred was resumed with `result` (KILN_NEXT: on with the
 * rest; KILN_OK: its answer; else 500).  Returns as http_parse(). */
int dispatch_before_resumed(struct conn *c, int result);

#endif
