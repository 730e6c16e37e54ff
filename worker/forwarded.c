/* forwarded.c -- the client behind trusted proxies, from Forwarded (RFC 7239) and X-Forwarded-* values (see forwarded.h). */
#include <string.h>
#include <strings.h>

#include "forwarded.h"
#include "http_rules.h"

struct span {                       /* a parameter's value in the field value */
    const char *s;                  /* NULL: absent */
    size_t len;
    int quoted;                     /* a quoted-string's inside: may hold \x */
};

struct elem {                       /* one forwarded-element */
    struct span f, proto, host, by;
};

enum { NODE_IP, NODE_NAME };        /* what a for= or an X-Forwarded-For entry is */

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* qdtext or a quoted-pair's second byte (RFC 9110 5.6.4): no CTL but HTAB. */
static int is_qchar(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* A token or a quoted-string at *pp into sp; advances *pp.  0 or -1. */
static int parse_value(const char **pp, struct span *sp)
{
    const char *p = *pp;

    if (*p != '"') {
        while (http_is_token(p, 1))
            p++;
        if (p == *pp)
            return -1;
        *sp = (struct span){ *pp, (size_t)(p - *pp), 0 };
        *pp = p;
        return 0;
    }
    for (p++; *p != '"'; p++) {
        if (*p == '\\')
            p++;
        if (*p == '\0' || !is_qchar((unsigned char)*p))
            return -1;
    }
    *sp = (struct span){ *pp + 1, (size_t)(p - *pp - 1), 1 };
    *pp = p + 1;
    return 0;
}

/* The member of e a parameter name selects; NULL for one kiln ignores. */
static struct span *param(struct elem *e, const char *name, size_t len)
{
    if (len == 3 && strncasecmp(name, "for", 3) == 0)
        return &e->f;
    if (len == 5 && strncasecmp(name, "proto", 5) == 0)
        return &e->proto;
    if (len == 4 && strncasecmp(name, "host", 4) == 0)
        return &e->host;
    if (len == 2 && strncasecmp(name, "by", 2) == 0)
        return &e->by;
    return NULL;
}

/* token "=" value at *pp into e.  0, or -1 (syntax, or a parameter twice). */
static int parse_pair(const char **pp, struct elem *e)
{
    const char *name = *pp, *p = *pp;
    struct span v, *dst;

    while (http_is_token(p, 1))
        p++;
    if (p == name || *p != '=')
        return -1;
    dst = param(e, name, (size_t)(p - name));
    p++;
    if (parse_value(&p, &v) < 0 || (dst != NULL && dst->s != NULL))
        return -1;
    if (dst != NULL)
        *dst = v;
    *pp = p;
    return 0;
}

/* One element at *pp, up to the ',' or the end after it.  0 or -1. */
static int parse_elem(const char **pp, struct elem *e)
{
    const char *p = *pp;

    memset(e, 0, sizeof *e);
    for (;;) {
        while (is_ows(*p))
            p++;
        if (*p == ',' || *p == '\0')
            break;
        if (*p == ';') {
            p++;
            continue;
        }
        if (parse_pair(&p, e) < 0)
            return -1;
        while (is_ows(*p))
            p++;
        if (*p != ';' && *p != ',' && *p != '\0')
            return -1;
    }
    *pp = p;
    return 0;
}

/* The elements of a whole value, left to right (empty ones skipped).  The
 * count, or -1 for a syntax error or more than FWD_MAX_HOPS. */
static int parse_elems(const char *v, struct elem *el)
{
    const char *p = v;
    int n = 0;

    for (;;) {
        while (is_ows(*p) || *p == ',')
            p++;
        if (*p == '\0')
            return n;
        if (n == FWD_MAX_HOPS || parse_elem(&p, &el[n]) < 0)
            return -1;
        n++;
    }
}

/* A span's text, quoted-pairs undone, into out.  0, or -1 if it does not fit. */
static int unquote(const struct span *sp, char *out, size_t size)
{
    size_t o = 0;

    for (size_t i = 0; i < sp->len; i++) {
        if (sp->quoted && sp->s[i] == '\\')
            i++;
        if (o + 1 >= size)
            return -1;
        out[o++] = sp->s[i];
    }
    out[o] = '\0';
    return 0;
}

/* A port: 1 to 5 digits up to 65535, or (obf) an obfuscated "_name". */
static int port_ok(const char *s, size_t len, int obf)
{
    unsigned long v = 0;

    if (obf && len > 1 && s[0] == '_')
        return strspn(s + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789._-") >= len - 1;
    if (len == 0 || len > 5)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    return v <= 65535;
}

/* "[v6]" or "[v6]:port" of t (NUL-terminated) into a.  0 or -1. */
static int parse_bracketed(const char *t, unsigned char a[16], int obf)
{
    const char *close = strchr(t, ']');

    if (close == NULL || memchr(t + 1, ':', (size_t)(close - t - 1)) == NULL ||
        proxies_addr_parse(t + 1, (size_t)(close - t - 1), a) < 0)
        return -1;
    if (close[1] == '\0')
        return 0;
    return close[1] == ':' && port_ok(close + 2, strlen(close + 2), obf) ? 0 : -1;
}

/* "a.b.c.d" or "a.b.c.d:port" into a.  0 or -1. */
static int parse_v4(const char *t, unsigned char a[16], int obf)
{
    const char *colon = strchr(t, ':');
    size_t alen = colon ? (size_t)(colon - t) : strlen(t);

    if (memchr(t, ':', alen) != NULL || proxies_addr_parse(t, alen, a) < 0)
        return -1;
    return colon == NULL || port_ok(colon + 1, strlen(colon + 1), obf) ? 0 : -1;
}

/* RFC 7239 6: a node ("unknown", "_name", IPv4, "[v6]", each with an
 * optional port) into a (IPs) and name (its text).  NODE_*, or -1. */
static int parse_node(const char *t, unsigned char a[16], char *name)
{
    const char *colon = strchr(t, ':');
    size_t len = colon && t[0] != '[' ? (size_t)(colon - t) : strlen(t);

    if ((len == 7 && strncasecmp(t, "unknown", 7) == 0) || (t[0] == '_' && port_ok(t, len, 1))) {
        if (len >= PROXIES_ADDRSTRLEN || (colon && !port_ok(colon + 1, strlen(colon + 1), 1)))
            return -1;
        memcpy(name, t[0] == '_' ? t : "unknown", len);
        name[len] = '\0';
        return NODE_NAME;
    }
    if ((t[0] == '[' ? parse_bracketed(t, a, 1) : parse_v4(t, a, 1)) < 0)
        return -1;
    proxies_addr_format(a, name, PROXIES_ADDRSTRLEN);
    return NODE_IP;
}

const char *forwarded_proto(const char *p)
{
    if (strcasecmp(p, "http") == 0)
        return "http";
    if (strcasecmp(p, "https") == 0)
        return "https";
    return NULL;
}

/* The proto= and host= of the client's element into out. */
static void client_params(const struct elem *e, struct fwd_client *out)
{
    char proto[8];
    const char *p;

    out->proto[0] = out->host[0] = '\0';
    if (e->proto.s && unquote(&e->proto, proto, sizeof proto) == 0 &&
        (p = forwarded_proto(proto)) != NULL)
        strcpy(out->proto, p);
    if (e->host.s && unquote(&e->host, out->host, sizeof out->host) < 0)
        out->host[0] = '\0';
}

int forwarded_client(const char *v, const struct proxies *trusted, struct fwd_client *out)
{
    struct elem el[FWD_MAX_HOPS];
    char t[PROXIES_ADDRSTRLEN + 16];
    unsigned char a[16];
    int n = parse_elems(v, el), kind;

    if (n <= 0)
        return 0;
    for (int i = n - 1; i >= 0; i--) {
        if (el[i].f.s == NULL || unquote(&el[i].f, t, sizeof t) < 0)
            return 0;
        kind = parse_node(t, a, out->addr);
        if (kind < 0)
            return 0;
        if (kind == NODE_IP && i > 0 && proxies_match(trusted, a))
            continue;
        client_params(&el[i], out);
        return 1;
    }
    return 0;
}

/* One X-Forwarded-For entry of len bytes into a.  0 or -1. */
static int parse_xff_entry(const char *s, size_t len, unsigned char a[16])
{
    char t[PROXIES_ADDRSTRLEN + 16];
    const char *first;

    if (len >= sizeof t)
        return -1;
    memcpy(t, s, len);
    t[len] = '\0';
    if (t[0] == '[')
        return parse_bracketed(t, a, 0);
    first = strchr(t, ':');
    if (first != NULL && strchr(first + 1, ':') != NULL)
        return proxies_addr_parse(t, len, a);   /* bare IPv6 */
    return parse_v4(t, a, 0);
}

/* The entry left of `end` in [v, end): sets *s, *e (trimmed) and returns
 * where the next one to its left ends (NULL when it was the first). */
static const char *prev_entry(const char *v, const char *end, const char **s, const char **e)
{
    const char *b = end;

    while (b > v && b[-1] != ',')
        b--;
    *s = b;
    *e = end;
    while (*s < *e && is_ows(**s))
        (*s)++;
    while (*e > *s && is_ows((*e)[-1]))
        (*e)--;
    return b > v ? b - 1 : NULL;
}

int forwarded_xff(const char *v, const struct proxies *trusted, char *addr)
{
    const char *end = v + strlen(v), *s, *e;
    unsigned char a[16];
    int hops = 0, have = 0;

    while (end != NULL) {
        end = prev_entry(v, end, &s, &e);
        if (s == e)
            continue;
        if (++hops > FWD_MAX_HOPS || parse_xff_entry(s, (size_t)(e - s), a) < 0)
            return 0;
        have = 1;
        if (!proxies_match(trusted, a))
            break;
    }
    if (have)
        proxies_addr_format(a, addr, PROXIES_ADDRSTRLEN);
    return have;
}

int forwarded_last(const char *v, char *out, size_t size)
{
    const char *end = v + strlen(v), *s, *e;

    while (end != NULL) {
        end = prev_entry(v, end, &s, &e);
        if (s == e)
            continue;
        if ((size_t)(e - s) >= size)
            return 0;
        memcpy(out, s, (size_t)(e - s));
        out[e - s] = '\0';
        return 1;
    }
    return 0;
}
