/* test_router.c -- unit tests of route registration and matching. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "pool.h"
#include "router.h"
#include "unit.h"
#include "url.h"

static struct pool pool;
static struct route_match m;
static char allow[128];

static int handler(kiln_req *req, void *data)
{
    (void)req;
    (void)data;
    return KILN_OK;
}

/* Adds a route whose data is its own label; 0 or -1. */
static int add(struct router *r, const char *method, const char *pattern,
               const char *label)
{
    char err[256];

    return router_add(r, method, pattern, handler, (void *)label, NULL, err,
                      sizeof err) ? 0 : -1;
}

/* Matches method and raw path; returns the matched label, or "404"/"405"
 * (allow then holds the methods), or "400" for a bad path. */
static const char *match(const struct router *r, const char *method,
                         const char *path)
{
    char *segs[URL_MAX_SEGMENTS], *dec;
    int n;

    pool_reset(&pool);
    n = url_split_path(&pool, path, strlen(path), segs, &dec);
    if (n < 0)
        return "400";
    allow[0] = '\0';
    switch (router_match(r, method, dec, segs, n, &m, allow, sizeof allow)) {
    case ROUTER_FOUND:
        return m.route->data;
    case ROUTER_METHOD_NOT_ALLOWED:
        return "405";
    default:
        return "404";
    }
}

/* The value captured as name by the last match, or NULL. */
static const char *param(const char *name)
{
    unsigned i;

    for (i = 0; i < m.nparams; i++)
        if (strcmp(m.names[i], name) == 0)
            return m.values[i];
    return NULL;
}

static void test_static(void)
{
    struct router *r = router_new();

    add(r, "GET", "/", "root");
    add(r, "GET", "/users", "users");
    add(r, "GET", "/users/list", "list");
    add(r, "GET", "/about/", "about/");
    CHECK(router_count(r) == 4, "four routes");
    CHECK_STR(match(r, "GET", "/"), "root", "the root");
    CHECK_STR(match(r, "GET", "/users"), "users", "a static route");
    CHECK_STR(match(r, "GET", "/users/list"), "list", "a nested static route");
    CHECK(m.nparams == 0, "no params");
    CHECK_STR(match(r, "GET", "/users/"), "404", "no trailing-slash route");
    CHECK_STR(match(r, "GET", "/about/"), "about/", "a trailing-slash route");
    CHECK_STR(match(r, "GET", "/about"), "404", "which needs the slash");
    CHECK_STR(match(r, "GET", "/nope"), "404", "an unknown path");
    CHECK_STR(match(r, "GET", "/users/list/x"), "404", "a longer path");
    CHECK_STR(match(r, "GET", "//users"), "404", "an empty first segment");
    router_free(r);
}

static void test_params(void)
{
    struct router *r = router_new();

    add(r, "GET", "/{name}", "name");
    add(r, "GET", "/users/{id:[0-9]+}", "id");
    add(r, "GET", "/users/{name}", "uname");
    add(r, "GET", "/users/me", "me");
    add(r, "GET", "/files/{dir}/{file}", "file");
    CHECK_STR(match(r, "GET", "/bob"), "name", "a capture");
    CHECK_STR(param("name"), "bob", "its value");
    CHECK_STR(match(r, "GET", "/J%C3%BCrgen"), "name", "a percent-encoded capture");
    CHECK_STR(param("name"), "J\xc3\xbcrgen", "is decoded");
    CHECK_STR(match(r, "GET", "/a%2Fb"), "name", "%%2F stays in one segment");
    CHECK_STR(param("name"), "a/b", "its value has the slash");
    CHECK_STR(match(r, "GET", "/users/42"), "id", "the regex capture comes first");
    CHECK_STR(param("id"), "42", "the id");
    CHECK(param("name") == NULL, "only the matched captures");
    CHECK_STR(match(r, "GET", "/users/4x2"), "uname", "then the plain capture");
    CHECK_STR(param("name"), "4x2", "the name");
    CHECK_STR(match(r, "GET", "/users/me"), "me", "a literal beats captures");
    CHECK_STR(match(r, "GET", "/files/a/b.txt"), "file", "two captures");
    CHECK(m.nparams == 2, "two params");
    CHECK_STR(param("dir"), "a", "first");
    CHECK_STR(param("file"), "b.txt", "second");
    CHECK_STR(match(r, "GET", "/users/"), "404", "a capture needs a non-empty segment");
    router_free(r);
}

