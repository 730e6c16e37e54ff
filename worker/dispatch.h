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

#endif
