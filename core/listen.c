/* listen.c -- listening sockets: parse an address text, bind and listen on it, describe what was bound. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen.h"

/* "8080" -> 8080.  0, or -1 when not 0..65535 written in digits. */
static int parse_port(const char *s, in_port_t *port)
{
    unsigned long v = 0;

    if (*s == '\0' || strlen(s) > 5)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (unsigned long)(*s - '0');
    }
    if (v > 65535)
        return -1;
    *port = htons((in_port_t)v);
    return 0;
}

static int parse_unix(const char *path, struct sockaddr_storage *ss,
                      socklen_t *len, char *err, size_t errlen)
{
    struct sockaddr_un *sa_un = (struct sockaddr_un *)ss;

    if (path[0] == '\0') {
        snprintf(err, errlen, "unix: needs a path");
        return -1;
    }
    if (strlen(path) >= sizeof sa_un->sun_path) {
        snprintf(err, errlen, "unix:%s: path longer than %zu bytes", path,
                 sizeof sa_un->sun_path - 1);
        return -1;
    }
    sa_un->sun_family = AF_UNIX;
    strcpy(sa_un->sun_path, path);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
    return 0;
}

/* "[::1]:8080" into ss.  0 or -1. */
static int parse_v6(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    const char *end = strchr(text, ']');
    char host[INET6_ADDRSTRLEN];

    if (end == NULL || end[1] != ':' || (size_t)(end - text - 1) >= sizeof host)
        return -1;
    memcpy(host, text + 1, (size_t)(end - text - 1));
    host[end - text - 1] = '\0';
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
        return -1;
    if (parse_port(end + 2, &sin6->sin6_port) < 0)
        return -1;
    sin6->sin6_family = AF_INET6;
    *len = sizeof *sin6;
    return 0;
}

/* "1.2.3.4:80", "*:80" or "80" into ss.  0 or -1. */
static int parse_v4(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    const char *colon = strrchr(text, ':');
    char host[INET_ADDRSTRLEN];

    sin->sin_family = AF_INET;
    *len = sizeof *sin;
    if (colon == NULL) {
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return parse_port(text, &sin->sin_port);
    }
    if ((size_t)(colon - text) >= sizeof host || colon == text)
        return -1;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    if (strcmp(host, "*") == 0)
        sin->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
        return -1;
    return parse_port(colon + 1, &sin->sin_port);
}

int listen_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len,
                 char *err, size_t errlen)
{
    int rc;

    memset(ss, 0, sizeof *ss);
    if (strncmp(text, "unix:", 5) == 0)
        return parse_unix(text + 5, ss, len, err, errlen);
    rc = text[0] == '[' ? parse_v6(text, ss, len) : parse_v4(text, ss, len);
    if (rc < 0)
        snprintf(err, errlen, "bad address \"%s\" (expected IP:PORT, [IPV6]:PORT, "
                 "*:PORT, PORT or unix:/path)", text);
    return rc;
}

/* Writes "127.0.0.1:41234", "[::1]:8080" or "unix:/p" for a bound address. */
static void describe(const struct sockaddr_storage *ss, char *out, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";

    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
        snprintf(out, size, "%s:%u", host, ntohs(sin->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
        snprintf(out, size, "[%s]:%u", host, ntohs(sin6->sin6_port));
    } else {
        const struct sockaddr_un *sa_un = (const struct sockaddr_un *)ss;
        snprintf(out, size, "unix:%s", sa_un->sun_path);
    }
}

/*
 * Removes the socket file at `path` if nothing accepts connections on it (a
 * left-over of a server that died).  0 when the path is free now, -1 with
 * errno EADDRINUSE when a live server answers.
 */
static int remove_stale_unix(const struct sockaddr_storage *ss, socklen_t len)
{
    const char *path = ((const struct sockaddr_un *)ss)->sun_path;
    struct stat st;
    int fd, rc;

    if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
        return 0;                   /* absent, or not ours: bind() will say */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    rc = connect(fd, (const struct sockaddr *)ss, len);
    close(fd);
    if (rc == 0) {
        errno = EADDRINUSE;
        return -1;
    }
    if (errno == ECONNREFUSED)
        unlink(path);
    return 0;
}

/* Socket options and pre-bind clean-up per family.  0, or -1 naming the call. */
static int prepare(int fd, const struct sockaddr_storage *ss, socklen_t len,
                   const char **call)
{
    int one = 1;

    if (ss->ss_family == AF_UNIX) {
        *call = "bind";
        return remove_stale_unix(ss, len);
    }
    *call = "setsockopt(SO_REUSEADDR)";
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        return -1;
    *call = "setsockopt(IPV6_V6ONLY)";
    if (ss->ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
        return -1;
    return 0;
}

/* TCP_DEFER_ACCEPT and listen(2) (again, on an open socket: a new backlog).
 * 0, or -1 naming the call. */
static int tune(int fd, int family, const struct listen_opts *o, const char **call)
{
    if (family != AF_UNIX) {
        int secs = o->defer_accept;

        *call = "setsockopt(TCP_DEFER_ACCEPT)";
        if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs) < 0)
            return -1;
    }
    *call = "listen";
    return listen(fd, o->backlog);
}

