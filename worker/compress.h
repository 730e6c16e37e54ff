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

#endif
