/* redis_url.c -- a Redis server's URL ("redis://[:password@]host[:port][/]" or "redis+unix://[:password@]/path") checked and taken apart; no hiredis here. */
#include <stdio.h>
#include <string.h>

#include "redis_url.h"

#define DEFAULT_PORT "6379"

static int name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_';
}

/* host: a name or IPv4 address (letters, digits, '-', '.', '_'), or an IPv6
 * address in brackets (hex digits, ':' and '.', maybe a "%zone"). */
static int host_ok(const char *h, size_t n)
{
    size_t addr;

    if (n >= 2 && h[0] == '[') {
        if (h[n - 1] != ']' || n == 2)
            return 0;
        addr = strspn(h + 1, "0123456789abcdefABCDEF:.");
        if (addr > n - 2 || !memchr(h + 1, ':', addr))
            return 0;
        if (addr == n - 2)
            return 1;
        if (h[1 + addr] != '%' || addr + 1 == n - 2)
            return 0;
        for (size_t i = addr + 2; i < n - 1; i++)
            if (!name_char(h[i]))
                return 0;
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (!name_char(h[i]))
            return 0;
    return n > 0;
}

/* 1-65535, decimal digits only. */
static int port_ok(const char *p, size_t n)
{
    unsigned long v = 0;

    if (n == 0 || n > 5)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

static int fail(char *why, size_t whylen, const char *msg)
{
    snprintf(why, whylen, "%s", msg);
    return -1;
}

/* "[:password@]" at the start of s: its length (0: none), or -1. */
static int userinfo(const char *s, const char *end, struct redis_url *out, char *why,
                    size_t whylen)
{
    const char *at = NULL;

    for (const char *p = s; p < end; p++)
        if (*p == '@')
            at = p;                 /* the last one: a password may hold '@' */
    if (!at)
        return 0;
    if (s[0] != ':')
        return fail(why, whylen, "a user name is not supported: write redis://:password@host");
    if (at == s + 1)
        return fail(why, whylen, "the password after \":\" is empty");
    if (out)
        snprintf(out->password, sizeof(out->password), "%.*s", (int)(at - s - 1), s + 1);
    return (int)(at - s + 1);
}

static int parse_tcp(const char *s, struct redis_url *out, char *why, size_t whylen)
{
    const char *end = s + strlen(s), *colon, *host;
    int skip;

    if (end > s && end[-1] == '/')
        end--;
    if ((skip = userinfo(s, end, out, why, whylen)) < 0)
        return -1;
    host = s + skip;
    if (memchr(host, '/', (size_t)(end - host)))
        return fail(why, whylen, "a path (a db number) means nothing to pub/sub");
    colon = NULL;
    for (const char *p = host; p < end; p++)
        if (*p == ':' && !memchr(p, ']', (size_t)(end - p)))
            colon = p;              /* the port's, after any "[v6]" */
    if (!host_ok(host, (size_t)((colon ? colon : end) - host)))
        return fail(why, whylen, host == (colon ? colon : end) ? "the host is missing"
                                                               : "the host is not a name "
                                                                 "or an address");
    if (colon && !port_ok(colon + 1, (size_t)(end - colon - 1)))
        return fail(why, whylen, "the port must be a number from 1 to 65535");
    if (out && snprintf(out->address, sizeof(out->address), "%.*s:%.*s",
                        (int)((colon ? colon : end) - host), host,
                        colon ? (int)(end - colon - 1) : (int)strlen(DEFAULT_PORT),
                        colon ? colon + 1 : DEFAULT_PORT) >= (int)sizeof(out->address))
        return fail(why, whylen, "too long");
    return 0;
}

static int parse_unix(const char *s, struct redis_url *out, char *why, size_t whylen)
{
    const char *end = s + strlen(s);
    int skip = userinfo(s, end, out, why, whylen);

    if (skip < 0)
        return -1;
    s += skip;
    if (s[0] != '/' || s[1] == '\0' || end[-1] == '/')
        return fail(why, whylen, "expected the socket's absolute path after \"redis+unix://\"");
    if (out && snprintf(out->address, sizeof(out->address), "unix:%s", s) >=
                   (int)sizeof(out->address))
        return fail(why, whylen, "too long");
    return 0;
}

int redis_url_parse(const char *url, struct redis_url *out, char *why, size_t whylen)
{
    if (out)
        memset(out, 0, sizeof(*out));
    if (strlen(url) >= REDIS_URL_MAX)
        return fail(why, whylen, "too long");
    if (strncmp(url, "redis://", 8) == 0)
        return parse_tcp(url + 8, out, why, whylen);
    if (strncmp(url, "redis+unix://", 13) == 0)
        return parse_unix(url + 13, out, why, whylen);
    return fail(why, whylen, strstr(url, "://") ? "the scheme is not redis:// or redis+unix://"
                                                : "not a redis:// URL");
}

void redis_url_shown(const char *url, char *buf, size_t len)
{
    const char *start = strstr(url, "://"), *at = strrchr(url, '@');

    if (start && at && at > start + 3)
        snprintf(buf, len, "%.*s***%s", (int)(start + 3 - url), url, at);
    else
        snprintf(buf, len, "%s", url);
}
