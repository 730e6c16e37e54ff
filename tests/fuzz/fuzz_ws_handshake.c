/*
 * fuzz_ws_handshake.c -- libFuzzer harness of worker/ws_handshake.c on
 * requests as kiln parses them: the client's bytes go through a worker
 * connection (tests/fuzz/feed.c) to a route whose handler runs the upgrade
 * checks on the parsed request and, when they pass, builds the request
 * libwebsockets would be handed.
 *
 * Input: byte 0 chooses the checks' other arguments (bit 0: the parser saw
 * an upgrade; bits 1-2: the route's subprotocols, none, "chat", "chat
 * superchat" or "superchat chat"; bit 3: deflate), bytes 1 and 2 where the
 * rest is cut into reads, the rest is what the client sends.  The checks
 * must answer 0, 400 or 426, and what is handed on must be one canonical
 * header block (CRLF lines, the checked key) followed by exactly the bytes
 * that followed the client's header block.
 */
#define _GNU_SOURCE                 /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "feed.h"
#include "kiln.h"
#include "plugin.h"
#include "request.h"
#include "router.h"
#include "worker.h"
#include "ws_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config cfg;
static uint8_t flags;               /* byte 0 of the input being run */
static const char *stream;          /* what the client sends */
static size_t stream_len;

static void defect(const char *what)
{
    fprintf(stderr, "fuzz_ws_handshake: %s\n", what);
    abort();
}

static char *const *route_protos(void)
{
    static char chat[] = "chat", superchat[] = "superchat";
    static char *const lists[4][3] = {
        { NULL }, { chat, NULL }, { chat, superchat, NULL }, { superchat, chat, NULL },
    };

    return lists[(flags >> 1) & 3][0] ? lists[(flags >> 1) & 3] : NULL;
}

/* The header block of `out` (up to its blank line) is CRLF lines only, and
 * carries the key; returns its length. */
static size_t check_head(const char *out, size_t len, const char *key)
{
    const char *end = NULL;
    char line[64];

    for (size_t i = 0; i + 3 < len; i++)
        if (memcmp(out + i, "\r\n\r\n", 4) == 0) {
            end = out + i + 4;
            break;
        }
    if (end == NULL || len < 16 || memcmp(out, "GET / HTTP/1.1\r\n", 16) != 0)
        defect("no canonical request line, or no blank line");
    for (const char *p = out; p < end; p++)
        if ((*p == '\r' && p[1] != '\n') || (*p == '\n' && p[-1] != '\r') || *p == '\0')
            defect("a bare CR, LF or NUL in the header block handed on");
    snprintf(line, sizeof line, "\r\nSec-WebSocket-Key: %s\r\n", key);
    if (memmem(out, (size_t)(end - out), line, strlen(line)) == NULL)
        defect("the checked key is not handed on");
    return (size_t)(end - out);
}

/* Any request: the checks, then what would be handed on. */
static int h_upgrade(kiln_req *req, void *data)
{
    char *const *protos = route_protos();
    const char *proto = "unset", *key;
    char extra[128];
    size_t outlen, head;
    char *out;
    int st;

    (void)data;
    st = ws_handshake_check(req, flags & 1, protos, &proto, extra, sizeof extra);
    if (st != 0 && st != 400 && st != 426)
        defect("a status other than 0, 400 or 426");
    if (strlen(extra) >= sizeof extra)
        defect("extra is not terminated");
    if (st != 0)
        return kiln_text(req, st, "%s", extra);
    if (proto != NULL) {
        size_t i = 0;

        while (protos != NULL && protos[i] != NULL && protos[i] != proto)
            i++;
        if (protos == NULL || protos[i] == NULL)
            defect("a subprotocol the route does not speak");
    }
    key = request_header(req, "sec-websocket-key", NULL);
    if (key == NULL || strlen(key) != 24)
        defect("accepted without a 24-character key");
    out = ws_handshake_request(req, proto, (flags & 8) != 0, stream, stream_len, &outlen);
    if (out == NULL)
        defect("no request to hand on");
    head = check_head(out, outlen, key);
    if (outlen - head > stream_len ||
        memcmp(out + head, stream + stream_len - (outlen - head), outlen - head) != 0)
        defect("what follows the header block is not what the client sent");
    free(out);
    return kiln_text(req, 200, "%s\n", proto ? proto : "-");
}

static struct worker *setup(void)
{
    static const char *const patterns[] = {
        "/", "/{a}", "/{a}/{b}", "/{a}/{b}/{c}", "/{a}/{b}/{c}/{d}",
    };
    static struct worker *w;
    struct router *r;
    struct kiln_app app = { .plugin = feed_plugin(), .cfg = &cfg };

    if (w != NULL)
        return w;
    config_defaults(&cfg);
    app.router = r = router_new();
    for (size_t i = 0; r != NULL && i < sizeof patterns / sizeof patterns[0]; i++)
        if (kiln_add_route(&app, "*", patterns[i], h_upgrade, NULL) < 0)
            abort();
    if (r == NULL)
        abort();
    w = feed_worker(&cfg, r);
    return w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct worker *w = setup();
    const uint8_t *parts[3];
    size_t lens[3], outlen;
    const char *out;

    if (size < 3)
        return 0;
    flags = data[0];
    stream = (const char *)data + 3;
    stream_len = size - 3;
    feed_split(data + 3, stream_len, data[1], data[2], parts, lens);
    feed_serve(w, parts, lens, 3, 0, &out, &outlen);
    return 0;
}
