/*
 * config.h -- kiln.conf: the INI file read with inih, checked, with defaults.
 *
 * The parser is kept apart from the code that uses the values.  Errors carry
 * "file:line: message".  Sections other than [server] belong to plugins
 * (section name = plugin name); their keys are kept as strings.
 */
#ifndef KILN_CONFIG_H
#define KILN_CONFIG_H

#include <stddef.h>
#include <sys/types.h>

#include "listen.h"
#include "proxies.h"

#define CONFIG_MAX_LISTEN 16

/* Built-in defaults, set by the build from configure's directories. */
#ifndef PLUGINDIR
#define PLUGINDIR "/usr/local/lib/kiln/plugins"
#endif
#ifndef KILN_PIDFILE
#define KILN_PIDFILE "/usr/local/var/run/kiln.pid"
#endif

struct config_kv {
    char *section;
    char *key;
    char *value;
    int line;
};

struct config {
    char *file;                 /* path it was read from, or NULL */

    /* [server] */
    char *listen[CONFIG_MAX_LISTEN]; /* "127.0.0.1:8080", "[::1]:8080", "unix:/p" */
    struct listen_opts listen_opts[CONFIG_MAX_LISTEN]; /* as written after each
                                   address: backlog 0 and defer_accept -1 mean
                                   the defaults (config_listen_opts) */
    size_t nlisten;
    int workers;                /* 0 = auto (number of CPUs) */
    char *plugin_dir;
    char *pidfile;              /* NULL: none ("pidfile =" with no value) */
    int pidfile_is_default;     /* pidfile is the built-in KILN_PIDFILE */
    char *log_file;             /* NULL: stderr */
    char *mime_types;           /* media types by extension; NULL: none */
    size_t file_cache;          /* bytes of KILN_FILE_CACHE files per worker;
                                   0: off (16m) */
    size_t max_cached_file_size; /* the largest file cached, bytes (64k) */
    int log_level;              /* LOG_* */
    int backlog;                /* listen(2) backlog, default 511 */

    double keepalive_timeout;   /* idle time between requests, s (75) */
    double pending_timeout;     /* a pending request's deadline: 504, s (60) */
    size_t thread_pool;         /* threads for kiln_offload() per worker (4) */
    double header_timeout;      /* to receive a whole header block, s (10) */
    double body_timeout;        /* between two reads of a body, s (30) */
    double graceful_timeout;    /* drain bound on stop/reload, s (30) */

    size_t max_uri_size;        /* request target, bytes (8k) -> 414 */
    size_t max_header_size;     /* whole header block, bytes (16k) -> 431 */
    size_t max_headers;         /* number of header fields (100) -> 431 */
    size_t max_body_size;       /* request body, bytes (1m) -> 413 */
    size_t upload_spool_size;   /* a multipart file past this goes to a
                                   temporary file, bytes (64k) */
    size_t max_upload_file_size; /* one multipart file, bytes; 0: only the
                                   body's limit (0) -> 413 */
    char *upload_dir;           /* the temporary files' ($TMPDIR or /tmp) */
    size_t keepalive_requests;  /* requests per connection (10000) */
    size_t max_connections;     /* open connections per worker, HTTP and
                                   WebSocket (4096); above, no accept */
    int normalize_path;         /* enum url_slash: a 404's path retried with a
                                   trailing '/' added or removed (off) */
    int merge_slashes;          /* ... and with runs of '/' merged (0) */
    struct proxies trusted_proxies; /* peers whose Forwarded / X-Forwarded-*
                                   headers are believed (none) */
    char *metrics;              /* the path of kiln's counters; NULL: off */
    int metrics_line;           /* its line in `file` */
    struct proxies metrics_allow; /* peers that may read them (loopback) */

    /* compressed responses (worker/compress.c) */
    int gzip;                   /* gzip buffered responses (0) */
    size_t gzip_level;          /* zlib's level, 1..9 (5) */
    size_t gzip_min_length;     /* smallest body compressed, bytes (1k) */
    char *gzip_types;           /* type_list.h's normalized list */

    /* middlewares (core/registry.c) */
    char *middlewares;          /* the order: names separated by commas;
                                   NULL: every registered one, in load order */
    int middlewares_line;       /* its line in `file` */

