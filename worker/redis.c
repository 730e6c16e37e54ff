/*
 * redis.c -- a worker's Redis client: the commands of every plugin
 * pipelined on one link (redis_link.c), each reply handed to its callback
 * with the plugin that sent it marked as running (kiln_redis_*).
 *
 * A command is named by a handle (core/handles.c) and lives in one place:
 * in `queue` while the worker's first connect is still on (formatted, sent
 * once the link is ready: behind AUTH and SELECT), with the link once sent
 * (hiredis' privdata), or in `failing` when it gets an error from the
 * loop's next turn (never from inside the call that submitted it).
 * Cancelling one that is with the link only clears its callback, so its
 * reply is still read and the replies stay in step with the commands.
 *
 * This file owns the commands and the kiln_redis_* API; redis_link.c owns
 * the connection (the hiredis context, the handshake, reconnects and their
 * log).  hiredis is included here only to format the queued commands and to
 * read replies: a kiln_redis_reply is a hiredis redisReply.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ev.h>
#include <hiredis/hiredis.h>

#include "config.h"
#include "db.h"
#include "handles.h"
#include "kiln.h"
#include "plugin.h"
#include "redis_link.h"
#include "router.h"
#include "worker.h"

#define SMALL_ARGV 16               /* kiln_redis() arguments without a malloc */

/* The errors of replies that no server sent. */
#define ERR_NOT_CONNECTED "not connected"
#define ERR_LOST "connection lost"
#define ERR_STOPPING "the worker is stopping"
#define ERR_REFUSED "not allowed on the shared connection: SELECT, AUTH, HELLO, QUIT, " \
    "RESET, MONITOR, CLIENT REPLY, (P|S)(UN)SUBSCRIBE"

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

static struct {
    struct worker *w;
    struct redis_link link;         /* the worker's one connection */
    int first;                      /* the first connect: commands wait for it */
    struct handles ids;             /* id -> struct cmd */
    struct cmd_list queue;          /* waiting for the first connect */
    struct cmd_list failing;        /* answered with an error next turn */
    unsigned long turn;
    ev_timer fail_timer;            /* delivers `failing` */
} R;

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

/* A command's reply from the link; NULL when the link is gone (lost, or
 * stopped with the worker). */
static void on_reply(struct redis_link *l, const redisReply *r, void *privdata, void *arg)
{
    struct cmd *c = privdata;

    (void)arg;
    if (r)
        deliver(c, r);
    else
        deliver_error(c, redis_link_state(l) == REDIS_LINK_STOPPED ? ERR_STOPPING : ERR_LOST);
    cmd_free(c);
}

/* Hands c to the link, queues it for the first connect, or fails it.
 * 0, or -1 when out of memory. */
static int submit(struct cmd *c, int argc, const char **argv, const size_t *argvlen)
{
    int n;

    if (redis_link_command(&R.link, c, argc, argv, argvlen) == 0) {
        c->where = AT_SERVER;
        return 0;
    }
    if (redis_link_state(&R.link) == REDIS_LINK_CONNECTING && R.first) {
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

/* ---- the link's events, the worker's start and stop --------------------------- */

/* The link is ready: the commands that waited for the first connect go
 * out behind the handshake. */
static void on_ready(struct redis_link *l, void *arg)
{
    struct cmd *c;

    (void)arg;
    R.first = 0;
    while ((c = R.queue.head)) {
        list_remove(&R.queue, c);
        if (redis_link_formatted(l, c, c->wire, c->wirelen) < 0) {
            fail_later(c, ERR_NOT_CONNECTED);
            continue;
        }
        c->where = AT_SERVER;
        free(c->wire);
        c->wire = NULL;
    }
}

/* A connect failed: the commands that waited for it get an error. */
static void on_failed(struct redis_link *l, void *arg)
{
    struct cmd *c;

    (void)l;
    (void)arg;
    R.first = 0;
    while ((c = R.queue.head)) {
        list_remove(&R.queue, c);
        free(c->wire);
        c->wire = NULL;
        fail_later(c, ERR_NOT_CONNECTED);
    }
}

int redis_up(void)
{
    if (R.w == NULL || R.w->cfg->redis_address == NULL)
        return -1;
    return redis_link_state(&R.link) == REDIS_LINK_READY;
}

void redis_init(struct worker *w)
{
    static const struct redis_link_events events = {
        .on_ready = on_ready, .on_failed = on_failed, .on_reply = on_reply,
    };
    struct redis_link_conf conf = {
        .address = w->cfg->redis_address,
        .password = w->cfg->redis_password,
        .db = w->cfg->redis_db,
        .connect_timeout = w->cfg->redis_connect_timeout,
    };

    R.w = w;
    ev_init(&R.fail_timer, on_fail_timer);
    if (redis_link_init(&R.link, w->loop, &conf, &events, NULL) < 0 || !conf.address)
        return;                     /* REDIS_LINK_OFF: kiln_redis_* return 0 */
    R.first = 1;
    redis_link_start(&R.link);
}

void redis_shutdown(void)
{
    struct cmd *c;

    if (!R.w)
        return;
    ev_timer_stop(R.w->loop, &R.fail_timer);
    redis_link_stop(&R.link);       /* those in flight: ERR_STOPPING */
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
    enum redis_link_state s = redis_link_state(&R.link);
    struct cmd *c;

    if (s == REDIS_LINK_OFF || s == REDIS_LINK_STOPPED || !valid_args(argc, argv))
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
