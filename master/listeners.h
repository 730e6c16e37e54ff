/*
 * listeners.h -- the master's listening sockets: opened for a config before
 * anything is forked, inherited from an old binary or from systemd, kept
 * across reloads as long as a config in use names them, and handed to the
 * workers of every generation that serves them.
 */
#ifndef KILN_LISTENERS_H
#define KILN_LISTENERS_H

#include <stddef.h>

#include "config.h"
#include "listen.h"

/* Listening sockets held at once: the current set plus a reload's new ones. */
#define LISTENERS_MAX (2 * CONFIG_MAX_LISTEN)

struct listeners {
    struct listener v[LISTENERS_MAX];
    size_t n;
};

/* The listener opened for `addr` (as written), or NULL. */
struct listener *listeners_find(struct listeners *ls, const char *addr);

/*
 * Opens the config's addresses that no listener has yet, and tunes the ones
 * open already as the config says (backlog, deferral).  0, or -1 with
 * "bind(ADDR) failed: ..." in err; what was opened stays open (closed by
 * listeners_close_unused()).
 */
int listeners_open(struct listeners *ls, const struct config *c, char *err,
                   size_t errlen);

/*
 * Takes over `fd`, inherited from `from` ("inherited", "from systemd"), for
 * config address `addr`, or for none (NULL: an extra socket, served by
 * every generation).  `own`: remove a unix socket's file on close.  0, or
 * -1 with err.
 */
int listeners_adopt(struct listeners *ls, int fd, const char *addr, int own,
                    const char *from, char *err, size_t errlen);

/* Whether a generation with config `c` serves on `l`. */
int listeners_serves(const struct config *c, const struct listener *l);

/* Closes (logged) the listeners that none of the n configs `in_use`
 * (NULL entries skipped) names; extras stay. */
void listeners_close_unused(struct listeners *ls, const struct config *const *in_use,
                            size_t n);

/* Closes every listener; with `release`, unix socket files are left to the
 * master they were handed to. */
void listeners_close_all(struct listeners *ls, int release);

#endif
