/* master.c -- the master process: listeners, generations of forked workers, supervision, reload and stop. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "privileges.h"
#include "channel.h"
#include "config.h"
#include "handover.h"
#include "kiln.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "pidfile.h"
#include "scoreboard.h"
#include "systemd.h"
#include "watch.h"
#include "worker/worker.h"

#define READY_TIMEOUT 30.0      /* a reload's workers must be ready by then */
#define FAST_STOP_TIMEOUT 1.0   /* SIGINT: SIGKILL what is left after this */
#define KILL_MARGIN 1.0         /* beyond graceful_timeout, for the workers'
                                   own drain deadline to win the race */
#define BACKOFF_FIRST 0.1       /* respawn delay after a crash, doubling */
#define BACKOFF_MAX 10.0
#define BACKOFF_RESET 10.0      /* a worker that lived this long resets it */
#define CHECK_TIMEOUT 30.0      /* a reload's plugin check must end by then */
#define WATCHDOG_INTERVAL 0.5   /* heartbeat and max_requests checks */
#define MAX_DRAINING 4          /* draining generations kept at once */

const int master_signals[MASTER_NSIGNALS] = {
    SIGHUP, SIGTERM, SIGQUIT, SIGINT, SIGUSR1, SIGUSR2, SIGWINCH, SIGTTIN, SIGTTOU
};

static void on_chan(struct ev_loop *loop, ev_io *io, int revents);
static void on_gen_timer(struct ev_loop *loop, ev_timer *t, int revents);
static void reload_start(struct master *m);
static void stop_start(struct master *m, enum master_stop how);

/* ---- configuration ---------------------------------------------------------- */

/* Replaces the config's listen list with the -l addresses.  0 or -1 (OOM). */
static int override_listen(struct config *c, const struct master_options *o)
{
    for (size_t i = 0; i < c->nlisten; i++)
        free(c->listen[i]);
    c->nlisten = 0;
    for (size_t i = 0; i < o->nlisten; i++) {
        c->listen[i] = strdup(o->listen[i]);
        if (c->listen[i] == NULL)
            return -1;
        c->nlisten++;
    }
    return 0;
}

struct config *master_load_config(const struct master_options *o, char *err,
                                  size_t errlen)
{
    struct config *c = malloc(sizeof *c);

    if (c == NULL) {
        snprintf(err, errlen, "%s: out of memory", o->conf_file);
        return NULL;
    }
    config_defaults(c);
    if (config_load(c, o->conf_file, err, errlen) < 0)
        goto fail;
    if (o->nlisten > 0 && override_listen(c, o) < 0) {
        snprintf(err, errlen, "%s: out of memory", o->conf_file);
        goto fail;
    }
    if (o->workers >= 0)
        c->workers = o->workers;
    return c;

fail:
    config_free(c);
    free(c);
    return NULL;
}

/* The number of workers a config asks for ("auto": one per online CPU). */
static size_t worker_count(const struct config *c)
{
    long n = c->workers > 0 ? c->workers : sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        n = 1;
    return n > SCOREBOARD_MAX_WORKERS ? SCOREBOARD_MAX_WORKERS : (size_t)n;
}

/* Points the log at the config's file and level.  0, or -1 with err. */
static int apply_log(const struct config *c, char *err, size_t errlen)
{
    if (log_open(c->log_file) < 0) {
        snprintf(err, errlen, "log_open(%s) failed: %s", c->log_file,
                 strerror(errno));
        return -1;
    }
    log_set_level(c->log_level);
    return 0;
}

/* Logs what the config loaded with but looks like a mistake. */
static void log_config_warnings(const struct config *c)
{
    for (size_t i = 0; i < c->nwarnings; i++)
        log_warn("%s", c->warnings[i]);
}

/* "exited with code 3" or "killed by signal 11 (Segmentation fault)". */
static void status_long(int status, char *buf, size_t size)
{
    if (WIFEXITED(status))
        snprintf(buf, size, "exited with code %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "killed by signal %d (%s)%s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)),
                 WCOREDUMP(status) ? ", core dumped" : "");
    else
        snprintf(buf, size, "ended with status 0x%x", (unsigned)status);
}

/* "exit 3" or "signal 11". */
static void status_short(int status, char *buf, size_t size)
{
    if (WIFSIGNALED(status))
        snprintf(buf, size, "signal %d", WTERMSIG(status));
    else
        snprintf(buf, size, "exit %d", WEXITSTATUS(status));
}

/* ---- listening sockets ------------------------------------------------------ */

static int in_config(const struct config *c, const char *addr)
{
    for (size_t i = 0; i < c->nlisten; i++)
        if (strcmp(c->listen[i], addr) == 0)
            return 1;
    return 0;
}

static struct listener *find_listener(struct master *m, const char *addr)
{
    for (size_t i = 0; i < m->nls; i++)
        if (strcmp(m->ls[i].addr, addr) == 0)
            return &m->ls[i];
    return NULL;
}

/*
 * Opens the config's addresses that no open listener has yet (an address is
 * its text).  0, or -1 with "bind(ADDR) failed: ..." in err; what was opened
 * stays open (close_unused_listeners() takes it back).
 */
static int open_listeners(struct master *m, const struct config *c,
                          char *err, size_t errlen)
{
    for (size_t i = 0; i < c->nlisten; i++) {
        struct listener *l = &m->ls[m->nls];

        if (find_listener(m, c->listen[i]) != NULL)
            continue;
        if (m->nls == MASTER_MAX_LISTENERS) {
            snprintf(err, errlen, "bind(%s) failed: more than %d listening sockets",
                     c->listen[i], MASTER_MAX_LISTENERS);
            return -1;
        }
        if (listen_open(l, c->listen[i], c->backlog, err, errlen) < 0)
            return -1;
        m->nls++;
        log_info("listening on %s", l->bound);
    }
    return 0;
}

/* Whether a listener is still wanted: by the current generation, a starting
 * one, the config a plugin check runs for, or every one (a handed-over extra). */
