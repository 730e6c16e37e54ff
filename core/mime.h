/*
 * mime.h -- media types by file extension, read from a mime.types file
 * (Debian's media-types package installs /etc/mime.types).
 */
#ifndef KILN_MIME_H
#define KILN_MIME_H

#include <stddef.h>

struct mime_table;

/*
 * Reads `file`: lines "type ext ext ...", '#' comments, blank lines.  An
 * extension listed under several types gets the last one (as Python's
 * mimetypes, and so aiohttp, read the same file).  NULL on failure, with
 * the reason in err ("/etc/mime.types: No such file or directory").
 */
struct mime_table *mime_load(const char *file, char *err, size_t errlen);

/* Parses a mime.types text of len bytes (what mime_load reads). */
struct mime_table *mime_parse(const char *text, size_t len);

/*
 * The type of `path` by its extension, the text after the last '.' of its
 * last segment, compared without case: "a/b.CSS" -> "text/css".  NULL for
 * no extension (a name such as ".profile" has none), an unknown one, or a
 * NULL table.
 */
const char *mime_lookup(const struct mime_table *t, const char *path);

/* How many extensions the table knows. */
size_t mime_count(const struct mime_table *t);

void mime_free(struct mime_table *t);

#endif
