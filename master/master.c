/* master.c -- the master process: listeners, generations of forked workers, supervision, reload and stop. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "kiln.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "scoreboard.h"
#include "worker.h"

#define MAX_WORKERS (SCOREBOARD_SLOTS / 2)
#define READY_TIMEOUT 30.0      /* a reload's workers must be ready by then */
#define FAST_STOP_TIMEOUT 1.0   /* SIGINT: SIGKILL what is left after this */
#define KILL_MARGIN 1.0         /* beyond graceful_timeout, for the workers'
                                   own drain deadline to win the race */
#define BACKOFF_FIRST 0.1       /* respawn delay after a crash, doubling */
#define BACKOFF_MAX 10.0
#define BACKOFF_RESET 10.0      /* a worker that lived this long resets it */

static const int master_signals[5] = { SIGHUP, SIGTERM, SIGQUIT, SIGINT, SIGUSR1 };

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
    return n > MAX_WORKERS ? MAX_WORKERS : (size_t)n;
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

/* Closes the listeners that neither the current nor a starting generation uses. */
static void close_unused_listeners(struct master *m)
{
    for (size_t i = 0; i < m->nls;) {
        const char *addr = m->ls[i].addr;

        if ((m->current && in_config(m->current->cfg, addr)) ||
            (m->pending && in_config(m->pending->cfg, addr))) {
            i++;
            continue;
        }
        log_info("no longer listening on %s", m->ls[i].bound);
        listen_close(&m->ls[i]);
        m->ls[i] = m->ls[--m->nls];
    }
}

/* ---- pidfile ---------------------------------------------------------------- */

/* Writes our pid to `path` and remembers it for removal.  0, or -1 with err. */
static int write_pidfile(struct master *m, const char *path, char *err,
                         size_t errlen)
{
    char buf[32];
    int fd, n;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        goto fail;
    n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (write(fd, buf, (size_t)n) != n) {
        close(fd);
        unlink(path);
        goto fail;
    }
    close(fd);
    m->pidfile = strdup(path);
    return 0;

fail:
    snprintf(err, errlen, "writing pidfile %s failed: %s", path, strerror(errno));
    return -1;
}

