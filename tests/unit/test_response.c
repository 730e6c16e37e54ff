/* test_response.c -- unit tests of worker/response.c: reason phrases, the Date cache, handler responses and kiln's own errors, byte for byte. */
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "response.h"
#include "unit.h"

/* 2026-11-25 13:50:00 UTC, a Wednesday. */
#define NOW 1795614600.0
#define DATE "Wed, 25 Nov 2026 13:50:00 GMT"

static char *text(struct buf *b)
{
    static char s[4096];

    snprintf(s, sizeof s, "%.*s", (int)b->len, b->data);
    return s;
}

static void test_reasons_and_date(void)
{
    CHECK_STR(http_reason(200), "OK", "200 OK");
    CHECK_STR(http_reason(413), "Content Too Large", "413 (RFC 9110 name)");
    CHECK_STR(http_reason(431), "Request Header Fields Too Large", "431");
    CHECK_STR(http_reason(299), "Unknown", "an unlisted status");
    response_update_date(NOW);
    CHECK_STR(response_date(), DATE, "IMF-fixdate, GMT");
    response_update_date(NOW + 0.9);
    CHECK_STR(response_date(), DATE, "same second: same value");
    response_update_date(NOW + 86400 * 6 + 3661);
    CHECK_STR(response_date(), "Tue, 01 Dec 2026 14:51:01 GMT", "six days later, padded fields");
    response_update_date(NOW);
}

/* A request with the given response parts; the buffers are the caller's. */
static struct kiln_req req_with(struct buf *hdrs, struct buf *body, int status)
{
    struct kiln_req r;

    memset(&r, 0, sizeof r);
    r.http_major = 1;
    r.http_minor = 1;
    r.keep_alive = 1;
    r.status = status;
    r.resp_headers = hdrs;
    r.resp_body = body;
    return r;
}

static void test_handler_responses(void)
{
    struct buf out, hdrs, body;
    struct kiln_req r;

    buf_init(&out);
    buf_init(&hdrs);
    buf_init(&body);
    buf_append_str(&hdrs, "Content-Type: text/plain\r\n");
    buf_append_str(&body, "Hello");
    r = req_with(&hdrs, &body, 0);
    r.content_type_set = 1;
    CHECK(response_serialize(&r, &out) == 0, "serializes");
    CHECK_STR(text(&out), "HTTP/1.1 200 OK\r\nServer: kiln\r\nDate: " DATE "\r\n"
              "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nHello",
              "a body: 200, its length, kept alive");
    CHECK(r.status == 200, "the status sent is recorded");

    buf_reset(&out);
    r = req_with(NULL, NULL, 0);
    response_serialize(&r, &out);
    CHECK_STR(text(&out), "HTTP/1.1 204 No Content\r\nServer: kiln\r\nDate: " DATE
              "\r\n\r\n", "nothing set: 204 without Content-Length");

    buf_reset(&out);
    r = req_with(NULL, &body, 404);
    r.is_head = 1;
    r.keep_alive = 0;
    response_serialize(&r, &out);
    CHECK_STR(text(&out), "HTTP/1.1 404 Not Found\r\nServer: kiln\r\nDate: " DATE
              "\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
              "HEAD: the length of the body not sent; close");

    buf_reset(&out);
    r = req_with(NULL, &body, 304);
    response_serialize(&r, &out);
    CHECK(strstr(text(&out), "Content-Length") == NULL &&
          strstr(text(&out), "Hello") == NULL, "304: no length, no body");

    buf_reset(&out);
    r = req_with(NULL, &body, 200);
    r.http_minor = 0;
    response_serialize(&r, &out);
    CHECK(strstr(text(&out), "\r\nConnection: keep-alive\r\n\r\nHello") != NULL,
          "HTTP/1.0 kept alive says so");
    buf_free(&out);
    buf_free(&hdrs);
    buf_free(&body);
}

#define EARLIER "earlier"           /* what a buffer held before an answer */

/* A buffer holding EARLIER with one byte less free room than `need`: a
 * serializer's reservation must make it grow, and one short of what is
 * written shows as a length past the capacity (and an overrun under
 * AddressSanitizer). */
static struct buf buf_short_of(size_t need)
{
    struct buf b;

    b.len = strlen(EARLIER);
    b.cap = b.len + need - 1;
    b.data = malloc(b.cap);
    memcpy(b.data, EARLIER, b.len);
    return b;
}

/* Whether b, from buf_short_of(want->len), holds EARLIER then `want`,
 * within its capacity; frees it. */
static int holds_after_earlier(struct buf *b, const struct buf *want)
{
    size_t n = strlen(EARLIER);
    int ok = b->len <= b->cap && b->len == n + want->len &&
             memcmp(b->data + n, want->data, want->len) == 0;

    buf_free(b);
    return ok;
}

/* Content-Length at every count of digits a body can have here (a streamed
 * response's, up to 19), each answer appended after what the buffer held
 * (pipelined answers share it). */
