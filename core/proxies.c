/* proxies.c -- trusted proxies: addresses and CIDR prefixes parsed from text, matched, printed (see proxies.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "proxies.h"

static const unsigned char v4_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int proxies_addr_parse(const char *s, size_t len, unsigned char out[16])
{
    char buf[PROXIES_ADDRSTRLEN];
    struct in_addr a4;

    if (len == 0 || len >= sizeof buf || memchr(s, '\0', len) != NULL)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        memcpy(out, v4_prefix, 12);
        memcpy(out + 12, &a4, 4);
        return 0;
    }
    return inet_pton(AF_INET6, buf, out) == 1 && strchr(buf, ':') != NULL ? 0 : -1;
}

/* Clears the bits of addr past the first `bits`. */
static void mask(unsigned char addr[16], unsigned bits)
{
    for (unsigned i = 0; i < 16; i++) {
        if (bits >= 8) {
            bits -= 8;
            continue;
        }
        addr[i] &= (unsigned char)(0xff00 >> bits);
        bits = 0;
    }
}

/* "/N" after an address of `max` bits: N into *bits.  0 or -1. */
static int parse_bits(const char *s, size_t len, unsigned max, unsigned *bits)
{
    unsigned v = 0;

    if (len == 0 || len > 3)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > max || (len > 1 && s[0] == '0'))
        return -1;
    *bits = v;
    return 0;
}

/* One entry, "ADDR" or "ADDR/BITS", of `len` bytes.  0 or -1. */
static int parse_entry(const char *s, size_t len, struct proxy_net *n)
{
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    int v4;

    if (proxies_addr_parse(s, alen, n->addr) < 0)
        return -1;
    v4 = memchr(s, ':', alen) == NULL;
    n->bits = 128;
    if (slash != NULL) {
        if (parse_bits(slash + 1, len - alen - 1, v4 ? 32 : 128, &n->bits) < 0)
            return -1;
        n->bits += v4 ? 96 : 0;
    }
    mask(n->addr, n->bits);
    return 0;
}

int proxies_parse(struct proxies *p, const char *text, char *err, size_t errlen)
{
    const char *s = text, *e;

    p->n = 0;
    for (;;) {
        s += strspn(s, ", \t");
        if (*s == '\0')
            return 0;
        e = s + strcspn(s, ", \t");
        if (p->n == PROXIES_MAX) {
            snprintf(err, errlen, "more than %d entries", PROXIES_MAX);
            return -1;
        }
        if (parse_entry(s, (size_t)(e - s), &p->net[p->n]) < 0) {
            snprintf(err, errlen, "\"%.*s\" is not an address or a prefix "
                     "(192.0.2.1, 10.0.0.0/8, ::1, fd00::/8)", (int)(e - s > 64 ? 64 : e - s), s);
            return -1;
        }
        p->n++;
        s = e;
    }
}

int proxies_match(const struct proxies *p, const unsigned char addr[16])
{
    unsigned char a[16];

    for (size_t i = 0; i < p->n; i++) {
        memcpy(a, addr, 16);
        mask(a, p->net[i].bits);
        if (memcmp(a, p->net[i].addr, 16) == 0)
            return 1;
    }
    return 0;
}

/* Dotted-quad IPv4, what inet_ntop() writes, at a tenth of its cost: the
 * access log asks for it on every request. */
static void format_v4(const unsigned char a[4], char *out, size_t size)
{
    char text[16], *p = text;

    for (int i = 0; i < 4; i++) {
        unsigned v = a[i];
        if (v >= 100)
            *p++ = (char)('0' + v / 100);
        if (v >= 10)
            *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
        *p++ = i < 3 ? '.' : '\0';
    }
    if (size > 0) {
        size_t n = (size_t)(p - text) < size ? (size_t)(p - text) : size;
        memcpy(out, text, n);
        out[n - 1] = '\0';
    }
}

void proxies_addr_format(const unsigned char addr[16], char *out, size_t size)
{
    if (memcmp(addr, v4_prefix, 12) == 0)
        format_v4(addr + 12, out, size);
    else
        inet_ntop(AF_INET6, addr, out, (socklen_t)size);
}

int proxies_from_sockaddr(const struct sockaddr *sa, unsigned char addr[16], int *port)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

        memcpy(addr, v4_prefix, 12);
        memcpy(addr + 12, &in->sin_addr, 4);
        *port = ntohs(in->sin_port);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

        memcpy(addr, &in6->sin6_addr, 16);
        *port = ntohs(in6->sin6_port);
        return 0;
    }
    return -1;
}
