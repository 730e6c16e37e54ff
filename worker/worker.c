/*
 * worker.c -- a worker process: loads the plugins, accepts connections on the
 * inherited listening sockets and runs the libev loop until told to stop.
 *
 * Stopping: a graceful stop (CHAN_QUIT, SIGTERM, SIGQUIT, or the master's
 * channel closing) stops accepting, closes idle connections, lets the others
 * finish their response and exits when none is left or graceful_timeout has
 * passed.  A fast stop (CHAN_STOP, SIGINT) closes everything at once.
 */
#define _GNU_SOURCE                 /* accept4 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "balance.h"
#include "body.h"
#include "channel.h"
#include "config.h"
#include "compress.h"
#include "conn.h"
#include "db.h"
#include "files.h"
#include "listen.h"
#include "log.h"
#include "middleware.h"
#include "offload.h"
#include "pending.h"
#include "stream.h"
#include "plugin.h"
#include "pool.h"
#include "pubsub.h"
#include "pubsub_frame.h"
#include "response.h"
#include "router.h"
#include "scrape.h"
#include "scoreboard.h"
#include "loop.h"
#include "worker.h"
#include "ws.h"

#define ACCEPT_BATCH 64             /* accepts per wake-up and socket */
#define ACCEPT_PAUSE 0.1            /* s to wait after EMFILE */
#define CHAN_BATCH 64               /* master datagrams per wake-up */

static void worker_stop(struct worker *w, int graceful);

/* ---- accepting ---------------------------------------------------------- */

/* Starts or stops the listening sockets' watchers. */
static void accept_watch(struct worker *w, int on)
{
    size_t i;

    for (i = 0; i < w->naccept; i++) {
        if (on)
            ev_io_start(w->loop, &w->accept_w[i]);
        else
            ev_io_stop(w->loop, &w->accept_w[i]);
    }
}

/* Takes new connections or stops, as the peers see it too (a yield to a
 * peer, accept_yield(), is a pause the peers still count as accepting). */
static void accept_enable(struct worker *w, int on)
{
    scoreboard_accepting(w->slot, on);
    accept_watch(w, on);
}

/* Connections open in this worker, HTTP and WebSocket. */
static size_t open_conns(const struct worker *w)
{
    return w->nconns + ws_count(w);
}

/* What the accept balance counts: the connections open but this loop
 * turn's accepts (one served and closed on the turn after its accept, as
 * with Connection: close, is not a load that stays). */
static uint32_t held_conns(struct worker *w)
{
    unsigned turn = ev_iteration(w->loop);
    size_t open;

    if (w->turn != turn) {
        w->turn = turn;
        w->turn_accepts = 0;
    }
    open = open_conns(w);
    return open > w->turn_accepts ? (uint32_t)(open - w->turn_accepts) : 0;
}

/* Accepts again once below max_connections (checked each loop turn while
 * at capacity only). */
static void on_capacity(struct ev_loop *loop, ev_check *c, int revents)
{
    struct worker *w = c->data;

    (void)revents;
    if (open_conns(w) >= w->cfg->max_connections)
        return;
    ev_check_stop(loop, c);
    log_info("below max_connections (%zu) again: accepting", w->cfg->max_connections);
    if (!w->draining && !ev_is_active(&w->accept_pause))
        accept_enable(w, 1);
}

static void on_accept_pause(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct worker *w = t->data;

    (void)loop;
    (void)revents;
    balance_resume(&w->bal);
    if (!w->draining && !ev_is_active(&w->capacity))
        accept_enable(w, 1);
}

/*
 * accept() ran out of descriptors or memory: accepts pause for ACCEPT_PAUSE
 * (the connections stay queued for this worker or another), logged once
 * until an accept succeeds again.
 */
static void accept_failed(struct worker *w, int err)
{
    if (!w->accept_failing)
        log_error("accept() failed: %s; pausing accepts (every %.1f s until one "
                  "succeeds)", strerror(err), ACCEPT_PAUSE);
    w->accept_failing = 1;
    accept_enable(w, 0);
    ev_timer_set(&w->accept_pause, ACCEPT_PAUSE, 0.);
    ev_timer_start(w->loop, &w->accept_pause);
}

/* A peer holds clearly fewer connections: accepts pause for BALANCE_PAUSE,
 * the connection is left to it (balance.h). */
