/*
 * multipart.c -- a streaming multipart/form-data parser: delimiters found
 * across feeds of any size, part header blocks parsed, data handed on as it
 * arrives (the rules and the errors are listed in multipart.h).
 */
#include <string.h>
#include <strings.h>

#include "multipart.h"
#include "url.h"

enum {
    ST_PREAMBLE,        /* before the first delimiter: skipped */
    ST_AFTER_DELIM,     /* just read "--boundary" */
    ST_DELIM_LWS,       /* padding after it */
    ST_DELIM_LF,        /* its CR read */
    ST_CLOSE_DASH,      /* one '-' of "--" read */
    ST_HEADERS,         /* a part's header block */
    ST_BODY,            /* a part's data */
    ST_EPILOGUE,        /* after the close delimiter: skipped */
    ST_ERROR
};

/* What a Content-Disposition gives, decoded into `out` (NUL-terminated). */
struct disposition {
    char *out;
    size_t olen, ocap;
    const char *name, *filename, *filename_star;
};

static int fail(struct multipart *m, const char *why)
{
    m->error = why;
    m->state = ST_ERROR;
    return -1;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static const char *skip_ows(const char *s, const char *end)
{
    while (s < end && is_ows(*s))
        s++;
    return s;
}

/* RFC 2046 bcharsnospace and space. */
static int is_bchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c != '\0' && strchr("'()+_,-./:=? ", c) != NULL);
}

/* RFC 9110 tchar. */
static int is_tchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* ---- parameters: name=token / name="quoted" -------------------------------- */

/*
 * Reads one parameter value at *sp (a token or a quoted-string, "\x" for
 * x) into out[*olen..], NUL-terminated; *sp moves past it.  The value's
 * start in out, or NULL when it is malformed or does not fit.
 */
static const char *param_value(const char **sp, const char *end, char *out,
                               size_t *olen, size_t ocap)
{
    const char *s = *sp;
    char *start = out + *olen, *w = start, *wend = out + ocap - 1;

    if (s < end && *s == '"') {
        for (s++; s < end && *s != '"'; s++) {
            if (*s == '\\' && ++s == end)
                return NULL;
            if (w == wend || *s == '\0')
                return NULL;
            *w++ = *s;
        }
        if (s == end)
            return NULL;        /* no closing quote */
        s++;
    } else {
        for (; s < end && is_tchar(*s); s++) {
            if (w == wend)
                return NULL;
            *w++ = *s;
        }
    }
    *w++ = '\0';
    *olen = (size_t)(w - out);
    *sp = s;
    return start;
}

/* The token at *sp (at least one tchar): its length, *sp past it. */
static size_t token(const char **sp, const char *end)
{
    const char *start = *sp, *s = start;

    while (s < end && is_tchar(*s))
        s++;
    *sp = s;
    return (size_t)(s - start);
}

/*
 * Walks "; a=1; b=\"two\"" (s[0..end)), calling `take` for each parameter
 * with its name (not terminated: nlen bytes) and decoded value.  0, or -1
 * when the list is malformed or `take` refuses.
 */
static int params(const char *s, const char *end, struct disposition *d,
                  int (*take)(struct disposition *, const char *, size_t, const char *))
{
    for (;;) {
        const char *name, *value;
        size_t nlen;

        s = skip_ows(s, end);
        if (s == end)
            return 0;
        if (*s++ != ';')
            return -1;
        s = skip_ows(s, end);
        if (s == end)
            return 0;               /* a trailing ';' */
        name = s;
        nlen = token(&s, end);
        if (nlen == 0)
            return -1;
        s = skip_ows(s, end);
        if (s == end || *s++ != '=')
            return -1;
        s = skip_ows(s, end);
        value = param_value(&s, end, d->out, &d->olen, d->ocap);
        if (value == NULL || take(d, name, nlen, value) != 0)
            return -1;
    }
}

