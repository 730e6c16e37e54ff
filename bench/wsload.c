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
 *       when errors or bad are not 0.
 *   wsload idle HOST PORT PATH CONNS SECONDS [deflate]
 *       opens CONNS connections, prints "open N errors E" once all have
 *       their 101 (or failed), holds them SECONDS, then closes them and
 *       prints "closed errors E"; exits 1 when E is not 0.
 *   With `deflate` each connection offers permessage-deflate as browsers do
 *   ("permessage-deflate; client_max_window_bits"): a 101 without it is an
 *   error, an answer not compressed is bad.  The message is compressed once
 *   without context takeover; answers go through one inflater per
 *   connection, right whether or not the server keeps its context.
 *
 * One thread, one epoll set.  Client frames are masked with a per-connection
 * key once, up front.  Built by bench/ws.sh with `cc -O2`; not in the make graph.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

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
    int wantw;                      /* EPOLLOUT is asked for */
    size_t got;                     /* bytes of the answer received so far */
    int in_answer;                  /* an answer's first frame came, not its last */
    int wrong;                      /* the answer so far is not the echo */
    unsigned char *frame;           /* this connection's masked frame */
    size_t framelen;
    int compressed;                 /* the answer under way has RSV1 */
    z_stream *inf;                  /* deflate: the answers' inflater */
};

static struct conn *conns;
static int nconns, epfd, mode_echo, deflate_on;
static unsigned char *zpayload;     /* deflate: the message, compressed, */
static size_t zpayload_len;         /* and its length */
static const char *host, *path;
static int port;
static size_t msg_size, rbuf_size;   /* rbuf_size: the largest frame taken */
static uint32_t *hist;              /* round-trip counts per microsecond */
static uint64_t msgs, errors, bad, overflow;
static int opened, connecting, next_to_connect;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    perror(what);
    exit(2);
}

/* A masked text frame carrying `size` bytes of 'x' (with deflate: the
 * compressed message, RSV1 set), with mask key `key`. */
static unsigned char *make_frame(size_t size, uint32_t key, size_t *len)
{
    unsigned char *f, k[4];
    size_t h = 2, i;

    if (deflate_on)
        size = zpayload_len;
    f = malloc(size + 14);
    if (!f)
        die("malloc");
    memcpy(k, &key, 4);
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
        f[h + i] = (unsigned char)((deflate_on ? zpayload[i] : 'x') ^ k[i & 3]);
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
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct epoll_event ev;
    int one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket");
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        die("inet_pton");
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
        errno != EINPROGRESS)
        die("connect");
    c->state = C_CONNECTING;
    connecting++;
    ev.events = EPOLLOUT | EPOLLIN;
    ev.data.ptr = c;
    c->wantw = 1;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        die("epoll_ctl");
}

static void start_more(void)
{
    while (connecting < CONNECT_BATCH && next_to_connect < nconns)
        conn_start(&conns[next_to_connect++]);
}

/* Asks for EPOLLOUT or not: a system call only when that changes. */
static void want_write(struct conn *c, int on)
{
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};

    if (on != c->wantw && epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->wantw = on;
}

/* Writes the rest of the current frame; 0 when done, 1 to wait, -1 error. */
static int send_frame(struct conn *c)
{
    while (c->wsent < c->framelen) {
        ssize_t n = send(c->fd, c->frame + c->wsent, c->framelen - c->wsent, MSG_NOSIGNAL);
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
    c->sent_at = now();
    if (send_frame(c) < 0)
        conn_kill(c);
}

static void on_connected(struct conn *c)
{
    char req[1024];
    int err = 0, n;
    socklen_t l = sizeof(err);

    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) {
        conn_kill(c);
        return;
    }
    connecting--;
    c->state = C_HANDSHAKE;
    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n%s"
                 "Sec-WebSocket-Version: 13\r\n\r\n", path, host, port,
                 deflate_on ? "Sec-WebSocket-Extensions: permessage-deflate; "
                              "client_max_window_bits\r\n" : "");
    if (send(c->fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        conn_kill(c);
        return;
    }
    want_write(c, 0);
}

/* Whether the response head (NUL-terminated) accepts permessage-deflate. */
static int deflate_accepted(const char *head)
{
    const char *h = strcasestr(head, "\r\nSec-WebSocket-Extensions:");
    const char *eol = h ? strstr(h + 2, "\r\n") : NULL;
    const char *pmd = h ? strcasestr(h, "permessage-deflate") : NULL;

    return pmd && eol && pmd < eol;
}

