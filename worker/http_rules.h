/*
 * http_rules.h -- the syntax rules of RFC 9110 and RFC 9112 that kiln checks
 * itself (Debian's http-parser is built non-strict): tokens, field lines,
 * hosts, request lines and request targets.  Plain C over bytes, with no
 * parser and no connection, unit-tested in tests/unit/test_http_rules.c.
 */
#ifndef KILN_HTTP_RULES_H
#define KILN_HTTP_RULES_H

#include <stddef.h>

struct pool;

/* tchar (RFC 9110 5.6.2): 1 for a byte that may stand in a token. */
extern const unsigned char http_tchar[256];

/* Whether s[0..len) are all tchar.  Inline: it runs on every field name. */
static inline int http_is_token(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!http_tchar[(unsigned char)s[i]])
            return 0;
    return 1;
}

/* Whether the bytes from a field name's end to its value's first byte are
 * ':' then spaces or tabs only: the value is on the name's line (no
 * obs-fold, RFC 9112 5.2). */
int http_value_on_name_line(const char *name_end, const char *value);

/* Whether `h` is a valid Host value: uri-host [ ":" port ] (RFC 3986
 * 3.2.2), or empty. */
int http_host_ok(const char *h);

/* Whether the line starting at `line` (up to `end`) begins with a method
 * that is a token followed by a space: a well-formed one, known or not. */
int http_method_token(const char *line, const char *end);

/* A request target taken apart (pointers into the target or `pool`). */
struct http_target {
    const char *authority;      /* absolute-form's host[:port], or NULL */
    size_t alen;
    const char *path;           /* raw path, from '/', without the query */
    size_t plen;
    const char *query;          /* raw query after '?', or "" */
};

/*
 * Takes `target` (NUL-terminated, writable: a fragment is cut off there)
 * apart.  Accepts origin-form ("/a?b") and absolute-form ("http://h/a",
 * "https://h?b"; no userinfo, RFC 9110 4.2.4).  0, or -1 for anything else
 * or out of memory.
 */
int http_split_target(struct pool *pool, char *target, struct http_target *t);

#endif
