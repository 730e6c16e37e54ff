/*
 * pubsub_redis.c -- the master's pub/sub bus (pubsub_bus.h) on a Redis
 * server: two links of core/redis_link.c on the master's loop, one
 * subscribed, one publishing; built without Redis, it only says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub_bus.h"

#ifdef KILN_WITH_REDIS

struct pubsub_bus {
    struct pubsub_bus_stats stats;
};

struct pubsub_bus *pubsub_bus_open(struct ev_loop *loop, const char *url,
                                   const struct pubsub_bus_events *ev, void *arg,
                                   char *err, size_t errlen)
{
    (void)loop;
    (void)ev;
    (void)arg;
    snprintf(err, errlen, "pubsub = %s: the Redis bus is not ready yet", url);
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
    (void)b;
    (void)channel;
    (void)len;
    return -1;
}

int pubsub_bus_publish(struct pubsub_bus *b, const char *channel, size_t channel_len,
                       const void *payload, size_t len)
{
    (void)channel;
    (void)channel_len;
    (void)payload;
    (void)len;
    b->stats.dropped++;
    return -1;
}

void pubsub_bus_stats(const struct pubsub_bus *b, struct pubsub_bus_stats *out)
{
    *out = b->stats;
}

void pubsub_bus_close(struct pubsub_bus *b)
{
    free(b);
}

#else /* !KILN_WITH_REDIS */

struct pubsub_bus {
    struct pubsub_bus_stats stats;
};

struct pubsub_bus *pubsub_bus_open(struct ev_loop *loop, const char *url,
                                   const struct pubsub_bus_events *ev, void *arg,
                                   char *err, size_t errlen)
{
    (void)loop;
    (void)ev;
    (void)arg;
    snprintf(err, errlen, "pubsub = %s: this kiln was built without Redis "
             "(configure found no hiredis, or was given --without-redis)", url);
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
    (void)b;
    (void)channel;
    (void)len;
    return -1;
}

int pubsub_bus_publish(struct pubsub_bus *b, const char *channel, size_t channel_len,
                       const void *payload, size_t len)
{
    (void)channel;
    (void)channel_len;
    (void)payload;
    (void)len;
    if (b)
        b->stats.dropped++;
    return -1;
}

void pubsub_bus_stats(const struct pubsub_bus *b, struct pubsub_bus_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (b)
        *out = b->stats;
}

void pubsub_bus_close(struct pubsub_bus *b)
{
    free(b);
}

#endif
