/*
 * pubsub_bus.h -- how the master's publish/subscribe reaches other hosts:
 * a bus carrying (channel, payload) pairs between the masters of several
 * kiln hosts, through a Redis server's pub/sub (pubsub_redis.c, the only
 * file of the master that sees hiredis).
 *
 * The master's fan-out (pubsub.c) owns what the payload means (publisher,
 * order, text or binary); the bus carries it as opaque bytes.  It delivers
 * every message published on a channel this master subscribed to, its
 * own included: the fan-out skips what it published itself.  A lost server
 * is reconnected with back-off and every subscription restored; what was
 * published meanwhile is not delivered (the documented gap), and publishes
 * made while the bus is down are dropped and counted.
 */
#ifndef KILN_PUBSUB_BUS_H
#define KILN_PUBSUB_BUS_H

#include <stddef.h>
#include <stdint.h>
#include <ev.h>

struct pubsub_bus;

/* What a bus tells the fan-out, each with the `arg` given at open. */
struct pubsub_bus_events {
    /* A message arrived on a subscribed channel (bytes valid for the call). */
    void (*deliver)(void *arg, const char *channel, size_t channel_len,
                    const void *payload, size_t len);
    /* The bus is (again) connected and subscribed; up: 1, or 0 when lost. */
    void (*state)(void *arg, int up);
};

/* What the bus counts, for the metrics. */
struct pubsub_bus_stats {
    uint64_t published;     /* PUBLISH commands sent */
    uint64_t delivered;     /* messages received from the server */
    uint64_t dropped;       /* publishes refused: the bus was down */
    uint64_t reconnects;    /* times the connection came back */
    int up;
};

/*
 * Opens a bus on `loop` to `url` ("redis://host:port", "redis://:password@
 * host:port" or "redis+unix:///path"; as the config checked it) and starts
 * connecting.  NULL with a message in err when the url cannot be used.
 */
struct pubsub_bus *pubsub_bus_open(struct ev_loop *loop, const char *url,
                                   const struct pubsub_bus_events *ev, void *arg,
                                   char *err, size_t errlen);

/* The first subscriber of a channel on this host came, or the last left.
 * Kept across reconnects.  0, or -1 (out of memory). */
int pubsub_bus_subscribe(struct pubsub_bus *b, const char *channel, size_t len);
int pubsub_bus_unsubscribe(struct pubsub_bus *b, const char *channel, size_t len);

/* Publishes `payload` on `channel`: 0 when sent (or queued behind the
 * connect), -1 when dropped (the bus is down). */
int pubsub_bus_publish(struct pubsub_bus *b, const char *channel, size_t channel_len,
                       const void *payload, size_t len);

void pubsub_bus_stats(const struct pubsub_bus *b, struct pubsub_bus_stats *out);

/* Closes the connections; no callback runs after it returns.  NULL-safe.
 * In a forked child it drops the child's copy (watchers, descriptors)
 * without a byte to the server: the parent's connections go on. */
void pubsub_bus_close(struct pubsub_bus *b);

#endif
