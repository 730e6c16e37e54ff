/*
 * supervise.h -- keeping the serving generation whole: a crashed worker is
 * logged (with the plugin and route it was running) and replaced after a
 * back-off; a worker whose loop stopped turning for worker_timeout is
 * killed; a worker past max_requests is recycled (its replacement starts
 * first); SIGTTIN/SIGTTOU add or remove a worker.
 */
#ifndef KILN_SUPERVISE_H
#define KILN_SUPERVISE_H

#include <ev.h>

struct master;
struct scoreboard_slot;
struct worker_proc;

struct supervisor {
    unsigned crash_streak;      /* crashes since a worker last lived 10 s */
    ev_timer respawn;           /* back-off before replacing crashed workers */
    ev_timer watchdog;          /* heartbeats and max_requests, twice a second */
    ev_tstamp recycle_after;    /* no max_requests replacement before this */
};

/* Starts the watchdog. */
void supervise_init(struct master *m);

/* Stops the timers (a stop, or in a child). */
void supervise_stop(struct master *m);

/*
 * A worker of the serving generation is gone (`dead` is a copy of its
 * record, `slot` of its scoreboard slot, `lived` how long it ran): a crash
 * is logged, and its place is filled, after a back-off for a crash, at once
 * when it was told to go.
 */
void supervise_gone(struct master *m, const struct worker_proc *dead, int status,
                    const struct scoreboard_slot *slot, double lived);

/* A worker of a serving generation became ready: the one it replaces (past
 * max_requests) drains now. */
void supervise_ready(struct master *m, struct worker_proc *w);

/* SIGTTIN (+1) or SIGTTOU (-1): one worker more or fewer in the serving
 * generation, until the next reload. */
void supervise_resize(struct master *m, int delta);

#endif
