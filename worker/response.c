/*
 * response.c -- writes HTTP/1.1 responses: reason phrases, the cached Date
 * value, a handler's response and kiln's own error responses.
 */
#include <string.h>
#include <time.h>

#include "compress.h"
#include "request.h"
#include "response.h"

#define DATE_LEN 29

static char date_value[DATE_LEN + 1];
static time_t date_second = (time_t)-1;

/* The reason phrase of a status; "Unknown" for one not listed here. */
const char *http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 511: return "Network Authentication Required";
    default:  return "Unknown";
    }
}

/* Writes v as two decimal digits. */
static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
}

/* IMF-fixdate, locale-free: "Wed, 25 Nov 2026 13:50:00 GMT". */
static void date_format(char *out, const struct tm *tm)
{
    static const char days[] = "SunMonTueWedThuFriSat";
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int year = tm->tm_year + 1900;

    memcpy(out, days + 3 * tm->tm_wday, 3);
    memcpy(out + 3, ", ", 2);
    put2(out + 5, tm->tm_mday);
    out[7] = ' ';
    memcpy(out + 8, months + 3 * tm->tm_mon, 3);
    out[11] = ' ';
    put2(out + 12, year / 100);
    put2(out + 14, year % 100);
    out[16] = ' ';
    put2(out + 17, tm->tm_hour);
    out[19] = ':';
    put2(out + 20, tm->tm_min);
    out[22] = ':';
    put2(out + 23, tm->tm_sec);
    memcpy(out + 25, " GMT", 5);
}

int http_date(char out[30], long long t)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t < 0 || t > 253402300799LL || gmtime_r(&tt, &tm) == NULL)
        return -1;                  /* IMF-fixdate has four-digit years */
    date_format(out, &tm);
    out[DATE_LEN] = '\0';
    return 0;
}

void response_update_date(double now)
{
    time_t t = (time_t)now;
    struct tm tm;

    if (t == date_second || gmtime_r(&t, &tm) == NULL)
        return;
    date_format(date_value, &tm);
    date_second = t;
}

const char *response_date(void)
{
    if (date_second == (time_t)-1)
        response_update_date((double)time(NULL));
    return date_value;
}

/* ---- building blocks --------------------------------------------------------- */

/* A fixed stack buffer the head of a response is assembled in. */
struct line {
    char s[256];
    size_t n;
};

static void put(struct line *l, const char *s, size_t n)
{
    if (n > sizeof(l->s) - l->n)
        n = sizeof(l->s) - l->n;
    memcpy(l->s + l->n, s, n);
    l->n += n;
}

#define PUT_LIT(l, lit) put((l), (lit), sizeof(lit) - 1)

static void put_str(struct line *l, const char *s)
{
    put(l, s, strlen(s));
}

/* Writes the decimal digits of v at p; the end. */
static inline char *write_uint(char *p, size_t v)
{
    size_t n = v < 10 ? 1 : v < 100 ? 2 : v < 1000 ? 3 : 4;

    for (size_t t = v / 10000; t > 0; t /= 10)
        n++;
    for (char *e = p + n; e > p; v /= 10)
        *--e = (char)('0' + v % 10);
    return p + n;
}

/* Appends the decimal digits of v. */
static void put_uint(struct line *l, size_t v)
{
    char tmp[20];                   /* SIZE_MAX's digits */

    put(l, tmp, (size_t)(write_uint(tmp, v) - tmp));
}

/* 1xx, 204 and 304 carry neither a body nor a Content-Length. */
static int status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

/* "HTTP/1.1 S Reason\r\nServer: kiln\r\nDate: ...\r\n" */
static void build_head(struct line *l, int status, const char *date)
{
    PUT_LIT(l, "HTTP/1.1 ");
    put_uint(l, status > 0 ? (size_t)status : 0);
    PUT_LIT(l, " ");
    put_str(l, http_reason(status));
    PUT_LIT(l, "\r\nServer: kiln\r\nDate: ");
    put(l, date, DATE_LEN);
    PUT_LIT(l, "\r\n");
}

/* The head's first lines: a 200's, built once a second, or the status's
 * own built into `scratch`. */
static const struct line *head_lines(struct line *scratch, int status)
{
    static struct line ok;
    static time_t ok_second = (time_t)-1;
    const char *date = response_date();

    if (status != 200) {
        scratch->n = 0;
        build_head(scratch, status, date);
        return scratch;
    }
    if (ok_second != date_second) {
        ok.n = 0;
        build_head(&ok, 200, date);
        ok_second = date_second;
    }
    return &ok;
}

static void put_head(struct line *l, int status)
{
    struct line scratch;            /* .s written up to .n only: not cleared */
    const struct line *h = head_lines(&scratch, status);

    put(l, h->s, h->n);
}

/* "Content-Length: N\r\n" when the status has a body. */
static void put_length(struct line *l, int status, size_t len)
{
    if (!status_has_body(status))
        return;
    PUT_LIT(l, "Content-Length: ");
    put_uint(l, len);
    PUT_LIT(l, "\r\n");
}

/* The most the lines write_tail() writes take: Content-Length with 20
 * digits (or Transfer-Encoding: chunked), Connection: keep-alive and the
 * blank line. */
#define TAIL_MAX (sizeof("Content-Length: 18446744073709551615\r\n") - 1 + \
                  sizeof("Connection: keep-alive\r\n") - 1 + 2)

