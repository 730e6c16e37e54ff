/* test_metrics.c -- core/metrics.c and metrics_text.c: latency buckets, a worker's counts, the master's fold by route name, the sum of live and retired slots, and the text format (cumulative buckets, escaped labels). */
#include <stdlib.h>

#include "metrics.h"
#include "pool.h"
#include "unit.h"

/* The value of the sample line that starts with `prefix`, or -1. */
static long long sample(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);

    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
            return atoll(p + n + 1);
    return -1;
}

static void test_buckets(void)
{
    CHECK(metrics_bucket(0) == 0, "0 s: the first bucket");
    CHECK(metrics_bucket(0.001) == 0, "a bound is in its own bucket (le)");
    CHECK(metrics_bucket(0.0011) == 1, "just past it: the next");
    CHECK(metrics_bucket(10) == METRICS_BUCKETS - 1, "10 s: the last bound");
    CHECK(metrics_bucket(11) == METRICS_BUCKETS, "past every bound: +Inf");
    CHECK(metrics_bucket_bound(0) == 0.001 && metrics_bucket_bound(12) == 10,
          "bounds 0.001 .. 10 s");
}

static void test_count(struct metrics *m)
{
    struct metrics_slot *s = &m->slot[3];

    metrics_slot_start(m, 3);
    metrics_name_route(s, 1, "GET", "/hello/{name}");
    metrics_name_route(s, METRICS_ROUTES + 1, "GET", "/past");   /* ignored */
    CHECK(s->nrows == 2, "one route named: rows 0 and 1");
    CHECK_STR(s->name[1], "GET /hello/{name}", "its name is method and pattern");
    metrics_count(s, 1, 200, 10, 100, 0.0005);
    metrics_count(s, 1, 204, 10, 100, 0.02);
    metrics_count(s, 1, 503, 10, 100, 20);
    metrics_count(s, METRICS_ROW_NONE, 404, 5, 50, 0.0001);
    metrics_count(s, 1, 0, 7, 0, 0.1);              /* cut before any answer */
    metrics_count(s, 9999, 200, 0, 0, 0);           /* past the table: other */
    CHECK(s->row[1].status[1] == 2 && s->row[1].status[4] == 1, "by status class");
    CHECK(s->row[1].bucket[0] == 1 && s->row[1].bucket[METRICS_BUCKETS] == 1,
          "by latency bucket");
    CHECK(s->row[1].sum_us == 500 + 20000 + 20000000, "latencies added in microseconds");
    CHECK(s->c.bytes_in == 42 && s->c.bytes_out == 350, "bytes, a cut request's too");
    CHECK(s->row[METRICS_ROW_OTHER].status[1] == 1, "a row past the table counts as other");
}

static void test_fold(struct metrics *m)
{
    struct metrics_slot *s = &m->slot[7];
    struct metrics_view *v = malloc(sizeof *v);
    uint64_t seq = m->seq;

    metrics_fold(m, 3);
    CHECK(m->seq == seq + 2, "a fold runs inside the sequence count");
    CHECK(!m->slot[3].active && m->slot[3].row[1].status[1] == 0, "the slot is zeroed");
    CHECK(m->retired_n == 3, "three names retired (the route, none, other)");
    metrics_fold(m, 3);
    CHECK(m->seq == seq + 2, "folding an empty slot again does nothing");

    metrics_slot_start(m, 7);       /* the next generation: another row index */
    metrics_name_route(s, 1, "POST", "/form");
    metrics_name_route(s, 2, "GET", "/hello/{name}");
    metrics_count(s, 2, 200, 1, 1, 0.003);
    metrics_collect(m, v);
    CHECK(v->workers == 1, "one live worker");
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->name[i], "GET /hello/{name}") == 0)
            CHECK(v->row[i].status[1] == 3 && v->row[i].bucket[2] == 1,
                  "retired and live rows are merged by name");
    CHECK(v->c.bytes_in == 43, "retired bytes plus the live worker's");
    free(v);
}

static void test_render(void)
{
    struct metrics_view *v = calloc(1, sizeof *v);
    struct metrics_row r = { .status = { 0, 3, 0, 1, 0 }, .sum_us = 1500001 };
    struct buf out;
    char *text;

    r.bucket[0] = 2;
    r.bucket[5] = 1;
    r.bucket[METRICS_BUCKETS] = 1;
    metrics_view_add(v, "GET /a\"b\\c", &r);
    v->workers = 2;
    v->m.crashes = 4;
    buf_init(&out);
    CHECK(metrics_render(v, &out) == 0, "renders");
    buf_append(&out, "", 1);
    text = out.data;
    CHECK(sample(text, "kiln_http_requests_total{route=\"GET /a\\\"b\\\\c\",code=\"2xx\"}") == 3,
          "a route's 2xx, its label escaped");
    CHECK(sample(text, "kiln_http_requests_total{route=\"GET /a\\\"b\\\\c\",code=\"1xx\"}") == -1,
          "a class with no request is left out");
    CHECK(sample(text, "kiln_http_request_duration_seconds_bucket{route=\"GET /a\\\"b\\\\c\","
                       "le=\"0.001\"}") == 2, "the first bucket");
    CHECK(sample(text, "kiln_http_request_duration_seconds_bucket{route=\"GET /a\\\"b\\\\c\","
                       "le=\"0.05\"}") == 3, "buckets are cumulative");
    CHECK(sample(text, "kiln_http_request_duration_seconds_bucket{route=\"GET /a\\\"b\\\\c\","
                       "le=\"+Inf\"}") == 4, "+Inf holds every request");
    CHECK(sample(text, "kiln_http_request_duration_seconds_count{route=\"GET /a\\\"b\\\\c\"}")
          == 4, "_count is the requests");
    CHECK(strstr(text, "_sum{route=\"GET /a\\\"b\\\\c\"} 1.500001\n") != NULL,
          "_sum in seconds");
    CHECK(sample(text, "kiln_workers") == 2 && sample(text, "kiln_worker_crashes_total") == 4,
          "gauges and master counters");
    CHECK(strstr(text, "# TYPE kiln_http_request_duration_seconds histogram\n") != NULL &&
          strstr(text, "# TYPE kiln_pubsub_dropped_total counter\n") != NULL,
          "TYPE lines");
    buf_free(&out);
    free(v);
}

int main(void)
{
    struct metrics *m = metrics_new();

    CHECK(m != NULL, "maps");
    if (m == NULL)
        return unit_done();
    test_buckets();
    test_count(m);
    test_fold(m);
    test_render();
    metrics_free(m);
    return unit_done();
}
