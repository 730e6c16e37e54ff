/* reload.c -- a reload from request to commit or abort: read the config, check the plugins in a throwaway process, start a generation, let it take over. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "listeners.h"
#include "options.h"
#include "pidfile.h"
#include "privileges.h"
#include "reload.h"
#include "spawn.h"
#include "state.h"
#include "systemd.h"
#include "watch.h"

#define CHECK_TIMEOUT 30.0      /* the plugin check must end by then */
#define READY_TIMEOUT 30.0      /* the new generation must be ready by then */

static void reload_start(struct master *m);
static void on_timer(struct ev_loop *loop, ev_timer *t, int revents);

/* LeakSanitizer's check, linked in by a sanitizer build only (else NULL). */
extern void __lsan_do_leak_check(void) __attribute__((weak));

void reload_init(struct master *m)
{
    struct reload *r = m->reload;

    memset(r, 0, sizeof *r);
    ev_init(&r->timer, on_timer);
    r->timer.data = m;
}

static void arm(struct master *m, double after)
{
    ev_timer_stop(m->loop, &m->reload->timer);
    ev_timer_set(&m->reload->timer, after, 0);
    ev_timer_start(m->loop, &m->reload->timer);
}

/* Drops the config and files a reload held (not given to a generation). */
static void drop_held(struct reload *r)
{
    plugin_files_close(&r->files);
    config_free(r->cfg);
    free(r->cfg);
    r->cfg = NULL;
}

/* Closes the listeners no config in use names any more. */
static void close_unused(struct master *m)
{
    const struct config *in_use[2] = {
        m->current ? m->current->cfg : NULL, reload_config(m)
    };

    listeners_close_unused(m->ls, in_use, 2);
}

/* Back to idle; a reload queued meanwhile starts. */
static void finish(struct master *m)
{
    struct reload *r = m->reload;

    r->state = RELOAD_IDLE;
    r->pending = NULL;
    ev_timer_stop(m->loop, &r->timer);
    systemd_ready();
    if (r->queued)
        reload_start(m);
}

/* ---- abort ------------------------------------------------------------------ */

/* A reload failed: what it opened is closed, the sockets kept and the log go
 * back to the current config's, the old generation keeps serving. */
static void failed(struct master *m, const char *why)
{
    char err[512];

    if (m->reload->pending != NULL)
        gen_abort(m, m->reload->pending);
    m->reload->pending = NULL;
    drop_held(m->reload);
    close_unused(m);
    if (listeners_open(m->ls, m->current->cfg, err, sizeof err) < 0)   /* re-tuned */
        log_error("%s", err);
    if (options_apply_log(m->current->cfg, err, sizeof err) < 0)
        log_error("%s", err);
    log_error("reload failed: %s; keeping generation %u", why, m->current->id);
    m->metrics->m.reload_failures++;
    finish(m);
}

/* ---- idle -> checking ------------------------------------------------------- */

/*
 * The throwaway process: loads the sealed copies of cfg's plugins once, as
 * the workers will (same files, same user, init hooks run), and exits 0
 * when all load.
 */
static void __attribute__((noreturn)) check_child(struct master *m)
{
    struct reload *r = m->reload;
    char err[256];
    int rc;

    spawn_detach_child(m, &r->files);
    for (size_t i = 0; i < m->ls->n; i++)
        close(m->ls->v[i].fd);
    log_set_ident("check");
    if (privileges_drop(r->cfg, err, sizeof err) < 0) {
        log_error("plugin check cannot start: %s", err);
        _exit(1);
    }
    rc = plugins_check(r->cfg, &r->files, NULL) == 0 ? 0 : 1;
    if (__lsan_do_leak_check != NULL)
        __lsan_do_leak_check();
    _exit(rc);
}

/* Forks the plugin check.  0, or -1 with err. */
static int check_start(struct master *m, char *err, size_t errlen)
{
    struct reload *r = m->reload;
    pid_t pid = fork();

    if (pid < 0) {
        snprintf(err, errlen, "fork() for the plugin check failed: %s", strerror(errno));
        return -1;
    }
    if (pid == 0)
        check_child(m);
    r->check_pid = pid;
    r->state = RELOAD_CHECKING;
    arm(m, CHECK_TIMEOUT);
    log_debug("checking the plugins of %s in process %ld", r->cfg->plugin_dir, (long)pid);
    return 0;
}

/* Reads the config again, opens its new listeners and its log, seals its
 * plugin files, and forks their check. */
static void reload_start(struct master *m)
{
    struct reload *r = m->reload;
    char err[1024];

    r->queued = 0;
    systemd_reloading();
    log_info("reloading %s", m->opt->conf_file);
    r->cfg = options_load_config(m->opt, err, sizeof err);
    if (r->cfg == NULL || listeners_open(m->ls, r->cfg, err, sizeof err) < 0 ||
        options_apply_log(r->cfg, err, sizeof err) < 0)
        goto fail;
    if (plugin_files_open(r->cfg->plugin_dir, &r->files) < 0) {
        snprintf(err, sizeof err, "plugin_dir %s could not be read (see the error "
                 "above)", r->cfg->plugin_dir);
        goto fail;
    }
    if (check_start(m, err, sizeof err) < 0)
        goto fail;
    return;

fail:
    failed(m, err);
}

