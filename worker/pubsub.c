/*
 * pubsub.c -- a worker's publish/subscribe: channels and their local
 * subscribers, kiln_subscribe() and kiln_publish(), and the frames to and
 * from the master (pubsub_frame.h) with a bounded queue while the channel
 * to the master is full.
 *
 * A subscriber is named by its kind and id (a WebSocket's kiln_ws_id(), an
 * SSE stream's id) or, for kiln's own, by its callback; each is in its
 * channel's list and in its owner's, so that an ending connection leaves
 * every channel at once.  A delivery first copies the channel's list: a
 * subscriber that goes meanwhile is skipped, one that comes waits for the
 * next message.
 */
#define _GNU_SOURCE                 /* vasprintf */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "channel.h"
#include "config.h"
#include "log.h"
#include "nametab.h"
#include "pubsub.h"
#include "pubsub_frame.h"
#include "stream.h"
#include "worker.h"
#include "ws.h"

#define PUBSUB_FN 3                 /* a subscriber of kiln's own */
#define REFUSED_LOG_EVERY 10.0      /* s between warnings of a full queue */

struct sub;

struct channel {
    struct name_entry e;            /* first: the channel's name */
    struct sub *subs;
    size_t n;
};

/* A subscriber: its key is kind, then id or (fn, data). */
struct owner {
    struct name_entry e;
    int kind;
    kiln_id id;
    pubsub_fn *fn;
    void *data;
    struct sub *subs;               /* its channels, by own_next */
};

struct sub {
    struct channel *ch;
    struct owner *ow;
    struct sub *prev, *next;        /* in ch->subs */
    struct sub *own_next;           /* in ow->subs */
};

/* A frame waiting for the channel to the master. */
struct qframe {
    struct qframe *next;
    size_t len;
    unsigned char data[];
};

/* A subscriber as a delivery copied it. */
struct target {
    int kind;
    kiln_id id;
    pubsub_fn *fn;
    void *data;
};

static struct {
    struct worker *w;
    int chan;
    struct nametab channels, owners;
    struct qframe *qhead, *qtail;
    size_t qbytes;
    ev_io wio;                      /* the channel is writable again */
    unsigned char *scratch;         /* one frame being encoded */
    double refused_logged;
    struct pubsub_stats st;
} ps = { .chan = -1 };

/* ---- the frames to the master ------------------------------------------------ */

static void queue_flush(void)
{
    struct qframe *q;
    int rc;

    while ((q = ps.qhead) != NULL) {
        rc = channel_send_frame(ps.chan, q->data, q->len);
        if (rc == 1)
            return;                 /* still full: wio stays on */
        ps.qhead = q->next;
        ps.qbytes -= q->len;
        free(q);
    }
    ps.qtail = NULL;
    ev_io_stop(ps.w->loop, &ps.wio);
}

static void on_writable(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop;
    (void)io;
    (void)revents;
    queue_flush();
}

/* Queues a frame behind the others.  0, or -1 (past pubsub_worker_queue,
 * out of memory). */
static int queue_add(const void *frame, size_t len)
{
    struct qframe *q;

    if (ps.qbytes + len > ps.w->cfg->pubsub_worker_queue ||
        (q = malloc(sizeof *q + len)) == NULL)
        return -1;
    q->next = NULL;
    q->len = len;
    memcpy(q->data, frame, len);
    if (ps.qtail)
        ps.qtail->next = q;
    else
        ps.qhead = q;
    ps.qtail = q;
    ps.qbytes += len;
    ev_io_start(ps.w->loop, &ps.wio);
    return 0;
}

/* Sends (or queues) a frame in order.  0, or -1 when it must be refused. */
static int frame_out(const struct pubsub_frame *f)
{
    size_t n = pubsub_frame_encode(ps.scratch, PUBSUB_FRAME_MAX, f);
    int rc;

    if (ps.chan < 0)
        return 0;                   /* no master: this worker is the world */
    if (n == 0)
        return -1;
    if (ps.qhead != NULL)
        return queue_add(ps.scratch, n);
    rc = channel_send_frame(ps.chan, ps.scratch, n);
    if (rc == 1)
        return queue_add(ps.scratch, n);
    return 0;                       /* sent, or the master is gone */
}

