/*
 * scoreboard.h -- memory shared between the master and its workers.
 *
 * One slot per worker, in a MAP_SHARED anonymous mapping made by the master
 * before it forks.  A worker writes only its own slot; the master reads them
 * (readiness, liveness, what was running when a worker died).
 */
#ifndef KILN_SCOREBOARD_H
#define KILN_SCOREBOARD_H

#include <stdint.h>
#include <sys/types.h>

#define SCOREBOARD_SLOTS 256

struct scoreboard_slot {
    volatile pid_t pid;
    volatile uint32_t generation;
    volatile int ready;             /* set by the worker once it serves */
    volatile double heartbeat;      /* CLOCK_MONOTONIC seconds of the worker's
                                       last loop tick (once a second) */
    volatile uint64_t requests;     /* requests served */
    volatile int in_handler;        /* 1 while a plugin handler runs */
    char plugin[64];                /* plugin running the current handler */
    char route[128];                /* "GET /{name}" of the current handler */
};

struct scoreboard {
    struct scoreboard_slot slot[SCOREBOARD_SLOTS];
};

/* Maps a zeroed scoreboard, or NULL. */
struct scoreboard *scoreboard_new(void);
void scoreboard_free(struct scoreboard *sb);

#endif
