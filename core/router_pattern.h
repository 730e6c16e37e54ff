/*
 * router_pattern.h -- the route pattern language between router_pattern.c,
 * which parses and checks a pattern, and router.c, which builds the tree of
 * it and matches requests against it (private to core/: callers use router.h).
 *
 * A pattern is "/" followed by segments separated by '/' outside braces;
 * a segment is literal text, or one whole capture: "{name}" (any non-empty
 * segment), "{name:int}" (an optional '-' and decimal digits that fit a
 * long long), "{name:regex}" (a POSIX extended regex that must match the
 * whole segment) or "{name:*}" (the rest of the path, in the last segment
 * only).
 */
#ifndef KILN_ROUTER_PATTERN_H
#define KILN_ROUTER_PATTERN_H

#include <regex.h>
#include <stddef.h>

#include "router.h"
#include "url.h"

/* What a capture accepts. */
struct router_cap {
    regex_t re;                 /* compiled "^(re)$" when has_re */
    int has_re;
    int is_int;                 /* "{name:int}": router_parse_int accepts it */
    int tail;                   /* "{name:*}": the rest of the path */
};

/* One segment of a pattern being registered; points into the pattern. */
struct router_seg {
    const char *text;
    size_t len;
    const char *name;           /* capture name, NULL for a literal */
    size_t namelen;
    struct router_cap cap;      /* its regex compiled and owned here */
};

struct router_pattern {
    struct router_seg segs[URL_MAX_SEGMENTS];
    int nsegs;
    int ncaps;
};

/*
 * Parses and validates a whole pattern into ps, which then points into pat.
 * 0, or -1 with the reason in err (naming the pattern).  Either way,
 * router_pattern_free(ps) frees what it compiled.
 */
int router_pattern_parse(const char *pat, struct router_pattern *ps,
                         char *err, size_t errlen);

/* A copy of the (valid) pattern pat without its capture names, "/a/{x:int}"
 * -> "/a/{:int}", to compare patterns that take the same paths; malloc'd,
 * NULL on OOM. */
char *router_pattern_shape(const char *pat);

/* Frees the regexes still owned by ps's segments. */
void router_pattern_free(struct router_pattern *ps);

/* Frees c's regex, if any. */
void router_cap_free(struct router_cap *c);

/* 1 when a capture c (not a tail) accepts the decoded segment seg. */
static inline int router_cap_accepts(const struct router_cap *c, const char *seg)
{
    long long v;

    if (c->is_int)
        return router_parse_int(seg, &v) == 0;
    if (c->has_re)
        return regexec(&c->re, seg, 0, NULL, 0) == 0;
    return seg[0] != '\0';
}

/* Writes a printf-style message to err (NUL-terminated, truncated to
 * errlen); nothing when err is NULL or errlen 0. */
void router_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
