/*
 * router_url.c -- URL paths built from a route pattern and the values of its
 * captures, each percent-encoded as a path segment needs.
 */
#include <stdio.h>
#include <string.h>

#include "pool.h"
#include "router.h"
#include "router_pattern.h"
#include "router_url.h"

/* One capture of a pattern: its name and kind, pointing into the pattern. */
struct cap_ref {
    const char *name;
    size_t namelen;
    const char *kind;           /* after ':' up to the closing brace, or NULL */
    size_t kindlen;
};

int router_url_pchar(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-._~!$&'()*+,;=:@", c) != NULL);
}

/* Appends s[0..n) to out (room checked by the caller), percent-encoded;
 * '/' kept when keep_slash.  The new length. */
static size_t encode(char *out, size_t off, const char *s, size_t n, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (router_url_pchar(c) || (keep_slash && c == '/')) {
            out[off++] = (char)c;
        } else {
            out[off++] = '%';
            out[off++] = hex[c >> 4];
            out[off++] = hex[c & 15];
        }
    }
    return off;
}

/* The capture of segment s[0..n) ("{name}", "{name:kind}"), or 0 for a literal. */
static int cap_of(const char *s, size_t n, struct cap_ref *c)
{
    const char *colon;

    if (n < 2 || s[0] != '{')
        return 0;
    c->name = s + 1;
    colon = memchr(s + 1, ':', n - 2);
    c->namelen = colon ? (size_t)(colon - c->name) : n - 2;
    c->kind = colon ? colon + 1 : NULL;
    c->kindlen = colon ? (size_t)(s + n - 1 - c->kind) : 0;
    return 1;
}

/* The index of capture c's value in kv, or -1. */
static long find_value(const struct cap_ref *c, const char *const *kv, size_t nkv)
{
    for (size_t i = 0; i < nkv; i++)
        if (kv[2 * i] != NULL && strlen(kv[2 * i]) == c->namelen &&
            memcmp(kv[2 * i], c->name, c->namelen) == 0)
            return (long)i;
    return -1;
}

static int is_dot(const char *s, size_t n)
{
    return (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.');
}

/* Whether a tail value has a piece "." or "..". */
static int tail_has_dot(const char *v)
{
    const char *p = v, *e;

    for (;; p = e + 1) {
        e = strchr(p, '/');
        if (is_dot(p, e ? (size_t)(e - p) : strlen(p)))
            return 1;
        if (e == NULL)
            return 0;
    }
}

/* Checks value v for capture c.  0, or -1 with err set. */
static int check_value(const char *pattern, const struct cap_ref *c, const char *v,
                       char *err, size_t errlen)
{
    int tail = c->kindlen == 1 && c->kind[0] == '*';
    long long n;

    if (v == NULL)
        router_err(err, errlen, "%s: {%.*s} has a NULL value", pattern,
                   (int)c->namelen, c->name);
    else if (!tail && v[0] == '\0')
        router_err(err, errlen, "%s: {%.*s} has an empty value", pattern,
                   (int)c->namelen, c->name);
    else if (tail ? tail_has_dot(v) : is_dot(v, strlen(v)))
        router_err(err, errlen, "%s: {%.*s} is '%s', a dot-segment", pattern,
                   (int)c->namelen, c->name, v);
    else if (c->kindlen == 3 && memcmp(c->kind, "int", 3) == 0 &&
             router_parse_int(v, &n) < 0)
        router_err(err, errlen, "%s: {%.*s:int} is '%s', not an integer", pattern,
                   (int)c->namelen, c->name, v);
    else
        return 0;
    return -1;
}

/* Checks that every pair names a capture of pattern, once.  0, or -1. */
static int check_names(const char *pattern, const char *const *kv, size_t nkv,
                       const unsigned char *used, char *err, size_t errlen)
{
    for (size_t i = 0; i < nkv; i++) {
        for (size_t j = 0; j < i; j++)
            if (kv[2 * i] && kv[2 * j] && strcmp(kv[2 * i], kv[2 * j]) == 0) {
                router_err(err, errlen, "%s: parameter '%s' given twice", pattern,
                           kv[2 * i]);
                return -1;
            }
        if (!used[i]) {
            router_err(err, errlen, "%s: parameter '%s' names no capture", pattern,
                       kv[2 * i] ? kv[2 * i] : "(null)");
            return -1;
        }
    }
    return 0;
}

/* Room the encoded path needs at most: every byte tripled, plus the NUL. */
static size_t room(const char *pattern, const char *const *kv, size_t nkv)
{
    size_t n = strlen(pattern);

    for (size_t i = 0; i < nkv; i++)
        n += kv[2 * i + 1] ? strlen(kv[2 * i + 1]) : 0;
    return 3 * n + 1;
}

/* Writes segment s[0..n) of pattern (a literal, or a capture's value) into
 * out at off.  The new length, or -1 with err set. */
static long put_segment(char *out, size_t off, const char *pattern, const char *s,
                        size_t n, const char *const *kv, size_t nkv,
                        unsigned char *used, char *err, size_t errlen)
{
    struct cap_ref c;
    long i;

    if (!cap_of(s, n, &c))
        return (long)encode(out, off, s, n, 0);
    i = find_value(&c, kv, nkv);
    if (i < 0) {
        router_err(err, errlen, "%s: no value for {%.*s}", pattern, (int)c.namelen,
                   c.name);
        return -1;
    }
    used[i] = 1;
    if (check_value(pattern, &c, kv[2 * i + 1], err, errlen) < 0)
        return -1;
    return (long)encode(out, off, kv[2 * i + 1], strlen(kv[2 * i + 1]),
                        c.kindlen == 1 && c.kind[0] == '*');
}

char *router_url_build(struct pool *pool, const char *pattern, const char *const *kv,
                       size_t nkv, char *err, size_t errlen)
{
    unsigned char used[ROUTER_MAX_PARAMS + 1] = { 0 };
    const char *s = pattern + 1, *p;
    size_t off = 1;
    long k;
    int depth = 0;
    char *out;

    if (nkv > ROUTER_MAX_PARAMS) {
        router_err(err, errlen, "%s: more than %d parameters", pattern, ROUTER_MAX_PARAMS);
        return NULL;
    }
    out = pool_alloc(pool, room(pattern, kv, nkv));
    if (out == NULL) {
        router_err(err, errlen, "%s: out of memory", pattern);
        return NULL;
    }
    out[0] = '/';
    for (p = s; *s != '\0'; p++) {
        depth += (*p == '{') - (*p == '}');
        if (*p != '\0' && (*p != '/' || depth > 0))
            continue;
        k = put_segment(out, off, pattern, s, (size_t)(p - s), kv, nkv, used, err, errlen);
        if (k < 0)
            return NULL;
        off = (size_t)k;
        if (*p == '\0')
            break;
        out[off++] = '/';
        s = p + 1;
        if (*s == '\0')
            break;
    }
    out[off] = '\0';
    return check_names(pattern, kv, nkv, used, err, errlen) < 0 ? NULL : out;
}
