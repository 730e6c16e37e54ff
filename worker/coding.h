/*
 * coding.h -- content-coding negotiation: which of the codings a response
 * could be sent in an Accept-Encoding value prefers (RFC 9110 12.5.3).
 * Plain C over one header value, unit-tested in tests/unit/test_coding.c.
 */
#ifndef KILN_CODING_H
#define KILN_CODING_H

/* The codings kiln can send; each a bit in an `offered` mask. */
enum coding {
    CODING_IDENTITY = 0,
    CODING_GZIP = 1,    /* also "x-gzip" (RFC 9110 8.4.1.3) */
    CODING_BR = 2,
    CODING_COUNT
};

#define CODING_BIT(c) (1u << (c))

/* The name a Content-Encoding field gives coding c ("gzip", "br"); NULL
 * for identity, which has none. */
const char *coding_name(enum coding c);

/*
 * Of the codings in `offered` (CODING_BIT()s), the one `accept` (an
 * Accept-Encoding value, or NULL when the request had none) weighs
 * highest: each listed coding takes its q ("gzip;q=0.5"; 1 without one),
 * "*" stands for those not listed, and identity is acceptable unless
 * "identity;q=0" or "*;q=0" (without identity listed) says it is not.
 * Ties go to br, then gzip, then identity; q=0 rules a coding out.
 * Elements that do not parse (a bad q, a bad token) are skipped.  No
 * header, or an empty one, gives identity.  Returns the coding, or -1 when
 * none offered is acceptable (the caller may still send identity: RFC
 * 9110 lets a server do so rather than answer 406).
 */
int coding_choose(const char *accept, unsigned offered);

#endif
