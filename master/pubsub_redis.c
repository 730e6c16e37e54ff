/*
 * pubsub_redis.c -- the master's pub/sub bus (pubsub_bus.h) on a Redis
 * server: two links of core/redis_link.c on the master's loop, one in
 * subscriber mode (SUBSCRIBE, UNSUBSCRIBE, the messages), one for PUBLISH,
 * and the set of channels subscribed, restored on every reconnect.
 *
 * No hiredis header here: redis_link.c decodes the subscriber mode's
 * pushes, and commands go out as argv and lengths (binary-safe, as %b).
 * An UNSUBSCRIBE goes alone in flight (hiredis' subscriber mode, see
 * redis_link.h), so the subscriber link's commands wait in a queue for
 * their turn.  Built
 * without Redis, pubsub_bus_open() only says so.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pubsub_bus.h"

#ifdef KILN_WITH_REDIS

#include "redis_link.h"
#include "redis_url.h"

#define CONNECT_TIMEOUT 5.0         /* s, each link's connect and AUTH */
#define RESTORE_BATCH 256           /* channels per SUBSCRIBE when restoring */
#define MAX_PUBLISHING 65536        /* PUBLISH replies due at most; past it, dropped */

/* A channel of the set (this host subscribes to it). */
struct chan {
    struct chan *next;              /* in its bucket */
    uint64_t hash;
    size_t len;
    char name[];
};

/* A SUBSCRIBE or UNSUBSCRIBE of one channel waiting for its turn. */
struct op {
    struct op *next;
    int unsubscribe;
    size_t len;
    char name[];
};

struct pubsub_bus {
    struct pubsub_bus_events ev;
    void *arg;
    struct redis_url url;
    char shown[REDIS_URL_MAX];      /* the url, its password hidden */
    struct redis_link sub;          /* subscriber mode */
    struct redis_link pub;          /* PUBLISH */
    struct chan **buckets;
    size_t nbuckets, nchans;
    struct op *ops, **ops_tail;     /* the subscriber link's queue */
    size_t subs_due;                /* SUBSCRIBE confirmations to come */
    int unsub_due;                  /* an UNSUBSCRIBE's confirmation to come */
    int restoring;                  /* the set's SUBSCRIBEs not all confirmed */
    int was_up;                     /* up once: a later up is a reconnect */
    size_t publishing;              /* PUBLISH replies to come */
    uint64_t dropped_before;        /* stats.dropped when the bus went down */
    char pub_error[128];            /* the last PUBLISH refusal logged */
    int closing;
    struct pubsub_bus_stats stats;
};

/* ---- the set ------------------------------------------------------------ */