static void accept_yield(struct worker *w)
{
    accept_watch(w, 0);
    ev_timer_set(&w->accept_pause, BALANCE_PAUSE, 0.);
    ev_timer_start(w->loop, &w->accept_pause);
}

/* The connections held, for the peers' balance (at each accept, at the
 * tick, and before the loop waits until a turn's accepts are counted). */
static void publish_held(struct worker *w)
{
    scoreboard_conns(w->slot, held_conns(w));
}

/* Starts or stops the publishing before the loop waits; it keeps nothing
 * alive (unref'd while it runs). */
static void publish_watch(struct worker *w, int on)
{
    if (on == !!ev_is_active(&w->publish))    /* active: an index, not 1 */
        return;
    if (on) {
        ev_prepare_start(w->loop, &w->publish);
        ev_unref(w->loop);
    } else {
        ev_ref(w->loop);
        ev_prepare_stop(w->loop, &w->publish);
    }
}

/* Before the loop waits, after a turn with accepts: publishes until the
 * accepts of that turn are counted in (the next turn), then stops, so a
 * keep-alive request pays nothing for the balance.  Closes are published at
 * the tick or the next accept; a count too high makes the peers take more,
 * never wait. */
static void on_prepare(struct ev_loop *loop, ev_prepare *p, int revents)
{
    struct worker *w = p->data;

    (void)loop;
    (void)revents;
    publish_held(w);
    if (w->turn_accepts == 0)
        publish_watch(w, 0);
}

/*
 * Accepts what is queued on one listening socket (up to a batch), as long as
 * the worker is below max_connections and no peer holds clearly fewer
 * connections; at max_connections, stops accepting (the queue is left to
 * the other workers) until a connection closes.
 */
static void on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
    struct worker *w = io->data;
    uint32_t held;
    int i, fd;

    (void)revents;
    balance_refresh(&w->bal, ev_now(loop));     /* peers come and go */
    for (i = 0; i < ACCEPT_BATCH; i++) {
        if (open_conns(w) >= w->cfg->max_connections) {
            log_warn("max_connections (%zu) reached: not accepting until one closes",
                     w->cfg->max_connections);
            accept_enable(w, 0);
            ev_check_start(w->loop, &w->capacity);
            return;
        }
        held = held_conns(w);           /* first: it may start a new turn */
        switch (balance_yield(&w->bal, held, (uint32_t)w->turn_accepts)) {
        case BALANCE_YIELD:
            accept_yield(w);
            return;
        case BALANCE_LATER:
            return;
        case BALANCE_TAKE:
            break;
        }
        fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                accept_failed(w, errno);
            return;     /* EAGAIN: another worker took it, or queue empty */
        }
        if (w->accept_failing) {
            w->accept_failing = 0;
            log_info("accept() works again");
        }
        conn_new(w, fd);
        w->turn_accepts++;
        scoreboard_accept(w->slot, held_conns(w));
        publish_watch(w, 1);            /* once this turn is over */
    }
}

/* ---- control: master channel and signals -------------------------------- */

/* CHAN_REOPEN: takes the master's new log file (fd), or reopens by name. */
static void reopen_log(struct worker *w, int fd)
{
    int rc = fd >= 0 ? log_adopt_fd(fd) : log_reopen();

    if (rc < 0)
        log_error("reopening the log failed: %s", strerror(errno));
    else
        log_info("log file reopened");
    plugins_reopen(&w->plugins);
}

/* A one-byte command from the master (fd: a descriptor that came along). */
static void on_command(struct worker *w, char cmd, int fd)
{
    if (cmd == CHAN_QUIT)
        worker_stop(w, 1);
    else if (cmd == CHAN_STOP)
        worker_stop(w, 0);
    else if (cmd == CHAN_REOPEN) {
        reopen_log(w, fd);
        fd = -1;
    }
    if (fd >= 0)
        close(fd);
}

/* The master's datagrams, a batch per wake-up: commands (one byte) and
 * publish/subscribe frames; EOF when the master is gone. */
