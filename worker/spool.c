/*
 * spool.c -- temporary files without a name: upload data past
 * upload_spool_size goes to one (form_data.c), and a plugin maps it, reads
 * its descriptor, or saves it under a path (api_files.c).
 *
 * These are local-disk calls made on the worker's loop, as nginx writes
 * client_body_temp_path from its own: a write to the page cache does not
 * wait for the disk.  upload_dir on a network file system would make the
 * loop wait for it; keep it local.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"

#define COPY_CHUNK 65536

int spool_open(const char *dir)
{
    char tmpl[4096];
    int fd;

    /* No O_EXCL: it would forbid the linkat() of spool_save_fd().  Until
     * then the file has no name; only its descriptor reaches it. */
    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    if (snprintf(tmpl, sizeof(tmpl), "%s/kiln-upload-XXXXXX", dir) >= (int)sizeof(tmpl)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = mkostemp(tmpl, O_CLOEXEC);
    if (fd >= 0)
        unlink(tmpl);
    return fd;
}

int spool_write(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = ENOSPC;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

const void *spool_map(int fd, size_t len)
{
    void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);

    return m == MAP_FAILED ? NULL : m;
}

void spool_unmap(const void *map, size_t len)
{
    munmap((void *)map, len);
}

/* Opens `path` to be written from its start (0600 when created), unless
 * it is the file of `same` already (a second save under one name): -2. */
static int open_target(const char *path, int same)
{
    struct stat a, b;
    int out = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

    if (out < 0)
        return -1;
    if (same >= 0 && fstat(out, &a) == 0 && fstat(same, &b) == 0 &&
        a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
        close(out);
        return -2;
    }
    if (ftruncate(out, 0) < 0) {
        close(out);
        return -1;
    }
    return out;
}

/* Ends a copy to `out`: closes it, keeping the first error. */
static int close_target(int out, int rc)
{
    int saved = errno;

    if (close(out) < 0 && rc == 0)
        return -1;
    errno = saved;
    return rc;
}

int spool_save_fd(int fd, size_t len, const char *path)
{
    char proc[64], buf[COPY_CHUNK];
    off_t off = 0;
    int out, rc = 0;

    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)
        return 0;
    /* EXDEV (another file system), EEXIST (replaced by a copy), ENOENT
     * (the mkstemp() fallback's file, unlinked): copy. */
    out = open_target(path, fd);
    if (out < 0)
        return out == -2 ? 0 : -1;
    while ((size_t)off < len && rc == 0) {
        size_t want = len - (size_t)off < sizeof(buf) ? len - (size_t)off : sizeof(buf);
        ssize_t n = pread(fd, buf, want, off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;            /* the file shrank under us */
            rc = -1;
            break;
        }
        rc = spool_write(out, buf, (size_t)n);
        off += n;
    }
    return close_target(out, rc);
}

int spool_save_data(const void *data, size_t len, const char *path)
{
    int out = open_target(path, -1);

    if (out < 0)
        return -1;
    return close_target(out, spool_write(out, data, len));
}
