/* systemd.c -- readiness notification to $NOTIFY_SOCKET and the sockets of socket activation, written against the documented protocol. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "systemd.h"

/* $NOTIFY_SOCKET as a socket address.  Its length, or 0 when unusable. */
static socklen_t notify_address(const char *path, struct sockaddr_un *sa)
{
    size_t len = strlen(path);

    if ((path[0] != '/' && path[0] != '@') || len < 2 || len >= sizeof sa->sun_path)
        return 0;
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, path, len);
    if (path[0] == '@')
        sa->sun_path[0] = '\0';     /* abstract namespace: no trailing NUL */
    else
        len++;
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
}

int systemd_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    socklen_t salen;
    int fd = -1;

    if (path == NULL || path[0] == '\0')
        return 0;
    salen = notify_address(path, &sa);
    if (salen == 0) {
        errno = EINVAL;
        goto fail;
    }
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || sendto(fd, state, strlen(state), MSG_NOSIGNAL,
                         (struct sockaddr *)&sa, salen) < 0)
        goto fail;
    close(fd);
    return 0;

fail:
    log_warn("sendto(NOTIFY_SOCKET %s) failed: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

void systemd_ready(void)
{
    char msg[64];

    snprintf(msg, sizeof msg, "READY=1\nMAINPID=%ld", (long)getpid());
    systemd_notify(msg);
}

void systemd_reloading(void)
{
    struct timespec ts;
    char msg[80];

    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL +
             (unsigned long long)ts.tv_nsec / 1000ULL);
    systemd_notify(msg);
}

/* A decimal number from the environment, or -1. */
static long env_number(const char *name)
{
    const char *s = getenv(name);
    char *end;
    long v;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    return errno != 0 || *end != '\0' ? -1 : v;
}

int systemd_listen_fds(void)
{
    long pid = env_number("LISTEN_PID"), n = env_number("LISTEN_FDS");

    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (pid != (long)getpid() || n <= 0)
        return 0;
    return n > 64 ? 64 : (int)n;
}
