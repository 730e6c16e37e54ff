/*
 * conn.h -- a worker's HTTP connections: accepted sockets from their first
 * byte to their close (or their hand-over to the WebSocket layer).
 *
 * A reader following "what happens to a byte that arrives" starts at
 * conn_new().  conn.c keeps the worker's list of connections (w->conns,
 * w->nconns) and nothing else of struct worker.
 */
#ifndef KILN_CONN_H
#define KILN_CONN_H

struct conn;
struct worker;

/*
 * Takes an accepted, non-blocking socket and starts serving it.  On OOM the
 * socket is closed.  The connection frees itself when it ends.
 */
void conn_new(struct worker *w, int fd);

/* Graceful stop: closes idle connections now and makes the others close
 * after their current response. */
void conn_drain_all(struct worker *w);

/* Fast stop: closes every connection at once. */
void conn_close_all(struct worker *w);

/* Completes c's pending request with `result` (KILN_OK: the response its
 * plugin built; else a 500), from the loop: what pending.c is given to call. */
void conn_resume(struct conn *c, int result);

#endif
