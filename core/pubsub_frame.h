/*
 * pubsub_frame.h -- publish/subscribe frames on the master<->worker channel
 * (one datagram each, beside the one-byte commands of channel.h), encoded
 * and decoded here for both processes.
 *
 *   [type][flags][channel length][channel][payload]
 *
 * type is CHAN_PUB (a message, either way), CHAN_SUB or CHAN_UNSUB (worker
 * to master, no payload); flags bit 0 marks a binary message.  A frame is
 * never one byte long, so a one-byte datagram is always a command.
 */
#ifndef KILN_PUBSUB_FRAME_H
#define KILN_PUBSUB_FRAME_H

#include <stddef.h>

#define CHAN_PUB   'P'      /* a message on a channel */
#define CHAN_SUB   '+'      /* worker -> master: first local subscriber */
#define CHAN_UNSUB '-'      /* worker -> master: last local subscriber left */

#define PUBSUB_CHANNEL_MAX 255              /* bytes of a channel name */
#define PUBSUB_MESSAGE_CAP (192 * 1024)     /* pubsub_max_message's ceiling:
                                               a frame is one datagram */
#define PUBSUB_FRAME_HEAD 3
#define PUBSUB_FRAME_MAX (PUBSUB_FRAME_HEAD + PUBSUB_CHANNEL_MAX + PUBSUB_MESSAGE_CAP)

#define PUBSUB_BINARY 0x1

struct pubsub_frame {
    char type;
    int binary;
    const char *channel;            /* not NUL-terminated */
    size_t channel_len;
    const void *msg;                /* the payload (CHAN_PUB) */
    size_t len;
};

/* Whether `name` (len bytes) is a plugin's channel name: 1..255 bytes, no
 * NUL (kiln's own channels start with one). */
int pubsub_channel_ok(const char *name, size_t len);

/* The encoded size of f. */
size_t pubsub_frame_size(const struct pubsub_frame *f);

/* Encodes f into buf (size bytes): its size, or 0 when it does not fit, the
 * type is unknown or the channel is empty or longer than PUBSUB_CHANNEL_MAX. */
size_t pubsub_frame_encode(void *buf, size_t size, const struct pubsub_frame *f);

/* Decodes the datagram buf (len bytes) into f, pointing into buf.  0, or
 * -1 when it is no well-formed frame. */
int pubsub_frame_decode(const void *buf, size_t len, struct pubsub_frame *f);

#endif
