/*
 * fanout.c -- a publish/subscribe load client for bench/fanout.sh: S
 * subscriber WebSockets and P publishers in one chat room, counting what
 * the subscribers receive, its order, its loss and its latency.
 *
 *   fanout HOST PORT PATH SUBS PUBS RATE SECONDS SIZE
 *       opens SUBS + PUBS connections to PATH, where the server puts every
 *       connection in one room and sends each text message it gets to all
 *       of them (the publisher too).  Once all are open, the publishers
 *       send "s" until every subscriber heard one (the subscriptions are in
 *       place), then for SECONDS send SIZE-byte texts "m PUB SEQ NS xxx..."
 *       (NS: the CLOCK_MONOTONIC send time) at RATE messages/s in all, or,
 *       with RATE 0, as fast as the server keeps up: the publishers take
 *       turns, with at most WINDOW messages out that some subscriber has
 *       not had yet (counted over the deliveries, so loss stalls it).  Then
 *       it waits until every subscriber has every message, or DRAIN
 *       seconds, and prints one line:
 *         sent N delivered D rate R lost L disorder O p50_us A p99_us B
 *         errors E subs S
 *       rate: deliveries to the subscribers per second, from the first
 *       message sent to the last one delivered; lost: deliveries missing
 *       (SUBS x sent - delivered); disorder: messages that came before one
 *       of the same publisher with a lower sequence number, or twice;
 *       latency: send to receipt, per delivery; errors: connections that
 *       failed or closed.  Exits 1 when lost, disorder or errors is not 0.
 *
 * One thread, one epoll set.  Frames are masked with the all-zero key
 * (RFC 6455 lets a client pick any key; this one leaves the payload as it
 * is).  Connecting and the opening handshake are bench/wsclient.c's, shared
 * with wsload.c.  Built by bench/fanout.sh with `cc -O2 fanout.c wsclient.c`;
 * not part of the make graph.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wsclient.h"

#define MAX_CONNS     60000
#define MAX_PUBS      64
#define CONNECT_BATCH 256           /* connects in flight at once */
#define HIST_BUCKET   10            /* latency histogram: 10 us steps... */
#define HIST_N        1000000       /* ...up to 10 s */
#define RBUF          65536
#define WINDOW        8             /* RATE 0: messages out, not yet delivered to all */
#define SYNC_LIMIT    20.0          /* seconds for every subscriber to hear "s" */
#define DRAIN         5.0           /* seconds to wait for the last deliveries */
#define HANDSHAKE_MAX 4096

enum state { C_CONNECTING, C_HANDSHAKE, C_OPEN, C_DEAD };

struct conn {
    int fd;
    enum state state;
    int pub;                        /* publisher number, or -1 */
    int synced;                     /* heard an "s" */
    int wantout;                    /* EPOLLOUT is on */
    unsigned char rbuf[RBUF];
    size_t rlen;
    unsigned char *wbuf;            /* frames not yet written */
    size_t wlen, wcap;
    uint64_t *next;                 /* per publisher: the sequence number expected */
};

static struct conn *conns;
static int nconns, nsubs, npubs, epfd, opened, connecting, next_to_connect;
static const char *host, *path;
static int port;
static double rate, secs;
static size_t msg_size;
static uint64_t sent[MAX_PUBS];
static uint64_t delivered, disorder, errors, overflow, nsynced;
static uint32_t *hist;
static double last_delivery;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void conn_kill(struct conn *c)
{
    if (c->state == C_DEAD)
        return;
    if (c->state == C_OPEN)
        opened--;
    if (c->state == C_CONNECTING)
        connecting--;
    c->state = C_DEAD;
    errors++;
    close(c->fd);
}