#define WRITE_LIT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

/*
 * Writes a head's last lines at p, at most TAIL_MAX bytes: Content-Length
 * (length >= 0, when the status has a body) or, for length -1,
 * Transfer-Encoding: chunked when `chunked`; the Connection header when the
 * default does not say it; the blank line.  The end.
 */
static char *write_tail(char *p, const struct kiln_req *req, int status, long long length,
                        int chunked)
{
    if (length >= 0) {
        if (status_has_body(status)) {
            p = WRITE_LIT(p, "Content-Length: ");
            p = write_uint(p, (size_t)length);
            p = WRITE_LIT(p, "\r\n");
        }
    } else if (chunked) {
        p = WRITE_LIT(p, "Transfer-Encoding: chunked\r\n");
    }
    if (!req->keep_alive)
        p = WRITE_LIT(p, "Connection: close\r\n");
    else if (req->http_major == 1 && req->http_minor == 0)
        p = WRITE_LIT(p, "Connection: keep-alive\r\n");
    return WRITE_LIT(p, "\r\n");
}

/* Appends n bytes at p; the end. */
static char *write_bytes(char *p, const void *data, size_t n)
{
    if (n > 0)
        memcpy(p, data, n);
    return p + n;
}

/* ---- responses ----------------------------------------------------------------- */

/* The status a handler's response goes out with (see response.h). */
static int response_status(const struct kiln_req *req)
{
    if (req->status != 0)
        return req->status;
    if ((req->resp_body && req->resp_body->len > 0) || req->content_type_set)
        return 200;
    return 204;
}

/*
 * Sets req->status to the status actually sent (for the access log), then
 * writes the response in place after one reservation; the body may
 * go out gzipped (compress.c decides, and adds its headers).
 */
int response_serialize(struct kiln_req *req, struct buf *out)
{
    struct line scratch;            /* .s written up to .n only: not cleared */
    const struct line *head;
    int status = response_status(req), no_length;
    const struct buf *hdrs = req->resp_headers,
                     *body = compress_body(req, status, &no_length);
    size_t hlen = hdrs ? hdrs->len : 0, blen = body ? body->len : 0;
    long long length = no_length ? -1 : (long long)blen;
    char *p;

    if (req->resp_body != NULL && body == NULL)
        return -1;
    req->status = status;
    head = head_lines(&scratch, status);
    if (req->is_head || !status_has_body(status))
        blen = 0;
    req->mw.body_out = blen;
    if (buf_reserve(out, head->n + hlen + TAIL_MAX + blen) != 0)
        return -1;
    p = write_bytes(out->data + out->len, head->s, head->n);
    p = write_bytes(p, hdrs ? hdrs->data : NULL, hlen);
    p = write_tail(p, req, status, length, 0);
    p = write_bytes(p, body ? body->data : NULL, blen);
    out->len = (size_t)(p - out->data);
    if (body != req->resp_body)
        compress_done();
    return 0;
}

/*
 * The head of a streamed response: the status line, Date, Server, the
 * handler's headers, then Content-Length (length >= 0) or, for length -1,
 * Transfer-Encoding: chunked when `chunked`, and the Connection header.
 */
int response_stream_head(struct kiln_req *req, struct buf *out, int status,
                         long long length, int chunked)
{
    struct line scratch;            /* .s written up to .n only: not cleared */
    const struct line *head = head_lines(&scratch, status);
    const struct buf *hdrs = req->resp_headers;
    size_t hlen = hdrs ? hdrs->len : 0;
    char *p;

    req->status = status;
    if (buf_reserve(out, head->n + hlen + TAIL_MAX) != 0)
        return -1;
    p = write_bytes(out->data + out->len, head->s, head->n);
    p = write_bytes(p, hdrs ? hdrs->data : NULL, hlen);
    p = write_tail(p, req, status, length, chunked);
    out->len = (size_t)(p - out->data);
    return 0;
}

size_t http_status_text(int status, char out[HTTP_STATUS_TEXT_MAX])
{
    struct line text = { .n = 0 };

    put_uint(&text, status > 0 ? (size_t)status : 0);
    PUT_LIT(&text, " ");
    put_str(&text, http_reason(status));
    PUT_LIT(&text, "\n");
    if (text.n >= HTTP_STATUS_TEXT_MAX)
        text.n = HTTP_STATUS_TEXT_MAX - 1;
    memcpy(out, text.s, text.n);
    out[text.n] = '\0';
    return text.n;
}

int response_error(struct buf *out, int status, int keep_alive, int is_head,
                   const char *extra)
{
    struct line l = { .n = 0 }, text = { .n = 0 };
    size_t elen = extra ? strlen(extra) : 0;
    int has_body = status_has_body(status);

    text.n = http_status_text(status, text.s);
    put_head(&l, status);
    if (has_body)
        PUT_LIT(&l, "Content-Type: text/plain; charset=utf-8\r\n");
    put_length(&l, status, text.n);
    if (buf_reserve(out, l.n + elen + 32 + text.n) != 0)
        return -1;
    buf_append(out, l.s, l.n);
    if (elen > 0)
        buf_append(out, extra, elen);
    if (!keep_alive)
        buf_append(out, "Connection: close\r\n\r\n", 21);
    else
        buf_append(out, "\r\n", 2);
    if (has_body && !is_head)
        buf_append(out, text.s, text.n);
    return 0;
}
