/* ws_handshake.c -- the checks of a WebSocket upgrade request, and the canonical request handed to libwebsockets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "request.h"
#include "ws_handshake.h"

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

/* ---- permessage-deflate offers (RFC 7692) ------------------------------------ */

/* What one offer asks for; `ok` is 0 once it holds anything kiln declines. */
struct pmd_offer {
    int ok, snct, cnct, cmwb;
};

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* A token at p (RFC 9110 tchar): its length, 0 if none. */
static size_t token_len(const char *p)
{
    size_t n = 0;

    while (p[n] && (p[n] > ' ' && p[n] < 0x7f) && !strchr("()<>@,;:\\\"/[]?={}", p[n]))
        n++;
    return n;
}

/* A window size value, plain or quoted: 8..15 without a leading zero. */
static int bits_ok(const char *v, size_t n)
{
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    return (n == 1 && v[0] >= '8' && v[0] <= '9') ||
           (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5');
}

/* Notes one parameter of a permessage-deflate offer in o. */
static void offer_param(struct pmd_offer *o, const char *name, size_t nlen,
                        const char *val, size_t vlen, int has_val)
{
#define IS(s) (nlen == sizeof(s) - 1 && strncasecmp(name, s, nlen) == 0)
    if (IS("server_no_context_takeover") && !has_val && !o->snct)
        o->snct = 1;
    else if (IS("client_no_context_takeover") && !has_val && !o->cnct)
        o->cnct = 1;
    else if (IS("client_max_window_bits") && !o->cmwb &&
             (!has_val || bits_ok(val, vlen)))
        o->cmwb = 1;
    else
        o->ok = 0;      /* unknown, repeated, badly valued, or a smaller
                           server window, which lws cannot keep to */
#undef IS
}

/*
 * Parses the offer at *pp (up to the ',' ending it or the end), moving *pp
 * past it.  Returns whether it is a permessage-deflate offer kiln accepts;
 * *o says what it asked for.
 */
static int offer_parse(const char **pp, struct pmd_offer *o)
{
    const char *p = skip_ws(*pp), *name, *val;
    size_t n = token_len(p), nlen, vlen;
    int has_val, pmd = n == 18 && strncasecmp(p, "permessage-deflate", 18) == 0;

    memset(o, 0, sizeof(*o));
    o->ok = n > 0;
    for (p = skip_ws(p + n); *p == ';'; ) {
        name = skip_ws(p + 1);
        nlen = token_len(name);
        p = skip_ws(name + nlen);
        val = p;
        vlen = 0;
        has_val = *p == '=';
        if (has_val) {
            val = skip_ws(p + 1);
            if (*val == '"') {
                const char *q = strchr(val + 1, '"');
                vlen = q ? (size_t)(q - val) + 1 : 0;
            } else {
                vlen = token_len(val);
            }
            p = skip_ws(val + vlen);
        }
        if (nlen == 0 || (has_val && vlen == 0))
            o->ok = 0;
        else
            offer_param(o, name, nlen, val, vlen, has_val);
    }
    if (*p != ',' && *p != '\0')
        o->ok = 0;
    while (*p && *p != ',')
        p++;
    *pp = *p == ',' ? p + 1 : p;
    return pmd && o->ok;
}

const char *ws_deflate_offer(const struct kiln_req *req)
{
    struct pmd_offer o;
    const char *p;

    for (size_t i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].name, "sec-websocket-extensions") != 0)
            continue;
        for (p = req->headers[i].value; *skip_ws(p); )
            if (offer_parse(&p, &o))
                return o.snct ? "permessage-deflate; server_no_context_takeover; "
                                "client_no_context_takeover"
                              : "permessage-deflate";
    }
    return NULL;
}

char *ws_handshake_request(const struct kiln_req *req, const char *proto, int deflate,
                           const char *bytes, size_t len, size_t *outlen)
{
    const char *ext = deflate ? ws_deflate_offer(req) : NULL;
    size_t tail = head_end(bytes, len), cap;
    const char *key = request_header(req, "sec-websocket-key", NULL);
    char *out;
    int n;

    cap = 256 + strlen(key) + (proto ? strlen(proto) : 0) +
          (ext ? strlen(ext) : 0) + (len - tail);
    out = malloc(cap);
    if (!out)
        return NULL;
    n = snprintf(out, cap,
                 "GET / HTTP/1.1\r\nHost: kiln\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Key: %s\r\n%s%s%s%s%s%s\r\n", key,
                 proto ? "Sec-WebSocket-Protocol: " : "",
                 proto ? proto : "", proto ? "\r\n" : "",
                 ext ? "Sec-WebSocket-Extensions: " : "", ext ? ext : "",
                 ext ? "\r\n" : "");
    memcpy(out + n, bytes + tail, len - tail);
    *outlen = (size_t)n + (len - tail);
    return out;
}