static int param_is(const char *name, size_t nlen, const char *want)
{
    return nlen == strlen(want) && strncasecmp(name, want, nlen) == 0;
}

/*
 * RFC 5987 ext-value "UTF-8'lang'%E2%82%AC.txt", decoded in place (the
 * result is never longer).  The file name, "" to ignore it (another
 * charset), or NULL when it is malformed (no quotes, a bad escape, %00).
 */
static const char *ext_value(char *v)
{
    char *q1 = strchr(v, '\''), *q2, *r, *w;

    if (q1 == NULL || (q2 = strchr(q1 + 1, '\'')) == NULL)
        return NULL;
    if (q1 - v != 5 || strncasecmp(v, "UTF-8", 5) != 0)
        return "";
    for (r = q2 + 1, w = v; *r != '\0'; r++) {
        if (*r == '%') {
            int hi = url_hexval((unsigned char)r[1]);
            int lo = hi < 0 ? -1 : url_hexval((unsigned char)r[2]);

            if (lo < 0 || (hi == 0 && lo == 0))
                return NULL;
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return v;
}

/* Keeps the first name=, filename= and filename*= of a disposition. */
static int take_param(struct disposition *d, const char *name, size_t nlen,
                      const char *value)
{
    if (param_is(name, nlen, "name") && d->name == NULL)
        d->name = value;
    else if (param_is(name, nlen, "filename") && d->filename == NULL)
        d->filename = value;
    else if (param_is(name, nlen, "filename*") && d->filename_star == NULL) {
        d->filename_star = ext_value((char *)value);
        if (d->filename_star == NULL)
            return -1;
    }
    return 0;
}

/* Content-Disposition's value v[0..end): "form-data" and its parameters. */
static const char *disposition(const char *v, const char *end, struct disposition *d)
{
    const char *s = v;

    if (token(&s, end) != 9 || strncasecmp(v, "form-data", 9) != 0)
        return "part disposition is not form-data";
    if (params(s, end, d, take_param) != 0)
        return "malformed Content-Disposition";
    if (d->name == NULL)
        return "part without a name";
    if (d->filename_star != NULL && d->filename_star[0] != '\0')
        d->filename = d->filename_star;
    return NULL;
}

/* ---- a part's header block ---------------------------------------------- */

/*
 * One header line l[0..end) (no CRLF): Content-Disposition into d,
 * Content-Type's trimmed value into *ctype (copied into d->out); others
 * ignored.  NULL, or why the line is refused.
 */
static const char *header_line(const char *l, const char *end, struct disposition *d,
                               const char **ctype)
{
    const char *colon = memchr(l, ':', (size_t)(end - l)), *v, *ve;
    size_t nlen;

    if (is_ows(*l))
        return "folded part header line";
    if (colon == NULL || colon == l)
        return "malformed part header line";
    nlen = (size_t)(colon - l);
    v = skip_ows(colon + 1, end);
    for (ve = end; ve > v && is_ows(ve[-1]); ve--)
        ;
    if (param_is(l, nlen, "Content-Disposition")) {
        if (d->name != NULL)
            return "two Content-Disposition fields in a part";
        return disposition(v, ve, d);
    }
    if (param_is(l, nlen, "Content-Type") && *ctype == NULL
        && (size_t)(ve - v) < d->ocap - d->olen) {
        memcpy(d->out + d->olen, v, (size_t)(ve - v));
        *ctype = d->out + d->olen;
        d->olen += (size_t)(ve - v);
        d->out[d->olen++] = '\0';
    }
    return NULL;
}

/* The header block is complete (hdr ends with the empty line): the part
 * begins. */
static int headers_done(struct multipart *m)
{
    char out[MP_HEADER_MAX + 1];
    struct disposition d = { out, 0, sizeof(out), NULL, NULL, NULL };
    const char *l = m->hdr, *end = m->hdr + m->hlen - 2, *ctype = NULL, *why = NULL;
    struct mp_part part;

    if (++m->nparts > MP_PARTS_MAX)
        return fail(m, "more than 1000 parts");
    while (l < end && why == NULL) {
        const char *eol = memchr(l, '\r', (size_t)(end - l));

        why = header_line(l, eol, &d, &ctype);
        l = eol + 2;
    }
    if (why == NULL && d.name == NULL)
        why = "part without Content-Disposition";
    if (why != NULL)
        return fail(m, why);
    part.name = d.name;
    part.filename = d.filename;
    part.content_type = ctype ? ctype : "text/plain";
    m->state = ST_BODY;
    m->match = 0;
    if (m->cb->part_begin && m->cb->part_begin(m->ud, &part) != 0)
        return fail(m, "stopped by the caller");
    return 0;
}

/* One byte of a header block. */
static int header_byte(struct multipart *m, char c)
{
    size_t n;

    if (m->hlen == MP_HEADER_MAX)
        return fail(m, "part header block too long");
    if (c == '\0')
        return fail(m, "NUL in part headers");
    m->hdr[m->hlen++] = c;
    n = m->hlen;
    if (c == '\n') {
        if (n < 2 || m->hdr[n - 2] != '\r')
            return fail(m, "bare LF in part headers");
        if (n == 2 || (n >= 4 && m->hdr[n - 3] == '\n'))
            return headers_done(m);
    } else if (n >= 2 && m->hdr[n - 2] == '\r') {
        return fail(m, "bare CR in part headers");
    }
    return 0;
}

/* ---- delimiters --------------------------------------------------------- */

static int emit(struct multipart *m, const char *p, size_t n)
{
    if (n == 0 || m->cb->part_data == NULL)
        return 0;
    if (m->cb->part_data(m->ud, p, n) != 0)
        return fail(m, "stopped by the caller");
    return 0;
}

/*
 * Looks for the delimiter in p[0..n), the bytes before it being part data
 * when `data` is set (skipped otherwise).  Only delim[0] is a CR, and the
 * boundary has none, so after a mismatch a match can only restart at a CR:
 * the bytes held back are always delim[0..match), and those held from an
 * earlier feed are handed on from delim itself.  Returns the bytes
 * consumed: through the delimiter when found (*found set), else n; or -1
 * when a callback stopped the parse.
 */
static long scan(struct multipart *m, const char *p, size_t n, int data, int *found)
{
    size_t prev = m->match, i = 0, end;

    *found = 0;
    while (i < n) {
        if (m->match == 0) {
            const char *cr = memchr(p + i, '\r', n - i);

            if (cr == NULL) {
                i = n;
                break;
            }
            i = (size_t)(cr - p);
        }
        if (p[i] == m->delim[m->match]) {
            i++;
            if (++m->match == m->dlen) {
                *found = 1;
                break;
            }
            continue;
        }
        if (prev > 0 && data && emit(m, m->delim, prev) != 0)
            return -1;
        prev = 0;
        m->match = p[i] == '\r';
        i++;
    }
    end = i - (m->match - prev);        /* the held bytes are not data yet */
    if (data && emit(m, p, end) != 0)
        return -1;
    if (*found)
        m->match = 0;
    return (long)i;
}

/* One byte of the delimiter line after the boundary. */
static int delim_byte(struct multipart *m, char c)
{
    switch (m->state) {
    case ST_AFTER_DELIM:
        if (c == '-') {
            m->state = ST_CLOSE_DASH;
            return 0;
        }
        /* fall through */
    case ST_DELIM_LWS:
        if (is_ows(c))
            m->state = ST_DELIM_LWS;
        else if (c == '\r')
            m->state = ST_DELIM_LF;
        else
            return fail(m, "malformed delimiter line");
        return 0;
    case ST_DELIM_LF:
        if (c != '\n')
            return fail(m, "malformed delimiter line");
        m->state = ST_HEADERS;
        m->hlen = 0;
        return 0;
    default:    /* ST_CLOSE_DASH */
        if (c != '-')
            return fail(m, "malformed close delimiter");
        m->state = ST_EPILOGUE;
        return 0;
    }
}

/* ---- the interface ------------------------------------------------------ */

/* Keeps the first boundary= of a Content-Type (in d->name). */
static int take_boundary(struct disposition *d, const char *name, size_t nlen,
                         const char *value)
{
    if (param_is(name, nlen, "boundary") && d->name == NULL)
        d->name = value;
    return 0;
}

const char *multipart_boundary(const char *ct, char out[MP_BOUNDARY_MAX + 1])
{
    char buf[MP_HEADER_MAX + 1];
    struct disposition d = { buf, 0, sizeof(buf), NULL, NULL, NULL };
    const char *s = ct ? strchr(ct, ';') : NULL, *b;
    size_t len;

    if (s == NULL)
        return "no boundary in Content-Type";
    if (strlen(s) > MP_HEADER_MAX)
        return "Content-Type too long";
    if (params(s, s + strlen(s), &d, take_boundary) != 0)
        return "malformed Content-Type parameters";
    b = d.name;
    if (b == NULL)
        return "no boundary in Content-Type";
    len = strlen(b);
    if (len == 0)
        return "empty boundary";
    if (len > MP_BOUNDARY_MAX)
        return "boundary longer than 70 characters";
    for (size_t i = 0; i < len; i++)
        if (!is_bchar(b[i]))
            return "invalid character in boundary";
    if (b[len - 1] == ' ')
        return "boundary ends with a space";
    memcpy(out, b, len + 1);
    return NULL;
}

void multipart_init(struct multipart *m, const char *boundary,
                    const struct mp_callbacks *cb, void *ud)
{
    size_t blen = strnlen(boundary, MP_BOUNDARY_MAX);

    m->cb = cb;
    m->ud = ud;
    m->error = NULL;
    memcpy(m->delim, "\r\n--", 4);
    memcpy(m->delim + 4, boundary, blen);
    m->delim[4 + blen] = '\0';
    m->dlen = 4 + blen;
    m->match = 2;           /* the first delimiter may open the body */
    m->state = ST_PREAMBLE;
    m->nparts = 0;
    m->hlen = 0;
}

/* Scans for the next delimiter from the preamble or a part's body. */
static long feed_scan(struct multipart *m, const char *p, size_t n)
{
    int found, body = m->state == ST_BODY;
    long used = scan(m, p, n, body, &found);

    if (used < 0 || !found)
        return used;
    if (body && m->cb->part_end && m->cb->part_end(m->ud) != 0)
        return fail(m, "stopped by the caller");
    m->state = ST_AFTER_DELIM;
    return used;
}

int multipart_feed(struct multipart *m, const char *data, size_t len)
{
    size_t i = 0;

    while (i < len) {
        long used = 1;

        switch (m->state) {
        case ST_ERROR:
            return -1;
        case ST_EPILOGUE:
            return 0;
        case ST_PREAMBLE:
        case ST_BODY:
            used = feed_scan(m, data + i, len - i);
            break;
        case ST_HEADERS:
            used = header_byte(m, data[i]) == 0 ? 1 : -1;
            break;
        default:
            used = delim_byte(m, data[i]) == 0 ? 1 : -1;
        }
        if (used < 0)
            return -1;
        i += (size_t)used;
    }
    return m->state == ST_ERROR ? -1 : 0;
}

int multipart_finish(struct multipart *m)
{
    if (m->state == ST_EPILOGUE)
        return 0;
    if (m->state != ST_ERROR)
        fail(m, m->state == ST_PREAMBLE ? "no delimiter in the body"
                                        : "no close delimiter");
    return -1;
}

const char *multipart_error(const struct multipart *m)
{
    return m->error;
}
