/* test_cookie.c -- unit tests of worker/cookie.c: Set-Cookie values byte for byte, and every refusal (names, values, attributes, SameSite=None, prefixes). */
#include <string.h>

#include "cookie.h"
#include "response.h"
#include "unit.h"

#define NONE { NULL, NULL, -1, -1, NULL, NULL, NULL, 0, 0 }

/* The formatted value of c, or "-1: reason" / "-2". */
static const char *fmt(const struct cookie *c)
{
    static char s[8192];
    struct buf b;
    const char *why = NULL;
    int rc;

    buf_init(&b);
    rc = cookie_format(&b, c, &why);
    if (rc == 0)
        snprintf(s, sizeof s, "%.*s", (int)b.len, b.data);
    else
        snprintf(s, sizeof s, "%d: %s", rc, why ? why : "(none)");
    buf_free(&b);
    return s;
}

static const char *pair(const char *name, const char *value)
{
    struct cookie c = NONE;

    c.name = name;
    c.value = value;
    return fmt(&c);
}

static int refused(const char *s)
{
    return strncmp(s, "-1: ", 4) == 0;
}

static void test_pairs(void)
{
    CHECK_STR(pair("sid", "abc123"), "sid=abc123", "a plain pair");
    CHECK_STR(pair("sid", ""), "sid=", "an empty value");
    CHECK_STR(pair("sid", "\"a b\"") , "-1: the value holds a byte that is not a cookie-octet",
              "a space is no cookie-octet, quoted or not");
    CHECK_STR(pair("sid", "\"abc\""), "sid=\"abc\"", "a quoted value");
    CHECK_STR(pair("sid", "\"\""), "sid=\"\"", "an empty quoted value");
    CHECK_STR(pair("a!#$%&'*+-.^_`|~z", "x"), "a!#$%&'*+-.^_`|~z=x", "every tchar in a name");
    CHECK_STR(pair("sid", "!#$%&'()*+-./:<=>?@[]^_`{|}~"), "sid=!#$%&'()*+-./:<=>?@[]^_`{|}~",
              "every cookie-octet that is punctuation");
    CHECK(refused(pair("", "x")), "an empty name");
    CHECK(refused(pair("s id", "x")), "a space in the name");
    CHECK(refused(pair("s=id", "x")), "'=' in the name");
    CHECK(refused(pair("s;id", "x")), "';' in the name");
    CHECK(refused(pair("s\rid", "x")), "CR in the name");
    CHECK(refused(pair("sid", "a;b")), "';' in the value");
    CHECK(refused(pair("sid", "a,b")), "',' in the value");
    CHECK(refused(pair("sid", "a\\b")), "'\\' in the value");
    CHECK(refused(pair("sid", "a\"b")), "'\"' inside the value");
    CHECK(refused(pair("sid", "\"")), "one '\"' alone");
    CHECK(refused(pair("sid", "a\r\nX-Evil: 1")), "CR LF in the value");
    CHECK(refused(pair("sid", "caf\xc3\xa9")), "a non-ASCII value");
    CHECK(refused(pair(NULL, "x")) && refused(pair("x", NULL)), "NULL name or value");
}

static void test_length(void)
{
    static char big[COOKIE_MAX_PAIR + 2];

    memset(big, 'v', COOKIE_MAX_PAIR - 1);
    big[COOKIE_MAX_PAIR - 1] = '\0';
    CHECK(!refused(pair("n", big)), "name and value of 4096 bytes");
    big[COOKIE_MAX_PAIR - 1] = 'v';
    CHECK_STR(pair("n", big), "-1: name and value are above 4096 bytes", "4097 bytes");
}

