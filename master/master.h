/*
 * master.h -- the master process: its state, and the entry points main.c uses.
 *
 * The master binds the listening sockets, forks generations of workers and
 * supervises them from libev's default loop: it respawns crashed and stuck
 * workers with back-off, recycles them after max_requests, reloads on SIGHUP
 * (or a change in plugin_dir) by checking the plugins in a throwaway process
 * and starting a new generation before draining the old one, hands its
 * sockets to a new binary on SIGUSR2, and stops on SIGTERM/SIGQUIT
 * (graceful) or SIGINT (fast).
 */
#ifndef KILN_MASTER_H
#define KILN_MASTER_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "listen.h"
#include "pidfile.h"
#include "plugin.h"

#ifndef KILN_CONF
#define KILN_CONF "/usr/local/etc/kiln/kiln.conf"
#endif

/* Listening sockets held at once: the current set plus a reload's new ones. */
#define MASTER_MAX_LISTENERS (2 * CONFIG_MAX_LISTEN)

/* What the command line asked for; survives reloads. */
struct master_options {
    const char *conf_file;
    const char *listen[CONFIG_MAX_LISTEN];  /* -l, replacing the config's */
    size_t nlisten;
    int workers;                /* -w; -1: as the config says */
    char *const *argv;          /* the command line, re-executed on SIGUSR2 */
};

/* The signals the master handles, in the order of struct master's sig[]. */
#define MASTER_NSIGNALS 9
extern const int master_signals[MASTER_NSIGNALS];

enum gen_state {
    GEN_STARTING,               /* forked, waiting for every CHAN_READY */
    GEN_ACTIVE,                 /* the current generation: respawned on crash */
    GEN_DRAINING,               /* told to quit after a reload; not respawned */
    GEN_ABORTED                 /* a failed reload's generation, told to stop */
};

/* One set of workers started from one config. */
struct generation {
    unsigned id;                /* 1, 2, ... */
    enum gen_state state;
    struct config *cfg;         /* owned; freed with the generation */
    struct plugin_files plugins;/* plugin_dir as scanned once for this
                                   generation: its check and all its workers,
                                   replacements too, load these open files */
    size_t nworkers;            /* how many it should have */
    size_t nready;              /* how many said CHAN_READY (while starting) */
    ev_timer timer;             /* ready timeout, or drain / stop deadline */
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
    struct generation *gen;
    struct master *m;
    struct worker_proc *next;
};

enum master_stop { STOP_NONE, STOP_GRACEFUL, STOP_FAST };

/* watch_plugins: inotify on the current generation's plugin_dir. */
struct plugin_watch {
    int fd;                     /* inotify instance, or -1 */
    char *dir;                  /* the directory watched */
    char last[256];             /* the file that changed last */
    ev_io io;
    ev_timer debounce;          /* the reload waits for changes to settle */
};

/* The master's whole state. */
struct master {
    struct ev_loop *loop;
    const struct master_options *opt;
    struct listener ls[MASTER_MAX_LISTENERS];
    size_t nls;
    struct scoreboard *sb;
    struct generation *gens;    /* newest first */
    struct generation *current; /* serving (or starting, at first start) */
    struct generation *pending; /* a reload's new generation, or NULL */
    struct worker_proc *workers;
    unsigned last_gen;
    int booted;                 /* generation 1 was ready once */
    int hup_queued;             /* SIGHUP arrived during a reload */
    enum master_stop stopping;
    int exit_code;
    unsigned crash_streak;      /* crashes since a worker last lived 10 s */
    struct pidfile pidfile;     /* written at start, removed at exit */
    ev_signal sig[MASTER_NSIGNALS];
    ev_child child;
    ev_timer respawn;           /* back-off before replacing crashed workers */
    ev_timer stop_timer;        /* stop deadline: SIGKILL what is left */
    ev_timer watchdog;          /* heartbeats and max_requests, twice a second */
    ev_tstamp recycle_after;    /* no max_requests replacement before this */

    /* a reload's plugin check */
    pid_t check_pid;            /* the throwaway process loading the plugins */
    struct config *check_cfg;   /* the config it checks (owned) */
    struct plugin_files check_files; /* the files it checks, handed to the
                                        generation when they pass (owned) */
    ev_timer check_timer;

    /* binary upgrade (handover.c) */
    char *exe;                  /* this binary, resolved at start */
    pid_t upgrade_pid;          /* the new binary's master, or 0 */
    pid_t parent_master;        /* the old binary's master we inherited from */
    int winched;                /* SIGWINCH: our workers left to the new binary */

    struct plugin_watch watch;
};

/*
 * Reads the config file and applies the -l / -w overrides.  Returns a
 * config to config_free() and free(), or NULL with the error in err.
 */
struct config *master_load_config(const struct master_options *o, char *err,
                                  size_t errlen);

/* Runs the master until it stops.  Returns the process exit code. */
int master_run(const struct master_options *o);

/* Starts a reload (as SIGHUP does), logging `why` first. */
void master_reload(struct master *m, const char *why);

#endif
