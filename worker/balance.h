/*
 * balance.h -- which worker takes a new connection: a worker that holds
 * clearly more connections than an accepting peer leaves the next one to it.
 *
 * Every worker's epoll is woken for a connection on a shared listening
 * socket (libev cannot ask for EPOLLEXCLUSIVE), and the first to call
 * accept() wins: on a busy machine that is the worker already running, so
 * one worker could end up holding nearly every connection of a burst, or
 * of a client that connects one at a time.  Each worker publishes its open
 * connections in its scoreboard slot (held ones: those accepted in the
 * current loop turn are not counted, so that a connection served and closed
 * on the turn after its accept never weighs) at each accept, the turn after,
 * and once a second.  Before an accept, a worker
 * that holds more than the least loaded accepting peer by more than a slack
 * (BALANCE_SLACK + 1/8 of the peer's) yields: it stops accepting for
 * BALANCE_PAUSE (still counted as accepting) and the peer, woken too, takes
 * the connection; one that took BALANCE_TURN past that share in this turn
 * leaves the rest to its next turn.  A peer that accepted nothing while a
 * connection waited for it (stopped, stuck in a handler, gone)
 * BALANCE_MISSES times in a row is passed over until its accept count
 * moves, or, at a listing of the peers (every BALANCE_REFRESH as
 * connections arrive), its heartbeat is under BALANCE_ALIVE old: a stalled
 * peer delays a connection by BALANCE_MISSES pauses at most each
 * BALANCE_REFRESH for its heartbeat's first BALANCE_ALIVE, then no more.
 */
#ifndef KILN_BALANCE_H
#define KILN_BALANCE_H

#include <stdint.h>
#include <sys/types.h>

#include "scoreboard.h"

#define BALANCE_PAUSE 0.001         /* s a yielding worker stops accepting */
#define BALANCE_ALIVE 1.5           /* s: a peer's heartbeat this recent is alive */
#define BALANCE_MISSES 4            /* such pauses before a peer is passed over */
#define BALANCE_REFRESH 0.1         /* s between listings of the peers */
#define BALANCE_SLACK 2             /* connections more than the peer's, + 1/8 */
#define BALANCE_TURN 4              /* accepts a loop turn past the fair share */

struct balance_peer {
    uint16_t slot;                  /* index in the scoreboard */
    uint8_t deaf;                   /* passed over until accepted != deaf_seen */
    uint8_t misses;                 /* pauses in a row it accepted nothing in */
    pid_t pid;                      /* the worker the slot held when listed */
    uint32_t deaf_seen;
};

struct balance {
    struct scoreboard *sb;          /* NULL: never yields */
    const struct scoreboard_slot *mine;
    unsigned npeers;
    double listed_at;               /* ev_now of the last listing */
    int waited;                     /* peer yielded to during a pause, or -1 */
    uint32_t waited_seen;           /* its accept count then */
    struct balance_peer peer[SCOREBOARD_SLOTS];
};

/* Starts with no peers; `sb` may be NULL (a worker outside a master). */
void balance_init(struct balance *b, struct scoreboard *sb,
                  const struct scoreboard_slot *mine);

/* Lists the other workers' slots again (workers come and go) when the last
 * listing is BALANCE_REFRESH old at `now` (ev_now), or there was none. */
void balance_refresh(struct balance *b, double now);

enum balance_answer {
    BALANCE_TAKE,                   /* take the connection */
    BALANCE_LATER,                  /* no more this loop turn */
    BALANCE_YIELD                   /* none for BALANCE_PAUSE */
};

/* Whether to accept a connection, holding `held` from earlier loop turns
 * and `turn` accepted in this one. */
enum balance_answer balance_yield(struct balance *b, uint32_t held, uint32_t turn);

/* The pause ended: a peer that took nothing meanwhile is passed over. */
void balance_resume(struct balance *b);

#endif
