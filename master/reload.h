/*
 * reload.h -- SIGHUP (and watch_plugins): one explicit state machine.
 *
 *   idle --request--> checking: the config is read again, its new listeners
 *        opened, plugin_dir copied into sealed files, and a throwaway process
 *        loads those files once (init hooks run, as the workers' user);
 *   checking --check passed--> starting: a new generation is forked, loading
 *        the very files that were checked;
 *   starting --every worker ready--> commit: the new generation serves, the
 *        old one drains, the pidfile and the plugin watch follow the config;
 *   checking or starting --failure--> abort: what was started is stopped,
 *        the old generation keeps serving, the log says why.
 * A request while a reload runs (or before the first generation is ready)
 * is queued and starts when it ends.
 */
#ifndef KILN_RELOAD_H
#define KILN_RELOAD_H

#include <ev.h>
#include <sys/types.h>

#include "plugin.h"

struct config;
struct generation;
struct master;

enum reload_state { RELOAD_IDLE, RELOAD_CHECKING, RELOAD_STARTING };

struct reload {
    enum reload_state state;
    int queued;                 /* a request came while busy */
    pid_t check_pid;            /* the throwaway process loading the plugins */
    struct config *cfg;         /* the config being reloaded (owned until the
                                   generation takes it) */
    struct plugin_files files;  /* its sealed plugin files (likewise) */
    struct generation *pending; /* the generation starting, or NULL */
    ev_timer timer;             /* check or start deadline */
};

void reload_init(struct master *m);

/* Starts a reload (or queues it), logging `why` first.  Ignored while the
 * master stops. */
void reload_request(struct master *m, const char *why);

/* The first generation is ready: a reload queued meanwhile starts. */
void reload_booted(struct master *m);

/* Whether `pid` is the plugin check; if so its end is handled. */
int reload_reaped(struct master *m, pid_t pid, int status);

/* Every worker of g said ready; 1 when g was the reload's (committed). */
int reload_ready(struct master *m, struct generation *g);

/* A worker of the starting generation g died; 1 when g was the reload's
 * (the reload is aborted). */
int reload_worker_died(struct master *m, struct generation *g, pid_t pid, int status);

/* The configs a reload holds listeners open for (NULL when none), for
 * listeners_close_unused(). */
const struct config *reload_config(const struct master *m);

/* The master stops: the check is killed, a starting generation forgotten. */
void reload_stop(struct master *m);

/* Stops reload's watchers; in a child, closes its plugin files unless they
 * are `keep`.  At exit (not in a child) frees what a reload held. */
void reload_forget(struct master *m, const struct plugin_files *keep, int in_child);

#endif
