/*
 * pubsub.c -- the master's fan-out of publish/subscribe: channel -> the
 * workers subscribed to it, each worker's message passed on to the others
 * (queued, bounded, for a worker whose channel is full), and the bus to
 * other hosts.
 *
 * On the bus a message travels as [host id: 8 bytes][flags: 1 byte][bytes]:
 * the host id is drawn at each start, so that this master skips what it
 * published itself (the bus delivers it back) and passes on the others' to
 * every subscribed worker.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "nametab.h"
#include "pubsub.h"
#include "pubsub_bus.h"
#include "pubsub_frame.h"
#include "spawn.h"
#include "state.h"

#define DROP_LOG_EVERY 10.0         /* s between warnings of drops */
#define BUS_HEAD 9                  /* host id and flags */

struct link;

/* A frame waiting for a worker's channel. */
struct qframe {
    struct qframe *next;
    size_t len;
    unsigned char data[];
};

/* A worker as the fan-out sees it (w->fanout). */
struct fanout_peer {
    struct worker_proc *w;
    struct link *links;             /* its channels, by p_next */
    struct qframe *qhead, *qtail;
    size_t qbytes;
    uint64_t dropped;
    ev_io wio;                      /* its channel is writable again */
};

/* A channel some worker subscribes to. */
struct mchan {
    struct name_entry e;            /* first: the name */
    struct link *links;
    size_t n;
};

struct link {
    struct mchan *ch;
    struct fanout_peer *p;
    struct link *prev, *next;       /* in ch->links */
    struct link *p_next;            /* in p->links */
};

static struct nametab chans;        /* m->fanout->chans */

/* ---- sending to one worker --------------------------------------------------- */

static size_t queue_limit(const struct master *m)
{
    return m->current ? m->current->cfg->pubsub_worker_queue : (size_t)16 << 20;
}

static void queue_flush(struct fanout *f, struct fanout_peer *p)
{
    struct qframe *q;

    while ((q = p->qhead) != NULL) {
        if (channel_send_frame(p->w->chan, q->data, q->len) == 1)
            return;
        p->qhead = q->next;
        p->qbytes -= q->len;
        f->st.queued_bytes -= q->len;
        free(q);
    }
    p->qtail = NULL;
    ev_io_stop(f->m->loop, &p->wio);
}

static void on_writable(struct ev_loop *loop, ev_io *io, int revents)
{
    struct fanout_peer *p = io->data;

    (void)loop;
    (void)revents;
    queue_flush(p->w->m->fanout, p);
}

static void dropped(struct fanout *f, struct fanout_peer *p)
{
    double now = ev_now(f->m->loop);

    p->dropped++;
    f->st.dropped++;
    metrics_master_pubsub(f->m->metrics, 0, 0, 1);
    if (now - f->dropped_logged < DROP_LOG_EVERY)
        return;
    f->dropped_logged = now;
    log_warn("pubsub: worker %ld does not keep up: %zu bytes queued for it "
             "(pubsub_worker_queue); messages to it dropped (%llu so far, %llu in all)",
             (long)p->w->pid, p->qbytes, (unsigned long long)p->dropped,
             (unsigned long long)f->st.dropped);
}

/* Sends a frame to p, or queues it behind the others; past the queue's
 * limit, drops it. */
static void peer_send(struct fanout *f, struct fanout_peer *p, const void *frame, size_t len)
{
    struct qframe *q;

    if (p->w->chan < 0)
        return;
    if (p->qhead == NULL && channel_send_frame(p->w->chan, frame, len) != 1) {
        f->st.forwarded++;
        return;                     /* sent, or the worker is going */
    }
    if (p->qbytes + len > queue_limit(f->m) || (q = malloc(sizeof *q + len)) == NULL) {
        dropped(f, p);
        return;
    }
    q->next = NULL;
    q->len = len;
    memcpy(q->data, frame, len);
    if (p->qtail)
        p->qtail->next = q;
    else
        p->qhead = q;
    p->qtail = q;
    p->qbytes += len;
    f->st.queued_bytes += len;
    f->st.forwarded++;
    ev_io_start(f->m->loop, &p->wio);
}

/* A message frame to every worker of ch but `from` (NULL: all). */
static void fan_out(struct fanout *f, const struct mchan *ch, const struct fanout_peer *from,
                    const void *frame, size_t len)
{
    for (struct link *l = ch->links; l; l = l->next)
        if (l->p != from)
            peer_send(f, l->p, frame, len);
}

