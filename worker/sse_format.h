/*
 * sse_format.h -- Server-Sent Events as bytes (sse_format.c: pure C,
 * unit-tested): an event's fields, retry, comments, per the HTML
 * standard's text/event-stream.
 */
#ifndef KILN_SSE_FORMAT_H
#define KILN_SSE_FORMAT_H

#include "pool.h"

/* Whether a field value (an event name, an id) is one line: no CR or LF;
 * NULL (the field is absent) is fine. */
int sse_field_ok(const char *value);

/*
 * Appends one event to out: "event: EVENT\n" (event not NULL), "id: ID\n"
 * (id not NULL), "data: LINE\n" ("data:\n" when empty) for each line of data (split at CRLF, LF
 * and CR; NULL or "" is one empty data line), then "\n".  0; -1 when event
 * or id holds a CR or LF (nothing appended) or out of memory.
 */
int sse_format_event(struct buf *out, const char *event, const char *data,
                     const char *id);

/* "retry: MS\n\n" (ms >= 0, else -1). */
int sse_format_retry(struct buf *out, long ms);

/* ": LINE\n" for each line of text (split as data), then nothing more (a
 * comment dispatches no event).  0, or -1 out of memory. */
int sse_format_comment(struct buf *out, const char *text);

#endif
