/* test_static_path.c -- unit tests of plugins/static/static_path.c: which captured paths the static plugin looks up (dot-segments, empty segments, backslashes, control bytes, dot-files), and the percent- and HTML-escaping of a listing's names. */
#include <stdio.h>
#include <string.h>

#include "../../plugins/static/static_path.c"
#include "unit.h"

#define OK(p, h) CHECK(static_path_ok(p, h) == 0, "\"%s\" (hidden %d) is served", p, h)
#define NO(p, h) CHECK(static_path_ok(p, h) != 0, "\"%s\" (hidden %d) is refused", p, h)

int main(void)
{
    char out[64];

    OK("", 0);
    OK("a.css", 0);
    OK("css/a.css", 0);
    OK("dir/", 0);
    OK("a b%c.txt", 0);
    OK("caf\xc3\xa9", 0);
    OK("\xc0\xae\xc0\xae/x", 0);    /* overlong "..": bytes, not dots, on Linux */
    OK("a..b", 0);
    OK("...", 1);
    NO("..", 0);
    NO("..", 1);
    NO(".", 1);
    NO("a/../b", 1);
    NO("a/./b", 1);
    NO("/etc/passwd", 0);
    NO("a//b", 0);
    NO("//", 0);
    NO("a\\b", 0);
    NO("..\\..\\x", 0);
    NO("a\x01", 0);
    NO("a\x7f", 0);
    NO("a\nb", 0);
    NO(".git/config", 0);
    NO("a/.env", 0);
    NO("dir/.hidden/", 0);
    OK(".git/config", 1);
    OK("a/.env", 1);
    NO("...", 0);

    CHECK(static_url_escape(out, sizeof(out), "a b%c/\"<&.~-_Z9") == 27, "escape length");
    CHECK_STR(out, "a%20b%25c%2F%22%3C%26.~-_Z9", "url escape");
    CHECK(static_url_escape(out, sizeof(out), "\xc3\xa9?#") == 12, "utf-8 bytes escaped");
    CHECK_STR(out, "%C3%A9%3F%23", "url escape of utf-8, ? and #");
    CHECK(static_html_escape(out, sizeof(out), "<a href=\"x\">&'") == 38, "html escape length");
    CHECK_STR(out, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;", "html escape");
    CHECK(static_html_escape(out, 5, "a&b") == 7, "a short buffer says what it needs");
    CHECK_STR(out, "a", "and keeps what fits whole");
    CHECK(static_url_escape(NULL, 0, "a b") == 5, "no buffer: the length alone");
    return unit_done();
}
