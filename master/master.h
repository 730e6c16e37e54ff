/*
 * master.h -- the master process, as main.c enters it (its state is in
 * state.h).
 *
 * The master binds the listening sockets, forks generations of workers and
 * supervises them from libev's default loop.  Where things happen:
 *   master.c     signals, start, stop, and the dispatch of what the loop
 *                reports (a child reaped, a worker ready)
 *   spawn.c      generations and worker processes: fork, the child's set-up,
 *                commands over the channel
 *   reload.c     SIGHUP: start -> check -> spawn -> commit or abort
 *   supervise.c  crash back-off, stuck workers, max_requests, TTIN/TTOU
 *   listeners.c, pidfile.c, handover.c (SIGUSR2), watch.c (watch_plugins),
 *   systemd.c, privileges.c
 */
#ifndef KILN_MASTER_H
#define KILN_MASTER_H

#include "options.h"

#ifndef KILN_CONF
#define KILN_CONF "/usr/local/etc/kiln/kiln.conf"
#endif

/* Runs the master until it stops.  Returns the process exit code. */
int master_run(const struct master_options *o);

#endif
