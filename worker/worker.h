/*
 * worker.h -- a worker process: one libev loop carrying the accept watchers,
 * the HTTP connections, the master channel and (later) websockets.
 *
 * The master forks, cleans its own state out of the child, then calls
 * worker_main(), which never returns.  Exit codes: 0 after a clean stop,
 * EXIT_BOOT_FAILURE when the worker could not start serving (a refused
 * plugin, no memory).  The master then refuses to start (first start) or
 * abandons the reload (a reload's generation); a worker of the serving
 * generation, which loads the plugin files its generation's check passed,
 * is respawned with the crash back-off.
 */
#ifndef KILN_WORKER_H
#define KILN_WORKER_H

#include <stddef.h>
#include <stdint.h>

#define EXIT_BOOT_FAILURE 3

/* One-byte messages on the master<->worker socketpair. */
#define CHAN_READY 'R'      /* worker -> master: plugins loaded, accepting */
#define CHAN_QUIT  'Q'      /* master -> worker: graceful stop (drain) */
#define CHAN_STOP  'S'      /* master -> worker: fast stop */
#define CHAN_REOPEN 'O'     /* master -> worker: reopen the log; the byte may
                               carry (SCM_RIGHTS) the master's new log file */

struct config;
struct listener;
struct plugin_files;
struct scoreboard_slot;

struct worker_args {
    const struct config *cfg;
    struct plugin_files *plugins;   /* the generation's plugin files: loaded,
                                       then closed */
    struct listener *listeners;     /* inherited listening sockets */
    size_t nlisteners;
    int chan_fd;                    /* this worker's end of the socketpair */
    struct scoreboard_slot *slot;   /* this worker's scoreboard slot */
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
