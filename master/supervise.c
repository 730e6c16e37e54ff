/* supervise.c -- the serving generation kept whole: crash back-off, stuck workers, max_requests recycling, TTIN/TTOU. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "channel.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "scoreboard.h"
#include "spawn.h"
#include "state.h"
#include "supervise.h"

#define BACKOFF_FIRST 0.1       /* respawn delay after a crash, doubling */
#define BACKOFF_MAX 10.0
#define BACKOFF_RESET 10.0      /* a worker that lived this long resets it */
#define WATCHDOG_INTERVAL 0.5   /* heartbeat and max_requests checks */

static void on_respawn(struct ev_loop *loop, ev_timer *t, int revents);
static void on_watchdog(struct ev_loop *loop, ev_timer *t, int revents);

void supervise_init(struct master *m)
{
    struct supervisor *s = m->sup;

    ev_timer_init(&s->respawn, on_respawn, 0, 0);
    s->respawn.data = m;
    ev_timer_init(&s->watchdog, on_watchdog, WATCHDOG_INTERVAL, WATCHDOG_INTERVAL);
    s->watchdog.data = m;
    ev_timer_start(m->loop, &s->watchdog);
}

void supervise_stop(struct master *m)
{
    ev_timer_stop(m->loop, &m->sup->respawn);
    ev_timer_stop(m->loop, &m->sup->watchdog);
}

/* ---- respawning ------------------------------------------------------------- */

/* The delay before replacing a crashed worker: doubles with each crash in a
 * row, back to the first once a worker lived BACKOFF_RESET seconds. */
static double crash_backoff(struct supervisor *s, double lived)
{
    double delay = BACKOFF_FIRST;

    if (lived >= BACKOFF_RESET)
        s->crash_streak = 0;
    for (unsigned i = 0; i < s->crash_streak && delay < BACKOFF_MAX; i++)
        delay *= 2;
    if (delay > BACKOFF_MAX)
        delay = BACKOFF_MAX;
    s->crash_streak++;
    return delay;
}

/* Fills the current generation's missing places in `delay` s, unless a
 * later respawn is already due.  1 when the timer was (re)armed. */
static int respawn_in(struct master *m, double delay)
{
    ev_timer *t = &m->sup->respawn;

    if (ev_is_active(t) && ev_timer_remaining(m->loop, t) >= delay)
        return 0;
    ev_timer_stop(m->loop, t);
    ev_timer_set(t, delay, 0);
    ev_timer_start(m->loop, t);
    return 1;
}

/* Replaces a crashed worker after the back-off. */
static void schedule_respawn(struct master *m, double lived)
{
    double delay = crash_backoff(m->sup, lived);

    if (respawn_in(m, delay))
        log_info("replacing it in %.1f s", delay);
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
        if (gen_has_worker(m, g, id))
            continue;
        if (worker_spawn(m, g, id) == NULL) {
            schedule_respawn(m, 0);
            return;
        }
        m->metrics->m.restarts++;
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

/* The retiring worker that `w` was started to replace, or NULL. */
static struct worker_proc *retiring_of(struct master *m, const struct worker_proc *w)
{
    for (struct worker_proc *o = m->spawn->workers; o; o = o->next)
        if (o != w && o->gen == w->gen && o->id == w->id && o->retiring && !o->told)
            return o;
    return NULL;
}

void supervise_gone(struct master *m, const struct worker_proc *dead, int status,
                    const struct scoreboard_slot *slot, double lived)
{
    struct generation *g = dead->gen;
    struct worker_proc *old;

    if (!dead->told && !dead->stuck)
        report_crash(dead->pid, status, slot);
    if (!dead->told && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        m->metrics->m.crashes++;
    if (dead->replacing && (old = retiring_of(m, dead)) != NULL) {
        old->retiring = 0;
        m->sup->recycle_after = ev_now(m->loop) + crash_backoff(m->sup, lived);
        log_warn("worker %ld, started to replace worker %ld, is gone; worker %ld "
                 "keeps serving for now", (long)dead->pid, (long)old->pid, (long)old->pid);
        return;
    }
    if (dead->id >= g->nworkers || gen_has_worker(m, g, dead->id))
        return;
    if (dead->told)
        respawn_in(m, 0);
    else
        schedule_respawn(m, lived);
}

void supervise_ready(struct master *m, struct worker_proc *w)
{
    struct worker_proc *old;

    if (!w->replacing)
        return;
    w->replacing = 0;
    old = retiring_of(m, w);
    if (old == NULL)
        return;
    log_info("worker %ld took over from worker %ld, which drains", (long)w->pid,
             (long)old->pid);
    worker_send(old, CHAN_QUIT);
}

/* ---- watchdog: heartbeats and max_requests ---------------------------------- */

/* SIGKILLs a worker whose loop has not turned for worker_timeout.  1 if so. */
static int check_heartbeat(struct worker_proc *w, const struct scoreboard *sb, double now)
{
    struct scoreboard_slot s;
    double timeout = w->gen->cfg->worker_timeout;

    memcpy(&s, (const void *)&sb->slot[w->slot], sizeof s);
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
        ev_now(m->loop) < m->sup->recycle_after)
        return;
    w->retiring = 1;
    r = worker_spawn(m, w->gen, w->id);
    if (r == NULL) {
        w->retiring = 0;
        m->sup->recycle_after = ev_now(m->loop) + BACKOFF_MAX;
        return;
    }
    r->replacing = 1;
    m->metrics->m.restarts++;
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
    for (struct worker_proc *w = m->spawn->workers; w; w = w->next)
        if (!check_heartbeat(w, m->sb, now))
            check_recycle(m, w);
}

/* ---- TTIN / TTOU ------------------------------------------------------------ */

void supervise_resize(struct master *m, int delta)
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
    for (struct worker_proc *w = m->spawn->workers; w; w = w->next) {
        if (w->gen != g || w->id != g->nworkers || w->told)
            continue;
        log_info("worker %ld drains and exits", (long)w->pid);
        worker_send(w, CHAN_QUIT);
    }
}
