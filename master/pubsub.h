/*
 * pubsub.h -- the master's fan-out of publish/subscribe (pubsub.c): which
 * workers subscribe to which channel (every generation's), each worker's
 * messages passed on to the other subscribed workers, a bounded queue per
 * worker whose channel is full, and, with [server] pubsub = "redis://...",
 * the bus to the other hosts (pubsub_bus.h).
 *
 * spawn.c hands it each frame a worker sends (fanout_frame) and tells it
 * when a worker's channel closes (fanout_gone: the worker's subscriptions
 * go, nobody else's).  The fan-out never blocks: past pubsub_worker_queue
 * bytes queued for one worker, what else comes for it is dropped, counted
 * and logged (at most every 10 s).
 */
#ifndef KILN_MASTER_PUBSUB_H
#define KILN_MASTER_PUBSUB_H

#include <stddef.h>
#include <stdint.h>

struct fanout_peer;
struct master;
struct nametab;
struct pubsub_bus;
struct worker_proc;

/* What the master counts (for the metrics). */
struct fanout_stats {
    uint64_t received;          /* messages from workers */
    uint64_t forwarded;         /* frames sent (or queued) to a worker */
    uint64_t dropped;           /* frames for a worker past its queue */
    uint64_t from_bus;          /* messages of other hosts */
    uint64_t bus_refused;       /* publishes the bus refused (down) */
    uint64_t channels;          /* channels some worker subscribes to now */
    uint64_t subscriptions;     /* (worker, channel) pairs now */
    uint64_t queued_bytes;      /* waiting for workers' channels */
};

/* The master's fan-out state (m->fanout), owned by pubsub.c. */
struct fanout {
    struct master *m;
    struct nametab *chans;      /* channel -> its workers */
    struct pubsub_bus *bus;     /* NULL: this host only */
    unsigned char host[8];      /* this master's id on the bus, random */
    unsigned char *scratch;     /* one frame or bus payload being built */
    double dropped_logged;
    struct fanout_stats st;
};

/* At start, once the loop and the first config are there: opens the bus
 * when `url` is set.  0, or -1 with a message in err (a start-up error). */
int fanout_start(struct master *m, const char *url, char *err, size_t errlen);

/* A frame (pubsub_frame.h) from worker w: a subscription or a message. */
void fanout_frame(struct master *m, struct worker_proc *w, const void *frame, size_t len);

/* w's channel closes (it exits, or was reaped): its subscriptions and
 * queue go. */
void fanout_gone(struct master *m, struct worker_proc *w);

/* In a forked child: stops the fan-out's watchers and drops its copy of the bus. */
void fanout_forget(struct master *m);

/* At exit: every subscription, the bus. */
void fanout_stop(struct master *m);

void fanout_stats(const struct master *m, struct fanout_stats *out);

#endif
