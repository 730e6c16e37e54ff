/* pubsub_redis.c -- the bus to other hosts (pubsub_bus.h), not built yet: opening one says so. */
#include <stdio.h>

#include "pubsub_bus.h"

struct pubsub_bus *pubsub_bus_open(struct ev_loop *loop, const char *url,
                                   const struct pubsub_bus_events *ev, void *arg,
                                   char *err, size_t errlen)
{
    (void)loop;
    (void)ev;
    (void)arg;
    snprintf(err, errlen, "%s: this kiln has no bus to other hosts", url);
    return NULL;
}

int pubsub_bus_subscribe(struct pubsub_bus *b, const char *channel, size_t len)
{
    (void)b;
    (void)channel;
    (void)len;
    return -1;
}

int pubsub_bus_unsubscribe(struct pubsub_bus *b, const char *channel, size_t len)
{
    return pubsub_bus_subscribe(b, channel, len);
}

int pubsub_bus_publish(struct pubsub_bus *b, const char *channel, size_t channel_len,
                       const void *payload, size_t len)
{
    (void)payload;
    (void)len;
    return pubsub_bus_subscribe(b, channel, channel_len);
}

void pubsub_bus_stats(const struct pubsub_bus *b, struct pubsub_bus_stats *out)
{
    (void)b;
    *out = (struct pubsub_bus_stats){ 0 };
}

void pubsub_bus_close(struct pubsub_bus *b)
{
    (void)b;
}
