/* channel.c -- the master<->worker socketpair (SOCK_SEQPACKET): one-byte commands, a log file passed with CHAN_REOPEN, and publish/subscribe frames. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel.h"
#include "pubsub_frame.h"

/* Room for the largest frame, several times over (the kernel caps it at
 * net.core.wmem_max; the default buffer holds one largest frame already). */
static void channel_buffers(int fd)
{
    int size = 4 * PUBSUB_FRAME_MAX;

    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

int channel_open(int sv[2])
{
    int saved;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    channel_buffers(sv[0]);
    channel_buffers(sv[1]);
    if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0)
        return 0;
    saved = errno;
    close(sv[0]);
    close(sv[1]);
    errno = saved;
    return -1;
}

int channel_send(int chan, char cmd, int fd)
{
    char ctl[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { &cmd, 1 };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    struct cmsghdr *cm;

    if (chan < 0)
        return -1;
    if (fd >= 0) {
        memset(ctl, 0, sizeof ctl);
        msg.msg_control = ctl;
        msg.msg_controllen = sizeof ctl;
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    }
    return sendmsg(chan, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) == 1 ? 0 : -1;
}

int channel_send_frame(int chan, const void *frame, size_t len)
{
    ssize_t n;

    if (chan < 0)
        return -1;
    n = send(chan, frame, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == (ssize_t)len)
        return 0;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) ? 1 : -1;
}

ssize_t channel_read(int chan, char *buf, size_t size, int *fd)
{
    char ctl[CMSG_SPACE(sizeof(int))];
    struct iovec iov = { buf, size };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
        .msg_controllen = sizeof ctl
    };
    struct cmsghdr *cm;
    ssize_t n;

    *fd = -1;
    n = recvmsg(chan, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    for (cm = CMSG_FIRSTHDR(&msg); n > 0 && cm; cm = CMSG_NXTHDR(&msg, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
            cm->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(fd, CMSG_DATA(cm), sizeof(int));
    if (n > 0 && (msg.msg_flags & MSG_TRUNC)) {
        errno = EMSGSIZE;
        return -1;
    }
    return n;
}
