/*
 * router_url.h -- building a URL path from a route pattern and values for
 * its captures (kiln_url_for's pure part, unit-tested).
 */
#ifndef KILN_ROUTER_URL_H
#define KILN_ROUTER_URL_H

#include <stddef.h>

struct pool;

/*
 * The path of `pattern` (a pattern the router took) with each capture
 * replaced by its value from kv, nkv pairs (kv[2i] a capture name,
 * kv[2i+1] its value), allocated from pool.  Literal segments and values
 * are percent-encoded as an RFC 3986 path segment needs (unreserved,
 * sub-delims, ':' and '@' stay); a {name:*} value keeps its '/'.  NULL
 * with the reason in err: a capture without a value, a name the pattern
 * does not capture or given twice, a NULL value, an empty value for a
 * one-segment capture, a value (or a piece of a tail) that is "." or
 * "..", a {name:int} value that is not an integer; or out of memory.  A
 * {name:regex} value is not checked against its regex.
 */
char *router_url_build(struct pool *pool, const char *pattern, const char *const *kv,
                       size_t nkv, char *err, size_t errlen);

/* 1 when byte c stays as it is in a path segment (RFC 3986 pchar but '%'). */
int router_url_pchar(int c);

#endif