static int listener_used(const struct master *m, const struct listener *l)
{
    return l->extra ||
           (m->current && in_config(m->current->cfg, l->addr)) ||
           (m->pending && in_config(m->pending->cfg, l->addr)) ||
           (m->check_cfg && in_config(m->check_cfg, l->addr));
}

/* Closes the listeners nothing uses any more. */
static void close_unused_listeners(struct master *m)
{
    for (size_t i = 0; i < m->nls;) {
        if (listener_used(m, &m->ls[i])) {
            i++;
            continue;
        }
        log_info("no longer listening on %s", m->ls[i].bound);
        listen_close(&m->ls[i]);
        m->ls[i] = m->ls[--m->nls];
    }
}

/* ---- generations ------------------------------------------------------------ */

/* A new generation owning `cfg`, linked first; NULL on OOM (cfg not taken). */
static struct generation *gen_new(struct master *m, struct config *cfg)
{
    struct generation *g = calloc(1, sizeof *g);

    if (g == NULL)
        return NULL;
    g->id = ++m->last_gen;
    g->state = GEN_STARTING;
    g->cfg = cfg;
    g->nworkers = worker_count(cfg);
    g->m = m;
    ev_timer_init(&g->timer, on_gen_timer, 0, 0);
    g->timer.data = g;
    g->next = m->gens;
    m->gens = g;
    return g;
}

/*
 * Opens the plugin files of cfg's plugin_dir into `files`, the set a
 * generation loads all its life.  0, or -1 with err (details logged).
 */
static int pin_plugins(const struct config *cfg, struct plugin_files *files,
                       char *err, size_t errlen)
{
    if (plugin_files_open(cfg->plugin_dir, files) < 0) {
        snprintf(err, errlen, "plugin_dir %s could not be read (see the error above)",
                 cfg->plugin_dir);
        return -1;
    }
    log_debug("%zu plugin files of %s opened", files->n, cfg->plugin_dir);
    return 0;
}

static size_t gen_alive(const struct master *m, const struct generation *g)
{
    size_t n = 0;

    for (const struct worker_proc *w = m->workers; w; w = w->next)
        n += w->gen == g;
    return n;
}

static void gen_free(struct master *m, struct generation *g)
{
    struct generation **pp = &m->gens;

    while (*pp != g)
        pp = &(*pp)->next;
    *pp = g->next;
    ev_timer_stop(m->loop, &g->timer);
    plugin_files_close(&g->plugins);
    config_free(g->cfg);
    free(g->cfg);
    free(g);
}

/* Frees a generation that is neither current nor starting and has no workers. */
static void gen_maybe_free(struct master *m, struct generation *g)
{
    if (g == m->current || g == m->pending || gen_alive(m, g) > 0)
        return;
    if (g->state == GEN_DRAINING)
        log_info("generation %u stopped", g->id);
    gen_free(m, g);
}

/* Arms a generation's one-shot timer for `after` seconds. */
static void gen_timer(struct master *m, struct generation *g, double after)
{
    ev_timer_stop(m->loop, &g->timer);
    ev_timer_set(&g->timer, after, 0);
    ev_timer_start(m->loop, &g->timer);
}

/* ---- workers ---------------------------------------------------------------- */

/* A free scoreboard slot, or -1. */
static int pick_slot(const struct master *m)
{
    for (int i = 0; i < SCOREBOARD_SLOTS; i++)
        if (m->sb->slot[i].pid == 0)
            return i;
    return -1;
}

/* Stops, on the child's copy of the loop, every watcher the master started,
 * and closes the master's own descriptors (channels, inotify). */
static void child_stop_watchers(struct master *m)
{
    for (size_t i = 0; i < MASTER_NSIGNALS; i++)
        ev_signal_stop(m->loop, &m->sig[i]);
    ev_child_stop(m->loop, &m->child);
    ev_timer_stop(m->loop, &m->respawn);
    ev_timer_stop(m->loop, &m->stop_timer);
    ev_timer_stop(m->loop, &m->watchdog);
    ev_timer_stop(m->loop, &m->check_timer);
    for (struct generation *g = m->gens; g; g = g->next)
        ev_timer_stop(m->loop, &g->timer);
    for (struct worker_proc *w = m->workers; w; w = w->next) {
        ev_io_stop(m->loop, &w->io);
        if (w->chan >= 0)
            close(w->chan);
    }
    watch_close(m);
}

/* In a child: closes the plugin snapshots of every generation and of a
 * pending check, except `keep` (the files this child loads). */
static void child_close_snapshots(struct master *m, struct plugin_files *keep)
{
    for (struct generation *g = m->gens; g; g = g->next)
        if (&g->plugins != keep)
            plugin_files_close(&g->plugins);
    if (&m->check_files != keep)
        plugin_files_close(&m->check_files);
}

/* In a freshly forked child: leaves the master's loop and signal mask, and
 * keeps only the plugin snapshot `keep` of the master's open files. */
