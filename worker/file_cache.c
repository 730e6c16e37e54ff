/*
 * file_cache.c -- the worker's cache of small files and missing names for
 * kiln_file_at(), invalidated by inotify(7) on the directories of their paths.
 *
 * An entry is keyed by (dirfd, path) with path canonical, and holds either
 * a file's bytes and validators or the errno its open gave (ENOENT: the
 * names a browser's Accept-Encoding makes kiln look for, x.css.br and
 * x.css.gz, are mostly missing).  Before a path is opened for the cache,
 * every directory on it is watched (file_cache_watch), top down; after
 * that, any change to a name on the path queues an event before the
 * change's system call returns, and the event drops the entries it touches:
 *   - a name in a directory (created, deleted, moved, written, chmod'ed):
 *     the entry of that path; a directory's name: everything below it too;
 *   - a directory itself deleted, moved, unmounted or chmod'ed: everything
 *     below it;
 *   - the kernel's queue overflowing: everything.
 * A cached file's inode is watched too, through its descriptor: a hard
 * link made to it later (reported on the inode only) drops it, and so does
 * a write through any name.  The inotify watcher has the loop's highest
 * priority, so a change made before a request arrived is applied before
 * that request is answered.  Files with several hard links are not cached
 * (a change to one of the other names is reported on that name's
 * directory only); paths with a symbolic link are not either (the cache
 * opens with RESOLVE_NO_SYMLINKS).  Writes through a shared mmap(2) and
 * changes made by another host to a network file system are not reported:
 * such trees want the cache off.
 *
 * Size: at most `size` bytes of files and FC_MAX_ENTRIES entries, the
 * least recently used going first, but never one the request being
 * answered holds (a file's bytes while its siblings are looked for).  A
 * file's watch goes with its entry; a directory's stays until the
 * directory changes.  Each costs one of fs.inotify.max_user_watches.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ev.h>

#include "file_cache.h"
#include "log.h"

#define FC_BUCKETS     4096     /* hash buckets of entries, of directories, of wds */
#define FC_MAX_ENTRIES 16384    /* files and missing names held at most */
#define FC_PATH_MAX    4096     /* longest path cached */
#define FC_WATCH_MASK  (IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM \
                        | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define FC_FILE_MASK   (IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)
#define FC_SAME_WD     8        /* (dirfd, prefix) pairs of one directory handled
                                   apart; more: everything is dropped */

struct entry {
    struct entry *next;             /* in its bucket */
    struct entry *older, *newer;    /* the use order */
    uint32_t hash;
    unsigned gen;                   /* the request that last used it */
    int dirfd;
    int err;                        /* 0: a file; else the open's errno */
    struct file_meta m;
    unsigned char *data;            /* m.size bytes, after path (err 0) */
    char path[];
};

/* A watched directory, by its prefix ("" for dirfd itself, "a/b/" below
 * it, "/" and "/a/" for absolute paths from AT_FDCWD), or a cached file, by
 * its path (no trailing '/'), and its watch descriptor.  One directory
 * reached from two roots has one wd and two of these. */
struct dir {
    struct dir *next;               /* in its bucket */
    struct dir *wd_next;            /* in its wd's bucket */
    uint32_t hash;
    int dirfd, wd;
    char prefix[];
};

static struct {
    struct ev_loop *loop;
    ev_io io;
    int fd;                         /* inotify's, -1 before the first watch */
    int off;                        /* size 0, or inotify unavailable */
    int full;                       /* out of watches: said once */
    unsigned gen;                   /* kiln_file_at() calls (file_cache_begin) */
    size_t size, max;               /* the limits */
    size_t bytes, count;            /* what is held */
    struct entry **entries;         /* FC_BUCKETS, NULL before the first use */
    struct entry *newest, *oldest;
    struct dir **dirs;              /* by (dirfd, prefix) */
    struct dir **wds;               /* by wd */
} fc = {.fd = -1};

