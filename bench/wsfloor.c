/*
 * wsfloor.c -- the least a WebSocket echo server can do per message, as a
 * measure of what the machine itself costs: bench/ws.sh's "floor".
 *
 * Usage: wsfloor PORT WORKERS
 *
 * WORKERS forked processes, each with its own SO_REUSEPORT socket on
 * 127.0.0.1:PORT (so that the kernel spreads connections over them, as
 * kiln's balance and Node's cluster do) and its own level-triggered epoll.
 * Per message it does what any server must: one recv() when the socket is
 * readable and one send() of the answers to what it read ("Hello, " and the
 * text, as kiln's echo plugin answers), unmasking the payload on the way;
 * no library, no allocation, no timers.  It speaks only as much of RFC 6455
 * as bench/wsload does: the opening handshake of its fixed key (answered
 * with that key's fixed accept value), unfragmented text frames of up to
 * 65535 bytes, and a close, echoed.  GET without an upgrade gets "Hello,
 * Anonymous" (bench/lib.sh's wait_http).  Not a server to use: a figure.
 */
#define _GNU_SOURCE                 /* accept4, memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define IN_MAX  (70 << 10)          /* a frame of 65535 bytes and its header */
#define OUT_MAX (2 * IN_MAX)

struct client {
    int fd;
    int open;                       /* the handshake is done */
    size_t have;
    unsigned char in[IN_MAX];
};

static const char upgraded[] =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
static const char hello[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 16\r\nConnection: close\r\n\r\nHello, Anonymous";
static unsigned char out[OUT_MAX];

static void drop(struct client *c)
{
    close(c->fd);
    free(c);
}

/* The handshake once the header block is in: 0 when the connection goes
 * on as a WebSocket, -1 when it is done with. */
static int handshake(struct client *c)
{
    unsigned char *end = memmem(c->in, c->have, "\r\n\r\n", 4);

    if (end == NULL)
        return c->have < sizeof c->in ? 0 : -1;
    if (memmem(c->in, (size_t)(end - c->in), "Upgrade: websocket", 18) == NULL) {
        send(c->fd, hello, sizeof hello - 1, MSG_NOSIGNAL);
        return -1;
    }
    send(c->fd, upgraded, sizeof upgraded - 1, MSG_NOSIGNAL);
    c->open = 1;
    c->have -= (size_t)(end + 4 - c->in);
    memmove(c->in, end + 4, c->have);
    return 0;
}

/* Appends the answer to one text frame of len bytes at p (mask m). */
static size_t answer(size_t o, const unsigned char *m, const unsigned char *p, size_t len)
{
    size_t n = len + 7;

    out[o++] = 0x81;
    if (n < 126) {
        out[o++] = (unsigned char)n;
    } else {
        out[o++] = 126;
        out[o++] = (unsigned char)(n >> 8);
        out[o++] = (unsigned char)n;
    }
    memcpy(out + o, "Hello, ", 7);
    o += 7;
    for (size_t k = 0; k < len; k++)
        out[o++] = p[k] ^ m[k & 3];
    return o;
}

/* Answers the whole text frames read, in one send: 0, or -1 when the
 * connection is done with (a close, echoed, a frame it does not take, or a
 * send the socket did not take whole). */
static int frames(struct client *c)
{
    size_t pos = 0, o = 0;
    int rc = 0;

    while (c->have - pos >= 6) {
        const unsigned char *f = c->in + pos;
        size_t len = f[1] & 0x7f, hl = 6;

        if (len == 126) {
            if (c->have - pos < 8)
                break;
            len = (size_t)f[2] << 8 | f[3];
            hl = 8;
        }
        if (len == 127 || len > 65535 - 7 || !(f[1] & 0x80) || !(f[0] & 0x80)) {
            rc = -1;                /* 64-bit length, too long, unmasked, fragmented */
            break;
        }
        if (c->have - pos < hl + len)
            break;
        if ((f[0] & 0x0f) == 8) {   /* close: echoed, then the end */
            out[o++] = 0x88;
            out[o++] = 0;
            rc = -1;
            break;
        }
        if ((f[0] & 0x0f) != 1) {
            rc = -1;                /* binary, a ping, another opcode: not spoken here */
            break;
        }
        o = answer(o, f + hl - 4, f + hl, len);
        pos += hl + len;
    }
    /* Nothing is kept to send later: a short send closes the connection
     * (the client counts it) rather than cut a frame. */
    if (o > 0 && send(c->fd, out, o, MSG_NOSIGNAL) != (ssize_t)o)
        rc = -1;
    c->have -= pos;
    memmove(c->in, c->in + pos, c->have);
    return rc;
}

static void readable(struct client *c)
{
    ssize_t r = recv(c->fd, c->in + c->have, sizeof c->in - c->have, 0);

    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0) {
        drop(c);
        return;
    }
    c->have += (size_t)r;
    if ((!c->open && handshake(c) < 0) || (c->open && frames(c) < 0))
        drop(c);
}

static void accept_all(int ep, int lfd)
{
    int fd, one = 1;

    while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
        struct client *c = malloc(sizeof *c);
        struct epoll_event ev = { .events = EPOLLIN };

        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->open = 0;
        c->have = 0;
        ev.data.ptr = c;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
            drop(c);
    }
}

static int listener(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 511) < 0) {
        perror("wsfloor: listen");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void serve(int lfd)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL }, evs[64];
    int ep = epoll_create1(0);

    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
        perror("wsfloor: epoll");
        exit(1);
    }
    for (;;) {
        int n = epoll_wait(ep, evs, 64, -1);

        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL)
                accept_all(ep, lfd);
            else
                readable(evs[i].data.ptr);
        }
    }
}

int main(int argc, char **argv)
{
    int port = argc == 3 ? atoi(argv[1]) : 0, workers = argc == 3 ? atoi(argv[2]) : 0;
    int started = 0, sig = 0;
    pid_t kids[64];
    sigset_t stop;

    if (port <= 0 || port > 65535 || workers < 1 || workers > 64) {
        fprintf(stderr, "usage: wsfloor PORT WORKERS (1..64)\n");
        return 2;
    }
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGCHLD);
    sigprocmask(SIG_BLOCK, &stop, NULL);    /* the parent waits for them below */
    while (started < workers) {
        int lfd = listener(port);   /* bound before the fork: ready when it returns */
        pid_t pid;

        if (lfd < 0)
            break;
        pid = fork();

        if (pid == 0) {
            sigprocmask(SIG_UNBLOCK, &stop, NULL);
            serve(lfd);
        }
        close(lfd);
        if (pid < 0) {
            perror("wsfloor: fork");
            break;
        }
        kids[started++] = pid;
    }
    if (started == workers)
        sigwait(&stop, &sig);       /* SIGTERM or SIGINT, or a worker died: all go */
    for (int i = 0; i < started; i++)
        kill(kids[i], SIGTERM);
    while (wait(NULL) > 0)
        ;
    return started == workers && sig != SIGCHLD ? 0 : 1;
}