static void test_backtracking(void)
{
    struct router *r = router_new();

    add(r, "GET", "/a/{x}/c", "axc");
    add(r, "GET", "/{y}/b/c", "ybc");
    add(r, "GET", "/{y}/b/d", "ybd");
    add(r, "GET", "/n/{v:[a-z]+}/{w}", "regex");
    add(r, "GET", "/n/{any}/end", "any");
    CHECK_STR(match(r, "GET", "/a/z/c"), "axc", "the literal branch");
    CHECK_STR(param("x"), "z", "its capture");
    CHECK_STR(match(r, "GET", "/a/b/d"), "ybd", "backtracks from the literal");
    CHECK(m.nparams == 1, "dropped the abandoned capture");
    CHECK_STR(param("y"), "a", "kept the new one");
    CHECK_STR(match(r, "GET", "/a/b/c"), "axc", "the literal branch wins a tie");
    CHECK_STR(match(r, "GET", "/q/b/c"), "ybc", "the capture branch");
    CHECK_STR(match(r, "GET", "/n/abc/end"), "regex", "first capture in registration order");
    CHECK_STR(match(r, "GET", "/n/123/end"), "any", "the regex refuses, the next capture takes it");
    CHECK_STR(param("any"), "123", "its value");
    router_free(r);
}

static void test_methods(void)
{
    struct router *r = router_new();

    add(r, "GET", "/x", "get");
    add(r, "POST", "/x", "post");
    add(r, "PUT", "/y", "put");
    add(r, "*", "/any", "any");
    add(r, "GET", "/any", "anyget");
    add(r, "HEAD", "/h", "head");
    add(r, "GET", "/h", "hget");
    add(r, "GET", "/{p}", "pget");
    add(r, "DELETE", "/{p}", "pdel");
    CHECK_STR(match(r, "POST", "/x"), "post", "by method");
    CHECK_STR(match(r, "GET", "/x"), "get", "by method again");
    CHECK_STR(match(r, "DELETE", "/x"), "pdel", "the capture node has the method");
    CHECK_STR(match(r, "PATCH", "/x"), "405", "no node has the method");
    CHECK_STR(allow, "DELETE, GET, HEAD, POST", "Allow unites every matching node");
    CHECK_STR(match(r, "PATCH", "/zzz"), "405", "405 on the capture only");
    CHECK_STR(allow, "DELETE, GET, HEAD", "Allow adds HEAD for GET");
    CHECK_STR(match(r, "HEAD", "/x"), "get", "HEAD falls back to GET");
    CHECK_STR(match(r, "HEAD", "/h"), "head", "an explicit HEAD route wins");
    CHECK_STR(match(r, "GET", "/y"), "pget", "/y GET goes to the capture");
    CHECK_STR(match(r, "DELETE", "/any"), "any", "* takes any method");
    CHECK_STR(match(r, "GET", "/any"), "anyget", "an exact method beats *");
    CHECK_STR(match(r, "GET", "/a/b"), "404", "404 leaves allow alone");
    CHECK_STR(allow, "", "allow is empty");
    router_free(r);

    r = router_new();
    add(r, "POST", "/form", "p");
    add(r, "GET", "/form", "g");
    CHECK_STR(match(r, "PUT", "/form"), "405", "405");
    CHECK_STR(allow, "GET, HEAD, POST", "the exact Allow header");
    CHECK(router_match(r, "PUT", "/form", (char *[]){"form"}, 1, &m, allow, 10) ==
          ROUTER_METHOD_NOT_ALLOWED, "a short allow buffer");
    CHECK_STR(allow, "GET, HEAD", "keeps whole methods");
    router_free(r);
}

/* {name:*} takes the rest of the path, slashes and a trailing slash
 * included, and never an encoded slash. */
