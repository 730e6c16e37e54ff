/* test_url.c -- unit tests of percent-decoding and path splitting. */
#include <string.h>

#include "pool.h"
#include "unit.h"
#include "url.h"

/* Decodes s into a static buffer; returns it, or NULL on error. */
static const char *dec(const char *s, int plus)
{
    static char out[256];

    return url_decode(out, s, strlen(s), plus) < 0 ? NULL : out;
}

static void test_decode(void)
{
    char inplace[] = "a%20b%2fc";

    CHECK_STR(dec("abc", 0), "abc", "plain text is unchanged");
    CHECK_STR(dec("", 0), "", "empty input");
    CHECK_STR(dec("%41", 0), "A", "%%41 is A");
    CHECK_STR(dec("%4a%4A", 0), "JJ", "hex digits in either case");
    CHECK(dec("%4", 0) == NULL, "a truncated escape fails");
    CHECK(dec("abc%", 0) == NULL, "a lone %% fails");
    CHECK(dec("%G0", 0) == NULL, "a bad hex digit fails");
    CHECK(dec("%0G", 0) == NULL, "a bad second hex digit fails");
    CHECK(dec("%00", 0) == NULL, "%%00 fails");
    CHECK_STR(dec("a+b", 0), "a+b", "+ stays in paths");
    CHECK_STR(dec("a+b", 1), "a b", "+ is a space in queries");
    CHECK_STR(dec("%2B", 1), "+", "an escaped + stays +");
    CHECK_STR(dec("/J%C3%BCrgen", 0), "/J\xc3\xbcrgen", "UTF-8 bytes");
    CHECK(url_decode(inplace, inplace, strlen(inplace), 0) == 5 &&
          strcmp(inplace, "a b/c") == 0, "decoding in place");
}

static void test_split(void)
{
    struct pool p;
    char *segs[URL_MAX_SEGMENTS], *d = NULL, longp[URL_MAX_SEGMENTS * 2 + 8];
    int n, i;

#define SPLIT(s) url_split_path(&p, (s), strlen(s), segs, &d)
    pool_init(&p, 4096);
    n = SPLIT("/");
    CHECK(n == 0, "/ has no segments");
    CHECK_STR(d, "/", "/ decodes to /");
    n = SPLIT("/a");
    CHECK(n == 1, "/a has one segment");
    CHECK_STR(segs[0], "a", "/a -> a");
    n = SPLIT("/a/");
    CHECK(n == 2, "/a/ has two segments");
    CHECK_STR(segs[0], "a", "/a/ -> a");
    CHECK_STR(segs[1], "", "/a/ -> \"\"");
    n = SPLIT("//a");
    CHECK(n == 2 && segs[0][0] == '\0', "//a starts with an empty segment");
    CHECK_STR(segs[1], "a", "//a -> a");
    n = SPLIT("/a//b.txt/");
    CHECK(n == 4 && strcmp(segs[1], "") == 0 && strcmp(segs[2], "b.txt") == 0 &&
          segs[3][0] == '\0', "/a//b.txt/ -> a, \"\", b.txt, \"\"");
    CHECK_STR(d, "/a//b.txt/", "a path with no escape and no dot-segment decodes to itself");
    n = SPLIT("/a/b/c/..");
    CHECK(n == 3 && strcmp(segs[2], "") == 0, "a dot-segment after plain segments is removed");
    CHECK_STR(d, "/a/b/", "... and the path decodes without it");
    n = SPLIT("/.");
    CHECK(n == 0, "/. is the root");
    CHECK_STR(d, "/", "/. decodes to /");
    n = SPLIT("/a%2Fb/c%20d");
    CHECK(n == 2, "%%2F does not split a segment");
    CHECK_STR(segs[0], "a/b", "the segment holds the slash");
    CHECK_STR(segs[1], "c d", "the second segment is decoded");
    CHECK_STR(d, "/a/b/c d", "the decoded path");
    n = SPLIT("/users/J%C3%BCrgen");
    CHECK(n == 2, "two segments");
    CHECK_STR(segs[1], "J\xc3\xbcrgen", "UTF-8 in a segment");
    CHECK(SPLIT("a/b") == -1, "a relative path fails");
    CHECK(url_split_path(&p, "", 0, segs, &d) == -1, "an empty path fails");
    CHECK(SPLIT("/a/%G1") == -1, "a bad escape fails");
    CHECK(SPLIT("/a%00") == -1, "%%00 fails");
    for (i = 0; i < URL_MAX_SEGMENTS; i++) {
        longp[2 * i] = '/';
        longp[2 * i + 1] = 'x';
    }
    longp[2 * URL_MAX_SEGMENTS] = '\0';
    CHECK(SPLIT(longp) == URL_MAX_SEGMENTS, "exactly the most segments");
    strcat(longp, "/x");
    CHECK(SPLIT(longp) == -1, "one segment too many fails");
#undef SPLIT
    pool_free(&p);
}

