/* ws_handshake.c -- the checks of a WebSocket upgrade request, and the canonical request handed to libwebsockets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "request.h"
#include "ws_handshake.h"

#define WS_EXT_MAX 1024             /* bytes of extension offers passed on */

/* Sec-WebSocket-Key: 16 bytes in base64, i.e. 22 characters and "==". */
static int key_ok(const char *key)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int i;

    if (key == NULL || strlen(key) != 24 || strcmp(key + 22, "==") != 0)
        return 0;
    for (i = 0; i < 22; i++)
        if (strchr(b64, key[i]) == NULL)
            return 0;
    return 1;
}

/*
 * The handshake headers: 426 (with Upgrade/Connection in extra) when this is
 * no WebSocket upgrade at all, 400 for a bad version (with the version we
 * speak in extra) or key.  0 when they are fine.
 */
static int check_headers(const struct kiln_req *req, int upgrade, char *extra,
                         size_t extralen)
{
    const char *v;
    int n;

    if (!upgrade || strcmp(req->method, "GET") != 0 ||
        !request_has_token(req, "upgrade", "websocket") ||
        !request_has_token(req, "connection", "upgrade")) {
        snprintf(extra, extralen, "Upgrade: websocket\r\nConnection: Upgrade\r\n");
        return 426;
    }
    if (req->http_major < 1 || (req->http_major == 1 && req->http_minor < 1))
        return 400;
    v = request_header(req, "sec-websocket-version", &n);
    if (v == NULL || n != 1 || strcmp(v, "13") != 0) {
        snprintf(extra, extralen, "Sec-WebSocket-Version: 13\r\n");
        return 400;
    }
    v = request_header(req, "sec-websocket-key", &n);
    if (n != 1 || !key_ok(v))
        return 400;
    return 0;
}

/* The route's most preferred subprotocol that the client offered (*out, or
 * NULL when the client asked for none).  400 when it asked only for others. */
static int pick_subprotocol(char *const *protos, const struct kiln_req *req,
                            const char **out)
{
    *out = NULL;
    if (!request_has_token(req, "sec-websocket-protocol", NULL))
        return 0;
    for (char *const *p = protos; p && *p; p++) {
        if (request_has_token(req, "sec-websocket-protocol", *p)) {
            *out = *p;
            return 0;
        }
    }
    return 400;
}

int ws_handshake_check(const struct kiln_req *req, int upgrade, char *const *protos,
                       const char **proto, char *extra, size_t extralen)
{
    int st;

    *proto = NULL;
    if (extralen > 0)
        extra[0] = '\0';
    st = check_headers(req, upgrade, extra, extralen);
    return st != 0 ? st : pick_subprotocol(protos, req, proto);
}

/* Where the header block of `bytes` ends (after its blank line), or len. */
static size_t head_end(const char *bytes, size_t len)
{
    size_t i = 0;

    while (i < len && (bytes[i] == '\r' || bytes[i] == '\n'))
        i++;
    for (; i + 1 < len; i++) {
        if (bytes[i] != '\n')
            continue;
        if (bytes[i + 1] == '\n')
            return i + 2;
        if (bytes[i + 1] == '\r' && i + 2 < len && bytes[i + 2] == '\n')
            return i + 3;
    }
    return len;
}

/* The client's extension offers, joined, when they fit in `cap`; else "". */
static void extension_offers(const struct kiln_req *req, char *out, size_t cap)
{
    size_t i, n = 0, l;

    out[0] = '\0';
    for (i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].name, "sec-websocket-extensions") != 0)
            continue;
        l = strlen(req->headers[i].value);
        if (n + l + 3 > cap) {
            out[0] = '\0';
            return;
        }
        n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? ", " : "",
                              req->headers[i].value);
    }
}

char *ws_handshake_request(const struct kiln_req *req, const char *proto, int deflate,
                           const char *bytes, size_t len, size_t *outlen)
{
    char ext[WS_EXT_MAX + 1];
    size_t tail = head_end(bytes, len), cap;
    const char *key = request_header(req, "sec-websocket-key", NULL);
    char *out;
    int n;

    if (deflate)
        extension_offers(req, ext, sizeof(ext));
    else
        ext[0] = '\0';
    cap = 256 + strlen(key) + (proto ? strlen(proto) : 0) +
          strlen(ext) + (len - tail);
    out = malloc(cap);
    if (!out)
        return NULL;
    n = snprintf(out, cap,
                 "GET / HTTP/1.1\r\nHost: kiln\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Key: %s\r\n%s%s%s%s%s%s\r\n", key,
                 proto ? "Sec-WebSocket-Protocol: " : "",
                 proto ? proto : "", proto ? "\r\n" : "",
                 ext[0] ? "Sec-WebSocket-Extensions: " : "", ext,
                 ext[0] ? "\r\n" : "");
    memcpy(out + n, bytes + tail, len - tail);
    *outlen = (size_t)n + (len - tail);
    return out;
}