    /* WebSocket connections */
    size_t ws_max_msg_size;     /* whole message, bytes (4m) -> close 1009 */
    size_t ws_max_queue;        /* bytes queued for sending (16m) -> close 1008 */
    double ws_heartbeat;        /* ping interval, s; 0 = off (0) */
    double ws_idle_timeout;     /* close after no frame for this long; 0 = off (0) */

    /* publish/subscribe (master/pubsub.c, worker/pubsub.c) */
    char *pubsub;               /* "redis://host:port": the fan-out goes through
                                   that server; NULL: the master fans out locally */
    int pubsub_line;            /* its line in `file` */
    size_t pubsub_max_message;  /* bytes of one message (64k), at most 192k */
    size_t pubsub_worker_queue; /* bytes the master queues for one worker, and
                                   a worker for the master (16m); past it
                                   messages are dropped */
    size_t pubsub_subscriber_queue; /* a subscriber's unsent bytes (1m): past
                                   it, a message closes it */

    /* supervision */
    double worker_timeout;      /* a worker whose loop has not turned for this
                                   long is killed, s; 0 = off (30) */
    size_t max_requests;        /* requests before a worker is recycled; 0 = off */
    size_t max_requests_jitter; /* plus 0..jitter, drawn per worker (0) */
    int watch_plugins;          /* reload when plugin_dir changes (0) */

    /* privileges of the workers (resolved when the file is read) */
    char *user;                 /* NULL: the master's */
    char *group;                /* NULL: the user's primary group */
    uid_t uid;                  /* of user */
    gid_t user_gid;             /* user's primary group */
    gid_t gid;                  /* of group */

    /* [postgres]: the workers' connection pools (kiln_pg_query) */
    char *pg_dsn;               /* libpq connection string; NULL: none */
    size_t pg_pool_size;        /* connections per worker (4) */
    double pg_connect_timeout;  /* to establish one connection, s (5) */

    /* [redis]: each worker's connection (kiln_redis) */
    char *redis_address;        /* "host:port" or "unix:/path"; NULL: none */
    size_t redis_db;            /* SELECTed after connecting (0) */
    char *redis_password;       /* AUTH after connecting; NULL: none */
    double redis_connect_timeout; /* s (5) */

    /* plugin sections */
    struct config_kv *kv;
    size_t nkv;

    /* what is suspect but not an error: "file:line: message" each */
    char **warnings;
    size_t nwarnings;
};

/* Fills `c` with the defaults (listen 127.0.0.1:8080, workers auto, ...). */
void config_defaults(struct config *c);

/*
 * Reads `file` into `c` (which config_defaults() prepared).  Returns 0, or -1
 * with "file:line: message" (or "file: message") in err.  On failure `c` may
 * be half-filled: config_free() it.  What loads but looks like a mistake (a
 * [server] key in a plugin's section) is kept in c->warnings for the caller
 * to log once the log is open.
 */
int config_load(struct config *c, const char *file, char *err, size_t errlen);

void config_free(struct config *c);

/* Whether `section` is one of kiln's own ([server], [postgres], [redis]);
 * the others belong to the plugins named after them. */
int config_own_section(const char *section);

/*
 * The plugin sections of `c` that none of `names` (n plugin names) claims,
 * as warnings "file:line: [SECTION] names no loaded plugin ...", each passed
 * to `warn` with `arg`.
 */
void config_unclaimed_sections(const struct config *c, const char *const *names,
                               size_t n, void (*warn)(const char *msg, void *arg),
                               void *arg);

/* Whether `addr` (as written) is one of the config's listen addresses. */
int config_listens_on(const struct config *c, const char *addr);

/*
 * How listen address i is tuned: its own backlog= and deferred= where the
 * listen line gave them, else [server] backlog and a deferral as long as
 * header_timeout (rounded up to whole seconds).
 */
void config_listen_opts(const struct config *c, size_t i, struct listen_opts *o);

/* Sets listen address i's options to the defaults. */
void config_listen_opts_default(struct config *c, size_t i);

/* A plugin section's value, or NULL. */
const char *config_plugin_value(const struct config *c, const char *section,
                                const char *key);

/* "auto" -> 0 (one per CPU), "1".."SCOREBOARD_MAX_WORKERS" -> N.  0 or -1. */
int config_parse_workers(const char *s, int *out);
/* "512", "8k", "16K", "1m", "2g" -> bytes.  0 or -1. */
int config_parse_size(const char *s, size_t *out);
/* "10", "10s", "250ms", "2m", "1h" -> seconds.  0 or -1. */
int config_parse_time(const char *s, double *out);

#endif
