/* http_rules.c -- RFC 9110/9112 syntax kiln checks itself: tokens, field lines, hosts, methods, request targets. */
#include <string.h>
#include <strings.h>

#include "http_rules.h"
#include "pool.h"

/* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" /
 * "_" / "`" / "|" / "~" / DIGIT / ALPHA */
const unsigned char http_tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1,
    ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,
    ['~'] = 1, ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
};

/* Host bytes: 1 for a reg-name or IPv4 address (unreserved, pct-encoded,
 * sub-delims), 2 for the inside of an IP-literal (hex digits, ':', '.'). */
#define REG 1
#define IPL 2
static const unsigned char host_char[256] = {
    ['a' ... 'f'] = REG | IPL, ['g' ... 'z'] = REG,
    ['A' ... 'F'] = REG | IPL, ['G' ... 'Z'] = REG,
    ['0' ... '9'] = REG | IPL, ['.'] = REG | IPL, [':'] = IPL,
    ['-'] = REG, ['_'] = REG, ['~'] = REG, ['%'] = REG,
    ['!'] = REG, ['$'] = REG, ['&'] = REG, ['\''] = REG, ['('] = REG, [')'] = REG,
    ['*'] = REG, ['+'] = REG, [','] = REG, [';'] = REG, ['='] = REG,
};

int http_value_on_name_line(const char *name_end, const char *value)
{
    const char *s = name_end;

    if (s >= value || *s != ':')
        return 0;
    for (s++; s < value; s++)
        if (*s != ' ' && *s != '\t')
            return 0;
    return 1;
}

int http_host_ok(const char *h)
{
    if (*h == '[') {
        for (h++; host_char[(unsigned char)*h] & IPL; h++)
            ;
        if (*h++ != ']')
            return 0;
    } else {
        while (host_char[(unsigned char)*h] & REG)
            h++;
    }
    if (*h == ':')
        for (h++; *h >= '0' && *h <= '9'; h++)
            ;
    return *h == '\0';
}

int http_method_token(const char *line, const char *end)
{
    const char *s = line;

    while (s < end && http_tchar[(unsigned char)*s])
        s++;
    return s > line && s < end && *s == ' ';
}

/* Absolute-form: the authority after "//" up to '/' or '?', then the path
 * ("/" when there is none).  0 or -1. */
static int absolute_form(struct pool *pool, const char *target, struct http_target *t,
                         const char **path)
{
    const char *auth = strstr(target, "//") + 2;
    char *p;

    *path = auth + strcspn(auth, "/?");
    t->authority = auth;
    t->alen = (size_t)(*path - auth);
    if (t->alen == 0 || memchr(auth, '@', t->alen) != NULL)
        return -1;                      /* no host, or userinfo */
    if (**path == '/')
        return 0;
    p = pool_alloc(pool, strlen(*path) + 2);
    if (p == NULL)
        return -1;
    p[0] = '/';                         /* "/" with whatever query followed */
    strcpy(p + 1, *path);
    *path = p;
    return 0;
}

/* Origin-form, by far the most common: path and query in one pass. */
static void origin_form(char *target, struct http_target *t)
{
    char *p = target, *hash;

    while (*p != '\0' && *p != '?' && *p != '#')
        p++;
    t->path = target;
    t->plen = (size_t)(p - target);
    t->query = "";
    if (*p == '#') {
        *p = '\0';
    } else if (*p == '?') {
        t->query = p + 1;
        if ((hash = strchr(p + 1, '#')) != NULL)
            *hash = '\0';
    }
}

int http_split_target(struct pool *pool, char *target, struct http_target *t)
{
    const char *path = target, *q;
    char *hash;

    t->authority = NULL;
    t->alen = 0;
    if (target[0] == '/') {
        origin_form(target, t);
        return 0;
    }
    if ((hash = strchr(target, '#')) != NULL)
        *hash = '\0';
    if ((strncasecmp(target, "http://", 7) == 0 || strncasecmp(target, "https://", 8) == 0)
        && absolute_form(pool, target, t, &path) < 0)
        return -1;
    if (path[0] != '/')
        return -1;
    q = strchr(path, '?');
    t->path = path;
    t->plen = q ? (size_t)(q - path) : strlen(path);
    t->query = q ? q + 1 : "";
    return 0;
}
