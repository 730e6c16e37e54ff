/* wsclient.h -- what bench's WebSocket load clients (wsload.c, fanout.c) share: the clock, a fatal error, a non-blocking connect in an epoll set, and the opening handshake. */
#ifndef WSCLIENT_H
#define WSCLIENT_H

#include <stddef.h>

/* CLOCK_MONOTONIC seconds. */
double wsc_now(void);

/* perror(what), then exit 2 (the clients' exit status for a local error). */
void wsc_die(const char *what) __attribute__((noreturn));

/* A non-blocking TCP connect to the IPv4 address host:port, TCP_NODELAY,
 * added to epfd for EPOLLIN | EPOLLOUT with `ptr`; the descriptor.  Dies
 * when the connect cannot even start. */
int wsc_connect(int epfd, const char *host, int port, void *ptr);

/* Whether fd's connect succeeded. */
int wsc_connected(int fd);

/* Sends the opening handshake of a WebSocket to path, `extra` header lines
 * ("" for none) before the blank line; 0, or -1 when it did not go out
 * whole. */
int wsc_send_handshake(int fd, const char *host, int port, const char *path,
                       const char *extra);

/*
 * Looks for the whole answer to the handshake in buf[0..*len), buf having
 * room for cap bytes: 1 for a 101 that names `need` (any case; NULL: no
 * need), the bytes after the answer moved to the start and *len what they
 * are; 0 while more must come; -1 for another answer, or none in `max`
 * bytes.
 */
int wsc_handshake_done(unsigned char *buf, size_t *len, size_t cap, size_t max,
                       const char *need);

#endif
