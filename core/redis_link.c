/*
 * redis_link.c -- one hiredis connection on a libev loop (a struct
 * redis_link, see redis_link.h): its address, its AUTH/SELECT handshake and
 * connect_timeout, reconnects with jittered back-off, the log of its
 * outages and refusals, and the subscriber mode's pushes decoded; the
 * commands on it are its owner's (worker/redis.c, master/pubsub_redis.c).
 *
 * This file owns the hiredis context; it and worker/redis.c are the only
 * files that include hiredis (redis.c for formatting commands and reading
 * replies).  Each context points back at its link (ac->data), so that a
 * callback finds the link whose context it is, or was.
 *
 * hiredis frees its context itself when the link fails, after running
 * every callback left with a NULL reply and calling on_disconnect; l->ac
 * is set to NULL first whenever kiln gives a link up, so that those late
 * callbacks of an old context find it is not l->ac.  redisAsyncFree() is
 * called from the link's timers, from redis_link_stop(), or from inside a
 * reply callback (where hiredis defers it), never from the connect or
 * disconnect callbacks.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <ev.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libev.h>

#include "kiln.h"
#include "log.h"
#include "redis_link.h"

#define BACKOFF_FIRST 0.1           /* s before the first retry */
#define BACKOFF_MAX 5.0             /* s, the longest wait between two tries */

/* What a handshake command is for: its config key, for the log. */
struct step {
    const char *key;
    const char *command;
};

static const struct step step_auth = {"password", "AUTH"};
static const struct step step_select = {"db", "SELECT"};

static void link_start(struct redis_link *l);

static struct redis_link *link_of(const redisAsyncContext *ac)
{
    return ac->data;
}

static const char *label(const struct redis_link *l)
{
    return l->conf.label ? l->conf.label : "redis";
}

/* An outage's warnings, or their debug lines on a quiet link. */
static int outage_level(const struct redis_link *l, int level)
{
    return l->conf.quiet ? LOG_DEBUG : level;
}

