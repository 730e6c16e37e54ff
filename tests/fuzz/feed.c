/* feed.c -- the fuzz harnesses' worker and the client end of its connections (see feed.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "body.h"
#include "conn.h"
#include "feed.h"
#include "log.h"
#include "pending.h"
#include "plugin.h"
#include "pool.h"
#include "scoreboard.h"
#include "worker.h"
#include "ws.h"

#define QUIET_TURNS 2               /* loop turns in a row where nothing moved */
#define MAX_TURNS 100000            /* turns one settle() may take: a hang */

static struct worker worker;
static struct scoreboard_slot slot;
static struct plugin plugin = { .path = (char *)"fuzz.so", .name = (char *)"fuzz" };
static struct buf out;              /* what kiln wrote to the client */
static int show;                    /* FEED_SHOW set: copy it to stderr */
static unsigned long invoked;       /* watcher callbacks the loop ran */

struct plugin *feed_plugin(void)
{
    return &plugin;
}

int feed_open(void)
{
    static int open = -1;

    if (open < 0)
        open = getenv("FUZZ_OPEN") != NULL;
    return open;
}

/* The loop's way of running callbacks, counting them: a turn that runs
 * none changed nothing. */
static void invoke_pending(struct ev_loop *loop)
{
    invoked += ev_pending_count(loop);
    ev_invoke_pending(loop);
}

struct worker *feed_worker(const struct config *cfg, struct router *router)
{
    worker.cfg = cfg;
    if (worker.loop != NULL)
        return &worker;
    /* as a worker process runs: SIGPIPE ignored, the log formatted and
     * written (to nowhere), debug lines included */
    signal(SIGPIPE, SIG_IGN);
    show = getenv("FEED_SHOW") != NULL;
    if (log_open("/dev/null") < 0)
        abort();
    log_set_ident("worker");
    log_set_level(LOG_DEBUG);
    worker.loop = ev_default_loop(0);
    if (worker.loop != NULL)
        ev_set_invoke_pending_cb(worker.loop, invoke_pending);
    worker.router = router;
    worker.slot = &slot;
    if (worker.loop == NULL || ws_init(&worker) < 0) {
        fprintf(stderr, "feed: no loop, or no WebSocket context\n");
        abort();
    }
    pending_init(&worker, conn_resume);
    body_init(&worker);
    return &worker;
}

void feed_split(const uint8_t *data, size_t size, uint8_t a, uint8_t b,
                const uint8_t *parts[3], size_t lens[3])
{
    size_t x = size * a / 255, y = size * b / 255;
    size_t lo = x < y ? x : y, hi = x < y ? y : x;

    parts[0] = data;
    lens[0] = lo;
    parts[1] = data + lo;
    lens[1] = hi - lo;
    parts[2] = data + hi;
    lens[2] = size - hi;
}

/* Reads what kiln sent so far into `out`. */
static void drain(int fd)
{
    char b[16384];
    ssize_t n;

    while ((n = read(fd, b, sizeof b)) > 0)
        if (buf_append(&out, b, (size_t)n) < 0)
            abort();
}

/*
 * Runs the loop until nothing moves: turns in a row that run no callback
 * (a callback's new watchers are armed at the next turn, which would run
 * theirs) and read nothing of ours; with `reading`, the client reads what
 * comes.  A slow client reads once its connection has become a WebSocket:
 * libwebsockets 4.1 spins (an idle watcher run at every turn) while it
 * holds bytes that came with the upgrade and cannot write, until kiln's
 * close deadline, 5 s later (tests/fuzz/open/fuzz_request/spin-*).
 */
static void settle(struct worker *w, int fd, int reading)
{
    int quiet = 0;

    for (long turn = 0; quiet < QUIET_TURNS; turn++) {
        unsigned long ran = invoked;
        size_t had = out.len;

        if (turn == MAX_TURNS) {
            fprintf(stderr, "feed: the worker never settled\n");
            abort();
        }
        ev_run(w->loop, EVRUN_NOWAIT);
        if (reading)
            drain(fd);
        quiet = invoked == ran && out.len == had ? quiet + 1 : 0;
    }
}

/* Writes one piece as a client would: all of it, unless kiln stops reading
 * (the rest is then never sent) or closes. */
static void put(struct worker *w, int fd, const uint8_t *p, size_t len, int reading)
{
    int stalled = 0;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n > 0) {
            p += n;
            len -= (size_t)n;
            stalled = 0;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN && !stalled) {
            settle(w, fd, reading);     /* let kiln read, then try again */
            stalled = 1;
        } else {
            break;                      /* closed, or not reading any more */
        }
    }
    settle(w, fd, reading);
}

void feed_serve(struct worker *w, const uint8_t *const *parts, const size_t *lens,
                size_t n, int slow, const char **data, size_t *len)
{
    int sv[2], tiny = 1;

    buf_reset(&out);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
        perror("feed: socketpair");
        abort();
    }
    /* a slow reader: kiln's writes stall at once (the smallest buffer the
     * kernel allows), and nothing is read until the end */
    if (slow && setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &tiny, sizeof tiny) < 0)
        perror("feed: SO_SNDBUF");
    conn_new(w, sv[0]);                 /* the fd is kiln's now */
    for (size_t i = 0; i < n; i++)
        if (lens[i] > 0)
            put(w, sv[1], parts[i], lens[i], !slow);
    shutdown(sv[1], SHUT_WR);
    settle(w, sv[1], 1);
    if (w->nconns != 0 || ws_count(w) != 0) {
        fprintf(stderr, "feed: %zu connection(s) and %zu WebSocket(s) still open after "
                "the client's end of stream\n", w->nconns, ws_count(w));
        abort();
    }
    close(sv[1]);
    conn_close_all(w);                  /* none open: gives back the request cache */
    if (show && out.len > 0)
        fprintf(stderr, "%.*s\n", (int)out.len, out.data);
    *data = out.data ? out.data : "";
    *len = out.len;
}