static void child_detach(struct master *m, struct plugin_files *keep)
{
    sigset_t none;

    ev_loop_fork(m->loop);
    child_stop_watchers(m);
    child_close_snapshots(m, keep);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Whether generation g serves on listener l. */
static int gen_uses(const struct generation *g, const struct listener *l)
{
    return l->extra || in_config(g->cfg, l->addr);
}

/*
 * In a freshly forked child: drops the master's state (watchers, the other
 * workers' channels, the other generations' plugin files, listeners the
 * generation does not use) and root, then becomes worker `id` of generation
 * `g`, loading g's plugin files.  Never returns.
 */
static void __attribute__((noreturn))
child_run(struct master *m, struct generation *g, unsigned id, int slot,
          int chan, int master_end)
{
    struct listener ls[MASTER_MAX_LISTENERS];
    struct worker_args a;
    char err[256];
    size_t n = 0;

    child_detach(m, &g->plugins);
    close(master_end);
    for (size_t i = 0; i < m->nls; i++) {
        if (gen_uses(g, &m->ls[i]))
            ls[n++] = m->ls[i];
        else
            close(m->ls[i].fd);
    }
    log_set_ident("worker");
    m->sb->slot[slot].pid = getpid();
    if (privileges_drop(g->cfg, err, sizeof err) < 0) {
        log_error("worker cannot start: %s", err);
        exit(EXIT_BOOT_FAILURE);
    }
    a = (struct worker_args){
        .cfg = g->cfg, .plugins = &g->plugins, .listeners = ls, .nlisteners = n, .chan_fd = chan,
        .slot = &m->sb->slot[slot], .generation = g->id, .id = id,
        .report_sections = g->id == 1 && id == 0 && !m->booted
    };
    worker_main(&a);
}

/* The request count after which a new worker of g is recycled (0: never). */
static uint64_t draw_max_requests(const struct generation *g)
{
    uint64_t jitter = g->cfg->max_requests_jitter;

    if (g->cfg->max_requests == 0)
        return 0;
    return g->cfg->max_requests + (jitter ? (uint64_t)random() % (jitter + 1) : 0);
}

/* Forks worker `id` of generation `g`.  The new worker, or NULL (logged). */
static struct worker_proc *worker_spawn(struct master *m, struct generation *g,
                                        unsigned id)
{
    struct worker_proc *w = NULL;
    int sv[2] = { -1, -1 }, slot = pick_slot(m);
    pid_t pid;

    if (slot < 0) {
        log_error("no free scoreboard slot for worker %u of generation %u", id, g->id);
        return NULL;
    }
    w = calloc(1, sizeof *w);
    if (w == NULL || channel_open(sv) < 0) {
        log_error("socketpair() for worker %u of generation %u failed: %s", id,
                  g->id, strerror(errno));
        goto fail;
    }
    memset((void *)&m->sb->slot[slot], 0, sizeof m->sb->slot[slot]);
    m->sb->slot[slot].generation = g->id;
    pid = fork();
    if (pid < 0) {
        log_error("fork() for worker %u of generation %u failed: %s", id, g->id,
                  strerror(errno));
        goto fail;
    }
    if (pid == 0)
        child_run(m, g, id, slot, sv[1], sv[0]);
    close(sv[1]);
    m->sb->slot[slot].pid = pid;
    *w = (struct worker_proc){
        .pid = pid, .id = id, .slot = slot, .chan = sv[0],
        .max_requests = draw_max_requests(g),
        .started = ev_now(m->loop), .gen = g, .m = m, .next = m->workers
    };
    ev_io_init(&w->io, on_chan, sv[0], EV_READ);
    w->io.data = w;
    ev_io_start(m->loop, &w->io);
    m->workers = w;
    log_debug("worker %ld (%u of generation %u) started", (long)pid, id, g->id);
    return w;

fail:
    if (sv[0] >= 0) {
        close(sv[0]);
        close(sv[1]);
    }
    free(w);
    return NULL;
}

/* Forks every worker of a generation.  0, or -1 (logged) at the first failure. */
static int gen_spawn_all(struct master *m, struct generation *g)
{
    for (unsigned id = 0; id < g->nworkers; id++)
        if (worker_spawn(m, g, id) == NULL)
            return -1;
    return 0;
}

static void chan_close(struct master *m, struct worker_proc *w)
{
    ev_io_stop(m->loop, &w->io);
    if (w->chan >= 0)
        close(w->chan);
    w->chan = -1;
}

/*
 * Tells a worker to quit (CHAN_QUIT) or stop (CHAN_STOP) over its channel;
 * when that fails, with a signal (SIGQUIT graceful, SIGINT fast).
 */
static void worker_send(struct worker_proc *w, char cmd)
{
    w->told = 1;
    if (channel_send(w->chan, cmd, -1) < 0)
        kill(w->pid, cmd == CHAN_STOP ? SIGINT : SIGQUIT);
}

/*
 * Tells a worker to reopen its log: CHAN_REOPEN carrying `fd` (the master's
 * freshly opened log file, so that a worker without the right to open it
 * still follows), or SIGUSR1 when the channel fails.
 */
static void worker_reopen(struct worker_proc *w, int fd)
{
    if (channel_send(w->chan, CHAN_REOPEN, fd) < 0)
        kill(w->pid, SIGUSR1);
}

/* Sends `cmd` to every worker of g (g NULL: of every generation). */
static void send_all(struct master *m, struct generation *g, char cmd)
{
    for (struct worker_proc *w = m->workers; w; w = w->next)
        if (g == NULL || w->gen == g)
            worker_send(w, cmd);
}

/* SIGKILLs the workers of g that are still there, saying why. */
static void kill_leftovers(struct master *m, struct generation *g, const char *within)
{
    for (struct worker_proc *w = m->workers; w; w = w->next) {
        if (g != NULL && w->gen != g)
            continue;
        log_warn("worker %ld of generation %u did not stop within %s; killed",
                 (long)w->pid, w->gen->id, within);
        kill(w->pid, SIGKILL);
    }
}

static struct worker_proc *worker_find(struct master *m, pid_t pid)
{
    for (struct worker_proc *w = m->workers; w; w = w->next)
        if (w->pid == pid)
            return w;
    return NULL;
}

/* Forgets a reaped worker: channel, scoreboard slot, list entry. */
static void worker_free(struct master *m, struct worker_proc *w)
{
    struct worker_proc **pp = &m->workers;

    while (*pp != w)
        pp = &(*pp)->next;
    *pp = w->next;
    chan_close(m, w);
    memset((void *)&m->sb->slot[w->slot], 0, sizeof m->sb->slot[w->slot]);
    free(w);
}

/* ---- readiness -------------------------------------------------------------- */

/* Writes "101 102 ..." (the workers of g, in id order) into buf. */
static void pid_list(const struct master *m, const struct generation *g,
                     char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (unsigned id = 0; id < g->nworkers && len < size; id++) {
        for (const struct worker_proc *w = m->workers; w; w = w->next) {
            int n;
            if (w->gen != g || w->id != id)
                continue;
            n = snprintf(buf + len, size - len, "%s%ld", len ? " " : "", (long)w->pid);
            len += n < 0 ? 0 : (size_t)n;
            break;
        }
    }
}

/* Draining generations, not counting those already killed. */
static size_t draining_count(const struct master *m, const struct generation **oldest)
{
    size_t n = 0;

    for (const struct generation *g = m->gens; g; g = g->next) {
        if (g->state != GEN_DRAINING || g->killed || gen_alive(m, g) == 0)
            continue;
        n++;
        *oldest = g;                /* the list is newest first */
    }
    return n;
}

/* Keeps at most MAX_DRAINING generations draining: SIGKILLs the oldest. */
static void cap_draining(struct master *m)
{
    const struct generation *oldest = NULL;

    while (draining_count(m, &oldest) > MAX_DRAINING) {
        struct generation *g = (struct generation *)oldest;

        log_warn("more than %d generations draining: killing generation %u "
                 "(%zu workers) now", MAX_DRAINING, g->id, gen_alive(m, g));
        g->killed = 1;
        for (struct worker_proc *w = m->workers; w; w = w->next)
            if (w->gen == g)
                kill(w->pid, SIGKILL);
    }
}

/* Tells every generation but the current one to drain, with a kill deadline. */
static void drain_old(struct master *m)
{
    for (struct generation *g = m->gens; g; g = g->next) {
        if (g == m->current || g->state != GEN_ACTIVE)
            continue;
        g->state = GEN_DRAINING;
        send_all(m, g, CHAN_QUIT);
        gen_timer(m, g, g->cfg->graceful_timeout + KILL_MARGIN);
    }
    cap_draining(m);
}

/* A reload's generation is all ready: it takes over, the old one drains. */
static void reload_commit(struct master *m)
{
    struct generation *g = m->pending, *old = m->current;

    ev_timer_stop(m->loop, &g->timer);
    g->state = GEN_ACTIVE;
    m->current = g;
    m->pending = NULL;
    m->winched = 0;
    log_info("reload: generation %u ready, generation %u draining", g->id, old->id);
    pidfile_change(&m->pidfile, g->cfg->pidfile, g->cfg->pidfile_is_default);
    drain_old(m);
    close_unused_listeners(m);
    for (struct generation *o = m->gens, *next; o; o = next) {
        next = o->next;
        gen_maybe_free(m, o);
    }
    watch_update(m);
    systemd_ready();
    if (m->hup_queued)
        reload_start(m);
}

/* Every worker of g said CHAN_READY. */
static void gen_ready(struct master *m, struct generation *g)
{
    char pids[2048];

    pid_list(m, g, pids, sizeof pids);
    log_info("generation %u ready: %zu workers (pids %s)", g->id, g->nworkers, pids);
    if (g == m->pending) {
        reload_commit(m);
        return;
    }
    g->state = GEN_ACTIVE;
    m->booted = 1;
    systemd_ready();
    if (m->hup_queued)
        reload_start(m);
}

/* The retiring worker that `w` was started to replace, or NULL. */
static struct worker_proc *retiring_of(struct master *m, const struct worker_proc *w)
{
    for (struct worker_proc *o = m->workers; o; o = o->next)
        if (o != w && o->gen == w->gen && o->id == w->id && o->retiring && !o->told)
            return o;
    return NULL;
}

/* A replacement for a worker past max_requests is ready: the old one drains. */
static void replacement_ready(struct master *m, struct worker_proc *w)
{
    struct worker_proc *old = retiring_of(m, w);

    w->replacing = 0;
    if (old == NULL)
        return;
    log_info("worker %ld took over from worker %ld, which drains", (long)w->pid,
             (long)old->pid);
    worker_send(old, CHAN_QUIT);
}

static void on_ready(struct master *m, struct worker_proc *w)
{
    struct generation *g = w->gen;

    if (w->ready || w->told || m->stopping)
        return;
    w->ready = 1;
    if (g->state != GEN_STARTING) {
        log_debug("worker %ld of generation %u ready", (long)w->pid, g->id);
        if (w->replacing)
            replacement_ready(m, w);
        return;
    }
    if (++g->nready == g->nworkers)
        gen_ready(m, g);
}

/* The worker's channel is readable: CHAN_READY bytes, or EOF as it exits. */
static void on_chan(struct ev_loop *loop, ev_io *io, int revents)
{
    struct worker_proc *w = io->data;
    char buf[64];
    ssize_t n;

    (void)loop;
    (void)revents;
    n = read(w->chan, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        chan_close(w->m, w);        /* the worker is going; ev_child reaps it */
        return;
    }
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == CHAN_READY)
            on_ready(w->m, w);
}

