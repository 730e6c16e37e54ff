/*
 * state.h -- the master's state: what every part of the master reads (the
 * loop, the options, the scoreboard, the serving generation, whether it
 * stops), and a pointer to each part's own state, which only that part's
 * file writes.  It names the parts' types without their definitions, so
 * that any part can take the master without depending on the others.
 */
#ifndef KILN_STATE_H
#define KILN_STATE_H

#include <ev.h>

struct fanout;
struct generation;
struct handover;
struct listeners;
struct master_options;
struct metrics;
struct pidfile;
struct plugin_watch;
struct reload;
struct scoreboard;
struct spawn;
struct supervisor;

/* The signals the master handles, in the order of struct master's sig[]. */
#define MASTER_NSIGNALS 9

enum master_stop { STOP_NONE, STOP_GRACEFUL, STOP_FAST };

/* The master's whole state. */
struct master {
    struct ev_loop *loop;
    const struct master_options *opt;
    struct scoreboard *sb;
    struct metrics *metrics;    /* [server] metrics' counters, beside sb */

    struct generation *current; /* serving (or starting, at first start) */

    /* each part's own state, kept by master_run(), written by its file */
    struct spawn *spawn;        /* generations and workers (spawn.c) */
    struct reload *reload;      /* reload.c */
    struct supervisor *sup;     /* supervise.c */
    struct listeners *ls;       /* listeners.c */
    struct pidfile *pidfile;    /* pidfile.c */
    struct handover *ho;        /* handover.c */
    struct plugin_watch *watch; /* watch.c */
    struct fanout *fanout;      /* publish/subscribe (pubsub.c) */

    /* master.c */
    int booted;                 /* generation 1 was ready once */
    enum master_stop stopping;
    int exit_code;
    int winched;                /* SIGWINCH: our workers left to the new binary */
    ev_signal sig[MASTER_NSIGNALS];
    ev_child child;
    ev_timer stop_timer;        /* stop deadline: SIGKILL what is left */
};

#endif
