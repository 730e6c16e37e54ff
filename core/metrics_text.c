/* metrics_text.c -- a metrics_view written in Prometheus' text exposition format 0.0.4 (HELP, TYPE, samples; label values escaped). */
#include <inttypes.h>
#include <stdio.h>

#include "metrics.h"
#include "pool.h"

/* Appends `s` as a label value: backslash, double quote and newline escaped. */
static int label(struct buf *out, const char *s)
{
    for (; *s; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;

        if (esc ? buf_append_str(out, esc) : buf_append(out, s, 1))
            return -1;
    }
    return 0;
}

static int head(struct buf *out, const char *name, const char *type, const char *help)
{
    return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A metric of one sample without labels. */
static int single(struct buf *out, const char *name, const char *type, const char *help,
                  uint64_t value)
{
    if (head(out, name, type, help) < 0)
        return -1;
    return buf_printf(out, "%s %" PRIu64 "\n", name, value);
}

static uint64_t row_count(const struct metrics_row *r)
{
    return r->status[0] + r->status[1] + r->status[2] + r->status[3] + r->status[4];
}

/* kiln_http_requests_total{route,code}: the classes a route answered. */
static int requests(const struct metrics_view *v, struct buf *out)
{
    static const char *const cls[5] = { "1xx", "2xx", "3xx", "4xx", "5xx" };

    if (head(out, "kiln_http_requests_total", "counter",
             "Requests answered, by route and status class.") < 0)
        return -1;
    for (size_t i = 0; i < v->n; i++)
        for (int k = 0; k < 5; k++) {
            if (v->row[i].status[k] == 0)
                continue;
            if (buf_append_str(out, "kiln_http_requests_total{route=\"") < 0 ||
                label(out, v->name[i]) < 0 ||
                buf_printf(out, "\",code=\"%s\"} %" PRIu64 "\n", cls[k],
                           v->row[i].status[k]) < 0)
                return -1;
        }
    return 0;
}

/* One route's kiln_http_request_duration_seconds: cumulative buckets, sum, count. */
static int histogram_row(const struct metrics_row *r, const char *name, struct buf *out)
{
    static const char metric[] = "kiln_http_request_duration_seconds";
    uint64_t acc = 0;

    for (unsigned b = 0; b <= METRICS_BUCKETS; b++) {
        acc += r->bucket[b];
        if (buf_printf(out, "%s_bucket{route=\"", metric) < 0 || label(out, name) < 0)
            return -1;
        if (b < METRICS_BUCKETS ? buf_printf(out, "\",le=\"%g\"} %" PRIu64 "\n",
                                             metrics_bucket_bound(b), acc)
                                : buf_printf(out, "\",le=\"+Inf\"} %" PRIu64 "\n", acc))
            return -1;
    }
    if (buf_printf(out, "%s_sum{route=\"", metric) < 0 || label(out, name) < 0 ||
        buf_printf(out, "\"} %" PRIu64 ".%06" PRIu64 "\n", r->sum_us / 1000000,
                   r->sum_us % 1000000) < 0)
        return -1;
    if (buf_printf(out, "%s_count{route=\"", metric) < 0 || label(out, name) < 0 ||
        buf_printf(out, "\"} %" PRIu64 "\n", row_count(r)) < 0)
        return -1;
    return 0;
}

static int durations(const struct metrics_view *v, struct buf *out)
{
    if (head(out, "kiln_http_request_duration_seconds", "histogram",
             "Time from a request's first byte to its answer sent, by route.") < 0)
        return -1;
    for (size_t i = 0; i < v->n; i++)
        if (row_count(&v->row[i]) != 0 && histogram_row(&v->row[i], v->name[i], out) < 0)
            return -1;
    return 0;
}

struct sample {
    const char *name, *type, *help;
    uint64_t value;
};

int metrics_render(const struct metrics_view *v, struct buf *out)
{
    const struct sample s[] = {
        { "kiln_http_received_bytes_total", "counter", "Request bytes read.", v->c.bytes_in },
        { "kiln_http_sent_bytes_total", "counter", "Response bytes sent.", v->c.bytes_out },
        { "kiln_http_connections", "gauge", "Open HTTP connections.", v->g.connections },
        { "kiln_websockets", "gauge", "Open WebSocket connections.", v->g.websockets },
        { "kiln_http_requests_in_flight", "gauge",
          "Requests in a handler, pending or streaming.", v->g.in_flight },
        { "kiln_http_requests_pending", "gauge",
          "Requests answered later (kiln_defer).", v->g.pending },
        { "kiln_workers", "gauge", "Worker processes running.", v->workers },
        { "kiln_worker_restarts_total", "counter",
          "Workers started in place of one that was gone.", v->m.restarts },
        { "kiln_worker_crashes_total", "counter",
          "Workers that died unasked (a signal or a non-zero exit).", v->m.crashes },
        { "kiln_reloads_total", "counter", "Reloads whose generation took over.",
          v->m.reloads },
        { "kiln_reload_failures_total", "counter", "Reloads abandoned.",
          v->m.reload_failures },
        { "kiln_pg_pool_connections", "gauge",
          "PostgreSQL pool connections, over the workers.", v->g.pg_size },
        { "kiln_pg_pool_in_use", "gauge", "PostgreSQL connections running a query.",
          v->g.pg_in_use },
        { "kiln_pg_pool_waiting", "gauge", "PostgreSQL queries waiting for a connection.",
          v->g.pg_waiting },
        { "kiln_redis_links_up", "gauge", "Workers whose Redis link is ready.",
          v->g.redis_up },
        { "kiln_redis_links", "gauge", "Workers with a Redis link configured.",
          v->g.redis_configured },
        { "kiln_pubsub_published_total", "counter", "Messages published.",
          v->c.pubsub_published },
        { "kiln_pubsub_delivered_total", "counter", "Messages delivered to subscribers.",
          v->c.pubsub_delivered },
        { "kiln_pubsub_dropped_total", "counter", "Messages dropped.", v->c.pubsub_dropped },
    };

    if (requests(v, out) < 0 || durations(v, out) < 0)
        return -1;
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        if (single(out, s[i].name, s[i].type, s[i].help, s[i].value) < 0)
            return -1;
    return 0;
}
