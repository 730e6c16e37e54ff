/*
 * compress.c -- gzip of buffered response bodies (the one file that
 * includes zlib.h): which responses qualify, Vary, Content-Encoding and a
 * weakened ETag, and the worker's one deflate state.
 *
 * A response qualifies ("eligible") when compression is on for it (the
 * server's gzip key, or kiln_compress()), its status has a body that a
 * coding may change (not 1xx, 204, 206 or 304), the handler set no
 * Content-Encoding, and, unless kiln_compress() forced it, its body is at
 * least gzip_min_length and its type is in gzip_types.  Every eligible
 * response carries Vary: Accept-Encoding, compressed or not, so that a
 * cache keeps both forms apart; it is compressed when the request's
 * Accept-Encoding takes gzip (coding.c).  A HEAD answer gets the headers a
 * GET would, without a Content-Length (the length is only known by
 * compressing, as nginx does too).
 *
 * The worker keeps one z_stream (about 256 KiB with zlib's default window
 * and memLevel), made on the first compressed response and reset between
 * responses, and one output buffer, given back after a large body.
 * Streamed and file responses are never compressed here (see kiln.h
 * kiln_compress()).
 */
#include <limits.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "coding.h"
#include "compress.h"
#include "config.h"
#include "log.h"
#include "request.h"
#include "type_list.h"

#define DEFAULT_LEVEL 5             /* without a config (fuzzing) */
#define KEEP_OUT (256 * 1024)       /* the most of the output buffer kept */

static const struct config *cfg;   /* NULL until compress_init() */
static z_stream zs;
static int zs_ready;
static struct buf zout;

void compress_init(const struct config *c)
{
    cfg = c;
}

void compress_shutdown(void)
{
    if (zs_ready)
        deflateEnd(&zs);
    zs_ready = 0;
    buf_free(&zout);
    cfg = NULL;
}

/* ---- the handler's header lines ("Name: value\r\n" in resp_headers) ------ */

/* Where a header line lies in the buffer, as offsets. */
struct field {
    size_t value, vlen;             /* its value */
    size_t end;                     /* just past its line */
};

/* The first line called `name` (case-insensitive) at or after offset
 * `from`: 1 with *f filled in, else 0. */
static int field_find(const struct buf *h, const char *name, size_t from, struct field *f)
{
    size_t nl = strlen(name);

    while (h != NULL && from < h->len) {
        const char *line = h->data + from, *eol = memchr(line, '\n', h->len - from);
        size_t len = eol ? (size_t)(eol - line) + 1 : h->len - from;

        if (len > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
            size_t v = nl + 1, e = len;

            while (v < len && (line[v] == ' ' || line[v] == '\t'))
                v++;
            while (e > v && (line[e - 1] == '\n' || line[e - 1] == '\r'))
                e--;
            f->value = from + v;
            f->vlen = e - v;
            f->end = from + len;
            return 1;
        }
        from += len;
    }
    return 0;
}

/* Whether the comma-separated list s[0..n) holds `token` (any case). */
static int list_has(const char *s, size_t n, const char *token)
{
    size_t tl = strlen(token), i = 0;

    while (i < n) {
        size_t j = i, e;

        while (j < n && s[j] != ',')
            j++;
        while (i < j && (s[i] == ' ' || s[i] == '\t'))
            i++;
        for (e = j; e > i && (s[e - 1] == ' ' || s[e - 1] == '\t'); e--)
            ;
        if (e - i == tl && strncasecmp(s + i, token, tl) == 0)
            return 1;
        i = j + 1;
    }
    return 0;
}

/* Inserts s[0..n) at offset `at` of h.  0, or -1 out of memory. */
static int insert(struct buf *h, size_t at, const char *s, size_t n)
{
    if (buf_reserve(h, n) != 0)
        return -1;
    memmove(h->data + at + n, h->data + at, h->len - at);
    memcpy(h->data + at, s, n);
    h->len += n;
    return 0;
}

/* Vary lists Accept-Encoding: added to the handler's first Vary line, or
 * a line of its own; left alone when some line has it or "*". */
static int add_vary(struct buf *h)
{
    struct field f, first;
    size_t from = 0;
    int have = 0;

    while (field_find(h, "vary", from, &f)) {
        const char *v = h->data + f.value;

        if (list_has(v, f.vlen, "accept-encoding") || list_has(v, f.vlen, "*"))
            return 0;
        if (!have)
            first = f;
        have = 1;
        from = f.end;
    }
    if (!have)
        return buf_append_str(h, "Vary: Accept-Encoding\r\n");
    if (first.vlen == 0)
        return insert(h, first.value, "Accept-Encoding", 15);
    return insert(h, first.value + first.vlen, ", Accept-Encoding", 17);
}

