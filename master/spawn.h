/*
 * spawn.h -- generations and worker processes: forking a worker (and the
 * child's set-up before worker_main), commands to workers over their
 * channel, and the bookkeeping of who is alive in which generation.
 *
 * A generation is one set of workers started from one config and one
 * sealed set of plugin files; it is STARTING until every worker said
 * CHAN_READY, then ACTIVE (serving, its crashed workers replaced), then
 * DRAINING once a newer one took over (or ABORTED, a failed reload's).
 * What the loop reports about workers (ready, reaped) goes up through the
 * hooks in struct spawn; this file decides nothing about reloads or
 * respawns.
 */
#ifndef KILN_SPAWN_H
#define KILN_SPAWN_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "plugin.h"

struct config;
struct fanout_peer;
struct master;

/* Beyond graceful_timeout, before the master SIGKILLs a draining worker:
 * the worker's own drain deadline should win the race. */
#define SPAWN_KILL_MARGIN 1.0

enum gen_state {
    GEN_STARTING,               /* forked, waiting for every CHAN_READY */
    GEN_ACTIVE,                 /* serving: respawned on crash */
    GEN_DRAINING,               /* told to quit after a reload; not respawned */
    GEN_ABORTED                 /* a failed reload's generation, told to stop */
};

/* One set of workers started from one config. */
struct generation {
    unsigned id;                /* 1, 2, ... */
    enum gen_state state;
    struct config *cfg;         /* owned; freed with the generation */
    struct plugin_files plugins;/* sealed copies of plugin_dir for this
                                   generation: its check and all its workers,
                                   replacements too, load these */
    size_t nworkers;            /* how many it should have */
    size_t nready;              /* how many said CHAN_READY (while starting) */
    ev_timer deadline;          /* draining or aborted: SIGKILL what is left */
    int killed;                 /* draining, SIGKILLed to cap the draining ones */
    struct master *m;
    struct generation *next;
};

/* One forked worker, as the master sees it. */
struct worker_proc {
    pid_t pid;
    unsigned id;                /* 0..nworkers-1 within its generation */
    int slot;                   /* scoreboard slot */
    int chan;                   /* master's end of the socketpair, or -1 */
    int ready;
    int told;                   /* CHAN_QUIT or CHAN_STOP was sent */
    int stuck;                  /* SIGKILLed for a stale heartbeat */
    int retiring;               /* past max_requests; its replacement starts */
    int replacing;              /* started to take over from a retiring worker */
    uint64_t max_requests;      /* recycled past this many requests; 0: never */
    ev_tstamp started;
    ev_io io;                   /* readable channel */
    struct fanout_peer *fanout; /* its publish/subscribe state (pubsub.c) */
    struct generation *gen;
    struct master *m;
    struct worker_proc *next;
};

struct spawn {
    struct generation *gens;    /* newest first */
    struct worker_proc *workers;
    unsigned last_gen;
    /* hooks, set by master.c */
    void (*ready)(struct master *m, struct worker_proc *w);  /* CHAN_READY */
    /* in a child: drop the master's watchers and plugin files but `keep` */
    void (*forget)(struct master *m, const struct plugin_files *keep);
};

/* ---- generations ------------------------------------------------------------ */

/* A new STARTING generation owning `cfg`, linked first; NULL on OOM (cfg
 * not taken).  Its number of workers is the config's (auto: one per CPU). */
struct generation *gen_new(struct master *m, struct config *cfg);

/* Forks every worker of g.  0, or -1 (logged) at the first failure. */
int gen_spawn_all(struct master *m, struct generation *g);

/* Workers of g still alive. */
size_t gen_alive(const struct master *m, const struct generation *g);

/* Whether g has a worker with this id. */
int gen_has_worker(const struct master *m, const struct generation *g, unsigned id);

/* Frees g if it is not the current one, not starting, and has no workers. */
void gen_maybe_free(struct master *m, struct generation *g);

/* Tells every generation but the current one (and those already going) to
 * drain within graceful_timeout, and keeps at most MAX_DRAINING draining. */
void gen_drain_old(struct master *m);

/* Tells g to drain within graceful_timeout, then SIGKILLs what is left. */
void gen_drain(struct master *m, struct generation *g);

/* A failed reload's generation: told to stop now, SIGKILLed after 1 s. */
void gen_abort(struct master *m, struct generation *g);

/* "101 102 ..." (the workers of g, in id order) into buf. */
void gen_pids(const struct master *m, const struct generation *g, char *buf, size_t size);

/* Frees every generation (at exit). */
void gen_free_all(struct master *m);

/* ---- workers ---------------------------------------------------------------- */

/* Forks worker `id` of generation g.  The new worker, or NULL (logged). */
struct worker_proc *worker_spawn(struct master *m, struct generation *g, unsigned id);

/* Tells a worker to quit (CHAN_QUIT) or stop (CHAN_STOP); when the channel
 * fails, with a signal (SIGQUIT graceful, SIGINT fast). */
void worker_send(struct worker_proc *w, char cmd);

/* Sends `cmd` to every worker of g (NULL: of every generation). */
void workers_send(struct master *m, struct generation *g, char cmd);

/* Tells every worker to reopen its log, handing it `fd` (the master's new
 * log file, or -1 for none: stderr); SIGUSR1 where the channel fails. */
void workers_reopen(struct master *m, int fd);

/* SIGKILLs the workers of g (NULL: all) that are still there, saying they
 * did not stop `within`. */
void workers_kill(struct master *m, struct generation *g, const char *within);

struct worker_proc *worker_find(struct master *m, pid_t pid);

/* Forgets a reaped worker: channel, scoreboard slot, list entry. */
void worker_free(struct master *m, struct worker_proc *w);

/* "exited with code 3" or "killed by signal 11 (Segmentation fault)", from a
 * wait status. */
void status_long(int status, char *buf, size_t size);

/* ---- children --------------------------------------------------------------- */

/*
 * In a freshly forked child: leaves the master's loop (ev_loop_fork, then
 * the forget hook stops every watcher of the master and closes every
 * sealed plugin file but `keep`) and the master's signal mask.
 */
void spawn_detach_child(struct master *m, struct plugin_files *keep);

/* Stops the generations' deadlines; in a child, also the channels' watchers,
 * and closes the channels and every generation's plugin files but `keep`. */
void spawn_forget(struct master *m, const struct plugin_files *keep, int in_child);

#endif
