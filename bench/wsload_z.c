/*
 * wsload_z.c -- zlib for bench/wsload.c's deflate mode: the message deflated
 * once, and answers inflated, as permessage-deflate frames them (RFC 7692:
 * raw deflate, Z_SYNC_FLUSH, the 00 00 ff ff tail cut; no context takeover).
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "wsload_z.h"

static z_stream inflater;           /* one for all: answers come whole */

/* `size` bytes of 'x', deflated into *out (malloc'd); its length, 0 on failure. */
size_t wz_deflate_x(size_t size, unsigned char **out)
{
    z_stream z;
    unsigned char *msg = malloc(size + 1);
    size_t cap = size + 64, len = 0;

    *out = malloc(cap);
    if (!msg || !*out)
        return 0;
    memset(msg, 'x', size);
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    z.next_in = msg;
    z.avail_in = (uInt)size;
    z.next_out = *out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_SYNC_FLUSH) == Z_OK && z.avail_in == 0)
        len = cap - z.avail_out - 4;
    deflateEnd(&z);
    free(msg);
    return len;
}

/* Inflates the message in[0..len) (in has 4 bytes more room, for the tail)
 * into out; the inflated length, or -1 if it does not inflate or fit. */
long wz_inflate(unsigned char *in, size_t len, unsigned char *out, size_t cap)
{
    int rc;

    if (!inflater.state && inflateInit2(&inflater, -15) != Z_OK)
        return -1;
    memcpy(in + len, "\x00\x00\xff\xff", 4);
    inflateReset(&inflater);
    inflater.next_in = in;
    inflater.avail_in = (uInt)(len + 4);
    inflater.next_out = out;
    inflater.avail_out = (uInt)cap;
    rc = inflate(&inflater, Z_SYNC_FLUSH);
    if ((rc != Z_OK && rc != Z_STREAM_END) || inflater.avail_in != 0)
        return -1;
    return (long)(cap - inflater.avail_out);
}
