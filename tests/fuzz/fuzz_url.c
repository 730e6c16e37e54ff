/*
 * fuzz_url.c -- libFuzzer harness of the request target's pieces, called
 * directly: core/url.c (percent-decoding, path segments with dot-segments
 * removed), worker/params.c on the query (its pairs) and worker/http_rules.c
 * (the target's forms, the Host value, the method token).
 *
 * Input: byte 0 bit 0 makes url_decode() turn '+' into a space; the rest is
 * a request target (up to its first NUL, as kiln only sees strings).  The
 * segments must match RFC 3986 5.2.4's dot-segment removal done here by the
 * letter, decoded, and the decoded path must be them joined by '/'.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_rules.h"
#include "params.h"
#include "pool.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void defect(const char *what, const char *input)
{
    fprintf(stderr, "fuzz_url: %s (target \"%s\")\n", what, input);
    abort();
}

/*
 * RFC 3986 5.2.4 on path[1..len) taken as raw segments: the segments that
 * stay, as offsets and lengths into path.  -1 when a ".." climbs above the
 * root (kiln refuses those), -2 when more than `max` segments would be kept
 * at some point.
 */
static int remove_dots(const char *path, size_t len, size_t *off, size_t *sl, int max)
{
    size_t i = 1;
    int n = 0, last_dot = 0;

    for (;;) {
        const char *s = path + i, *slash = memchr(s, '/', len - i);
        size_t l = slash ? (size_t)(slash - s) : len - i;

        last_dot = (l == 1 && s[0] == '.') || (l == 2 && s[0] == '.' && s[1] == '.');
        if (l == 2 && s[0] == '.' && s[1] == '.') {
            if (n == 0)
                return -1;
            n--;
        } else if (!last_dot) {
            if (n == max)
                return -2;
            off[n] = i;
            sl[n++] = l;
        }
        if (slash == NULL)
            break;
        i += l + 1;
    }
    if (last_dot && n > 0) {            /* "/a/b/.." is "/a/" */
        if (n == max)
            return -2;
        off[n] = len;
        sl[n++] = 0;
    }
    return n;
}

/* url_split_path() against remove_dots(), on the path of a split target. */
static void check_path(struct pool *pool, const char *path, size_t plen, const char *input)
{
    char *segs[URL_MAX_SEGMENTS], *dec = NULL, *want;
    size_t off[URL_MAX_SEGMENTS], sl[URL_MAX_SEGMENTS], at = 1;
    int n = url_split_path(pool, path, plen, segs, &dec);
    int ref = plen > 1 ? remove_dots(path, plen, off, sl, URL_MAX_SEGMENTS) : 0;

    if (ref == -1 && n >= 0)
        defect("a \"..\" above the root was accepted", input);
    if (n < 0)
        return;
    if (n > URL_MAX_SEGMENTS || dec == NULL || dec[0] != '/')
        defect("bad segment count or decoded path", input);
    if (ref != n)
        defect("not the segments RFC 3986 5.2.4 leaves", input);
    for (int i = 0; i < n; i++) {
        want = pool_alloc(pool, sl[i] + 1);
        if (want == NULL || url_decode(want, path + off[i], sl[i], 0) < 0 ||
            strcmp(want, segs[i]) != 0)
            defect("a segment is not the decoded segment RFC 3986 5.2.4 leaves", input);
        if (strcmp(segs[i], ".") == 0 || strcmp(segs[i], "..") == 0)
            defect("a dot-segment was handed on", input);
        if (strncmp(dec + at, segs[i], strlen(segs[i])) != 0)
            defect("the decoded path is not the segments joined", input);
        at += strlen(segs[i]);
        if (i + 1 < n && dec[at++] != '/')
            defect("the decoded path is not the segments joined", input);
    }
    if (dec[at] != '\0')
        defect("the decoded path is longer than its segments", input);
}

static void check_query(struct pool *pool, const char *q, const char *input)
{
    struct kv_list l = {0};
    size_t pairs = 1;

    for (const char *p = q; *p; p++)
        pairs += *p == '&';
    if (params_parse_urlencoded(pool, &l, q, strlen(q)) != 0 || l.n > pairs)
        defect("more query parameters than pairs", input);
    for (size_t i = 0; i < l.n; i++)
        if (strlen(l.items[i].name) > strlen(q) || strlen(l.items[i].value) > strlen(q))
            defect("a query parameter longer than the query", input);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_target t;
    struct pool pool;
    char *target, *dst;
    size_t len;
    long k;

    if (size < 1)
        return 0;
    len = size - 1;
    /* the raw bytes, NULs included, through the decoder */
    dst = malloc(len + 1);
    if (dst == NULL)
        return 0;
    k = url_decode(dst, (const char *)data + 1, len, data[0] & 1);
    if (k > (long)len || (k >= 0 && dst[k] != '\0'))
        defect("url_decode() overran or left no NUL", "");
    if (k >= 0 && memchr(data + 1, '\0', len) == NULL && strlen(dst) != (size_t)k)
        defect("url_decode() decoded a NUL", "");
    free(dst);

    target = strndup((const char *)data + 1, len);
    if (target == NULL)
        return 0;
    len = strlen(target);
    http_host_ok(target);
    http_method_token(target, target + len);
    pool_init(&pool, 4096);
    if (http_split_target(&pool, target, &t) == 0) {
        if (t.path == NULL || t.path[0] != '/' || t.plen > strlen(t.path) ||
            strchr(t.path, '#') != NULL || t.query == NULL)
            defect("a split target without a path from '/'", target);
        if (t.authority != NULL && (t.alen == 0 || memchr(t.authority, '@', t.alen)))
            defect("an empty authority, or userinfo, accepted", target);
        check_path(&pool, t.path, t.plen, target);
        check_query(&pool, t.query, target);
    }
    pool_free(&pool);
    free(target);
    return 0;
}
