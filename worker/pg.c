/*
 * pg.c -- the PostgreSQL client of a worker: its pool of connections to
 * [postgres] dsn, the queries plugins send on it (kiln_pg_query) and their
 * cancellation (kiln_pg_cancel).  A connection's state machine is
 * pg_conn.c's, what a callback reads pg_result.c's; the three include
 * libpq through pg_private.h only.
 *
 * The pool is pool_size connections, opened with libpq's non-blocking
 * calls at worker start.  A query goes to an idle connection, or waits its
 * turn in a FIFO queue (QUEUE_MAX at most); it is named by a handle
 * (core/handles.c), so that an id outlives it safely.  While no connection
 * can be had (the server is down, the dsn is wrong), queries fail at once
 * (08001) instead of waiting; one warning says the server is lost, one
 * info line that it is back.
 *
 * Callbacks run on the loop, never inside kiln_pg_query or kiln_pg_cancel:
 * the errors decided there (the queue full, no server) are answered from a
 * 0-second timer.  Every callback runs with the plugin and route that sent
 * the query marked as running, like the other callbacks (loop.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ev.h>

#include "config.h"
#include "db.h"
#include "handles.h"
#include "log.h"
#include "pg_private.h"
#include "plugin.h"
#include "router.h"
#include "worker.h"

#define QUEUE_MAX 10000             /* queries waiting for a connection, per worker */
#define STOPPING "the worker is stopping"

struct query_list {
    struct pg_query *head, *tail;
    size_t n;
};

static struct pg_pool pool;
static struct handles ids;          /* id -> struct pg_query */
static struct query_list queue;     /* waiting for a connection, FIFO */
static struct query_list failed;    /* errors to answer from the loop */
static ev_timer deliver;            /* ... which answers them */
static unsigned pass;               /* deliver's rounds */

/* ---- queries ------------------------------------------------------------------------- */

static void list_push(struct query_list *l, struct pg_query *q, int front)
{
    q->prev = front ? NULL : l->tail;
    q->next = front ? l->head : NULL;
    if (front && l->head)
        l->head->prev = q;
    else if (!front && l->tail)
        l->tail->next = q;
    if (!q->prev)
        l->head = q;
    if (!q->next)
        l->tail = q;
    l->n++;
}

static void list_remove(struct query_list *l, struct pg_query *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else
        l->head = q->next;
    if (q->next)
        q->next->prev = q->prev;
    else
        l->tail = q->prev;
    q->prev = q->next = NULL;
    l->n--;
}

static struct pg_query *list_shift(struct query_list *l)
{
    struct pg_query *q = l->head;

    if (q)
        list_remove(l, q);
    return q;
}

/* A query with copies of sql and params, in one block; NULL when out of memory. */
static struct pg_query *query_new(const char *sql, int nparams, const char *const *params)
{
    size_t size = sizeof(struct pg_query) + (size_t)nparams * sizeof(char *) + strlen(sql) + 1;
    struct pg_query *q;
    char *p;
    int i;

    for (i = 0; i < nparams; i++)
        size += params[i] ? strlen(params[i]) + 1 : 0;
    q = calloc(1, size);
    if (!q)
        return NULL;
    q->nparams = nparams;
    q->params = (const char **)(q + 1);
    p = (char *)(q->params + nparams);
    for (i = 0; i < nparams; i++) {
        q->params[i] = params[i] ? strcpy(p, params[i]) : NULL;
        p += params[i] ? strlen(params[i]) + 1 : 0;
    }
    q->sql = strcpy(p, sql);
    return q;
}

static void query_free(struct pg_query *q)
{
    free(q->error);
    free(q);
}

/* Runs q's callback with r, as the plugin (and route) that sent q, then
 * frees q.  Its id is dead from the callback's first line. */
void pg_query_answer(struct pg_pool *p, struct pg_query *q, const struct kiln_pg_result *r)
{
    struct plugin *outer = plugin_current;

    handle_free(&ids, q->id);
    if (q->route)
        plugin_enter(p->w->slot, q->route, "PG");
    else
        plugin_current = q->plugin;
    q->cb(r, q->arg);
    if (q->route)
        plugin_leave(p->w->slot, 0);
    plugin_current = outer;
    query_free(q);
}

static void answer_error(struct pg_query *q, const char *sqlstate, const char *msg)
{
    struct kiln_pg_result r;

    pg_result_error(&r, sqlstate, msg);
    pg_query_answer(&pool, q, &r);
}

