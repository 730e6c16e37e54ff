/*
 * static_path.h -- the static plugin's pure string work (static_path.c):
 * which captured paths it serves, and the escaping of a listing's names.
 * Unit-tested in tests/unit/test_static_path.c.
 */
#ifndef KILN_STATIC_PATH_H
#define KILN_STATIC_PATH_H

#include <stddef.h>

/*
 * Whether the rest of a path (the route's {path:*}: "css/a.css", "dir/",
 * "") may be looked up under the root: 0, or -1 when a segment is "." or
 * "..", is empty anywhere but at the end ("/etc/passwd" from "//etc",
 * "a//b"), holds a backslash or a control byte (below 0x20, 0x7f), or,
 * unless `hidden`, starts with '.' (".git/config", ".env").
 */
int static_path_ok(const char *path, int hidden);

/* Appends to out (size bytes, NUL-terminated) `s` percent-encoded for a
 * URL path segment: letters, digits and "-._~" stay, every other byte is
 * %XX.  Returns the length it needs (as snprintf does). */
size_t static_url_escape(char *out, size_t size, const char *s);

/* The same with `s` escaped for HTML text and attributes: & < > " ' as
 * &amp; &lt; &gt; &quot; &#39;. */
size_t static_html_escape(char *out, size_t size, const char *s);

#endif
