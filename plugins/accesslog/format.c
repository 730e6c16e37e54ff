/*
 * format.c -- the access-log format compiler and the line renderer: Apache's
 * mod_log_config directives (and aiohttp's %Tf), values escaped so that a
 * line is always one line of printable ASCII.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

enum kind {
    LIT, REMOTE, PEER, LOGNAME, USER, TIME, REQLINE, STATUS, BODY_CLF, BODY,
    BYTES_OUT, BYTES_IN, USEC, SEC, SEC_FRAC, MSEC, METHOD, PATH, QUERY, PROTO,
    PID, REQ_HDR, RESP_HDR, HOST, CONN_STATUS
};

struct alog_item {
    enum kind kind;
    char *arg;                  /* the literal, a header name, a strftime format */
    size_t len;                 /* of a literal */
};

/* ---- compiling ------------------------------------------------------------ */

static int add_item(struct alog_format *f, enum kind kind, const char *arg, size_t len)
{
    struct alog_item *items, *it;

    if (kind == LIT && f->n > 0 && f->items[f->n - 1].kind == LIT) {
        it = &f->items[f->n - 1];
        char *p = realloc(it->arg, it->len + len + 1);
        if (p == NULL)
            return -1;
        memcpy(p + it->len, arg, len);
        it->len += len;
        p[it->len] = '\0';
        it->arg = p;
        return 0;
    }
    items = realloc(f->items, (f->n + 1) * sizeof(*items));
    if (items == NULL)
        return -1;
    f->items = items;
    it = &items[f->n];
    it->kind = kind;
    it->len = len;
    it->arg = NULL;
    if (arg != NULL) {
        if ((it->arg = malloc(len + 1)) == NULL)
            return -1;
        memcpy(it->arg, arg, len);
        it->arg[len] = '\0';
    }
    f->n++;
    return 0;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* The kind of directive `c` with its {arg} (NULL when none): -1 unknown. */
static int directive(char c, const char *arg, size_t arglen)
{
#define ARG_IS(s) (arg != NULL && arglen == sizeof(s) - 1 && memcmp(arg, s, arglen) == 0)
    switch (c) {
    case 'a': return arg == NULL ? REMOTE : ARG_IS("c") ? PEER : -1;
    case 'h': return arg == NULL ? REMOTE : -1;
    case 'l': return arg == NULL ? LOGNAME : -1;
    case 'u': return arg == NULL ? USER : -1;
    case 't': return TIME;
    case 'r': return arg == NULL ? REQLINE : -1;
    case 's': return arg == NULL ? STATUS : -1;
    case 'b': return arg == NULL ? BODY_CLF : -1;
    case 'B': return arg == NULL ? BODY : -1;
    case 'O': return arg == NULL ? BYTES_OUT : -1;
    case 'I': return arg == NULL ? BYTES_IN : -1;
    case 'D': return arg == NULL ? USEC : -1;
    case 'T': return arg == NULL || ARG_IS("s") ? SEC : ARG_IS("ms") ? MSEC
                     : ARG_IS("us") ? USEC : -1;
    case 'm': return arg == NULL ? METHOD : -1;
    case 'U': return arg == NULL ? PATH : -1;
    case 'q': return arg == NULL ? QUERY : -1;
    case 'H': return arg == NULL ? PROTO : -1;
    case 'P': return arg == NULL || ARG_IS("pid") ? PID : -1;
    case 'i': return arg != NULL && arglen > 0 ? REQ_HDR : -1;
    case 'o': return arg != NULL && arglen > 0 ? RESP_HDR : -1;
    case 'v': return arg == NULL ? HOST : -1;
    case 'X': return arg == NULL ? CONN_STATUS : -1;
    default:  return -1;
    }
#undef ARG_IS
}

/* What of a record a directive reads, beyond what is always there. */
static unsigned needs_of(enum kind kind)
{
    switch (kind) {
    case REMOTE:  return ALOG_NEEDS_REMOTE;
    case PEER:    return ALOG_NEEDS_PEER;
    case USER:    return ALOG_NEEDS_USER;
    case REQLINE: return ALOG_NEEDS_REQLINE;
    case METHOD:  return ALOG_NEEDS_REQLINE;
    case PROTO:   return ALOG_NEEDS_REQLINE;
    case PATH:    return ALOG_NEEDS_PATH;
    case QUERY:   return ALOG_NEEDS_QUERY;
    case HOST:    return ALOG_NEEDS_HOST;
    default:      return 0;
    }
}

/* One directive at s[i] (just after its '%'): the index after it, or -1. */
static long compile_directive(struct alog_format *f, const char *s, size_t i,
                              char *err, size_t errlen)
{
    size_t start = i - 1, arglen = 0;
    const char *arg = NULL;
    int kind;

    if (s[i] == '%')
        return add_item(f, LIT, "%", 1) < 0 ? -2 : (long)i + 1;
    if (s[i] == '{') {
        const char *end = strchr(s + i + 1, '}');
        if (end == NULL)
            return fail(err, errlen, "unterminated %%{ at column %zu", start + 1);
        arg = s + i + 1;
        arglen = (size_t)(end - arg);
        i = (size_t)(end - s) + 1;
    }
    while (s[i] == '>' || s[i] == '<')      /* Apache's final/original status */
        i++;
    if (s[i] == '\0')
        return fail(err, errlen, "%% at column %zu ends the format", start + 1);
    if ((kind = directive(s[i], arg, arglen)) < 0)
        return fail(err, errlen, "unknown directive %%%.*s at column %zu",
                    (int)(i + 1 - start - 1), s + start + 1, start + 1);
    i++;
    if (kind == SEC && arg == NULL && s[i] == 'f') {   /* aiohttp's %Tf */
        kind = SEC_FRAC;
        i++;
    }
    f->needs |= needs_of((enum kind)kind);
    return add_item(f, (enum kind)kind, arg, arglen) < 0 ? -2 : (long)i;
}

int alog_compile(struct alog_format *f, const char *spec, char *err, size_t errlen)
{
    size_t i = 0;

    memset(f, 0, sizeof(*f));
    if (strcmp(spec, "combined") == 0)
        spec = ALOG_COMBINED;
    else if (strcmp(spec, "common") == 0)
        spec = ALOG_COMMON;
    while (spec[i] != '\0') {
        size_t lit = strcspn(spec + i, "%");
        long next;

        for (size_t k = i; k < i + lit; k++) {
            unsigned char c = (unsigned char)spec[k];
            if (c < 0x20 || c == 0x7f) {
                alog_format_free(f);
                return fail(err, errlen, "control character at column %zu", k + 1);
            }
        }
        if (lit > 0 && add_item(f, LIT, spec + i, lit) < 0)
            goto nomem;
        i += lit;
        if (spec[i] == '\0')
            break;
        if ((next = compile_directive(f, spec, i + 1, err, errlen)) == -2)
            goto nomem;
        if (next < 0) {
            alog_format_free(f);
            return -1;
        }
        i = (size_t)next;
    }
    return 0;
nomem:
    alog_format_free(f);
    return fail(err, errlen, "out of memory");
}

void alog_format_free(struct alog_format *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->items[i].arg);
    free(f->items);
    memset(f, 0, sizeof(*f));
}