static void on_chan(struct ev_loop *loop, ev_io *io, int revents)
{
    struct worker *w = io->data;
    ssize_t n;
    int fd;

    (void)loop;
    (void)revents;
    for (int i = 0; i < CHAN_BATCH; i++) {
        n = channel_read(io->fd, w->chan_buf, PUBSUB_FRAME_MAX, &fd);
        if (n < 0 && errno == EMSGSIZE) {
            log_warn("a datagram from the master above %d bytes, dropped", PUBSUB_FRAME_MAX);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {                   /* the master is gone */
            ev_io_stop(w->loop, io);
            worker_stop(w, 1);
            return;
        }
        if (n == 1)
            on_command(w, w->chan_buf[0], fd);
        else {
            if (fd >= 0)
                close(fd);
            pubsub_receive(w->chan_buf, (size_t)n);
        }
        if (!ev_is_active(io))
            return;
    }
}

static void on_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
    struct worker *w = s->data;

    (void)loop;
    (void)revents;
    switch (s->signum) {
    case SIGTERM:
    case SIGQUIT:
        worker_stop(w, 1);
        break;
    case SIGINT:
        worker_stop(w, 0);
        break;
    case SIGUSR1:
        if (log_reopen() < 0)
            log_error("reopening the log failed: %s", strerror(errno));
        plugins_reopen(&w->plugins);
        break;
    default:
        break;                          /* SIGHUP is the master's business */
    }
}

/* Once a second: the heartbeat the master watches (worker_timeout). */
static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct worker *w = t->data;

    (void)loop;
    (void)revents;
    scoreboard_beat(w->slot);
    publish_held(w);
    scrape_publish(w);
}

static void on_drain_deadline(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct worker *w = t->data;

    (void)revents;
    log_warn("graceful_timeout reached with %zu connections open; closing them",
             w->nconns);
    conn_close_all(w);
    ev_break(loop, EVBREAK_ALL);
}

/* Begins a graceful or fast stop (idempotent; fast wins over graceful). */
static void worker_stop(struct worker *w, int graceful)
{
    if (!graceful) {
        w->draining = 1;
        accept_enable(w, 0);
        conn_close_all(w);
        ev_break(w->loop, EVBREAK_ALL);
        return;
    }
    if (w->draining)
        return;
    w->draining = 1;
    accept_enable(w, 0);
    ev_timer_stop(w->loop, &w->accept_pause);
    log_debug("draining %zu connections", w->nconns);
    ev_timer_set(&w->drain_deadline, w->cfg->graceful_timeout, 0.);
    ev_timer_start(w->loop, &w->drain_deadline);
    conn_drain_all(w);
    ws_shutdown(w);
    ev_check_start(w->loop, &w->drained);
    /* libev queued this turn's checks before the callback that got here
     * ran: without a check fed now, an idle worker would sleep until its
     * next timer (up to the 1 s tick) before seeing it has nothing left. */
    ev_feed_event(w->loop, &w->drained, EV_CHECK);
}

/* While draining, once per loop turn: nothing left open, the worker exits. */
static void on_drained(struct ev_loop *loop, ev_check *c, int revents)
{
    struct worker *w = c->data;

    (void)revents;
    if (w->nconns == 0 && ws_count(w) == 0)
        ev_break(loop, EVBREAK_ALL);
}

/* ---- set-up and tear-down ----------------------------------------------- */

static int worker_watch(struct worker *w, const struct worker_args *a)
{
    static const int signals[] = {SIGTERM, SIGQUIT, SIGINT, SIGHUP, SIGUSR1};
    size_t i;

    w->accept_w = calloc(a->nlisteners ? a->nlisteners : 1, sizeof(ev_io));
    if (!w->accept_w)
        return -1;
    w->naccept = a->nlisteners;
    for (i = 0; i < a->nlisteners; i++) {
        ev_io_init(&w->accept_w[i], on_accept, a->listeners[i].fd, EV_READ);
        w->accept_w[i].data = w;
    }
    ev_init(&w->accept_pause, on_accept_pause);
    ev_check_init(&w->capacity, on_capacity);
    w->capacity.data = w;
    ev_init(&w->drain_deadline, on_drain_deadline);
    ev_check_init(&w->drained, on_drained);
    w->accept_pause.data = w->drain_deadline.data = w->drained.data = w;
    for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
        ev_signal_init(&w->sig[i], on_signal, signals[i]);
        ev_set_priority(&w->sig[i], EV_MAXPRI);
        w->sig[i].data = w;
        ev_signal_start(w->loop, &w->sig[i]);
    }
    /* Control before accepts: after a handler that blocked, a stop that
     * arrived meanwhile is seen before new connections are taken. */
    ev_io_init(&w->chan_w, on_chan, a->chan_fd, EV_READ);
    ev_set_priority(&w->chan_w, EV_MAXPRI);
    w->chan_w.data = w;
    if (a->chan_fd >= 0 && w->chan_buf)
        ev_io_start(w->loop, &w->chan_w);
    balance_init(&w->bal, a->sb, a->slot);
    ev_prepare_init(&w->publish, on_prepare);
    w->publish.data = w;
    ev_timer_init(&w->tick, on_tick, 0., 1.);
    w->tick.data = w;
    ev_timer_again(w->loop, &w->tick);
    ev_unref(w->loop);                  /* the tick alone keeps nothing alive */
    return 0;
}

