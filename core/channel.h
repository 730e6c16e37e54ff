/*
 * channel.h -- the master<->worker channel: one socketpair per worker,
 * carrying one-byte commands, both ends of it in this file (as nginx keeps
 * ngx_channel.c).
 *
 * The master makes the pair before the fork (channel_open), keeps end 0
 * (non-blocking) and the worker end 1.  Messages are single bytes; a
 * CHAN_REOPEN byte may carry a file descriptor (SCM_RIGHTS).  A send that
 * fails (the peer gone, its buffer full) is reported, never retried: the
 * master falls back to a signal.
 */
#ifndef KILN_CHANNEL_H
#define KILN_CHANNEL_H

#include <stddef.h>
#include <sys/types.h>

#define CHAN_READY  'R'     /* worker -> master: plugins loaded, accepting */
#define CHAN_QUIT   'Q'     /* master -> worker: graceful stop (drain) */
#define CHAN_STOP   'S'     /* master -> worker: fast stop */
#define CHAN_REOPEN 'O'     /* master -> worker: reopen the log; may carry the
                               master's new log file */

/* A socketpair for one worker: sv[0] the master's (non-blocking), sv[1] the
 * worker's, both close-on-exec.  0, or -1 with errno. */
int channel_open(int sv[2]);

/* Sends one command byte, with `fd` attached when fd >= 0 (never blocks).
 * 0, or -1 when it could not be sent. */
int channel_send(int chan, char cmd, int fd);

/*
 * Reads what is there: command bytes into buf, and into *fd a descriptor
 * that came along (the caller owns it), or -1.  recvmsg's result: > 0
 * bytes, 0 when the other end is gone, -1 with errno (EAGAIN: nothing).
 */
ssize_t channel_read(int chan, char *buf, size_t size, int *fd);

#endif
