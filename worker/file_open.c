/* file_open.c -- a path opened under a directory by openat2(2)'s RESOLVE_BENEATH / RESOLVE_NO_SYMLINKS, or by an O_NOFOLLOW walk without it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "file_open.h"
#include "kiln.h"

#define OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)

/* The longest component the walk takes (NAME_MAX). */
#define COMPONENT_MAX 255

static int walking;                 /* openat2 found missing or refused */

int file_open_walking(void)
{
    return walking;
}

/* One openat2(2) call (glibc 2.36 has no wrapper); EAGAIN (a rename or a
 * mount raced the lookup) is retried a few times. */
static int open2(int dirfd, const char *rel, unsigned flags)
{
    struct open_how how;
    long fd = -1;

    memset(&how, 0, sizeof(how));
    how.flags = OPEN_FLAGS;
    if (flags & FILE_OPEN_BENEATH)
        how.resolve |= RESOLVE_BENEATH;
    if (flags & FILE_OPEN_NO_SYMLINKS)
        how.resolve |= RESOLVE_NO_SYMLINKS;
    for (int tries = 0; tries < 4; tries++) {
        fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
        if (fd >= 0 || errno != EAGAIN)
            break;
    }
    return (int)fd;
}

/* The component of rel at *p (its length through *len), past any '/';
 * NULL at the end. */
static const char *next_component(const char **p, size_t *len)
{
    const char *s = *p;

    while (*s == '/')
        s++;
    if (*s == '\0')
        return NULL;
    *len = strcspn(s, "/");
    *p = s + *len;
    return s;
}

/* Opens component s[0..len) of `at`, never through a symbolic link: the
 * file (`extra`: O_DIRECTORY after a trailing slash) when it is the last,
 * else a directory to walk on (O_PATH). */
static int open_component(int at, const char *s, size_t len, int last, int extra)
{
    char name[COMPONENT_MAX + 1];

    if (len > COMPONENT_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(name, s, len);
    name[len] = '\0';
    if (last)
        return openat(at, name, OPEN_FLAGS | O_NOFOLLOW | extra);
    return openat(at, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Closes a descriptor of the walk (not the caller's dirfd), errno kept. */
static void walk_close(int fd, int dirfd)
{
    int err = errno;

    if (fd != dirfd)
        close(fd);
    errno = err;
}

int file_open_walk(int dirfd, const char *rel)
{
    const char *p = rel, *s, *t;
    int at = dirfd, fd, dir = rel[0] && rel[strlen(rel) - 1] == '/' ? O_DIRECTORY : 0;
    size_t len;

    if (rel[0] == '/') {
        errno = EXDEV;
        return -1;
    }
    while ((s = next_component(&p, &len)) != NULL) {
        if (len == 2 && s[0] == '.' && s[1] == '.') {
            walk_close(at, dirfd);
            errno = EXDEV;
            return -1;
        }
        for (t = p; *t == '/'; t++)
            ;
        if (len == 1 && s[0] == '.')
            continue;
        fd = open_component(at, s, len, *t == '\0', dir);
        walk_close(at, dirfd);
        if (fd < 0 || *t == '\0')
            return fd;
        at = fd;
    }
    fd = openat(at, ".", OPEN_FLAGS);   /* "", ".", "a/.": the directory */
    walk_close(at, dirfd);
    return fd;
}

int file_open_at(int dirfd, const char *rel, unsigned flags)
{
    int fd;

    flags &= FILE_OPEN_BENEATH | FILE_OPEN_NO_SYMLINKS;
    if (flags == 0)
        return openat(dirfd, rel, OPEN_FLAGS);
    if (!walking) {
        fd = open2(dirfd, rel, flags);
        if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
            return fd;
        walking = 1;
        kiln_log(KILN_LOG_WARN, "openat2(2): %s; files under a root are opened one component "
                 "at a time, and no symbolic link is followed", strerror(errno));
    }
    return file_open_walk(dirfd, rel);
}
