/* test_compress.c -- unit tests of worker/compress.c: which responses are gzipped, and the header lines it adds or edits (Vary merged, ETag weakened), byte for byte. */
#include <stdio.h>
#include <string.h>

#include "compress.h"
#include "config.h"
#include "request.h"
#include "unit.h"

static struct config cfg;
static struct req_header accept_gzip[] = { { "Accept-Encoding", "gzip" } };

/*
 * Runs compress_body() on a response of `status` with header lines
 * `hdrs` and a body of n bytes, for a request with Accept-Encoding: gzip
 * unless `plain`.  Returns 1 when the body went gzipped; the headers as
 * they end up in *out.
 */
static int run(const char *hdrs, size_t n, int status, int plain, int head, int force,
               char *out, size_t outlen, int *no_length)
{
    struct buf h, b;
    struct kiln_req r;
    const struct buf *sent;
    int gz;

    buf_init(&h);
    buf_init(&b);
    buf_append_str(&h, hdrs);
    for (size_t i = 0; i < n; i++)
        buf_append(&b, "abcabcabd" + i % 9, 1);
    memset(&r, 0, sizeof r);
    r.method = head ? "HEAD" : "GET";
    r.target = (char *)"/";
    r.is_head = head;
    r.compress = force;
    r.headers = plain ? NULL : accept_gzip;
    r.nheaders = plain ? 0 : 1;
    r.resp_headers = &h;
    r.resp_body = &b;
    sent = compress_body(&r, status, no_length);
    gz = sent != NULL && sent != &b;
    if (gz)
        CHECK(sent->len > 10 && memcmp(sent->data, "\x1f\x8b", 2) == 0 && sent->len < n,
              "a gzip stream, smaller than the body");
    snprintf(out, outlen, "%.*s", (int)(h.len < outlen ? h.len : outlen - 1), h.data);
    compress_done();
    buf_free(&h);
    buf_free(&b);
    return gz;
}

/* hdrs on one line, CRLFs shown as "|", for a test's name. */
static const char *oneline(const char *hdrs)
{
    static char s[256];
    size_t o = 0;

    for (; *hdrs != '\0' && o < sizeof s - 1; hdrs++)
        if (*hdrs != '\r')
            s[o++] = *hdrs == '\n' ? '|' : *hdrs;
    s[o] = '\0';
    return s;
}

static void expect(const char *hdrs, size_t n, int status, int plain, int want_gz,
                   const char *want_hdrs)
{
    char got[1024];
    int no_length;

    CHECK(run(hdrs, n, status, plain, 0, 0, got, sizeof got, &no_length) == want_gz,
          "\"%s\" %zu bytes, %d%s: gzip %d", oneline(hdrs), n, status,
          plain ? ", no Accept-Encoding" : "", want_gz);
    CHECK(strcmp(got, want_hdrs) == 0, "headers of \"%s\"", oneline(hdrs));
    if (strcmp(got, want_hdrs) != 0)
        printf("#   got  %s\n", oneline(got));
    CHECK(no_length == 0, "a GET keeps its Content-Length");
}

