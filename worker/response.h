/*
 * response.h -- turns a kiln_req's response, or an error of kiln's own, into
 * HTTP/1.1 bytes.
 */
#ifndef KILN_RESPONSE_H
#define KILN_RESPONSE_H

#include "pool.h"

struct kiln_req;

/* "OK" for 200, "Not Found" for 404, ...; "Unknown" otherwise. */
const char *http_reason(int status);

/* The body of an error answer: "404 Not Found\n" (NUL-terminated, at most
 * HTTP_STATUS_TEXT_MAX - 1 bytes); returns its length.  kiln's own answers
 * and kiln_error() without a message share it. */
#define HTTP_STATUS_TEXT_MAX 64
size_t http_status_text(int status, char out[HTTP_STATUS_TEXT_MAX]);

/* IMF-fixdate of unix time t ("Thu, 01 Jan 1970 00:00:00 GMT", 29 chars
 * and a NUL).  0, or -1 for t before 1970 or after 9999. */
int http_date(char out[30], long long t);

/* Refreshes the cached Date header value if `now` moved to another second. */
void response_update_date(double now);
/* "Wed, 25 Nov 2026 13:50:00 GMT" (29 chars), from the cache. */
const char *response_date(void);

/*
 * Appends the response of `req` to out: status line (req->status, or 200
 * when a body was set and 204 when nothing was), Date, Server, Content-Type
 * (when set), the handler's headers, Content-Length (not for 1xx/204/304),
 * Connection: close when !req->keep_alive (or keep-alive for an HTTP/1.0
 * client that keeps it), a blank line, and the body unless req->is_head or
 * the status has none.  0, or -1 on OOM.
 */
int response_serialize(struct kiln_req *req, struct buf *out);

/*
 * Appends the head of a streamed response (kiln_stream()): as above without
 * a body, with Content-Length: length when length >= 0, else
 * Transfer-Encoding: chunked when `chunked` (for HTTP/1.0, the caller sets
 * req->keep_alive to 0: the body ends at the close).  0, or -1 on OOM.
 */
int response_stream_head(struct kiln_req *req, struct buf *out, int status,
                         long long length, int chunked);

/*
 * Appends a response of kiln's own: `status` with a short text/plain body
 * ("404 Not Found\n"), `extra` header lines (each "Name: value\r\n", may be
 * NULL), Connection: close unless keep_alive.  For HEAD, no body.
 */
int response_error(struct buf *out, int status, int keep_alive, int is_head,
                   const char *extra);

#endif
