/* spawn.c -- generations and worker processes: fork, the child's set-up, commands over the channel, who is alive. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "channel.h"
#include "config.h"
#include "listeners.h"
#include "log.h"
#include "options.h"
#include "privileges.h"
#include "metrics.h"
#include "pubsub.h"
#include "pubsub_frame.h"
#include "scoreboard.h"
#include "spawn.h"
#include "state.h"
#include "worker/worker.h"

#define ABORT_DEADLINE 1.0      /* a failed reload's workers: SIGKILL after this */
#define MAX_DRAINING 4          /* draining generations kept at once */
#define CHAN_BATCH 64           /* datagrams read from a worker per wake-up */

static void on_chan(struct ev_loop *loop, ev_io *io, int revents);

/* ---- generations ------------------------------------------------------------ */

/* The number of workers a config asks for ("auto": one per online CPU). */
static size_t worker_count(const struct config *c)
{
    long n = c->workers > 0 ? c->workers : sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        n = 1;
    return n > SCOREBOARD_MAX_WORKERS ? SCOREBOARD_MAX_WORKERS : (size_t)n;
}

static void on_deadline(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct generation *g = t->data;

    (void)loop;
    (void)revents;
    workers_kill(g->m, g, g->state == GEN_ABORTED ? "1 s" : "graceful_timeout");
}

struct generation *gen_new(struct master *m, struct config *cfg)
{
    struct generation *g = calloc(1, sizeof *g);

    if (g == NULL)
        return NULL;
    g->id = ++m->spawn->last_gen;
    g->state = GEN_STARTING;
    g->cfg = cfg;
    g->nworkers = worker_count(cfg);
    g->m = m;
    ev_timer_init(&g->deadline, on_deadline, 0, 0);
    g->deadline.data = g;
    g->next = m->spawn->gens;
    m->spawn->gens = g;
    return g;
}

int gen_spawn_all(struct master *m, struct generation *g)
{
    for (unsigned id = 0; id < g->nworkers; id++)
        if (worker_spawn(m, g, id) == NULL)
            return -1;
    return 0;
}

size_t gen_alive(const struct master *m, const struct generation *g)
{
    size_t n = 0;

    for (const struct worker_proc *w = m->spawn->workers; w; w = w->next)
        n += w->gen == g;
    return n;
}

int gen_has_worker(const struct master *m, const struct generation *g, unsigned id)
{
    for (const struct worker_proc *w = m->spawn->workers; w; w = w->next)
        if (w->gen == g && w->id == id)
            return 1;
    return 0;
}

static void gen_free(struct master *m, struct generation *g)
{
    struct generation **pp = &m->spawn->gens;

    while (*pp != g)
        pp = &(*pp)->next;
    *pp = g->next;
    ev_timer_stop(m->loop, &g->deadline);
    plugin_files_close(&g->plugins);
    config_free(g->cfg);
    free(g->cfg);
    free(g);
}

void gen_free_all(struct master *m)
{
    while (m->spawn->gens != NULL)
        gen_free(m, m->spawn->gens);
}

void gen_maybe_free(struct master *m, struct generation *g)
{
    if (g == m->current || g->state == GEN_STARTING || gen_alive(m, g) > 0)
        return;
    if (g->state == GEN_DRAINING)
        log_info("generation %u stopped", g->id);
    gen_free(m, g);
}

/* Arms g's deadline for `after` seconds. */
static void gen_deadline(struct master *m, struct generation *g, double after)
{
    ev_timer_stop(m->loop, &g->deadline);
    ev_timer_set(&g->deadline, after, 0);
    ev_timer_start(m->loop, &g->deadline);
}

void gen_drain(struct master *m, struct generation *g)
{
    g->state = GEN_DRAINING;
    workers_send(m, g, CHAN_QUIT);
    gen_deadline(m, g, g->cfg->graceful_timeout + SPAWN_KILL_MARGIN);
}

