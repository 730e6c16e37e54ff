/*
 * handover.h -- listening sockets that outlive a master: handed to a new
 * kiln binary on SIGUSR2 (binary upgrade), taken at start from the old
 * binary's master ($KILN_INHERIT) or from systemd (socket activation).
 */
#ifndef KILN_HANDOVER_H
#define KILN_HANDOVER_H

#include <stddef.h>
#include <sys/types.h>

struct config;
struct listeners;
struct pidfile;

/* The variable a new binary's master finds its inherited sockets in:
 * "FD:ADDR;FD:ADDR;..." where ADDR is the config address the socket was
 * opened for, or "FD=ADDR" for a socket that no config address names. */
#define HANDOVER_ENV "KILN_INHERIT"

struct handover {
    char *exe;                  /* this binary, resolved at start */
    pid_t upgrade_pid;          /* the new binary's master, or 0 */
    pid_t parent_master;        /* the old binary's master we inherited from */
};

/*
 * At start: remembers this binary's path (SIGUSR2 re-executes it even if the
 * file is replaced meanwhile), then takes the sockets of $KILN_INHERIT and
 * of socket activation into `ls`.  A socket matching one of c's addresses
 * serves it; an inherited socket c no longer names is closed; one from
 * systemd that no address names is served too (extra).  0, or -1 with err.
 */
int handover_adopt(struct handover *h, struct listeners *ls, const struct config *c,
                   char *err, size_t errlen);

/*
 * SIGUSR2: renames the pidfile to PIDFILE.oldbin and starts this binary
 * again with `argv`, handing it the listening sockets.  The old master
 * keeps serving until told (SIGWINCH, SIGQUIT).  Logged.
 */
void handover_upgrade(struct handover *h, const struct listeners *ls,
                      struct pidfile *pf, char *const *argv);

/* The new binary's master ended (exit status `status`): logged, and the
 * pidfile gets its name back. */
void handover_ended(struct handover *h, struct pidfile *pf, int status);

/* Whether another master serves our sockets now: the new binary's, or the
 * old binary's we were started by.  Its unix socket files must stay. */
int handover_pending(const struct handover *h);

/* Frees what handover_adopt() kept. */
void handover_free(struct handover *h);

#endif