static void want_write(struct conn *c, int on)
{
    struct epoll_event ev;

    if (c->wantout == on)
        return;
    c->wantout = on;
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
    ev.data.ptr = c;
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes what wbuf holds; on EAGAIN waits for EPOLLOUT. */
static void flush(struct conn *c)
{
    size_t off = 0;

    while (off < c->wlen) {
        ssize_t n = send(c->fd, c->wbuf + off, c->wlen - off, MSG_NOSIGNAL);

        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            conn_kill(c);
            return;
        }
        off += (size_t)n;
    }
    memmove(c->wbuf, c->wbuf + off, c->wlen - off);
    c->wlen -= off;
    want_write(c, c->wlen > 0);
}

/* Appends a masked frame (opcode op, key 0) to c's output, and writes. */
static void send_frame(struct conn *c, int op, const void *p, size_t len)
{
    size_t need = c->wlen + len + 14, h = 2;
    unsigned char *f;

    if (c->state != C_OPEN)
        return;
    if (need > c->wcap) {
        c->wcap = need * 2;
        c->wbuf = realloc(c->wbuf, c->wcap);
        if (!c->wbuf)
            wsc_die("realloc");
    }
    f = c->wbuf + c->wlen;
    f[0] = (unsigned char)(0x80 | op);
    if (len < 126) {
        f[1] = (unsigned char)(0x80 | len);
    } else {
        f[1] = 0x80 | 126;
        f[2] = (unsigned char)(len >> 8);
        f[3] = (unsigned char)len;
        h = 4;
    }
    memset(f + h, 0, 4);
    memcpy(f + h + 4, p, len);
    c->wlen += h + 4 + len;
    flush(c);
}

/* Publisher c's next message: "m PUB SEQ NS " padded with 'x' to msg_size. */
static void publish(struct conn *c)
{
    char m[65536];
    int n = snprintf(m, sizeof(m), "m %d %llu %llu ", c->pub,
                     (unsigned long long)++sent[c->pub], (unsigned long long)now_ns());

    if ((size_t)n < msg_size) {
        memset(m + n, 'x', msg_size - (size_t)n);
        n = (int)msg_size;
    }
    send_frame(c, 1, m, (size_t)n);
}

static void conn_start(struct conn *c)
{
    c->fd = wsc_connect(epfd, host, port, c);
    c->state = C_CONNECTING;
    c->wantout = 1;
    connecting++;
}

static void start_more(void)
{
    while (connecting < CONNECT_BATCH && next_to_connect < nconns)
        conn_start(&conns[next_to_connect++]);
}

static void on_connected(struct conn *c)
{
    if (!wsc_connected(c->fd)) {
        conn_kill(c);
        return;
    }
    connecting--;
    c->state = C_HANDSHAKE;
    if (wsc_send_handshake(c->fd, host, port, path, "") < 0) {
        conn_kill(c);
        return;
    }
    want_write(c, 0);
}

static void on_handshake(struct conn *c)
{
    int done = wsc_handshake_done(c->rbuf, &c->rlen, RBUF, HANDSHAKE_MAX, NULL);

    if (done < 0) {
        conn_kill(c);
    } else if (done > 0) {
        c->state = C_OPEN;
        opened++;
    }
}

static void record(uint64_t sent_ns)
{
    uint64_t t = now_ns(), us = t > sent_ns ? (t - sent_ns) / 1000 : 0;

    if (us / HIST_BUCKET >= HIST_N)
        overflow++;
    else
        hist[us / HIST_BUCKET]++;
}

/* One text message received by c: a subscriber counts it and checks its
 * order; a publisher ignores it. */
static void on_message(struct conn *c, const char *m, size_t len)
{
    unsigned long long seq, ns;
    int pub;

    if (len >= 1 && m[0] == 's') {
        if (!c->synced && c->pub < 0)
            nsynced++;
        c->synced = 1;
        return;
    }
    if (len < 2 || m[0] != 'm' || sscanf(m + 2, "%d %llu %llu", &pub, &seq, &ns) != 3 ||
        pub < 0 || pub >= npubs) {
        disorder++;                 /* not a message of ours */
        return;
    }
    if (c->pub >= 0)
        return;                     /* a publisher hears the room too */
    if (seq < c->next[pub]) {
        disorder++;
        return;
    }
    c->next[pub] = seq + 1;
    delivered++;
    last_delivery = wsc_now();
    record(ns);
}

