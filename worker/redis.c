/*
 * redis.c -- a worker's Redis client: one hiredis connection on the loop,
 * the commands of every plugin pipelined on it, each reply handed to its
 * callback with the plugin that sent it marked as running (kiln_redis_*).
 *
 * The link goes OFF (no [redis] address) or CONNECTING -> READY, and from
 * either to DOWN, where a timer tries again with back-off; STOPPED once the
 * worker stops.  A command is named by a handle (core/handles.c) and lives
 * in one place: in `queue` while the worker's first connect is still on
 * (formatted, sent once AUTH and SELECT went through), with hiredis once
 * sent (its privdata), or in `failing` when it gets an error from the
 * loop's next turn (never from inside the call that submitted it).
 * Cancelling one that is with hiredis only clears its callback, so its
 * reply is still read and the replies stay in step with the commands.
 *
 * hiredis (only included here) frees its context itself when the link
 * fails, after running every callback left with a NULL reply and calling
 * on_disconnect; R.ac is set to NULL first whenever kiln gives a link up,
 * so that those late callbacks of an old context find it is not R.ac.
 * redisAsyncFree() is called from kiln's timers, from redis_shutdown(), or
 * from inside a reply callback (where hiredis defers it), never from the
 * connect or disconnect callbacks.
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

#include "config.h"
#include "db.h"
#include "handles.h"
#include "kiln.h"
#include "log.h"
#include "plugin.h"
#include "router.h"
#include "worker.h"

#define BACKOFF_FIRST 0.1           /* s before the first retry */
#define BACKOFF_MAX 5.0             /* s, the longest wait between two tries */
#define SMALL_ARGV 16               /* kiln_redis() arguments without a malloc */

/* The errors of replies that no server sent. */
#define ERR_NOT_CONNECTED "not connected"
#define ERR_LOST "connection lost"
#define ERR_STOPPING "the worker is stopping"
#define ERR_REFUSED "not allowed on the shared connection: SELECT, AUTH, HELLO, QUIT, " \
    "RESET, MONITOR, CLIENT REPLY, (P|S)(UN)SUBSCRIBE"

enum link { LINK_OFF, LINK_CONNECTING, LINK_READY, LINK_DOWN, LINK_STOPPED };
enum where { AT_QUEUE, AT_FAILING, AT_SERVER };

struct cmd {
    kiln_id id;
    kiln_redis_fn cb;               /* NULL once cancelled */
    void *arg;
    struct plugin *plugin;          /* what submitted it */
    const struct route *route;
    enum where where;
    char *wire;                     /* AT_QUEUE: the command, formatted */
    size_t wirelen;
    const char *error;              /* AT_FAILING: the error it gets */
    unsigned long turn;             /* AT_FAILING: the loop turn it is for */
    struct cmd *prev, *next;        /* AT_QUEUE, AT_FAILING: in that list */
};

struct cmd_list {
    struct cmd *head, *tail;
};

/* What a handshake command is for: its config key, for the log. */
struct step {
    const char *key;
    const char *command;
};

static const struct step step_auth = {"password", "AUTH"};
static const struct step step_select = {"db", "SELECT"};

static struct {
    struct worker *w;
    enum link link;
    redisAsyncContext *ac;          /* CONNECTING, READY */
    int handshake;                  /* AUTH/SELECT replies still to come */
    int first;                      /* the first connect: commands wait for it */
    int outage;                     /* down since down_since, a warning given */
    double down_since;
    char refusal[512];              /* the server's last AUTH/SELECT refusal logged */
    double backoff;                 /* the next retry's wait, before jitter */
    uint64_t rng;
    char *host;                     /* TCP: host and port, or */
    int port;
    const char *path;               /* unix: the socket's path */
    struct handles ids;             /* id -> struct cmd */
    struct cmd_list queue;          /* waiting for the first connect */
    struct cmd_list failing;        /* answered with an error next turn */
    unsigned long turn;
    ev_timer connect_timer;         /* connect_timeout, while CONNECTING */
    ev_timer retry_timer;           /* the back-off, while DOWN */
    ev_timer fail_timer;            /* delivers `failing` */
} R;

