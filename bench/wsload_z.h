/* wsload_z.h -- bench/wsload.c's view of zlib (bench/wsload_z.c): permessage-deflate's deflate and inflate. */
#ifndef WSLOAD_Z_H
#define WSLOAD_Z_H

#include <stddef.h>

size_t wz_deflate_x(size_t size, unsigned char **out);
long wz_inflate(unsigned char *in, size_t len, unsigned char *out, size_t cap);

#endif
