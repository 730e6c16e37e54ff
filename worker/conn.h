/*
 * conn.h -- the worker's per-process state and its HTTP connections.
 *
 * struct worker is the one context of a worker process (nginx's cycle):
 * worker.c owns its life, conn.c adds and removes connections.  A reader
 * following "what happens to a byte that arrives" starts at conn_new().
 */
#ifndef KILN_CONN_H
#define KILN_CONN_H

#include <stddef.h>
#include <ev.h>
#include "plugin.h"

struct config;
struct router;
struct scoreboard_slot;
struct listener;
struct conn;

struct worker {
    struct ev_loop *loop;
    const struct config *cfg;
    struct router *router;
    struct plugin_set plugins;
    struct scoreboard_slot *slot;
    unsigned generation;

    ev_io *accept_w;                /* one per listening socket */
    size_t naccept;
    ev_timer accept_pause;          /* re-arms accept after EMFILE */
    ev_io chan_w;                   /* master channel */
    int chan_fd;
    ev_signal sig[5];
    ev_timer tick;                  /* heartbeat, once a second */
    ev_timer drain_deadline;        /* graceful_timeout after a stop */

    struct ws_ctx *ws;              /* libwebsockets state (ws.c) */

    struct conn *conns;             /* every open connection */
    size_t nconns;
    const struct route *slot_route; /* route last named in the scoreboard */
    int draining;                   /* stop accepting, finish, exit */
    int exit_code;
};

/*
 * Takes an accepted, non-blocking socket and starts serving it.  On OOM the
 * socket is closed.  The connection frees itself when it ends.
 */
void conn_new(struct worker *w, int fd);

/* Graceful stop: closes idle connections now and makes the others close
 * after their current response. */
void conn_drain_all(struct worker *w);

/* Fast stop: closes every connection at once. */
void conn_close_all(struct worker *w);

/*
 * Around every call into a plugin's handler: sets plugin_current (kiln_log's
 * prefix) and publishes "plugin, route" in the scoreboard for the master's
 * crash and stuck-worker reports.  `what` is the method shown ("GET", "WS").
 * worker_leave() counts a served request when `request` is non-zero.
 */
void worker_enter(struct worker *w, const struct route *rt, const char *what);
void worker_leave(struct worker *w, int request);

/* Called whenever an HTTP or WebSocket connection closes: while draining,
 * the worker exits once none of either is left. */
void worker_conn_closed(struct worker *w);

#endif