static void test_tail(void)
{
    struct router *r = router_new();

    add(r, "GET", "/static/{path:*}", "static");
    add(r, "GET", "/static/index", "index");
    add(r, "GET", "/u/{name}/files/{rest:*}", "files");
    CHECK_STR(match(r, "GET", "/static/a/b/c.txt"), "static", "several segments");
    CHECK_STR(param("path"), "a/b/c.txt", "joined by '/'");
    CHECK_STR(match(r, "GET", "/static/a.css"), "static", "one segment");
    CHECK_STR(param("path"), "a.css", "one segment's value");
    CHECK_STR(match(r, "GET", "/static/dir/"), "static", "a trailing slash");
    CHECK_STR(param("path"), "dir/", "keeps the trailing slash");
    CHECK_STR(match(r, "GET", "/static/"), "static", "the prefix and a slash");
    CHECK_STR(param("path"), "", "the rest is empty");
    CHECK_STR(match(r, "GET", "/static"), "404", "no slash after the prefix: no match");
    CHECK_STR(match(r, "GET", "/static/index"), "index", "a literal goes first");
    CHECK_STR(match(r, "GET", "/static/index/x"), "static", "and the tail backtracks");
    CHECK_STR(param("path"), "index/x", "past the literal");
    CHECK_STR(match(r, "GET", "/static/a%20b/c%25d"), "static", "escapes");
    CHECK_STR(param("path"), "a b/c%d", "decoded");
    CHECK_STR(match(r, "GET", "/static/a%2Fb"), "404", "an encoded slash is not a segment break");
    CHECK_STR(match(r, "GET", "/static/x/a%2fb/c"), "404", "anywhere in the rest");
    CHECK_STR(match(r, "GET", "/static/a/./b/../c"), "static", "dot-segments removed first");
    CHECK_STR(param("path"), "a/c", "before the tail is taken");
    CHECK_STR(match(r, "GET", "/static/a/%2e%2e/b"), "400", "an encoded dot-dot never reaches it");
    CHECK_STR(match(r, "POST", "/static/a"), "405", "other methods: 405");
    CHECK_STR(allow, "GET, HEAD", "with the tail route's methods");
    CHECK_STR(match(r, "GET", "/u/ann/files/x/y"), "files", "after other captures");
    CHECK_STR(param("name"), "ann", "the earlier capture");
    CHECK_STR(param("rest"), "x/y", "and the tail");
    router_free(r);

    r = router_new();
    add(r, "GET", "/{all:*}", "all");
    add(r, "GET", "/api/{x}", "api");
    CHECK_STR(match(r, "GET", "/"), "all", "a root tail takes /");
    CHECK_STR(param("all"), "", "as \"\"");
    CHECK_STR(match(r, "GET", "/api/v"), "api", "more specific routes first");
    CHECK_STR(match(r, "GET", "/api/v/w"), "all", "the tail catches the rest");
    CHECK_STR(param("all"), "api/v/w", "from the root");
    router_free(r);
}

static void test_errors(void)
{
    static const char *const bad[][2] = {
        {"users", "must start with '/'"},
        {"", "must start with '/'"},
        {"/{name", "unbalanced braces"},
        {"/name}", "unbalanced braces"},
        {"/{a}}", "unbalanced braces"},
        {"/{}", "empty capture name"},
        {"/{:[0-9]+}", "empty capture name"},
        {"/{1a}", "bad capture name '1a'"},
        {"/{a-b}", "bad capture name 'a-b'"},
        {"/{id:}", "empty regex"},
        {"/{id:(}", "bad regex '('"},
        {"/a{b}", "mixes text and a capture"},
        {"/{a}b", "mixes text and a capture"},
        {"/{a}{b}", "mixes text and a capture"},
        {"/{a}/x/{a}", "capture name 'a' used twice"},
        {"/{rest:*}/x", "the tail capture {rest:*} must be the last segment"},
        {"/a/{rest:*}/{b}", "the tail capture {rest:*} must be the last segment"},
        {"/{:*}", "empty capture name"},
        {"/{a}/{a:*}", "capture name 'a' used twice"},
    };
    struct router *r = router_new();
    char err[256], pat[256];
    size_t i;
    int k;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK(router_add(r, "GET", bad[i][0], handler, NULL, NULL, err,
                         sizeof err) == NULL && strstr(err, bad[i][1]),
              "'%s' is refused: %s", bad[i][0], err);
    }
    CHECK(router_add(r, "", "/", handler, NULL, NULL, err, sizeof err) == NULL &&
          strstr(err, "empty method"), "an empty method is refused");
    for (k = 0, pat[0] = '\0'; k <= ROUTER_MAX_PARAMS; k++)
        snprintf(pat + strlen(pat), sizeof pat - strlen(pat), "/{p%d}", k);
    CHECK(router_add(r, "GET", pat, handler, NULL, NULL, err, sizeof err) == NULL &&
          strstr(err, "more than 16 captures"), "too many captures: %s", err);
    CHECK(router_count(r) == 0, "nothing was registered");
    CHECK(add(r, "GET", "/{name}", "n") == 0, "a first registration");
    CHECK(router_add(r, "GET", "/{name}", handler, NULL, NULL, err, sizeof err) == NULL,
          "the same method and pattern again is refused");
    CHECK_STR(err, "GET /{name} is already registered", "the duplicate message");
    CHECK(add(r, "POST", "/{name}", "p") == 0, "another method on the pattern");
    CHECK(add(r, "GET", "/{other}", "o") == 0, "another capture name is another pattern");
    CHECK(add(r, "GET", "/{id:[0-9]{2}}", "re") == 0, "braces inside a regex");
    CHECK(add(r, "GET", "/r/{p:[^/]+}", "slash") == 0, "a slash inside a regex");
    CHECK_STR(match(r, "GET", "/12"), "n", "the first capture in registration order");
    CHECK_STR(match(r, "GET", "/r/x"), "slash", "the regex with a slash matches");
    CHECK(router_count(r) == 5, "five routes");
    router_free(r);
}

