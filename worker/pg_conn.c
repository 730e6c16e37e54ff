/*
 * pg_conn.c -- one connection of a worker's PostgreSQL pool, as a state
 * machine on the loop (enum pg_conn_state in pg_private.h): connecting with
 * PQconnectPoll(), a query's prepare and execute steps, its results, its
 * cancellation, and closing and opening again.  Each connection keeps the
 * statements it prepared, by SQL text.  It tells its pool (pg.c) what
 * happened through the pg_pool_* calls, and never runs a callback but
 * through pg_query_answer(), once the query's last result is in.
 *
 * A connection is handed the next query only once libpq gave the last
 * result of the previous one and the session is out of any transaction.  A
 * query cancelled while it runs is cancelled on the server by a PQcancel on
 * the thread pool, and the connection waits for that too, so that a late
 * cancel request cannot hit the next query.  A connection that broke is
 * opened again at once (with back-off if it lasted less than a second),
 * then with back-off while attempts fail; one left in a transaction (or a
 * COPY) is closed and opened again at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "offload.h"
#include "pg_private.h"
#include "plugin.h"
#include "worker.h"

#define STMT_MAX 256                /* prepared statements per connection */
#define BACKOFF_MIN 0.1             /* s before the attempt after a failed one... */
#define BACKOFF_MAX 5.0             /* ...doubling up to this */
#define SHORT_LIFE 1.0              /* s: a connection lost sooner backs off */

enum { STEP_PREPARE, STEP_EXEC };

/* A statement prepared on one connection, named "kiln_NUM" there. */
struct pg_stmt {
    struct pg_stmt *next;
    unsigned hash, num;
    char sql[];
};

/* A cancel request on the thread pool. */
struct cancel_job {
    PGcancel *cancel;
    struct pg_conn *conn;
    unsigned epoch;                 /* conn's when sent: stale once it closed */
    int ok;
    char err[256];
};

static unsigned rng;                /* the back-off's jitter */

static void conn_release(struct pg_conn *c);

static struct ev_loop *loop_of(const struct pg_conn *c)
{
    return c->pool->w->loop;
}

static const char *plugin_label(const struct plugin *p)
{
    return p ? plugin_name(p) : "-";
}

/* ---- prepared statements ---------------------------------------------------------- */

