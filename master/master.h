/*
 * master.h -- the master process: its state, each part owned by one file,
 * and the entry points main.c uses.
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

#include <ev.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "handover.h"
#include "listeners.h"
#include "options.h"
#include "pidfile.h"
#include "reload.h"
#include "spawn.h"
#include "supervise.h"
#include "watch.h"

#ifndef KILN_CONF
#define KILN_CONF "/usr/local/etc/kiln/kiln.conf"
#endif

/* The signals the master handles, in the order of struct master's sig[]. */
#define MASTER_NSIGNALS 9

enum master_stop { STOP_NONE, STOP_GRACEFUL, STOP_FAST };

/* The master's whole state. */
struct master {
    struct ev_loop *loop;
    const struct master_options *opt;
    struct scoreboard *sb;

    struct spawn spawn;         /* generations and workers (spawn.c) */
    struct generation *current; /* serving (or starting, at first start) */
    struct reload reload;       /* reload.c */
    struct supervisor sup;      /* supervise.c */
    struct listeners ls;        /* listeners.c */
    struct pidfile pidfile;     /* pidfile.c */
    struct handover ho;         /* handover.c */
    struct plugin_watch watch;  /* watch.c */

    /* master.c */
    int booted;                 /* generation 1 was ready once */
    enum master_stop stopping;
    int exit_code;
    int winched;                /* SIGWINCH: our workers left to the new binary */
    ev_signal sig[MASTER_NSIGNALS];
    ev_child child;
    ev_timer stop_timer;        /* stop deadline: SIGKILL what is left */
};

/* Runs the master until it stops.  Returns the process exit code. */
int master_run(const struct master_options *o);

#endif
