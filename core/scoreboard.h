/*
 * scoreboard.h -- memory shared between the master and its workers.
 *
 * One slot per worker, in a MAP_SHARED anonymous mapping made by the master
 * before it forks.  A worker writes only its own slot, through the
 * operations below; the master reads them (readiness, liveness, what was
 * running when a worker died or got stuck) and clears a slot when it takes
 * it for a new worker.
 */
#ifndef KILN_SCOREBOARD_H
#define KILN_SCOREBOARD_H

#include <stdint.h>
#include <sys/types.h>

#define SCOREBOARD_SLOTS 256
/* Workers a master runs at most: half the slots, so that a whole new
 * generation fits beside the serving one during a reload. */
#define SCOREBOARD_MAX_WORKERS (SCOREBOARD_SLOTS / 2)

struct scoreboard_slot {
    volatile pid_t pid;
    volatile uint32_t generation;
    volatile int ready;             /* set by the worker once it serves */
    volatile double heartbeat;      /* scoreboard_clock() of the worker's
                                       last loop tick (once a second) */
    volatile uint64_t requests;     /* requests served */
    volatile int in_handler;        /* 1 while a plugin handler runs */
    volatile int accepting;         /* 1 while the worker takes connections */
    volatile uint32_t conns;        /* open connections, HTTP and WebSocket,
                                       but this loop turn's accepts (at each
                                       accept, the turn after one, and
                                       once a second) */
    volatile uint32_t accepted;     /* connections accepted (wraps) */
    char plugin[64];                /* plugin running the current handler */
    char route[128];                /* "GET /{name}" of the current handler */
    const void *named;              /* worker-private: what plugin/route name
                                       (copied only when it changes) */
};

struct scoreboard {
    struct scoreboard_slot slot[SCOREBOARD_SLOTS];
};

/* Maps a zeroed scoreboard, or NULL. */
struct scoreboard *scoreboard_new(void);
void scoreboard_free(struct scoreboard *sb);

/* The clock heartbeats are stamped with and read against: CLOCK_MONOTONIC
 * seconds, the same in every process. */
double scoreboard_clock(void);

/* ---- a worker's own slot (each NULL-safe) ---------------------------------- */

/* The worker's loop turned: stamps the heartbeat. */
void scoreboard_beat(struct scoreboard_slot *s);

/* The worker serves: heartbeat, then ready. */
void scoreboard_ready(struct scoreboard_slot *s);

/*
 * A plugin's code starts running for route `key`: marks the slot in a
 * handler.  Returns 1 when the slot still names something else: the caller
 * then names it with scoreboard_name() (so names are copied only when the
 * route changes).  Inline: it runs around every handler.
 */
static inline int scoreboard_enter(struct scoreboard_slot *s, const void *key)
{
    if (s == NULL)
        return 0;
    s->in_handler = 1;
    return key != s->named;
}

/* Names what runs for `key`: "PLUGIN" and "WHAT PATTERN" ("GET /{name}"). */
void scoreboard_name(struct scoreboard_slot *s, const void *key, const char *plugin,
                     const char *what, const char *pattern);

/* The plugin's code returned; `request` counts one request served. */
static inline void scoreboard_leave(struct scoreboard_slot *s, int request)
{
    if (s == NULL)
        return;
    s->in_handler = 0;
    if (request)
        s->requests++;
}

/* ---- connections, for the workers' accept balance (worker/balance.c) ---- */

/* The worker starts (1) or stops (0) taking new connections. */
static inline void scoreboard_accepting(struct scoreboard_slot *s, int on)
{
    if (s != NULL)
        s->accepting = on;
}

/* The worker holds `n` open connections (written only when it changed). */
static inline void scoreboard_conns(struct scoreboard_slot *s, uint32_t n)
{
    if (s != NULL && s->conns != n)
        s->conns = n;
}

/* The worker accepted a connection and holds `n` (balance.h). */
static inline void scoreboard_accept(struct scoreboard_slot *s, uint32_t n)
{
    if (s == NULL)
        return;
    s->accepted++;
    s->conns = n;
}

#endif