static uint32_t hash_of(int dirfd, const char *s, size_t n)
{
    uint32_t h = 2166136261u ^ (uint32_t)dirfd;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* ---- entries ---------------------------------------------------------------- */

static struct entry **entry_slot(int dirfd, const char *path, size_t n, uint32_t h)
{
    struct entry **p = &fc.entries[h % FC_BUCKETS];

    for (; *p; p = &(*p)->next)
        if ((*p)->hash == h && (*p)->dirfd == dirfd && strncmp((*p)->path, path, n) == 0
            && (*p)->path[n] == '\0')
            break;
    return p;
}

static void lru_unlink(struct entry *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        fc.oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        fc.newest = e->older;
}

static void lru_push(struct entry *e)
{
    e->older = fc.newest;
    e->newer = NULL;
    if (fc.newest)
        fc.newest->newer = e;
    else
        fc.oldest = e;
    fc.newest = e;
}

static void unwatch(int dirfd, const char *name);

/* Removes the entry *p points to, and a file's watch. */
static void entry_drop(struct entry **p)
{
    struct entry *e = *p;

    *p = e->next;
    lru_unlink(e);
    fc.count--;
    if (e->err == 0) {
        fc.bytes -= (size_t)e->m.size;
        unwatch(e->dirfd, e->path);
    }
    free(e);
}

/* Drops the entry of (dirfd, path[0..n)), if there is one. */
static void drop_path(int dirfd, const char *path, size_t n)
{
    struct entry **p = entry_slot(dirfd, path, n, hash_of(dirfd, path, n));

    if (*p)
        entry_drop(p);
}

/* Drops every entry of dirfd whose path starts with prefix (all of them
 * for dirfd -1). */
static void drop_under(int dirfd, const char *prefix)
{
    size_t n = strlen(prefix);

    for (size_t b = 0; fc.entries && b < FC_BUCKETS; b++)
        for (struct entry **p = &fc.entries[b]; *p;)
            if (dirfd == -1 || ((*p)->dirfd == dirfd && strncmp((*p)->path, prefix, n) == 0))
                entry_drop(p);
            else
                p = &(*p)->next;
}

/* Makes room for `bytes` more and one entry, the least recently used
 * going first: 0, or -1 when it would take an entry of this request's
 * (whose bytes the caller may hold) or they can never fit. */
static int make_room(size_t bytes)
{
    if (bytes > fc.max || bytes > fc.size)
        return -1;
    while (fc.bytes + bytes > fc.size || fc.count >= FC_MAX_ENTRIES) {
        struct entry *e = fc.oldest;

        if (e == NULL || e->gen == fc.gen)
            return -1;
        entry_drop(entry_slot(e->dirfd, e->path, strlen(e->path), e->hash));
    }
    return 0;
}

/* A new entry for path with room for `bytes` of data, in the table. */
static struct entry *entry_add(int dirfd, const char *path, size_t bytes)
{
    size_t n = strlen(path);
    uint32_t h = hash_of(dirfd, path, n);
    struct entry **p, *e;

    if (make_room(bytes) != 0)
        return NULL;
    p = entry_slot(dirfd, path, n, h);
    if (*p)
        entry_drop(p);
    e = malloc(sizeof(*e) + n + 1 + bytes);
    if (e == NULL)
        return NULL;
    e->hash = h;
    e->gen = fc.gen;
    e->dirfd = dirfd;
    e->err = ENOENT;                /* until the caller says what it is */
    e->m.size = 0;
    memcpy(e->path, path, n + 1);
    e->data = (unsigned char *)e->path + n + 1;
    e->next = fc.entries[h % FC_BUCKETS];
    fc.entries[h % FC_BUCKETS] = e;
    lru_push(e);
    fc.count++;
    return e;
}

/* ---- watched directories ---------------------------------------------------- */

static struct dir **dir_slot(int dirfd, const char *prefix, size_t n, uint32_t h)
{
    struct dir **p = &fc.dirs[h % FC_BUCKETS];

    for (; *p; p = &(*p)->next)
        if ((*p)->hash == h && (*p)->dirfd == dirfd && strncmp((*p)->prefix, prefix, n) == 0
            && (*p)->prefix[n] == '\0')
            break;
    return p;
}

/* Takes d out of both tables and frees it; the kernel's watch goes with
 * the last of its wd. */
static void dir_free(struct dir **p)
{
    struct dir *d = *p, **w = &fc.wds[(unsigned)d->wd % FC_BUCKETS], *o;
    int last = 1;

    *p = d->next;
    while (*w && *w != d)
        w = &(*w)->wd_next;
    if (*w)
        *w = d->wd_next;
    for (o = fc.wds[(unsigned)d->wd % FC_BUCKETS]; o && last; o = o->wd_next)
        last = o->wd != d->wd;
    if (last && fc.fd >= 0)
        inotify_rm_watch(fc.fd, d->wd);
    free(d);
}

/* Forgets the watches of dirfd whose prefix starts with prefix (all of
 * them for dirfd -1; a wd of -1: every one of that wd): the next path
 * below them watches them again. */
static void forget_dirs(int dirfd, const char *prefix, int wd)
{
    size_t n = strlen(prefix);

    for (size_t b = 0; fc.dirs && b < FC_BUCKETS; b++)
        for (struct dir **p = &fc.dirs[b]; *p;) {
            const struct dir *d = *p;

            if (wd != -1 ? d->wd == wd
                         : dirfd == -1 || (d->dirfd == dirfd && strncmp(d->prefix, prefix, n) == 0))
                dir_free(p);
            else
                p = &(*p)->next;
        }
}

/* The watch of (dirfd, name), a cached file's, goes. */
static void unwatch(int dirfd, const char *name)
{
    size_t n = strlen(name);
    struct dir **p = dir_slot(dirfd, name, n, hash_of(dirfd, name, n));

    if (*p)
        dir_free(p);
}

/* Watches `where` for (dirfd, name[0..n)) with `mask`: 0, or -1 with
 * errno. */
static int watch(int dirfd, const char *name, size_t n, const char *where, uint32_t mask)
{
    uint32_t h = hash_of(dirfd, name, n);
    struct dir **p = dir_slot(dirfd, name, n, h), *d;
    int wd;

    if (*p)
        return 0;
    wd = inotify_add_watch(fc.fd, where, mask);
    if (wd < 0) {
        if (errno == ENOSPC && !fc.full++)
            log_warn("file cache: no inotify watch left (fs.inotify.max_user_watches): "
                     "what needs one more is not cached");
        return -1;
    }
    d = malloc(sizeof(*d) + n + 1);
    if (d == NULL)
        return -1;
    d->hash = h;
    d->dirfd = dirfd;
    d->wd = wd;
    memcpy(d->prefix, name, n);
    d->prefix[n] = '\0';
    d->next = *p;
    *p = d;
    d->wd_next = fc.wds[(unsigned)wd % FC_BUCKETS];
    fc.wds[(unsigned)wd % FC_BUCKETS] = d;
    return 0;
}

/* Watches the directory prefix[0..n) of dirfd, unless it is: 0 or -1. */
static int watch_dir(int dirfd, const char *prefix, size_t n)
{
    char where[FC_PATH_MAX + 32];

    if (dirfd == AT_FDCWD)
        snprintf(where, sizeof(where), "%.*s", n ? (int)n : 1, n ? prefix : ".");
    else
        snprintf(where, sizeof(where), "/proc/self/fd/%d/%.*s", dirfd, (int)n, prefix);
    return watch(dirfd, prefix, n, where, FC_WATCH_MASK);
}

/* ---- inotify's events --------------------------------------------------------- */

/* What one event changes, for the directory (dirfd, prefix) it came on. */
static void apply(const struct inotify_event *ev, int dirfd, const char *prefix)
{
    char path[FC_PATH_MAX + NAME_MAX + 2];
    int n;

    if (ev->len == 0 || ev->name[0] == '\0') {      /* the directory itself */
        drop_under(dirfd, prefix);
        forget_dirs(dirfd, prefix, -1);
        return;
    }
    n = snprintf(path, sizeof(path), "%s%s", prefix, ev->name);
    if (n < 0 || (size_t)n >= sizeof(path) - 1)
        return;
    drop_path(dirfd, path, (size_t)n);
    if (ev->mask & IN_ISDIR) {                     /* a directory's name: below it */
        path[n] = '/';
        path[n + 1] = '\0';
        drop_under(dirfd, path);
        forget_dirs(dirfd, path, -1);
    }
}

static void on_event(const struct inotify_event *ev)
{
    struct { int dirfd; char prefix[FC_PATH_MAX]; } of[FC_SAME_WD];
    size_t k = 0;

    if (ev->mask & IN_Q_OVERFLOW) {
        log_debug("file cache: inotify's queue overflowed: everything dropped");
        drop_under(-1, "");
        forget_dirs(-1, "", -1);
        return;
    }
    /* apply() may forget the directories it walks: copy them first */
    for (struct dir *d = fc.wds[(unsigned)ev->wd % FC_BUCKETS]; d; d = d->wd_next) {
        if (d->wd != ev->wd)
            continue;
        if (k == FC_SAME_WD) {
            drop_under(-1, "");
            forget_dirs(-1, "", -1);
            return;
        }
        of[k].dirfd = d->dirfd;
        snprintf(of[k].prefix, sizeof(of[k].prefix), "%s", d->prefix);
        k++;
    }
    for (size_t i = 0; i < k; i++)
        apply(ev, of[i].dirfd, of[i].prefix);
    if (ev->mask & IN_IGNORED)                      /* the watch is gone */
        forget_dirs(0, "", ev->wd);
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;

    (void)loop;
    (void)w;
    (void)revents;
    while ((n = read(fc.fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
        for (char *p = buf; n > 0 && p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(void *)p;

            on_event(ev);
            p += sizeof(*ev) + ev->len;
        }
}

/* The tables and the inotify descriptor, at the first use: 0, or -1 (the
 * cache is then off, said once). */
static int cache_start(void)
{
    if (fc.fd >= 0)
        return 0;
    fc.entries = calloc(FC_BUCKETS, sizeof(*fc.entries));
    fc.dirs = calloc(FC_BUCKETS, sizeof(*fc.dirs));
    fc.wds = calloc(FC_BUCKETS, sizeof(*fc.wds));
    if (fc.entries && fc.dirs && fc.wds)
        fc.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fc.fd < 0) {
        log_warn("file cache: off (%s)", fc.entries && fc.dirs && fc.wds
                                             ? strerror(errno) : "out of memory");
        fc.off = 1;
        return -1;
    }
    ev_io_init(&fc.io, on_readable, fc.fd, EV_READ);
    ev_set_priority(&fc.io, EV_MAXPRI);     /* changes before the requests */
    ev_io_start(fc.loop, &fc.io);
    ev_unref(fc.loop);                      /* watching keeps nothing alive */
    return 0;
}

/* ---- what file_response.c calls ---------------------------------------------- */

void file_cache_begin(void)
{
    fc.gen++;
}

void file_cache_init(struct ev_loop *loop, size_t size, size_t max)
{
    fc.loop = loop;
    fc.size = size;
    fc.max = max;
    fc.off = size == 0;
}

void file_cache_shutdown(void)
{
    if (fc.fd >= 0) {               /* its watches go with it */
        ev_ref(fc.loop);
        ev_io_stop(fc.loop, &fc.io);
        close(fc.fd);
        fc.fd = -1;
    }
    drop_under(-1, "");
    forget_dirs(-1, "", -1);
    free(fc.entries);
    free(fc.dirs);
    free(fc.wds);
    fc.entries = NULL;
    fc.dirs = fc.wds = NULL;
    fc.fd = -1;
}

int file_cache_usable(int dirfd, const char *path)
{
    const char *p = path, *e;

    if (fc.off || strlen(path) >= FC_PATH_MAX)
        return 0;
    if (*p == '/') {
        if (dirfd != AT_FDCWD)
            return 0;
        p++;
    }
    for (;; p = e + 1) {
        e = strchrnul(p, '/');
        if (e == p || (e - p == 1 && p[0] == '.') || (e - p == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        if (*e == '\0')
            return 1;
    }
}

int file_cache_find(int dirfd, const char *path, struct file_hit *h)
{
    size_t n = strlen(path);
    struct entry *e;

    if (fc.entries == NULL)
        return 0;
    e = *entry_slot(dirfd, path, n, hash_of(dirfd, path, n));
    if (e == NULL)
        return 0;
    e->gen = fc.gen;
    if (e != fc.newest) {
        lru_unlink(e);
        lru_push(e);
    }
    h->err = e->err;
    h->m = e->m;
    h->data = e->data;
    return 1;
}

int file_cache_watch(int dirfd, const char *path)
{
    const char *slash;

    if (cache_start() != 0)
        return -1;
    if (watch_dir(dirfd, path, path[0] == '/') != 0)    /* dirfd itself, or "/" */
        return -1;
    for (slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/'))
        if (watch_dir(dirfd, path, (size_t)(slash - path) + 1) != 0)
            return -1;
    return 0;
}

/* Whether fd (watched from now on) still has one link, a change made
 * since it was first looked at being reported from here on. */
static int watch_file(int dirfd, const char *path, int fd)
{
    char where[64];
    struct stat st;

    snprintf(where, sizeof(where), "/proc/self/fd/%d", fd);
    return watch(dirfd, path, strlen(path), where, FC_FILE_MASK) == 0
           && fstat(fd, &st) == 0 && st.st_nlink == 1;
}

const unsigned char *file_cache_add(int dirfd, const char *path, int fd,
                                    const struct file_meta *m, unsigned long nlink)
{
    size_t size = (size_t)m->size, got = 0;
    struct entry *e;

    if (fc.fd < 0 || nlink != 1 || m->size < 0 || (e = entry_add(dirfd, path, size)) == NULL)
        return NULL;
    e->err = 0;                     /* from here on, dropping it unwatches it */
    if (!watch_file(dirfd, path, fd))
        goto fail;
    while (got < size) {
        ssize_t r = pread(fd, e->data + got, size - got, (off_t)got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)                 /* it shrank: not cached */
            goto fail;
        got += (size_t)r;
    }
    e->m = *m;
    fc.bytes += size;
    return e->data;
fail:
    entry_drop(entry_slot(dirfd, path, strlen(path), e->hash));
    return NULL;
}

void file_cache_add_missing(int dirfd, const char *path, int err)
{
    struct entry *e;

    if (fc.fd < 0 || (e = entry_add(dirfd, path, 0)) == NULL)
        return;
    e->err = err;
}