/* Tells the master we serve: scoreboard first, then the channel. */
static void worker_ready(struct worker *w, int chan_fd)
{
    scoreboard_ready(w->slot);
    if (chan_fd >= 0 && channel_send(chan_fd, CHAN_READY, -1) < 0)
        log_warn("telling the master we are ready failed: %s", strerror(errno));
}

static void worker_cleanup(struct worker *w)
{
    size_t i;

    conn_close_all(w);
    accept_enable(w, 0);
    ev_timer_stop(w->loop, &w->accept_pause);
    ev_check_stop(w->loop, &w->capacity);
    ev_timer_stop(w->loop, &w->drain_deadline);
    ev_check_stop(w->loop, &w->drained);
    ev_ref(w->loop);
    ev_timer_stop(w->loop, &w->tick);
    publish_watch(w, 0);
    ev_io_stop(w->loop, &w->chan_w);
    for (i = 0; i < sizeof(w->sig) / sizeof(w->sig[0]); i++)
        ev_signal_stop(w->loop, &w->sig[i]);
    offload_shutdown();                 /* jobs run or dropped, threads gone */
    pg_shutdown();                      /* queries left answered with an error */
    redis_shutdown();
    ws_destroy(w);
    plugins_stop(&w->plugins);
    mw_stop();                          /* before what they point to goes */
    plugins_unload(&w->plugins);
    loop_shutdown();                    /* what the plugins left running */
    pending_shutdown();
    body_shutdown();
    stream_shutdown();
    pubsub_shutdown();                  /* after every subscriber went */
    pubsub_api_shutdown();
    free(w->chan_buf);
    router_free(w->router);
    files_shutdown();
    compress_shutdown();
    free(w->accept_w);
    block_cache_clear();
}

void worker_main(const struct worker_args *a)
{
    struct worker w;

    memset(&w, 0, sizeof(w));
    w.loop = EV_DEFAULT;
    w.cfg = a->cfg;
    w.slot = a->slot;
    signal(SIGPIPE, SIG_IGN);
    if (w.slot)
        w.slot->pid = getpid();
    response_update_date(ev_now(w.loop));
    loop_init(&w);
    offload_init(&w);
    pending_init(&w, conn_resume);
    body_init(&w);
    stream_init(&w);
    w.chan_buf = malloc(PUBSUB_FRAME_MAX);
    pubsub_init(&w, w.chan_buf ? a->chan_fd : -1);
    files_init(&w);
    compress_init(w.cfg);
    w.router = router_new();
    if (!w.router || plugins_load(&w.plugins, a->plugins, a->cfg, w.router) < 0) {
        log_error("worker cannot start: plugins in %s failed to load",
                  a->cfg->plugin_dir);
        router_free(w.router);
        exit(EXIT_BOOT_FAILURE);
    }
    plugin_files_close(a->plugins);
    if (a->report_sections)
        plugins_report_sections(&w.plugins);
    if (ws_init(&w) < 0) {
        log_error("worker cannot start: the WebSocket layer failed to start");
        exit(EXIT_BOOT_FAILURE);
    }
    if (worker_watch(&w, a) < 0) {
        log_error("worker cannot start: out of memory");
        exit(EXIT_BOOT_FAILURE);
    }
    pg_init(&w);
    redis_init(&w);
    scrape_start(&w, a);
    mw_start(w.mslot != NULL);
    plugins_start(&w.plugins);
    accept_enable(&w, 1);
    worker_ready(&w, a->chan_fd);
    log_debug("worker %u of generation %u serving (%zu routes)", a->id,
              a->generation, router_count(w.router));
    ev_run(w.loop, 0);
    worker_cleanup(&w);
    exit(0);
}
