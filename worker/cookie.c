/*
 * cookie.c -- checks a cookie's name, value and attributes against RFC 6265
 * 4.1 (and the browsers' rules for SameSite=None and the __Secure- and
 * __Host- prefixes) and formats its Set-Cookie value.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cookie.h"
#include "http_rules.h"
#include "response.h"

/* cookie-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E. */
static int cookie_octet(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != '"' && c != ',' && c != ';' && c != '\\';
}

/* cookie-value: *cookie-octet, or the same in double quotes. */
static int value_ok(const char *v)
{
    size_t n = strlen(v), i = 0;

    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        i = 1;
        n--;
    }
    for (; i < n; i++)
        if (!cookie_octet((unsigned char)v[i]))
            return 0;
    return 1;
}

/* av-octet (any CHAR but CTLs and ';'), non-empty. */
static int attr_ok(const char *v)
{
    if (v[0] == '\0')
        return 0;
    for (; *v != '\0'; v++)
        if ((unsigned char)*v < 0x20 || (unsigned char)*v > 0x7e || *v == ';')
            return 0;
    return 1;
}

/* A host name or address: letters, digits, '-' and '.'. */
static int domain_ok(const char *d)
{
    if (d[0] == '\0')
        return 0;
    for (; *d != '\0'; d++)
        if (!((*d >= 'a' && *d <= 'z') || (*d >= 'A' && *d <= 'Z')
              || (*d >= '0' && *d <= '9') || *d == '-' || *d == '.'))
            return 0;
    return 1;
}

/* "Strict", "Lax" or "None" as written, for any case of it; NULL else. */
static const char *same_site_word(const char *s)
{
    static const char *const words[] = { "Strict", "Lax", "None" };

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcasecmp(s, words[i]) == 0)
            return words[i];
    return NULL;
}

static int has_prefix(const char *name, const char *prefix)
{
    return strncasecmp(name, prefix, strlen(prefix)) == 0;
}

/* The reason the name and value are refused, or NULL. */
static const char *pair_check(const struct cookie *c)
{
    if (c->name == NULL || c->name[0] == '\0'
        || !http_is_token(c->name, strlen(c->name)))
        return "the name is not a token";
    if (c->value == NULL || !value_ok(c->value))
        return "the value holds a byte that is not a cookie-octet";
    if (strlen(c->name) + strlen(c->value) > COOKIE_MAX_PAIR)
        return "name and value are above 4096 bytes";
    return NULL;
}

/* The reason the attributes are refused, or NULL. */
static const char *attrs_check(const struct cookie *c)
{
    if (c->max_age < -1 || c->expires < -1)
        return "max_age or expires is negative";
    if (c->path != NULL && (!attr_ok(c->path) || c->path[0] != '/'))
        return "the path does not start with '/', or holds ';' or a control character";
    if (c->domain != NULL && !domain_ok(c->domain))
        return "the domain is not a host name";
    if (c->same_site != NULL && same_site_word(c->same_site) == NULL)
        return "same_site is not Strict, Lax or None";
    if (c->same_site != NULL && strcasecmp(c->same_site, "None") == 0 && !c->secure)
        return "SameSite=None needs Secure";
    if (has_prefix(c->name, "__Secure-") && !c->secure)
        return "a __Secure- cookie needs Secure";
    if (has_prefix(c->name, "__Host-")
        && (!c->secure || c->domain != NULL || c->path == NULL || strcmp(c->path, "/") != 0))
        return "a __Host- cookie needs Secure, Path=/ and no Domain";
    return NULL;
}

/* Appends the attributes; 0, or -1 (an Expires past 9999, or OOM). */
static int attrs_append(struct buf *out, const struct cookie *c)
{
    char date[30];
    int rc = 0;

    if (c->expires >= 0) {
        if (http_date(date, c->expires) != 0)
            return -1;
        rc |= buf_printf(out, "; Expires=%s", date) < 0;
    }
    if (c->max_age >= 0)
        rc |= buf_printf(out, "; Max-Age=%lld", c->max_age) < 0;
    if (c->domain != NULL)
        rc |= buf_printf(out, "; Domain=%s", c->domain) < 0;
    if (c->path != NULL)
        rc |= buf_printf(out, "; Path=%s", c->path) < 0;
    if (c->secure)
        rc |= buf_append_str(out, "; Secure") != 0;
    if (c->http_only)
        rc |= buf_append_str(out, "; HttpOnly") != 0;
    if (c->same_site != NULL)
        rc |= buf_printf(out, "; SameSite=%s", same_site_word(c->same_site)) < 0;
    return rc ? -1 : 0;
}

int cookie_format(struct buf *out, const struct cookie *c, const char **why)
{
    char date[30];
    size_t start = out->len;

    *why = pair_check(c);
    if (*why == NULL)
        *why = attrs_check(c);
    if (*why == NULL && c->expires >= 0 && http_date(date, c->expires) != 0)
        *why = "expires is past the year 9999";
    if (*why != NULL)
        return -1;
    if (buf_printf(out, "%s=%s", c->name, c->value) < 0 || attrs_append(out, c) != 0) {
        out->len = start;
        return -2;
    }
    return 0;
}
