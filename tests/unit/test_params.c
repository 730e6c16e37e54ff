/* test_params.c -- unit tests of worker/params.c: the pair list, urlencoded pairs and Cookie values. */
#include <stdio.h>
#include <string.h>

#include "params.h"
#include "pool.h"
#include "unit.h"

static struct pool p;
static struct kv_list l;

static size_t url(const char *s)
{
    memset(&l, 0, sizeof(l));
    CHECK(params_parse_urlencoded(&p, &l, s, strlen(s)) == 0, "parses \"%.40s\"%s", s,
          strlen(s) > 40 ? "..." : "");
    return l.n;
}

static size_t cookies(const char *s)
{
    memset(&l, 0, sizeof(l));
    CHECK(params_parse_cookies(&p, &l, s, strlen(s)) == 0, "parses cookie \"%s\"", s);
    return l.n;
}

static const char *name(size_t i)
{
    return i < l.n ? l.items[i].name : NULL;
}

static const char *value(size_t i)
{
    return i < l.n ? l.items[i].value : NULL;
}

static void test_pairs(void)
{
    CHECK(url("a=1&b=x+y&c") == 3, "three pairs");
    CHECK_STR(name(0), "a", "first name");
    CHECK_STR(value(0), "1", "first value");
    CHECK_STR(value(1), "x y", "+ is a space");
    CHECK_STR(name(2), "c", "a key without =");
    CHECK_STR(value(2), "", "has the value \"\"");
    CHECK(url("a=&&b=2&") == 2, "empty pieces are skipped");
    CHECK_STR(value(0), "", "a= has an empty value");
    CHECK_STR(name(1), "b", "the pair after an empty piece");
    CHECK(url("k=v=w") == 1, "one pair");
    CHECK_STR(value(0), "v=w", "only the first = splits");
    CHECK(url("") == 0, "an empty string has no pairs");
    CHECK(url("&&&") == 0, "only separators: no pairs");
    CHECK(url("=1") == 1, "an empty name is a pair");
    CHECK_STR(name(0), "", "its name is \"\"");
    CHECK(url("a=1&b=2&a=3") == 3, "repeated names are all kept");
    CHECK_STR(kv_nth(&l, "a", 0), "1", "the first a");
    CHECK_STR(kv_nth(&l, "a", 1), "3", "the second a");
    CHECK(kv_nth(&l, "a", 2) == NULL, "no third a");
    CHECK(kv_nth(&l, "A", 0) == NULL, "names compare exactly");
    CHECK(kv_nth(&l, NULL, 0) == NULL, "a NULL name finds nothing");
}

static void test_escapes(void)
{
    CHECK(url("y=%41%42&w=a%3Db&s=%20%2B+") == 3, "escapes");
    CHECK_STR(value(0), "AB", "two escapes");
    CHECK_STR(value(1), "a=b", "an escaped = in a value");
    CHECK_STR(value(2), " + ", "%%20, %%2B and +");
    CHECK(url("x=%G1&y=%zz&z=%4&t=%") == 4, "pairs with bad escapes are kept");
    CHECK_STR(value(0), "%G1", "%%G1 stays");
    CHECK_STR(value(1), "%zz", "%%zz stays");
    CHECK_STR(value(2), "%4", "a truncated escape stays");
    CHECK_STR(value(3), "%", "a lone %% stays");
    CHECK(url("z%00=1&n=a%00b") == 2, "NUL escapes");
    CHECK_STR(name(0), "z%00", "%%00 in a name stays as three characters");
    CHECK_STR(value(1), "a%00b", "%%00 in a value stays too");
    CHECK(url("v=%%41&u=%4%41&p=%2b%2B") == 3, "escapes next to bad ones");
    CHECK_STR(value(0), "%A", "a %% before an escape");
    CHECK_STR(value(1), "%4A", "a truncated escape before a good one");
    CHECK_STR(value(2), "++", "escapes in either case");
    CHECK(url("%C3%A9t%C3%A9=caf%C3%A9") == 1, "UTF-8");
    CHECK_STR(name(0), "\xc3\xa9t\xc3\xa9", "decoded name bytes");
    CHECK_STR(value(0), "caf\xc3\xa9", "decoded value bytes");
}