static void test_int(void)
{
    struct router *r = router_new();
    long long v;

    add(r, "GET", "/notes/{id:int}", "int");
    add(r, "GET", "/notes/{slug}", "slug");
    add(r, "GET", "/n/{id:int}/x", "deep");
    CHECK_STR(match(r, "GET", "/notes/42"), "int", "an int capture");
    CHECK_STR(param("id"), "42", "its text");
    CHECK_STR(match(r, "GET", "/notes/-7"), "int", "a negative int");
    CHECK_STR(match(r, "GET", "/notes/007"), "int", "leading zeros");
    CHECK_STR(match(r, "GET", "/notes/9223372036854775807"), "int", "LLONG_MAX");
    CHECK_STR(match(r, "GET", "/notes/-9223372036854775808"), "int", "LLONG_MIN");
    CHECK_STR(match(r, "GET", "/notes/9223372036854775808"), "slug", "LLONG_MAX + 1 is no int");
    CHECK_STR(match(r, "GET", "/notes/-9223372036854775809"), "slug", "LLONG_MIN - 1 is no int");
    CHECK_STR(match(r, "GET", "/notes/12x"), "slug", "trailing text is no int");
    CHECK_STR(match(r, "GET", "/notes/+1"), "slug", "a plus sign is no int");
    CHECK_STR(match(r, "GET", "/notes/-"), "slug", "a lone minus is no int");
    CHECK_STR(match(r, "GET", "/notes/%201"), "slug", "a space is no int");
    CHECK_STR(match(r, "GET", "/n/1/x"), "deep", "an int inside a pattern");
    CHECK_STR(match(r, "GET", "/n/a/x"), "404", "no int, no route");
    CHECK_STR(match(r, "GET", "/n/99999999999999999999/x"), "404", "out of range, no route");
    CHECK(router_parse_int("0", &v) == 0 && v == 0, "0");
    CHECK(router_parse_int("-0", &v) == 0 && v == 0, "-0");
    CHECK(router_parse_int("-9223372036854775808", &v) == 0 && v == LLONG_MIN, "LLONG_MIN value");
    CHECK(router_parse_int("9223372036854775807", &v) == 0 && v == LLONG_MAX, "LLONG_MAX value");
    CHECK(router_parse_int("18446744073709551616", &v) < 0, "2^64");
    CHECK(router_parse_int("", &v) < 0, "empty");
    CHECK(router_parse_int(" 1", &v) < 0, "a space");
    router_free(r);
}

static void test_clash(void)
{
    struct router *r = router_new();
    struct plugin *a = (struct plugin *)"a", *b = (struct plugin *)"b";
    char err[256];

    CHECK(router_add(r, "GET", "/x/{id:int}", handler, "a1", a, err, sizeof err) != NULL,
          "a first route of plugin a");
    CHECK(router_clash(r) == NULL, "no clash yet");
    CHECK(router_add(r, "GET", "/x/{n:int}", handler, "b1", b, err, sizeof err) == NULL,
          "the same shape from plugin b is refused");
    CHECK_STR(err, "GET /x/{n:int} takes the paths of GET /x/{id:int}", "the message");
    CHECK(router_clash(r) && router_clash(r)->plugin == a, "the clash is plugin a's route");
    CHECK(router_add(r, "GET", "/x/{id:int}", handler, "b2", b, err, sizeof err) == NULL &&
          strstr(err, "already registered"), "the same pattern from plugin b");
    CHECK(router_add(r, "POST", "/x/{n:int}", handler, "b3", b, err, sizeof err) != NULL,
          "another method is no clash");
    CHECK(router_add(r, "GET", "/x/{n}", handler, "b4", b, err, sizeof err) != NULL,
          "another kind of capture is no clash");
    CHECK(router_add(r, "GET", "/x/{n:int}", handler, "a2", a, err, sizeof err) != NULL,
          "the same plugin may register the shape twice (registration order)");
    router_free(r);
}