static void link_start(void);
static void link_lost(const redisAsyncContext *ac);

/* ---- commands ------------------------------------------------------------ */

static void list_push(struct cmd_list *l, struct cmd *c)
{
    c->next = NULL;
    c->prev = l->tail;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
}

static void list_remove(struct cmd_list *l, struct cmd *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
}

static void cmd_free(struct cmd *c)
{
    free(c->wire);
    free(c);
}

/* Runs c's callback, if it has one, with the plugin and route that sent it
 * marked as running (as loop.c runs a timer's); c's id is dead from the
 * callback's first line.  c stays the caller's to free. */
static void deliver(struct cmd *c, const redisReply *r)
{
    struct plugin *outer = plugin_current;

    handle_free(&R.ids, c->id);
    if (!c->cb)
        return;
    if (c->route)
        plugin_enter(R.w->slot, c->route, "REDIS");
    else
        plugin_current = c->plugin;
    c->cb((const kiln_redis_reply *)r, c->arg);
    if (c->route)
        plugin_leave(R.w->slot, 0);
    plugin_current = outer;
}

/* deliver() with an error reply that kiln makes up. */
static void deliver_error(struct cmd *c, const char *msg)
{
    redisReply r;

    memset(&r, 0, sizeof(r));
    r.type = REDIS_REPLY_ERROR;
    r.str = (char *)msg;
    r.len = strlen(msg);
    deliver(c, &r);
}

/* c gets the error `error` from the loop's next turn. */
static void fail_later(struct cmd *c, const char *error)
{
    c->where = AT_FAILING;
    c->error = error;
    c->turn = R.turn;
    list_push(&R.failing, c);
    if (!ev_is_active(&R.fail_timer)) {
        ev_timer_set(&R.fail_timer, 0., 0.);
        ev_timer_start(R.w->loop, &R.fail_timer);
    }
}

/* Delivers the errors of this turn; commands failed by their callbacks
 * wait for the next one (a plugin retrying at once does not spin here). */
static void on_fail_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    unsigned long turn = R.turn++;
    struct cmd *c;

    (void)loop;
    (void)t;
    (void)revents;
    while ((c = R.failing.head) && c->turn == turn) {
        list_remove(&R.failing, c);
        deliver_error(c, c->error);
        cmd_free(c);
    }
}

/* A command's reply from hiredis; NULL when its link is gone (hiredis
 * empties its queue before it frees the context). */
static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct cmd *c = privdata;

    if (!reply && ac == R.ac)
        link_lost(ac);
    if (reply)
        deliver(c, reply);
    else
        deliver_error(c, R.link == LINK_STOPPED ? ERR_STOPPING : ERR_LOST);
    cmd_free(c);
}

/* Hands c to hiredis, queues it for the first connect, or fails it.
 * 0, or -1 when out of memory. */
static int submit(struct cmd *c, int argc, const char **argv, const size_t *argvlen)
{
    int n;

    if (R.link == LINK_READY &&
        redisAsyncCommandArgv(R.ac, on_reply, c, argc, argv, argvlen) == REDIS_OK) {
        c->where = AT_SERVER;
        return 0;
    }
    if (R.link == LINK_CONNECTING && R.first) {
        n = redisFormatCommandArgv(&c->wire, argc, argv, argvlen);
        if (n < 0)
            return -1;
        c->wirelen = (size_t)n;
        c->where = AT_QUEUE;
        list_push(&R.queue, c);
        return 0;
    }
    fail_later(c, ERR_NOT_CONNECTED);
    return 0;
}

/* The commands that waited for the first connect go out behind the
 * handshake. */
static void queue_send(void)
{
    struct cmd *c;

    while ((c = R.queue.head)) {
        list_remove(&R.queue, c);
        if (redisAsyncFormattedCommand(R.ac, on_reply, c, c->wire, c->wirelen) != REDIS_OK) {
            fail_later(c, ERR_NOT_CONNECTED);
            continue;
        }
        c->where = AT_SERVER;
        free(c->wire);
        c->wire = NULL;
    }
}