/* bind + chmod (unix) + listen + getsockname.  0, or -1 naming the call. */
static int bind_and_listen(struct listener *l, const struct sockaddr_storage *ss,
                           socklen_t len, const struct listen_opts *o, const char **call)
{
    struct sockaddr_storage got;
    socklen_t gotlen = sizeof got;

    *call = "bind";
    if (bind(l->fd, (const struct sockaddr *)ss, len) < 0)
        return -1;
    *call = "chmod";
    if (ss->ss_family == AF_UNIX &&
        chmod(((const struct sockaddr_un *)ss)->sun_path, 0666) < 0)
        return -1;
    if (tune(l->fd, ss->ss_family, o, call) < 0)
        return -1;
    *call = "getsockname";
    memset(&got, 0, sizeof got);
    if (getsockname(l->fd, (struct sockaddr *)&got, &gotlen) < 0)
        return -1;
    describe(&got, l->bound, sizeof l->bound);
    return 0;
}

/*
 * Binds and listens on `text`.  On success l owns a copy of the text and the
 * socket; on failure l is left closed (fd -1, addr NULL) and err says
 * "CALL(ADDR) failed: reason".
 */
int listen_open(struct listener *l, const char *text, const struct listen_opts *o,
                char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    const char *call = "socket";
    char why[200];

    memset(l, 0, sizeof *l);
    l->fd = -1;
    if (listen_parse(text, &ss, &len, why, sizeof why) < 0) {
        snprintf(err, errlen, "bind(%s) failed: %s", text, why);
        return -1;
    }
    l->family = ss.ss_family;
    l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l->fd < 0)
        goto fail;
    if (prepare(l->fd, &ss, len, &call) < 0 ||
        bind_and_listen(l, &ss, len, o, &call) < 0)
        goto fail;
    l->addr = strdup(text);
    if (l->addr == NULL)
        goto fail;
    l->owner = getpid();
    return 0;

fail:
    snprintf(err, errlen, "%s(%s) failed: %s", call, text, strerror(errno));
    if (l->fd >= 0 && strcmp(call, "bind") != 0 && ss.ss_family == AF_UNIX)
        unlink(((struct sockaddr_un *)&ss)->sun_path);
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    return -1;
}

int listen_tune(struct listener *l, const struct listen_opts *o, char *err, size_t errlen)
{
    const char *call;

    if (tune(l->fd, l->family, o, &call) == 0)
        return 0;
    snprintf(err, errlen, "%s(%s) failed: %s", call, l->bound, strerror(errno));
    return -1;
}

/* Closes the socket; in the process that owns it, removes a unix socket file. */
void listen_close(struct listener *l)
{
    if (l->fd >= 0 && l->family == AF_UNIX && getpid() == l->owner &&
        strncmp(l->bound, "unix:", 5) == 0)
        unlink(l->bound + 5);
    listen_release(l);
}

void listen_release(struct listener *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    free(l->addr);
    l->addr = NULL;
}

int listen_adopt(struct listener *l, int fd, const char *text, int own,
                 char *err, size_t errlen)
{
    struct sockaddr_storage got;
    socklen_t len = sizeof got, optlen = sizeof(int);
    const char *call = "getsockopt(SO_ACCEPTCONN)";
    int listening = 0, fl;

    memset(l, 0, sizeof *l);
    l->fd = -1;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) < 0)
        goto fail;
    errno = EINVAL;
    if (!listening)
        goto fail;
    call = "getsockname";
    memset(&got, 0, sizeof got);
    if (getsockname(fd, (struct sockaddr *)&got, &len) < 0)
        goto fail;
    call = "fcntl";
    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        goto fail;
    describe(&got, l->bound, sizeof l->bound);
    call = "strdup";
    l->addr = strdup(text != NULL ? text : l->bound);
    if (l->addr == NULL)
        goto fail;
    l->fd = fd;
    l->family = got.ss_family;
    l->owner = own ? getpid() : 0;
    return 0;

fail:
    snprintf(err, errlen, "%s(fd %d) failed: %s", call, fd,
             errno == EINVAL && !listening ? "not a listening socket" : strerror(errno));
    return -1;
}

/* Compares two socket addresses of the families kiln listens on. */
static int same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
    }
    if (a->ss_family == AF_UNIX)
        return strcmp(((const struct sockaddr_un *)a)->sun_path,
                      ((const struct sockaddr_un *)b)->sun_path) == 0;
    return 0;
}

int listen_bound_to(int fd, const char *text)
{
    struct sockaddr_storage want, got;
    socklen_t wantlen, gotlen = sizeof got;
    char why[200];

    memset(&got, 0, sizeof got);
    if (listen_parse(text, &want, &wantlen, why, sizeof why) < 0 ||
        getsockname(fd, (struct sockaddr *)&got, &gotlen) < 0)
        return 0;
    return same_address(&want, &got);
}
