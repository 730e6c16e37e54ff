/*
 * spool.h -- temporary files without a name, for upload data too large to
 * keep in memory (spool.c): created, written, mapped, saved under a path.
 * Plain POSIX and Linux calls; nothing of a connection.
 */
#ifndef KILN_SPOOL_H
#define KILN_SPOOL_H

#include <stddef.h>

/*
 * A new, empty temporary file in directory `dir`, open for reading and
 * writing, that no name reaches: O_TMPFILE, or where the file system
 * refuses it, mkstemp() and an unlink() at once.  The descriptor (close on
 * exec), or -1 with errno.  Nothing stays on disk once it is closed, or
 * once the process dies, however it dies.
 */
int spool_open(const char *dir);

/* Appends data[0..len) to fd, retrying short writes: 0, or -1 with errno
 * (ENOSPC...). */
int spool_write(int fd, const void *data, size_t len);

/* The first `len` bytes of fd mapped read-only (len > 0), or NULL with
 * errno; spool_unmap() gives the mapping back. */
const void *spool_map(int fd, size_t len);
void spool_unmap(const void *map, size_t len);

/*
 * Puts the `len` bytes of fd at `path`: the file itself linked there
 * (linkat(2) through /proc/self/fd, for an O_TMPFILE file on the same file
 * system as `path`, when `path` does not exist), else a copy written to
 * `path` (created with mode 0600, or truncated).  0, or -1 with errno.
 */
int spool_save_fd(int fd, size_t len, const char *path);

/* Writes data[0..len) to `path` (created with mode 0600, or truncated):
 * 0, or -1 with errno. */
int spool_save_data(const void *data, size_t len, const char *path);

#endif