/* The commands that waited for a connect that failed get an error. */
static void queue_fail(void)
{
    struct cmd *c;

    while ((c = R.queue.head)) {
        list_remove(&R.queue, c);
        free(c->wire);
        c->wire = NULL;
        fail_later(c, ERR_NOT_CONNECTED);
    }
}

/* ---- the link ------------------------------------------------------------- */

static const char *address(void)
{
    return R.w->cfg->redis_address;
}

/* A number in [0, 1) (xorshift64*: each worker draws its own jitter). */
static double draw(void)
{
    R.rng ^= R.rng >> 12;
    R.rng ^= R.rng << 25;
    R.rng ^= R.rng >> 27;
    return (double)((R.rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* Tries again after the back-off: half of it, plus up to as much again. */
static void retry_later(void)
{
    double wait = R.backoff / 2 + draw() * R.backoff / 2;

    R.backoff = R.backoff * 2 < BACKOFF_MAX ? R.backoff * 2 : BACKOFF_MAX;
    ev_timer_set(&R.retry_timer, wait, 0.);
    ev_timer_start(R.w->loop, &R.retry_timer);
}

static void outage_begin(void)
{
    if (R.outage)
        return;
    R.outage = 1;
    R.down_since = ev_now(R.w->loop);
}

/* The link's connection is gone (READY -> DOWN): one warning per outage. */
static void link_lost(const redisAsyncContext *ac)
{
    R.ac = NULL;
    R.link = LINK_DOWN;
    R.first = 0;
    if (!R.outage)
        log_warn("[redis] connection to %s lost: %s; reconnecting", address(),
                 ac->errstr && ac->errstr[0] ? ac->errstr : "closed");
    outage_begin();
    retry_later();
}

/*
 * A connect, or its handshake, failed (CONNECTING -> DOWN); the caller frees
 * the context, or hiredis does.  Logged once per outage, and a refusal of
 * AUTH or SELECT (`refusal`: a wrong key) again whenever its text changes;
 * the other tries at debug level.
 */
static void link_failed(int refusal, const char *fmt, ...) KILN_PRINTF(2, 3);
static void link_failed(int refusal, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    R.ac = NULL;
    R.link = LINK_DOWN;
    R.first = 0;
    ev_timer_stop(R.w->loop, &R.connect_timer);
    if (refusal ? strcmp(msg, R.refusal) != 0 : !R.outage)
        log_msg(refusal ? LOG_ERROR : LOG_WARN, "[redis] %s; retrying with back-off", msg);
    else
        log_debug("[redis] %s", msg);
    if (refusal)
        snprintf(R.refusal, sizeof(R.refusal), "%s", msg);
    outage_begin();
    queue_fail();
    retry_later();
}

/* Connected and, when asked for, authenticated and on its db. */
static void link_ready(void)
{
    ev_timer_stop(R.w->loop, &R.connect_timer);
    R.link = LINK_READY;
    R.first = 0;
    R.backoff = BACKOFF_FIRST;
    if (R.outage)
        log_info("[redis] connected to %s again, after %.1f s", address(),
                 ev_now(R.w->loop) - R.down_since);
    else
        log_debug("[redis] connected to %s", address());
    R.outage = 0;
    R.refusal[0] = '\0';
    queue_send();
}

static const char *why(const redisAsyncContext *ac)
{
    return ac->errstr && ac->errstr[0] ? ac->errstr : "connection closed";
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    if (ac != R.ac)
        return;
    if (status != REDIS_OK)
        link_failed(0, "cannot connect to %s: %s", address(), why(ac));
    else if (R.handshake == 0)
        link_ready();
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    if (ac != R.ac)
        return;                     /* given up by kiln before */
    if (R.link == LINK_READY)
        link_lost(ac);
    else
        link_failed(0, "cannot connect to %s: %s", address(), why(ac));
}

/* The reply to AUTH or SELECT: a refusal is a failed connect. */
static void on_handshake(redisAsyncContext *ac, void *reply, void *privdata)
{
    const struct step *s = privdata;
    redisReply *r = reply;

    if (ac != R.ac)
        return;
    if (!r) {
        link_failed(0, "cannot connect to %s: %s", address(), why(ac));
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        if (s == &step_select)
            link_failed(1, "db = %zu: SELECT refused by %s: %s", R.w->cfg->redis_db,
                        address(), r->str);
        else
            link_failed(1, "%s: %s refused by %s: %s", s->key, s->command, address(), r->str);
        redisAsyncFree(ac);         /* inside its callback: once it returns */
        return;
    }
    if (--R.handshake == 0)
        link_ready();
}

/* AUTH and SELECT, first in the connection's output. */
static void handshake_send(redisAsyncContext *ac)
{
    const struct config *cfg = R.w->cfg;
    const char *argv[2];
    char db[32];

    if (cfg->redis_password) {
        argv[0] = "AUTH";
        argv[1] = cfg->redis_password;
        if (redisAsyncCommandArgv(ac, on_handshake, (void *)&step_auth, 2, argv, NULL) ==
            REDIS_OK)
            R.handshake++;
    }
    if (cfg->redis_db) {
        snprintf(db, sizeof(db), "%zu", cfg->redis_db);
        argv[0] = "SELECT";
        argv[1] = db;
        if (redisAsyncCommandArgv(ac, on_handshake, (void *)&step_select, 2, argv, NULL) ==
            REDIS_OK)
            R.handshake++;
    }
}

static void on_connect_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    redisAsyncContext *ac = R.ac;

    (void)loop;
    (void)t;
    (void)revents;
    if (R.link != LINK_CONNECTING || !ac)
        return;
    link_failed(0, "connecting to %s: no answer within connect_timeout (%g s)", address(),
                R.w->cfg->redis_connect_timeout);
    redisAsyncFree(ac);
}

static void on_retry_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)t;
    (void)revents;
    if (R.link == LINK_DOWN)
        link_start();
}

