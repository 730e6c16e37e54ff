/*
 * file_open.h -- opening a file by a path relative to a directory under the
 * rules of kiln_file_at()'s flags (file_open.c): openat2(2) RESOLVE_BENEATH
 * and RESOLVE_NO_SYMLINKS, or a component-by-component walk where the
 * kernel has no openat2.
 */
#ifndef KILN_FILE_OPEN_H
#define KILN_FILE_OPEN_H

/* The flags file_open_at() reads (kiln.h's KILN_FILE_BENEATH and
 * KILN_FILE_NO_SYMLINKS, the same bits). */
#define FILE_OPEN_BENEATH 0x1u
#define FILE_OPEN_NO_SYMLINKS 0x2u

/*
 * Opens `rel` under `dirfd` (AT_FDCWD: the working directory) read-only,
 * close-on-exec, non-blocking and without a controlling terminal.  With
 * FILE_OPEN_BENEATH the path may not leave dirfd: no absolute path, no ".."
 * above it, no symbolic link (absolute, or relative and climbing out) that
 * does; with FILE_OPEN_NO_SYMLINKS no component may be a symbolic link.
 * Returns the descriptor, or -1 with errno: EXDEV or ELOOP (or ENOTDIR)
 * for a path the flags refuse, else what openat(2) says.
 */
int file_open_at(int dirfd, const char *rel, unsigned flags);

/*
 * The walk file_open_at() falls back to when openat2(2) is missing (ENOSYS:
 * Linux before 5.6) or refused (EPERM: a seccomp filter): each component
 * opened with O_NOFOLLOW from the one before, so no symbolic link is
 * followed at all (both flags then mean "no symbolic link"), ".." and an
 * absolute path refused with EXDEV, empty and "." components skipped.
 * Exposed for the unit test.
 */
int file_open_walk(int dirfd, const char *rel);

/* Whether file_open_at() uses the walk (openat2 found missing). */
int file_open_walking(void);

#endif
