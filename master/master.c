/* master.c -- the master process: start, signals, stop, and what the loop reports about its children. */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "config.h"
#include "kiln.h"
#include "log.h"
#include "handover.h"
#include "listeners.h"
#include "master.h"
#include "pidfile.h"
#include "pubsub.h"
#include "reload.h"
#include "metrics.h"
#include "scoreboard.h"
#include "spawn.h"
#include "state.h"
#include "supervise.h"
#include "systemd.h"
#include "watch.h"

#define FAST_STOP_TIMEOUT 1.0   /* SIGINT: SIGKILL what is left after this */

static const int master_signals[MASTER_NSIGNALS] = {
    SIGHUP, SIGTERM, SIGQUIT, SIGINT, SIGUSR1, SIGUSR2, SIGWINCH, SIGTTIN, SIGTTOU
};

static void stop_start(struct master *m, enum master_stop how);

/* ---- what the loop reports -------------------------------------------------- */

/* Every worker of g said CHAN_READY: a reload's generation takes over, the
 * first one serves. */
static void gen_ready(struct master *m, struct generation *g)
{
    char pids[2048];

    gen_pids(m, g, pids, sizeof pids);
    log_info("generation %u ready: %zu workers (pids %s)", g->id, g->nworkers, pids);
    if (reload_ready(m, g)) {
        m->winched = 0;
        return;
    }
    g->state = GEN_ACTIVE;
    m->booted = 1;
    systemd_ready();
    reload_booted(m);
}

/* spawn.c's hook: a worker said CHAN_READY. */
static void on_ready(struct master *m, struct worker_proc *w)
{
    struct generation *g = w->gen;

    if (w->ready || w->told || m->stopping)
        return;
    w->ready = 1;
    if (g->state != GEN_STARTING) {
        log_debug("worker %ld of generation %u ready", (long)w->pid, g->id);
        supervise_ready(m, w);
        return;
    }
    if (++g->nready == g->nworkers)
        gen_ready(m, g);
}

