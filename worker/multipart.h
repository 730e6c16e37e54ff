/*
 * multipart.h -- a streaming multipart/form-data parser (RFC 7578 over
 * RFC 2046): the boundary of a Content-Type value, then the body fed in
 * chunks of any size, each part reported through callbacks as it arrives.
 * Pure C, no allocation (multipart.c, tests/unit/test_multipart.c,
 * tests/fuzz/fuzz_multipart.c).
 *
 * What the parser reads, and what it refuses (every refusal is an error
 * the caller answers with 400; multipart_error() says which):
 *   - the boundary: the Content-Type parameter boundary=, a token or a
 *     quoted-string, 1..70 characters of RFC 2046's bchars, not ending in
 *     a space; anything else: no parse at all (multipart_boundary() fails);
 *   - a preamble before the first delimiter is skipped, and so is an
 *     epilogue after the close delimiter ("--boundary--");
 *   - a delimiter line is CRLF "--" boundary, then optional spaces or tabs
 *     and CRLF; any other byte after the boundary is an error (a sender
 *     chooses a boundary that its data does not contain);
 *   - a part's header block: lines ending in CRLF, up to an empty line, at
 *     most MP_HEADER_MAX bytes in all; a bare LF or CR, a folded line
 *     (starting with a space or tab), a line without ':' or a longer block
 *     are errors; header names compare in any case, unknown ones are
 *     ignored;
 *   - Content-Disposition must be there, of type form-data, with a name
 *     parameter (a part without a name is an error); parameter values are
 *     tokens or quoted-strings ("\x" stands for x); filename*=UTF-8''%XX..
 *     (RFC 5987; the charset in any case, a language allowed) takes
 *     precedence over filename=; another charset leaves filename*
 *     unused; a bad escape or an escaped NUL in it is an error; a repeated
 *     parameter keeps its first value;
 *   - Content-Type of a part: as sent, trimmed; "text/plain" when absent
 *     (RFC 7578 4.4), file or not;
 *   - more than MP_PARTS_MAX parts is an error;
 *   - the end of the input before the close delimiter (or before any
 *     delimiter) is an error, reported by multipart_finish().
 * After an error every later feed returns -1 at once; no callback runs.
 */
#ifndef KILN_MULTIPART_H
#define KILN_MULTIPART_H

#include <stddef.h>

#define MP_BOUNDARY_MAX 70          /* RFC 2046 5.1.1 */
#define MP_HEADER_MAX 8192          /* one part's header block, CRLFs included */
#define MP_PARTS_MAX 1000

/* One part as its headers describe it; the strings are the parser's,
 * valid during the part_begin callback only: copy what you keep. */
struct mp_part {
    const char *name;               /* never NULL */
    const char *filename;           /* NULL when the part has none */
    const char *content_type;       /* never NULL */
};

/* Each returns 0 to go on, anything else to stop the parse (an error,
 * "stopped by the caller").  Data may come in any number of pieces. */
struct mp_callbacks {
    int (*part_begin)(void *ud, const struct mp_part *part);
    int (*part_data)(void *ud, const char *data, size_t len);
    int (*part_end)(void *ud);
};

struct multipart {
    const struct mp_callbacks *cb;
    void *ud;
    const char *error;              /* NULL until one */
    char delim[4 + MP_BOUNDARY_MAX + 1];    /* "\r\n--" boundary */
    size_t dlen;
    size_t match;                   /* bytes of delim matched so far */
    int state;
    size_t nparts;
    size_t hlen;                    /* bytes in hdr */
    char hdr[MP_HEADER_MAX + 1];
};

/*
 * The boundary parameter of a Content-Type value, unquoted, into
 * out[0..MP_BOUNDARY_MAX] (NUL-terminated).  NULL when it is fine, else
 * why not (no parameter, empty, too long, a character RFC 2046 does not
 * allow).  The media type itself is not checked here.
 */
const char *multipart_boundary(const char *content_type, char out[MP_BOUNDARY_MAX + 1]);

/* Ready to read a body delimited by `boundary` (as multipart_boundary()
 * gave it). */
void multipart_init(struct multipart *m, const char *boundary,
                    const struct mp_callbacks *cb, void *ud);

/* Reads data[0..len): 0, or -1 on an error (multipart_error()). */
int multipart_feed(struct multipart *m, const char *data, size_t len);

/* The input is over: 0 when the close delimiter was read, else -1 (the
 * error set to say so, unless one was already). */
int multipart_finish(struct multipart *m);

/* Why the parse failed, NULL while it has not. */
const char *multipart_error(const struct multipart *m);

#endif