/* The 101 arrived (or not): opens the connection and sends the first message. */
static void on_handshake(struct conn *c)
{
    char *end;

    c->rbuf[c->rlen < rbuf_size ? c->rlen : rbuf_size - 1] = '\0';
    end = strstr((char *)c->rbuf, "\r\n\r\n");
    if (!end) {
        if (c->rlen >= HANDSHAKE_MAX)
            conn_kill(c);
        return;
    }
    if (strncmp((char *)c->rbuf, "HTTP/1.1 101", 12) != 0 ||
        (deflate_on && !deflate_accepted((char *)c->rbuf))) {
        conn_kill(c);
        return;
    }
    end += 4;
    c->rlen -= (size_t)(end - (char *)c->rbuf);
    memmove(c->rbuf, end, c->rlen);
    c->state = C_OPEN;
    opened++;
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

/* Inflates a piece of a compressed answer (`fin`: its end, after which the
 * stripped 00 00 ff ff goes in) and checks what comes out. */
static void inflate_answer(struct conn *c, const unsigned char *p, size_t n, int fin)
{
    static const unsigned char trailer[4] = {0, 0, 0xff, 0xff};
    unsigned char out[16384];
    int pass, rc;

    if (!c->inf) {
        c->inf = calloc(1, sizeof(*c->inf));
        if (!c->inf || inflateInit2(c->inf, -15) != Z_OK)
            die("inflateInit2");
    }
    for (pass = 0; pass < 1 + fin; pass++) {
        c->inf->next_in = (unsigned char *)(pass ? trailer : p);
        c->inf->avail_in = (uInt)(pass ? sizeof(trailer) : n);
        do {
            c->inf->next_out = out, c->inf->avail_out = sizeof(out);
            rc = inflate(c->inf, Z_SYNC_FLUSH);
            if (rc != Z_OK && rc != Z_BUF_ERROR) {
                c->wrong = 1;
                return;
            }
            check_answer(c, out, sizeof(out) - c->inf->avail_out);
        } while (c->inf->avail_out == 0);
    }
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
        c->compressed = (c->rbuf[0] & 0x40) != 0;
        if (c->compressed != deflate_on)    /* RSV1 without the extension, */
            c->wrong = 1;                   /* or an answer not compressed */
    } else if (op != 0) {
        c->wrong = 1;                   /* a new message inside this one */
    }
    if (c->compressed)
        inflate_answer(c, c->rbuf + hlen, n - hlen, fin);
    else
        check_answer(c, c->rbuf + hlen, n - hlen);
    if (!fin)
        return;
    c->in_answer = 0;
    if (c->wrong || c->got != ECHO_PREFIX_LEN + msg_size) {
        bad++;
    } else {
        record(now() - c->sent_at);
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
        double left = until > 0 ? until - now() : 1.0;

        if (until > 0 && left <= 0)
            return;
        if (until == 0 && opened + (int)errors >= nconns)
            return;
        n = epoll_wait(epfd, evs, 256, (int)(left * 1000) + 1);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
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
                    "       wsload idle HOST PORT PATH CONNS SECONDS [deflate]\n");
    exit(2);
}

/* Reads the command line into the globals; exits with the usage if bad. */
static double parse_args(int argc, char **argv)
{
    double secs;

    if (argc < 7 || (strcmp(argv[1], "echo") != 0 && strcmp(argv[1], "idle") != 0))
        usage();
    mode_echo = strcmp(argv[1], "echo") == 0;
    if (argc < 7 + mode_echo || argc > 8 + mode_echo ||
        (argc == 8 + mode_echo && strcmp(argv[7 + mode_echo], "deflate") != 0))
        usage();
    deflate_on = argc == 8 + mode_echo;
    host = argv[2];
    port = atoi(argv[3]);
    path = argv[4];
    nconns = atoi(argv[5]);
    secs = atof(argv[6]);
    msg_size = mode_echo ? (size_t)atol(argv[7]) : 0;
    if (nconns < 1 || nconns > MAX_CONNS || secs <= 0 || secs > 600)
        usage();
    return secs;
}

/* The message, compressed alone (raw deflate, its 00 00 ff ff stripped). */
static void compress_message(void)
{
    z_stream z = {0};
    unsigned char *in = malloc(msg_size + 1);

    zpayload = malloc(msg_size + 64);
    if (!in || !zpayload || deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        die("deflateInit2");
    memset(in, 'x', msg_size);
    z.next_in = in, z.avail_in = (uInt)msg_size;
    z.next_out = zpayload, z.avail_out = (uInt)(msg_size + 64);
    if (deflate(&z, Z_SYNC_FLUSH) != Z_OK || z.avail_in != 0)
        die("deflate");
    zpayload_len = msg_size + 64 - z.avail_out - 4;
    deflateEnd(&z);
    free(in);
}

/* Allocates the connections, their buffers and frames, and the epoll set. */
static void setup(void)
{
    int i;

    if (deflate_on && mode_echo)
        compress_message();
    conns = calloc((size_t)nconns, sizeof(*conns));
    hist = calloc(HIST_US, sizeof(*hist));
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!conns || !hist || epfd < 0)
        die("setup");
    srand((unsigned)getpid());
    rbuf_size = msg_size + ECHO_PREFIX_LEN + 1024 > HANDSHAKE_MAX ?
                msg_size + ECHO_PREFIX_LEN + 1024 : HANDSHAKE_MAX;
    for (i = 0; i < nconns; i++) {
        conns[i].rbuf = malloc(rbuf_size);
        if (!conns[i].rbuf)
            die("malloc");
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
    loop(now() + secs, 0);
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
    t0 = now();
    loop(t0 + secs, 1);
    printf("msgs %llu rate %.0f p50_us %.0f p99_us %.0f errors %llu bad %llu open %d\n",
           (unsigned long long)msgs, (double)msgs / (now() - t0),
           percentile(0.50), percentile(0.99), (unsigned long long)errors,
           (unsigned long long)bad, opened);
}

int main(int argc, char **argv)
{
    double secs = parse_args(argc, argv), deadline;

    setup();
    start_more();
    deadline = now() + 60;          /* opening is bounded too */
    while (opened + (int)errors < nconns && now() < deadline)
        loop(now() + 0.5, 0);
    if (mode_echo)
        run_echo(secs);
    else
        run_idle(secs);
    return errors || bad ? 1 : 0;
}