static unsigned sql_hash(const char *s)
{
    unsigned h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static struct pg_stmt *stmt_find(const struct pg_conn *c, const char *sql)
{
    unsigned h = sql_hash(sql);
    struct pg_stmt *s;

    for (s = c->stmts[h % PG_STMT_BUCKETS]; s; s = s->next) {
        if (s->hash == h && strcmp(s->sql, sql) == 0)
            return s;
    }
    return NULL;
}

/* A new entry for sql (to prepare now), or NULL (STMT_MAX reached, no memory). */
static struct pg_stmt *stmt_add(struct pg_conn *c, const char *sql)
{
    size_t len = strlen(sql);
    struct pg_stmt *s;

    if (c->nstmts >= STMT_MAX || !(s = malloc(sizeof(*s) + len + 1)))
        return NULL;
    s->hash = sql_hash(sql);
    s->num = ++c->next_num;
    memcpy(s->sql, sql, len + 1);
    s->next = c->stmts[s->hash % PG_STMT_BUCKETS];
    c->stmts[s->hash % PG_STMT_BUCKETS] = s;
    c->nstmts++;
    return s;
}

static void stmt_remove(struct pg_conn *c, struct pg_stmt *s)
{
    struct pg_stmt **p = &c->stmts[s->hash % PG_STMT_BUCKETS];

    while (*p && *p != s)
        p = &(*p)->next;
    if (*p) {
        *p = s->next;
        c->nstmts--;
        free(s);
    }
}

static void stmts_clear(struct pg_conn *c)
{
    struct pg_stmt *s;
    size_t i;

    for (i = 0; i < PG_STMT_BUCKETS; i++) {
        while ((s = c->stmts[i])) {
            c->stmts[i] = s->next;
            free(s);
        }
    }
    c->nstmts = 0;
}

static void stmt_name(const struct pg_stmt *s, char *buf, size_t size)
{
    snprintf(buf, size, "kiln_%u", s->num);
}

/* ---- opening and closing ------------------------------------------------------------ */

/* Watches c's socket (libpq may change it while connecting) for `events`. */
static void conn_watch(struct pg_conn *c, int events)
{
    int fd = PQsocket(c->pg);

    if (ev_is_active(&c->io) && c->io.fd == fd && (c->io.events & (EV_READ | EV_WRITE)) == events)
        return;
    ev_io_stop(loop_of(c), &c->io);
    ev_io_set(&c->io, fd, events);
    if (fd >= 0)
        ev_io_start(loop_of(c), &c->io);
}

void pg_conn_close(struct pg_conn *c)
{
    ev_io_stop(loop_of(c), &c->io);
    ev_timer_stop(loop_of(c), &c->timer);
    PQclear(c->res);
    c->res = NULL;
    PQfinish(c->pg);
    c->pg = NULL;
    stmts_clear(c);
    c->stmt = NULL;
    c->epoch++;
    c->cancelling = 0;
    c->flushing = 0;
    c->fatal[0] = '\0';
}

/* c waits `after` seconds, then opens its connection again. */
static void conn_wait(struct pg_conn *c, double after)
{
    c->state = C_WAIT;
    ev_timer_stop(loop_of(c), &c->timer);
    ev_timer_set(&c->timer, after, 0.);
    ev_timer_start(loop_of(c), &c->timer);
}

/* The back-off: 0.1 s after the first failed attempt, doubling up to 5 s,
 * each wait 80% to 120% of that. */
static double next_delay(struct pg_conn *c)
{
    c->delay = c->delay == 0 ? BACKOFF_MIN : c->delay * 2;
    if (c->delay > BACKOFF_MAX)
        c->delay = BACKOFF_MAX;
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return c->delay * (0.8 + 0.4 * (rng % 1000) / 1000.0);
}

/* An attempt to connect failed (msg: libpq's): another one later. */
static void conn_failed(struct pg_conn *c, const char *msg)
{
    char why[256];

    pg_clean_message(why, sizeof(why), msg);
    pg_conn_close(c);
    conn_wait(c, next_delay(c));
    pg_pool_failed(c->pool, why);
}

/* c was up and broke (msg: libpq's): its query, if any, gets an error
 * (08006), and c connects again at once, or with back-off when it did not
 * last (a server that takes connections and drops them). */
static void conn_lost(struct pg_conn *c, const char *msg)
{
    char why[256];
    struct pg_query *q = c->q;

    if (c->fatal[0])
        msg = c->fatal;
    pg_clean_message(why, sizeof(why), msg && *msg ? msg : "connection lost");
    c->q = NULL;
    if (q)
        pg_query_fail(c->pool, q, "08006", why);
    pg_conn_close(c);
    if (ev_now(loop_of(c)) - c->up_since < SHORT_LIFE) {
        conn_wait(c, next_delay(c));
    } else {
        c->delay = 0;
        conn_wait(c, 0);
    }
    pg_pool_lost(c->pool, why);
}

/* Closes a sound connection that cannot be reused as it is, and opens
 * another at once. */
static void conn_reset(struct pg_conn *c)
{
    pg_conn_close(c);
    c->delay = 0;
    conn_wait(c, 0);
}

static void conn_up(struct pg_conn *c)
{
    if (PQsetnonblocking(c->pg, 1) != 0) {
        conn_failed(c, PQerrorMessage(c->pg));
        return;
    }
    ev_timer_stop(loop_of(c), &c->timer);
    c->state = C_IDLE;
    c->up_since = ev_now(loop_of(c));
    conn_watch(c, EV_READ);
    log_debug("postgres: connected to %s (backend %d)", c->pool->where, PQbackendPID(c->pg));
    pg_pool_up(c->pool, c);
}

/* One step of PQconnectPoll(), when the socket is ready. */
static void conn_poll(struct pg_conn *c)
{
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_READING:
        conn_watch(c, EV_READ);
        break;
    case PGRES_POLLING_WRITING:
    case PGRES_POLLING_ACTIVE:
        conn_watch(c, EV_WRITE);
        break;
    case PGRES_POLLING_OK:
        conn_up(c);
        break;
    default:
        conn_failed(c, PQerrorMessage(c->pg));
        break;
    }
}

/* libpq's notices (the server's NOTICE, WARNING) go to kiln's log; a
 * FATAL one, which a server closing an idle session sends, is kept as the
 * reason it closed. */
static void on_notice(void *arg, const char *message)
{
    struct pg_conn *c = arg;
    char buf[512];

    pg_clean_message(buf, sizeof(buf), message);
    log_debug("postgres: %s", buf);
    if (strncmp(buf, "FATAL: ", 7) == 0)
        pg_clean_message(c->fatal, sizeof(c->fatal), buf + 7);
}

static void conn_start(struct pg_conn *c)
{
    static const char *const keys[] = {"dbname", "fallback_application_name", NULL};
    const char *values[] = {c->pool->dsn, "kiln", NULL};

    c->pg = PQconnectStartParams(keys, values, 1);
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
        conn_failed(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
        return;
    }
    PQsetNoticeProcessor(c->pg, on_notice, c);
    c->state = C_CONNECTING;
    conn_watch(c, EV_WRITE);        /* libpq: poll as if writing, first */
    ev_timer_set(&c->timer, c->pool->w->cfg->pg_connect_timeout, 0.);
    ev_timer_start(loop_of(c), &c->timer);
}