static void test_no_cap(void)
{
    static char buf[16384];
    char *o = buf;
    char want[24];
    size_t i, n;
    int ok = 1;

    for (i = 0; i < 1000; i++)
        o += sprintf(o, "%sk%zu=%zu", i ? "&" : "", i, i);
    n = url(buf);
    CHECK(n == 1000, "1000 pairs, no cap (%zu)", n);
    for (i = 0; i < n; i++) {
        snprintf(want, sizeof(want), "%zu", i);
        ok = ok && strcmp(value(i), want) == 0;
    }
    CHECK(ok, "every value, in order");
    CHECK(kv_at(&l, 999, NULL, NULL) == 0, "kv_at on the last");
    CHECK(kv_at(&l, 1000, NULL, NULL) == -1, "kv_at past the last");
    memset(&l, 0, sizeof(l));
    CHECK(params_parse_urlencoded(&p, &l, "a=1", 3) == 0 &&
          params_parse_urlencoded(&p, &l, "b=2", 3) == 0 && l.n == 2,
          "a second parse appends to the list");
    CHECK(kv_push(&p, &l, "c", "3") == 0 && l.n == 3 && strcmp(value(2), "3") == 0,
          "another parser pushes onto the same list");
}

static void test_raw_bytes(void)
{
    static const char body[] = "a=x\0y&b=2";

    memset(&l, 0, sizeof(l));
    CHECK(params_parse_urlencoded(&p, &l, body, sizeof(body) - 1) == 0 && l.n == 2,
          "a raw NUL does not end the input");
    CHECK_STR(value(0), "x", "it ends that value as a C string");
    CHECK_STR(value(1), "2", "the pair after it");
    memset(&l, 0, sizeof(l));
    CHECK(params_parse_urlencoded(&p, &l, "a=1&b=2", 3) == 0 && l.n == 1,
          "only len bytes are read");
}

static void test_cookies(void)
{
    CHECK(cookies("a=1; b=\"quoted\"; a=2") == 3, "three cookies");
    CHECK_STR(name(0), "a", "first name");
    CHECK_STR(value(0), "1", "first value");
    CHECK_STR(value(1), "quoted", "quotes removed");
    CHECK_STR(kv_nth(&l, "a", 1), "2", "a repeated name is kept");
    CHECK(cookies("  x = 1 ;\ty=2\t;z=  ") == 3, "white space around pairs");
    CHECK_STR(name(0), "x", "name trimmed");
    CHECK_STR(value(0), "1", "value trimmed");
    CHECK_STR(value(1), "2", "tabs trimmed");
    CHECK_STR(value(2), "", "an empty value");
    CHECK(cookies("flag; =v; ;; k=v") == 1, "no '=', empty names, empty pieces skipped");
    CHECK_STR(name(0), "k", "the one left");
    CHECK(cookies("q=\"\"; r=\"; s=\"a\"b\"; t=a\"b\"") == 4, "quote edge cases");
    CHECK_STR(value(0), "", "\"\" is empty");
    CHECK_STR(value(1), "\"", "a lone quote stays");
    CHECK_STR(value(2), "a\"b", "only the outer quotes go");
    CHECK_STR(value(3), "a\"b\"", "no opening quote: kept");
    CHECK(cookies("e=a%20b+c; j={\"k\":1}; b64=YQ==") == 3, "opaque values");
    CHECK_STR(value(0), "a%20b+c", "no percent-decoding, '+' stays");
    CHECK_STR(value(1), "{\"k\":1}", "JSON-ish value");
    CHECK_STR(value(2), "YQ==", "only the first '=' splits");
    CHECK(cookies("") == 0, "an empty header");
    CHECK(cookies(";") == 0, "only a separator");
    memset(&l, 0, sizeof(l));
    CHECK(params_parse_cookies(&p, &l, "a=1", 3) == 0 &&
          params_parse_cookies(&p, &l, "b=2; a=3", 8) == 0 && l.n == 3,
          "several Cookie lines append");
    CHECK_STR(kv_nth(&l, "a", 1), "3", "the second line's a after the first's");
}

int main(void)
{
    pool_init(&p, 4096);
    test_pairs();
    test_escapes();
    test_no_cap();
    test_raw_bytes();
    test_cookies();
    pool_free(&p);
    return unit_done();
}
