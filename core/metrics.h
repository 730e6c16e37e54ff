/*
 * metrics.h -- the counters behind [server] metrics: memory shared between
 * the master and its workers, one slot per scoreboard slot.
 *
 * The master maps it before it forks (metrics_new), beside the scoreboard.
 * A worker writes only its own slot, with plain increments (one writer, no
 * lock; a reader may see a value a request old).  Its route table is fixed:
 * row 0 counts the requests no route took, rows 1..METRICS_ROUTES the
 * routes in registration order (struct route's index + 1), then one for
 * the routes past them and one for the metrics path itself.  When the master reaps a worker it folds the slot into
 * the retired totals, keyed by route name so that counters survive reloads,
 * inside a sequence count (seqlock): a reader that raced with a fold reads
 * again rather than count a slot twice.  metrics_collect() adds up the live
 * slots and the retired totals; metrics_render() (metrics_text.c) writes
 * them in Prometheus' text format.
 */
#ifndef KILN_METRICS_H
#define KILN_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "scoreboard.h"

#define METRICS_ROUTES 128
#define METRICS_ROWS (METRICS_ROUTES + 3)
#define METRICS_ROW_NONE 0                  /* no route took the request */
#define METRICS_ROW_OTHER (METRICS_ROUTES + 1)  /* routes past METRICS_ROUTES */
#define METRICS_ROW_SELF (METRICS_ROUTES + 2)   /* the metrics path itself */
#define METRICS_RETIRED_ROWS 512            /* route names kept across workers */
#define METRICS_NAME 128                    /* "GET /hello/{name}", truncated */
#define METRICS_BUCKETS 13                  /* bounds below, then +Inf */
#define METRICS_BOUNDS { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, \
                         1, 2.5, 5, 10 }      /* seconds */

/* A route's requests: by status class, and their latency. */
struct metrics_row {
    uint64_t status[5];                     /* 1xx .. 5xx */
    uint64_t bucket[METRICS_BUCKETS + 1];   /* per bucket, not cumulative;
                                               the last: above every bound */
    uint64_t sum_us;                        /* latencies added, microseconds */
};

/* A worker's counters that are not per route. */
struct metrics_counters {
    uint64_t bytes_in;                      /* request bytes read */
    uint64_t bytes_out;                     /* response bytes sent */
    uint64_t pubsub_published;              /* messages published */
    uint64_t pubsub_delivered;              /* messages handed to subscribers */
    uint64_t pubsub_dropped;                /* messages dropped (slow, full) */
};

/* A worker's gauges, as it last published them (metrics_publish). */
struct metrics_gauges {
    uint64_t connections;                   /* open HTTP connections */
    uint64_t websockets;                    /* open WebSocket connections */
    uint64_t in_flight;                     /* in a handler, pending or streaming */
    uint64_t pending;                       /* answered later (kiln_defer) */
    uint64_t pg_size;                       /* PostgreSQL pool: connections */
    uint64_t pg_in_use;                     /* ... running a query */
    uint64_t pg_waiting;                    /* queries waiting for one */
    uint64_t redis_up;                      /* 1: the Redis link is ready */
    uint64_t redis_configured;              /* 1: [redis] address is set */
    uint64_t pg_configured;                 /* 1: [postgres] dsn is set */
};

struct metrics_slot {
    volatile uint32_t active;               /* a worker owns it (master) */
    uint32_t nrows;                         /* rows named (worker, at start) */
    struct metrics_counters c;
    struct metrics_gauges g;
    struct metrics_row row[METRICS_ROWS];
    char name[METRICS_ROWS][METRICS_NAME];
};

/* Master counters. */
struct metrics_master {
    uint64_t restarts;                      /* workers started in place of one gone */
    uint64_t crashes;                       /* workers that died unasked */
    uint64_t reloads;                       /* reloads that took over */
    uint64_t reload_failures;               /* reloads abandoned */
};

struct metrics {
    volatile uint64_t seq;                  /* odd while the master folds */
    struct metrics_master m;
    struct metrics_counters retired_c;
    uint32_t retired_n;                     /* rows of retired[] in use */
    struct metrics_row retired[METRICS_RETIRED_ROWS + 1];   /* the last: past them */
    char retired_name[METRICS_RETIRED_ROWS][METRICS_NAME];
    struct metrics_slot slot[SCOREBOARD_SLOTS];
};

