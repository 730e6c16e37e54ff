/* test_sse.c -- unit tests of worker/sse_format.c: events byte for byte (fields, data split at CRLF, LF and CR), retry, comments, and the refused event names and ids. */
#include <stdio.h>
#include <string.h>

#include "sse_format.h"
#include "unit.h"

static char s[4096];

/* The event's bytes, or "-1" (then nothing may have been appended). */
static const char *event(const char *ev, const char *data, const char *id)
{
    struct buf b;
    int rc;

    buf_init(&b);
    buf_append(&b, "", 0);
    rc = sse_format_event(&b, ev, data, id);
    if (rc == 0)
        snprintf(s, sizeof s, "%.*s", (int)b.len, b.data);
    else
        snprintf(s, sizeof s, "%d len %zu", rc, b.len);
    buf_free(&b);
    return s;
}

static const char *other(int comment, const char *text, long ms)
{
    struct buf b;
    int rc;

    buf_init(&b);
    rc = comment ? sse_format_comment(&b, text) : sse_format_retry(&b, ms);
    snprintf(s, sizeof s, rc == 0 ? "%.*s" : "-1", (int)b.len, b.data ? b.data : "");
    buf_free(&b);
    return s;
}

int main(void)
{
    CHECK_STR(event(NULL, "hello", NULL), "data: hello\n\n", "%s", "event(NULL, \"hello\", NULL)");
    CHECK_STR(event("tick", "a\nb", "7"), "event: tick\nid: 7\ndata: a\ndata: b\n\n", "%s", "event(\"tick\", \"a\\nb\", \"7\")");
    CHECK_STR(event(NULL, "a\r\nb\rc\n", NULL), "data: a\ndata: b\ndata: c\ndata:\n\n", "%s", "event(NULL, \"a\\r\\nb\\rc\\n\", NULL)");
    CHECK_STR(event(NULL, NULL, NULL), "data:\n\n", "%s", "event(NULL, NULL, NULL)");
    CHECK_STR(event(NULL, "", ""), "id:\ndata:\n\n", "%s", "event(NULL, \"\", \"\")");
    CHECK_STR(event(NULL, "\n", NULL), "data:\ndata:\n\n", "%s", "event(NULL, \"\\n\", NULL)");
    CHECK_STR(event("a\rb", "x", NULL), "-1 len 0", "%s", "event(\"a\\rb\", \"x\", NULL)");
    CHECK_STR(event(NULL, "x", "1\n2"), "-1 len 0", "%s", "event(NULL, \"x\", \"1\\n2\")");
    CHECK_STR(event("ok", "x", "a\r\n"), "-1 len 0", "%s", "event(\"ok\", \"x\", \"a\\r\\n\")");
    CHECK(sse_field_ok(NULL) && sse_field_ok("a b:c") && !sse_field_ok("\n"), "%s", "sse_field_ok");
    CHECK_STR(other(0, NULL, 300), "retry: 300\n\n", "%s", "other(0, NULL, 300)");
    CHECK_STR(other(0, NULL, 0), "retry: 0\n\n", "%s", "other(0, NULL, 0)");
    CHECK_STR(other(0, NULL, -1), "-1", "%s", "other(0, NULL, -1)");
    CHECK_STR(other(1, "keep", 0), ": keep\n", "%s", "other(1, \"keep\", 0)");
    CHECK_STR(other(1, "a\nb", 0), ": a\n: b\n", "%s", "other(1, \"a\\nb\", 0)");
    CHECK_STR(other(1, "", 0), ":\n", "%s", "other(1, \"\", 0)");
    return unit_done();
}
