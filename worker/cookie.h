/*
 * cookie.h -- a Set-Cookie value (RFC 6265 4.1) checked and formatted: pure
 * C over strings, unit-tested in tests/unit/test_cookie.c; answer.c adds
 * the header.
 */
#ifndef KILN_COOKIE_H
#define KILN_COOKIE_H

#include "pool.h"

/* A cookie as cookie.c formats it (kiln_cookie_opts after its defaults). */
struct cookie {
    const char *name, *value;
    long long max_age;              /* -1: no Max-Age (0 is written) */
    long long expires;              /* -1: no Expires (0 is 1970) */
    const char *path, *domain;      /* NULL: none */
    const char *same_site;          /* NULL: none; else any case */
    int secure, http_only;
};

/* The largest name=value browsers keep. */
#define COOKIE_MAX_PAIR 4096

/*
 * Appends the Set-Cookie value of `c` to `out` ("n=v; Expires=...;
 * Max-Age=N; Domain=d; Path=p; Secure; HttpOnly; SameSite=Lax").  0; -1
 * with *why set to the reason (a static string naming what is wrong) and
 * out unchanged; -2 out of memory.
 */
int cookie_format(struct buf *out, const struct cookie *c, const char **why);

#endif
