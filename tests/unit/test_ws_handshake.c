/* test_ws_handshake.c -- unit tests of worker/ws_handshake.c: which upgrade requests pass, what the others are answered, and the request libwebsockets is handed. */
#define _GNU_SOURCE                 /* memmem */
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "unit.h"
#include "ws_handshake.h"

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="

static struct req_header hv[16];

/* A GET /chat HTTP/1.1 request with the n headers given as name, value pairs. */
static struct kiln_req req_of(size_t n, const char *const *kv)
{
    struct kiln_req r;

    memset(&r, 0, sizeof r);
    r.method = "GET";
    r.path = (char *)"/chat";
    r.http_major = 1;
    r.http_minor = 1;
    for (size_t i = 0; i < n; i++) {
        hv[i].name = kv[2 * i];
        hv[i].value = kv[2 * i + 1];
    }
    r.headers = hv;
    r.nheaders = n;
    return r;
}

#define REQ(...) req_of(sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *) / 2, \
                        (const char *[]){__VA_ARGS__})
#define GOOD "Upgrade", "websocket", "Connection", "keep-alive, Upgrade", \
             "Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", KEY

static int check(struct kiln_req r, char *const *protos, const char **proto, char *extra)
{
    return ws_handshake_check(&r, 1, protos, proto, extra, 128);
}

static void test_accepts(void)
{
    char extra[128];
    const char *proto = "x";
    struct kiln_req r = REQ(GOOD);

    CHECK(ws_handshake_check(&r, 1, NULL, &proto, extra, sizeof extra) == 0,
          "a valid upgrade passes");
    CHECK(proto == NULL && extra[0] == '\0', "no subprotocol, no extra header");
    r = REQ("UPGRADE", "WebSocket", "connection", "upgrade", "sec-websocket-version", "13",
            "sec-websocket-key", KEY);
    CHECK(check(r, NULL, &proto, extra) == 0, "header names and tokens are case-insensitive");
}

static void test_refusals(void)
{
    char extra[128];
    const char *proto;
    struct kiln_req r = REQ(GOOD);

    CHECK(ws_handshake_check(&r, 0, NULL, &proto, extra, sizeof extra) == 426,
          "the parser saw no upgrade: 426");
    CHECK_STR(extra, "Upgrade: websocket\r\nConnection: Upgrade\r\n", "426 says how");
    r = REQ("Connection", "Upgrade", "Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", KEY);
    CHECK(check(r, NULL, &proto, extra) == 426, "no Upgrade: websocket: 426");
    r = REQ("Upgrade", "websocket", "Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", KEY);
    CHECK(check(r, NULL, &proto, extra) == 426, "no Connection: upgrade: 426");
    r = REQ(GOOD);
    r.method = "POST";
    CHECK(check(r, NULL, &proto, extra) == 426, "not a GET: 426");
    r = REQ(GOOD);
    r.http_minor = 0;
    CHECK(check(r, NULL, &proto, extra) == 400, "HTTP/1.0: 400");
    r = REQ("Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Version", "8",
            "Sec-WebSocket-Key", KEY);
    CHECK(check(r, NULL, &proto, extra) == 400, "version 8: 400");
    CHECK_STR(extra, "Sec-WebSocket-Version: 13\r\n", "... naming the version spoken");
    r = REQ(GOOD, "Sec-WebSocket-Version", "13");
    CHECK(check(r, NULL, &proto, extra) == 400, "two version headers: 400");
    r = REQ("Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Version", "13",
            "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ");
    CHECK(check(r, NULL, &proto, extra) == 400, "a key without its == padding: 400");
    r = REQ("Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Version", "13",
            "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25j!Q==");
    CHECK(check(r, NULL, &proto, extra) == 400, "a key outside base64: 400");
    r = REQ(GOOD, "Sec-WebSocket-Key", KEY);
    CHECK(check(r, NULL, &proto, extra) == 400, "two keys: 400");
    r = REQ("Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Version", "13");
    CHECK(check(r, NULL, &proto, extra) == 400, "no key: 400");
}

static void test_subprotocols(void)
{
    char *protos[] = { (char *)"chat.v2", (char *)"chat.v1", NULL };
    char extra[128];
    const char *proto;
    struct kiln_req r = REQ(GOOD, "Sec-WebSocket-Protocol", "chat.v1, chat.v2");

    CHECK(check(r, protos, &proto, extra) == 0, "offered subprotocols pass");
    CHECK_STR(proto, "chat.v2", "the route's preference wins over the client's order");
    r = REQ(GOOD, "Sec-WebSocket-Protocol", "x", "Sec-WebSocket-Protocol", "chat.v1");
    CHECK(check(r, protos, &proto, extra) == 0 && proto == protos[1],
          "offers spread over two header lines");
    r = REQ(GOOD, "Sec-WebSocket-Protocol", "mqtt");
    CHECK(check(r, protos, &proto, extra) == 400, "only others offered: 400");
    CHECK(check(r, NULL, &proto, extra) == 400, "a route speaking none, asked for one: 400");
    r = REQ(GOOD, "Sec-WebSocket-Protocol", " , ");
    CHECK(check(r, protos, &proto, extra) == 0 && proto == NULL, "an empty list asks nothing");
}