/* A worker of the first generation died before it was ready: kiln does not start. */
static void boot_failed(struct master *m, pid_t pid, int status)
{
    log_error("worker %ld could not start (%s %d); see the error above", (long)pid,
              WIFSIGNALED(status) ? "signal" : "exit",
              WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    m->exit_code = 1;
    stop_start(m, STOP_FAST);
}

/* A worker was reaped: what follows depends on its generation's state. */
/* A worker of a stopping or draining generation is gone: an exit of 0, or
 * the master's own kill at graceful_timeout (logged when it is sent), is
 * routine; anything else (a crash while finishing its requests) is not. */
static void draining_gone(pid_t pid, unsigned gen, int status)
{
    char why[96];

    if ((WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
        (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
        log_debug("worker %ld of generation %u exited", (long)pid, gen);
        return;
    }
    status_long(status, why, sizeof(why));
    log_warn("worker %ld of generation %u %s while draining", (long)pid, gen, why);
}

static void worker_reaped(struct master *m, struct worker_proc *w, int status)
{
    struct worker_proc dead = *w;
    struct scoreboard_slot slot;
    double lived = ev_now(m->loop) - w->started;

    memcpy(&slot, (const void *)&m->sb->slot[w->slot], sizeof slot);
    worker_free(m, w);
    if (m->stopping || (dead.gen->state != GEN_STARTING && dead.gen->state != GEN_ACTIVE))
        draining_gone(dead.pid, dead.gen->id, status);
    if (m->stopping) {
        gen_maybe_free(m, dead.gen);
        if (m->spawn->workers == NULL)
            ev_break(m->loop, EVBREAK_ALL);
    } else if (dead.gen->state == GEN_STARTING) {
        if (!reload_worker_died(m, dead.gen, dead.pid, status))
            boot_failed(m, dead.pid, status);
    } else if (dead.gen->state == GEN_ACTIVE) {
        supervise_gone(m, &dead, status, &slot, lived);
    } else {
        gen_maybe_free(m, dead.gen);
    }
}

static void on_child(struct ev_loop *loop, ev_child *c, int revents)
{
    struct master *m = c->data;
    struct worker_proc *w;

    (void)loop;
    (void)revents;
    if (reload_reaped(m, c->rpid, c->rstatus))
        return;
    if (c->rpid == m->ho->upgrade_pid) {
        handover_ended(m->ho, m->pidfile, c->rstatus);
        if (m->winched)
            reload_request(m, "the new binary is gone and our workers had left");
        return;
    }
    w = worker_find(m, c->rpid);
    if (w != NULL)
        worker_reaped(m, w, c->rstatus);
}

/* watch.c's report: plugin_dir changed. */
static void on_plugins_changed(const char *why, void *arg)
{
    reload_request(arg, why);
}

/* ---- signals ---------------------------------------------------------------- */

/* SIGWINCH during a binary upgrade: the serving generation drains and is not
 * replaced; the new binary's workers serve.  SIGHUP brings workers back. */
static void winch(struct master *m)
{
    struct generation *g = m->current;

    if (m->ho->upgrade_pid == 0 || m->stopping) {
        log_info("SIGWINCH ignored: no binary upgrade in progress");
        return;
    }
    if (m->winched || g == NULL || g->state != GEN_ACTIVE ||
        m->reload->state != RELOAD_IDLE) {
        log_warn("SIGWINCH ignored: generation %u is not serving steadily",
                 g != NULL ? g->id : 0);
        return;
    }
    m->winched = 1;
    log_info("received SIGWINCH: generation %u drains; the new binary (pid %ld) "
             "serves", g->id, (long)m->ho->upgrade_pid);
    gen_drain(m, g);
}

/* SIGUSR1: reopens the master's log and hands the new file to every worker. */
static void reopen_logs(struct master *m)
{
    if (log_reopen() < 0) {
        log_error("reopening the log file %s failed: %s", log_path(), strerror(errno));
        return;
    }
    log_info("log file reopened");
    workers_reopen(m, log_path() != NULL ? log_fd() : -1);
}

static void on_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
    struct master *m = s->data;

    (void)loop;
    (void)revents;
    switch (s->signum) {
    case SIGHUP:   reload_request(m, "received SIGHUP"); break;
    case SIGUSR1:  reopen_logs(m); break;
    case SIGUSR2:
        if (!m->stopping)
            handover_upgrade(m->ho, m->ls, m->pidfile, m->opt->argv);
        break;
    case SIGWINCH: winch(m); break;
    case SIGTTIN:  supervise_resize(m, 1); break;
    case SIGTTOU:  supervise_resize(m, -1); break;
    case SIGINT:
        log_info("received SIGINT, stopping now");
        stop_start(m, STOP_FAST);
        break;
    default:
        log_info("received %s, stopping gracefully",
                 s->signum == SIGTERM ? "SIGTERM" : "SIGQUIT");
        stop_start(m, STOP_GRACEFUL);
        break;
    }
}

/* ---- stopping --------------------------------------------------------------- */

/*
 * Stops every worker: CHAN_QUIT (graceful, bounded by graceful_timeout) or
 * CHAN_STOP (fast, bounded by 1 s); SIGINT during a graceful stop escalates.
 */
static void stop_start(struct master *m, enum master_stop how)
{
    double deadline = FAST_STOP_TIMEOUT;

    if (m->stopping == STOP_FAST || m->stopping == how)
        return;
    if (!m->stopping && !handover_pending(m->ho))
        systemd_notify("STOPPING=1");
    m->stopping = how;
    supervise_stop(m);
    reload_stop(m);
    watch_close(m->watch);
    spawn_forget(m, NULL, 0);
    workers_send(m, NULL, how == STOP_FAST ? CHAN_STOP : CHAN_QUIT);
    if (how == STOP_GRACEFUL)
        deadline = m->current->cfg->graceful_timeout + SPAWN_KILL_MARGIN;
    ev_timer_stop(m->loop, &m->stop_timer);
    ev_timer_set(&m->stop_timer, deadline, 0);
    ev_timer_start(m->loop, &m->stop_timer);
    if (m->spawn->workers == NULL)
        ev_break(m->loop, EVBREAK_ALL);
}

static void on_stop_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct master *m = t->data;

    (void)loop;
    (void)revents;
    workers_kill(m, NULL, m->stopping == STOP_FAST ? "1 s" : "graceful_timeout");
}

/* ---- watchers --------------------------------------------------------------- */

static void start_watchers(struct master *m)
{
    for (size_t i = 0; i < MASTER_NSIGNALS; i++) {
        ev_signal_init(&m->sig[i], on_signal, master_signals[i]);
        m->sig[i].data = m;
        ev_signal_start(m->loop, &m->sig[i]);
    }
    ev_child_init(&m->child, on_child, 0, 0);
    m->child.data = m;
    ev_child_start(m->loop, &m->child);
    ev_timer_init(&m->stop_timer, on_stop_timer, 0, 0);
    m->stop_timer.data = m;
    supervise_init(m);
}

/* Stops every watcher of the master and of each part; in a child (`keep`
 * non-NULL or not) also drops what only the master may hold. */
static void stop_watchers(struct master *m, const struct plugin_files *keep, int in_child)
{
    for (size_t i = 0; i < MASTER_NSIGNALS; i++)
        ev_signal_stop(m->loop, &m->sig[i]);
    ev_child_stop(m->loop, &m->child);
    ev_timer_stop(m->loop, &m->stop_timer);
    supervise_stop(m);
    reload_forget(m, keep, in_child);
    if (in_child)
        fanout_forget(m);
    spawn_forget(m, keep, in_child);
    watch_close(m->watch);
}

/* spawn.c's hook, in a freshly forked child. */
static void forget_in_child(struct master *m, const struct plugin_files *keep)
{
    stop_watchers(m, keep, 1);
}

/* ---- start and end ---------------------------------------------------------- */

/* Reports a start-up error in the log and, when the log is a file, on stderr. */
static void start_error(const char *msg)
{
    log_error("%s", msg);
    if (log_fd() != STDERR_FILENO)
        fprintf(stderr, "kiln: %s\n", msg);
}

/*
 * Writes the config's pidfile.  0, or -1 with err; when the pidfile is the
 * built-in default (the config names none), a failure is only a warning:
 * the server runs, `kiln -s` cannot find it.
 */
static int start_pidfile(struct master *m, const struct config *c, char *err,
                         size_t errlen)
{
    if (pidfile_write(m->pidfile, c->pidfile, err, errlen) == 0)
        return 0;
    if (!c->pidfile_is_default)
        return -1;
    log_warn("%s (the default pidfile; set pidfile in [server], or pidfile = "
             "with no value for none); kiln -s will not find this master", err);
    return 0;
}

/* Sockets first (inherited, then bound), then the pidfile, the plugin files
 * and the scoreboard.  0, or -1 with err. */
static int start_resources(struct master *m, struct generation *g, char *err,
                           size_t errlen)
{
    const struct config *in_use[1] = { g->cfg };

    if (handover_adopt(m->ho, m->ls, g->cfg, err, errlen) < 0 ||
        listeners_open(m->ls, g->cfg, err, errlen) < 0)
        return -1;
    listeners_close_unused(m->ls, in_use, 1);
    if (start_pidfile(m, g->cfg, err, errlen) < 0)
        return -1;
    if (plugin_files_open(g->cfg->plugin_dir, &g->plugins) < 0) {
        snprintf(err, errlen, "plugin_dir %s could not be read (see the error above)",
                 g->cfg->plugin_dir);
        return -1;
    }
    m->sb = scoreboard_new();
    if (m->sb == NULL) {
        snprintf(err, errlen, "mmap(scoreboard) failed: %s", strerror(errno));
        return -1;
    }
    m->metrics = metrics_new();
    if (m->metrics == NULL) {
        snprintf(err, errlen, "mmap(metrics) failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* The fan-out of publish/subscribe, and its bus when [server] pubsub names
 * one.  0, or -1 with err naming the config line. */
static int start_fanout(struct master *m, const struct config *c, char *err, size_t errlen)
{
    char why[512];

    if (fanout_start(m, c->pubsub, why, sizeof why) == 0)
        return 0;
    if (c->pubsub != NULL)
        snprintf(err, errlen, "%s:%d: %s", c->file ? c->file : "-", c->pubsub_line, why);
    else
        snprintf(err, errlen, "%s", why);
    return -1;
}

/*
 * Loads the config, opens log and listeners, writes the pidfile, seals the
 * plugin files, maps the scoreboard and forks generation 1.  0 when the
 * loop should run, -1 when start-up failed before any worker existed
 * (exit_code is set).
 */
static int master_start(struct master *m)
{
    char err[1024];
    struct config *cfg = options_load_config(m->opt, err, sizeof err);
    struct generation *g;

    m->exit_code = 1;
    if (cfg == NULL) {
        fprintf(stderr, "kiln: %s\n", err);
        return -1;
    }
    m->loop = ev_default_loop(0);
    if (m->loop == NULL || options_apply_log(cfg, err, sizeof err) < 0)
        goto fail;
    g = gen_new(m, cfg);
    if (g == NULL)
        goto fail;
    cfg = NULL;
    m->current = g;
    log_info("kiln %d.%d.%d starting, %zu workers", KILN_VERSION_MAJOR,
             KILN_VERSION_MINOR, KILN_VERSION_PATCH, g->nworkers);
    if ((g->cfg->user != NULL || g->cfg->group != NULL) && geteuid() != 0)
        log_warn("user and group ignored: kiln does not run as root");
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    watch_init(m->watch, m->loop, on_plugins_changed, m);
    if (start_resources(m, g, err, sizeof err) < 0 || start_fanout(m, g->cfg, err, sizeof err) < 0)
        goto fail;
    start_watchers(m);
    m->exit_code = 0;
    if (gen_spawn_all(m, g) < 0) {
        log_error("generation 1 could not be forked");
        m->exit_code = 1;
        stop_start(m, STOP_FAST);
        return 0;
    }
    watch_update(m->watch, g->cfg);
    return 0;

fail:
    if (m->loop == NULL)
        snprintf(err, sizeof err, "ev_default_loop() failed: bad LIBEV_FLAGS?");
    start_error(err);
    if (cfg != NULL) {
        config_free(cfg);
        free(cfg);
    }
    return -1;
}

/* Releases everything: workers left (none after a normal stop), generations,
 * listeners (unix socket files are removed unless another master serves
 * them), pidfile, scoreboard, loop. */
static void master_cleanup(struct master *m)
{
    if (m->loop != NULL) {
        stop_watchers(m, NULL, 0);
        fanout_stop(m);
    }
    while (m->spawn->workers != NULL)
        worker_free(m, m->spawn->workers);
    m->current = NULL;
    gen_free_all(m);
    listeners_close_all(m->ls, handover_pending(m->ho));
    pidfile_remove(m->pidfile);
    handover_free(m->ho);
    scoreboard_free(m->sb);
    metrics_free(m->metrics);
    if (m->loop != NULL)
        ev_loop_destroy(m->loop);
}

int master_run(const struct master_options *o)
{
    struct master m;
    struct {                    /* each part's state, which its file owns */
        struct spawn spawn;
        struct reload reload;
        struct supervisor sup;
        struct listeners ls;
        struct pidfile pidfile;
        struct handover ho;
        struct plugin_watch watch;
        struct fanout fanout;
    } parts;

    memset(&parts, 0, sizeof parts);
    m = (struct master){
        .opt = o, .spawn = &parts.spawn, .reload = &parts.reload, .sup = &parts.sup,
        .ls = &parts.ls, .pidfile = &parts.pidfile, .ho = &parts.ho, .watch = &parts.watch,
        .fanout = &parts.fanout
    };
    parts.watch.fd = -1;
    parts.spawn.ready = on_ready;
    parts.spawn.forget = forget_in_child;
    reload_init(&m);
    if (master_start(&m) == 0 && !(m.stopping && m.spawn->workers == NULL))
        ev_run(m.loop, 0);
    if (m.sb != NULL)
        log_info("kiln stopped");
    master_cleanup(&m);
    return m.exit_code;
}