static void on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct pg_conn *c = t->data;
    char msg[80];

    (void)loop;
    (void)revents;
    if (c->state == C_WAIT) {
        conn_start(c);
    } else if (c->state == C_CONNECTING) {
        snprintf(msg, sizeof(msg), "timeout expired after %g s (connect_timeout)",
                 c->pool->w->cfg->pg_connect_timeout);
        conn_failed(c, msg);
    }
}

/* ---- sending a query ------------------------------------------------------------------ */

/* Sends what libpq holds; 0, or -1 when the connection broke (c is closed). */
static int conn_flush(struct pg_conn *c)
{
    int r = PQflush(c->pg);

    if (r < 0) {
        conn_lost(c, PQerrorMessage(c->pg));
        return -1;
    }
    c->flushing = r == 1;
    conn_watch(c, r == 1 ? EV_READ | EV_WRITE : EV_READ);
    return 0;
}

/* Sends c's query as statement s (prepared), or unnamed when s is NULL. */
static int send_exec(struct pg_conn *c, struct pg_stmt *s)
{
    struct pg_query *q = c->q;
    char name[32];

    c->step = STEP_EXEC;
    c->stmt = s;
    if (!s)
        return PQsendQueryParams(c->pg, q->sql, q->nparams, NULL, q->params, NULL, NULL, 0);
    stmt_name(s, name, sizeof(name));
    return PQsendQueryPrepared(c->pg, name, q->nparams, q->params, NULL, NULL, 0);
}

/* Sends q on idle c: its prepared statement, or a prepare first, or (the
 * cache full) an unnamed statement.  If libpq refuses to send, c broke
 * before q went out: q goes back to the head of the queue. */
void pg_conn_send(struct pg_conn *c, struct pg_query *q)
{
    struct pg_stmt *s = stmt_find(c, q->sql);
    char name[32];
    int ok;

    c->q = q;
    c->plugin = q->plugin;
    c->state = C_BUSY;
    q->where = Q_RUNNING;
    q->conn = c;
    if (s || !(s = stmt_add(c, q->sql))) {
        ok = send_exec(c, s);
    } else {
        c->step = STEP_PREPARE;
        c->stmt = s;
        stmt_name(s, name, sizeof(name));
        ok = PQsendPrepare(c->pg, name, q->sql, q->nparams, NULL);
    }
    if (!ok) {
        c->q = NULL;
        pg_pool_requeue(c->pool, q);
        conn_lost(c, PQerrorMessage(c->pg));
        return;
    }
    conn_flush(c);
}

/* ---- cancelling --------------------------------------------------------------------- */

/* On a pool thread: PQcancel blocks, and is thread-safe. */
static void cancel_run(void *arg)
{
    struct cancel_job *j = arg;

    j->ok = PQcancel(j->cancel, j->err, sizeof(j->err));
}

static void cancel_done(void *arg, int cancelled)
{
    struct cancel_job *j = arg;
    struct pg_conn *c = j->conn;

    if (!cancelled && !j->ok)
        log_warn("postgres: a cancel request failed: %s", j->err);
    PQfreeCancel(j->cancel);
    if (c->epoch == j->epoch && c->cancelling) {
        c->cancelling = 0;
        if (c->state == C_CANCELWAIT)
            conn_release(c);
    }
    free(j);
}

/*
 * c's query was cancelled while it runs: its result will be dropped, and
 * the server is asked to stop it (on the thread pool).  Without a pool the
 * connection is closed instead (the server ends the query when it
 * notices), and another one opened.
 */
void pg_conn_abandon(struct pg_conn *c)
{
    struct cancel_job *j;

    c->q = NULL;
    if (c->pool->stopping || c->cancelling)
        return;
    j = calloc(1, sizeof(*j));
    if (j && (j->cancel = PQgetCancel(c->pg))) {
        j->conn = c;
        j->epoch = c->epoch;
        if (offload_internal(cancel_run, cancel_done, j) == 0) {
            c->cancelling = 1;
            return;
        }
        PQfreeCancel(j->cancel);
    }
    free(j);
    log_debug("postgres: no thread pool for a cancel request: closing its connection");
    conn_reset(c);
}

/* ---- results ------------------------------------------------------------------------ */

/* The query's last result is in: c goes back to the pool if its session is
 * out of any transaction (and its cancel request is done). */
