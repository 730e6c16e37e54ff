/*
 * router_pattern.c -- the route pattern language: a pattern such as
 * "/users/{id:[0-9]+}", "/notes/{id:int}" or "/files/{path:*}" cut into segments, checked, its
 * regexes compiled, and the messages that say what is wrong with it.
 */
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "router_pattern.h"

void router_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int router_parse_int(const char *s, long long *out)
{
    int neg = *s == '-';
    unsigned long long v = 0, lim = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
    const char *p = s + neg;

    if (*p == '\0')
        return -1;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        if (v > (lim - (unsigned long long)(*p - '0')) / 10)
            return -1;
        v = v * 10 + (unsigned long long)(*p - '0');
    }
    if (neg)
        *out = v == lim ? LLONG_MIN : -(long long)v;
    else
        *out = (long long)v;
    return 0;
}

char *router_pattern_shape(const char *pat)
{
    char *out = malloc(strlen(pat) + 1), *o = out;
    int depth = 0;

    if (out == NULL)
        return NULL;
    for (const char *p = pat; *p != '\0'; p++) {
        *o++ = *p;
        if (*p == '}')
            depth--;
        if (*p != '{' || depth++ > 0)
            continue;
        while (p[1] != '\0' && p[1] != ':' && p[1] != '}')
            p++;
    }
    *o = '\0';
    return out;
}

void router_cap_free(struct router_cap *c)
{
    if (c->has_re)
        regfree(&c->re);
}

void router_pattern_free(struct router_pattern *ps)
{
    int i;

    for (i = 0; i < ps->nsegs; i++)
        router_cap_free(&ps->segs[i].cap);
}

/* Cuts the pattern at the '/' outside braces.  0, or -1 with err set. */
static int split_pattern(const char *pat, struct router_pattern *ps,
                         char *err, size_t errlen)
{
    const char *s = pat + 1, *p;
    int depth = 0;

    if (*s == '\0')
        return 0;
    for (p = s;; p++) {
        if (*p == '{') {
            depth++;
        } else if (*p == '}') {
            if (--depth < 0)
                goto unbalanced;
        } else if (*p == '\0' || (*p == '/' && depth == 0)) {
            if (depth != 0)
                goto unbalanced;
            if (ps->nsegs == URL_MAX_SEGMENTS) {
                router_err(err, errlen, "pattern '%s': more than %d segments",
                        pat, URL_MAX_SEGMENTS);
                return -1;
            }
            ps->segs[ps->nsegs++] =
                (struct router_seg){.text = s, .len = (size_t)(p - s)};
            if (*p == '\0')
                return 0;
            s = p + 1;
        }
    }
unbalanced:
    router_err(err, errlen, "pattern '%s': unbalanced braces", pat);
    return -1;
}

/* 1 when the segment is one capture "{...}", 0 when it has no braces. */
static int whole_capture(const struct router_seg *sg)
{
    size_t i;
    int depth = 0;

    if (memchr(sg->text, '{', sg->len) == NULL &&
        memchr(sg->text, '}', sg->len) == NULL)
        return 0;
    if (sg->text[0] != '{')
        return -1;
    for (i = 0; i < sg->len; i++) {
        depth += sg->text[i] == '{';
        depth -= sg->text[i] == '}';
        if (depth == 0)
            return i == sg->len - 1 ? 1 : -1;
    }
    return -1;
}

static int valid_name(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (i = 0; i < n; i++)
        if (s[i] != '_' && !(s[i] >= 'a' && s[i] <= 'z') &&
            !(s[i] >= 'A' && s[i] <= 'Z') && !(s[i] >= '0' && s[i] <= '9'))
            return 0;
    return 1;
}