static void test_dot_segments(void)
{
    struct pool p;
    char *segs[URL_MAX_SEGMENTS], *d = NULL;
    int n;

#define SPLIT(s) url_split_path(&p, (s), strlen(s), segs, &d)
    pool_init(&p, 4096);
    n = SPLIT("/a/./b");
    CHECK(n == 2 && strcmp(segs[0], "a") == 0 && strcmp(segs[1], "b") == 0, "/a/./b -> a, b");
    CHECK_STR(d, "/a/b", "... and the decoded path has no dot");
    n = SPLIT("/a/x/../b");
    CHECK(n == 2 && strcmp(segs[1], "b") == 0, "/a/x/../b -> a, b");
    CHECK_STR(d, "/a/b", "/a/x/../b decodes to /a/b");
    n = SPLIT("/a/b/..");
    CHECK(n == 2 && strcmp(segs[1], "") == 0, "/a/b/.. -> a, \"\" (a trailing slash)");
    CHECK_STR(d, "/a/", "/a/b/.. decodes to /a/");
    n = SPLIT("/a/.");
    CHECK(n == 2 && strcmp(segs[1], "") == 0, "/a/. -> a, \"\"");
    n = SPLIT("/a/..");
    CHECK(n == 0, "/a/.. is the root");
    CHECK_STR(d, "/", "/a/.. decodes to /");
    n = SPLIT("/.a/..b/...");
    CHECK(n == 3 && strcmp(segs[2], "...") == 0, "dots that are names stay");
    CHECK(SPLIT("/..") == -1, "/.. climbs above the root");
    CHECK(SPLIT("/a/../../b") == -1, "/a/../../b climbs above the root");
    CHECK(SPLIT("/%2e%2e/a") == -1, "an encoded .. fails");
    CHECK(SPLIT("/a/%2E") == -1, "an encoded . fails");
    CHECK(SPLIT("/a/.%2e") == -1, "a half-encoded .. fails");
    CHECK(SPLIT("/%2e%2e%2fetc") == -1, "../etc inside one segment fails");
    CHECK(SPLIT("/a%2F..%2Fb") == -1, "a/../b inside one segment fails");
    n = SPLIT("/a%2Fb..c");
    CHECK(n == 1 && strcmp(segs[0], "a/b..c") == 0, "dots inside a name inside a segment stay");
#undef SPLIT
    pool_free(&p);
}

/* url_normalize's result for path, or "-" when unchanged. */
static const char *norm(struct pool *p, const char *path, int merge, enum url_slash sl)
{
    const char *s = url_normalize(p, path, strlen(path), merge, sl);

    return s ? s : "-";
}

static void test_normalize(void)
{
    struct pool p;

    pool_init(&p, 4096);
    CHECK_STR(norm(&p, "/a", 0, URL_SLASH_APPEND), "/a/", "append");
    CHECK_STR(norm(&p, "/a/", 0, URL_SLASH_APPEND), "-", "append: has one");
    CHECK_STR(norm(&p, "/", 0, URL_SLASH_APPEND), "-", "append: the root");
    CHECK_STR(norm(&p, "/a/", 0, URL_SLASH_REMOVE), "/a", "remove");
    CHECK_STR(norm(&p, "/a", 0, URL_SLASH_REMOVE), "-", "remove: has none");
    CHECK_STR(norm(&p, "/", 0, URL_SLASH_REMOVE), "-", "remove: never the root");
    CHECK_STR(norm(&p, "//a///b//", 1, URL_SLASH_KEEP), "/a/b/", "merge");
    CHECK_STR(norm(&p, "//a///b//", 1, URL_SLASH_REMOVE), "/a/b", "merge and remove");
    CHECK_STR(norm(&p, "//", 1, URL_SLASH_REMOVE), "/", "merge and remove: the root");
    CHECK_STR(norm(&p, "//a", 1, URL_SLASH_APPEND), "/a/", "merge and append");
    CHECK_STR(norm(&p, "/a%2F%2Fb", 1, URL_SLASH_KEEP), "-", "encoded slashes stay");
    CHECK_STR(norm(&p, "/a/b", 1, URL_SLASH_KEEP), "-", "nothing to merge");
    pool_free(&p);
}

int main(void)
{
    test_normalize();
    test_dot_segments();
    test_decode();
    test_split();
    return unit_done();
}
