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

struct listener {
    char *addr;                 /* as written in the config / -l */
    int fd;                     /* non-blocking, close-on-exec */
    int family;                 /* AF_INET, AF_INET6, AF_UNIX */
    char bound[128];            /* what it is bound to, e.g. "127.0.0.1:41234" */
};

/* Parses `text`.  Returns 0, or -1 with a message in err. */
int listen_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len,
                 char *err, size_t errlen);

/*
 * Binds and listens on `text` (SO_REUSEADDR; IPV6_V6ONLY for v6; a stale unix
 * socket file is replaced).  Fills l.  Returns 0, or -1 with
 * "bind(ADDR) failed: reason" in err.
 */
int listen_open(struct listener *l, const char *text, int backlog,
                char *err, size_t errlen);

/* Closes the socket (and unlinks a unix socket's file).  Frees l->addr. */
void listen_close(struct listener *l);

#endif