static void tell_master(char type, const struct channel *ch)
{
    struct pubsub_frame f = { .type = type, .channel = ch->e.name, .channel_len = ch->e.len };

    if (frame_out(&f) < 0)
        log_warn("pubsub: telling the master of channel %.*s failed (queue full)",
                 (int)ch->e.len, ch->e.name);
}

/* ---- the tables -------------------------------------------------------------- */

static struct channel *channel_get(const char *name, size_t len, int create)
{
    struct channel *ch = (struct channel *)nametab_find(&ps.channels, name, len);

    if (ch || !create)
        return ch;
    if ((ch = calloc(1, sizeof *ch)) == NULL)
        return NULL;
    name_entry_set(&ch->e, name, len);
    if (nametab_add(&ps.channels, &ch->e) < 0) {
        free(ch);
        return NULL;
    }
    ps.st.channels++;
    tell_master(CHAN_SUB, ch);
    return ch;
}

static void channel_maybe_free(struct channel *ch)
{
    if (ch->subs != NULL)
        return;
    tell_master(CHAN_UNSUB, ch);
    nametab_remove(&ps.channels, &ch->e);
    ps.st.channels--;
    free(ch);
}

/* An owner's key: kind, then id or fn and data. */
static size_t owner_key(char *key, int kind, kiln_id id, pubsub_fn *fn, void *data)
{
    key[0] = (char)kind;
    if (kind != PUBSUB_FN) {
        memcpy(key + 1, &id, sizeof id);
        return 1 + sizeof id;
    }
    memcpy(key + 1, &fn, sizeof fn);
    memcpy(key + 1 + sizeof fn, &data, sizeof data);
    return 1 + sizeof fn + sizeof data;
}

static struct owner *owner_get(int kind, kiln_id id, pubsub_fn *fn, void *data, int create)
{
    char key[1 + 2 * sizeof(void *) + sizeof(kiln_id)];
    size_t n = owner_key(key, kind, id, fn, data);
    struct owner *ow = (struct owner *)nametab_find(&ps.owners, key, n);

    if (ow || !create)
        return ow;
    if ((ow = calloc(1, sizeof *ow)) == NULL)
        return NULL;
    name_entry_set(&ow->e, key, n);
    *ow = (struct owner){ .e = ow->e, .kind = kind, .id = id, .fn = fn, .data = data };
    if (nametab_add(&ps.owners, &ow->e) < 0) {
        free(ow);
        return NULL;
    }
    return ow;
}

static void owner_maybe_free(struct owner *ow)
{
    if (ow->subs != NULL)
        return;
    nametab_remove(&ps.owners, &ow->e);
    free(ow);
}

static struct sub **owner_find_sub(struct owner *ow, const struct channel *ch)
{
    struct sub **pp;

    for (pp = &ow->subs; *pp; pp = &(*pp)->own_next)
        if ((*pp)->ch == ch)
            return pp;
    return NULL;
}

/* Subscribes an owner.  0 (also when it was), or -1 (out of memory). */
static int subscribe(int kind, kiln_id id, pubsub_fn *fn, void *data,
                     const char *name, size_t len)
{
    struct owner *ow = owner_get(kind, id, fn, data, 1);
    struct channel *ch;
    struct sub *s;

    if (ow == NULL)
        return -1;
    ch = channel_get(name, len, 1);
    if (ch != NULL && owner_find_sub(ow, ch) != NULL)
        return 0;
    if (ch == NULL || (s = calloc(1, sizeof *s)) == NULL) {
        if (ch)
            channel_maybe_free(ch);
        owner_maybe_free(ow);
        return -1;
    }
    *s = (struct sub){ .ch = ch, .ow = ow, .next = ch->subs, .own_next = ow->subs };
    if (ch->subs)
        ch->subs->prev = s;
    ch->subs = s;
    ch->n++;
    ow->subs = s;
    ps.st.subscriptions++;
    return 0;
}

/* Takes s out of its channel (freed when empty); not out of its owner. */
static void sub_unlink(struct sub *s)
{
    struct channel *ch = s->ch;

    if (s->prev)
        s->prev->next = s->next;
    else
        ch->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    ch->n--;
    ps.st.subscriptions--;
    free(s);
    channel_maybe_free(ch);
}