void pg_query_fail(struct pg_pool *p, struct pg_query *q, const char *sqlstate,
                   const char *msg)
{
    q->where = Q_FAILED;
    memcpy(q->sqlstate, sqlstate, 6);
    q->error = strdup(msg);
    q->pass = pass;
    list_push(&failed, q, 0);
    if (!ev_is_active(&deliver)) {
        ev_timer_set(&deliver, 0., 0.);
        ev_timer_start(p->w->loop, &deliver);
    }
}

/* Answers the failed queries of this round (a callback whose new query
 * fails at once gets its answer at the next loop turn, not in this one). */
static void on_deliver(struct ev_loop *loop, ev_timer *t, int revents)
{
    unsigned round = pass++;
    struct pg_query *q;

    (void)loop;
    (void)t;
    (void)revents;
    while ((q = failed.head) && q->pass == round) {
        list_remove(&failed, q);
        answer_error(q, q->sqlstate, q->error ? q->error : "out of memory");
    }
}

/* ---- the pool ---------------------------------------------------------------------- */

void pg_stats(size_t *size, size_t *in_use, size_t *waiting)
{
    *size = *in_use = 0;
    *waiting = pool.w ? queue.n : 0;
    for (size_t i = 0; pool.w && i < pool.nconns; i++) {
        if (pool.conns[i].state != C_WAIT && pool.conns[i].state != C_CONNECTING)
            (*size)++;
        if (pool.conns[i].state == C_BUSY)
            (*in_use)++;
    }
}

static struct pg_conn *idle_conn(void)
{
    size_t i;

    for (i = 0; i < pool.nconns; i++) {
        if (pool.conns[i].state == C_IDLE)
            return &pool.conns[i];
    }
    return NULL;
}

static size_t conns_up(void)
{
    size_t i, n = 0;

    for (i = 0; i < pool.nconns; i++)
        n += pool.conns[i].state >= C_IDLE;
    return n;
}

/* Whether a query may get a connection soon: one is up or being opened, or
 * is about to be (closed with no failed attempt since it was up). */
static int reachable(void)
{
    size_t i;

    for (i = 0; i < pool.nconns; i++) {
        if (pool.conns[i].state != C_WAIT || pool.conns[i].delay == 0)
            return 1;
    }
    return 0;
}

/* Hands queued queries to idle connections, in order. */
void pg_pool_idle(struct pg_pool *p)
{
    struct pg_conn *c;

    while (queue.head && !p->stopping && (c = idle_conn()))
        pg_conn_send(c, list_shift(&queue));
}

void pg_pool_requeue(struct pg_pool *p, struct pg_query *q)
{
    (void)p;
    q->where = Q_QUEUED;
    list_push(&queue, q, 1);
}

/* With no connection to be had, the queued queries fail (08001). */
static void check_queue(struct pg_pool *p)
{
    struct pg_query *q;

    if (reachable())
        return;
    while ((q = list_shift(&queue)))
        pg_query_fail(p, q, "08001", p->why);
}

void pg_pool_up(struct pg_pool *p, struct pg_conn *c)
{
    (void)c;
    if (p->lost)
        log_info("postgres: connected to %s%s", p->where, p->ever_up ? " again" : "");
    p->lost = 0;
    p->ever_up = 1;
    pg_pool_idle(p);
}

void pg_pool_failed(struct pg_pool *p, const char *why)
{
    snprintf(p->why, sizeof(p->why), "%s", why);
    if (!p->lost && conns_up() == 0) {
        log_warn("postgres: cannot connect to %s: %s; retrying with back-off", p->where, why);
        p->lost = 1;
    } else {
        log_debug("postgres: connecting to %s failed: %s", p->where, why);
    }
    check_queue(p);
}

void pg_pool_lost(struct pg_pool *p, const char *why)
{
    snprintf(p->why, sizeof(p->why), "%s", why);
    if (!p->lost) {
        log_warn("postgres: lost the connection to %s: %s; reconnecting", p->where, why);
        p->lost = 1;
    } else {
        log_debug("postgres: lost a connection to %s: %s", p->where, why);
    }
    check_queue(p);
}

/* ---- the plugin API ---------------------------------------------------------------- */