/* ---- the table --------------------------------------------------------------- */

static struct fanout_peer *peer_of(struct master *m, struct worker_proc *w)
{
    struct fanout_peer *p = w->fanout;

    if (p != NULL || (p = calloc(1, sizeof *p)) == NULL)
        return p;
    p->w = w;
    ev_io_init(&p->wio, on_writable, w->chan, EV_WRITE);
    p->wio.data = p;
    w->fanout = p;
    (void)m;
    return p;
}

static void bus_subscription(struct fanout *f, const struct mchan *ch, int on)
{
    int rc;

    if (f->bus == NULL)
        return;
    rc = on ? pubsub_bus_subscribe(f->bus, ch->e.name, ch->e.len)
            : pubsub_bus_unsubscribe(f->bus, ch->e.name, ch->e.len);
    if (rc < 0)
        log_error("pubsub: %ssubscribing channel %.*s on the bus failed (out of memory)",
                  on ? "" : "un", (int)ch->e.len, ch->e.name);
}

static void sub_add(struct fanout *f, struct fanout_peer *p, const char *name, size_t len)
{
    struct mchan *ch = (struct mchan *)nametab_find(&chans, name, len);
    struct link *l;

    for (l = p->links; ch && l; l = l->p_next)
        if (l->ch == ch)
            return;                 /* already */
    if (ch == NULL) {
        if ((ch = calloc(1, sizeof *ch)) == NULL)
            goto oom;
        name_entry_set(&ch->e, name, len);
        if (nametab_add(&chans, &ch->e) < 0) {
            free(ch);
            goto oom;
        }
        f->st.channels++;
        bus_subscription(f, ch, 1);
    }
    if ((l = calloc(1, sizeof *l)) == NULL)
        goto oom;
    *l = (struct link){ .ch = ch, .p = p, .next = ch->links, .p_next = p->links };
    if (ch->links)
        ch->links->prev = l;
    ch->links = l;
    ch->n++;
    p->links = l;
    f->st.subscriptions++;
    return;
oom:
    log_error("pubsub: out of memory: worker %ld misses channel %.*s", (long)p->w->pid,
              (int)len, name);
}

/* Takes l out of its channel (freed once empty) and frees it. */
static void link_free(struct fanout *f, struct link *l)
{
    struct mchan *ch = l->ch;

    if (l->prev)
        l->prev->next = l->next;
    else
        ch->links = l->next;
    if (l->next)
        l->next->prev = l->prev;
    ch->n--;
    f->st.subscriptions--;
    free(l);
    if (ch->links != NULL)
        return;
    bus_subscription(f, ch, 0);
    nametab_remove(&chans, &ch->e);
    f->st.channels--;
    free(ch);
}

static void sub_remove(struct fanout *f, struct fanout_peer *p, const char *name, size_t len)
{
    struct link **pp, *l;

    for (pp = &p->links; (l = *pp) != NULL; pp = &l->p_next)
        if (l->ch->e.len == len && memcmp(l->ch->e.name, name, len) == 0) {
            *pp = l->p_next;
            link_free(f, l);
            return;
        }
}

/* ---- messages ---------------------------------------------------------------- */

/* Publishes a worker's message on the bus: host id, flags, bytes. */
static void bus_publish(struct fanout *f, const struct pubsub_frame *fr)
{
    unsigned char *b = f->scratch;

    if (f->bus == NULL || fr->len > PUBSUB_MESSAGE_CAP)
        return;
    memcpy(b, f->host, sizeof f->host);
    b[8] = fr->binary ? PUBSUB_BINARY : 0;
    memcpy(b + BUS_HEAD, fr->msg, fr->len);
    if (pubsub_bus_publish(f->bus, fr->channel, fr->channel_len, b, BUS_HEAD + fr->len) < 0)
        f->st.bus_refused++;
}

void fanout_frame(struct master *m, struct worker_proc *w, const void *frame, size_t len)
{
    struct fanout *f = m->fanout;
    struct fanout_peer *p = peer_of(m, w);
    struct pubsub_frame fr;
    struct mchan *ch;

    if (pubsub_frame_decode(frame, len, &fr) < 0) {
        log_warn("pubsub: a malformed frame (%zu bytes) from worker %ld, dropped", len,
                 (long)w->pid);
        return;
    }
    if (p == NULL) {
        log_error("pubsub: out of memory: a frame of worker %ld dropped", (long)w->pid);
        return;
    }
    if (fr.type == CHAN_SUB)
        sub_add(f, p, fr.channel, fr.channel_len);
    else if (fr.type == CHAN_UNSUB)
        sub_remove(f, p, fr.channel, fr.channel_len);
    else {
        f->st.received++;
        ch = (struct mchan *)nametab_find(&chans, fr.channel, fr.channel_len);
        if (ch != NULL)
            fan_out(f, ch, p, frame, len);
        bus_publish(f, &fr);
    }
}

