/*
 * forwarded.h -- what a trusted proxy says about the client: the Forwarded
 * header (RFC 7239) and X-Forwarded-For / -Proto / -Host, read from the
 * right with nginx realip's recursive rule.  Plain C over strings (no
 * request, no socket), unit-tested in tests/unit/test_forwarded.c and
 * fuzzed by tests/fuzz/fuzz_forwarded.c.
 *
 * The rule: the rightmost hop was written by the peer, which the caller
 * found in trusted_proxies; hops are read leftwards, skipping those whose
 * address is trusted too, and the first one that is not (an untrusted
 * address, "unknown", an obfuscated "_name") is the client.  When every
 * address is trusted, the leftmost is the client.  Hops left of the client
 * are never read, so what a client wrote there (spoofed or garbage) does
 * not count.  A hop that does not parse, reached before the client, makes
 * the whole answer "none": the caller keeps the peer.
 */
#ifndef KILN_FORWARDED_H
#define KILN_FORWARDED_H

#include <stddef.h>

#include "proxies.h"

#define FWD_MAX_HOPS 32             /* hops of one header read at most */
#define FWD_HOST_MAX 256            /* a forwarded host's longest */

struct fwd_client {
    char addr[PROXIES_ADDRSTRLEN];  /* "192.0.2.1", "2001:db8::1", "unknown",
                                       "_hidden" */
    char proto[6];                  /* "http", "https", or "" (not said) */
    char host[FWD_HOST_MAX];        /* the host= of the client's element, or "" */
};

/*
 * The Forwarded field value `v` (several fields joined with ","): the
 * client's address, and the proto= and host= of that same element (the
 * request as the first trusted proxy received it; host= is not checked
 * here).  1 with *out filled, 0 for none: no element, a syntax error
 * anywhere in the value (quoting is read left to right), more than
 * FWD_MAX_HOPS elements, a parameter twice in one element, or a hop
 * without a readable for= reached before the client.
 */
int forwarded_client(const char *v, const struct proxies *trusted, struct fwd_client *out);

/*
 * X-Forwarded-For `v`: entries "192.0.2.1", "2001:db8::1", "[2001:db8::1]",
 * with an optional ":port" after IPv4 or a bracketed IPv6; empty entries
 * are skipped.  The client's address into addr (PROXIES_ADDRSTRLEN bytes):
 * 1, or 0 for none (as above; more than FWD_MAX_HOPS trusted entries).
 */
int forwarded_xff(const char *v, const struct proxies *trusted, char *addr);

/* The rightmost non-empty entry of a comma-separated value (what the peer
 * wrote into X-Forwarded-Proto or -Host), white space trimmed: into out
 * (size bytes), 1; 0 when there is none or it does not fit. */
int forwarded_last(const char *v, char *out, size_t size);

/* "http" or "https" for `p` in any case, else NULL. */
const char *forwarded_proto(const char *p);

#endif
