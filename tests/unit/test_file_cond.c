/* test_file_cond.c -- unit tests of worker/file_cond.c: the ETag's form, If-None-Match lists (weak comparison, "*", bad members), IMF-fixdates, one-range Range values (forms, clamping, 416 cases, what is ignored) and If-Range. */
#include <stdio.h>
#include <string.h>

#include "file_cond.h"
#include "unit.h"

/* Each check described by its own text. */
#define C(x) CHECK(x, "%s", #x)
#define CS(got, want) CHECK_STR(got, want, "%s is %s", #got, want)

static char s[128];

/* A Range value's result as text: "whole", "unsat" or "first-last". */
static const char *range(const char *v, long long size)
{
    long long a = -7, b = -7;

    switch (file_range_parse(v, size, &a, &b)) {
    case FILE_RANGE_WHOLE:
        return "whole";
    case FILE_RANGE_UNSAT:
        return "unsat";
    default:
        snprintf(s, sizeof s, "%lld-%lld", a, b);
        return s;
    }
}

int main(void)
{
    const char *e = "\"1a-400-5f.1dcd6500\"";
    long long t = 0;

    file_etag(s, 0x1a, 1024, 0x5f, 500000000L);
    CS(s, e);

    C(file_etag_match_weak(e, e));
    C(file_etag_match_weak("W/\"1a-400-5f.1dcd6500\"", e));
    C(file_etag_match_weak(" \"x\" , W/\"y\",\"1a-400-5f.1dcd6500\"", e));
    C(file_etag_match_weak("*", e));
    C(file_etag_match_weak(" * ", e));
    C(!file_etag_match_weak("\"x\"", e));
    C(!file_etag_match_weak("1a-400-5f.1dcd6500", e));          /* unquoted */
    C(!file_etag_match_weak("bad, \"1a-400-5f.1dcd6500\"", e));  /* list ends */
    C(!file_etag_match_weak("\"x", e));
    C(!file_etag_match_weak("*, \"x\"", e));
    C(!file_etag_match_weak("", e));

    C(file_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t) == 0);
    C(t == 784111777LL);
    C(file_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t) == -1);
    C(file_http_date_parse("Sun Nov  6 08:49:37 1994", &t) == -1);
    C(file_http_date_parse("Sun, 06 Nov 1994 08:49:37 UTC", &t) == -1);
    C(file_http_date_parse("", &t) == -1);

    CS(range("bytes=0-99", 1000), "0-99");
    CS(range("bytes=0-", 1000), "0-999");
    CS(range("bytes=990-5000", 1000), "990-999");
    CS(range("bytes=-10", 1000), "990-999");
    CS(range("bytes=-5000", 1000), "0-999");
    CS(range("Bytes= 5-5 ", 1000), "5-5");
    CS(range("bytes=4294967301-", 4294971392LL), "4294967301-4294971391");
    CS(range("bytes=1000-", 1000), "unsat");
    CS(range("bytes=1000-2000", 1000), "unsat");
    CS(range("bytes=-0", 1000), "unsat");
    CS(range("bytes=0-", 0), "unsat");
    CS(range("bytes=-5", 0), "whole");
    CS(range("bytes=0-1,5-6", 1000), "whole");
    CS(range("bytes=5-1", 1000), "whole");
    CS(range("bytes=-", 1000), "whole");
    CS(range("bytes=a-b", 1000), "whole");
    CS(range("items=0-1", 1000), "whole");
    CS(range("bytes=99999999999999999999-", 1000), "whole");
    CS(range("bytes=0-1x", 1000), "whole");

    C(file_if_range(e, e, 0x5f));
    C(!file_if_range("W/\"1a-400-5f.1dcd6500\"", e, 0x5f));     /* weak: never */
    C(!file_if_range("\"x\"", e, 0x5f));
    C(file_if_range("Sun, 06 Nov 1994 08:49:37 GMT", e, 784111777LL));
    C(!file_if_range("Sun, 06 Nov 1994 08:49:38 GMT", e, 784111777LL));
    C(!file_if_range("garbage", e, 784111777LL));
    return unit_done();
}
