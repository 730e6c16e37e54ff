/*
 * wsload.c -- a WebSocket load client for bench/ws.sh: echo round trips with
 * one message in flight per connection, or many idle connections held open.
 *
 *   wsload echo HOST PORT PATH CONNS SECONDS SIZE [deflate]
 *       CONNS connections each send a SIZE-byte text message of 'x's, wait
 *       for the whole answer, check that it is the text "Hello, " followed
 *       by the message, and send the next, for SECONDS.  Prints "msgs N rate
 *       R p50_us A p99_us B errors E bad B open O": msgs, the rate and the
 *       round trips count good echoes only; errors are connections that
 *       failed or closed, bad the answers that were not the echo.  Exits 1
 *       when errors or bad are not 0.  With `deflate` each connection
 *       offers permessage-deflate (no context takeover either way; a 101
 *       without the extension counts as an error) and sends the message
 *       compressed, deflated once up front; compressed answers are inflated
 *       before they are checked ("uncompressed N" counts the others).
 *   wsload idle HOST PORT PATH CONNS SECONDS
 *       opens CONNS connections, prints "open N errors E" once all have
 *       their 101 (or failed), holds them SECONDS, then closes them and
 *       prints "closed errors E"; exits 1 when E is not 0.
 *
 * One thread, one epoll set.  Client frames are masked with a per-connection
 * key; the payload is masked once, up front, so sending costs no copying.
 * Connecting and the opening handshake are bench/wsclient.c's, shared with
 * fanout.c.  Built by bench/ws.sh with `cc -O2 wsload.c wsload_z.c
 * wsclient.c -lz`; not part of the make graph.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wsclient.h"
#include "wsload_z.h"

#define MAX_CONNS      60000
#define CONNECT_BATCH  256          /* connects in flight at once */
#define HIST_US        1000000      /* histogram range: 1 us steps up to 1 s */
#define HANDSHAKE_MAX  2048
#define ECHO_PREFIX    "Hello, "    /* what the echo servers put before a text */
#define ECHO_PREFIX_LEN (sizeof(ECHO_PREFIX) - 1)

enum state { C_CONNECTING, C_HANDSHAKE, C_OPEN, C_DEAD };

struct conn {
    int fd;
    enum state state;
    size_t rlen;                    /* bytes in rbuf */
    unsigned char *rbuf;
    size_t wsent;                   /* bytes of the current frame written */
    double sent_at;                 /* when the message in flight went out */
    int waiting;                    /* a message is in flight */
    size_t got;                     /* bytes of the answer received so far */
    int in_answer;                  /* an answer's first frame came, not its last */
    int wrong;                      /* the answer so far is not the echo */
    unsigned char *frame;           /* this connection's masked frame */
    size_t framelen;
    int compressed;                 /* the answer in progress has RSV1 */
    unsigned char *zbuf;            /* its compressed payload so far */
    size_t zlen, zcap;
};

static struct conn *conns;
static int nconns, epfd, mode_echo;
static const char *host, *path;
static int port;
static size_t msg_size, rbuf_size;   /* rbuf_size: the largest frame taken */
static uint32_t *hist;              /* round-trip counts per microsecond */
static uint64_t msgs, errors, bad, overflow, plain_answers;
static int opened, connecting, next_to_connect;
static int deflate_on;              /* `deflate`: permessage-deflate offered */
static unsigned char *zmsg;         /* the message, deflated */
static size_t zmsg_len;
static unsigned char *plain;        /* an inflated answer */

/* A masked text frame carrying `size` bytes of 'x' (with `deflate`: the
 * deflated message, RSV1 set), with mask key `key`. */
