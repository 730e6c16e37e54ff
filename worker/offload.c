/*
 * offload.c -- a worker's thread pool: kiln_offload() queues a job, one of
 * thread_pool threads runs it, and its done callback runs on the loop.
 * offload_internal() does the same for kiln's own blocking calls (pg.c's
 * cancel requests).
 *
 * The threads start with the first job and share two lists under one
 * mutex: jobs to run (a condition variable wakes a thread) and jobs done
 * (an ev_async wakes the loop, which runs their callbacks with the
 * plugin that offloaded them marked as running).  A pool thread runs the
 * job's code only (a plugin's, or libpq's PQcancel): it never touches
 * kiln's state, the loop or a request.
 */
#include <pthread.h>
#include <stdlib.h>
#include <ev.h>

#include "config.h"
#include "kiln.h"
#include "log.h"
#include "offload.h"
#include "plugin.h"
#include "router.h"
#include "worker.h"

struct job {
    struct job *next;
    kiln_job_fn run;
    kiln_done_fn done;
    void *arg;
    struct plugin *plugin;
    const struct route *route;
    int cancelled;
};

static struct worker *self;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct job *todo, **todo_tail = &todo;   /* FIFO */
static struct job *done_list;                   /* LIFO; reversed when run */
static int stopping;
static pthread_t *threads;
static size_t nthreads;
static ev_async finished;

static void *pool_main(void *unused)
{
    struct job *j;

    (void)unused;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!todo && !stopping)
            pthread_cond_wait(&wake, &lock);
        if (!todo)
            break;                  /* stopping, and nothing left to run */
        j = todo;
        todo = j->next;
        if (!todo)
            todo_tail = &todo;
        pthread_mutex_unlock(&lock);
        j->run(j->arg);
        pthread_mutex_lock(&lock);
        j->next = done_list;
        done_list = j;
        ev_async_send(self->loop, &finished);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* Runs the done callbacks of `list` (LIFO) in completion order. */
static void run_done(struct job *list)
{
    struct job *rev = NULL, *j;

    while (list) {
        j = list;
        list = j->next;
        j->next = rev;
        rev = j;
    }
    while ((j = rev)) {
        struct plugin *outer = plugin_current;

        rev = j->next;
        if (j->route)
            plugin_enter(self->slot, j->route, "JOB");
        else
            plugin_current = j->plugin;
        j->done(j->arg, j->cancelled);
        if (j->route)
            plugin_leave(self->slot, 0);
        plugin_current = outer;
        free(j);
    }
}

static void on_finished(struct ev_loop *loop, ev_async *w, int revents)
{
    struct job *list;

    (void)loop;
    (void)w;
    (void)revents;
    pthread_mutex_lock(&lock);
    list = done_list;
    done_list = NULL;
    pthread_mutex_unlock(&lock);
    run_done(list);
}

/* Starts the threads at the first job; 0, or -1. */
static int pool_start(void)
{
    size_t n = self->cfg->thread_pool;

    threads = calloc(n, sizeof(*threads));
    if (!threads)
        return -1;
    for (nthreads = 0; nthreads < n; nthreads++) {
        if (pthread_create(&threads[nthreads], NULL, pool_main, NULL) != 0) {
            log_error("thread pool: cannot start a thread");
            break;
        }
    }
    return nthreads > 0 ? 0 : -1;
}

/* Queues a job whose done runs as `plugin` (and `route`, when not NULL). */
static int offload_push(kiln_job_fn run, kiln_done_fn done, void *arg,
                        struct plugin *plugin, const struct route *route)
{
    struct job *j;

    if (!self || !run || !done || stopping || self->cfg->thread_pool == 0)
        return -1;
    if (!threads && pool_start() < 0)
        return -1;
    j = calloc(1, sizeof(*j));
    if (!j)
        return -1;
    j->run = run;
    j->done = done;
    j->arg = arg;
    j->plugin = plugin;
    j->route = route;
    pthread_mutex_lock(&lock);
    *todo_tail = j;
    todo_tail = &j->next;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    return 0;
}

KILN_EXPORT int kiln_offload(kiln_job_fn run, kiln_done_fn done, void *arg)
{
    return offload_push(run, done, arg, plugin_current, plugin_route);
}

int offload_internal(kiln_job_fn run, kiln_done_fn done, void *arg)
{
    return offload_push(run, done, arg, NULL, NULL);
}

void offload_init(struct worker *w)
{
    self = w;
    ev_async_init(&finished, on_finished);
    ev_async_start(w->loop, &finished);
    ev_unref(w->loop);              /* waiting for jobs keeps nothing alive */
}

void offload_shutdown(void)
{
    struct job *dropped, *j;
    size_t i;

    if (!self)
        return;
    pthread_mutex_lock(&lock);
    stopping = 1;
    dropped = todo;                 /* never started: cancelled */
    todo = NULL;
    todo_tail = &todo;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&lock);
    for (i = 0; i < nthreads; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    threads = NULL;
    nthreads = 0;
    for (j = dropped; j; j = j->next)
        j->cancelled = 1;
    run_done(done_list);            /* finished meanwhile, in order */
    done_list = NULL;
    while (dropped) {               /* then the dropped ones, FIFO */
        j = dropped;
        dropped = j->next;
        j->next = NULL;
        run_done(j);
    }
    ev_ref(self->loop);
    ev_async_stop(self->loop, &finished);
}
