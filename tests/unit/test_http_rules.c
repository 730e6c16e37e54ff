/* test_http_rules.c -- unit tests of worker/http_rules.c: tokens, field lines, hosts, methods and request targets. */
#include <string.h>

#include "http_rules.h"
#include "pool.h"
#include "unit.h"

#define TOKEN(s) http_is_token((s), strlen(s))

static void test_tokens(void)
{
    CHECK(TOKEN("Content-Length"), "a field name is a token");
    CHECK(TOKEN("!#$%&'*+-.^_`|~09Az"), "every tchar class");
    CHECK(!TOKEN("Content-Length "), "a trailing space is not");
    CHECK(!TOKEN("X Test") && !TOKEN("X\tY"), "inner white space is not");
    CHECK(!TOKEN("(X)") && !TOKEN("X@Y") && !TOKEN("a:b") && !TOKEN("a\"b"), "delimiters are not");
    CHECK(!http_is_token("a\x7f", 2) && !http_is_token("a\x80", 2) && !http_is_token("a\0b", 3),
          "DEL, 8-bit and NUL are not");
    CHECK(http_is_token("", 0), "an empty run holds no bad byte");
}

static void test_value_line(void)
{
    const char *a = "X: v", *b = "X:\t \tv", *c = "X:v", *d = "X:\r\n v", *e = "X :v";

    CHECK(http_value_on_name_line(a + 1, a + 3), "\": \" then the value");
    CHECK(http_value_on_name_line(b + 1, b + 5), "tabs and spaces");
    CHECK(http_value_on_name_line(c + 1, c + 2), "no white space");
    CHECK(!http_value_on_name_line(d + 1, d + 5), "a line break before the value: obs-fold");
    CHECK(!http_value_on_name_line(e + 1, e + 3), "no colon right after the name");
}

static void test_hosts(void)
{
    static const char *const good[] = {
        "", "example.com", "example.com:8080", "127.0.0.1", "[::1]", "[::1]:80",
        "[2001:db8::1]:443", "xn--d1acufc.xn--p1ai", "a_b-c~d", "%41b", "h:",
    };
    static const char *const bad[] = {
        "a b", "a/b", "a@b", "[::1", "[::1]x", "a:b", "a:80:81", "[g::1]", "a?b", "a#b",
        "exa\tmple",
    };

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK(http_host_ok(good[i]), "a valid host: \"%s\"", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(!http_host_ok(bad[i]), "an invalid host: \"%s\"", bad[i]);
}

static void test_methods(void)
{
    const char *l1 = "BREW /pot HTTP/1.1", *l2 = "G(T / HTTP/1.1", *l3 = " GET /";

    CHECK(http_method_token(l1, l1 + strlen(l1)), "an unknown token method");
    CHECK(!http_method_token(l2, l2 + strlen(l2)), "a method that is no token");
    CHECK(!http_method_token(l3, l3 + strlen(l3)), "no method before the space");
    CHECK(!http_method_token(l1, l1 + 4), "a method cut by the end of what was read");
}

static void test_targets(void)
{
    struct pool p;
    struct http_target t;
    char a[] = "/a/b?x=1#frag", b[] = "http://h.example:81/p?q", c[] = "https://h?q",
         d[] = "http://u@h/", e[] = "http:///x", f[] = "*", g[] = "a/b", h[] = "/#only",
         i[] = "/p/q?b?c", j[] = "/users";

    pool_init(&p, 1024);
    CHECK(http_split_target(&p, a, &t) == 0, "origin-form");
    CHECK(t.plen == 4 && strncmp(t.path, "/a/b", 4) == 0 && strcmp(t.query, "x=1") == 0 &&
          t.authority == NULL, "path, query, no authority, fragment dropped");
    CHECK(http_split_target(&p, b, &t) == 0 && t.alen == 12 &&
          strncmp(t.authority, "h.example:81", 12) == 0, "absolute-form authority");
    CHECK(strncmp(t.path, "/p", t.plen) == 0 && strcmp(t.query, "q") == 0, "... its path and query");
    CHECK(http_split_target(&p, c, &t) == 0 && t.plen == 1 && t.path[0] == '/' &&
          strcmp(t.query, "q") == 0, "no path: \"/\" with the query");
    CHECK(http_split_target(&p, d, &t) == -1, "userinfo is refused");
    CHECK(http_split_target(&p, e, &t) == -1, "an empty authority is refused");
    CHECK(http_split_target(&p, f, &t) == -1 && http_split_target(&p, g, &t) == -1,
          "asterisk-form and relative targets are refused");
    CHECK(http_split_target(&p, h, &t) == 0 && t.plen == 1 && t.query[0] == '\0',
          "a fragment alone leaves \"/\"");
    CHECK(http_split_target(&p, i, &t) == 0 && t.plen == 4 && strcmp(t.query, "b?c") == 0,
          "the query runs from the first '?'");
    CHECK(http_split_target(&p, j, &t) == 0 && t.plen == 6 && t.query[0] == '\0',
          "a path alone");
    pool_free(&p);
}

int main(void)
{
    test_tokens();
    test_value_line();
    test_hosts();
    test_methods();
    test_targets();
    return unit_done();
}
