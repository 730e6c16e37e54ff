/*
 * wsclient.c -- the pieces bench's WebSocket load clients share (see
 * wsclient.h).  Built into each by its script with `cc -O2`; not part of
 * the make graph.
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

#include "wsclient.h"

double wsc_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void wsc_die(const char *what)
{
    perror(what);
    exit(2);
}

int wsc_connect(int epfd, const char *host, int port, void *ptr)
{
    struct sockaddr_in sa;
    struct epoll_event ev;
    int one = 1, fd;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        wsc_die("socket");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        wsc_die("inet_pton");
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
        wsc_die("connect");
    ev.events = EPOLLOUT | EPOLLIN;
    ev.data.ptr = ptr;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        wsc_die("epoll_ctl");
    return fd;
}

int wsc_connected(int fd)
{
    int err = 0;
    socklen_t l = sizeof(err);

    return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) == 0 && err == 0;
}

int wsc_send_handshake(int fd, const char *host, int port, const char *path,
                       const char *extra)
{
    char req[1024];
    int n;

    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n%s\r\n", path, host, port, extra);
    if (n < 0 || (size_t)n >= sizeof(req))
        return -1;
    return send(fd, req, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -1;
}

int wsc_handshake_done(unsigned char *buf, size_t *len, size_t cap, size_t max,
                       const char *need)
{
    char *end;

    buf[*len < cap ? *len : cap - 1] = '\0';
    end = strstr((char *)buf, "\r\n\r\n");
    if (end == NULL)
        return *len >= max ? -1 : 0;
    if (strncmp((char *)buf, "HTTP/1.1 101", 12) != 0 ||
        (need != NULL && strcasestr((char *)buf, need) == NULL))
        return -1;
    end += 4;
    *len -= (size_t)(end - (char *)buf);
    memmove(buf, end, *len);
    return 1;
}
