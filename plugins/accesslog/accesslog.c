/*
 * accesslog.c -- one line per response in an access log, Apache's combined
 * format by default, written by each worker into its own buffer and
 * appended to the file when the buffer fills, every `flush` seconds and
 * when the worker stops; reopened when kiln reopens its logs (SIGUSR1,
 * `kiln -s reopen`, logrotate's postrotate).
 *
 *     [accesslog]
 *     path = /var/log/kiln/access.log    # "-": standard output; unset: no log
 *     format = combined                  # common, or a format string
 *     buffer = 64k                       # 0: a write per line
 *     flush = 1s
 *
 * The file is opened O_APPEND by every worker, so that the lines of several
 * workers never overlap: each write holds whole lines.  Lines are written
 * from the response-sent hook, once the response's last byte was queued,
 * so the request being logged has been answered already.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <kiln.h>

#include "format.h"

#define BUFFER_DEFAULT (64 * 1024)
#define BUFFER_MAX     (16 * 1024 * 1024)

static struct {
    const char *path;           /* NULL: off */
    struct alog_format format;
    size_t buffer;              /* flush when this much is waiting */
    double flush;               /* seconds; 0: only when full */
    int fd;                     /* -1 when closed */
    int failing;                /* a write failed: logged once until one works */
    unsigned long long dropped; /* lines lost to failed writes */
    struct alog_buf out;
    kiln_timer *timer;
    long pid;
} alog = { .fd = -1 };

/* ---- the file ------------------------------------------------------------- */