/* ---- reload ----------------------------------------------------------------- */

/*
 * The end of a reload that failed before or while its generation started:
 * the listeners only it wanted are closed, the log goes back to the current
 * config's, `why` is logged, and a reload queued meanwhile starts.
 */
static void reload_failed(struct master *m, const char *why)
{
    char err[512];

    close_unused_listeners(m);
    if (apply_log(m->current->cfg, err, sizeof err) < 0)
        log_error("%s", err);
    log_error("reload failed: %s; keeping generation %u", why, m->current->id);
    systemd_ready();
    if (m->hup_queued)
        reload_start(m);
}

/* Gives up a reload whose generation was forked: it is told to stop. */
static void reload_abort(struct master *m, const char *why)
{
    struct generation *g = m->pending;

    m->pending = NULL;
    g->state = GEN_ABORTED;
    send_all(m, g, CHAN_STOP);
    gen_timer(m, g, FAST_STOP_TIMEOUT);
    gen_maybe_free(m, g);
    reload_failed(m, why);
}

/* The plugins passed their check: starts the reload's generation (takes cfg,
 * and the checked files, which its workers load). */
static void reload_spawn(struct master *m, struct config *cfg)
{
    struct generation *g = gen_new(m, cfg);
    char why[128];

    if (g == NULL) {
        plugin_files_close(&m->check_files);
        config_free(cfg);
        free(cfg);
        reload_failed(m, "out of memory");
        return;
    }
    g->plugins = m->check_files;
    memset(&m->check_files, 0, sizeof m->check_files);
    m->pending = g;
    gen_timer(m, g, READY_TIMEOUT);
    if (gen_spawn_all(m, g) < 0) {
        snprintf(why, sizeof why, "generation %u could not be forked", g->id);
        reload_abort(m, why);
    }
}

