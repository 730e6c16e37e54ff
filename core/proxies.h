/*
 * proxies.h -- trusted proxies: IPv4 and IPv6 addresses and CIDR prefixes
 * (the [server] trusted_proxies list), parsed, matched and printed.  Plain C
 * over bytes; the config check (master) and the request accessors (worker)
 * both use it.
 *
 * Every address is held as 16 bytes of IPv6; an IPv4 address as its mapped
 * form ::ffff:a.b.c.d (a /N prefix of IPv4 is /96+N there), so that one
 * comparison serves both families and an IPv4-mapped peer matches an IPv4
 * entry.
 */
#ifndef KILN_PROXIES_H
#define KILN_PROXIES_H

#include <stddef.h>
#include <sys/socket.h>

#define PROXIES_MAX 64              /* entries of trusted_proxies */
#define PROXIES_ADDRSTRLEN 46       /* INET6_ADDRSTRLEN: the longest text */

struct proxy_net {
    unsigned char addr[16];         /* masked to its prefix */
    unsigned bits;                  /* 0..128, over the 16 bytes */
};

struct proxies {
    struct proxy_net net[PROXIES_MAX];
    size_t n;
};

/*
 * An address as text: "192.0.2.1" or "2001:db8::1" (no brackets, no port),
 * exactly `len` bytes, into out.  0, or -1 when it is not one (empty, longer
 * than an address can be, a leading zero in IPv4, anything inet_pton
 * refuses).
 */
int proxies_addr_parse(const char *s, size_t len, unsigned char out[16]);

/*
 * Replaces p with the list in `text`: addresses and prefixes ("10.0.0.0/8",
 * "fd00::/8") separated by commas and/or white space; host bits past a
 * prefix are ignored.  0, or -1 with "\"ENTRY\" is not ..." in err (p then
 * holds the entries before it).  An empty text gives an empty list.
 */
int proxies_parse(struct proxies *p, const char *text, char *err, size_t errlen);

/* Whether addr lies in one of p's entries. */
int proxies_match(const struct proxies *p, const unsigned char addr[16]);

/* addr as text into out (at least PROXIES_ADDRSTRLEN bytes): a mapped IPv4
 * address as "192.0.2.1", any other as IPv6 "2001:db8::1". */
void proxies_addr_format(const unsigned char addr[16], char *out, size_t size);

/* A socket address (AF_INET or AF_INET6) into addr and *port.  0, or -1 for
 * another family (AF_UNIX). */
int proxies_from_sockaddr(const struct sockaddr *sa, unsigned char addr[16], int *port);

#endif