KILN_EXPORT kiln_id kiln_pg_query(const char *sql, int nparams, const char *const *params,
                                  kiln_pg_fn cb, void *arg)
{
    struct pg_query *q;

    if (!pool.w || pool.stopping || !sql || !cb || nparams < 0 || nparams > 65535 ||
        (nparams > 0 && !params))
        return 0;
    q = query_new(sql, nparams, params);
    if (!q)
        return 0;
    q->id = handle_new(&ids, q);
    if (!q->id) {
        query_free(q);
        return 0;
    }
    q->cb = cb;
    q->arg = arg;
    q->plugin = plugin_current;
    q->route = plugin_route;
    if (queue.n >= QUEUE_MAX) {
        pg_query_fail(&pool, q, "53000", "too many queries waiting for a connection");
    } else if (!reachable()) {
        pg_query_fail(&pool, q, "08001", pool.why);
    } else {
        q->where = Q_QUEUED;
        list_push(&queue, q, 0);
        pg_pool_idle(&pool);
    }
    return q->id;
}

KILN_EXPORT int kiln_pg_cancel(kiln_id id)
{
    struct pg_query *q = pool.w ? handle_get(&ids, id) : NULL;

    if (!q)
        return -1;
    handle_free(&ids, id);
    if (q->where == Q_RUNNING)
        pg_conn_abandon(q->conn);
    else
        list_remove(q->where == Q_QUEUED ? &queue : &failed, q);
    query_free(q);
    return 0;
}

/* ---- start and stop ---------------------------------------------------------------- */

static const char *option(const PQconninfoOption *o, const char *key)
{
    for (; o && o->keyword; o++) {
        if (strcmp(o->keyword, key) == 0 && o->val && *o->val)
            return o->val;
    }
    return NULL;
}

/* pool.where from the dsn (never its password); 0, or -1 when the dsn does
 * not parse (pool.why says why). */
static int describe_dsn(const char *dsn)
{
    PQconninfoOption *o;
    const char *host, *port, *db;
    char *err = NULL;

    if (!strchr(dsn, '=') && !strstr(dsn, "://")) {      /* a database name */
        snprintf(pool.where, sizeof(pool.where), "database %s", dsn);
        return 0;
    }
    o = PQconninfoParse(dsn, &err);
    if (!o) {
        pg_clean_message(pool.why, sizeof(pool.why), err ? err : "out of memory");
        PQfreemem(err);
        return -1;
    }
    db = option(o, "dbname");
    host = option(o, "hostaddr") ? option(o, "hostaddr") : option(o, "host");
    port = option(o, "port");
    snprintf(pool.where, sizeof(pool.where), "database %s on %s port %s",
             db ? db : "(default)", host ? host : "(default)", port ? port : "(default)");
    PQconninfoFree(o);
    return 0;
}

void pg_init(struct worker *w)
{
    size_t i;

    if (!w->cfg->pg_dsn)
        return;
    pool.w = w;
    pool.dsn = w->cfg->pg_dsn;
    ev_timer_init(&deliver, on_deliver, 0., 0.);
    snprintf(pool.why, sizeof(pool.why), "not connected yet");
    if (describe_dsn(pool.dsn) < 0) {
        log_error("[postgres] dsn: %s: every query fails (08001)", pool.why);
        return;
    }
    pool.conns = calloc(w->cfg->pg_pool_size, sizeof(*pool.conns));
    if (!pool.conns) {
        snprintf(pool.why, sizeof(pool.why), "out of memory");
        log_error("postgres: no memory for a pool of %zu", w->cfg->pg_pool_size);
        return;
    }
    pool.nconns = w->cfg->pg_pool_size;
    for (i = 0; i < pool.nconns; i++)
        pg_conn_init(&pool.conns[i], &pool);
}

void pg_shutdown(void)
{
    struct pg_query *q;
    size_t i;

    if (!pool.w)
        return;
    pool.stopping = 1;              /* kiln_pg_query() returns 0 from now on */
    for (i = 0; i < pool.nconns; i++) {
        if ((q = pool.conns[i].q)) {
            pool.conns[i].q = NULL;
            answer_error(q, "57P01", STOPPING);
        }
    }
    while ((q = list_shift(&queue)))
        answer_error(q, "57P01", STOPPING);
    while ((q = list_shift(&failed)))
        answer_error(q, q->sqlstate, q->error ? q->error : "out of memory");
    ev_timer_stop(pool.w->loop, &deliver);
    for (i = 0; i < pool.nconns; i++)
        pg_conn_close(&pool.conns[i]);
    free(pool.conns);
    handles_clear(&ids);
    memset(&pool, 0, sizeof(pool));
}
