/*
 * pidfile.h -- the master's pidfile: written at start, moved when a reload
 * names another, renamed to PIDFILE.oldbin during a binary upgrade, removed
 * at exit.
 */
#ifndef KILN_PIDFILE_H
#define KILN_PIDFILE_H

#include <stddef.h>

struct pidfile {
    char *path;                 /* the file holding our pid, or NULL */
    char *orig;                 /* during a binary upgrade: the name `path`
                                   (PIDFILE.oldbin) had before; else NULL */
};

/*
 * Writes this process's pid to `path` (NULL: none) and makes it the
 * pidfile.  0, or -1 with "writing pidfile PATH failed: reason" in err and
 * nothing written.
 */
int pidfile_write(struct pidfile *pf, const char *path, char *err, size_t errlen);

/*
 * After a reload: when the config names another pidfile than the one
 * written (`path`, NULL: none), writes the new one and removes the old one,
 * logging what it did.  A failure is logged (a warning when `path` is the
 * built-in default, else an error) and keeps the old file.  During a binary
 * upgrade nothing changes (logged).
 */
void pidfile_change(struct pidfile *pf, const char *path, int is_default);

/* Binary upgrade: PIDFILE -> PIDFILE.oldbin.  0, or -1 (logged). */
int pidfile_to_oldbin(struct pidfile *pf);

/* The upgrade ended or was rolled back: PIDFILE.oldbin -> PIDFILE (logged). */
void pidfile_restore(struct pidfile *pf);

/* Removes the file, if it still holds our pid, and forgets it. */
void pidfile_remove(struct pidfile *pf);

#endif