/* LeakSanitizer's check, linked in by a sanitizer build only (else NULL). */
extern void __lsan_do_leak_check(void) __attribute__((weak));

/*
 * The throwaway process of a reload: loads the snapshot of cfg's plugins
 * once, as the workers will (the same open files, same user, init hooks
 * run), and exits 0 when all load.  It ends with _exit(), which skips the
 * master's exit-time state, and so LeakSanitizer's check: that runs first,
 * and exits with the sanitizer's exit code when the plugins leaked.
 */
static void __attribute__((noreturn))
check_child(struct master *m, const struct config *cfg)
{
    char err[256];
    int rc;

    child_detach(m, &m->check_files);
    for (size_t i = 0; i < m->nls; i++)
        close(m->ls[i].fd);
    log_set_ident("check");
    if (privileges_drop(cfg, err, sizeof err) < 0) {
        log_error("plugin check cannot start: %s", err);
        _exit(1);
    }
    rc = plugins_check(cfg, &m->check_files) == 0 ? 0 : 1;
    if (__lsan_do_leak_check != NULL)
        __lsan_do_leak_check();
    _exit(rc);
}

/* Forks the plugin check of cfg, kept until it ends.  0, or -1 with err. */
static int check_start(struct master *m, struct config *cfg, char *err, size_t errlen)
{
    pid_t pid = fork();

    if (pid < 0) {
        snprintf(err, errlen, "fork() for the plugin check failed: %s", strerror(errno));
        return -1;
    }
    if (pid == 0)
        check_child(m, cfg);
    m->check_pid = pid;
    m->check_cfg = cfg;
    ev_timer_set(&m->check_timer, CHECK_TIMEOUT, 0);
    ev_timer_start(m->loop, &m->check_timer);
    log_debug("checking the plugins of %s in process %ld", cfg->plugin_dir, (long)pid);
    return 0;
}

/* The plugin check ended: a clean exit starts the generation, else the reload fails. */
static void check_done(struct master *m, int status)
{
    struct config *cfg = m->check_cfg;
    char how[128], why[256];

    ev_timer_stop(m->loop, &m->check_timer);
    m->check_pid = 0;
    m->check_cfg = NULL;
    if (!m->stopping && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        reload_spawn(m, cfg);
        return;
    }
    plugin_files_close(&m->check_files);
    config_free(cfg);
    free(cfg);
    if (m->stopping)
        return;
    status_long(status, how, sizeof how);
    snprintf(why, sizeof why, "the plugin check %s (its error is logged above)", how);
    reload_failed(m, why);
}

static void on_check_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct master *m = t->data;

    (void)loop;
    (void)revents;
    log_error("the plugin check (process %ld) did not end within %.0f s: a plugin's "
              "init hangs?  killed", (long)m->check_pid, CHECK_TIMEOUT);
    kill(m->check_pid, SIGKILL);
}

/*
 * Reads the config again, opens its new listeners, opens the files of its
 * plugin_dir (the snapshot the new generation will load) and has a
 * throwaway process check them; the new generation starts once they pass.
 */
static void reload_start(struct master *m)
{
    char err[1024];
    struct config *cfg;

    if (m->pending != NULL || m->check_pid != 0 || !m->booted) {
        m->hup_queued = 1;
        log_info("reload queued until the generation starting now is ready");
        return;
    }
    m->hup_queued = 0;
    systemd_reloading();
    log_info("reloading %s", m->opt->conf_file);
    cfg = master_load_config(m->opt, err, sizeof err);
    if (cfg == NULL)
        goto fail;
    if (open_listeners(m, cfg, err, sizeof err) < 0 ||
        apply_log(cfg, err, sizeof err) < 0)
        goto fail;
    log_config_warnings(cfg);
    if (pin_plugins(cfg, &m->check_files, err, sizeof err) < 0 ||
        check_start(m, cfg, err, sizeof err) < 0)
        goto fail;
    return;

fail:
    plugin_files_close(&m->check_files);
    if (cfg != NULL) {
        config_free(cfg);
        free(cfg);
    }
    reload_failed(m, err);
}

void master_reload(struct master *m, const char *why)
{
    if (m->stopping)
        return;
    log_info("%s, reloading", why);
    reload_start(m);
}

/* A generation's deadline: a reload not ready in time, or a drain overdue. */
static void on_gen_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct generation *g = t->data;
    struct master *m = g->m;
    char why[256];

    (void)loop;
    (void)revents;
    if (g->state == GEN_DRAINING) {
        kill_leftovers(m, g, "graceful_timeout");
    } else if (g->state == GEN_ABORTED) {
        kill_leftovers(m, g, "1 s");
    } else if (g == m->pending) {
        pid_t pid = 0;
        for (struct worker_proc *w = m->workers; w && !pid; w = w->next)
            if (w->gen == g && !w->ready)
                pid = w->pid;
        snprintf(why, sizeof why, "worker %ld of generation %u could not start "
                 "(not ready within %.0f s)", (long)pid, g->id, READY_TIMEOUT);
        reload_abort(m, why);
    }
}

/* ---- supervision ------------------------------------------------------------ */

/* The delay before replacing a crashed worker: doubles with each crash in a
 * row, back to the first once a worker lived BACKOFF_RESET seconds. */
