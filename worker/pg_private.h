/*
 * pg_private.h -- what the files of the PostgreSQL client share: pg.c (the
 * pool and its queries, the plugin API), pg_conn.c (one connection's state
 * machine) and pg_result.c (what a query's callback reads).  This is the
 * one header that includes libpq-fe.h, and only worker/pg*.c include it:
 * the rest of kiln never sees libpq.
 */
#ifndef KILN_PG_PRIVATE_H
#define KILN_PG_PRIVATE_H

#include <stddef.h>
#include <ev.h>
#include <libpq-fe.h>

#include "kiln.h"

struct plugin;
struct route;
struct worker;

/* ---- queries and connections (pg.c, pg_conn.c) ------------------------------- */

enum pg_where { Q_QUEUED, Q_RUNNING, Q_FAILED };

/* A query, from kiln_pg_query() until its callback has returned (or it was
 * cancelled); pg.c's.  Its parameters and text follow it in one block. */
struct pg_query {
    kiln_id id;
    enum pg_where where;
    struct pg_query *prev, *next;   /* in the queue or the failed list */
    struct pg_conn *conn;           /* Q_RUNNING: where it runs */
    kiln_pg_fn cb;
    void *arg;
    struct plugin *plugin;          /* who sent it: its callback runs as them */
    const struct route *route;
    unsigned pass;                  /* Q_FAILED: the delivery round it joined */
    char sqlstate[6];               /* Q_FAILED: its error */
    char *error;
    int nparams;
    const char **params;
    char *sql;
};

enum pg_conn_state {
    C_WAIT,                         /* closed: its timer starts the next attempt */
    C_CONNECTING,                   /* PQconnectPoll() steps; its timer: connect_timeout */
    C_IDLE,                         /* ready for a query */
    C_BUSY,                         /* a query runs (or ran, cancelled: q NULL) */
    C_CANCELWAIT                    /* done, but its cancel request is still out */
};

#define PG_STMT_BUCKETS 64

/* One connection of the pool; pg_conn.c's, but for `state`, `q` (which
 * pg.c reads) and `delay` (0: no failed attempt since it was last up). */
struct pg_conn {
    struct pg_pool *pool;
    PGconn *pg;
    enum pg_conn_state state;
    ev_io io;
    ev_timer timer;                 /* connect_timeout, or the wait to reconnect */
    double delay;                   /* back-off: 0 until an attempt fails */
    double up_since;                /* when it last connected (ev_now) */
    struct pg_query *q;             /* C_BUSY: the query, NULL once cancelled */
    struct plugin *plugin;          /* whose query it runs or ran last */
    int step;                       /* preparing, or running */
    struct pg_stmt *stmt;           /* being prepared or run, or NULL (unnamed) */
    PGresult *res;                  /* the step's first result, until libpq's NULL */
    struct pg_stmt *stmts[PG_STMT_BUCKETS];     /* the statements prepared */
    unsigned nstmts, next_num;
    unsigned epoch;                 /* how many times it was closed */
    char fatal[160];                /* the server's FATAL notice, why it closes */
    unsigned cancelling : 1;        /* a cancel request is on the thread pool */
    unsigned flushing : 1;          /* output still to send */
};

/* A worker's pool: pg.c's; pg_conn.c reads w, dsn and where. */
struct pg_pool {
    struct worker *w;               /* NULL: no pool (not a worker, no dsn, stopped) */
    const char *dsn;
    char where[160];                /* "database D on H port P", for the logs */
    char why[256];                  /* no connection: the dsn's or last attempt's error */
    struct pg_conn *conns;
    size_t nconns;
    int lost;                       /* the server's loss was logged, not its return */
    int ever_up;
    int stopping;
};

/* pg_conn.c, for pg.c: a connection starts connecting at init; is sent a
 * query when idle; abandons its query when that is cancelled (the
 * callback will not run); closes at the worker's stop. */
void pg_conn_init(struct pg_conn *c, struct pg_pool *pool);
void pg_conn_send(struct pg_conn *c, struct pg_query *q);
void pg_conn_abandon(struct pg_conn *c);
void pg_conn_close(struct pg_conn *c);

/* pg.c, for pg_conn.c: what a connection tells its pool.  up: connected
 * (logs the server's return); idle: ready for the next query; failed: an
 * attempt to connect failed; lost: a connection that was up broke (each
 * with libpq's message); requeue: q was not sent after all (first in line
 * again); fail: q gets an error from the loop; answer: runs q's callback
 * with r, then frees q. */
void pg_pool_up(struct pg_pool *p, struct pg_conn *c);
void pg_pool_idle(struct pg_pool *p);
void pg_pool_failed(struct pg_pool *p, const char *why);
void pg_pool_lost(struct pg_pool *p, const char *why);
void pg_pool_requeue(struct pg_pool *p, struct pg_query *q);
void pg_query_fail(struct pg_pool *p, struct pg_query *q, const char *sqlstate,
                   const char *msg);
void pg_query_answer(struct pg_pool *p, struct pg_query *q, const struct kiln_pg_result *r);

/* ---- results (pg_result.c) ----------------------------------------------------- */

/*
 * A query's result as its callback sees it: libpq's result, or an error of
 * kiln's own (the connection lost, the queue full, the worker stopping).
 * It lives on the stack of the function that runs the callback; the
 * PGresult, when there is one, is the caller's to PQclear afterwards.
 */
struct kiln_pg_result {
    PGresult *pg;               /* NULL for kiln's own errors */
    const char *error;          /* NULL when the query succeeded */
    char sqlstate[6];           /* "00000" when it succeeded */
    char text[256];             /* a message kiln made or cleaned up */
};

/* r describes `res` (not NULL; r->pg = res); `conn_bad`: the connection
 * broke, so that an error libpq made itself gets SQLSTATE 08006. */
void pg_result_from(struct kiln_pg_result *r, PGresult *res, int conn_bad);

/* r is an error of kiln's own: `sqlstate` and `msg` (copied). */
void pg_result_error(struct kiln_pg_result *r, const char *sqlstate, const char *msg);

/* Copies libpq's message `msg` into dst (size > 0) on one line: each run of
 * white space becomes one space, and none is left at either end. */
void pg_clean_message(char *dst, size_t size, const char *msg);

/* PostgreSQL's text output, parsed strictly (the whole string, no white
 * space, no overflow): 0 with *out set, or -1. */
int pg_parse_int(const char *s, long long *out);
int pg_parse_double(const char *s, double *out);
int pg_parse_bool(const char *s, int *out);

#endif