static void test_attributes(void)
{
    struct cookie c = NONE;

    c.name = "sid";
    c.value = "1";
    c.expires = 1796205600;                 /* 2026-12-02 10:00:00 UTC */
    c.max_age = 3600;
    c.domain = "example.com";
    c.path = "/app";
    c.secure = c.http_only = 1;
    c.same_site = "lax";
    CHECK_STR(fmt(&c), "sid=1; Expires=Wed, 02 Dec 2026 10:00:00 GMT; Max-Age=3600; "
              "Domain=example.com; Path=/app; Secure; HttpOnly; SameSite=Lax",
              "every attribute, in order, SameSite spelled as RFC 6265bis");
    c.expires = 0;
    c.max_age = 0;
    c.domain = c.path = c.same_site = NULL;
    c.secure = c.http_only = 0;
    CHECK_STR(fmt(&c), "sid=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0",
              "the epoch and Max-Age=0 (a deletion)");
    c.expires = 253402300799LL;
    c.max_age = -1;
    CHECK_STR(fmt(&c), "sid=1; Expires=Fri, 31 Dec 9999 23:59:59 GMT", "the last second of 9999");
    c.expires = 253402300800LL;
    CHECK_STR(fmt(&c), "-1: expires is past the year 9999", "the year 10000");
    c.expires = -2;
    CHECK(refused(fmt(&c)), "a negative expires");
    c.expires = -1;
    c.max_age = -2;
    CHECK(refused(fmt(&c)), "a negative max_age");
    c.max_age = -1;
    c.same_site = "Strict";
    CHECK_STR(fmt(&c), "sid=1; SameSite=Strict", "SameSite=Strict alone");
    c.same_site = "Loose";
    CHECK_STR(fmt(&c), "-1: same_site is not Strict, Lax or None", "an unknown SameSite");
    c.same_site = "none";
    CHECK_STR(fmt(&c), "-1: SameSite=None needs Secure", "SameSite=None without Secure");
    c.secure = 1;
    CHECK_STR(fmt(&c), "sid=1; Secure; SameSite=None", "SameSite=None with Secure");
}

static void test_attribute_values(void)
{
    struct cookie c = NONE;

    c.name = "sid";
    c.value = "1";
    c.path = "/a b";
    CHECK_STR(fmt(&c), "sid=1; Path=/a b", "a space is an av-octet");
    c.path = "/a;b";
    CHECK(refused(fmt(&c)), "';' in the path");
    c.path = "/a\r\nX: 1";
    CHECK(refused(fmt(&c)), "CR LF in the path");
    c.path = "/a\tb";
    CHECK(refused(fmt(&c)), "a tab in the path");
    c.path = "a";
    CHECK(refused(fmt(&c)), "a path not starting with '/'");
    c.path = "";
    CHECK(refused(fmt(&c)), "an empty path");
    c.path = NULL;
    c.domain = ".Example-1.org";
    CHECK_STR(fmt(&c), "sid=1; Domain=.Example-1.org", "a domain with a leading dot");
    c.domain = "a.com; Secure";
    CHECK(refused(fmt(&c)), "an attribute smuggled in the domain");
    c.domain = "";
    CHECK(refused(fmt(&c)), "an empty domain");
}

static void test_prefixes(void)
{
    struct cookie c = NONE;

    c.name = "__Secure-id";
    c.value = "1";
    CHECK_STR(fmt(&c), "-1: a __Secure- cookie needs Secure", "__Secure- without Secure");
    c.secure = 1;
    CHECK_STR(fmt(&c), "__Secure-id=1; Secure", "__Secure- with Secure");
    c.name = "__host-id";
    CHECK(refused(fmt(&c)), "__Host- (any case) without Path=/");
    c.path = "/";
    CHECK_STR(fmt(&c), "__host-id=1; Path=/; Secure", "__Host- with Secure and Path=/");
    c.domain = "example.com";
    CHECK(refused(fmt(&c)), "__Host- with a Domain");
    c.domain = NULL;
    c.path = "/x";
    CHECK(refused(fmt(&c)), "__Host- with another path");
}

static void test_out_unchanged(void)
{
    struct buf b;
    const char *why;
    struct cookie c = NONE;

    buf_init(&b);
    buf_append_str(&b, "kept");
    c.name = "bad name";
    c.value = "x";
    CHECK(cookie_format(&b, &c, &why) == -1 && b.len == 4, "a refusal leaves out as it was");
    c.name = "ok";
    CHECK(cookie_format(&b, &c, &why) == 0 && b.len == 8 && memcmp(b.data, "keptok=x", 8) == 0,
          "a cookie is appended to what out holds");
    buf_free(&b);
}

int main(void)
{
    test_pairs();
    test_length();
    test_attributes();
    test_attribute_values();
    test_prefixes();
    test_out_unchanged();
    return unit_done();
}
