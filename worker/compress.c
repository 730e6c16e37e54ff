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
 *
 * A stream (stream.c) is compressed only when its handler asked with
 * kiln_compress(req, 1): it then has a z_stream of its own for its life,
 * each write deflated with Z_SYNC_FLUSH so that it reaches the client at
 * once.  File responses are never compressed here.
 */
#include <limits.h>
#include <stdlib.h>
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
static int gzip_on;                 /* cfg->gzip */
static z_stream zs;
static int zs_ready;
static struct buf zout;

void compress_init(const struct config *c)
{
    cfg = c;
    gzip_on = c != NULL && c->gzip;
}

void compress_shutdown(void)
{
    if (zs_ready)
        deflateEnd(&zs);
    zs_ready = 0;
    buf_free(&zout);
    cfg = NULL;
    gzip_on = 0;
}

/* ---- the handler's header lines ("Name: value\r\n" in resp_headers) ------ */

/* Where a header line's value lies in the buffer, as offsets. */
struct field {
    size_t value, vlen;
};

/* The lines compression reads, found in one pass: the first of each. */
struct head {
    struct field type, etag, vary;
    unsigned has_type : 1, has_etag : 1, has_vary : 1, has_encoding : 1;
    unsigned vary_covers : 1;       /* a Vary line lists Accept-Encoding or "*" */
};

static int list_has(const char *s, size_t n, const char *token);

/* Notes the line whose name is line[0..nl) and value lies at f. */
static void note(struct head *hd, const struct buf *h, const char *line, size_t nl,
                 struct field f)
{
    const char *v = h->data + f.value;

    if (nl == 12 && strncasecmp(line, "content-type", 12) == 0 && !hd->has_type) {
        hd->type = f;
        hd->has_type = 1;
    } else if (nl == 16 && strncasecmp(line, "content-encoding", 16) == 0) {
        hd->has_encoding = 1;
    } else if (nl == 4 && strncasecmp(line, "etag", 4) == 0 && !hd->has_etag) {
        hd->etag = f;
        hd->has_etag = 1;
    } else if (nl == 4 && strncasecmp(line, "vary", 4) == 0) {
        if (!hd->has_vary)
            hd->vary = f;
        hd->has_vary = 1;
        if (list_has(v, f.vlen, "accept-encoding") || list_has(v, f.vlen, "*"))
            hd->vary_covers = 1;
    }
}