static double crash_backoff(struct master *m, double lived)
{
    double delay = BACKOFF_FIRST;

    if (lived >= BACKOFF_RESET)
        m->crash_streak = 0;
    for (unsigned i = 0; i < m->crash_streak && delay < BACKOFF_MAX; i++)
        delay *= 2;
    if (delay > BACKOFF_MAX)
        delay = BACKOFF_MAX;
    m->crash_streak++;
    return delay;
}

/* Fills the current generation's missing places in `delay` s, unless a
 * later respawn is already due.  1 when the timer was (re)armed. */
static int respawn_in(struct master *m, double delay)
{
    if (ev_is_active(&m->respawn) && ev_timer_remaining(m->loop, &m->respawn) >= delay)
        return 0;
    ev_timer_stop(m->loop, &m->respawn);
    ev_timer_set(&m->respawn, delay, 0);
    ev_timer_start(m->loop, &m->respawn);
    return 1;
}

/* Replaces a crashed worker after the back-off. */
static void schedule_respawn(struct master *m, double lived)
{
    double delay = crash_backoff(m, lived);

    if (respawn_in(m, delay))
        log_info("replacing it in %.1f s", delay);
}

static int has_worker(const struct master *m, const struct generation *g, unsigned id)
{
    for (const struct worker_proc *w = m->workers; w; w = w->next)
        if (w->gen == g && w->id == id)
            return 1;
    return 0;
}

static void on_respawn(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct master *m = t->data;
    struct generation *g = m->current;

    (void)loop;
    (void)revents;
    if (m->stopping || g == NULL || g->state != GEN_ACTIVE)
        return;
    for (unsigned id = 0; id < g->nworkers; id++) {
        if (has_worker(m, g, id))
            continue;
        if (worker_spawn(m, g, id) == NULL) {
            schedule_respawn(m, 0);
            return;
        }
    }
}

/* Logs how a serving worker died, and what it was running if it was in a handler. */
static void report_crash(pid_t pid, int status, const struct scoreboard_slot *s)
{
    char how[128];
    int level = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? LOG_WARN : LOG_ERROR;

    status_long(status, how, sizeof how);
    if (s->in_handler)
        log_msg(level, "worker %ld %s while running plugin %.*s route %.*s",
                (long)pid, how, (int)sizeof s->plugin, s->plugin,
                (int)sizeof s->route, s->route);
    else
        log_msg(level, "worker %ld %s", (long)pid, how);
}

/* A worker of a starting generation died before the generation was ready. */
static void start_failed(struct master *m, struct generation *g, pid_t pid, int status)
{
    char st[64], why[256];

    status_short(status, st, sizeof st);
    if (g == m->pending) {
        snprintf(why, sizeof why, "worker %ld of generation %u could not start (%s)",
                 (long)pid, g->id, st);
        reload_abort(m, why);
        return;
    }
    log_error("worker %ld could not start (%s); see the error above", (long)pid, st);
    m->exit_code = 1;
    stop_start(m, STOP_FAST);
}

/*
 * A worker of the serving generation is gone (`dead` is a copy of its
 * record): a crash is logged, and its place is filled -- after a back-off
 * for a crash, at once when it was told to go (recycled, TTOU'd places
 * excepted).
 */
static void worker_gone(struct master *m, const struct worker_proc *dead, int status,
                        const struct scoreboard_slot *slot, double lived)
{
    struct generation *g = dead->gen;
    struct worker_proc *old;

    if (!dead->told && !dead->stuck)
        report_crash(dead->pid, status, slot);
    if (dead->replacing && (old = retiring_of(m, dead)) != NULL) {
        old->retiring = 0;
        m->recycle_after = ev_now(m->loop) + crash_backoff(m, lived);
        log_warn("worker %ld, started to replace worker %ld, is gone; worker %ld "
                 "keeps serving for now", (long)dead->pid, (long)old->pid, (long)old->pid);
        return;
    }
    if (dead->id >= g->nworkers || has_worker(m, g, dead->id))
        return;
    if (dead->told)
        respawn_in(m, 0);
    else
        schedule_respawn(m, lived);
}

/* What happens when a child is reaped depends on what it was. */
static void on_child(struct ev_loop *loop, ev_child *c, int revents)
{
    struct master *m = c->data;
    struct worker_proc *w, dead;
    struct scoreboard_slot slot;
    double lived;

    (void)revents;
    if (c->rpid == m->check_pid) {
        check_done(m, c->rstatus);
        return;
    }
    if (c->rpid == m->upgrade_pid) {
        handover_ended(m, c->rstatus);
        return;
    }
    w = worker_find(m, c->rpid);
    if (w == NULL)
        return;
    dead = *w;
    lived = ev_now(loop) - w->started;
    memcpy(&slot, (const void *)&m->sb->slot[w->slot], sizeof slot);
    worker_free(m, w);
    if (m->stopping) {
        log_debug("worker %ld exited", (long)c->rpid);
        gen_maybe_free(m, dead.gen);
        if (m->workers == NULL)
            ev_break(loop, EVBREAK_ALL);
    } else if (dead.gen->state == GEN_STARTING) {
        start_failed(m, dead.gen, c->rpid, c->rstatus);
    } else if (dead.gen->state == GEN_ACTIVE) {
        worker_gone(m, &dead, c->rstatus, &slot, lived);
    } else {
        log_debug("worker %ld of generation %u exited", (long)c->rpid, dead.gen->id);
        gen_maybe_free(m, dead.gen);
    }
}

/* ---- watchdog: heartbeats and max_requests ---------------------------------- */