/* ---- rendering ------------------------------------------------------------ */

static int grow(struct alog_buf *b, size_t more)
{
    size_t cap = b->cap ? b->cap : 256;
    char *p;

    while (cap < b->len + more)
        cap *= 2;
    if ((p = realloc(b->data, cap)) == NULL)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

static inline int put(struct alog_buf *b, const char *s, size_t len)
{
    if (b->len + len > b->cap && grow(b, len) < 0)
        return -1;
    memcpy(b->data + b->len, s, len);
    b->len += len;
    return 0;
}

static int putf(struct alog_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int putf(struct alog_buf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    return n < 0 ? -1 : put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A value as Apache logs it: '"' and '\\' behind a backslash, \t \n \r, any
 * other byte outside printable ASCII as \xhh; NULL is "-".  Runs of bytes
 * that need nothing are copied at once. */
static int put_escaped(struct alog_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    static unsigned char plain[256];        /* bytes logged as they are */

    if (!plain['a'])
        for (int c = 0x20; c < 0x7f; c++)
            plain[c] = c != '"' && c != '\\';

    if (s == NULL)
        return put(b, "-", 1);
    while (*s != '\0') {
        const char *run = s;
        unsigned char c;
        char e[4] = { '\\', 0, 0, 0 };
        size_t n = 2;

        while (plain[(c = (unsigned char)*s)])
            s++;
        if (s > run && put(b, run, (size_t)(s - run)) < 0)
            return -1;
        if (c == '\0')
            break;
        switch (c) {
        case '"': case '\\': e[1] = (char)c; break;
        case '\t': e[1] = 't'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        default: e[1] = 'x'; e[2] = hex[c >> 4]; e[3] = hex[c & 15]; n = 4; break;
        }
        if (put(b, e, n) < 0)
            return -1;
        s++;
    }
    return 0;
}

/* A decimal number, without printf. */
static int put_u(struct alog_buf *b, unsigned long long v)
{
    char tmp[24], *p = tmp + sizeof(tmp);

    do
        *--p = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    return put(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* [10/Oct/2000:13:55:36 -0700], English whatever the locale, cached by second. */
static int put_clf_time(struct alog_buf *b, double start)
{
    static const char mon[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    static time_t cached = (time_t)-1;
    static char text[40];
    time_t t = (time_t)start;

    if (t != cached) {
        struct tm tm;
        int off;

        if (localtime_r(&t, &tm) == NULL)
            return put(b, "[-]", 3);
        off = (int)(tm.tm_gmtoff / 60) % (24 * 60);
        snprintf(text, sizeof(text), "[%02d/%s/%04d:%02d:%02d:%02d %c%02d%02d]",
                 tm.tm_mday % 100, mon[tm.tm_mon % 12], (tm.tm_year + 1900) % 10000,
                 tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100, off < 0 ? '-' : '+',
                 abs(off) / 60, abs(off) % 60);
        cached = t;
    }
    return put(b, text, strlen(text));
}

static int put_strftime(struct alog_buf *b, const char *fmt, double start)
{
    time_t t = (time_t)start;
    char text[256];
    struct tm tm;
    size_t n;

    if (localtime_r(&t, &tm) == NULL)
        return put(b, "-", 1);
    n = strftime(text, sizeof(text), fmt, &tm);
    text[n] = '\0';
    return put_escaped(b, n > 0 ? text : NULL);
}

static int put_request_line(struct alog_buf *b, const struct alog_record *r)
{
    if ((r->method == NULL || *r->method == '\0') && (r->target == NULL || *r->target == '\0'))
        return put(b, "-", 1);
    if (put_escaped(b, r->method) < 0 || put(b, " ", 1) < 0 || put_escaped(b, r->target) < 0)
        return -1;
    if (r->http_minor == 0)
        return 0;
    return put(b, r->http_minor == 10 ? " HTTP/1.0" : " HTTP/1.1", 9);
}

static const char *header(const char *(*fn)(const void *, const char *),
                          const void *ctx, const char *name)
{
    return fn != NULL ? fn(ctx, name) : NULL;
}

static int render_item(const struct alog_item *it, const struct alog_record *r,
                       struct alog_buf *b)
{
    switch (it->kind) {
    case LIT:       return put(b, it->arg, it->len);
    case REMOTE:    return put_escaped(b, r->remote);
    case PEER:      return put_escaped(b, r->peer);
    case LOGNAME:   return put(b, "-", 1);
    case USER:      return put_escaped(b, r->user && *r->user ? r->user : NULL);
    case TIME:      return it->arg ? put_strftime(b, it->arg, r->start)
                                   : put_clf_time(b, r->start);
    case REQLINE:   return put_request_line(b, r);
    case STATUS:    return r->status > 0 ? put_u(b, (unsigned)r->status) : put(b, "-", 1);
    case BODY_CLF:  return r->body_bytes ? put_u(b, r->body_bytes) : put(b, "-", 1);
    case BODY:      return put_u(b, r->body_bytes);
    case BYTES_OUT: return put_u(b, r->bytes);
    case BYTES_IN:  return put_u(b, r->received);
    case USEC:      return put_u(b, (unsigned long long)(r->duration * 1e6));
    case MSEC:      return put_u(b, (unsigned long long)(r->duration * 1e3));
    case SEC:       return put_u(b, (unsigned long long)r->duration);
    case SEC_FRAC:  return putf(b, "%.6f", r->duration);
    case METHOD:    return put_escaped(b, r->method && *r->method ? r->method : NULL);
    case PATH:      return put_escaped(b, r->path && *r->path ? r->path : NULL);
    case QUERY:     return r->query && *r->query ? (put(b, "?", 1) < 0 ? -1
                                                    : put_escaped(b, r->query)) : 0;
    case PROTO:     return r->http_minor ? put(b, r->http_minor == 10 ? "HTTP/1.0" : "HTTP/1.1", 8)
                                         : put(b, "-", 1);
    case PID:       return put_u(b, (unsigned long long)r->pid);
    case REQ_HDR:   return put_escaped(b, header(r->req_header, r->ctx, it->arg));
    case RESP_HDR:  return put_escaped(b, header(r->resp_header, r->ctx, it->arg));
    case HOST:      return put_escaped(b, r->host && *r->host ? r->host : NULL);
    case CONN_STATUS: return put(b, r->complete ? "+" : "X", 1);
    }
    return -1;
}

int alog_render(const struct alog_format *f, const struct alog_record *r,
                struct alog_buf *out)
{
    size_t was = out->len;

    for (size_t i = 0; i < f->n; i++)
        if (render_item(&f->items[i], r, out) < 0)
            goto fail;
    if (put(out, "\n", 1) == 0)
        return 0;
fail:
    out->len = was;
    return -1;
}

void alog_buf_free(struct alog_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}
