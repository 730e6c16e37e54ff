/*
 * redis_link.h -- one connection to a Redis server on a libev loop (a
 * "link", redis_link.c): the connect, its AUTH/SELECT handshake and
 * connect_timeout, reconnects with back-off, the outage log; its owner (a
 * worker's kiln_redis in worker/redis.c, the master's pub/sub bus in
 * master/pubsub_redis.c) is told when it is ready, failed or was lost, and
 * sends commands on it, or subscribes it.  hiredis is not included here:
 * only redis_link.c (the connection, the subscriber mode's pushes) and
 * worker/redis.c (formatting, replies) see it.
 */
#ifndef KILN_REDIS_LINK_H
#define KILN_REDIS_LINK_H

#include <stddef.h>
#include <stdint.h>
#include <ev.h>

struct redisAsyncContext;
struct redisReply;
struct redis_link;

/*
 * OFF: no address, or never started; CONNECTING -> READY, and from either
 * to DOWN, where a timer tries again with back-off; STOPPED once stopped.
 */
enum redis_link_state {
    REDIS_LINK_OFF,
    REDIS_LINK_CONNECTING,
    REDIS_LINK_READY,
    REDIS_LINK_DOWN,
    REDIS_LINK_STOPPED
};

/* Where a link connects and how; the strings must outlive the link. */
struct redis_link_conf {
    const char *address;            /* "host:port", "[v6]:port" or "unix:/path"
                                       (as the config checked it); NULL: OFF */
    const char *password;           /* NULL: no AUTH */
    size_t db;                      /* 0: no SELECT */
    double connect_timeout;         /* s, for the connect and its handshake */
    const char *label;              /* the log's "[label]"; NULL: "redis" */
    int quiet;                      /* outages and recoveries logged at debug
                                       level (an owner's second link) */
    int keepalive;                  /* TCP keepalive: a server gone silent is
                                       noticed on an idle link */
};

/* What a subscribed link's server pushes (on_push). */
enum redis_push {
    REDIS_PUSH_MESSAGE,             /* a message published on a channel */
    REDIS_PUSH_SUBSCRIBE,           /* a SUBSCRIBE of one channel confirmed */
    REDIS_PUSH_UNSUBSCRIBE          /* an UNSUBSCRIBE of one channel confirmed */
};

/*
 * What a link tells its owner, each with the `arg` given at init.
 * on_ready: connected, authenticated and on its db (CONNECTING -> READY);
 * commands sent from here go out behind the handshake.
 * on_failed: an attempt to connect failed (-> DOWN), already logged; the
 * link tries again by itself.
 * on_reply: the reply to a command sent by redis_link_command() or
 * redis_link_formatted(), with that call's `privdata`; r is hiredis' and
 * freed once on_reply returns.  r is NULL when no reply will come: the
 * link was lost (it is DOWN by then) or stopped (STOPPED).
 * on_lost (may be NULL): a READY link's connection was lost (-> DOWN),
 * already logged; the link reconnects by itself.
 * on_push (NULL unless redis_link_subscribe() is called): what the server
 * pushed to a subscribed link, the bytes valid for the call: a message
 * (`data`, `len`: its payload) on `channel`, or the confirmation of one
 * channel's SUBSCRIBE or UNSUBSCRIBE (data NULL).
 */
struct redis_link_events {
    void (*on_ready)(struct redis_link *l, void *arg);
    void (*on_failed)(struct redis_link *l, void *arg);
    void (*on_reply)(struct redis_link *l, const struct redisReply *r, void *privdata,
                     void *arg);
    void (*on_lost)(struct redis_link *l, void *arg);
    void (*on_push)(struct redis_link *l, enum redis_push kind, const char *channel,
                    size_t channel_len, const char *data, size_t len, void *arg);
};

/*
 * A link: its owner's memory, which must stay valid (and not be freed from
 * inside one of the link's callbacks) until redis_link_stop() has returned.
 * The owner reads nothing but through the functions below; the fields are
 * redis_link.c's.
 */
struct redis_link {
    enum redis_link_state state;
    struct redis_link_conf conf;
    struct redis_link_events ev;
    void *arg;
    struct ev_loop *loop;
    struct redisAsyncContext *ac;   /* CONNECTING, READY */
    int handshake;                  /* AUTH/SELECT replies still to come */
    int outage;                     /* down since down_since, a warning given */
    double down_since;
    char refusal[512];              /* the server's last AUTH/SELECT refusal logged */
    double backoff;                 /* the next retry's wait, before jitter */
    uint64_t rng;
    char *host;                     /* TCP: host and port, or */
    int port;
    const char *path;               /* unix: the socket's path (in conf.address) */
    ev_timer connect_timer;         /* connect_timeout, while CONNECTING */
    ev_timer retry_timer;           /* the back-off, while DOWN */
};

/* Sets l up (OFF, nothing sent) with a copy of *conf and *ev.  0, or -1 when
 * the address cannot be kept (out of memory, logged): l stays OFF, and only
 * redis_link_stop() may still be called. */
int redis_link_init(struct redis_link *l, struct ev_loop *loop,
                    const struct redis_link_conf *conf, const struct redis_link_events *ev,
                    void *arg);

/* OFF -> CONNECTING, or DOWN (on_failed has run) when that fails at once;
 * nothing when l has no address. */
void redis_link_start(struct redis_link *l);

/* -> STOPPED, from any state: the timers stop and the connection closes;
 * the commands still with it get on_reply(NULL) before this returns. */
void redis_link_stop(struct redis_link *l);

enum redis_link_state redis_link_state(const struct redis_link *l);

/* Sends a command (argvlen NULL: argv's strings are NUL-terminated), or one
 * that redisFormatCommandArgv() made, on a READY link; its reply goes to
 * on_reply with privdata.  0, or -1 (nothing sent, on_reply will not run)
 * when l is not READY or hiredis refused it. */
int redis_link_command(struct redis_link *l, void *privdata, int argc, const char **argv,
                       const size_t *argvlen);
int redis_link_formatted(struct redis_link *l, void *privdata, const char *cmd, size_t len);

/* The text of an error reply; NULL when r is NULL or not an error. */
const char *redis_link_error(const struct redisReply *r);

/*
 * SUBSCRIBE (unsubscribe 0) or UNSUBSCRIBE (1) the n channels (bytes of
 * lens[i], binary-safe; 1 to 2^20 of them) on a READY link.  A link that subscribed is in
 * subscriber mode until it is lost: it takes no other command, and what
 * the server pushes goes to on_push, one confirmation per channel.
 * hiredis aborts on a confirmation it does not expect once the server's
 * count fell to 0 (an UNSUBSCRIBE of a channel already unsubscribed), and
 * before 0.14 it forgot a channel subscribed again before its UNSUBSCRIBE
 * was confirmed; so the owner sends an UNSUBSCRIBE only when no
 * confirmation is due, and
 * nothing more until its own came.  0, or -1 (nothing sent).
 */
int redis_link_subscribe(struct redis_link *l, int unsubscribe, size_t n,
                         const char *const *channels, const size_t *lens);

#endif