int main(void)
{
    char got[1024];
    int no_length;

    config_defaults(&cfg);
    cfg.gzip = 1;
    compress_init(&cfg);

    /* Eligible and taken; the plain client gets Vary only. */
    expect("Content-Type: text/plain\r\n", 2000, 200, 0, 1,
           "Content-Type: text/plain\r\nVary: Accept-Encoding\r\nContent-Encoding: gzip\r\n");
    expect("Content-Type: text/plain\r\n", 2000, 200, 1, 0,
           "Content-Type: text/plain\r\nVary: Accept-Encoding\r\n");
    /* Not eligible: small, no type, another type, a coding, no body to code. */
    expect("Content-Type: text/plain\r\n", 1000, 200, 0, 0, "Content-Type: text/plain\r\n");
    expect("X-A: b\r\n", 2000, 200, 0, 0, "X-A: b\r\n");
    expect("Content-Type: image/png\r\n", 2000, 200, 0, 0, "Content-Type: image/png\r\n");
    expect("Content-Type: text/plain\r\ncontent-encoding: br\r\n", 2000, 200, 0, 0,
           "Content-Type: text/plain\r\ncontent-encoding: br\r\n");
    for (int st = 0; st < 3; st++) {
        int status = st == 0 ? 204 : st == 1 ? 206 : 304;

        expect("Content-Type: text/plain\r\n", 2000, status, 0, 0, "Content-Type: text/plain\r\n");
    }
    /* Vary merged into the handler's first line, in any case; left alone
     * when a line already covers it; an empty one filled. */
    expect("vary: cookie\r\nContent-Type: text/html\r\nVary: X\r\n", 2000, 200, 1, 0,
           "vary: cookie, Accept-Encoding\r\nContent-Type: text/html\r\nVary: X\r\n");
    expect("Vary: Cookie\r\nVary: ACCEPT-ENCODING \r\nContent-Type: text/html\r\n", 2000, 200, 1, 0,
           "Vary: Cookie\r\nVary: ACCEPT-ENCODING \r\nContent-Type: text/html\r\n");
    expect("Vary: *\r\nContent-Type: text/html\r\n", 2000, 200, 0, 1,
           "Vary: *\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n");
    expect("Vary:\r\nContent-Type: text/html\r\n", 2000, 200, 1, 0,
           "Vary:Accept-Encoding\r\nContent-Type: text/html\r\n");
    /* A strong ETag weakened (after the Vary insertion moved it), a weak one kept. */
    expect("Vary: Cookie\r\nETag: \"x1\"\r\nContent-Type: text/css\r\n", 2000, 200, 0, 1,
           "Vary: Cookie, Accept-Encoding\r\nETag: W/\"x1\"\r\nContent-Type: text/css\r\n"
           "Content-Encoding: gzip\r\n");
    expect("etag: W/\"x1\"\r\nContent-Type: text/css\r\n", 2000, 200, 0, 1,
           "etag: W/\"x1\"\r\nContent-Type: text/css\r\nVary: Accept-Encoding\r\n"
           "Content-Encoding: gzip\r\n");
    expect("ETag: \"x1\"\r\nContent-Type: text/css\r\n", 2000, 200, 1, 0,
           "ETag: \"x1\"\r\nContent-Type: text/css\r\nVary: Accept-Encoding\r\n");

    /* HEAD: the headers of the GET, and no length. */
    CHECK(run("Content-Type: text/plain\r\n", 2000, 200, 0, 1, 0, got, sizeof got,
              &no_length) == 0 && no_length == 1, "HEAD: no body, no length");
    CHECK_STR(got, "Content-Type: text/plain\r\nVary: Accept-Encoding\r\nContent-Encoding: gzip\r\n",
              "HEAD's headers");

    /* kiln_compress(): on past type and size, off past the server's key. */
    CHECK(run("Content-Type: image/png\r\n", 200, 200, 0, 0, 1, got, sizeof got, &no_length),
          "forced on: a small png");
    CHECK(!run("Content-Type: text/plain\r\n", 2000, 200, 0, 0, -1, got, sizeof got,
               &no_length), "forced off");
    CHECK_STR(got, "Content-Type: text/plain\r\n", "forced off: no Vary");

    /* gzip off: nothing, unless forced. */
    cfg.gzip = 0;
    compress_init(&cfg);
    expect("Content-Type: text/plain\r\n", 2000, 200, 0, 0, "Content-Type: text/plain\r\n");
    CHECK(run("Content-Type: text/plain\r\n", 2000, 200, 0, 0, 1, got, sizeof got, &no_length),
          "gzip off, forced on");
    compress_shutdown();
    config_free(&cfg);
    return unit_done();
}