static unsigned char *make_frame(size_t size, uint32_t key, size_t *len)
{
    unsigned char *f = malloc(size + 14), k[4];
    size_t h = 2, i;

    if (!f)
        wsc_die("malloc");
    memcpy(k, &key, 4);
    if (deflate_on)
        size = zmsg_len;
    f[0] = deflate_on ? 0xc1 : 0x81;
    if (size < 126) {
        f[1] = 0x80 | (unsigned char)size;
    } else if (size < 65536) {
        f[1] = 0x80 | 126;
        f[2] = (unsigned char)(size >> 8);
        f[3] = (unsigned char)size;
        h = 4;
    } else {
        f[1] = 0x80 | 127;
        for (i = 0; i < 8; i++)
            f[2 + i] = (unsigned char)((uint64_t)size >> (56 - 8 * i));
        h = 10;
    }
    memcpy(f + h, k, 4);
    h += 4;
    for (i = 0; i < size; i++)
        f[h + i] = (unsigned char)((deflate_on ? zmsg[i] : 'x') ^ k[i & 3]);
    *len = h + size;
    return f;
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

/* Starts the next connect(); non-blocking. */
static void conn_start(struct conn *c)
{
    c->fd = wsc_connect(epfd, host, port, c);
    c->state = C_CONNECTING;
    connecting++;
}

static void start_more(void)
{
    while (connecting < CONNECT_BATCH && next_to_connect < nconns)
        conn_start(&conns[next_to_connect++]);
}

static void want_write(struct conn *c, int on)
{
    struct epoll_event ev;

    ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
    ev.data.ptr = c;
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes the rest of the current frame; 0 when done, 1 to wait, -1 error. */
static int send_frame(struct conn *c)
{
    while (c->wsent < c->framelen) {
        ssize_t n = send(c->fd, c->frame + c->wsent, c->framelen - c->wsent,
                         MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN) {
            want_write(c, 1);
            return 1;
        }
        if (n <= 0)
            return -1;
        c->wsent += (size_t)n;
    }
    want_write(c, 0);
    return 0;
}

static void send_message(struct conn *c)
{
    c->wsent = 0;
    c->waiting = 1;
    c->sent_at = wsc_now();
    if (send_frame(c) < 0)
        conn_kill(c);
}

static void on_connected(struct conn *c)
{
    if (!wsc_connected(c->fd)) {
        conn_kill(c);
        return;
    }
    connecting--;
    c->state = C_HANDSHAKE;
    if (wsc_send_handshake(c->fd, host, port, path,
                           deflate_on ? "Sec-WebSocket-Extensions: permessage-deflate; "
                                        "client_no_context_takeover; "
                                        "server_no_context_takeover\r\n" : "") < 0) {
        conn_kill(c);
        return;
    }
    want_write(c, 0);
}

/* The 101 arrived (or not): opens the connection and sends the first message. */
static void on_handshake(struct conn *c)
{
    int done = wsc_handshake_done(c->rbuf, &c->rlen, rbuf_size, HANDSHAKE_MAX,
                                  deflate_on ? "permessage-deflate" : NULL);

    if (done < 0) {
        conn_kill(c);
    } else if (done > 0) {
        c->state = C_OPEN;
        opened++;
    }
}

/* Length of the first whole frame in rbuf (its header's in *hlen), or 0 if
 * incomplete, or (size_t)-1 if it cannot fit rbuf. */
static size_t frame_len(const struct conn *c, int *opcode, size_t *hlen)
{
    const unsigned char *b = c->rbuf;
    size_t n, h = 2;
    int i;

    if (c->rlen < 2)
        return 0;
    *opcode = b[0] & 0x0f;
    n = b[1] & 0x7f;
    if (n == 126) {
        if (c->rlen < 4)
            return 0;
        n = ((size_t)b[2] << 8) | b[3];
        h = 4;
    } else if (n == 127) {
        if (c->rlen < 10)
            return 0;
        for (n = 0, i = 0; i < 8; i++)
            n = (n << 8) | b[2 + i];
        h = 10;
    }
    if (h + n > rbuf_size || c->rlen < h + n)
        return h + n > rbuf_size ? (size_t)-1 : 0;
    *hlen = h;
    return h + n;
}

static void record(double rtt)
{
    long us = (long)(rtt * 1e6);

    if (us >= HIST_US)
        overflow++;
    else
        hist[us]++;
    msgs++;
}

/* Checks a piece of the answer (payload bytes from offset c->got on)
 * against ECHO_PREFIX and msg_size 'x's. */
static void check_answer(struct conn *c, const unsigned char *p, size_t n)
{
    size_t i, at;

    for (i = 0; i < n && !c->wrong; i++) {
        at = c->got + i;
        if (at >= ECHO_PREFIX_LEN + msg_size)
            c->wrong = 1;
        else if (p[i] != (at < ECHO_PREFIX_LEN ? (unsigned char)ECHO_PREFIX[at] : 'x'))
            c->wrong = 1;
    }
    c->got += n;
}

/* Keeps a piece of a compressed answer for inflate_answer(). */
static void keep_compressed(struct conn *c, const unsigned char *p, size_t n)
{
    if (c->zlen + n + 4 > c->zcap) {
        c->zcap = (c->zlen + n + 4) * 2;
        c->zbuf = realloc(c->zbuf, c->zcap);
        if (!c->zbuf)
            wsc_die("realloc");
    }
    memcpy(c->zbuf + c->zlen, p, n);
    c->zlen += n;
}

/* Inflates the whole compressed answer and checks it; one that does not
 * inflate is wrong. */
static void inflate_answer(struct conn *c)
{
    long n = wz_inflate(c->zbuf, c->zlen, plain, ECHO_PREFIX_LEN + msg_size + 64);

    if (n < 0)
        c->wrong = 1;
    else
        check_answer(c, plain, (size_t)n);
    c->zlen = 0;
}

/* One data frame of an answer (of `hlen` header bytes, `n` in all): checks
 * it, and at its last frame counts the echo, good or bad. */
static void on_answer_frame(struct conn *c, int op, int fin, size_t hlen,
                            size_t n, int running)
{
    if (!c->in_answer) {
        c->got = 0;
        c->wrong = op != 1;             /* the echo of a text is a text */
        c->in_answer = 1;
        c->compressed = deflate_on && (c->rbuf[0] & 0x40);
        plain_answers += deflate_on && !c->compressed;
        c->zlen = 0;
    } else if (op != 0) {
        c->wrong = 1;                   /* a new message inside this one */
    }
    if (c->compressed)
        keep_compressed(c, c->rbuf + hlen, n - hlen);
    else
        check_answer(c, c->rbuf + hlen, n - hlen);
    if (!fin)
        return;
    if (c->compressed)
        inflate_answer(c);
    c->in_answer = 0;
    if (c->wrong || c->got != ECHO_PREFIX_LEN + msg_size) {
        bad++;
    } else {
        record(wsc_now() - c->sent_at);
    }
    c->waiting = 0;
    if (running)
        send_message(c);
}

/* Handles the whole frames that arrived. */
static void on_frames(struct conn *c, int running)
{
    size_t n, hlen;
    int op = 0, fin;

    while ((n = frame_len(c, &op, &hlen)) > 0) {
        if (n == (size_t)-1 || op == 8) {
            conn_kill(c);
            return;
        }
        fin = (c->rbuf[0] & 0x80) != 0;
        if (mode_echo && op < 8) {
            if (c->waiting)
                on_answer_frame(c, op, fin, hlen, n, running);
            else
                bad++;                  /* nothing was asked */
        }
        c->rlen -= n;
        memmove(c->rbuf, c->rbuf + n, c->rlen);
    }
}

static void on_readable(struct conn *c, int running)
{
    ssize_t n = recv(c->fd, c->rbuf + c->rlen, rbuf_size - 1 - c->rlen, 0);

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
        on_frames(c, running);
}

static void on_event(struct conn *c, uint32_t events, int running)
{
    if (c->state == C_DEAD)
        return;
    if (c->state == C_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            on_connected(c);
        start_more();
        return;
    }
    if ((events & EPOLLOUT) && c->state == C_OPEN && c->waiting &&
        send_frame(c) < 0) {
        conn_kill(c);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable(c, running);
}

/* Runs the loop until `until` (or, with until == 0, until all are open). */
static void loop(double until, int running)
{
    struct epoll_event evs[256];
    int i, n;

    for (;;) {
        double left = until > 0 ? until - wsc_now() : 1.0;

        if (until > 0 && left <= 0)
            return;
        if (until == 0 && opened + (int)errors >= nconns)
            return;
        n = epoll_wait(epfd, evs, 256, (int)(left * 1000) + 1);
        if (n < 0 && errno != EINTR)
            wsc_die("epoll_wait");
        for (i = 0; i < n; i++)
            on_event(evs[i].data.ptr, evs[i].events, running);
    }
}

static double percentile(double p)
{
    uint64_t want = (uint64_t)(p * (double)msgs), seen = 0;
    long us;

    if (msgs == 0)
        return 0;

    for (us = 0; us < HIST_US; us++) {
        seen += hist[us];
        if (seen > want)
            return (double)us;
    }
    return (double)HIST_US;
}

static void usage(void)
{
    fprintf(stderr, "usage: wsload echo HOST PORT PATH CONNS SECONDS SIZE [deflate]\n"
                    "       wsload idle HOST PORT PATH CONNS SECONDS\n");
    exit(2);
}

/* Reads the command line into the globals; exits with the usage if bad. */
static double parse_args(int argc, char **argv)
{
    double secs;

    if (argc < 7)
        usage();
    mode_echo = strcmp(argv[1], "echo") == 0;
    if (!mode_echo && strcmp(argv[1], "idle") != 0)
        usage();
    if (mode_echo && argc < 8)
        usage();
    host = argv[2];
    port = atoi(argv[3]);
    path = argv[4];
    nconns = atoi(argv[5]);
    secs = atof(argv[6]);
    msg_size = mode_echo ? (size_t)atol(argv[7]) : 0;
    if (mode_echo && argc > 8) {
        if (strcmp(argv[8], "deflate") != 0)
            usage();
        deflate_on = 1;
    }
    if (nconns < 1 || nconns > MAX_CONNS || secs <= 0 || secs > 600)
        usage();
    return secs;
}

/* The message deflated once, and room for an inflated answer. */
static void setup_deflate(void)
{
    zmsg_len = wz_deflate_x(msg_size, &zmsg);
    plain = malloc(ECHO_PREFIX_LEN + msg_size + 64);
    if (!zmsg_len || !plain)
        wsc_die("deflate");
}

/* Allocates the connections, their buffers and frames, and the epoll set. */
static void setup(void)
{
    int i;

    if (deflate_on)
        setup_deflate();
    conns = calloc((size_t)nconns, sizeof(*conns));
    hist = calloc(HIST_US, sizeof(*hist));
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!conns || !hist || epfd < 0)
        wsc_die("setup");
    srand((unsigned)getpid());
    rbuf_size = msg_size + ECHO_PREFIX_LEN + 1024 > HANDSHAKE_MAX ?
                msg_size + ECHO_PREFIX_LEN + 1024 : HANDSHAKE_MAX;
    for (i = 0; i < nconns; i++) {
        conns[i].rbuf = malloc(rbuf_size);
        if (!conns[i].rbuf)
            wsc_die("malloc");
        if (mode_echo)
            conns[i].frame = make_frame(msg_size, (uint32_t)rand(),
                                        &conns[i].framelen);
    }
}

/* Opens every connection (at most 60 s), then holds them idle for secs. */
static void run_idle(double secs)
{
    int i;

    printf("open %d errors %llu\n", opened, (unsigned long long)errors);
    fflush(stdout);
    loop(wsc_now() + secs, 0);
    for (i = 0; i < nconns; i++)
        if (conns[i].state != C_DEAD)
            close(conns[i].fd);
    printf("closed errors %llu\n", (unsigned long long)errors);
}

/* Starts one message on every open connection and keeps them busy for secs. */
static void run_echo(double secs)
{
    double t0;
    int i;

    for (i = 0; i < nconns; i++)
        if (conns[i].state == C_OPEN)
            send_message(&conns[i]);
    t0 = wsc_now();
    loop(t0 + secs, 1);
    printf("msgs %llu rate %.0f p50_us %.0f p99_us %.0f errors %llu bad %llu open %d "
           "uncompressed %llu\n", (unsigned long long)msgs, (double)msgs / (wsc_now() - t0),
           percentile(0.50), percentile(0.99), (unsigned long long)errors,
           (unsigned long long)bad, opened, (unsigned long long)plain_answers);
}

int main(int argc, char **argv)
{
    double secs = parse_args(argc, argv), deadline;

    setup();
    start_more();
    deadline = wsc_now() + 60;          /* opening is bounded too */
    while (opened + (int)errors < nconns && wsc_now() < deadline)
        loop(wsc_now() + 0.5, 0);
    if (mode_echo)
        run_echo(secs);
    else
        run_idle(secs);
    return errors || bad ? 1 : 0;
}
