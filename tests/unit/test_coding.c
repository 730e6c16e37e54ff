/* test_coding.c -- unit tests of worker/coding.c: which coding an Accept-Encoding value chooses among those offered. */
#include "coding.h"
#include "unit.h"

#define ID CODING_BIT(CODING_IDENTITY)
#define GZ CODING_BIT(CODING_GZIP)
#define BR CODING_BIT(CODING_BR)
#define ALL (ID | GZ | BR)

static void check(const char *accept, unsigned offered, int want)
{
    int got = coding_choose(accept, offered);

    CHECK(got == want, "\"%s\" offered %u -> %d (got %d)", accept ? accept : "(none)",
          offered, want, got);
}

int main(void)
{
    /* No header, an empty one: identity only. */
    check(NULL, ALL, CODING_IDENTITY);
    check("", ALL, CODING_IDENTITY);
    check(NULL, GZ, -1);

    /* Plain lists; ties go to br, then gzip. */
    check("gzip", ALL, CODING_GZIP);
    check("gzip, deflate, br", ALL, CODING_BR);
    check("gzip, deflate, br", ID | GZ, CODING_GZIP);
    check("gzip, deflate, br", ID, CODING_IDENTITY);
    check("br", ID | GZ, CODING_IDENTITY);
    check("deflate", ALL, CODING_IDENTITY);
    check("GZIP", ALL, CODING_GZIP);
    check("x-gzip", ALL, CODING_GZIP);
    check("  gzip  ,br  ", ALL, CODING_BR);
    check(",,gzip,,", ALL, CODING_GZIP);

    /* Weights. */
    check("gzip;q=1.0, br;q=0.5", ALL, CODING_GZIP);
    check("gzip;q=0.5, br;q=0.8", ALL, CODING_BR);
    check("gzip; q=0.5 , br ; Q=0.501", ALL, CODING_BR);
    check("gzip;q=0", ALL, CODING_IDENTITY);
    check("gzip;q=0.000", ALL, CODING_IDENTITY);
    check("gzip;q=0.001", ID | GZ, CODING_GZIP);
    check("identity;q=1, gzip;q=0.5", ID | GZ, CODING_IDENTITY);
    check("gzip;q=0.5;level=1", ID | GZ, CODING_GZIP);

    /* Malformed elements are skipped, not the header. */
    check("gzip;q=2", ID | GZ, CODING_IDENTITY);
    check("gzip;q=1.5", ID | GZ, CODING_IDENTITY);
    check("gzip;q=0.1234", ID | GZ, CODING_IDENTITY);
    check("gzip;q=", ID | GZ, CODING_IDENTITY);
    check("gzip;q=.5", ID | GZ, CODING_IDENTITY);
    check("gzip;bogus", ID | GZ, CODING_IDENTITY);
    check("gzip;q=abc, br", ALL, CODING_BR);
    check("gz@ip, gzip", ID | GZ, CODING_GZIP);      /* "gz@ip" skipped */
    check("gz@ip", ID | GZ, CODING_IDENTITY);
    check("gzip, gzip;q=0", ID | GZ, CODING_GZIP);   /* the first listing counts */

    /* "*" and identity refused. */
    check("*", ALL, CODING_BR);
    check("*", ID, CODING_IDENTITY);
    check("*;q=0", ALL, -1);
    check("*;q=0, identity", ALL, CODING_IDENTITY);
    check("*;q=0, gzip", ALL, CODING_GZIP);
    check("identity;q=0", ID, -1);
    check("identity;q=0", ID | GZ, -1);
    check("identity;q=0, gzip", ID | GZ, CODING_GZIP);
    check("br;q=0, *", ALL, CODING_GZIP);
    check("gzip, *;q=0.1", ID | BR, CODING_BR);

    CHECK_STR(coding_name(CODING_GZIP), "gzip", "gzip's name");
    CHECK_STR(coding_name(CODING_BR), "br", "br's name");
    CHECK(coding_name(CODING_IDENTITY) == NULL, "identity has no name");
    return unit_done();
}
