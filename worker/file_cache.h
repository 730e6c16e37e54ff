/*
 * file_cache.h -- the worker's cache of the files kiln_file_at() answers
 * with KILN_FILE_CACHE (file_cache.c): small files' bytes and validators,
 * and names found missing, each kept until inotify(7) reports a change to
 * it or to a directory on its path.
 */
#ifndef KILN_FILE_CACHE_H
#define KILN_FILE_CACHE_H

#include <stddef.h>

#include "file_cond.h"

struct ev_loop;

/* A file's validators, as its answer carries them. */
struct file_meta {
    long long size, mtime;
    char etag[FILE_ETAG_MAX];
    char modified[30];
};

/* What the cache holds for a path: a file (err 0: its validators and its
 * m.size bytes, valid until the cache next changes) or an open's errno. */
struct file_hit {
    int err;
    struct file_meta m;
    const unsigned char *data;
};

/* Sets the cache up on `loop`: `size` bytes of files in all at most (0:
 * off), `max` bytes each at most.  Nothing is allocated before the first
 * file is cached. */
void file_cache_init(struct ev_loop *loop, size_t size, size_t max);
void file_cache_shutdown(void);

/* A kiln_file_at() call begins: what it finds or adds stays cached until
 * the next call (no eviction takes bytes the caller still holds). */
void file_cache_begin(void);

/* Whether `path` under dirfd may be cached: the cache is on and the path
 * is canonical (no empty, "." or ".." component; absolute only from
 * AT_FDCWD), so that the same bytes name the same file whatever the
 * caller's flags. */
int file_cache_usable(int dirfd, const char *path);

/* 1 with *h when path is cached, else 0. */
int file_cache_find(int dirfd, const char *path, struct file_hit *h);

/* Watches every directory from dirfd (or "/" for an absolute path) down to
 * path's parent, top down: 0, or -1 when one cannot be watched (path is
 * then not cached).  Called before path is opened, so that any change
 * after the open is reported. */
int file_cache_watch(int dirfd, const char *path);

/* Caches path, open as fd with validators m: its bytes (read with
 * pread(2)) when it is small enough and has one link only, and watches its
 * inode through fd.  The cached bytes (valid until the cache next
 * changes), or NULL. */
const unsigned char *file_cache_add(int dirfd, const char *path, int fd,
                                    const struct file_meta *m, unsigned long nlink);

/* Caches that opening path failed with err (ENOENT). */
void file_cache_add_missing(int dirfd, const char *path, int err);

#endif