/* A number in [0, 1) (xorshift64*: each link draws its own jitter). */
static double draw(struct redis_link *l)
{
    l->rng ^= l->rng >> 12;
    l->rng ^= l->rng << 25;
    l->rng ^= l->rng >> 27;
    return (double)((l->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* Tries again after the back-off: half of it, plus up to as much again. */
static void retry_later(struct redis_link *l)
{
    double wait = l->backoff / 2 + draw(l) * l->backoff / 2;

    l->backoff = l->backoff * 2 < BACKOFF_MAX ? l->backoff * 2 : BACKOFF_MAX;
    ev_timer_set(&l->retry_timer, wait, 0.);
    ev_timer_start(l->loop, &l->retry_timer);
}

static void outage_begin(struct redis_link *l)
{
    if (l->outage)
        return;
    l->outage = 1;
    l->down_since = ev_now(l->loop);
}

/* The link's connection is gone (READY -> DOWN): one warning per outage. */
static void link_lost(struct redis_link *l, const redisAsyncContext *ac)
{
    l->ac = NULL;
    l->state = REDIS_LINK_DOWN;
    if (!l->outage)
        log_msg(outage_level(l, LOG_WARN), "[%s] connection to %s lost: %s; reconnecting",
                label(l), l->conf.address,
                ac->errstr && ac->errstr[0] ? ac->errstr : "closed");
    outage_begin(l);
    retry_later(l);
    if (l->ev.on_lost)
        l->ev.on_lost(l, l->arg);
}

/*
 * A connect, or its handshake, failed (CONNECTING -> DOWN); the caller frees
 * the context, or hiredis does.  Logged once per outage, and a refusal of
 * AUTH or SELECT (`refusal`: a wrong key) again whenever its text changes;
 * the other tries at debug level.  The owner hears of it (on_failed).
 */
static void link_failed(struct redis_link *l, int refusal, const char *fmt, ...)
    KILN_PRINTF(3, 4);
static void link_failed(struct redis_link *l, int refusal, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    l->ac = NULL;
    l->state = REDIS_LINK_DOWN;
    ev_timer_stop(l->loop, &l->connect_timer);
    if (refusal ? strcmp(msg, l->refusal) != 0 : !l->outage)
        log_msg(refusal ? LOG_ERROR : outage_level(l, LOG_WARN),
                "[%s] %s; retrying with back-off", label(l), msg);
    else
        log_debug("[%s] %s", label(l), msg);
    if (refusal)
        snprintf(l->refusal, sizeof(l->refusal), "%s", msg);
    outage_begin(l);
    l->ev.on_failed(l, l->arg);
    retry_later(l);
}

/* Connected and, when asked for, authenticated and on its db; the owner
 * hears of it (on_ready). */
static void link_ready(struct redis_link *l)
{
    ev_timer_stop(l->loop, &l->connect_timer);
    l->state = REDIS_LINK_READY;
    l->backoff = BACKOFF_FIRST;
    if (l->outage)
        log_msg(outage_level(l, LOG_INFO), "[%s] connected to %s again, after %.1f s",
                label(l), l->conf.address, ev_now(l->loop) - l->down_since);
    else
        log_debug("[%s] connected to %s", label(l), l->conf.address);
    l->outage = 0;
    l->refusal[0] = '\0';
    l->ev.on_ready(l, l->arg);
}

static const char *why(const redisAsyncContext *ac)
{
    return ac->errstr && ac->errstr[0] ? ac->errstr : "connection closed";
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct redis_link *l = link_of(ac);

    if (ac != l->ac)
        return;
    if (status != REDIS_OK)
        link_failed(l, 0, "cannot connect to %s: %s", l->conf.address, why(ac));
    else if (l->handshake == 0)
        link_ready(l);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct redis_link *l = link_of(ac);

    (void)status;
    if (ac != l->ac)
        return;                     /* given up by kiln before */
    if (l->state == REDIS_LINK_READY)
        link_lost(l, ac);
    else
        link_failed(l, 0, "cannot connect to %s: %s", l->conf.address, why(ac));
}

/* The reply to AUTH or SELECT: a refusal is a failed connect. */
static void on_handshake(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct redis_link *l = link_of(ac);
    const struct step *s = privdata;
    redisReply *r = reply;

    if (ac != l->ac)
        return;
    if (!r) {
        link_failed(l, 0, "cannot connect to %s: %s", l->conf.address, why(ac));
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        if (s == &step_select)
            link_failed(l, 1, "db = %zu: SELECT refused by %s: %s", l->conf.db,
                        l->conf.address, r->str);
        else
            link_failed(l, 1, "%s: %s refused by %s: %s", s->key, s->command,
                        l->conf.address, r->str);
        redisAsyncFree(ac);         /* inside its callback: once it returns */
        return;
    }
    if (--l->handshake == 0)
        link_ready(l);
}

/* A command's reply; NULL when its context is gone (hiredis empties its
 * queue before it frees the context), which the first such reply of the
 * current context tells the link. */
static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct redis_link *l = link_of(ac);

    if (!reply && ac == l->ac)
        link_lost(l, ac);
    l->ev.on_reply(l, reply, privdata, l->arg);
}

static int is_string(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING;
}

/*
 * What a subscribed link's server pushed: hiredis calls a SUBSCRIBE's
 * callback for every reply about its channels (the confirmations, each
 * message), and with NULL for each channel when the context goes, which
 * the first such call of the current context tells the link.
 */
static void on_push_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct redis_link *l = link_of(ac);
    redisReply *r = reply, **e;
    enum redis_push kind;

    (void)privdata;
    if (!r || ac != l->ac) {
        if (!r && ac == l->ac)
            link_lost(l, ac);
        return;
    }
    e = r->element;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 || !is_string(e[0]) || !is_string(e[1]))
        return;
    if (strcasecmp(e[0]->str, "message") == 0 && is_string(e[2]))
        kind = REDIS_PUSH_MESSAGE;
    else if (strcasecmp(e[0]->str, "subscribe") == 0)
        kind = REDIS_PUSH_SUBSCRIBE;
    else if (strcasecmp(e[0]->str, "unsubscribe") == 0)
        kind = REDIS_PUSH_UNSUBSCRIBE;
    else
        return;
    l->ev.on_push(l, kind, e[1]->str, e[1]->len, kind == REDIS_PUSH_MESSAGE ? e[2]->str : NULL,
                  kind == REDIS_PUSH_MESSAGE ? e[2]->len : 0, l->arg);
}

/* AUTH and SELECT, first in the connection's output. */
static void handshake_send(struct redis_link *l, redisAsyncContext *ac)
{
    const char *argv[2];
    char db[32];

    if (l->conf.password) {
        argv[0] = "AUTH";
        argv[1] = l->conf.password;
        if (redisAsyncCommandArgv(ac, on_handshake, (void *)&step_auth, 2, argv, NULL) ==
            REDIS_OK)
            l->handshake++;
    }
    if (l->conf.db) {
        snprintf(db, sizeof(db), "%zu", l->conf.db);
        argv[0] = "SELECT";
        argv[1] = db;
        if (redisAsyncCommandArgv(ac, on_handshake, (void *)&step_select, 2, argv, NULL) ==
            REDIS_OK)
            l->handshake++;
    }
}

static void on_connect_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct redis_link *l = t->data;
    redisAsyncContext *ac = l->ac;

    (void)loop;
    (void)revents;
    if (l->state != REDIS_LINK_CONNECTING || !ac)
        return;
    link_failed(l, 0, "connecting to %s: no answer within connect_timeout (%g s)",
                l->conf.address, l->conf.connect_timeout);
    redisAsyncFree(ac);
}

static void on_retry_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct redis_link *l = t->data;

    (void)loop;
    (void)revents;
    if (l->state == REDIS_LINK_DOWN)
        link_start(l);
}