/* Whole frames in rbuf: messages (unfragmented, as the servers send them),
 * pings answered, a close ends the connection. */
static void on_frames(struct conn *c)
{
    for (;;) {
        unsigned char *b = c->rbuf;
        size_t n, h = 2;
        int op, i;

        if (c->rlen < 2)
            return;
        op = b[0] & 0x0f;
        n = b[1] & 0x7f;
        if (n == 126) {
            if (c->rlen < 4)
                return;
            n = ((size_t)b[2] << 8) | b[3];
            h = 4;
        } else if (n == 127) {
            if (c->rlen < 10)
                return;
            for (n = 0, i = 0; i < 8; i++)
                n = (n << 8) | b[2 + i];
            h = 10;
        }
        if (h + n >= RBUF || op == 8 || (op == 1 && !(b[0] & 0x80))) {
            conn_kill(c);
            return;
        }
        if (c->rlen < h + n)
            return;
        if (op == 1) {
            char save = (char)b[h + n];

            b[h + n] = '\0';
            on_message(c, (char *)b + h, n);
            b[h + n] = (unsigned char)save;
        } else if (op == 9) {
            send_frame(c, 10, b + h, n);
        }
        c->rlen -= h + n;
        memmove(c->rbuf, c->rbuf + h + n, c->rlen);
    }
}

static void on_readable(struct conn *c)
{
    ssize_t n = recv(c->fd, c->rbuf + c->rlen, RBUF - 1 - c->rlen, 0);

    if (n < 0 && errno == EAGAIN)
        return;
    if (n <= 0) {
        conn_kill(c);
        return;
    }
    c->rlen += (size_t)n;
    if (c->state == C_HANDSHAKE)
        on_handshake(c);
    if (c->state == C_OPEN)
        on_frames(c);
}

