/*
 * file_cond.h -- the validators and byte ranges of a file response (pure C,
 * file_cond.c): its ETag, If-None-Match lists, HTTP dates, Range and
 * If-Range (RFC 9110 8.8, 13 and 14).
 */
#ifndef KILN_FILE_COND_H
#define KILN_FILE_COND_H

/* "\"ino-size-sec.nsec\"" in hex, with its quotes and a NUL. */
#define FILE_ETAG_MAX 80

/* The strong ETag of a file from its inode, size and mtime (seconds and
 * nanoseconds), all in lower-case hex: "\"1a2b-400-6756f1c0.1dcd6500\"". */
void file_etag(char out[FILE_ETAG_MAX], unsigned long long ino, long long size,
               long long mtime, long nsec);

/* Whether an If-None-Match value matches `etag` by the weak comparison:
 * "*", or a comma-separated list of entity-tags ("x", W/"x") of which one
 * has etag's opaque-tag.  A member that does not parse ends the list
 * unmatched. */
int file_etag_match_weak(const char *list, const char *etag);

/* An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") as unix time: 0, or -1
 * when it is not one (obsolete formats included: they are not taken). */
int file_http_date_parse(const char *s, long long *t);

enum file_range {
    FILE_RANGE_WHOLE,       /* no range that applies: the whole file (200) */
    FILE_RANGE_PART,        /* one satisfiable range: *first..*last (206) */
    FILE_RANGE_UNSAT        /* one range the file cannot satisfy (416) */
};

/* A Range value against a file of `size` bytes.  Only one bytes range is
 * answered partially; several ranges, another unit or a syntax error give
 * FILE_RANGE_WHOLE (RFC 9110 14.2 lets a server ignore Range). */
enum file_range file_range_parse(const char *value, long long size, long long *first,
                                 long long *last);

/* Whether an If-Range value holds: an entity-tag equal to `etag` by the
 * strong comparison (a weak one never is), or an IMF-fixdate equal to the
 * file's Last-Modified second `mtime`. */
int file_if_range(const char *value, const char *etag, long long mtime);

#endif