/* A strong ETag names the identity bytes: the gzip ones get W/ (RFC 9110
 * 8.8.3), as nginx does. */
static int weaken_etag(struct buf *h)
{
    struct field f;

    if (!field_find(h, "etag", 0, &f) || f.vlen == 0 || h->data[f.value] != '"')
        return 0;
    return insert(h, f.value, "W/", 2);
}

/* ---- the decisions ------------------------------------------------------- */

/* Whether the response of req, going out with `status`, qualifies. */
static int eligible(const struct kiln_req *req, int status)
{
    const struct buf *h = req->resp_headers;
    size_t blen = req->resp_body ? req->resp_body->len : 0;
    struct field f;

    if (req->compress < 0 || blen == 0)
        return 0;
    if (req->compress == 0 && (cfg == NULL || !cfg->gzip || blen < cfg->gzip_min_length))
        return 0;
    if (status < 200 || status == 204 || status == 206 || status == 304)
        return 0;
    if (field_find(h, "content-encoding", 0, &f))
        return 0;
    if (req->compress > 0)
        return 1;
    return field_find(h, "content-type", 0, &f) &&
           type_list_match(cfg->gzip_types, h->data + f.value, f.vlen);
}

/* Whether the request's Accept-Encoding (its fields joined) prefers gzip
 * to identity. */
static int accepts_gzip(const struct kiln_req *req)
{
    const char *ae;
    struct buf joined;
    int n = 0, rc;

    ae = request_header(req, "accept-encoding", &n);
    if (n <= 1)
        return ae != NULL &&
               coding_choose(ae, CODING_BIT(CODING_IDENTITY) | CODING_BIT(CODING_GZIP)) ==
                   CODING_GZIP;
    buf_init(&joined);
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, "accept-encoding") == 0 &&
            buf_printf(&joined, "%s%s", joined.len ? ", " : "", req->headers[i].value) < 0)
            break;
    rc = buf_append(&joined, "", 1) == 0 &&
         coding_choose(joined.data, CODING_BIT(CODING_IDENTITY) | CODING_BIT(CODING_GZIP)) ==
             CODING_GZIP;
    buf_free(&joined);
    return rc;
}

/* The gzip stream of `in` into zout.  0, or -1 (out of memory, a body
 * zlib cannot take in one call). */
static int deflate_body(const struct buf *in)
{
    uLong bound;

    if (in->len > UINT_MAX / 2)
        return -1;
    if (!zs_ready) {
        memset(&zs, 0, sizeof(zs));
        if (deflateInit2(&zs, cfg ? (int)cfg->gzip_level : DEFAULT_LEVEL, Z_DEFLATED,
                         15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return -1;
        zs_ready = 1;
    } else if (deflateReset(&zs) != Z_OK) {
        return -1;
    }
    bound = deflateBound(&zs, (uLong)in->len);
    buf_reset(&zout);
    if (buf_reserve(&zout, bound) != 0)
        return -1;
    zs.next_in = (Bytef *)in->data;
    zs.avail_in = (uInt)in->len;
    zs.next_out = (Bytef *)zout.data;
    zs.avail_out = (uInt)bound;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
        return -1;
    zout.len = bound - zs.avail_out;
    return 0;
}

const struct buf *compress_body(struct kiln_req *req, int status, int *no_length)
{
    struct buf *h = req->resp_headers;

    *no_length = 0;
    if (!eligible(req, status))
        return req->resp_body;
    if (add_vary(h) < 0)
        return NULL;
    if (!accepts_gzip(req))
        return req->resp_body;
    if (!req->is_head && deflate_body(req->resp_body) < 0) {
        log_warn("%s %s: gzip of a %zu-byte body failed: sent as it is", req->method,
                 req->target, req->resp_body->len);
        return req->resp_body;
    }
    if (buf_append_str(h, "Content-Encoding: gzip\r\n") < 0 || weaken_etag(h) < 0)
        return NULL;
    if (req->is_head) {
        *no_length = 1;
        return req->resp_body;
    }
    return &zout;
}

void compress_done(void)
{
    if (zout.cap > KEEP_OUT)
        buf_free(&zout);
    else
        buf_reset(&zout);
}

KILN_EXPORT int kiln_compress(kiln_req *req, int on)
{
    if (req == NULL)
        return -1;
    req->compress = on ? 1 : -1;
    return 0;
}
