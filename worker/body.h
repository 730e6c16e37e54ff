/*
 * body.h -- where a request body's bytes go (body.c): the one seam between
 * http.c's parser and what takes the body.  Three sinks, chosen once the
 * header block is read: memory (c->body, the default), the multipart
 * parser (form_data.c, files spooled to temporary files past
 * upload_spool_size), and a plugin's reader (kiln_body_stream(), on a route
 * marked with kiln_route_stream_body()); a fourth drops what is left of a
 * body whose request was answered before it ended.
 */
#ifndef KILN_BODY_H
#define KILN_BODY_H

#include <stddef.h>

struct conn;
struct worker;

enum body_sink {
    SINK_MEMORY,                    /* c->body, handed to the handler whole */
    SINK_FORM,                      /* parsed as it arrives (multipart/form-data) */
    SINK_READER,                    /* a plugin's reader, piece by piece */
    SINK_DISCARD                    /* counted and dropped */
};

/* At worker start (the spool settings, the resumption watcher); at its end. */
void body_init(struct worker *w);
void body_shutdown(void);

/* The header block of a routed request is read: chooses its body's sink.
 * 0, or an HTTP status to answer (500). */
int body_begin(struct conn *c);

/* A piece of the body (dechunked), within the request's limit (413 past
 * it): 0, or an HTTP status to answer (413, 500). */
int body_take(struct conn *c, const char *at, size_t len);

/* The body is complete: a multipart form's outcome kept in the request,
 * or the reader's end callback run (KILN_BODY_DONE). */
void body_end(struct conn *c);

/* The request is over, however it ended: temporary files closed,
 * mappings given back, the sink back to memory. */
void body_release(struct conn *c);

/* Whether the body is read by a plugin (a kiln_route_stream_body() route). */
int body_streamed(const struct conn *c);

/* The request ends before its reader's body did, for an error kiln answers
 * with `status` (408, 413, 400, 504): the reader's end callback runs with
 * the matching KILN_BODY_* and the request's id dies. */
void body_abort(struct conn *c, int status);

#endif