static void log_open(void)
{
    if (strcmp(alog.path, "-") == 0) {
        alog.fd = STDOUT_FILENO;
        return;
    }
    alog.fd = open(alog.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (alog.fd < 0)
        kiln_log(KILN_LOG_ERROR, "%s: %s: lines are dropped until a reopen works",
                 alog.path, strerror(errno));
}

static void log_close(void)
{
    if (alog.fd > STDOUT_FILENO)
        close(alog.fd);
    alog.fd = -1;
}

/* Writes what is buffered; on failure the lines are dropped and counted,
 * and the first failure of a run is logged. */
static void flush_out(void)
{
    size_t off = 0;

    while (alog.fd >= 0 && off < alog.out.len) {
        ssize_t n = write(alog.fd, alog.out.data + off, alog.out.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    if (off < alog.out.len) {
        size_t lines = 0;
        for (size_t i = off; i < alog.out.len; i++)
            lines += alog.out.data[i] == '\n';
        alog.dropped += lines;
        if (!alog.failing)
            kiln_log(KILN_LOG_ERROR, "%s: %s: %zu lines dropped", alog.path,
                     alog.fd < 0 ? "not open" : strerror(errno), lines);
        alog.failing = 1;
    } else if (off > 0) {
        alog.failing = 0;
    }
    alog.out.len = 0;
}

/* ---- hooks ---------------------------------------------------------------- */

static const char *req_header(const void *ctx, const char *name)
{
    return kiln_header(ctx, name);
}

static const char *resp_header(const void *ctx, const char *name)
{
    return kiln_resp_header(ctx, name);
}

static void on_sent(const kiln_req *req, const struct kiln_sent *sent, void *data)
{
    unsigned needs = alog.format.needs;
    struct alog_record r = {
        .status = sent->status,
        .complete = sent->complete,
        .bytes = sent->bytes,
        .body_bytes = sent->body_bytes,
        .received = sent->received,
        .start = sent->start,
        .duration = sent->duration,
        .pid = alog.pid,
        .req_header = req_header,
        .resp_header = resp_header,
        .ctx = req,
    };

    (void)data;
    if (needs & ALOG_NEEDS_REMOTE)
        r.remote = kiln_remote(req);
    if (needs & ALOG_NEEDS_PEER)
        r.peer = kiln_peer_addr(req, NULL);
    if (needs & ALOG_NEEDS_USER)
        r.user = kiln_req_get(req, "remote_user");
    if (needs & ALOG_NEEDS_REQLINE) {
        r.method = kiln_method(req);
        r.target = kiln_target(req);
        r.http_minor = kiln_http_version(req);
    }
    if (needs & ALOG_NEEDS_PATH)
        r.path = kiln_path(req);
    if (needs & ALOG_NEEDS_QUERY)
        r.query = kiln_query_string(req);
    if (needs & ALOG_NEEDS_HOST)
        r.host = kiln_host(req);
    if (alog_render(&alog.format, &r, &alog.out) < 0) {
        alog.dropped++;
        return;
    }
    if (alog.out.len >= alog.buffer)
        flush_out();
}

static void on_timer(kiln_timer *t, void *arg)
{
    (void)t;
    (void)arg;
    if (alog.out.len > 0)
        flush_out();
}

static void on_reopen(kiln_app *app)
{
    (void)app;
    flush_out();
    log_close();
    log_open();
    if (alog.fd >= 0)
        alog.failing = 0;
}

static void worker_start(kiln_app *app)
{
    (void)app;
    alog.pid = (long)getpid();
    log_open();
    if (alog.flush > 0 && alog.buffer > 0)
        alog.timer = kiln_timer_start(alog.flush, alog.flush, on_timer, NULL);
}

static void worker_stop(kiln_app *app)
{
    (void)app;
    flush_out();
    if (alog.dropped > 0)
        kiln_log(KILN_LOG_WARN, "%s: %llu lines were dropped", alog.path, alog.dropped);
    log_close();
}

/* ---- configuration -------------------------------------------------------- */

/* "64k", "1m", "0": bytes, or -1. */
static long long parse_size(const char *s)
{
    char *end;
    long long n;

    errno = 0;
    n = strtoll(s, &end, 10);
    if (errno != 0 || end == s || n < 0)
        return -1;
    if (*end == 'k' || *end == 'K')
        n *= 1024, end++;
    else if (*end == 'm' || *end == 'M')
        n *= 1024 * 1024, end++;
    return *end == '\0' && n <= BUFFER_MAX ? n : -1;
}

/* "1s", "500ms", "2", "5m", "1h": seconds up to an hour, or -1. */
static double parse_time(const char *s)
{
    static const struct { const char *unit; double factor; } units[] = {
        { "", 1 }, { "s", 1 }, { "ms", 0.001 }, { "m", 60 }, { "h", 3600 },
    };
    char *end;
    double t;

    errno = 0;
    t = strtod(s, &end);
    if (errno != 0 || end == s || t < 0)
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(end, units[i].unit) == 0)
            return t * units[i].factor <= 3600 ? t * units[i].factor : -1;
    return -1;
}

static int configure(kiln_app *app)
{
    const char *format = kiln_config(app, "format", "combined");
    const char *buffer = kiln_config(app, "buffer", "64k");
    const char *flush = kiln_config(app, "flush", "1s");
    char err[160];
    long long size;

    if (alog_compile(&alog.format, format, err, sizeof(err)) < 0) {
        kiln_log(KILN_LOG_ERROR, "[accesslog] format: %s", err);
        return -1;
    }
    if ((size = parse_size(buffer)) < 0) {
        kiln_log(KILN_LOG_ERROR, "[accesslog] buffer: expected a size from 0 to 16m "
                 "like 64k, got \"%s\"", buffer);
        return -1;
    }
    if ((alog.flush = parse_time(flush)) < 0) {
        kiln_log(KILN_LOG_ERROR, "[accesslog] flush: expected a time up to 1h "
                 "like 1s or 500ms, got \"%s\"", flush);
        return -1;
    }
    alog.buffer = (size_t)size;
    return 0;
}

static void fini(kiln_app *app);

static int init(kiln_app *app)
{
    const char *path = kiln_config(app, "path", "");

    if (*path == '\0' || strcmp(path, "off") == 0)
        return 0;                   /* loaded, logging nothing */
    alog.path = path;
    if (configure(app) < 0) {
        fini(app);
        return -1;
    }
    if (kiln_on_response_sent(app, on_sent, NULL) < 0 ||
        kiln_on_reopen(app, on_reopen) < 0 ||
        kiln_worker_hooks(app, worker_start, worker_stop) < 0)
        return -1;
    return 0;
}

static void fini(kiln_app *app)
{
    (void)app;
    alog_format_free(&alog.format);
    alog_buf_free(&alog.out);
    alog.path = NULL;
}

KILN_PLUGIN("accesslog", init, fini);
