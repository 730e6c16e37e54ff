/*
 * sse.c -- Server-Sent Events (kiln_sse*): a stream (stream.c) with the
 * text/event-stream head, events formatted by sse_format.c, a heartbeat
 * comment while the stream is idle, and published messages as events.
 */
#include <stdlib.h>
#include <string.h>

#include "kiln.h"
#include "pool.h"
#include "sse_format.h"
#include "stream.h"

#define HEARTBEAT ": heartbeat\n"

static struct buf scratch;          /* one event's bytes, reused */

/* Writes what a formatter left in scratch to the stream. */
static int sse_put(kiln_id id, int formatted)
{
    int rc = formatted < 0 ? -1 : stream_write_id(id, scratch.data, scratch.len);

    buf_reset(&scratch);
    if (scratch.cap > 65536)
        buf_free(&scratch);
    return rc;
}

KILN_EXPORT kiln_id kiln_sse(kiln_req *req, const struct kiln_stream_ops *ops, void *arg)
{
    kiln_id id;

    if (!req || kiln_set_content_type(req, "text/event-stream") < 0 ||
        kiln_add_header(req, "Cache-Control", "no-cache") < 0 ||
        kiln_add_header(req, "X-Accel-Buffering", "no") < 0)
        return 0;
    id = kiln_stream(req, 200, -1, ops, arg);
    if (id != 0)
        stream_mark_sse(id);
    return id;
}

KILN_EXPORT int kiln_sse_send(kiln_id id, const char *event, const char *data,
                              const char *event_id)
{
    if (!sse_field_ok(event) || !sse_field_ok(event_id)) {
        kiln_log(KILN_LOG_WARN, "kiln_sse_send: CR or LF in the event name or id");
        return -1;
    }
    return sse_put(id, sse_format_event(&scratch, event, data, event_id));
}

KILN_EXPORT int kiln_sse_retry(kiln_id id, long ms)
{
    return sse_put(id, sse_format_retry(&scratch, ms));
}

KILN_EXPORT int kiln_sse_comment(kiln_id id, const char *text)
{
    return sse_put(id, sse_format_comment(&scratch, text));
}

KILN_EXPORT int kiln_sse_heartbeat(kiln_id id, double seconds)
{
    return stream_heartbeat(id, seconds, HEARTBEAT);
}

int sse_pubsub_send(kiln_id id, const void *msg, size_t len, size_t limit)
{
    char *text;
    int rc;

    if (!stream_is_sse(id))
        return -1;
    if (kiln_stream_unsent(id) > limit) {
        kiln_log(KILN_LOG_WARN, "SSE stream: %zu bytes unsent, above "
                 "pubsub_subscriber_queue (%zu): ended", kiln_stream_unsent(id), limit);
        kiln_stream_end(id);
        return 1;
    }
    if ((text = malloc(len + 1)) == NULL)
        return -1;
    memcpy(text, msg, len);
    text[len] = '\0';
    rc = sse_put(id, sse_format_event(&scratch, NULL, text, NULL));
    free(text);
    return rc < 0 ? -1 : 0;
}
