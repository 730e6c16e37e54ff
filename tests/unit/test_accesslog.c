/*
 * test_accesslog.c -- the access log's format compiler and renderer
 * (plugins/accesslog/format.c): every directive, the named formats, escaping,
 * and the errors a bad format gets.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../plugins/accesslog/format.h"
#include "unit.h"

static const char *req_hdr(const void *ctx, const char *name)
{
    (void)ctx;
    if (strcasecmp(name, "Referer") == 0)
        return "http://example.com/a\"b";
    if (strcasecmp(name, "User-Agent") == 0)
        return "curl/7.88.1";
    if (strcasecmp(name, "X-Empty") == 0)
        return "";
    if (strcasecmp(name, "X-Ctl") == 0)
        return "a\x01\tb\\\n\xff";
    return NULL;
}

static const char *resp_hdr(const void *ctx, const char *name)
{
    (void)ctx;
    return strcasecmp(name, "Content-Type") == 0 ? "text/plain" : NULL;
}

static struct alog_record record(void)
{
    struct alog_record r = {
        .remote = "192.0.2.7", .peer = "127.0.0.1", .user = NULL,
        .method = "GET", .target = "/a%20b?x=1", .path = "/a b", .query = "x=1",
        .host = "example.com", .http_minor = 11, .status = 200, .complete = 1,
        .bytes = 150, .body_bytes = 16, .received = 78,
        .start = 1000000000.25, .duration = 0.0123456, .pid = 4242,
        .req_header = req_hdr, .resp_header = resp_hdr, .ctx = NULL,
    };
    return r;
}

/* The line `spec` makes of `r`, without its newline; "(error: ...)" when
 * the format does not compile. */
static char *line(const char *spec, const struct alog_record *r)
{
    static char text[1024];
    struct alog_format f;
    struct alog_buf b = { 0 };
    char err[160];

    if (alog_compile(&f, spec, err, sizeof(err)) < 0) {
        snprintf(text, sizeof(text), "(error: %s)", err);
        return text;
    }
    if (alog_render(&f, r, &b) < 0 || b.len == 0 || b.data[b.len - 1] != '\n')
        snprintf(text, sizeof(text), "(render failed)");
    else
        snprintf(text, sizeof(text), "%.*s", (int)b.len - 1, b.data);
    alog_buf_free(&b);
    alog_format_free(&f);
    return text;
}

static void test_named(void)
{
    struct alog_record r = record();

    CHECK_STR(line("common", &r),
              "192.0.2.7 - - [09/Sep/2001:01:46:40 +0000] \"GET /a%20b?x=1 HTTP/1.1\" 200 16",
              "common");
    CHECK_STR(line("combined", &r),
              "192.0.2.7 - - [09/Sep/2001:01:46:40 +0000] \"GET /a%20b?x=1 HTTP/1.1\" 200 16 "
              "\"http://example.com/a\\\"b\" \"curl/7.88.1\"", "combined, a quote escaped");
    r.user = "alice";
    r.body_bytes = 0;
    r.http_minor = 10;
    CHECK_STR(line("common", &r),
              "192.0.2.7 - alice [09/Sep/2001:01:46:40 +0000] \"GET /a%20b?x=1 HTTP/1.0\" 200 -",
              "common: a user, no body, HTTP/1.0");
}

static void test_directives(void)
{
    struct alog_record r = record();

    CHECK_STR(line("%a %{c}a %h %l %u", &r), "192.0.2.7 127.0.0.1 192.0.2.7 - -", "addresses");
    CHECK_STR(line("%s %>s %b %B %O %I", &r), "200 200 16 16 150 78", "status and sizes");
    CHECK_STR(line("%D %T %Tf %{ms}T %{us}T %{s}T", &r), "12345 0 0.012346 12 12345 0",
              "durations (aiohttp's %%Tf)");
    CHECK_STR(line("%m %U %q %H %P %v %X", &r),
              "GET /a b ?x=1 HTTP/1.1 4242 example.com +", "request pieces");
    CHECK_STR(line("%{Content-Type}o %{X-None}o %{X-Empty}i|", &r), "text/plain - |",
              "headers: absent is -, empty is empty");
    CHECK_STR(line("%{%Y-%m-%d}t 100%%", &r), "2001-09-09 100%", "strftime time, %%%%");
    CHECK_STR(line("%Tfx", &r), "0.012346x", "%%Tf then a literal");
    r.query = "";
    r.complete = 0;
    CHECK_STR(line("[%q] %X", &r), "[] X", "no query; an aborted response");
}

static void test_escaping(void)
{
    struct alog_record r = record();

    CHECK_STR(line("%{X-Ctl}i", &r), "a\\x01\\tb\\\\\\n\\xff", "control bytes, backslash, 8-bit");
    r.method = "";
    r.target = "";
    r.http_minor = 0;
    r.status = 400;
    CHECK_STR(line("\"%r\" %s %m %H", &r), "\"-\" 400 - -", "a request that was not read");
    r.method = "G\"ET";
    r.target = "/\x7f";
    CHECK_STR(line("%r", &r), "G\\\"ET /\\x7f", "the request line escaped");
}

static void test_errors(void)
{
    struct alog_record r = record();

    CHECK_STR(line("%Z", &r), "(error: unknown directive %Z at column 1)", "unknown");
    CHECK_STR(line("ab %{x}s", &r), "(error: unknown directive %{x}s at column 4)",
              "an argument where none is taken");
    CHECK_STR(line("%{Referer", &r), "(error: unterminated %{ at column 1)", "unterminated");
    CHECK_STR(line("x %", &r), "(error: % at column 3 ends the format)", "trailing %%");
    CHECK_STR(line("%{}i", &r), "(error: unknown directive %{}i at column 1)",
              "a header without a name");
    CHECK_STR(line("a\tb", &r), "(error: control character at column 2)", "a tab");
    CHECK_STR(line("", &r), "", "an empty format is an empty line");
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    test_named();
    test_directives();
    test_escaping();
    test_errors();
    return unit_done();
}