static void on_event(struct conn *c, uint32_t events)
{
    if (c->state == C_DEAD)
        return;
    if (c->state == C_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            on_connected(c);
        start_more();
        return;
    }
    if ((events & EPOLLOUT) && c->state == C_OPEN)
        flush(c);
    if (c->state != C_DEAD && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        on_readable(c);
}

/* Waits for events for at most `ms` milliseconds and handles them. */
static void poll_once(int ms)
{
    struct epoll_event evs[256];
    int i, n = epoll_wait(epfd, evs, 256, ms);

    if (n < 0 && errno != EINTR)
        wsc_die("epoll_wait");
    for (i = 0; i < n; i++)
        on_event(evs[i].data.ptr, evs[i].events);
}

static uint64_t total_sent(void)
{
    uint64_t n = 0;
    int p;

    for (p = 0; p < npubs; p++)
        n += sent[p];
    return n;
}

static int alive_subs(void)
{
    int i, n = 0;

    for (i = 0; i < nsubs; i++)
        n += conns[i].state == C_OPEN;
    return n;
}

/* RATE > 0: publishers send what is due at time t of a run that began at
 * t0.  RATE 0: they take turns while fewer than WINDOW messages are out. */
static void publish_due(double t0, double t)
{
    uint64_t alive = (uint64_t)alive_subs();
    int p, sending = 1;

    if (rate > 0) {
        for (p = 0; p < npubs; p++) {
            struct conn *c = &conns[nsubs + p];
            uint64_t due = (uint64_t)((t - t0) * rate / npubs);

            while (sent[p] < due && c->state == C_OPEN)
                publish(c);
        }
        return;
    }
    while (sending && alive > 0) {
        sending = 0;
        for (p = 0; p < npubs; p++) {
            struct conn *c = &conns[nsubs + p];

            if (c->state != C_OPEN || total_sent() * alive >= delivered + WINDOW * alive)
                continue;
            publish(c);
            sending = 1;
        }
    }
}

static double percentile(double q)
{
    uint64_t want = (uint64_t)(q * (double)delivered), seen = 0;
    long i;

    if (delivered == 0)
        return 0;
    for (i = 0; i < HIST_N; i++) {
        seen += hist[i];
        if (seen > want)
            return (double)(i * HIST_BUCKET);
    }
    return (double)HIST_N * HIST_BUCKET;
}

/* Publishers say "s" every 100 ms until each subscriber heard it. */
static void sync_room(void)
{
    double deadline = wsc_now() + SYNC_LIMIT, next = 0;
    int p;

    while (nsynced < (uint64_t)nsubs && wsc_now() < deadline) {
        if (wsc_now() >= next) {
            for (p = 0; p < npubs; p++)
                send_frame(&conns[nsubs + p], 1, "s", 1);
            next = wsc_now() + 0.1;
        }
        poll_once(20);
    }
}

/* Waits until every subscriber has every message sent, or DRAIN seconds. */
static void drain(void)
{
    double deadline = wsc_now() + DRAIN;
    uint64_t want = total_sent();

    while (wsc_now() < deadline) {
        if (delivered >= want * (uint64_t)alive_subs())
            return;
        poll_once(20);
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: fanout HOST PORT PATH SUBS PUBS RATE SECONDS SIZE\n");
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    if (argc != 9)
        usage();
    host = argv[1];
    port = atoi(argv[2]);
    path = argv[3];
    nsubs = atoi(argv[4]);
    npubs = atoi(argv[5]);
    rate = atof(argv[6]);
    secs = atof(argv[7]);
    msg_size = (size_t)atol(argv[8]);
    if (nsubs < 1 || npubs < 1 || npubs > MAX_PUBS || nsubs + npubs > MAX_CONNS ||
        rate < 0 || secs <= 0 || secs > 600 || msg_size > 60000)
        usage();
    nconns = nsubs + npubs;
}

static void setup(void)
{
    int i;

    conns = calloc((size_t)nconns, sizeof(*conns));
    hist = calloc(HIST_N, sizeof(*hist));
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!conns || !hist || epfd < 0)
        wsc_die("setup");
    for (i = 0; i < nconns; i++) {
        conns[i].pub = i >= nsubs ? i - nsubs : -1;
        conns[i].next = calloc((size_t)npubs, sizeof(uint64_t));
        if (!conns[i].next)
            wsc_die("calloc");
    }
}

int main(int argc, char **argv)
{
    double deadline, t0, t;
    uint64_t n;

    parse_args(argc, argv);
    setup();
    start_more();
    deadline = wsc_now() + 60;          /* opening is bounded too */
    while (opened + (int)errors < nconns && wsc_now() < deadline)
        poll_once(100);
    sync_room();
    if (nsynced < (uint64_t)nsubs) {
        fprintf(stderr, "fanout: %llu of %d subscribers heard the room within %.0f s\n",
                (unsigned long long)nsynced, nsubs, SYNC_LIMIT);
        errors += (uint64_t)nsubs - nsynced;
    }
    t0 = wsc_now();
    last_delivery = t0;
    while ((t = wsc_now()) < t0 + secs) {
        publish_due(t0, t);
        poll_once(1);
    }
    drain();
    n = total_sent();
    {
        uint64_t want = n * (uint64_t)nsubs, lost = want > delivered ? want - delivered : 0;
        double span = last_delivery > t0 ? last_delivery - t0 : secs;

        printf("sent %llu delivered %llu rate %.0f lost %llu disorder %llu p50_us %.0f "
               "p99_us %.0f errors %llu subs %d\n",
               (unsigned long long)n, (unsigned long long)delivered, (double)delivered / span,
               (unsigned long long)lost, (unsigned long long)disorder, percentile(0.50),
               percentile(0.99), (unsigned long long)errors, nsubs);
        return lost || disorder || errors ? 1 : 0;
    }
}