/* A new connection (-> CONNECTING), or a failure that retries later. */
static void link_start(void)
{
    redisAsyncContext *ac;
    char err[128];

    ac = R.path ? redisAsyncConnectUnix(R.path) : redisAsyncConnect(R.host, R.port);
    if (!ac || ac->err) {
        snprintf(err, sizeof(err), "%s", ac ? why(ac) : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        link_failed(0, "cannot connect to %s: %s", address(), err);
        return;
    }
    (void)fcntl(ac->c.fd, F_SETFD, FD_CLOEXEC);
    redisLibevAttach(R.w->loop, ac);
    R.ac = ac;
    R.link = LINK_CONNECTING;
    R.handshake = 0;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    handshake_send(ac);
    ev_timer_set(&R.connect_timer, R.w->cfg->redis_connect_timeout, 0.);
    ev_timer_start(R.w->loop, &R.connect_timer);
}

/* "host:port" (the host maybe in brackets) or "unix:/path", as the config
 * checked it.  0, or -1 when out of memory. */
static int parse_address(const char *a)
{
    const char *colon = strrchr(a, ':');
    size_t n = (size_t)(colon - a);

    if (strncmp(a, "unix:", 5) == 0) {
        R.path = a + 5;
        return 0;
    }
    if (n >= 2 && a[0] == '[' && a[n - 1] == ']') {
        a++;
        n -= 2;
    }
    R.host = strndup(a, n);
    R.port = atoi(colon + 1);
    return R.host ? 0 : -1;
}

void redis_init(struct worker *w)
{
    R.w = w;
    R.backoff = BACKOFF_FIRST;
    R.rng = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15ULL;
    ev_init(&R.connect_timer, on_connect_timer);
    ev_init(&R.retry_timer, on_retry_timer);
    ev_init(&R.fail_timer, on_fail_timer);
    if (!w->cfg->redis_address)
        return;                     /* LINK_OFF: kiln_redis_* return 0 */
    if (parse_address(w->cfg->redis_address) < 0) {
        log_error("[redis] address %s: out of memory", w->cfg->redis_address);
        return;
    }
    R.first = 1;
    link_start();
}

void redis_shutdown(void)
{
    redisAsyncContext *ac = R.ac;
    struct cmd *c;

    if (!R.w)
        return;
    R.link = LINK_STOPPED;
    R.ac = NULL;
    ev_timer_stop(R.w->loop, &R.connect_timer);
    ev_timer_stop(R.w->loop, &R.retry_timer);
    ev_timer_stop(R.w->loop, &R.fail_timer);
    if (ac)
        redisAsyncFree(ac);         /* those in flight: ERR_STOPPING */
    while ((c = R.queue.head)) {
        list_remove(&R.queue, c);
        deliver_error(c, ERR_STOPPING);
        cmd_free(c);
    }
    while ((c = R.failing.head)) {
        list_remove(&R.failing, c);
        deliver_error(c, c->error);
        cmd_free(c);
    }
    handles_clear(&R.ids);
    free(R.host);
    R.host = NULL;
}

/* ---- the plugin API --------------------------------------------------------- */

/* Whether argument i is `word`, in any case. */
static int arg_is(const char *const *argv, const size_t *argvlen, int i, const char *word)
{
    size_t n = argvlen ? argvlen[i] : strlen(argv[i]);

    return n == strlen(word) && strncasecmp(argv[i], word, n) == 0;
}

/*
 * Commands that would change the connection under every other plugin of
 * the worker (its db, its user, its protocol), close it, or break the one
 * reply per command that keeps it in step (hiredis takes a subscribing
 * connection's messages as replies).
 */
static int refused(int argc, const char *const *argv, const size_t *argvlen)
{
    static const char *const words[] = {
        "SELECT", "AUTH", "HELLO", "QUIT", "RESET", "MONITOR",
        "SUBSCRIBE", "UNSUBSCRIBE", "PSUBSCRIBE", "PUNSUBSCRIBE",
        "SSUBSCRIBE", "SUNSUBSCRIBE",
    };
    size_t i;

    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (arg_is(argv, argvlen, 0, words[i]))
            return 1;
    return argc >= 2 && arg_is(argv, argvlen, 0, "CLIENT") &&
           arg_is(argv, argvlen, 1, "REPLY");
}

static int valid_args(int argc, const char *const *argv)
{
    int i;

    if (argc < 1 || !argv)
        return 0;
    for (i = 0; i < argc; i++)
        if (!argv[i])
            return 0;
    return 1;
}

KILN_EXPORT kiln_id kiln_redis_command(kiln_redis_fn cb, void *arg, int argc,
                                       const char *const *argv, const size_t *argvlen)
{
    struct cmd *c;

    if (R.link == LINK_OFF || R.link == LINK_STOPPED || !valid_args(argc, argv))
        return 0;
    c = calloc(1, sizeof(*c));
    if (!c)
        return 0;
    c->cb = cb;
    c->arg = arg;
    c->plugin = plugin_current;
    c->route = plugin_route;
    c->id = handle_new(&R.ids, c);
    if (c->id && refused(argc, argv, argvlen)) {
        fail_later(c, ERR_REFUSED);
        return c->id;
    }
    if (!c->id || submit(c, argc, (const char **)argv, argvlen) < 0) {
        handle_free(&R.ids, c->id);
        cmd_free(c);
        return 0;
    }
    return c->id;
}

KILN_EXPORT kiln_id kiln_redis(kiln_redis_fn cb, void *arg, const char *arg0, ...)
{
    const char *small[SMALL_ARGV], **argv = small;
    va_list ap;
    kiln_id id;
    int argc, i;

    if (!arg0)
        return 0;
    va_start(ap, arg0);
    for (argc = 1; va_arg(ap, const char *); argc++)
        ;
    va_end(ap);
    if (argc > SMALL_ARGV && !(argv = malloc((size_t)argc * sizeof(*argv))))
        return 0;
    argv[0] = arg0;
    va_start(ap, arg0);
    for (i = 1; i < argc; i++)
        argv[i] = va_arg(ap, const char *);
    va_end(ap);
    id = kiln_redis_command(cb, arg, argc, argv, NULL);
    if (argv != small)
        free(argv);
    return id;
}

KILN_EXPORT int kiln_redis_cancel(kiln_id id)
{
    struct cmd *c = handle_get(&R.ids, id);

    if (!c)
        return -1;
    handle_free(&R.ids, id);
    c->cb = NULL;
    if (c->where == AT_QUEUE) {
        list_remove(&R.queue, c);
        cmd_free(c);
    } else if (c->where == AT_FAILING) {
        list_remove(&R.failing, c);
        cmd_free(c);
    }                               /* AT_SERVER: on_reply drops the reply */
    return 0;
}

/* ---- replies: a kiln_redis_reply is a hiredis redisReply ---------------------- */

static const redisReply *reply_of(const kiln_redis_reply *r)
{
    return (const redisReply *)r;
}

KILN_EXPORT enum kiln_redis_type kiln_redis_type(const kiln_redis_reply *r)
{
    if (!r)
        return KILN_REDIS_ERROR;
    switch (reply_of(r)->type) {
    case REDIS_REPLY_STRING:  return KILN_REDIS_STRING;
    case REDIS_REPLY_STATUS:  return KILN_REDIS_STATUS;
    case REDIS_REPLY_INTEGER: return KILN_REDIS_INTEGER;
    case REDIS_REPLY_NIL:     return KILN_REDIS_NIL;
    case REDIS_REPLY_ARRAY:   return KILN_REDIS_ARRAY;
#ifdef REDIS_REPLY_DOUBLE           /* RESP3 (hiredis >= 1.0), after HELLO 3 */
    case REDIS_REPLY_DOUBLE:  return KILN_REDIS_STRING;
    case REDIS_REPLY_BOOL:    return KILN_REDIS_INTEGER;
    case REDIS_REPLY_MAP:     return KILN_REDIS_ARRAY;
    case REDIS_REPLY_SET:     return KILN_REDIS_ARRAY;
    case REDIS_REPLY_PUSH:    return KILN_REDIS_ARRAY;
#endif
#ifdef REDIS_REPLY_BIGNUM
    case REDIS_REPLY_BIGNUM:  return KILN_REDIS_STRING;
#endif
#ifdef REDIS_REPLY_VERB
    case REDIS_REPLY_VERB:    return KILN_REDIS_STRING;
#endif
#ifdef REDIS_REPLY_ATTR
    case REDIS_REPLY_ATTR:    return KILN_REDIS_ARRAY;
#endif
    default:                  return KILN_REDIS_ERROR;
    }
}

KILN_EXPORT const char *kiln_redis_str(const kiln_redis_reply *r, size_t *len)
{
    enum kiln_redis_type t = kiln_redis_type(r);

    if (!r || !reply_of(r)->str ||
        (t != KILN_REDIS_STRING && t != KILN_REDIS_STATUS && t != KILN_REDIS_ERROR)) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = reply_of(r)->len;
    return reply_of(r)->str;
}

KILN_EXPORT long long kiln_redis_int(const kiln_redis_reply *r)
{
    return kiln_redis_type(r) == KILN_REDIS_INTEGER ? reply_of(r)->integer : 0;
}

KILN_EXPORT size_t kiln_redis_len(const kiln_redis_reply *r)
{
    return kiln_redis_type(r) == KILN_REDIS_ARRAY ? reply_of(r)->elements : 0;
}

KILN_EXPORT const kiln_redis_reply *kiln_redis_elem(const kiln_redis_reply *r, size_t i)
{
    if (i >= kiln_redis_len(r))
        return NULL;
    return (const kiln_redis_reply *)reply_of(r)->element[i];
}
