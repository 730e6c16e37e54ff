/*
 * stream.h -- streamed responses (stream.c): what conn.c calls as a
 * stream's bytes are written and when its connection ends, and what sse.c
 * builds on.
 */
#ifndef KILN_STREAM_H
#define KILN_STREAM_H

#include <stddef.h>

#include "kiln.h"

struct conn;
struct worker;

/* At worker start; after the plugins' fini hooks at its end. */
void stream_init(struct worker *w);
void stream_shutdown(void);

/* c's unsent output shrank: runs the ready callback when a write returned
 * 0 and the output is under KILN_STREAM_LOW_WATER now. */
void stream_progress(struct conn *c);

/* Whether c's stream was ended by its plugin (its last bytes queued). */
int stream_ended(const struct conn *c);

/* Frees c's ended stream once its bytes are written: 1 when the connection
 * may serve another request, 0 when it must close (a known length not
 * reached, warned about). */
int stream_finish(struct conn *c);

/* The bytes of c's stream queued or sent so far, and of them the body's. */
void stream_sent(const struct conn *c, unsigned long long *bytes, unsigned long long *body);

/* c's connection ends before its stream did: kills the id, runs the cancel
 * callback unless kiln_stream_end() came first, frees the stream. */
void stream_cancel(struct conn *c, enum kiln_cancel why);

/* From a handler: starts a response of `status` whose body is the `len`
 * bytes of fd from `off`, sent with sendfile(2) from the loop.  The stream
 * owns fd from this call on (closed when the body is sent, the client
 * leaves or the worker stops; at once for HEAD or on failure).  0, or -1
 * (not in a handler, out of memory). */
int stream_file(kiln_req *req, int status, int fd, long long off, long long len);

/* The same for a body already in memory (file_cache.c's bytes): copied
 * after the head at once (nothing of it for HEAD), the stream ended.  0, or
 * -1 as stream_file(). */
int stream_file_bytes(kiln_req *req, int status, const void *data, long long len);

/* Whether c's stream has file bytes left to send. */
int stream_file_left(const struct conn *c);

/* Sends what the socket takes of c's file body (at most a turn's worth):
 * 0 when there is none left (the stream has ended), 1 when more waits for
 * the socket's write readiness, -1 when the connection must close (the peer
 * is gone, or the file shrank). */
int stream_send_file(struct conn *c);

/* kiln_sse() marks its stream (0, or -1: dead id); whether id is a live
 * SSE stream not ended. */
int stream_mark_sse(kiln_id id);
int stream_is_sse(kiln_id id);

/* sse.c: a published text message for SSE stream `id`, as one "data:"
 * event, unless its unsent bytes are past `limit`, which ends the stream.
 * 0 when sent, 1 when ended so, -1 when the stream is gone. */
int sse_pubsub_send(kiln_id id, const void *msg, size_t len, size_t limit);

/* kiln_stream_write() for sse.c. */
int stream_write_id(kiln_id id, const void *data, size_t len);

/* Writes `text` (static) whenever the stream wrote nothing for `seconds`;
 * 0 stops it.  0, or -1 (dead id, bad seconds). */
int stream_heartbeat(kiln_id id, double seconds, const char *text);

#endif