/* Maps zeroed metrics, or NULL. */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* The upper bound of latency bucket i (i < METRICS_BUCKETS), seconds. */
double metrics_bucket_bound(unsigned i);

/* ---- the master ----------------------------------------------------------------- */

/* Slot i is taken by a new worker (it was folded, so it is zero). */
void metrics_slot_start(struct metrics *m, int i);

/* Slot i's worker is gone: its counters join the retired totals, the slot
 * is zeroed; inside the sequence count. */
void metrics_fold(struct metrics *m, int i);

/* ---- a worker's own slot --------------------------------------------------------- */

/* Names row `row` (1..METRICS_ROUTES) "METHOD PATTERN"; rows past the
 * table are counted as "other".  Call once per route, before serving. */
void metrics_name_route(struct metrics_slot *s, unsigned row, const char *method,
                        const char *pattern);

/* Names the metrics path's own row "GET PATH". */
void metrics_name_self(struct metrics_slot *s, const char *path);

/* The bucket a latency of `seconds` falls in. */
static inline unsigned metrics_bucket(double seconds)
{
    static const double bound[METRICS_BUCKETS] = METRICS_BOUNDS;
    unsigned i = 0;

    while (i < METRICS_BUCKETS && seconds > bound[i])
        i++;
    return i;
}

/* One answer sent for route row `row`: its status, bytes and latency (a
 * request that got no answer, status 0, counts only its bytes).  Inline:
 * it runs after every request. */
static inline void metrics_count(struct metrics_slot *s, unsigned row, int status,
                                 uint64_t in, uint64_t out, double seconds)
{
    struct metrics_row *r = &s->row[row < METRICS_ROWS ? row : METRICS_ROW_OTHER];
    int cls = status / 100 - 1;

    if (cls >= 0) {
        r->status[cls > 4 ? 4 : cls]++;
        r->bucket[metrics_bucket(seconds)]++;
        r->sum_us += (uint64_t)(seconds * 1e6);
    }
    s->c.bytes_in += in;
    s->c.bytes_out += out;
}

/* Publish/subscribe's counters (NULL-safe): one call where each happens,
 * in a worker on its own slot (struct worker's mslot, NULL when metrics
 * are off); the master's own fan-out adds with metrics_master_pubsub(). */
static inline void metrics_pubsub_published(struct metrics_slot *s, uint64_t n)
{
    if (s != NULL)
        s->c.pubsub_published += n;
}

static inline void metrics_pubsub_delivered(struct metrics_slot *s, uint64_t n)
{
    if (s != NULL)
        s->c.pubsub_delivered += n;
}

static inline void metrics_pubsub_dropped(struct metrics_slot *s, uint64_t n)
{
    if (s != NULL)
        s->c.pubsub_dropped += n;
}

static inline void metrics_master_pubsub(struct metrics *m, uint64_t published,
                                         uint64_t delivered, uint64_t dropped)
{
    if (m == NULL)
        return;
    m->retired_c.pubsub_published += published;
    m->retired_c.pubsub_delivered += delivered;
    m->retired_c.pubsub_dropped += dropped;
}

/* ---- reading them --------------------------------------------------------------- */

/* Everything added up: the master's counters, the workers' and retired
 * rows merged by name, the gauges summed over the live workers. */
struct metrics_view {
    struct metrics_master m;
    struct metrics_counters c;
    struct metrics_gauges g;
    uint64_t workers;                       /* live workers */
    size_t n;                               /* rows in use */
    struct metrics_row row[METRICS_RETIRED_ROWS + METRICS_ROWS];
    char name[METRICS_RETIRED_ROWS + METRICS_ROWS][METRICS_NAME];
};

/* Fills v (about 140 KiB: the caller's heap) from m, reading again while a
 * fold runs. */
void metrics_collect(const struct metrics *m, struct metrics_view *v);

/* Adds row src named `name` to v (merged with a row of that name).  The
 * collection's step, also what the unit test builds views with. */
void metrics_view_add(struct metrics_view *v, const char *name,
                      const struct metrics_row *src);

struct buf;

/* Appends v in Prometheus' text format (version 0.0.4) to out.  0, or -1
 * on OOM. */
int metrics_render(const struct metrics_view *v, struct buf *out);

#endif
