/*
 * worker.h -- a worker process: one libev loop carrying the accept watchers,
 * the HTTP connections, the WebSocket connections and the master channel.
 *
 * struct worker is the one context of a worker process (nginx's cycle):
 * worker.c owns its life; conn.c keeps its list of connections and ws_*.c
 * its WebSocket state (w->ws).  The master forks, cleans its own state out
 * of the child, then calls worker_main(), which never returns.  Exit codes: 0 after a clean stop,
 * EXIT_BOOT_FAILURE when the worker could not start serving (a refused
 * plugin, no memory).  The master then refuses to start (first start) or
 * abandons the reload (a reload's generation); a worker of the serving
 * generation, which loads the plugin files its generation's check passed,
 * is respawned with the crash back-off.
 */
#ifndef KILN_WORKER_H
#define KILN_WORKER_H

#include <stddef.h>
#include <ev.h>

#include "balance.h"
#include "plugin.h"

#define EXIT_BOOT_FAILURE 3

struct config;
struct conn;
struct listener;
struct plugin_files;
struct router;
struct metrics;
struct metrics_slot;
struct scoreboard_slot;
struct ws_ctx;

struct worker {
    struct ev_loop *loop;
    const struct config *cfg;
    struct router *router;
    struct plugin_set plugins;
    struct scoreboard_slot *slot;
    struct metrics *metrics;        /* every worker's counters (read at a scrape) */
    struct metrics_slot *mslot;     /* this worker's: [server] metrics on, else NULL */

    ev_io *accept_w;                /* one per listening socket */
    size_t naccept;
    ev_timer accept_pause;          /* re-arms accept after EMFILE */
    ev_check capacity;              /* at max_connections: resumes below it */
    int accept_failing;             /* accept() failed (EMFILE...): logged once */
    ev_io chan_w;                   /* master channel */
    char *chan_buf;                 /* one datagram read from it */
    ev_signal sig[5];
    ev_timer tick;                  /* heartbeat, once a second */
    ev_prepare publish;             /* connections held, into the scoreboard */
    struct balance bal;             /* which worker accepts (balance.c) */
    size_t turn_accepts;            /* connections accepted in loop turn: */
    unsigned turn;                  /*   (ev_iteration) */
    ev_timer drain_deadline;        /* graceful_timeout after a stop */
    ev_check drained;               /* while draining: exits once nothing is open */

    struct ws_ctx *ws;              /* WebSocket state (ws_context.c), or NULL */

    struct conn *conns;             /* every open connection */
    size_t nconns;
    int draining;                   /* stop accepting, finish, exit */
};


struct worker_args {
    const struct config *cfg;
    struct plugin_files *plugins;   /* the generation's plugin files: loaded,
                                       then closed */
    struct listener *listeners;     /* inherited listening sockets */
    size_t nlisteners;
    int chan_fd;                    /* this worker's end of the socketpair */
    struct scoreboard *sb;          /* every worker's slot (accept balance) */
    struct scoreboard_slot *slot;   /* this worker's scoreboard slot */
    struct metrics *metrics;        /* the shared counters, and this worker's */
    struct metrics_slot *mslot;     /*   slot of them (core/metrics.h) */
    unsigned generation;
    unsigned id;                    /* 0..workers-1 within the generation */
    int report_sections;            /* warn of config sections no plugin
                                       claims (one worker, when no plugin
                                       check ran for this generation) */
};

/*
 * Runs a worker until it is told to stop (channel, SIGTERM/SIGQUIT graceful,
 * SIGINT fast) or the master goes away (channel EOF: graceful).  Expects the
 * default libev loop to have been ev_loop_fork()ed and cleared of the
 * master's watchers, and signal dispositions reset.  Never returns.
 */
void worker_main(const struct worker_args *a) __attribute__((noreturn));

#endif