/* Unsubscribes an owner.  0, or -1 when it was not subscribed. */
static int unsubscribe(int kind, kiln_id id, pubsub_fn *fn, void *data,
                       const char *name, size_t len)
{
    struct owner *ow = owner_get(kind, id, fn, data, 0);
    struct channel *ch = channel_get(name, len, 0);
    struct sub **pp, *s;

    if (ow == NULL || ch == NULL || (pp = owner_find_sub(ow, ch)) == NULL)
        return -1;
    s = *pp;
    *pp = s->own_next;
    sub_unlink(s);
    owner_maybe_free(ow);
    return 0;
}

void pubsub_gone(enum pubsub_kind kind, kiln_id id)
{
    struct owner *ow;
    struct sub *s, *next;

    if (ps.owners.n == 0 || (ow = owner_get(kind, id, NULL, NULL, 0)) == NULL)
        return;
    for (s = ow->subs; s; s = next) {
        next = s->own_next;
        sub_unlink(s);
    }
    ow->subs = NULL;
    owner_maybe_free(ow);
}

/* ---- delivery ---------------------------------------------------------------- */

/* Hands a message to one subscriber, counting it. */
static void deliver_one(const struct target *t, const char *name, size_t nlen, int binary,
                        const void *msg, size_t len)
{
    size_t limit = ps.w->cfg->pubsub_subscriber_queue;
    int rc;

    if (t->kind == PUBSUB_FN) {
        t->fn(name, nlen, binary, msg, len, t->data);
        rc = 0;
    } else if (t->kind == PUBSUB_WS) {
        rc = ws_pubsub_send(t->id, binary, msg, len, limit);
    } else {
        rc = binary ? -1 : sse_pubsub_send(t->id, msg, len, limit);
    }
    if (rc == 0)
        ps.st.delivered++;
    else if (rc == 1)
        ps.st.dropped_slow++;
}

/* Delivers a message to every local subscriber of its channel. */
static void deliver(const char *name, size_t nlen, int binary, const void *msg, size_t len)
{
    struct channel *ch = channel_get(name, nlen, 0);
    struct target some[32], *t = some;
    size_t n = 0;

    if (ch == NULL)
        return;
    if (ch->n > sizeof some / sizeof some[0] && (t = malloc(ch->n * sizeof *t)) == NULL) {
        log_error("pubsub: out of memory delivering on channel %.*s", (int)nlen, name);
        return;
    }
    for (struct sub *s = ch->subs; s; s = s->next)
        t[n++] = (struct target){ s->ow->kind, s->ow->id, s->ow->fn, s->ow->data };
    for (size_t i = 0; i < n; i++)
        deliver_one(&t[i], name, nlen, binary, msg, len);
    if (t != some)
        free(t);
}

void pubsub_receive(const void *frame, size_t len)
{
    struct pubsub_frame f;

    if (pubsub_frame_decode(frame, len, &f) < 0 || f.type != CHAN_PUB) {
        log_warn("pubsub: a malformed frame (%zu bytes) from the master, dropped", len);
        return;
    }
    ps.st.received++;
    deliver(f.channel, f.channel_len, f.binary, f.msg, f.len);
}

/* ---- publishing -------------------------------------------------------------- */

static void refused(const char *channel, size_t nlen)
{
    double now = ev_now(ps.w->loop);

    ps.st.refused++;
    if (now - ps.refused_logged < REFUSED_LOG_EVERY)
        return;
    ps.refused_logged = now;
    log_warn("pubsub: queue to the master full (pubsub_worker_queue %zu bytes): "
             "a message on %.*s refused (%llu so far)", ps.w->cfg->pubsub_worker_queue,
             (int)nlen, channel, (unsigned long long)ps.st.refused);
}

int pubsub_send_out(const char *channel, size_t nlen, int binary, const void *msg, size_t len)
{
    struct pubsub_frame f = { .type = CHAN_PUB, .binary = binary, .channel = channel,
                              .channel_len = nlen, .msg = msg, .len = len };

    if (ps.w == NULL || len > ps.w->cfg->pubsub_max_message)
        return -1;
    if (frame_out(&f) < 0) {
        refused(channel, nlen);
        return -1;
    }
    return 0;
}

KILN_EXPORT int kiln_publish(const char *channel, int binary, const void *msg, size_t len)
{
    size_t nlen = channel ? strnlen(channel, PUBSUB_CHANNEL_MAX + 1) : 0;

    if (ps.w == NULL || !pubsub_channel_ok(channel, nlen) || (msg == NULL && len > 0) ||
        len > ps.w->cfg->pubsub_max_message)
        return -1;
    if (pubsub_send_out(channel, nlen, binary ? 1 : 0, msg, len) < 0)
        return -1;
    ps.st.published++;
    deliver(channel, nlen, binary ? 1 : 0, msg, len);
    return 0;
}

