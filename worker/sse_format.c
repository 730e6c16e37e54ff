/*
 * sse_format.c -- Server-Sent Events as bytes: the fields of an event,
 * retry and comment lines (the HTML standard, 9.2 "Server-sent events").
 * Pure C: the stream it goes on is sse.c's business.
 */
#include <stdio.h>
#include <string.h>

#include "sse_format.h"

int sse_field_ok(const char *value)
{
    return value == NULL || strpbrk(value, "\r\n") == NULL;
}

/* Appends "NAME: VALUE\n" (VALUE n bytes). */
static int field(struct buf *out, const char *name, const char *value, size_t n)
{
    size_t nl = strlen(name);

    if (buf_reserve(out, nl + 2 + n + 1) != 0)
        return -1;
    buf_append(out, name, nl);
    buf_append(out, n > 0 ? ": " : ":", n > 0 ? 2 : 1);
    buf_append(out, value, n);
    buf_append(out, "\n", 1);
    return 0;
}

/* One "NAME: LINE\n" per line of text (CRLF, LF or CR ends a line). */
static int lines(struct buf *out, const char *name, const char *text)
{
    const char *p = text ? text : "";

    for (;;) {
        size_t n = strcspn(p, "\r\n");

        if (field(out, name, p, n) < 0)
            return -1;
        p += n;
        if (*p == '\0')
            return 0;
        p += p[0] == '\r' && p[1] == '\n' ? 2 : 1;
    }
}

int sse_format_event(struct buf *out, const char *event, const char *data,
                     const char *id)
{
    size_t start = out->len;

    if (!sse_field_ok(event) || !sse_field_ok(id))
        return -1;
    if ((event && field(out, "event", event, strlen(event)) < 0) ||
        (id && field(out, "id", id, strlen(id)) < 0) ||
        lines(out, "data", data) < 0 || buf_append(out, "\n", 1) < 0) {
        out->len = start;
        return -1;
    }
    return 0;
}

int sse_format_retry(struct buf *out, long ms)
{
    char line[40];
    int n;

    if (ms < 0)
        return -1;
    n = snprintf(line, sizeof(line), "retry: %ld\n\n", ms);
    return buf_append(out, line, (size_t)n);
}

int sse_format_comment(struct buf *out, const char *text)
{
    size_t start = out->len;

    if (lines(out, "", text) < 0) {
        out->len = start;
        return -1;
    }
    return 0;
}