static void test_lengths(void)
{
    static const size_t lens[] = { 0, 1, 9, 10, 99, 100, 999, 1000, 9999, 10000,
                                   99999, 100000, 123456, 1048576 };
    static const long long big[] = { 9999999, 10000000, 12345678, 4294967296LL,
                                     999999999999LL, 1000000000000000000LL,
                                     9223372036854775807LL };
    struct buf out, body, alone, short_of;
    char want[64];

    buf_init(&out);
    buf_init(&body);
    buf_init(&alone);
    buf_append_str(&out, EARLIER);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        struct kiln_req r;
        size_t from = out.len;

        body.len = 0;
        buf_reserve(&body, lens[i]);
        if (lens[i] > 0)
            memset(body.data, 'x', lens[i]);
        body.len = lens[i];
        r = req_with(NULL, &body, 200);
        CHECK(response_serialize(&r, &out) == 0, "serializes");
        snprintf(want, sizeof want, "\r\nContent-Length: %zu\r\n\r\n", lens[i]);
        CHECK(out.len - from > lens[i] && memcmp(out.data + out.len - lens[i] - strlen(want),
                                                  want, strlen(want)) == 0,
              "the length's digits, then the body");
        CHECK(lens[i] == 0 || memcmp(out.data + out.len - lens[i], body.data, lens[i]) == 0,
              "the body, whole");
        CHECK(r.mw.body_out == lens[i], "the body bytes written are recorded");
        alone.len = 0;
        buf_append(&alone, out.data + from, out.len - from);
        short_of = buf_short_of(alone.len);
        r = req_with(NULL, &body, 200);
        CHECK(response_serialize(&r, &short_of) == 0 && holds_after_earlier(&short_of, &alone),
              "what is written fits what was reserved");
    }
    CHECK(memcmp(out.data, EARLIER "HTTP/1.1 200 OK\r\n", 24) == 0, "appended, not replaced");
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        struct kiln_req r = req_with(NULL, NULL, 0);

        out.len = 0;
        r.keep_alive = 0;
        CHECK(response_stream_head(&r, &out, 200, big[i], 0) == 0, "a streamed head");
        snprintf(want, sizeof want, "\r\nContent-Length: %lld\r\nConnection: close\r\n\r\n",
                 big[i]);
        CHECK(out.len > strlen(want) &&
              memcmp(out.data + out.len - strlen(want), want, strlen(want)) == 0,
              "a length of 7 to 19 digits");
        short_of = buf_short_of(out.len);
        r = req_with(NULL, NULL, 0);
        r.keep_alive = 0;
        CHECK(response_stream_head(&r, &short_of, 200, big[i], 0) == 0 &&
              holds_after_earlier(&short_of, &out), "what is written fits what was reserved");
    }
    buf_free(&out);
    buf_free(&body);
    buf_free(&alone);
}

/* The heads of streamed responses: a length, chunked, neither. */
static void test_stream_heads(void)
{
    struct buf out, hdrs;
    struct kiln_req r;

    buf_init(&out);
    buf_init(&hdrs);
    buf_append_str(&hdrs, "Content-Type: text/event-stream\r\n");
    r = req_with(&hdrs, NULL, 0);
    CHECK(response_stream_head(&r, &out, 200, -1, 1) == 0, "a stream's head");
    CHECK_STR(text(&out), "HTTP/1.1 200 OK\r\nServer: kiln\r\nDate: " DATE "\r\n"
              "Content-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
              "chunked, kept alive");
    CHECK(r.status == 200, "its status recorded");
    buf_reset(&out);
    r = req_with(NULL, NULL, 0);
    r.keep_alive = 0;
    response_stream_head(&r, &out, 206, 4096, 0);
    CHECK_STR(text(&out), "HTTP/1.1 206 Partial Content\r\nServer: kiln\r\nDate: " DATE
              "\r\nContent-Length: 4096\r\nConnection: close\r\n\r\n",
              "a length; close");
    buf_reset(&out);
    r = req_with(NULL, NULL, 0);
    r.http_minor = 0;
    response_stream_head(&r, &out, 200, -1, 0);
    CHECK_STR(text(&out), "HTTP/1.1 200 OK\r\nServer: kiln\r\nDate: " DATE
              "\r\nConnection: keep-alive\r\n\r\n",
              "HTTP/1.0 kept alive: said; neither length nor chunks");
    buf_reset(&out);
    r = req_with(NULL, NULL, 0);
    response_stream_head(&r, &out, 304, 10, 0);
    CHECK_STR(text(&out), "HTTP/1.1 304 Not Modified\r\nServer: kiln\r\nDate: " DATE
              "\r\n\r\n", "304: no length");
    buf_free(&out);
    buf_free(&hdrs);
}

static void test_errors(void)
{
    struct buf out;

    buf_init(&out);
    CHECK(response_error(&out, 426, 1, 0, "Upgrade: websocket\r\n") == 0, "error answers");
    CHECK_STR(text(&out), "HTTP/1.1 426 Upgrade Required\r\nServer: kiln\r\nDate: " DATE
              "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 21\r\n"
              "Upgrade: websocket\r\n\r\n426 Upgrade Required\n",
              "extra headers, a text body, kept alive");
    buf_reset(&out);
    response_error(&out, 400, 0, 1, NULL);
    CHECK_STR(text(&out), "HTTP/1.1 400 Bad Request\r\nServer: kiln\r\nDate: " DATE
              "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 16\r\n"
              "Connection: close\r\n\r\n", "HEAD: no body; close");
    buf_free(&out);
}

int main(void)
{
    test_reasons_and_date();
    test_handler_responses();
    test_lengths();
    test_stream_heads();
    test_errors();
    return unit_done();
}