KILN_EXPORT int kiln_publish_text(const char *channel, const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n, rc;

    if (fmt == NULL)
        return -1;
    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    rc = kiln_publish(channel, 0, s, (size_t)n);
    free(s);
    return rc;
}

/* ---- subscribing ------------------------------------------------------------- */

/* A plugin's channel name: its length, or 0 when it is not one. */
static size_t name_len(const char *channel)
{
    size_t n = channel ? strnlen(channel, PUBSUB_CHANNEL_MAX + 1) : 0;

    return pubsub_channel_ok(channel, n) ? n : 0;
}

KILN_EXPORT int kiln_subscribe(kiln_ws *ws, const char *channel)
{
    kiln_id id = ws_live_id(ws);
    size_t n = name_len(channel);

    if (ps.w == NULL || id == 0 || n == 0)
        return -1;
    return subscribe(PUBSUB_WS, id, NULL, NULL, channel, n);
}

KILN_EXPORT int kiln_unsubscribe(kiln_ws *ws, const char *channel)
{
    size_t n = name_len(channel);

    if (ps.w == NULL || ws == NULL || n == 0)
        return -1;
    return unsubscribe(PUBSUB_WS, kiln_ws_id(ws), NULL, NULL, channel, n);
}

KILN_EXPORT int kiln_sse_subscribe(kiln_id stream, const char *channel)
{
    size_t n = name_len(channel);

    if (ps.w == NULL || !stream_is_sse(stream) || n == 0)
        return -1;
    return subscribe(PUBSUB_SSE, stream, NULL, NULL, channel, n);
}

KILN_EXPORT int kiln_sse_unsubscribe(kiln_id stream, const char *channel)
{
    size_t n = name_len(channel);

    if (ps.w == NULL || n == 0)
        return -1;
    return unsubscribe(PUBSUB_SSE, stream, NULL, NULL, channel, n);
}

int pubsub_join(const char *channel, size_t len, pubsub_fn *fn, void *data)
{
    if (ps.w == NULL || len == 0 || len > PUBSUB_CHANNEL_MAX || fn == NULL)
        return -1;
    return subscribe(PUBSUB_FN, 0, fn, data, channel, len);
}

int pubsub_leave(const char *channel, size_t len, pubsub_fn *fn, void *data)
{
    if (ps.w == NULL || len == 0 || len > PUBSUB_CHANNEL_MAX)
        return -1;
    return unsubscribe(PUBSUB_FN, 0, fn, data, channel, len);
}

/* ---- life -------------------------------------------------------------------- */

void pubsub_init(struct worker *w, int chan_fd)
{
    ps.w = w;
    ps.chan = chan_fd;
    ps.scratch = malloc(PUBSUB_FRAME_MAX);
    if (ps.scratch == NULL) {
        log_error("pubsub: out of memory: this worker publishes locally only");
        ps.chan = -1;
    }
    ev_io_init(&ps.wio, on_writable, chan_fd, EV_WRITE);
}

/* Frees every owner and channel left (kiln's own subscriptions). */
static void tables_free(void)
{
    struct name_entry *e;

    for (size_t i = 0; i < ps.owners.nb; i++)
        while ((e = ps.owners.b[i]) != NULL) {
            struct owner *ow = (struct owner *)e;
            struct sub *s, *next;
            for (s = ow->subs; s; s = next) {
                next = s->own_next;
                sub_unlink(s);
            }
            ow->subs = NULL;
            owner_maybe_free(ow);
        }
    nametab_free(&ps.owners);
    nametab_free(&ps.channels);
}

void pubsub_shutdown(void)
{
    struct qframe *q, *next;

    if (ps.w == NULL)
        return;
    ps.chan = -1;                   /* the master need not hear of it */
    tables_free();
    ev_io_stop(ps.w->loop, &ps.wio);
    for (q = ps.qhead; q; q = next) {
        next = q->next;
        free(q);
    }
    ps.qhead = ps.qtail = NULL;
    ps.qbytes = 0;
    free(ps.scratch);
    ps.scratch = NULL;
    ps.w = NULL;
}

void pubsub_stats(struct pubsub_stats *out)
{
    *out = ps.st;
    out->queued_bytes = ps.qbytes;
}