void reload_request(struct master *m, const char *why)
{
    struct reload *r = m->reload;

    if (m->stopping)
        return;
    log_info("%s, reloading", why);
    if (r->state != RELOAD_IDLE || !m->booted) {
        r->queued = 1;
        log_info("reload queued until the generation starting now is ready");
        return;
    }
    reload_start(m);
}

void reload_booted(struct master *m)
{
    if (m->reload->queued && m->reload->state == RELOAD_IDLE)
        reload_start(m);
}

/* ---- checking -> starting --------------------------------------------------- */

/* The plugins passed: forks the new generation, which takes the config and
 * the checked files. */
static void start_generation(struct master *m)
{
    struct reload *r = m->reload;
    struct generation *g = gen_new(m, r->cfg);
    char why[128];

    if (g == NULL) {
        failed(m, "out of memory");
        return;
    }
    g->plugins = r->files;
    memset(&r->files, 0, sizeof r->files);
    r->cfg = NULL;
    r->pending = g;
    r->state = RELOAD_STARTING;
    arm(m, READY_TIMEOUT);
    if (gen_spawn_all(m, g) < 0) {
        snprintf(why, sizeof why, "generation %u could not be forked", g->id);
        failed(m, why);
    }
}

int reload_reaped(struct master *m, pid_t pid, int status)
{
    struct reload *r = m->reload;
    char how[128], why[256];

    if (pid != r->check_pid || r->check_pid == 0)
        return 0;
    r->check_pid = 0;
    ev_timer_stop(m->loop, &r->timer);
    if (m->stopping) {
        drop_held(r);
        return 1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        start_generation(m);
        return 1;
    }
    status_long(status, how, sizeof how);
    snprintf(why, sizeof why, "the plugin check %s (its error is logged above)", how);
    failed(m, why);
    return 1;
}

/* ---- starting -> commit, or abort --------------------------------------------- */

int reload_ready(struct master *m, struct generation *g)
{
    struct generation *old = m->current;

    if (g != m->reload->pending)
        return 0;
    g->state = GEN_ACTIVE;
    m->current = g;
    m->reload->pending = NULL;
    log_info("reload: generation %u ready, generation %u draining", g->id, old->id);
    m->metrics->m.reloads++;
    pidfile_change(m->pidfile, g->cfg->pidfile, g->cfg->pidfile_is_default);
    gen_drain_old(m);
    close_unused(m);
    for (struct generation *o = m->spawn->gens, *next; o; o = next) {
        next = o->next;
        gen_maybe_free(m, o);
    }
    watch_update(m->watch, g->cfg);
    finish(m);
    return 1;
}

int reload_worker_died(struct master *m, struct generation *g, pid_t pid, int status)
{
    char why[256];

    if (g != m->reload->pending)
        return 0;
    snprintf(why, sizeof why, "worker %ld of generation %u could not start (%s %d)",
             (long)pid, g->id, WIFSIGNALED(status) ? "signal" : "exit",
             WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    failed(m, why);
    return 1;
}

/* The check hangs, or the new generation is not ready in time. */
static void on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct master *m = t->data;
    struct reload *r = m->reload;
    char why[256];
    pid_t pid = 0;

    (void)loop;
    (void)revents;
    if (r->state == RELOAD_CHECKING) {
        log_error("the plugin check (process %ld) did not end within %.0f s: a "
                  "plugin's init hangs?  killed", (long)r->check_pid, CHECK_TIMEOUT);
        kill(r->check_pid, SIGKILL);
        return;
    }
    for (struct worker_proc *w = m->spawn->workers; w && !pid; w = w->next)
        if (w->gen == r->pending && !w->ready)
            pid = w->pid;
    snprintf(why, sizeof why, "worker %ld of generation %u could not start (not ready "
             "within %.0f s)", (long)pid, r->pending->id, READY_TIMEOUT);
    failed(m, why);
}

/* ---- the rest --------------------------------------------------------------- */

const struct config *reload_config(const struct master *m)
{
    const struct reload *r = m->reload;

    return r->pending != NULL ? r->pending->cfg : r->cfg;
}

void reload_stop(struct master *m)
{
    struct reload *r = m->reload;

    if (r->check_pid > 0)
        kill(r->check_pid, SIGKILL);
    ev_timer_stop(m->loop, &r->timer);
    r->pending = NULL;
    r->queued = 0;
}

void reload_forget(struct master *m, const struct plugin_files *keep, int in_child)
{
    struct reload *r = m->reload;

    ev_timer_stop(m->loop, &r->timer);
    if (in_child) {
        if (&r->files != keep)
            plugin_files_close(&r->files);
        return;
    }
    drop_held(r);
}