static uint64_t hash_of(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

/* Where the channel is, or would be linked: the pointer to it. */
static struct chan **set_slot(struct pubsub_bus *b, const char *s, size_t n, uint64_t h)
{
    struct chan **p = &b->buckets[h & (b->nbuckets - 1)];

    while (*p && !((*p)->hash == h && (*p)->len == n && memcmp((*p)->name, s, n) == 0))
        p = &(*p)->next;
    return p;
}

static int set_has(struct pubsub_bus *b, const char *s, size_t n)
{
    return *set_slot(b, s, n, hash_of(s, n)) != NULL;
}

/* Twice the buckets once there are more channels than buckets. */
static void set_grow(struct pubsub_bus *b)
{
    size_t n = b->nbuckets * 2;
    struct chan **nb = calloc(n, sizeof(*nb)), *c, *next;

    if (!nb)
        return;                     /* longer chains, still right */
    for (size_t i = 0; i < b->nbuckets; i++)
        for (c = b->buckets[i]; c; c = next) {
            next = c->next;
            c->next = nb[c->hash & (n - 1)];
            nb[c->hash & (n - 1)] = c;
        }
    free(b->buckets);
    b->buckets = nb;
    b->nbuckets = n;
}

/* 1 added, 0 already there, -1 out of memory. */
static int set_add(struct pubsub_bus *b, const char *s, size_t n)
{
    uint64_t h = hash_of(s, n);
    struct chan **p = set_slot(b, s, n, h), *c;

    if (*p)
        return 0;
    if (!(c = malloc(sizeof(*c) + n)))
        return -1;
    c->next = NULL;
    c->hash = h;
    c->len = n;
    memcpy(c->name, s, n);
    *p = c;
    if (++b->nchans > b->nbuckets)
        set_grow(b);
    return 1;
}

static void set_del(struct pubsub_bus *b, const char *s, size_t n)
{
    struct chan **p = set_slot(b, s, n, hash_of(s, n)), *c = *p;

    if (c) {
        *p = c->next;
        free(c);
        b->nchans--;
    }
}

/* ---- the subscriber link's queue ---------------------------------------- */

static int op_push(struct pubsub_bus *b, int unsubscribe, const char *s, size_t n)
{
    struct op *o = malloc(sizeof(*o) + n);

    if (!o)
        return -1;
    o->next = NULL;
    o->unsubscribe = unsubscribe;
    o->len = n;
    memcpy(o->name, s, n);
    *b->ops_tail = o;
    b->ops_tail = &o->next;
    return 0;
}

static void ops_clear(struct pubsub_bus *b)
{
    struct op *o;

    while ((o = b->ops)) {
        b->ops = o->next;
        free(o);
    }
    b->ops_tail = &b->ops;
    b->subs_due = 0;
    b->unsub_due = 0;
}

/* Sends what waits, in order: SUBSCRIBEs behind no UNSUBSCRIBE, an
 * UNSUBSCRIBE once nothing else is due. */
static void ops_pump(struct pubsub_bus *b)
{
    struct op *o;
    const char *name;

    while ((o = b->ops) && !b->unsub_due && !(o->unsubscribe && b->subs_due)) {
        name = o->name;
        if (redis_link_subscribe(&b->sub, o->unsubscribe, 1, &name, &o->len) < 0)
            return;                 /* not READY: the restore will do */
        if (o->unsubscribe)
            b->unsub_due = 1;
        else
            b->subs_due++;
        b->ops = o->next;
        if (!b->ops)
            b->ops_tail = &b->ops;
        free(o);
    }
}

/* ---- up and down -------------------------------------------------------- */

static void maybe_up(struct pubsub_bus *b)
{
    uint64_t dropped = b->stats.dropped - b->dropped_before;

    if (b->stats.up || b->restoring || redis_link_state(&b->sub) != REDIS_LINK_READY ||
        redis_link_state(&b->pub) != REDIS_LINK_READY)
        return;
    b->stats.up = 1;
    if (b->was_up) {
        b->stats.reconnects++;
        log_info("[pubsub] %s: the bus is back, %zu channel(s) subscribed again; "
                 "%llu publish(es) dropped while it was down", b->shown, b->nchans,
                 (unsigned long long)dropped);
    } else {
        log_debug("[pubsub] %s: the bus is up", b->shown);
    }
    b->was_up = 1;
    b->ev.state(b->arg, 1);
}

static void went_down(struct pubsub_bus *b)
{
    if (!b->stats.up)
        return;
    b->stats.up = 0;
    b->dropped_before = b->stats.dropped;
    b->ev.state(b->arg, 0);
}

/* ---- the links' events -------------------------------------------------- */

/* The subscriber link is (again) connected: every channel of the set is
 * subscribed, in batches; the bus is up once all are confirmed. */
static void on_sub_ready(struct redis_link *l, void *arg)
{
    struct pubsub_bus *b = arg;
    const char *names[RESTORE_BATCH];
    size_t lens[RESTORE_BATCH], n = 0;
    struct chan *c;

    ops_clear(b);
    b->restoring = 1;
    for (size_t i = 0; i < b->nbuckets; i++)
        for (c = b->buckets[i]; c; c = c->next) {
            names[n] = c->name;
            lens[n++] = c->len;
            if (n == RESTORE_BATCH) {
                if (redis_link_subscribe(l, 0, n, names, lens) == 0)
                    b->subs_due += n;
                n = 0;
            }
        }
    if (n > 0 && redis_link_subscribe(l, 0, n, names, lens) == 0)
        b->subs_due += n;
    b->restoring = b->subs_due > 0;
    maybe_up(b);
}

static void on_pub_ready(struct redis_link *l, void *arg)
{
    struct pubsub_bus *b = arg;

    (void)l;
    b->pub_error[0] = '\0';
    maybe_up(b);
}

static void on_failed(struct redis_link *l, void *arg)
{
    (void)l;
    (void)arg;                      /* logged by the link, which tries again */
}

static void on_sub_lost(struct redis_link *l, void *arg)
{
    struct pubsub_bus *b = arg;

    (void)l;
    ops_clear(b);
    b->restoring = 0;
    if (!b->closing)
        went_down(b);
}

static void on_pub_lost(struct redis_link *l, void *arg)
{
    struct pubsub_bus *b = arg;

    (void)l;
    if (!b->closing)
        went_down(b);
}

/* A PUBLISH's reply: a refusal (NOAUTH, a read-only replica) is logged
 * when its text changes. */
static void on_pub_reply(struct redis_link *l, const struct redisReply *r, void *privdata,
                         void *arg)
{
    struct pubsub_bus *b = arg;
    const char *error = redis_link_error(r);

    (void)l;
    (void)privdata;
    if (b->publishing > 0)
        b->publishing--;
    if (error && !b->closing && strncmp(error, b->pub_error, sizeof(b->pub_error) - 1) != 0) {
        log_error("[pubsub] %s: PUBLISH refused: %s", b->shown, error);
        snprintf(b->pub_error, sizeof(b->pub_error), "%s", error);
    }
}

/* No command on the subscriber link expects a reply of its own. */
static void on_sub_reply(struct redis_link *l, const struct redisReply *r, void *privdata,
                         void *arg)
{
    (void)l;
    (void)r;
    (void)privdata;
    (void)arg;
}

static void on_push(struct redis_link *l, enum redis_push kind, const char *channel,
                    size_t channel_len, const char *data, size_t len, void *arg)
{
    struct pubsub_bus *b = arg;

    (void)l;
    if (b->closing)
        return;
    switch (kind) {
    case REDIS_PUSH_MESSAGE:
        if (!set_has(b, channel, channel_len))
            return;                 /* unsubscribed, its confirmation to come */
        b->stats.delivered++;
        b->ev.deliver(b->arg, channel, channel_len, data, len);
        return;
    case REDIS_PUSH_SUBSCRIBE:
        if (b->subs_due > 0 && --b->subs_due == 0 && b->restoring) {
            b->restoring = 0;
            maybe_up(b);
        }
        break;
    case REDIS_PUSH_UNSUBSCRIBE:
        b->unsub_due = 0;
        break;
    }
    ops_pump(b);
}

/* ---- the interface ------------------------------------------------------ */

static int links_init(struct pubsub_bus *b, struct ev_loop *loop)
{
    static const struct redis_link_events sub_events = {
        .on_ready = on_sub_ready, .on_failed = on_failed, .on_reply = on_sub_reply,
        .on_lost = on_sub_lost, .on_push = on_push,
    };
    static const struct redis_link_events pub_events = {
        .on_ready = on_pub_ready, .on_failed = on_failed, .on_reply = on_pub_reply,
        .on_lost = on_pub_lost,
    };
    struct redis_link_conf conf = {
        .address = b->url.address,
        .password = b->url.password[0] ? b->url.password : NULL,
        .connect_timeout = CONNECT_TIMEOUT,
        .label = "pubsub",
        .keepalive = 1,             /* a subscriber hears nothing from a lost host */
    };

    if (redis_link_init(&b->sub, loop, &conf, &sub_events, b) < 0)
        return -1;
    conf.quiet = 1;                 /* one outage, logged once: by the subscriber */
    if (redis_link_init(&b->pub, loop, &conf, &pub_events, b) < 0) {
        redis_link_stop(&b->sub);
        return -1;
    }
    return 0;
}

struct pubsub_bus *pubsub_bus_open(struct ev_loop *loop, const char *url,
                                   const struct pubsub_bus_events *ev, void *arg,
                                   char *err, size_t errlen)
{
    struct pubsub_bus *b = calloc(1, sizeof(*b));
    char why[200];

    if (!b || !(b->buckets = calloc(16, sizeof(*b->buckets)))) {
        snprintf(err, errlen, "pubsub: out of memory");
        goto fail;
    }
    redis_url_shown(url, b->shown, sizeof(b->shown));
    if (redis_url_parse(url, &b->url, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "pubsub = %s: %s (expected " REDIS_URL_FORMS ")", b->shown, why);
        goto fail;
    }
    b->nbuckets = 16;
    b->ev = *ev;
    b->arg = arg;
    b->ops_tail = &b->ops;
    if (links_init(b, loop) < 0) {
        snprintf(err, errlen, "pubsub = %s: out of memory", b->shown);
        goto fail;
    }
    redis_link_start(&b->sub);
    redis_link_start(&b->pub);
    return b;
fail:
    if (b)
        free(b->buckets);
    free(b);
    return NULL;
}

int pubsub_bus_subscribe(struct pubsub_bus *b, const char *channel, size_t len)
{
    int added = set_add(b, channel, len);

    if (added <= 0)
        return added;
    if (redis_link_state(&b->sub) == REDIS_LINK_READY) {
        if (op_push(b, 0, channel, len) < 0) {
            set_del(b, channel, len);
            return -1;
        }
        ops_pump(b);
    }
    return 0;
}

int pubsub_bus_unsubscribe(struct pubsub_bus *b, const char *channel, size_t len)
{
    if (!set_has(b, channel, len))
        return 0;
    if (redis_link_state(&b->sub) == REDIS_LINK_READY) {
        if (op_push(b, 1, channel, len) < 0)
            return -1;
        ops_pump(b);
    }
    set_del(b, channel, len);
    return 0;
}

int pubsub_bus_publish(struct pubsub_bus *b, const char *channel, size_t channel_len,
                       const void *payload, size_t len)
{
    const char *argv[3] = {"PUBLISH", channel, payload};
    size_t lens[3] = {7, channel_len, len};

    if (b->publishing >= MAX_PUBLISHING ||
        redis_link_command(&b->pub, NULL, 3, argv, lens) < 0) {
        b->stats.dropped++;
        return -1;
    }
    b->publishing++;
    b->stats.published++;
    return 0;
}

void pubsub_bus_stats(const struct pubsub_bus *b, struct pubsub_bus_stats *out)
{
    *out = b->stats;
}

void pubsub_bus_close(struct pubsub_bus *b)
{
    struct chan *c;

    if (!b)
        return;
    b->closing = 1;
    redis_link_stop(&b->sub);
    redis_link_stop(&b->pub);
    ops_clear(b);
    for (size_t i = 0; i < b->nbuckets; i++)
        while ((c = b->buckets[i])) {
            b->buckets[i] = c->next;
            free(c);
        }
    free(b->buckets);
    free(b);
}

#else /* !KILN_WITH_REDIS: no bus opens */

struct pubsub_bus {
    int none;
};

struct pubsub_bus *pubsub_bus_open(struct ev_loop *loop, const char *url,
                                   const struct pubsub_bus_events *ev, void *arg,
                                   char *err, size_t errlen)
{
    (void)loop;
    (void)ev;
    (void)arg;
    (void)url;
    snprintf(err, errlen, "pubsub: this kiln was built without Redis "
             "(configure found no hiredis, or was given --without-redis)");
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
    (void)b;
    (void)channel;
    (void)channel_len;
    (void)payload;
    (void)len;
    return -1;
}

void pubsub_bus_stats(const struct pubsub_bus *b, struct pubsub_bus_stats *out)
{
    (void)b;
    memset(out, 0, sizeof(*out));
}

void pubsub_bus_close(struct pubsub_bus *b)
{
    (void)b;
}

#endif
