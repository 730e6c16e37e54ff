/* test_mime.c -- unit tests of the media-type table (core/mime.c). */
#include <stdio.h>
#include <string.h>

#include "mime.h"
#include "unit.h"

static const char sample[] =
    "# a comment\n"
    "\n"
    "text/html\t\t\thtml htm\n"
    "text/css  css\r\n"
    "application/json-seq\n"                    /* no extension */
    "application/x-sh sh\n"
    "text/x-sh sh\n"                            /* the last one wins */
    "image/svg+xml svg svgz # trailing comment\n"
    "notatype ext\n"                            /* no '/': skipped */
    "   application/gzip   gz\n"                /* leading blanks */
    "application/wasm WASM\n"                   /* stored lower case */
    "font/woff2 woff2";                         /* no final newline */

static void test_lookups(void)
{
    struct mime_table *t = mime_parse(sample, strlen(sample));

    CHECK(t != NULL, "the sample parses");
    CHECK(mime_count(t) == 9, "nine extensions, got %zu", mime_count(t));
    CHECK_STR(mime_lookup(t, "index.html"), "text/html", "html");
    CHECK_STR(mime_lookup(t, "/srv/www/INDEX.HTM"), "text/html", "any case, a path");
    CHECK_STR(mime_lookup(t, "a/b.css"), "text/css", "a CR before the newline");
    CHECK_STR(mime_lookup(t, "run.sh"), "text/x-sh", "the last type of an extension");
    CHECK_STR(mime_lookup(t, "x.svgz"), "image/svg+xml", "the second extension of a line");
    CHECK_STR(mime_lookup(t, "a.tar.gz"), "application/gzip", "the last dot");
    CHECK_STR(mime_lookup(t, "m.wasm"), "application/wasm", "upper case in the file");
    CHECK_STR(mime_lookup(t, "f.woff2"), "font/woff2", "the last line");
    CHECK(mime_lookup(t, "f.ext") == NULL, "a line with no '/' adds nothing");
    CHECK(mime_lookup(t, "comment") == NULL && mime_lookup(t, "x.#") == NULL,
          "a comment's words are no extensions");
    CHECK(mime_lookup(t, ".profile") == NULL, "a dot file has no extension");
    CHECK(mime_lookup(t, "dir.css/file") == NULL, "a dot in a directory is not");
    CHECK(mime_lookup(t, "file.") == NULL, "a trailing dot");
    CHECK(mime_lookup(t, "README") == NULL, "no dot");
    CHECK(mime_lookup(t, "x.unknown") == NULL, "an unknown extension");
    CHECK(mime_lookup(NULL, "a.css") == NULL, "no table");
    mime_free(t);
}

static void test_many(void)
{
    char text[64 * 1024], want[32];
    size_t off = 0;
    struct mime_table *t;
    int i, bad = 0;

    for (i = 0; i < 3000; i++)
        off += (size_t)snprintf(text + off, sizeof(text) - off, "type/t%d e%d\n", i, i);
    t = mime_parse(text, off);
    CHECK(t != NULL && mime_count(t) == 3000, "3000 extensions (the table grows)");
    for (i = 0; i < 3000; i++) {
        snprintf(want, sizeof(want), "type/t%d", i);
        snprintf(text, sizeof(text), "f.e%d", i);
        bad += mime_lookup(t, text) == NULL || strcmp(mime_lookup(t, text), want) != 0;
    }
    CHECK(bad == 0, "each found again (%d wrong)", bad);
    mime_free(t);
}

static void test_load(void)
{
    char err[256] = "";
    struct mime_table *t = mime_load("/nonexistent/mime.types", err, sizeof(err));

    CHECK(t == NULL && strstr(err, "/nonexistent/mime.types: No such file") != NULL,
          "a missing file names itself: %s", err);
    t = mime_load("/etc/mime.types", err, sizeof(err));
    CHECK(t != NULL && mime_count(t) > 1000, "Debian's /etc/mime.types: %zu extensions",
          mime_count(t));
    CHECK_STR(mime_lookup(t, "a.js"), "text/javascript", "js from media-types");
    CHECK_STR(mime_lookup(t, "a.json"), "application/json", "json from media-types");
    mime_free(t);
}

int main(void)
{
    test_lookups();
    test_many();
    test_load();
    return unit_done();
}
