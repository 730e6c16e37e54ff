/*
 * compress.h -- gzip of buffered response bodies (compress.c): what
 * response.c calls as it writes a handler's response, and the worker's
 * start and stop.
 */
#ifndef KILN_COMPRESS_H
#define KILN_COMPRESS_H

#include "pool.h"

struct config;
struct kiln_req;

/* At worker start (the [server] gzip keys); at its end, frees the deflate
 * state and the output buffer. */
void compress_init(const struct config *cfg);
void compress_shutdown(void);

/*
 * The body the response of req (going out with `status`) is sent with:
 * req->resp_body, or the worker's buffer holding its gzip stream.  Adds
 * Vary: Accept-Encoding to an eligible response, and Content-Encoding:
 * gzip (and W/ to a strong ETag) to a compressed one; *no_length is 1 for
 * a compressed HEAD answer, which has no Content-Length.  NULL out of
 * memory.  The buffer returned is valid until compress_done().
 */
const struct buf *compress_body(struct kiln_req *req, int status, int *no_length);

/* The body compress_body() returned was copied out: its buffer is reused
 * (or given back, after a large body). */
void compress_done(void);

/*
 * Streams (stream.c): whether the stream req starts with `status` is
 * gzipped, which needs the handler's kiln_compress(req, 1) first, a client
 * that takes gzip and no Content-Encoding of the handler's.  1 when it is:
 * Content-Encoding: gzip (and Vary) are among req's headers, and *zp is
 * the stream's deflate state (NULL for HEAD, which sends no body); 0 when
 * it is not (Vary may have been added); -1 out of memory.
 */
struct compress_stream;
int compress_stream_start(struct kiln_req *req, int status, struct compress_stream **zp);

/* The gzip bytes of one write (Z_SYNC_FLUSH: all of it can be decoded on
 * arrival), or with `finish` the stream's last bytes; possibly empty.  In
 * the worker's buffer, valid until compress_done().  NULL out of memory. */
const struct buf *compress_stream_write(struct compress_stream *s, const void *data,
                                        size_t len, int finish);

/* Frees a stream's state (NULL: nothing). */
void compress_stream_free(struct compress_stream *s);

#endif