/* Reads the handler's header lines ("Name: value\r\n" in resp_headers). */
static void scan(const struct buf *h, struct head *hd)
{
    size_t from = 0;

    memset(hd, 0, sizeof(*hd));
    while (h != NULL && from < h->len) {
        const char *line = h->data + from, *eol = memchr(line, '\n', h->len - from);
        size_t len = eol ? (size_t)(eol - line) + 1 : h->len - from, v, e;
        const char *colon = memchr(line, ':', len);

        if (colon != NULL) {
            v = (size_t)(colon - line) + 1;
            while (v < len && (line[v] == ' ' || line[v] == '\t'))
                v++;
            for (e = len; e > v && (line[e - 1] == '\n' || line[e - 1] == '\r'); e--)
                ;
            note(hd, h, line, (size_t)(colon - line), (struct field){ from + v, e - v });
        }
        from += len;
    }
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
static int add_vary(struct buf *h, const struct head *hd)
{
    if (hd->vary_covers)
        return 0;
    if (!hd->has_vary)
        return buf_append_str(h, "Vary: Accept-Encoding\r\n");
    if (hd->vary.vlen == 0)
        return insert(h, hd->vary.value, "Accept-Encoding", 15);
    return insert(h, hd->vary.value + hd->vary.vlen, ", Accept-Encoding", 17);
}

/* A strong ETag names the identity bytes: the gzip ones get W/ (RFC 9110
 * 8.8.3), as nginx does.  Read again: add_vary() may have moved it. */
static int weaken_etag(struct buf *h)
{
    struct head hd;

    scan(h, &hd);
    if (!hd.has_etag || hd.etag.vlen == 0 || h->data[hd.etag.value] != '"')
        return 0;
    return insert(h, hd.etag.value, "W/", 2);
}

/* ---- the decisions ------------------------------------------------------- */

/* Whether the response of req, going out with `status`, qualifies; hd
 * gets its header lines. */
static int eligible(const struct kiln_req *req, int status, struct head *hd)
{
    const struct buf *h = req->resp_headers;
    size_t blen = req->resp_body ? req->resp_body->len : 0;

    if (req->compress < 0 || blen == 0)
        return 0;
    if (req->compress == 0 && (cfg == NULL || !cfg->gzip || blen < cfg->gzip_min_length))
        return 0;
    if (status < 200 || status == 204 || status == 206 || status == 304)
        return 0;
    scan(h, hd);
    if (hd->has_encoding)
        return 0;
    if (req->compress > 0)
        return 1;
    return hd->has_type && type_list_match(cfg->gzip_types, h->data + hd->type.value,
                                           hd->type.vlen);
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

/* compress_body() past its first test: kept out of line, so that a
 * response with compression off costs a test and a return. */
static const struct buf *__attribute__((noinline))
consider(struct kiln_req *req, int status, int *no_length)
{
    struct buf *h = req->resp_headers;
    struct head hd;

    if (h == NULL || !eligible(req, status, &hd))
        return req->resp_body;
    if (add_vary(h, &hd) < 0)
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

const struct buf *compress_body(struct kiln_req *req, int status, int *no_length)
{
    *no_length = 0;
    if (req->compress == 0 && !gzip_on)
        return req->resp_body;
    return consider(req, status, no_length);
}

void compress_done(void)
{
    if (zout.cap > KEEP_OUT)
        buf_free(&zout);
    else
        buf_reset(&zout);
}

/* ---- streams (stream.c) ---------------------------------------------------- */

struct compress_stream {
    z_stream z;
};

int compress_stream_start(struct kiln_req *req, int status, struct compress_stream **zp)
{
    struct buf *h = req->resp_headers;
    struct compress_stream *s = NULL;
    struct head hd;

    *zp = NULL;
    if (req->compress <= 0 || h == NULL || status == 206)
        return 0;
    scan(h, &hd);
    if (hd.has_encoding)
        return 0;
    if (add_vary(h, &hd) < 0)
        return -1;
    if (!accepts_gzip(req))
        return 0;
    if (!req->is_head) {
        s = calloc(1, sizeof(*s));
        if (s == NULL || deflateInit2(&s->z, cfg ? (int)cfg->gzip_level : DEFAULT_LEVEL,
                                      Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            free(s);
            return -1;
        }
    }
    if (buf_append_str(h, "Content-Encoding: gzip\r\n") < 0 || weaken_etag(h) < 0) {
        compress_stream_free(s);
        return -1;
    }
    *zp = s;
    return 1;
}

const struct buf *compress_stream_write(struct compress_stream *s, const void *data,
                                        size_t len, int finish)
{
    int rc;

    if (len > UINT_MAX / 2)
        return NULL;
    buf_reset(&zout);
    s->z.next_in = (Bytef *)data;
    s->z.avail_in = (uInt)len;
    do {
        if (buf_reserve(&zout, len / 2 + 64) != 0)
            return NULL;
        s->z.next_out = (Bytef *)zout.data + zout.len;
        s->z.avail_out = (uInt)(zout.cap - zout.len);
        rc = deflate(&s->z, finish ? Z_FINISH : Z_SYNC_FLUSH);
        zout.len = zout.cap - s->z.avail_out;
        if (rc == Z_STREAM_ERROR)
            return NULL;
    } while (s->z.avail_out == 0 || (finish && rc == Z_OK));
    return &zout;
}

void compress_stream_free(struct compress_stream *s)
{
    if (s == NULL)
        return;
    deflateEnd(&s->z);
    free(s);
}

KILN_EXPORT int kiln_compress(kiln_req *req, int on)
{
    if (req == NULL)
        return -1;
    req->compress = on ? 1 : -1;
    return 0;
}