static void test_names_and_mounts(void)
{
    struct router *r = router_new();
    const struct route *rt, *other;
    struct route *m;
    char err[256];

    m = router_add_mounted(r, " /api/v1  /api/v2 ", "GET", "/notes/{id:int}", handler,
                           "note", NULL, err, sizeof err);
    CHECK(m != NULL && m->twin != NULL && m->twin->twin == NULL, "two mounted routes");
    CHECK_STR(m->pattern, "/api/v1/notes/{id:int}", "under the first prefix");
    CHECK(m->prefix_len == 7, "its prefix length");
    CHECK_STR(m->twin->pattern, "/api/v2/notes/{id:int}", "under the second");
    CHECK_STR(match(r, "GET", "/api/v2/notes/3"), "note", "served under the second");
    CHECK_STR(match(r, "GET", "/notes/3"), "404", "not without a prefix");
    CHECK(router_name(r, m, "note", &other, err, sizeof err) == 0, "named");
    CHECK_STR(m->twin->name, "note", "the twin too");
    rt = router_find_name(r, "note", "/api/v2/x", 7);
    CHECK(rt == m->twin, "found under the current prefix");
    rt = router_find_name(r, "note", "/other", 6);
    CHECK(rt == m, "else the first");
    CHECK(router_find_name(r, "nope", "", 0) == NULL, "an unknown name");
    add(r, "GET", "/plain", "plain");
    rt = router_find(r, "GET", "/plain");
    CHECK(router_name(r, (struct route *)rt, "note", &other, err, sizeof err) < 0 &&
          other == m && strstr(err, "taken by GET /api/v1/notes/{id:int}"),
          "a taken name: %s", err);
    CHECK(router_name(r, (struct route *)rt, "a b", &other, err, sizeof err) < 0 &&
          strstr(err, "not made of"), "a bad name: %s", err);
    CHECK(router_name(r, (struct route *)rt, "plain", &other, err, sizeof err) == 0,
          "a free name");
    CHECK(router_name(r, (struct route *)rt, "again", &other, err, sizeof err) < 0 &&
          strstr(err, "named 'plain' already"), "a second name: %s", err);
    m = router_add_mounted(r, NULL, "GET", "/bare", handler, "bare", NULL, err, sizeof err);
    CHECK(m != NULL && m->prefix_len == 0 && m->twin == NULL, "no mount");
    router_free(r);
}

static void test_scale(void)
{
    struct router *r = router_new();
    static char labels[500][32];
    char pat[64], path[64];
    int i, ok = 1;

    for (i = 0; i < 500; i++) {
        snprintf(labels[i], sizeof labels[i], "r%d", i);
        if (i % 2)
            snprintf(pat, sizeof pat, "/api/v1/res%d/{id:[0-9]+}", i);
        else
            snprintf(pat, sizeof pat, "/static%d/page", i);
        if (add(r, "GET", pat, labels[i]) < 0)
            ok = 0;
    }
    CHECK(ok && router_count(r) == 500, "500 routes registered");
    for (i = 0; i < 500; i++) {
        if (i % 2)
            snprintf(path, sizeof path, "/api/v1/res%d/%d", i, i * 7);
        else
            snprintf(path, sizeof path, "/static%d/page", i);
        if (strcmp(match(r, "GET", path), labels[i]) != 0)
            ok = 0;
    }
    CHECK(ok, "each of the 500 routes matches its own path");
    CHECK_STR(match(r, "GET", "/api/v1/res1/x"), "404", "a regex miss among many");
    CHECK_STR(match(r, "GET", "/static499/page"), "404", "an unregistered neighbour");
    router_free(r);
}

int main(void)
{
    pool_init(&pool, 4096);
    test_static();
    test_params();
    test_backtracking();
    test_methods();
    test_errors();
    test_tail();
    test_int();
    test_clash();
    test_names_and_mounts();
    test_scale();
    pool_free(&pool);
    return unit_done();
}