/* SIGKILLs a worker whose loop has not turned for worker_timeout.  1 if so. */
static int check_heartbeat(struct master *m, struct worker_proc *w, double now)
{
    struct scoreboard_slot s;
    double timeout = w->gen->cfg->worker_timeout;

    memcpy(&s, (const void *)&m->sb->slot[w->slot], sizeof s);
    if (timeout <= 0 || !w->ready || w->stuck || s.heartbeat <= 0 ||
        now - s.heartbeat <= timeout)
        return 0;
    w->stuck = 1;
    if (s.in_handler)
        log_error("worker %ld stuck for %.0fs in plugin %.*s route %.*s; killed",
                  (long)w->pid, now - s.heartbeat, (int)sizeof s.plugin, s.plugin,
                  (int)sizeof s.route, s.route);
    else
        log_error("worker %ld stuck for %.0fs; killed", (long)w->pid, now - s.heartbeat);
    kill(w->pid, SIGKILL);
    return 1;
}

/* Starts the replacement of a serving worker past its max_requests; the
 * old one is told to quit once the replacement is ready. */
static void check_recycle(struct master *m, struct worker_proc *w)
{
    uint64_t served = m->sb->slot[w->slot].requests;
    struct worker_proc *r;

    if (w->max_requests == 0 || served < w->max_requests || w->retiring || w->told ||
        !w->ready || w->gen != m->current || w->gen->state != GEN_ACTIVE ||
        ev_now(m->loop) < m->recycle_after)
        return;
    w->retiring = 1;
    r = worker_spawn(m, w->gen, w->id);
    if (r == NULL) {
        w->retiring = 0;
        m->recycle_after = ev_now(m->loop) + BACKOFF_MAX;
        return;
    }
    r->replacing = 1;
    log_info("worker %ld served %llu requests (max_requests %llu); worker %ld "
             "starts to replace it", (long)w->pid, (unsigned long long)served,
             (unsigned long long)w->max_requests, (long)r->pid);
}

static void on_watchdog(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct master *m = t->data;
    double now = scoreboard_clock();

    (void)loop;
    (void)revents;
    if (m->stopping)
        return;
    for (struct worker_proc *w = m->workers; w; w = w->next)
        if (!check_heartbeat(m, w, now))
            check_recycle(m, w);
}

/* ---- signals ---------------------------------------------------------------- */

/* SIGTTIN (+1) or SIGTTOU (-1): one worker more or fewer in the serving
 * generation, until the next reload. */
static void change_workers(struct master *m, int delta)
{
    struct generation *g = m->current;
    const char *sig = delta > 0 ? "SIGTTIN" : "SIGTTOU";

    if (m->stopping || g == NULL || g->state != GEN_ACTIVE) {
        log_warn("%s ignored: no generation is serving", sig);
        return;
    }
    if (delta > 0 ? g->nworkers >= SCOREBOARD_MAX_WORKERS : g->nworkers <= 1) {
        log_warn("%s ignored: generation %u already has %zu workers", sig, g->id,
                 g->nworkers);
        return;
    }
    if (delta > 0) {
        g->nworkers++;
        log_info("received SIGTTIN: generation %u grows to %zu workers", g->id, g->nworkers);
        if (worker_spawn(m, g, (unsigned)g->nworkers - 1) == NULL)
            schedule_respawn(m, 0);
        return;
    }
    g->nworkers--;
    log_info("received SIGTTOU: generation %u shrinks to %zu workers", g->id, g->nworkers);
    for (struct worker_proc *w = m->workers; w; w = w->next) {
        if (w->gen != g || w->id != g->nworkers || w->told)
            continue;
        log_info("worker %ld drains and exits", (long)w->pid);
        worker_send(w, CHAN_QUIT);
    }
}

/* SIGWINCH during a binary upgrade: the serving generation drains and is not
 * replaced; the new binary's workers serve.  SIGHUP brings workers back. */
static void winch(struct master *m)
{
    struct generation *g = m->current;

    if (m->upgrade_pid == 0 || m->stopping) {
        log_info("SIGWINCH ignored: no binary upgrade in progress");
        return;
    }
    if (m->winched || g == NULL || g->state != GEN_ACTIVE || m->pending != NULL) {
        log_warn("SIGWINCH ignored: generation %u is not serving steadily",
                 g != NULL ? g->id : 0);
        return;
    }
    m->winched = 1;
    log_info("received SIGWINCH: generation %u drains; the new binary (pid %ld) "
             "serves", g->id, (long)m->upgrade_pid);
    ev_timer_stop(m->loop, &m->respawn);
    g->state = GEN_DRAINING;
    send_all(m, g, CHAN_QUIT);
    gen_timer(m, g, g->cfg->graceful_timeout + KILL_MARGIN);
}

/* SIGUSR1: reopens the master's log and hands the new file to every worker. */
static void reopen_logs(struct master *m)
{
    int fd;

    if (log_reopen() < 0) {
        log_error("reopening the log file %s failed: %s", log_path(), strerror(errno));
        return;
    }
    log_info("log file reopened");
    fd = log_path() != NULL ? log_fd() : -1;
    for (struct worker_proc *w = m->workers; w; w = w->next)
        worker_reopen(w, fd);
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
    if (!m->stopping && !handover_pending(m))
        systemd_notify("STOPPING=1");
    m->stopping = how;
    m->pending = NULL;
    ev_timer_stop(m->loop, &m->respawn);
    ev_timer_stop(m->loop, &m->watchdog);
    watch_close(m);
    if (m->check_pid > 0)
        kill(m->check_pid, SIGKILL);
    for (struct generation *g = m->gens; g; g = g->next)
        ev_timer_stop(m->loop, &g->timer);
    send_all(m, NULL, how == STOP_FAST ? CHAN_STOP : CHAN_QUIT);
    if (how == STOP_GRACEFUL)
        deadline = m->current->cfg->graceful_timeout + KILL_MARGIN;
    ev_timer_stop(m->loop, &m->stop_timer);
    ev_timer_set(&m->stop_timer, deadline, 0);
    ev_timer_start(m->loop, &m->stop_timer);
    if (m->workers == NULL)
        ev_break(m->loop, EVBREAK_ALL);
}