static void remove_pidfile(struct master *m)
{
    if (m->pidfile != NULL)
        unlink(m->pidfile);
    free(m->pidfile);
    m->pidfile = NULL;
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

/* Stops, on the child's copy of the loop, every watcher the master started. */
static void child_stop_watchers(struct master *m)
{
    for (size_t i = 0; i < 5; i++)
        ev_signal_stop(m->loop, &m->sig[i]);
    ev_child_stop(m->loop, &m->child);
    ev_timer_stop(m->loop, &m->respawn);
    ev_timer_stop(m->loop, &m->stop_timer);
    for (struct generation *g = m->gens; g; g = g->next)
        ev_timer_stop(m->loop, &g->timer);
    for (struct worker_proc *w = m->workers; w; w = w->next) {
        ev_io_stop(m->loop, &w->io);
        if (w->chan >= 0)
            close(w->chan);
    }
}

/*
 * In a freshly forked child: drops the master's state (watchers, the other
 * workers' channels, listeners the generation does not use), then becomes
 * worker `id` of generation `g`.  Never returns.
 */
static void __attribute__((noreturn))
child_run(struct master *m, struct generation *g, unsigned id, int slot,
          int chan, int master_end)
{
    struct listener ls[CONFIG_MAX_LISTEN];
    struct worker_args a;
    size_t n = 0;

    ev_loop_fork(m->loop);
    child_stop_watchers(m);
    close(master_end);
    for (size_t i = 0; i < g->cfg->nlisten; i++) {
        struct listener *l = find_listener(m, g->cfg->listen[i]);
        if (l != NULL)
            ls[n++] = *l;
    }
    for (size_t i = 0; i < m->nls; i++)
        if (!in_config(g->cfg, m->ls[i].addr))
            close(m->ls[i].fd);
    log_set_ident("worker");
    m->sb->slot[slot].pid = getpid();
    a = (struct worker_args){
        .cfg = g->cfg, .listeners = ls, .nlisteners = n, .chan_fd = chan,
        .slot = &m->sb->slot[slot], .generation = g->id, .id = id
    };
    worker_main(&a);
}

/* Forks worker `id` of generation `g`.  0, or -1 (logged). */
static int worker_spawn(struct master *m, struct generation *g, unsigned id)
{
    struct worker_proc *w = NULL;
    int sv[2] = { -1, -1 }, slot = pick_slot(m);
    pid_t pid;

    if (slot < 0) {
        log_error("no free scoreboard slot for worker %u of generation %u", id, g->id);
        return -1;
    }
    w = calloc(1, sizeof *w);
    if (w == NULL || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
        fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
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
        .started = ev_now(m->loop), .gen = g, .m = m, .next = m->workers
    };
    ev_io_init(&w->io, on_chan, sv[0], EV_READ);
    w->io.data = w;
    ev_io_start(m->loop, &w->io);
    m->workers = w;
    log_debug("worker %ld (%u of generation %u) started", (long)pid, id, g->id);
    return 0;

fail:
    if (sv[0] >= 0) {
        close(sv[0]);
        close(sv[1]);
    }
    free(w);
    return -1;
}

/* Forks every worker of a generation.  0, or -1 (logged) at the first failure. */
static int gen_spawn_all(struct master *m, struct generation *g)
{
    for (unsigned id = 0; id < g->nworkers; id++)
        if (worker_spawn(m, g, id) < 0)
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
    if (w->chan >= 0 && send(w->chan, &cmd, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1)
        return;
    kill(w->pid, cmd == CHAN_STOP ? SIGINT : SIGQUIT);
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
}

/* A reload's generation is all ready: it takes over, the old one drains. */
static void reload_commit(struct master *m)
{
    struct generation *g = m->pending, *old = m->current;

    ev_timer_stop(m->loop, &g->timer);
    g->state = GEN_ACTIVE;
    m->current = g;
    m->pending = NULL;
    log_info("reload: generation %u ready, generation %u draining", g->id, old->id);
    drain_old(m);
    close_unused_listeners(m);
    for (struct generation *o = m->gens, *next; o; o = next) {
        next = o->next;
        gen_maybe_free(m, o);
    }
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
    if (m->hup_queued)
        reload_start(m);
}

static void on_ready(struct master *m, struct worker_proc *w)
{
    struct generation *g = w->gen;

    if (w->ready || w->told || m->stopping)
        return;
    w->ready = 1;
    if (g->state != GEN_STARTING) {
        log_debug("worker %ld of generation %u ready", (long)w->pid, g->id);
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
 * Gives up a reload: the new generation is told to stop, the listeners only
 * it used are closed, the log goes back to the current config's.  `why`
 * says what failed.
 */
static void reload_abort(struct master *m, const char *why)
{
    struct generation *g = m->pending;
    char err[512];

    m->pending = NULL;
    g->state = GEN_ABORTED;
    send_all(m, g, CHAN_STOP);
    gen_timer(m, g, FAST_STOP_TIMEOUT);
    close_unused_listeners(m);
    if (apply_log(m->current->cfg, err, sizeof err) < 0)
        log_error("%s", err);
    log_error("reload failed: %s; keeping generation %u", why, m->current->id);
    gen_maybe_free(m, g);
    if (m->hup_queued)
        reload_start(m);
}

/* Reads the config again and starts a new generation with it (SIGHUP). */
static void reload_start(struct master *m)
{
    char err[1024];
    struct config *cfg;
    struct generation *g;

    if (m->pending != NULL || !m->booted) {
        m->hup_queued = 1;
        log_info("reload queued until the generation starting now is ready");
        return;
    }
    m->hup_queued = 0;
    log_info("reloading %s", m->opt->conf_file);
    cfg = master_load_config(m->opt, err, sizeof err);
    if (cfg == NULL)
        goto fail;
    if (open_listeners(m, cfg, err, sizeof err) < 0 ||
        apply_log(cfg, err, sizeof err) < 0)
        goto fail;
    g = gen_new(m, cfg);
    if (g == NULL) {
        snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    m->pending = g;
    gen_timer(m, g, READY_TIMEOUT);
    if (gen_spawn_all(m, g) < 0) {
        snprintf(err, sizeof err, "generation %u could not be forked", g->id);
        reload_abort(m, err);
    }
    return;

fail:
    if (cfg != NULL) {
        config_free(cfg);
        free(cfg);
    }
    close_unused_listeners(m);
    log_error("reload failed: %s; keeping generation %u", err, m->current->id);
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

/* Replaces missing workers of the current generation after a back-off. */
static void schedule_respawn(struct master *m, double lived)
{
    double delay = BACKOFF_FIRST;

    if (lived >= BACKOFF_RESET)
        m->crash_streak = 0;
    for (unsigned i = 0; i < m->crash_streak && delay < BACKOFF_MAX; i++)
        delay *= 2;
    if (delay > BACKOFF_MAX)
        delay = BACKOFF_MAX;
    m->crash_streak++;
    if (ev_is_active(&m->respawn) && ev_timer_remaining(m->loop, &m->respawn) >= delay)
        return;
    ev_timer_stop(m->loop, &m->respawn);
    ev_timer_set(&m->respawn, delay, 0);
    ev_timer_start(m->loop, &m->respawn);
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
        if (worker_spawn(m, g, id) < 0) {
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

/* What happens when a worker is reaped depends on its generation's state. */
static void on_child(struct ev_loop *loop, ev_child *c, int revents)
{
    struct master *m = c->data;
    struct worker_proc *w = worker_find(m, c->rpid);
    struct scoreboard_slot slot;
    struct generation *g;
    double lived;
    int told;

    (void)revents;
    if (w == NULL)
        return;
    g = w->gen;
    told = w->told;
    lived = ev_now(loop) - w->started;
    memcpy(&slot, (const void *)&m->sb->slot[w->slot], sizeof slot);
    worker_free(m, w);
    if (m->stopping) {
        log_debug("worker %ld exited", (long)c->rpid);
        gen_maybe_free(m, g);
        if (m->workers == NULL)
            ev_break(loop, EVBREAK_ALL);
    } else if (g->state == GEN_STARTING) {
        start_failed(m, g, c->rpid, c->rstatus);
    } else if (g->state == GEN_ACTIVE && !told) {
        report_crash(c->rpid, c->rstatus, &slot);
        schedule_respawn(m, lived);
    } else {
        log_debug("worker %ld of generation %u exited", (long)c->rpid, g->id);
        gen_maybe_free(m, g);
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
    m->stopping = how;
    m->pending = NULL;
    ev_timer_stop(m->loop, &m->respawn);
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
    case SIGHUP:
        if (m->stopping)
            return;
        log_info("received SIGHUP, reloading");
        reload_start(m);
        break;
    case SIGUSR1:
        if (log_reopen() < 0)
            log_error("reopening the log file failed: %s", strerror(errno));
        else
            log_info("log file reopened");
        break;
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
    for (size_t i = 0; i < 5; i++) {
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
}

/* Reports a start-up error in the log and, when the log is a file, on stderr. */
static void start_error(const char *msg)
{
    log_error("%s", msg);
    if (log_fd() != STDERR_FILENO)
        fprintf(stderr, "kiln: %s\n", msg);
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
    g = gen_new(m, cfg);
    if (g == NULL)
        goto fail;
    cfg = NULL;
    m->current = g;
    log_info("kiln %d.%d.%d starting, %zu workers", KILN_VERSION_MAJOR,
             KILN_VERSION_MINOR, KILN_VERSION_PATCH, g->nworkers);
    if (open_listeners(m, g->cfg, err, sizeof err) < 0)
        goto fail;
    if (g->cfg->pidfile != NULL &&
        write_pidfile(m, g->cfg->pidfile, err, sizeof err) < 0)
        goto fail;
    m->sb = scoreboard_new();
    if (m->sb == NULL) {
        snprintf(err, sizeof err, "mmap(scoreboard) failed: %s", strerror(errno));
        goto fail;
    }
    start_watchers(m);
    m->exit_code = 0;
    if (gen_spawn_all(m, g) < 0) {
        log_error("generation 1 could not be forked");
        m->exit_code = 1;
        stop_start(m, STOP_FAST);
    }
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
 * listeners (unix socket files are removed), pidfile, scoreboard, loop. */
static void master_cleanup(struct master *m)
{
    while (m->workers != NULL)
        worker_free(m, m->workers);
    m->current = m->pending = NULL;
    while (m->gens != NULL)
        gen_free(m, m->gens);
    for (size_t i = 0; i < m->nls; i++)
        listen_close(&m->ls[i]);
    m->nls = 0;
    remove_pidfile(m);
    scoreboard_free(m->sb);
    if (m->loop != NULL) {
        for (size_t i = 0; i < 5; i++)
            ev_signal_stop(m->loop, &m->sig[i]);
        ev_child_stop(m->loop, &m->child);
        ev_timer_stop(m->loop, &m->respawn);
        ev_timer_stop(m->loop, &m->stop_timer);
        ev_loop_destroy(m->loop);
    }
}

int master_run(const struct master_options *o)
{
    struct master m;

    memset(&m, 0, sizeof m);
    m.opt = o;
    if (master_start(&m) == 0 && !(m.stopping && m.workers == NULL))
        ev_run(m.loop, 0);
    if (m.sb != NULL)
        log_info("kiln stopped");
    master_cleanup(&m);
    return m.exit_code;
}
