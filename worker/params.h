/*
 * params.h -- a request's name/value pairs (query, form fields, cookies):
 * the pair list, and the parsers that fill it, urlencoded (query strings,
 * form bodies) and Cookie header values.  Pure C over a pool
 * (params.c, tests/unit/test_params.c, tests/fuzz/fuzz_params.c).
 */
#ifndef KILN_PARAMS_H
#define KILN_PARAMS_H

#include <stddef.h>

struct pool;

struct kv {
    const char *name;
    const char *value;
};

/* Pairs in arrival order, carved from a pool: no cap but the pool's memory
 * (the input's own limit, URI size or max_body_size, bounds it).  A zeroed
 * list is empty. */
struct kv_list {
    struct kv *items;
    size_t n, cap;
};

/* Appends a pair whose strings live as long as the pool (any parser may
 * fill a list: a multipart one too).  0, or -1 out of memory. */
int kv_push(struct pool *pool, struct kv_list *l, const char *name, const char *value);

/* The i-th pair: 0, or -1 when i >= l->n (name, value may be NULL). */
int kv_at(const struct kv_list *l, size_t i, const char **name, const char **value);

/* The value of the n-th pair (0-based) called exactly `name`, or NULL. */
const char *kv_nth(const struct kv_list *l, const char *name, size_t n);

/*
 * Appends the pairs of "a=1&b=x+y&c" (s[0..len)), decoded: '+' is a space,
 * %XX the byte it names; an escape that is invalid ("%zz", a truncated
 * "%4") or names NUL ("%00") stays as its bytes.  Empty pieces ("a&&b")
 * are skipped; a piece without '=' has the value "".  Raw NUL bytes in s
 * are kept: they end that name or value as a C string.  0, or -1 out of
 * memory (the pairs appended so far stay).
 */
int params_parse_urlencoded(struct pool *pool, struct kv_list *l, const char *s, size_t len);

/*
 * Appends the cookies of one Cookie header value "a=1; b=\"q\"" (RFC 6265
 * 5.4 / 4.2.1, read as browsers send it): pieces split at ';', white space
 * (SP, HTAB) around names and values trimmed, one pair of double quotes
 * around a value removed; pieces without '=' or with an empty name are
 * skipped.  Values are opaque: nothing is percent-decoded.  0, or -1 out
 * of memory.
 */
int params_parse_cookies(struct pool *pool, struct kv_list *l, const char *s, size_t len);

#endif