/* The bus delivered a message: another host's goes to every subscribed worker. */
static void on_bus_message(void *arg, const char *channel, size_t channel_len,
                           const void *payload, size_t len)
{
    struct fanout *f = arg;
    const unsigned char *b = payload;
    struct pubsub_frame fr = { .type = CHAN_PUB, .channel = channel,
                               .channel_len = channel_len };
    struct mchan *ch;
    size_t n;

    if (len < BUS_HEAD || memcmp(b, f->host, sizeof f->host) == 0)
        return;                     /* malformed, or ours coming back */
    ch = (struct mchan *)nametab_find(&chans, channel, channel_len);
    if (ch == NULL)
        return;
    fr.binary = b[8] & PUBSUB_BINARY;
    fr.msg = b + BUS_HEAD;
    fr.len = len - BUS_HEAD;
    n = pubsub_frame_encode(f->scratch, PUBSUB_FRAME_MAX + BUS_HEAD, &fr);
    if (n == 0) {
        log_warn("pubsub: a message of %zu bytes on %.*s from the bus is too long, dropped",
                 fr.len, (int)channel_len, channel);
        return;
    }
    f->st.from_bus++;
    fan_out(f, ch, NULL, f->scratch, n);
}

static void on_bus_state(void *arg, int up)
{
    (void)arg;
    log_debug("pubsub: the bus is %s", up ? "up" : "down");
}

/* ---- life -------------------------------------------------------------------- */

void fanout_gone(struct master *m, struct worker_proc *w)
{
    struct fanout_peer *p = w->fanout;
    struct qframe *q, *next;
    struct link *l, *lnext;

    if (p == NULL)
        return;
    ev_io_stop(m->loop, &p->wio);
    for (l = p->links; l; l = lnext) {
        lnext = l->p_next;
        link_free(m->fanout, l);
    }
    for (q = p->qhead; q; q = next) {
        next = q->next;
        m->fanout->st.queued_bytes -= q->len;
        free(q);
    }
    free(p);
    w->fanout = NULL;
}

static void host_id(unsigned char id[8])
{
    uint64_t v;

    if (getrandom(id, 8, GRND_NONBLOCK) == 8)
        return;
    v = (uint64_t)time(NULL) * 6364136223846793005ull ^ (uint64_t)getpid() << 32 ^
        (uint64_t)clock();
    memcpy(id, &v, 8);
}

int fanout_start(struct master *m, const char *url, char *err, size_t errlen)
{
    static const struct pubsub_bus_events events = { on_bus_message, on_bus_state };
    struct fanout *f = m->fanout;

    f->m = m;
    f->chans = &chans;
    host_id(f->host);
    f->scratch = malloc(PUBSUB_FRAME_MAX + BUS_HEAD);
    if (f->scratch == NULL) {
        snprintf(err, errlen, "pubsub: out of memory");
        return -1;
    }
    if (url == NULL)
        return 0;
    f->bus = pubsub_bus_open(m->loop, url, &events, f, err, errlen);
    if (f->bus == NULL)
        return -1;
    log_info("pubsub: across hosts, through the bus");
    return 0;
}

void fanout_forget(struct master *m)
{
    for (struct worker_proc *w = m->spawn->workers; w; w = w->next)
        if (w->fanout)
            ev_io_stop(m->loop, &w->fanout->wio);
    pubsub_bus_close(m->fanout->bus);   /* a child's copy: its watchers, its fds */
    m->fanout->bus = NULL;
}

void fanout_stop(struct master *m)
{
    struct fanout *f = m->fanout;

    if (f->m == NULL)
        return;                     /* never started */
    for (struct worker_proc *w = m->spawn->workers; w; w = w->next)
        fanout_gone(m, w);
    pubsub_bus_close(f->bus);
    f->bus = NULL;
    nametab_free(&chans);
    free(f->scratch);
    f->scratch = NULL;
}

void fanout_stats(const struct master *m, struct fanout_stats *out)
{
    *out = m->fanout->st;
}