static void conn_release(struct pg_conn *c)
{
    if (c->cancelling) {
        c->state = C_CANCELWAIT;
        return;
    }
    switch (PQtransactionStatus(c->pg)) {
    case PQTRANS_IDLE:
        c->state = C_IDLE;
        pg_pool_idle(c->pool);
        break;
    case PQTRANS_INTRANS:
    case PQTRANS_INERROR:
        log_warn("postgres: a query of plugin %s left its connection inside a transaction: "
                 "closing that connection (a query is one statement)",
                 plugin_label(c->plugin));
        conn_reset(c);
        break;
    default:
        conn_lost(c, PQerrorMessage(c->pg));
        break;
    }
}

/* The query's last result is in (res, or NULL when libpq gave none): c is
 * released first, then the callback runs, unless the query was cancelled. */
static void conn_finish(struct pg_conn *c, PGresult *res)
{
    struct pg_query *q = c->q;
    struct kiln_pg_result r;
    const char *err = PQerrorMessage(c->pg);

    c->q = NULL;
    if (q && res)
        pg_result_from(&r, res, PQstatus(c->pg) == CONNECTION_BAD);
    else if (q)
        pg_result_error(&r, "08006", *err ? err : "the query got no result");
    if (q && res && c->stmt && (strcmp(r.sqlstate, "26000") == 0 ||
                                strcmp(r.sqlstate, "0A000") == 0))
        stmt_remove(c, c->stmt);    /* gone or stale on the server: prepare anew */
    c->stmt = NULL;
    conn_release(c);
    if (q)
        pg_query_answer(c->pool, q, &r);
    PQclear(res);
}

/* libpq gave NULL: the step's results are all in. */
static void conn_step_done(struct pg_conn *c)
{
    PGresult *res = c->res;

    c->res = NULL;
    if (c->step == STEP_PREPARE) {
        if (res && PQresultStatus(res) == PGRES_COMMAND_OK) {
            PQclear(res);
            res = NULL;
            if (c->q && !send_exec(c, c->stmt)) {
                conn_lost(c, PQerrorMessage(c->pg));
                return;
            }
            if (c->q) {
                conn_flush(c);
                return;
            }
        } else {
            stmt_remove(c, c->stmt);    /* failed: not cached */
            c->stmt = NULL;
        }
    }
    conn_finish(c, res);
}

/* A COPY would leave the session waiting for data: refused, and the
 * connection opened again. */
static void conn_refuse_copy(struct pg_conn *c)
{
    struct pg_query *q = c->q;

    c->q = NULL;
    log_warn("postgres: a query of plugin %s started a COPY: closing its connection",
             plugin_label(c->plugin));
    if (q)
        pg_query_fail(c->pool, q, "0A000", "COPY is not supported by kiln_pg_query");
    conn_reset(c);
}

static void drop_notifies(PGconn *pgc)
{
    PGnotify *n;

    while ((n = PQnotifies(pgc)))
        PQfreemem(n);
}

/* Input on a busy connection: results, up to libpq's NULL. */
static void conn_read(struct pg_conn *c)
{
    PGresult *r;

    if (!PQconsumeInput(c->pg) && PQisBusy(c->pg)) {
        conn_lost(c, PQerrorMessage(c->pg));
        return;
    }
    drop_notifies(c->pg);
    while (!PQisBusy(c->pg)) {
        r = PQgetResult(c->pg);
        if (!r) {
            conn_step_done(c);
            return;
        }
        switch (PQresultStatus(r)) {
        case PGRES_COPY_IN:
        case PGRES_COPY_OUT:
        case PGRES_COPY_BOTH:
            PQclear(r);
            conn_refuse_copy(c);
            return;
        default:
            break;
        }
        if (c->res)
            PQclear(r);             /* one statement, one result: the first */
        else
            c->res = r;
    }
}

/* Input on a connection without a query: the server closing it, a notice. */
static void conn_idle_input(struct pg_conn *c)
{
    if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD) {
        conn_lost(c, PQerrorMessage(c->pg));
        return;
    }
    drop_notifies(c->pg);
}

static void on_io(struct ev_loop *loop, ev_io *io, int revents)
{
    struct pg_conn *c = io->data;

    (void)loop;
    switch (c->state) {
    case C_CONNECTING:
        conn_poll(c);
        break;
    case C_BUSY:
        if (c->flushing && conn_flush(c) < 0)
            return;
        if (revents & EV_READ)
            conn_read(c);
        break;
    case C_IDLE:
    case C_CANCELWAIT:
        conn_idle_input(c);
        break;
    case C_WAIT:
        break;
    }
}

void pg_conn_init(struct pg_conn *c, struct pg_pool *pool)
{
    if (!rng)
        rng = (unsigned)getpid() * 2654435761u | 1;
    c->pool = pool;
    ev_init(&c->io, on_io);
    ev_init(&c->timer, on_timer);
    c->io.data = c->timer.data = c;
    conn_start(c);
}
