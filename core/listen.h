/*
 * listen.h -- listening sockets: parse an address, bind it, describe it.
 *
 * Addresses: "127.0.0.1:8080", "[::1]:8080", "*:8080" / "0.0.0.0:8080",
 * "8080" (= 127.0.0.1:8080), "unix:/run/kiln.sock".  Port 0 asks the kernel
 * for one; listen_describe() tells which.
 */
#ifndef KILN_LISTEN_H
#define KILN_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/*
 * How a listening socket is tuned: its listen(2) backlog, and how long the
 * kernel holds a new TCP connection that has sent nothing yet before it is
 * handed to accept() (TCP_DEFER_ACCEPT, whole seconds; 0: off).  Ignored for
 * unix sockets, which have no such option.
 */
struct listen_opts {
    int backlog;
    int defer_accept;
};

struct listener {
    char *addr;                 /* as written in the config / -l */
    int fd;                     /* non-blocking, close-on-exec */
    int family;                 /* AF_INET, AF_INET6, AF_UNIX */
    char bound[128];            /* what it is bound to, e.g. "127.0.0.1:41234" */
    pid_t owner;                /* the process that removes a unix socket's
                                   file on close, or 0 for none */
    int extra;                  /* handed over without a config address:
                                   served by every generation */
};

/* Parses `text`.  Returns 0, or -1 with a message in err. */
int listen_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len,
                 char *err, size_t errlen);

/*
 * Binds and listens on `text` (SO_REUSEADDR; IPV6_V6ONLY for v6; a stale unix
 * socket file is replaced), tuned as `o` says.  Fills l.  Returns 0, or -1
 * with "bind(ADDR) failed: reason" in err.
 */
int listen_open(struct listener *l, const char *text, const struct listen_opts *o,
                char *err, size_t errlen);

/*
 * Tunes an open listening socket as `o` says (a reload's new backlog or
 * deferral applies to the socket already open; an inherited one gets the
 * config's).  Returns 0, or -1 with "CALL(ADDR) failed: reason" in err.
 */
int listen_tune(struct listener *l, const struct listen_opts *o, char *err, size_t errlen);

/* Closes the socket (and unlinks a unix socket's file).  Frees l->addr. */
void listen_close(struct listener *l);

/* Closes the socket, leaving a unix socket's file to the process it was
 * handed over to.  Frees l->addr. */
void listen_release(struct listener *l);

/*
 * Takes over `fd`, a listening stream socket inherited from another process,
 * as l: close-on-exec and non-blocking, described by getsockname.  `text` is
 * its config address, or NULL to use the description.  `own`: remove a unix
 * socket's file on close.  0, or -1 with "CALL(fd N) failed: ..." in err (fd
 * left open).
 */
int listen_adopt(struct listener *l, int fd, const char *text, int own,
                 char *err, size_t errlen);

/* 1 when socket `fd` is bound to the address `text` means, else 0. */
int listen_bound_to(int fd, const char *text);

#endif
