/*
 * pubsub.h -- a worker's publish/subscribe (pubsub.c): the local table of
 * channels and their subscribers (WebSocket connections, SSE streams and
 * kiln's own callbacks), the messages to and from the master over the
 * channel, and what the rest of the worker tells it.
 *
 * The master learns a channel from the worker's first local subscriber
 * (CHAN_SUB) and forgets it at its last (CHAN_UNSUB); it sends the worker
 * every message published on it elsewhere.  A message published here is
 * delivered to the local subscribers at once and sent to the master, or
 * queued (up to pubsub_worker_queue bytes) while the channel is full.
 */
#ifndef KILN_WORKER_PUBSUB_H
#define KILN_WORKER_PUBSUB_H

#include <stddef.h>
#include <stdint.h>

#include "kiln.h"

struct worker;

/* What a worker counts (for the metrics). */
struct pubsub_stats {
    uint64_t published;         /* kiln_publish() calls accepted */
    uint64_t refused;           /* refused: the queue to the master was full */
    uint64_t received;          /* messages from the master */
    uint64_t delivered;         /* messages handed to one subscriber */
    uint64_t dropped_slow;      /* subscribers closed as too slow */
    uint64_t subscriptions;     /* (subscriber, channel) pairs now */
    uint64_t channels;          /* channels with a local subscriber now */
    uint64_t queued_bytes;      /* waiting for the channel to the master */
};

enum pubsub_kind { PUBSUB_WS = 1, PUBSUB_SSE = 2 };

/* kiln's own subscription: called with each message of its channel. */
typedef void pubsub_fn(const char *channel, size_t channel_len, int binary,
                       const void *msg, size_t len, void *data);

/* At worker start (chan_fd: the master's channel, or -1); at its end. */
void pubsub_init(struct worker *w, int chan_fd);
void pubsub_shutdown(void);

/* A datagram longer than one byte came from the master. */
void pubsub_receive(const void *frame, size_t len);

/* A WebSocket connection or SSE stream ends: its subscriptions go. */
void pubsub_gone(enum pubsub_kind kind, kiln_id id);

/* Subscribes (or not) fn(data) to a channel (any name up to 255 bytes,
 * kiln's own start with a NUL).  0, or -1 (out of memory; not subscribed). */
int pubsub_join(const char *channel, size_t len, pubsub_fn *fn, void *data);
int pubsub_leave(const char *channel, size_t len, pubsub_fn *fn, void *data);

/* Sends a message to the master only (the caller delivered it here).
 * 0, or -1 (too long, queue full). */
int pubsub_send_out(const char *channel, size_t channel_len, int binary,
                    const void *msg, size_t len);

void pubsub_stats(struct pubsub_stats *out);

#endif
