/*
 * channel.h -- the master<->worker channel: one socketpair per worker,
 * carrying one-byte commands and publish/subscribe frames, both ends of it
 * in this file (as nginx keeps ngx_channel.c).
 *
 * The master makes the pair before the fork (channel_open), keeps end 0
 * (non-blocking) and the worker end 1.  It is a SOCK_SEQPACKET pair: each
 * send is one datagram, read whole.  A command is a one-byte datagram; a
 * CHAN_REOPEN byte may carry a file descriptor (SCM_RIGHTS).  A command
 * that cannot be sent (the peer gone, its buffer full) is reported, never
 * retried: the master falls back to a signal.  Longer datagrams are the
 * frames of pubsub_frame.h, which their senders queue when the socket is
 * full.
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

/* Sends one frame (pubsub_frame.h) as a datagram, never blocking: 0 when
 * sent, 1 when the socket is full (try again once writable), -1 on error. */
int channel_send_frame(int chan, const void *frame, size_t len);

/*
 * Reads one datagram, never blocking: into buf, and into *fd a descriptor
 * that came along (the caller owns it), or -1.  recvmsg's result: > 0
 * bytes, 0 when the other end is gone, -1 with errno (EAGAIN: nothing;
 * EMSGSIZE: a datagram longer than size, dropped).
 */
ssize_t channel_read(int chan, char *buf, size_t size, int *fd);

#endif