void gen_abort(struct master *m, struct generation *g)
{
    g->state = GEN_ABORTED;
    workers_send(m, g, CHAN_STOP);
    gen_deadline(m, g, ABORT_DEADLINE);
    gen_maybe_free(m, g);
}

/* Draining generations, not counting those already killed; the oldest in *oldest. */
static size_t draining_count(const struct master *m, struct generation **oldest)
{
    size_t n = 0;

    for (struct generation *g = m->spawn->gens; g; g = g->next) {
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
    struct generation *g = NULL;

    while (draining_count(m, &g) > MAX_DRAINING) {
        log_warn("more than %d generations draining: killing generation %u "
                 "(%zu workers) now", MAX_DRAINING, g->id, gen_alive(m, g));
        g->killed = 1;
        for (struct worker_proc *w = m->spawn->workers; w; w = w->next)
            if (w->gen == g)
                kill(w->pid, SIGKILL);
    }
}

void gen_drain_old(struct master *m)
{
    for (struct generation *g = m->spawn->gens; g; g = g->next)
        if (g != m->current && g->state == GEN_ACTIVE)
            gen_drain(m, g);
    cap_draining(m);
}

void gen_pids(const struct master *m, const struct generation *g, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (unsigned id = 0; id < g->nworkers && len < size; id++) {
        for (const struct worker_proc *w = m->spawn->workers; w; w = w->next) {
            int n;
            if (w->gen != g || w->id != id)
                continue;
            n = snprintf(buf + len, size - len, "%s%ld", len ? " " : "", (long)w->pid);
            len += n < 0 ? 0 : (size_t)n;
            break;
        }
    }
}

/* ---- children --------------------------------------------------------------- */

void status_long(int status, char *buf, size_t size)
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

void spawn_detach_child(struct master *m, struct plugin_files *keep)
{
    sigset_t none;

    ev_loop_fork(m->loop);
    m->spawn->forget(m, keep);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

void spawn_forget(struct master *m, const struct plugin_files *keep, int in_child)
{
    for (struct generation *g = m->spawn->gens; g; g = g->next) {
        ev_timer_stop(m->loop, &g->deadline);
        if (in_child && &g->plugins != keep)
            plugin_files_close(&g->plugins);
    }
    for (struct worker_proc *w = m->spawn->workers; w && in_child; w = w->next) {
        ev_io_stop(m->loop, &w->io);
        if (w->chan >= 0)
            close(w->chan);
    }
}

/*
 * In a freshly forked child: drops the master's state (watchers, the other
 * workers' channels, the other generations' plugin files, listeners the
 * generation does not use) and root, then becomes worker `id` of
 * generation g, loading g's plugin files.  Never returns.
 */
static void __attribute__((noreturn))
child_run(struct master *m, struct generation *g, unsigned id, int slot, int chan,
          int master_end)
{
    struct listener ls[LISTENERS_MAX];
    struct worker_args a;
    char err[256];
    size_t n = 0;

    spawn_detach_child(m, &g->plugins);
    close(master_end);
    for (size_t i = 0; i < m->ls->n; i++) {
        if (listeners_serves(g->cfg, &m->ls->v[i]))
            ls[n++] = m->ls->v[i];
        else
            close(m->ls->v[i].fd);
    }
    log_set_ident("worker");
    m->sb->slot[slot].pid = getpid();
    if (privileges_drop(g->cfg, err, sizeof err) < 0) {
        log_error("worker cannot start: %s", err);
        exit(EXIT_BOOT_FAILURE);
    }
    a = (struct worker_args){
        .cfg = g->cfg, .plugins = &g->plugins, .listeners = ls, .nlisteners = n,
        .chan_fd = chan, .sb = m->sb, .slot = &m->sb->slot[slot], .generation = g->id, .id = id,
        .metrics = m->metrics, .mslot = &m->metrics->slot[slot],
        .report_sections = g->id == 1 && id == 0 && !m->booted
    };
    worker_main(&a);
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

/* The request count after which a new worker of g is recycled (0: never). */
static uint64_t draw_max_requests(const struct generation *g)
{
    uint64_t jitter = g->cfg->max_requests_jitter;

    if (g->cfg->max_requests == 0)
        return 0;
    return g->cfg->max_requests + (jitter ? (uint64_t)random() % (jitter + 1) : 0);
}

struct worker_proc *worker_spawn(struct master *m, struct generation *g, unsigned id)
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
    metrics_slot_start(m->metrics, slot);
    m->sb->slot[slot].pid = pid;
    *w = (struct worker_proc){
        .pid = pid, .id = id, .slot = slot, .chan = sv[0],
        .max_requests = draw_max_requests(g),
        .started = ev_now(m->loop), .gen = g, .m = m, .next = m->spawn->workers
    };
    ev_io_init(&w->io, on_chan, sv[0], EV_READ);
    w->io.data = w;
    ev_io_start(m->loop, &w->io);
    m->spawn->workers = w;
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

static void chan_close(struct master *m, struct worker_proc *w)
{
    fanout_gone(m, w);
    ev_io_stop(m->loop, &w->io);
    if (w->chan >= 0)
        close(w->chan);
    w->chan = -1;
}

/* The worker's channel is readable: a batch of datagrams, CHAN_READY and
 * publish/subscribe frames, or EOF as it exits. */
static void on_chan(struct ev_loop *loop, ev_io *io, int revents)
{
    static char buf[PUBSUB_FRAME_MAX];
    struct worker_proc *w = io->data;
    ssize_t n;
    int fd;

    (void)loop;
    (void)revents;
    for (int i = 0; i < CHAN_BATCH; i++) {
        n = channel_read(w->chan, buf, sizeof buf, &fd);
        if (fd >= 0)
            close(fd);
        if (n < 0 && errno == EMSGSIZE)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            chan_close(w->m, w);    /* the worker is going; ev_child reaps it */
            return;
        }
        if (n == 1 && buf[0] == CHAN_READY)
            w->m->spawn->ready(w->m, w);
        else if (n > 1)
            fanout_frame(w->m, w, buf, (size_t)n);
        if (w->chan < 0)
            return;
    }
}

void worker_send(struct worker_proc *w, char cmd)
{
    w->told = 1;
    if (channel_send(w->chan, cmd, -1) < 0)
        kill(w->pid, cmd == CHAN_STOP ? SIGINT : SIGQUIT);
}

void workers_send(struct master *m, struct generation *g, char cmd)
{
    for (struct worker_proc *w = m->spawn->workers; w; w = w->next)
        if (g == NULL || w->gen == g)
            worker_send(w, cmd);
}

void workers_reopen(struct master *m, int fd)
{
    for (struct worker_proc *w = m->spawn->workers; w; w = w->next)
        if (channel_send(w->chan, CHAN_REOPEN, fd) < 0)
            kill(w->pid, SIGUSR1);
}

void workers_kill(struct master *m, struct generation *g, const char *within)
{
    for (struct worker_proc *w = m->spawn->workers; w; w = w->next) {
        if (g != NULL && w->gen != g)
            continue;
        log_warn("worker %ld of generation %u did not stop within %s; killed",
                 (long)w->pid, w->gen->id, within);
        kill(w->pid, SIGKILL);
    }
}

struct worker_proc *worker_find(struct master *m, pid_t pid)
{
    for (struct worker_proc *w = m->spawn->workers; w; w = w->next)
        if (w->pid == pid)
            return w;
    return NULL;
}

void worker_free(struct master *m, struct worker_proc *w)
{
    struct worker_proc **pp = &m->spawn->workers;

    while (*pp != w)
        pp = &(*pp)->next;
    *pp = w->next;
    chan_close(m, w);
    metrics_fold(m->metrics, w->slot);
    memset((void *)&m->sb->slot[w->slot], 0, sizeof m->sb->slot[w->slot]);
    free(w);
}
