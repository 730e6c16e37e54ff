/*
 * url.h -- percent-decoding and path splitting (query strings and forms:
 * worker/params.h).
 */
#ifndef KILN_URL_H
#define KILN_URL_H

#include <stddef.h>

struct pool;

/* The value of the hex digit c (either case), or -1. */
int url_hexval(int c);

/*
 * Decodes %XX escapes of src[0..len) into dst (which has room for len + 1
 * bytes; dst may equal src).  With `plus`, '+' becomes a space (query
 * strings).  Returns the decoded length, or -1 for a bad escape ("%G1",
 * a truncated "%4") or an escape that decodes to NUL.  dst is NUL-terminated.
 */
long url_decode(char *dst, const char *src, size_t len, int plus);

/* The most path segments a request may have (more: 414-like 400). */
#define URL_MAX_SEGMENTS 64

/*
 * Splits an absolute path "/a/b%20c" (no query) at '/' into decoded segments
 * allocated from `pool`: "/" -> 0 segments; "/a" -> {"a"}; "/a/" -> {"a", ""}.
 * Dot-segments are removed first (RFC 3986 5.2.4: "/a/./b", "/a/x/../b" ->
 * {"a", "b"}; "/a/b/.." -> {"a", ""}).  An encoded '/' (%2F) stays inside
 * its segment.  Also builds the decoded full path into *decoded.  Returns
 * the number of segments, or -1 when the path does not start with '/', has
 * a bad escape, more than URL_MAX_SEGMENTS segments, a ".." that climbs
 * above the root, a segment that decodes to "." or "..", or on OOM.
 */
int url_split_path(struct pool *pool, const char *path, size_t len,
                   char **segs, char **decoded);

/* How url_normalize treats a trailing slash ([server] normalize_path). */
enum url_slash { URL_SLASH_KEEP = 0, URL_SLASH_APPEND, URL_SLASH_REMOVE };

/*
 * The raw path path[0..len) (from '/', no query) with each run of '/'
 * merged into one (merge), then a '/' appended at its end (APPEND, when it
 * has none) or its trailing '/' removed (REMOVE, not from "/"), allocated
 * from pool.  NULL when that changes nothing, or on OOM.
 */
char *url_normalize(struct pool *pool, const char *path, size_t len, int merge,
                    enum url_slash slash);

#endif
