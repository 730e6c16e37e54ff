/* metrics.c -- the shared counters of [server] metrics: the mapping, a worker's route names, the master's fold of a gone worker, and their sum under the sequence count. */
#include <string.h>
#include <sys/mman.h>

#include "metrics.h"

struct metrics *metrics_new(void)
{
    void *p = mmap(NULL, sizeof(struct metrics), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    return p == MAP_FAILED ? NULL : p;
}

void metrics_free(struct metrics *m)
{
    if (m != NULL)
        munmap(m, sizeof *m);
}

double metrics_bucket_bound(unsigned i)
{
    static const double bound[METRICS_BUCKETS] = METRICS_BOUNDS;

    return i < METRICS_BUCKETS ? bound[i] : 0;
}

/* Copies src into a name field, truncated, NUL-terminated. */
static void set_name(char dst[METRICS_NAME], const char *a, const char *b)
{
    size_t na = strnlen(a, METRICS_NAME - 1), nb;

    memcpy(dst, a, na);
    nb = strnlen(b, METRICS_NAME - 1 - na);
    memcpy(dst + na, b, nb);
    dst[na + nb] = '\0';
}

void metrics_name_route(struct metrics_slot *s, unsigned row, const char *method,
                        const char *pattern)
{
    char what[METRICS_NAME];

    if (s == NULL || row == 0 || row > METRICS_ROUTES)
        return;
    if (s->nrows == 0) {
        set_name(s->name[METRICS_ROW_NONE], "none", "");
        set_name(s->name[METRICS_ROW_OTHER], "other", "");
    }
    set_name(what, method, " ");
    set_name(s->name[row], what, pattern);
    if (row + 1 > s->nrows)
        s->nrows = row + 1;
}

void metrics_name_self(struct metrics_slot *s, const char *path)
{
    if (s != NULL)
        set_name(s->name[METRICS_ROW_SELF], "GET ", path);
}

/* ---- rows ------------------------------------------------------------------ */

static void row_add(struct metrics_row *dst, const struct metrics_row *src)
{
    for (int i = 0; i < 5; i++)
        dst->status[i] += src->status[i];
    for (int i = 0; i <= METRICS_BUCKETS; i++)
        dst->bucket[i] += src->bucket[i];
    dst->sum_us += src->sum_us;
}

static int row_empty(const struct metrics_row *r)
{
    for (int i = 0; i < 5; i++)
        if (r->status[i] != 0)
            return 0;
    return 1;
}

static void counters_add(struct metrics_counters *dst, const struct metrics_counters *src)
{
    dst->bytes_in += src->bytes_in;
    dst->bytes_out += src->bytes_out;
    dst->pubsub_published += src->pubsub_published;
    dst->pubsub_delivered += src->pubsub_delivered;
    dst->pubsub_dropped += src->pubsub_dropped;
}

/* The name of slot s's row i ("none" and "other" even before the worker
 * named its routes). */
static const char *row_name(const struct metrics_slot *s, unsigned i)
{
    if (i == METRICS_ROW_NONE)
        return "none";
    if (i == METRICS_ROW_OTHER)
        return "other";
    return s->name[i];
}

/* ---- the master ------------------------------------------------------------ */

void metrics_slot_start(struct metrics *m, int i)
{
    if (m != NULL && i >= 0 && i < SCOREBOARD_SLOTS)
        m->slot[i].active = 1;
}

/* The retired row named `name`, added when new; the last row once full. */
static struct metrics_row *retired_row(struct metrics *m, const char *name)
{
    for (uint32_t i = 0; i < m->retired_n; i++)
        if (strncmp(m->retired_name[i], name, METRICS_NAME) == 0)
            return &m->retired[i];
    if (m->retired_n == METRICS_RETIRED_ROWS)
        return &m->retired[METRICS_RETIRED_ROWS];
    set_name(m->retired_name[m->retired_n], name, "");
    return &m->retired[m->retired_n++];
}

void metrics_fold(struct metrics *m, int i)
{
    struct metrics_slot *s;

    if (m == NULL || i < 0 || i >= SCOREBOARD_SLOTS || !m->slot[i].active)
        return;
    s = &m->slot[i];
    m->seq++;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (unsigned r = 0; r < METRICS_ROWS; r++)
        if (!row_empty(&s->row[r]))
            row_add(retired_row(m, row_name(s, r)), &s->row[r]);
    counters_add(&m->retired_c, &s->c);
    memset(s, 0, sizeof *s);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    m->seq++;
}

/* ---- reading --------------------------------------------------------------- */

void metrics_view_add(struct metrics_view *v, const char *name,
                      const struct metrics_row *src)
{
    size_t i;

    for (i = 0; i < v->n; i++)
        if (strncmp(v->name[i], name, METRICS_NAME) == 0)
            break;
    if (i == v->n) {
        if (v->n == sizeof v->row / sizeof v->row[0])
            return;
        memset(&v->row[i], 0, sizeof v->row[i]);
        set_name(v->name[i], name, "");
        v->n++;
    }
    row_add(&v->row[i], src);
}

static void gauges_add(struct metrics_gauges *dst, const struct metrics_gauges *src)
{
    dst->connections += src->connections;
    dst->websockets += src->websockets;
    dst->in_flight += src->in_flight;
    dst->pending += src->pending;
    dst->pg_size += src->pg_size;
    dst->pg_in_use += src->pg_in_use;
    dst->pg_waiting += src->pg_waiting;
    dst->redis_up += src->redis_up;
    dst->redis_configured += src->redis_configured;
    dst->pg_configured += src->pg_configured;
}

/* One pass over m into v, without the sequence count. */
static void collect_once(const struct metrics *m, struct metrics_view *v)
{
    v->n = 0;
    v->m = m->m;
    v->c = m->retired_c;
    memset(&v->g, 0, sizeof v->g);
    v->workers = 0;
    for (uint32_t i = 0; i < m->retired_n && i < METRICS_RETIRED_ROWS; i++)
        metrics_view_add(v, m->retired_name[i], &m->retired[i]);
    if (!row_empty(&m->retired[METRICS_RETIRED_ROWS]))
        metrics_view_add(v, "other", &m->retired[METRICS_RETIRED_ROWS]);
    for (int i = 0; i < SCOREBOARD_SLOTS; i++) {
        const struct metrics_slot *s = &m->slot[i];

        if (!s->active)
            continue;
        v->workers++;
        counters_add(&v->c, &s->c);
        gauges_add(&v->g, &s->g);
        for (unsigned r = 0; r < METRICS_ROWS; r++)
            if ((r < s->nrows || r >= METRICS_ROW_OTHER || r == METRICS_ROW_NONE) &&
                !row_empty(&s->row[r]))
                metrics_view_add(v, row_name(s, r), &s->row[r]);
    }
}

void metrics_collect(const struct metrics *m, struct metrics_view *v)
{
    uint64_t before, after;

    do {
        while ((before = m->seq) & 1)
            ;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        collect_once(m, v);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        after = m->seq;
    } while (before != after);
}
