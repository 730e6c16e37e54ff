/* test_router_url.c -- unit tests of URL paths built from route patterns (router_url.c). */
#include <stdio.h>
#include <string.h>

#include "pool.h"
#include "router_url.h"
#include "unit.h"

static struct pool pool;
static char err[512];

/* Builds pattern with the NULL-ended pairs; the path, or "NULL". */
static const char *build(const char *pattern, const char *const *kv)
{
    size_t n = 0;
    char *s;

    while (kv[2 * n] != NULL)
        n++;
    err[0] = '\0';
    s = router_url_build(&pool, pattern, kv, n, err, sizeof err);
    return s ? s : "NULL";
}

#define KV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NONE ((const char *const[]){ NULL })

static void test_paths(void)
{
    CHECK_STR(build("/", NONE), "/", "the root");
    CHECK_STR(build("/about/", NONE), "/about/", "a trailing slash");
    CHECK_STR(build("/a/b", NONE), "/a/b", "literals");
    CHECK_STR(build("/notes/{id:int}", KV("id", "42")), "/notes/42", "an int");
    CHECK_STR(build("/notes/{id:int}", KV("id", "-7")), "/notes/-7", "a negative int");
    CHECK_STR(build("/u/{name}/x", KV("name", "bob")), "/u/bob/x", "a capture inside");
    CHECK_STR(build("/u/{a}/{b}", KV("b", "2", "a", "1")), "/u/1/2", "pairs in any order");
    CHECK_STR(build("/u/{n:[a-z]+}", KV("n", "abc")), "/u/abc", "a regex capture");
    CHECK_STR(build("/u/{n:[a-z]{2}}/z", KV("n", "ab")), "/u/ab/z", "braces in a regex");
    CHECK_STR(build("/f/{path:*}", KV("path", "a/b c/d.txt")), "/f/a/b%20c/d.txt",
              "a tail keeps its slashes");
    CHECK_STR(build("/f/{path:*}", KV("path", "")), "/f/", "an empty tail");
    CHECK_STR(build("/{path:*}", KV("path", "")), "/", "the root tail");
    CHECK_STR(build("/f/{path:*}", KV("path", "dir/")), "/f/dir/", "a tail's trailing slash");
}

static void test_encoding(void)
{
    CHECK_STR(build("/u/{n}", KV("n", "a b")), "/u/a%20b", "a space");
    CHECK_STR(build("/u/{n}", KV("n", "a/b")), "/u/a%2Fb", "a slash in a segment");
    CHECK_STR(build("/u/{n}", KV("n", "100%")), "/u/100%25", "a percent sign");
    CHECK_STR(build("/u/{n}", KV("n", "a?b#c")), "/u/a%3Fb%23c", "query and fragment marks");
    CHECK_STR(build("/u/{n}", KV("n", "J\xc3\xbcrgen")), "/u/J%C3%BCrgen", "UTF-8 bytes");
    CHECK_STR(build("/u/{n}", KV("n", "-._~!$&'()*+,;=:@")), "/u/-._~!$&'()*+,;=:@",
              "unreserved, sub-delims, ':' and '@' stay");
    CHECK_STR(build("/u/{n}", KV("n", "\"<>\\^`{|}")), "/u/%22%3C%3E%5C%5E%60%7B%7C%7D",
              "the other ASCII marks are encoded");
    CHECK_STR(build("/f/{p:*}", KV("p", "a%/?b")), "/f/a%25/%3Fb", "a tail encodes but '/'");
    CHECK_STR(build("/a b/{n}", KV("n", "x")), "/a%20b/x", "a literal is encoded too");
    CHECK_STR(build("/u/{n}", KV("n", "..a")), "/u/..a", "dots inside a value");
}

static void test_refusals(void)
{
    CHECK_STR(build("/u/{n}", NONE), "NULL", "a missing value");
    CHECK(strstr(err, "no value for {n}") != NULL, "says which: %s", err);
    CHECK_STR(build("/u/{n}", KV("n", "x", "m", "y")), "NULL", "an extra parameter");
    CHECK(strstr(err, "parameter 'm' names no capture") != NULL, "says which: %s", err);
    CHECK_STR(build("/u/{n}", KV("n", "x", "n", "y")), "NULL", "a parameter twice");
    CHECK(strstr(err, "'n' given twice") != NULL, "says so: %s", err);
    CHECK_STR(build("/n/{id:int}", KV("id", "12x")), "NULL", "an int that is not");
    CHECK(strstr(err, "{id:int} is '12x', not an integer") != NULL, "says so: %s", err);
    CHECK_STR(build("/n/{id:int}", KV("id", "99999999999999999999")), "NULL",
              "an int out of range");
    CHECK_STR(build("/n/{id:int}", KV("id", "")), "NULL", "an empty int");
    CHECK_STR(build("/u/{n}", KV("n", "")), "NULL", "an empty segment value");
    CHECK(strstr(err, "empty value") != NULL, "says so: %s", err);
    CHECK_STR(build("/u/{n}", KV("n", ".")), "NULL", "a '.' value");
    CHECK_STR(build("/u/{n}", KV("n", "..")), "NULL", "a '..' value");
    CHECK(strstr(err, "dot-segment") != NULL, "says so: %s", err);
    CHECK_STR(build("/f/{p:*}", KV("p", "a/../b")), "NULL", "a '..' piece of a tail");
    CHECK_STR(build("/f/{p:*}", KV("p", "./b")), "NULL", "a '.' piece of a tail");
    CHECK_STR(build("/u/{n}", KV("n", NULL)), "NULL", "a NULL value");
    CHECK_STR(build("/a", KV("x", "1")), "NULL", "a parameter for a pattern without captures");
}

int main(void)
{
    pool_init(&pool, 4096);
    test_paths();
    test_encoding();
    test_refusals();
    pool_free(&pool);
    return unit_done();
}