static void on_stop_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct master *m = t->data;

    (void)loop;
    (void)revents;
    kill_leftovers(m, NULL, m->stopping == STOP_FAST ? "1 s" : "graceful_timeout");
}

static void on_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
    struct master *m = s->data;

    (void)loop;
    (void)revents;
    switch (s->signum) {
    case SIGHUP:   master_reload(m, "received SIGHUP"); break;
    case SIGUSR1:  reopen_logs(m); break;
    case SIGUSR2:
        if (!m->stopping)
            handover_upgrade(m);
        break;
    case SIGWINCH: winch(m); break;
    case SIGTTIN:  change_workers(m, 1); break;
    case SIGTTOU:  change_workers(m, -1); break;
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

/* ---- start and end ---------------------------------------------------------- */

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
    ev_timer_init(&m->respawn, on_respawn, 0, 0);
    m->respawn.data = m;
    ev_timer_init(&m->stop_timer, on_stop_timer, 0, 0);
    m->stop_timer.data = m;
    ev_timer_init(&m->check_timer, on_check_timer, 0, 0);
    m->check_timer.data = m;
    ev_timer_init(&m->watchdog, on_watchdog, WATCHDOG_INTERVAL, WATCHDOG_INTERVAL);
    m->watchdog.data = m;
    ev_timer_start(m->loop, &m->watchdog);
}

/* Reports a start-up error in the log and, when the log is a file, on stderr. */
static void start_error(const char *msg)
{
    log_error("%s", msg);
    if (log_fd() != STDERR_FILENO)
        fprintf(stderr, "kiln: %s\n", msg);
}

/* Remembers this binary's path, for SIGUSR2 (later, the file may be replaced). */
static void find_exe(struct master *m)
{
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);

    if (n <= 0) {
        log_warn("readlink(/proc/self/exe) failed: %s; SIGUSR2 will not work",
                 strerror(errno));
        return;
    }
    buf[n] = '\0';
    m->exe = strdup(buf);
}

/*
 * Writes the config's pidfile.  0, or -1 with err; when the pidfile is the
 * built-in default (the config names none), a failure is only a warning:
 * the server runs, `kiln -s` cannot find it.
 */
static int start_pidfile(struct master *m, const struct config *c, char *err,
                         size_t errlen)
{
    if (pidfile_write(&m->pidfile, c->pidfile, err, errlen) == 0)
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
    if (handover_adopt(m, g->cfg, err, errlen) < 0 ||
        open_listeners(m, g->cfg, err, errlen) < 0)
        return -1;
    close_unused_listeners(m);
    if (start_pidfile(m, g->cfg, err, errlen) < 0)
        return -1;
    if (pin_plugins(g->cfg, &g->plugins, err, errlen) < 0)
        return -1;
    m->sb = scoreboard_new();
    if (m->sb == NULL) {
        snprintf(err, errlen, "mmap(scoreboard) failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Loads the config, opens log and listeners, writes the pidfile, maps the
 * scoreboard and forks generation 1.  0 when the loop should run, -1 when
 * start-up failed before any worker existed (exit_code is set).
 */
static int master_start(struct master *m)
{
    char err[1024];
    struct config *cfg = master_load_config(m->opt, err, sizeof err);
    struct generation *g;

    m->exit_code = 1;
    if (cfg == NULL) {
        fprintf(stderr, "kiln: %s\n", err);
        return -1;
    }
    m->loop = ev_default_loop(0);
    if (apply_log(cfg, err, sizeof err) < 0 || m->loop == NULL)
        goto fail;
    log_config_warnings(cfg);
    g = gen_new(m, cfg);
    if (g == NULL)
        goto fail;
    cfg = NULL;
    m->current = g;
    log_info("kiln %d.%d.%d starting, %zu workers", KILN_VERSION_MAJOR,
             KILN_VERSION_MINOR, KILN_VERSION_PATCH, g->nworkers);
    if ((g->cfg->user != NULL || g->cfg->group != NULL) && geteuid() != 0)
        log_warn("user and group ignored: kiln does not run as root");
    find_exe(m);
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    if (start_resources(m, g, err, sizeof err) < 0)
        goto fail;
    start_watchers(m);
    m->exit_code = 0;
    if (gen_spawn_all(m, g) < 0) {
        log_error("generation 1 could not be forked");
        m->exit_code = 1;
        stop_start(m, STOP_FAST);
        return 0;
    }
    watch_update(m);
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
    int keep_files = handover_pending(m);

    while (m->workers != NULL)
        worker_free(m, m->workers);
    m->current = m->pending = NULL;
    while (m->gens != NULL)
        gen_free(m, m->gens);
    config_free(m->check_cfg);
    free(m->check_cfg);
    plugin_files_close(&m->check_files);
    for (size_t i = 0; i < m->nls; i++) {
        if (keep_files)
            listen_release(&m->ls[i]);
        else
            listen_close(&m->ls[i]);
    }
    m->nls = 0;
    pidfile_remove(&m->pidfile);
    free(m->exe);
    scoreboard_free(m->sb);
    if (m->loop != NULL) {
        watch_close(m);
        for (size_t i = 0; i < MASTER_NSIGNALS; i++)
            ev_signal_stop(m->loop, &m->sig[i]);
        ev_child_stop(m->loop, &m->child);
        ev_timer_stop(m->loop, &m->respawn);
        ev_timer_stop(m->loop, &m->stop_timer);
        ev_timer_stop(m->loop, &m->watchdog);
        ev_timer_stop(m->loop, &m->check_timer);
        ev_loop_destroy(m->loop);
    }
}

int master_run(const struct master_options *o)
{
    struct master m;

    memset(&m, 0, sizeof m);
    m.opt = o;
    m.watch.fd = -1;
    if (master_start(&m) == 0 && !(m.stopping && m.workers == NULL))
        ev_run(m.loop, 0);
    if (m.sb != NULL)
        log_info("kiln stopped");
    master_cleanup(&m);
    return m.exit_code;
}