static void test_request_for_lws(void)
{
    static const char bytes[] = "GET /chat HTTP/1.1\r\nX-Odd: kept out\r\n\r\n\x81\x85tail";
    struct kiln_req r = REQ(GOOD, "Sec-WebSocket-Extensions", "permessage-deflate",
                            "X-Odd", "kept out");
    size_t len = 0, n = sizeof bytes - 1;
    char *out = ws_handshake_request(&r, "chat.v1", 1, bytes, n, &len);
    const char *want = "GET / HTTP/1.1\r\nHost: kiln\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                       "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Protocol: chat.v1\r\n"
                       "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
    size_t wl = strlen(want);

    CHECK(out != NULL && len == wl + 6, "canonical head plus the 6 bytes after the block");
    CHECK(out != NULL && memcmp(out, want, wl) == 0, "only checked headers, the chosen protocol");
    CHECK(out != NULL && memcmp(out + wl, "\x81\x85tail", 6) == 0, "early frame bytes follow");
    free(out);
    out = ws_handshake_request(&r, NULL, 0, bytes, n, &len);
    CHECK(out != NULL && memmem(out, len, "Extensions", 10) == NULL &&
          memmem(out, len, "Protocol", 8) == NULL,
          "no deflate wanted, no protocol chosen: neither offered");
    free(out);
}

/* The offer ws_deflate_offer() picks from one Sec-WebSocket-Extensions value. */
static const char *offer(const char *value)
{
    struct kiln_req r = REQ(GOOD, "Sec-WebSocket-Extensions", value);

    return ws_deflate_offer(&r);
}

#define PMD "permessage-deflate"
#define PMD_RESET "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

static int same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static void test_deflate_offers(void)
{
    struct kiln_req r = REQ(GOOD, "Sec-WebSocket-Extensions", "x-webkit-deflate-frame",
                            "Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits");

    CHECK(same(offer("permessage-deflate"), PMD), "a plain offer is accepted");
    CHECK(same(offer("Permessage-Deflate ;  client_max_window_bits"), PMD),
          "names are case-insensitive, spaces allowed; client_max_window_bits is a hint");
    CHECK(same(offer("permessage-deflate; client_max_window_bits=10"), PMD),
          "a client window size is the client's business");
    CHECK(same(offer("permessage-deflate; client_max_window_bits=\"12\""), PMD),
          "a quoted value is a value");
    CHECK(same(offer("permessage-deflate; client_no_context_takeover"), PMD),
          "client_no_context_takeover alone is a hint kiln may ignore");
    CHECK(same(offer("permessage-deflate; server_no_context_takeover"), PMD_RESET),
          "server_no_context_takeover: both sides reset per message");
    CHECK(same(offer("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
               PMD_RESET), "both resets asked: both answered");
    CHECK(offer("permessage-deflate; server_max_window_bits=10") == NULL,
          "a smaller server window is declined");
    CHECK(offer("permessage-deflate; server_max_window_bits=15") == NULL,
          "server_max_window_bits is declined whatever its value");
    CHECK(same(offer("permessage-deflate; server_max_window_bits=9, permessage-deflate"), PMD),
          "a declined offer falls back to the next one");
    CHECK(same(offer("permessage-deflate; server_max_window_bits=8, "
                     "permessage-deflate; server_no_context_takeover, permessage-deflate"),
               PMD_RESET), "the first acceptable offer wins");
    CHECK(offer("permessage-deflate; client_max_window_bits=7") == NULL &&
          offer("permessage-deflate; client_max_window_bits=16") == NULL &&
          offer("permessage-deflate; client_max_window_bits=010") == NULL &&
          offer("permessage-deflate; client_max_window_bits=") == NULL,
          "window sizes outside 8..15 (or written oddly) are declined");
    CHECK(offer("permessage-deflate; server_no_context_takeover; server_no_context_takeover") == NULL,
          "a repeated parameter is declined");
    CHECK(offer("permessage-deflate; server_no_context_takeover=1") == NULL,
          "a flag with a value is declined");
    CHECK(offer("permessage-deflate; mystery") == NULL, "an unknown parameter is declined");
    CHECK(offer("permessage-deflate x") == NULL && offer("permessage-deflate;") == NULL &&
          offer("; permessage-deflate") == NULL,
          "malformed offers are declined");
    CHECK(offer("x-webkit-deflate-frame, deflate-stream") == NULL && offer("") == NULL &&
          offer("permessage-deflatex") == NULL, "other extensions are not deflate");
    CHECK(same(ws_deflate_offer(&r), PMD), "offers may span several header lines");
}

int main(void)
{
    test_deflate_offers();
    test_accepts();
    test_refusals();
    test_subprotocols();
    test_request_for_lws();
    return unit_done();
}