/* Compiles re[0..n) anchored to the whole segment.  0, or -1 with err set. */
static int compile_re(const char *pat, struct router_seg *sg, const char *re,
                      size_t n, char *err, size_t errlen)
{
    char *src, msg[128];
    int rc;

    src = malloc(n + 5);
    if (src == NULL) {
        router_err(err, errlen, "pattern '%s': out of memory", pat);
        return -1;
    }
    snprintf(src, n + 5, "^(%.*s)$", (int)n, re);
    rc = regcomp(&sg->cap.re, src, REG_EXTENDED | REG_NOSUB);
    free(src);
    if (rc != 0) {
        regerror(rc, &sg->cap.re, msg, sizeof msg);
        router_err(err, errlen, "pattern '%s': bad regex '%.*s': %s", pat,
                (int)n, re, msg);
        return -1;
    }
    sg->cap.has_re = 1;
    return 0;
}

/* Fills name and regex of a "{name}" / "{name:re}" segment. */
static int parse_capture(const char *pat, struct router_seg *sg, char *err,
                         size_t errlen)
{
    const char *in = sg->text + 1, *colon;
    size_t inlen = sg->len - 2;

    colon = memchr(in, ':', inlen);
    sg->name = in;
    sg->namelen = colon ? (size_t)(colon - in) : inlen;
    if (sg->namelen == 0) {
        router_err(err, errlen, "pattern '%s': empty capture name", pat);
        return -1;
    }
    if (!valid_name(sg->name, sg->namelen)) {
        router_err(err, errlen, "pattern '%s': bad capture name '%.*s' "
                "(want [A-Za-z_][A-Za-z0-9_]*)", pat, (int)sg->namelen,
                sg->name);
        return -1;
    }
    if (colon == NULL)
        return 0;
    if (inlen - sg->namelen == 2 && colon[1] == '*') {
        sg->cap.tail = 1;
        return 0;
    }
    if (inlen - sg->namelen == 4 && memcmp(colon + 1, "int", 3) == 0) {
        sg->cap.is_int = 1;
        return 0;
    }
    if (inlen - sg->namelen == 1) {
        router_err(err, errlen, "pattern '%s': empty regex for '%.*s'", pat,
                (int)sg->namelen, sg->name);
        return -1;
    }
    return compile_re(pat, sg, colon + 1, inlen - sg->namelen - 1, err,
                      errlen);
}

/* Classifies one segment and checks capture count and names. */
static int parse_segment(const char *pat, struct router_pattern *ps, int i,
                         char *err, size_t errlen)
{
    struct router_seg *sg = &ps->segs[i];
    int kind = whole_capture(sg), j;

    if (kind == 0)
        return 0;
    if (kind < 0) {
        router_err(err, errlen, "pattern '%s': segment '%.*s' mixes text and a "
                "capture; a capture must be a whole segment", pat,
                (int)sg->len, sg->text);
        return -1;
    }
    if (parse_capture(pat, sg, err, errlen) < 0)
        return -1;
    if (sg->cap.tail && i + 1 < ps->nsegs) {
        router_err(err, errlen, "pattern '%s': the tail capture {%.*s:*} must be "
                "the last segment", pat, (int)sg->namelen, sg->name);
        return -1;
    }
    if (++ps->ncaps > ROUTER_MAX_PARAMS) {
        router_err(err, errlen, "pattern '%s': more than %d captures", pat,
                ROUTER_MAX_PARAMS);
        return -1;
    }
    for (j = 0; j < i; j++)
        if (ps->segs[j].name && ps->segs[j].namelen == sg->namelen &&
            memcmp(ps->segs[j].name, sg->name, sg->namelen) == 0) {
            router_err(err, errlen, "pattern '%s': capture name '%.*s' used "
                    "twice", pat, (int)sg->namelen, sg->name);
            return -1;
        }
    return 0;
}

int router_pattern_parse(const char *pat, struct router_pattern *ps,
                         char *err, size_t errlen)
{
    int i;

    ps->nsegs = 0;
    ps->ncaps = 0;
    if (pat == NULL || pat[0] != '/') {
        router_err(err, errlen, "pattern '%s' must start with '/'",
                pat ? pat : "(null)");
        return -1;
    }
    if (split_pattern(pat, ps, err, errlen) < 0)
        return -1;
    for (i = 0; i < ps->nsegs; i++)
        if (parse_segment(pat, ps, i, err, errlen) < 0)
            return -1;
    return 0;
}
