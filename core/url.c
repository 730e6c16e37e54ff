/* url.c -- percent-decoding and path splitting. */
#include <string.h>

#include "pool.h"
#include "url.h"

int url_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

long url_decode(char *dst, const char *src, size_t len, int plus)
{
    size_t i, j = 0;
    int hi, lo;
    char c;

    for (i = 0; i < len; i++, j++) {
        c = src[i];
        if (c == '%') {
            if (len - i < 3)
                goto fail;
            hi = url_hexval((unsigned char)src[i + 1]);
            lo = url_hexval((unsigned char)src[i + 2]);
            if (hi < 0 || lo < 0 || (hi | lo) == 0)
                goto fail;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (plus && c == '+') {
            c = ' ';
        }
        dst[j] = c;
    }
    dst[j] = '\0';
    return (long)j;
fail:
    dst[j] = '\0';
    return -1;
}

/* Whether raw segment s[0..n) is "." or "..": 1 or 2, else 0. */
static int dot_segment(const char *s, size_t n)
{
    if (n == 1 && s[0] == '.')
        return 1;
    if (n == 2 && s[0] == '.' && s[1] == '.')
        return 2;
    return 0;
}

/* Whether a decoded segment reads "." or "..", or holds one between
 * encoded slashes ("..%2F..%2Fetc"): an encoded dot-segment. */
static int reads_as_dot(const char *seg)
{
    for (const char *p = seg;; ) {
        size_t n = strcspn(p, "/");

        if (dot_segment(p, n))
            return 1;
        if (p[n] == '\0')
            return 0;
        p += n + 1;
    }
}

/*
 * Decodes every segment of path[1..len) into `segbuf` (room for len bytes),
 * removing dot-segments as RFC 3986 5.2.4 does ("/a/./b" and "/a/x/../b"
 * are "/a/b"; one that ends the path leaves a trailing slash).  Returns the
 * number of segments, or -1: a bad escape, too many segments, ".." above
 * the root, or a segment that decodes to "." or ".." or holds one between
 * encoded slashes (no plugin is handed a traversal).
 */
static int split_segments(const char *path, size_t len, char **segs, char *segbuf)
{
    const char *p = path + 1, *end = path + len, *stop;
    size_t spos = 0;
    int n = 0, dot = 0;
    long k;

    for (;;) {
        const char *slash = memchr(p, '/', (size_t)(end - p));

        stop = slash ? slash : end;
        dot = dot_segment(p, (size_t)(stop - p));
        if (dot == 2 && n-- == 0)
            return -1;
        if (dot == 0) {
            if (n == URL_MAX_SEGMENTS)
                return -1;
            k = url_decode(segbuf + spos, p, (size_t)(stop - p), 0);
            if (k < 0 || (memchr(segbuf + spos, '.', (size_t)k) != NULL &&
                          reads_as_dot(segbuf + spos)))
                return -1;
            segs[n++] = segbuf + spos;
            spos += (size_t)k + 1;
        }
        if (slash == NULL)
            break;
        p = slash + 1;
    }
    if (dot != 0 && n > 0) {            /* "/a/b/.." is "/a/": a trailing slash */
        if (n == URL_MAX_SEGMENTS)
            return -1;
        segbuf[spos] = '\0';
        segs[n++] = segbuf + spos;
    }
    return n;
}

/*
 * The segments of a path with no escape and no dot-segment (most paths:
 * "/users/42"): its own bytes after the leading '/', each '/' made a NUL,
 * in one pass.  The count as split_segments() gives it, or -2 when the path
 * needs split_segments() (an escape, a dot-segment).
 */
static int split_plain(const char *path, size_t len, char **segs, char *segbuf)
{
    size_t start = 0;
    int n = 0;

    for (size_t i = 1; i <= len; i++) {
        char ch = i < len ? path[i] : '/';

        if (ch == '%')
            return -2;
        if (ch != '/') {
            segbuf[i - 1] = ch;
            continue;
        }
        if (dot_segment(segbuf + start, i - 1 - start))
            return -2;
        if (n == URL_MAX_SEGMENTS)
            return -1;
        segbuf[i - 1] = '\0';
        segs[n++] = segbuf + start;
        start = i;
    }
    return n;
}

/* The decoded path "/" + the segments joined by '/', into dec. */
static void join_segments(char **segs, int n, char *dec)
{
    size_t dpos = 1;

    dec[0] = '/';
    for (int i = 0; i < n; i++) {
        size_t l = strlen(segs[i]);

        memcpy(dec + dpos, segs[i], l);
        dpos += l;
        if (i + 1 < n)
            dec[dpos++] = '/';
    }
    dec[dpos] = '\0';
}

int url_split_path(struct pool *pool, const char *path, size_t len,
                   char **segs, char **decoded)
{
    char *dec, *segbuf;
    int n;

    if (len == 0 || path[0] != '/')
        return -1;
    dec = pool_alloc(pool, len + 1);
    if (dec == NULL)
        return -1;
    dec[0] = '/';
    dec[1] = '\0';
    n = 0;
    if (len > 1) {
        segbuf = pool_alloc(pool, len + 1);
        if (segbuf == NULL)
            return -1;
        n = split_plain(path, len, segs, segbuf);
        if (n >= 0) {                   /* decoded, it reads as it came */
            memcpy(dec, path, len);
            dec[len] = '\0';
        } else if (n == -2 && (n = split_segments(path, len, segs, segbuf)) >= 0) {
            join_segments(segs, n, dec);
        }
        if (n < 0)
            return -1;
    }
    if (decoded != NULL)
        *decoded = dec;
    return n;
}

char *url_normalize(struct pool *pool, const char *path, size_t len, int merge,
                    enum url_slash slash)
{
    char *out = pool_alloc(pool, len + 2);
    size_t n = 0;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++)
        if (!(merge && path[i] == '/' && n > 0 && out[n - 1] == '/'))
            out[n++] = path[i];
    if (slash == URL_SLASH_APPEND && (n == 0 || out[n - 1] != '/'))
        out[n++] = '/';
    else if (slash == URL_SLASH_REMOVE && n > 1 && out[n - 1] == '/')
        n--;
    out[n] = '\0';
    return n == len && memcmp(out, path, len) == 0 ? NULL : out;
}