/* A new connection (-> CONNECTING), or a failure that retries later. */
static void link_start(struct redis_link *l)
{
    redisAsyncContext *ac;
    char err[128];

    ac = l->path ? redisAsyncConnectUnix(l->path) : redisAsyncConnect(l->host, l->port);
    if (!ac || ac->err) {
        snprintf(err, sizeof(err), "%s", ac ? why(ac) : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        link_failed(l, 0, "cannot connect to %s: %s", l->conf.address, err);
        return;
    }
    (void)fcntl(ac->c.fd, F_SETFD, FD_CLOEXEC);
    if (l->conf.keepalive && !l->path)
        (void)redisEnableKeepAlive(&ac->c);
    ac->data = l;
    redisLibevAttach(l->loop, ac);
    l->ac = ac;
    l->state = REDIS_LINK_CONNECTING;
    l->handshake = 0;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    handshake_send(l, ac);
    ev_timer_set(&l->connect_timer, l->conf.connect_timeout, 0.);
    ev_timer_start(l->loop, &l->connect_timer);
}

/* "host:port" (the host maybe in brackets) or "unix:/path", as the config
 * checked it.  0, or -1 when out of memory. */
static int parse_address(struct redis_link *l, const char *a)
{
    const char *colon = strrchr(a, ':');
    size_t n = (size_t)(colon - a);

    if (strncmp(a, "unix:", 5) == 0) {
        l->path = a + 5;
        return 0;
    }
    if (n >= 2 && a[0] == '[' && a[n - 1] == ']') {
        a++;
        n -= 2;
    }
    l->host = strndup(a, n);
    l->port = atoi(colon + 1);
    return l->host ? 0 : -1;
}

int redis_link_init(struct redis_link *l, struct ev_loop *loop,
                    const struct redis_link_conf *conf, const struct redis_link_events *ev,
                    void *arg)
{
    memset(l, 0, sizeof(*l));
    l->state = REDIS_LINK_OFF;
    l->conf = *conf;
    l->ev = *ev;
    l->arg = arg;
    l->loop = loop;
    l->backoff = BACKOFF_FIRST;
    l->rng = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)l ^
             0x9e3779b97f4a7c15ULL;
    ev_init(&l->connect_timer, on_connect_timer);
    ev_init(&l->retry_timer, on_retry_timer);
    l->connect_timer.data = l;
    l->retry_timer.data = l;
    if (conf->address && parse_address(l, conf->address) < 0) {
        log_error("[%s] address %s: out of memory", label(l), conf->address);
        l->conf.address = NULL;
        return -1;
    }
    return 0;
}

void redis_link_start(struct redis_link *l)
{
    if (l->state == REDIS_LINK_OFF && l->conf.address)
        link_start(l);
}

void redis_link_stop(struct redis_link *l)
{
    redisAsyncContext *ac = l->ac;

    l->state = REDIS_LINK_STOPPED;
    l->ac = NULL;
    if (l->loop) {
        ev_timer_stop(l->loop, &l->connect_timer);
        ev_timer_stop(l->loop, &l->retry_timer);
    }
    if (ac)
        redisAsyncFree(ac);         /* those in flight: on_reply(NULL) */
    free(l->host);
    l->host = NULL;
}

enum redis_link_state redis_link_state(const struct redis_link *l)
{
    return l->state;
}

int redis_link_command(struct redis_link *l, void *privdata, int argc, const char **argv,
                       const size_t *argvlen)
{
    if (l->state != REDIS_LINK_READY ||
        redisAsyncCommandArgv(l->ac, on_reply, privdata, argc, argv, argvlen) != REDIS_OK)
        return -1;
    return 0;
}

int redis_link_formatted(struct redis_link *l, void *privdata, const char *cmd, size_t len)
{
    if (l->state != REDIS_LINK_READY ||
        redisAsyncFormattedCommand(l->ac, on_reply, privdata, cmd, len) != REDIS_OK)
        return -1;
    return 0;
}

const char *redis_link_error(const struct redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR ? r->str : NULL;
}

int redis_link_subscribe(struct redis_link *l, int unsubscribe, size_t n,
                         const char *const *channels, const size_t *lens)
{
    const char **argv = NULL;
    size_t *argvlen = NULL;
    int rc = -1;

    if (l->state != REDIS_LINK_READY || n == 0 || n > 1u << 20)
        return -1;
    argv = malloc((n + 1) * sizeof(*argv));
    argvlen = malloc((n + 1) * sizeof(*argvlen));
    if (!argv || !argvlen)
        goto out;
    argv[0] = unsubscribe ? "UNSUBSCRIBE" : "SUBSCRIBE";
    argvlen[0] = strlen(argv[0]);
    memcpy(argv + 1, channels, n * sizeof(*argv));
    memcpy(argvlen + 1, lens, n * sizeof(*argvlen));
    if (redisAsyncCommandArgv(l->ac, on_push_reply, NULL, (int)n + 1, argv, argvlen) == REDIS_OK)
        rc = 0;
out:
    free(argv);
    free(argvlen);
    return rc;
}
