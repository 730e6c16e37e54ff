/*
 * handover.h -- listening sockets that outlive a master: handed to a new
 * kiln binary on SIGUSR2 (binary upgrade), taken at start from the old
 * binary's master ($KILN_INHERIT) or from systemd (socket activation).
 */
#ifndef KILN_HANDOVER_H
#define KILN_HANDOVER_H

#include <stddef.h>

struct config;
struct master;

/* The variable a new binary's master finds its inherited sockets in:
 * "FD:ADDR;FD:ADDR;..." where ADDR is the config address the socket was
 * opened for, or "FD=ADDR" for a socket that no config address names. */
#define HANDOVER_ENV "KILN_INHERIT"

/*
 * At start: takes the sockets of $KILN_INHERIT and of socket activation
 * into m->ls.  A socket matching one of c's addresses serves it; an
 * inherited socket c no longer names is closed; one from systemd that no
 * address names is served too (extra).  0, or -1 with err.
 */
int handover_adopt(struct master *m, const struct config *c, char *err, size_t errlen);

/*
 * SIGUSR2: renames the pidfile to PIDFILE.oldbin and starts this binary
 * again with the same arguments, handing it the listening sockets.  The old
 * master keeps serving until told (SIGWINCH, SIGQUIT).  Logged.
 */
void handover_upgrade(struct master *m);

/* The new binary's master ended (exit status `status`): the pidfile gets its
 * name back, and after a SIGWINCH the workers start again. */
void handover_ended(struct master *m, int status);

/* Whether another master serves our sockets now: the new binary's, or the
 * old binary's we were started by.  Its unix socket files must stay. */
int handover_pending(const struct master *m);

#endif
