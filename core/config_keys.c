/* config_keys.c -- the keys of kiln's own sections ([server], [postgres], [redis]): their table, their defaults and the parser of each kind of value. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_private.h"
#include "listen.h"
#include "log.h"
#include "redis_url.h"
#include "scoreboard.h"
#include "pubsub_frame.h"
#include "type_list.h"

#define MAX_SECONDS 1e9         /* times above this are refused */

/* The kinds of [server] values, and where each goes in struct config. */
enum key_kind {
    K_LISTEN, K_WORKERS, K_DIR, K_PATH, K_LEVEL, K_BACKLOG, K_TIME, K_SIZE,
    K_COUNT, K_BOOL, K_USER, K_GROUP, K_PIDFILE, K_TEXT, K_ADDRESS, K_PROXIES,
    K_WDIR, K_GZIP_LEVEL, K_TYPES, K_NAMES, K_NORMALIZE, K_PUBSUB, K_PUBSUB_MSG,
    K_METRICS
};

/* A key of one of kiln's own sections. */
struct server_key {
    const char *section;        /* "server", "postgres" or "redis" */
    const char *name;
    enum key_kind kind;
    size_t off;
    size_t min;                 /* sizes: the smallest accepted; times:
                                   1 when 0 is refused, 0 when it means off */
};

#define F(field) offsetof(struct config, field)
static const struct server_key server_keys[] = {
    { "server", "listen",             K_LISTEN,  0,                     0 },
    { "server", "workers",            K_WORKERS, F(workers),            0 },
    { "server", "plugin_dir",         K_DIR,     F(plugin_dir),         0 },
    { "server", "pidfile",            K_PIDFILE, F(pidfile),            0 },
    { "server", "log_file",           K_PATH,    F(log_file),           0 },
    { "server", "log_level",          K_LEVEL,   F(log_level),          0 },
    { "server", "backlog",            K_BACKLOG, F(backlog),            0 },
    { "server", "keepalive_timeout",  K_TIME,    F(keepalive_timeout),  1 },
    { "server", "header_timeout",     K_TIME,    F(header_timeout),     1 },
    { "server", "body_timeout",       K_TIME,    F(body_timeout),       1 },
    { "server", "graceful_timeout",   K_TIME,    F(graceful_timeout),   1 },
    { "server", "pending_timeout",    K_TIME,    F(pending_timeout),    1 },
    { "server", "thread_pool",        K_COUNT,   F(thread_pool),        0 },
    { "server", "max_uri_size",       K_SIZE,    F(max_uri_size),       1 },
    { "server", "max_header_size",    K_SIZE,    F(max_header_size),    1 },
    { "server", "max_headers",        K_SIZE,    F(max_headers),        1 },
    { "server", "max_body_size",      K_SIZE,    F(max_body_size),      0 },
    { "server", "upload_spool_size",  K_SIZE,    F(upload_spool_size),  0 },
    { "server", "max_upload_file_size", K_SIZE,  F(max_upload_file_size), 0 },
    { "server", "upload_dir",         K_WDIR,    F(upload_dir),         0 },
    { "server", "keepalive_requests", K_SIZE,    F(keepalive_requests), 1 },
    { "server", "max_connections",    K_COUNT,   F(max_connections),    1 },
    { "server", "ws_max_msg_size",    K_SIZE,    F(ws_max_msg_size),    1 },
    { "server", "ws_max_queue",       K_SIZE,    F(ws_max_queue),       1 },
    { "server", "ws_heartbeat",       K_TIME,    F(ws_heartbeat),       0 },
    { "server", "ws_idle_timeout",    K_TIME,    F(ws_idle_timeout),    0 },
    { "server", "pubsub",             K_PUBSUB,  F(pubsub),             0 },
    { "server", "pubsub_max_message", K_PUBSUB_MSG, F(pubsub_max_message), 1 },
    { "server", "pubsub_worker_queue", K_SIZE,   F(pubsub_worker_queue), 1 },
    { "server", "pubsub_subscriber_queue", K_SIZE, F(pubsub_subscriber_queue), 1 },
    { "server", "worker_timeout",     K_TIME,    F(worker_timeout),     0 },
    { "server", "max_requests",       K_COUNT,   F(max_requests),       0 },
    { "server", "max_requests_jitter", K_COUNT,  F(max_requests_jitter), 0 },
    { "server", "watch_plugins",      K_BOOL,    F(watch_plugins),      0 },
    { "server", "mime_types",         K_PATH,    F(mime_types),         0 },
    { "server", "file_cache",         K_SIZE,    F(file_cache),         0 },
    { "server", "max_cached_file_size", K_SIZE,  F(max_cached_file_size), 0 },
    { "server", "trusted_proxies",    K_PROXIES, F(trusted_proxies),    0 },
    { "server", "metrics",            K_METRICS, F(metrics),            0 },
    { "server", "metrics_allow",      K_PROXIES, F(metrics_allow),      0 },
    { "server", "normalize_path",     K_NORMALIZE, F(normalize_path),   0 },
    { "server", "merge_slashes",      K_BOOL,    F(merge_slashes),      0 },
    { "server", "gzip",               K_BOOL,    F(gzip),               0 },
    { "server", "gzip_level",         K_GZIP_LEVEL, F(gzip_level),      0 },
    { "server", "gzip_min_length",    K_SIZE,    F(gzip_min_length),    0 },
    { "server", "gzip_types",         K_TYPES,   F(gzip_types),         0 },
    { "server", "middlewares",        K_NAMES,   F(middlewares),        0 },
    { "server", "user",               K_USER,    0,                     0 },
    { "server", "group",              K_GROUP,   0,                     0 },
    { "postgres", "dsn",             K_TEXT,    F(pg_dsn),             0 },
    { "postgres", "pool_size",       K_COUNT,   F(pg_pool_size),       1 },
    { "postgres", "connect_timeout", K_TIME,    F(pg_connect_timeout), 1 },
    { "redis",  "address",           K_ADDRESS, F(redis_address),      0 },
    { "redis",  "db",                K_COUNT,   F(redis_db),           0 },
    { "redis",  "password",          K_TEXT,    F(redis_password),     0 },
    { "redis",  "connect_timeout",   K_TIME,    F(redis_connect_timeout), 1 },
};
#undef F

static const struct server_key *find_server_key(const char *section, const char *name)
{
    for (size_t i = 0; i < sizeof server_keys / sizeof server_keys[0]; i++)
        if (strcmp(server_keys[i].section, section) == 0 &&
            strcmp(server_keys[i].name, name) == 0)
            return &server_keys[i];
    return NULL;
}

/* Whether `section` is one of kiln's own (the others belong to plugins). */
int config_own_section(const char *section)
{
    return strcmp(section, "server") == 0 || strcmp(section, "postgres") == 0 ||
           strcmp(section, "redis") == 0;
}

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof *c);
    c->listen[0] = strdup("127.0.0.1:8080");
    c->nlisten = c->listen[0] != NULL;
    c->workers = 0;
    c->plugin_dir = strdup(PLUGINDIR);
    c->pidfile = strdup(KILN_PIDFILE);
    c->mime_types = strdup("/etc/mime.types");
    c->file_cache = 16 * 1024 * 1024;
    c->max_cached_file_size = 64 * 1024;
    c->pidfile_is_default = 1;
    c->log_level = LOG_INFO;
    c->backlog = 511;
    c->keepalive_timeout = 75;
    c->pending_timeout = 60;
    c->thread_pool = 4;
    c->header_timeout = 10;
    c->body_timeout = 30;
    c->graceful_timeout = 30;
    c->max_uri_size = 8 * 1024;
    c->max_header_size = 16 * 1024;
    c->max_headers = 100;
    c->max_body_size = 1024 * 1024;
    c->upload_spool_size = 64 * 1024;
    c->upload_dir = strdup(getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR") : "/tmp");
    c->keepalive_requests = 10000;
    c->max_connections = 4096;
    c->ws_max_msg_size = 4 * 1024 * 1024;
    c->ws_max_queue = 16 * 1024 * 1024;
    c->ws_heartbeat = 0;
    c->ws_idle_timeout = 0;
    c->pubsub_max_message = 64 * 1024;
    c->pubsub_worker_queue = 16 * 1024 * 1024;
    c->pubsub_subscriber_queue = 1024 * 1024;
    c->worker_timeout = 30;
    c->pg_pool_size = 4;
    c->pg_connect_timeout = 5;
    c->redis_connect_timeout = 5;
    c->gzip_level = 5;
    c->gzip_min_length = 1024;
    c->gzip_types = strdup(TYPE_LIST_DEFAULT);
    proxies_parse(&c->metrics_allow, "127.0.0.1 ::1", NULL, 0);
}

/* ---- value parsers ---------------------------------------------------------- */

/* Digits only -> *out, refusing overflow.  0 or -1. */
static int parse_digits(const char **sp, size_t *out)
{
    const char *s = *sp;
    size_t v = 0;

    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        size_t d = (size_t)(*s - '0');
        if (v > (SIZE_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *sp = s;
    *out = v;
    return 0;
}

int config_parse_size(const char *s, size_t *out)
{
    size_t v, mul = 1;

    if (s == NULL || parse_digits(&s, &v) < 0)
        return -1;
    switch (*s) {
    case '\0': break;
    case 'k': case 'K': mul = (size_t)1 << 10; s++; break;
    case 'm': case 'M': mul = (size_t)1 << 20; s++; break;
    case 'g': case 'G': mul = (size_t)1 << 30; s++; break;
    default: return -1;
    }
    if (*s != '\0' || v > SIZE_MAX / mul)
        return -1;
    *out = v * mul;
    return 0;
}

/* The factor of a time unit ("", "s", "ms", "m", "h"), or 0 when unknown. */
static double time_unit(const char *u)
{
    if (strcmp(u, "") == 0 || strcmp(u, "s") == 0)
        return 1;
    if (strcmp(u, "ms") == 0)
        return 0.001;
    if (strcmp(u, "m") == 0)
        return 60;
    if (strcmp(u, "h") == 0)
        return 3600;
    return 0;
}

int config_parse_time(const char *s, double *out)
{
    const char *p = s;
    double v, unit;

    if (s == NULL || *p < '0' || *p > '9')
        return -1;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p == '.') {
        if (p[1] < '0' || p[1] > '9')
            return -1;
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    }
    unit = time_unit(p);
    if (unit == 0)
        return -1;
    errno = 0;
    v = strtod(s, NULL) * unit;
    if (errno != 0 || v > MAX_SECONDS)
        return -1;
    *out = v;
    return 0;
}

/* ---- [server] --------------------------------------------------------------- */

int config_parse_workers(const char *s, int *out)
{
    size_t n;

    if (strcmp(s, "auto") == 0) {
        *out = 0;
        return 0;
    }
    if (strspn(s, "0123456789") != strlen(s) || config_parse_size(s, &n) < 0 ||
        n < 1 || n > SCOREBOARD_MAX_WORKERS)
        return -1;
    *out = (int)n;
    return 0;
}

static int set_workers(struct parse_state *st, int *dst, const char *value)
{
    if (config_parse_workers(value, dst) < 0)
        return config_fail(st, "workers: expected \"auto\" or a number from 1 to %d, got \"%s\"",
                           SCOREBOARD_MAX_WORKERS, value);
    return 1;
}

/* A string value; `required` refuses an empty one, otherwise "" means unset. */
static int set_string(struct parse_state *st, const char *key, char **dst,
                      const char *value, int required)
{
    char *copy = NULL;

    if (value[0] == '\0' && required)
        return config_fail(st, "%s: expected a path, got \"\"", key);
    if (value[0] != '\0' && (copy = strdup(value)) == NULL)
        return config_fail(st, "%s: out of memory", key);
    free(*dst);
    *dst = copy;
    return 1;
}

/* A directory the workers write temporary files into: it must exist, be
 * a directory and be writable now (by whoever reads the config). */
static int set_wdir(struct parse_state *st, const struct server_key *k, char **dst,
                    const char *value)
{
    struct stat sb;

    if (value[0] == '\0')
        return config_fail(st, "%s: expected a directory, got \"\"", k->name);
    if (stat(value, &sb) < 0)
        return config_fail(st, "%s: %s: %s", k->name, value, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return config_fail(st, "%s: %s: not a directory", k->name, value);
    if (access(value, W_OK | X_OK) < 0)
        return config_fail(st, "%s: %s: not writable: %s", k->name, value, strerror(errno));
    return set_string(st, k->name, dst, value, 1);
}

static int set_level(struct parse_state *st, int *dst, const char *value)
{
    int level = log_level_parse(value);

    if (level < 0)
        return config_fail(st, "log_level: expected error, warn, info or debug, got \"%s\"",
                           value);
    *dst = level;
    return 1;
}

static int set_backlog(struct parse_state *st, int *dst, const char *value)
{
    size_t n;

    if (config_parse_size(value, &n) < 0 || strspn(value, "0123456789") != strlen(value) ||
        n < 1 || n > 65535)
        return config_fail(st, "backlog: expected a number from 1 to 65535, got \"%s\"", value);
    *dst = (int)n;
    return 1;
}

static int set_time(struct parse_state *st, const struct server_key *k,
                    double *dst, const char *value)
{
    double t;

    if (config_parse_time(value, &t) < 0 || (k->min && t <= 0))
        return config_fail(st, "%s: expected a time%s like 10, 10s, 250ms, 2m or 1h%s, "
                           "got \"%s\"", k->name, k->min ? " greater than 0" : "",
                           k->min ? "" : " (0: off)", value);
    *dst = t;
    return 1;
}

static int set_size(struct parse_state *st, const struct server_key *k,
                    size_t *dst, const char *value)
{
    size_t n;

    if (config_parse_size(value, &n) < 0 || n < k->min)
        return config_fail(st, "%s: expected a size%s like 512, 8k, 1m or 1g, got \"%s\"",
                           k->name, k->min ? " greater than 0" : "", value);
    *dst = n;
    return 1;
}

/* pubsub_max_message: a size from 1 to PUBSUB_MESSAGE_CAP (one message is
 * one datagram on the master<->worker channel). */
static int set_pubsub_msg(struct parse_state *st, const struct server_key *k,
                          size_t *dst, const char *value)
{
    size_t n;

    if (config_parse_size(value, &n) < 0 || n < 1 || n > PUBSUB_MESSAGE_CAP)
        return config_fail(st, "%s: expected a size from 1 to %uk, got \"%s\"", k->name,
                           (unsigned)(PUBSUB_MESSAGE_CAP / 1024), value);
    *dst = n;
    return 1;
}

/* A plain number (0 allowed, meaning off, unless the key's min is 1). */
static int set_count(struct parse_state *st, const struct server_key *k,
                     size_t *dst, const char *value)
{
    size_t n;

    if (strspn(value, "0123456789") != strlen(value) ||
        config_parse_size(value, &n) < 0 || n < k->min)
        return config_fail(st, "%s: expected a number%s, got \"%s\"", k->name,
                           k->min ? " of at least 1" :
                           strcmp(k->section, "server") == 0 ? " (0: off)" : "", value);
    *dst = n;
    return 1;
}

static int set_bool(struct parse_state *st, const struct server_key *k,
                    int *dst, const char *value)
{
    static const char *const yes[] = { "on", "yes", "true", "1" };
    static const char *const no[] = { "off", "no", "false", "0" };

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(value, yes[i]) == 0 || strcasecmp(value, no[i]) == 0) {
            *dst = strcasecmp(value, yes[i]) == 0;
            return 1;
        }
    }
    return config_fail(st, "%s: expected on or off, got \"%s\"", k->name, value);
}

/* normalize_path: off, append_slash or remove_slash (enum url_slash). */
static int set_normalize(struct parse_state *st, int *dst, const char *value)
{
    static const char *const modes[] = { "off", "append_slash", "remove_slash" };

    for (int i = 0; i < 3; i++)
        if (strcmp(value, modes[i]) == 0) {
            *dst = i;
            return 1;
        }
    return config_fail(st, "normalize_path: expected off, append_slash or remove_slash, "
                       "got \"%s\"", value);
}

/* user: looked up now, so that an unknown name is a config error. */
static int set_user(struct parse_state *st, const char *value)
{
    struct passwd *pw;

    errno = 0;
    pw = value[0] != '\0' ? getpwnam(value) : NULL;
    if (pw == NULL)
        return config_fail(st, "user: unknown user \"%s\"%s%s", value,
                           errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
    st->c->uid = pw->pw_uid;
    st->c->user_gid = pw->pw_gid;
    return set_string(st, "user", &st->c->user, value, 1);
}

static int set_group(struct parse_state *st, const char *value)
{
    struct group *gr;

    errno = 0;
    gr = value[0] != '\0' ? getgrnam(value) : NULL;
    if (gr == NULL)
        return config_fail(st, "group: unknown group \"%s\"%s%s", value,
                           errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
    st->c->gid = gr->gr_gid;
    return set_string(st, "group", &st->c->group, value, 1);
}

/* A value that may be anything but empty (a DSN, a password). */
static int set_text(struct parse_state *st, const struct server_key *k,
                    char **dst, const char *value)
{
    if (value[0] == '\0')
        return config_fail(st, "%s: expected a value, got \"\" (leave the key out instead)",
                           k->name);
    return set_string(st, k->name, dst, value, 0);
}

/* [redis] address: "host:port" (port 1-65535) or "unix:/absolute/path". */
static int set_address(struct parse_state *st, const struct server_key *k,
                       char **dst, const char *value)
{
    const char *colon = strrchr(value, ':');
    size_t port;

    if (strncmp(value, "unix:/", 6) == 0)
        return set_string(st, k->name, dst, value, 1);
    if (colon == NULL || colon == value || colon[1] == '\0' ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
        config_parse_size(colon + 1, &port) < 0 || port < 1 || port > 65535)
        return config_fail(st, "%s: expected host:port or unix:/path, got \"%s\"",
                           k->name, value);
    return set_string(st, k->name, dst, value, 1);
}

/* pubsub: a Redis server's URL (core/redis_url.c), for a kiln built with
 * Redis; its line is kept for the bus's messages. */
static int set_pubsub(struct parse_state *st, char **dst, const char *value)
{
    char why[200], shown[CONFIG_LINE_MAX + 1];

#ifndef KILN_WITH_REDIS
    (void)dst;
    (void)value;
    (void)why;
    (void)shown;
    return config_fail(st, "pubsub: this kiln was built without Redis "
                       "(configure found no hiredis, or was given --without-redis)");
#else
    if (redis_url_parse(value, NULL, why, sizeof why) < 0) {
        redis_url_shown(value, shown, sizeof shown);
        return config_fail(st, "pubsub: expected " REDIS_URL_FORMS ", got \"%s\": %s",
                           shown, why);
    }
    st->c->pubsub_line = st->line;
    return set_string(st, "pubsub", dst, value, 1);
#endif
}

/* trusted_proxies, metrics_allow: addresses and CIDR prefixes
 * (core/proxies.c); the last line of the key replaces the ones before. */
static int set_proxies(struct parse_state *st, const struct server_key *k,
                       struct proxies *dst, const char *value)
{
    char why[200];

    if (proxies_parse(dst, value, why, sizeof why) < 0)
        return config_fail(st, "%s: %s", k->name, why);
    return 1;
}

/* metrics: the path kiln answers its counters at ("/metrics"). */
static int set_metrics(struct parse_state *st, char **dst, const char *value)
{
    if (value[0] != '/' || strpbrk(value, "?# \t") != NULL)
        return config_fail(st, "metrics: expected a path starting with '/' (\"/metrics\"), "
                           "got \"%s\"", value);
    st->c->metrics_line = st->line;
    return set_string(st, "metrics", dst, value, 1);
}

/* gzip_level: zlib's 1 (fastest) to 9 (smallest). */
static int set_gzip_level(struct parse_state *st, size_t *dst, const char *value)
{
    size_t n;

    if (strlen(value) != 1 || value[0] < '1' || value[0] > '9' ||
        config_parse_size(value, &n) < 0)
        return config_fail(st, "gzip_level: expected a number from 1 to 9, got \"%s\"", value);
    *dst = n;
    return 1;
}

/* gzip_types: media types (type_list.h), kept normalized. */
static int set_types(struct parse_state *st, const struct server_key *k, char **dst,
                     const char *value)
{
    char list[CONFIG_LINE_MAX + 1], why[200];

    if (type_list_parse(value, list, sizeof list, why, sizeof why) < 0)
        return config_fail(st, "%s: %s, got \"%s\"", k->name, why, value);
    return set_string(st, k->name, dst, list, 1);
}

/* middlewares: names separated by commas (and white space), each checked
 * against the registered ones once the plugins are loaded (core/registry.c);
 * its line is kept for that message.  An empty value runs none. */
static int set_names(struct parse_state *st, const struct server_key *k, char **dst,
                     const char *value)
{
    for (const char *p = value; *p != '\0'; p++)
        if (!(*p == ',' || *p == ' ' || *p == '\t' || *p == '-' || *p == '_' || *p == '.'
              || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z')
              || (*p >= 'A' && *p <= 'Z')))
            return config_fail(st, "%s: a name holds '%c' (names are letters, digits, "
                               "'-', '_' and '.', separated by commas)", k->name, *p);
    free(*dst);
    if ((*dst = strdup(value)) == NULL)
        return config_fail(st, "%s: out of memory", k->name);
    st->c->middlewares_line = st->line;
    return 1;
}

/* Applies one key of kiln's own sections.  1, or 0 with the error noted. */
int config_key(struct parse_state *st, const char *section, const char *name,
                      const char *value)
{
    const struct server_key *k = find_server_key(section, name);
    char *base = (char *)st->c;

    if (k == NULL)
        return config_fail(st, "unknown key \"%s\" in [%s]", name, section);
#ifndef KILN_WITH_POSTGRES
    if (strcmp(section, "postgres") == 0)
        return config_fail(st, "[postgres]: this kiln was built without PostgreSQL "
                           "(configure found no libpq, or was given --without-postgres)");
#endif
#ifndef KILN_WITH_REDIS
    if (strcmp(section, "redis") == 0)
        return config_fail(st, "[redis]: this kiln was built without Redis "
                           "(configure found no hiredis, or was given --without-redis)");
#endif
    switch (k->kind) {
    case K_LISTEN:  return config_set_listen(st, value);
    case K_WORKERS: return set_workers(st, (int *)(base + k->off), value);
    case K_DIR:     return set_string(st, name, (char **)(base + k->off), value, 1);
    case K_PATH:    return set_string(st, name, (char **)(base + k->off), value, 0);
    case K_WDIR:    return set_wdir(st, k, (char **)(base + k->off), value);
    case K_PIDFILE:
        st->c->pidfile_is_default = 0;
        return set_string(st, name, (char **)(base + k->off), value, 0);
    case K_LEVEL:   return set_level(st, (int *)(base + k->off), value);
    case K_BACKLOG: return set_backlog(st, (int *)(base + k->off), value);
    case K_TIME:    return set_time(st, k, (double *)(base + k->off), value);
    case K_SIZE:    return set_size(st, k, (size_t *)(base + k->off), value);
    case K_COUNT:   return set_count(st, k, (size_t *)(base + k->off), value);
    case K_BOOL:    return set_bool(st, k, (int *)(base + k->off), value);
    case K_USER:    return set_user(st, value);
    case K_GROUP:   return set_group(st, value);
    case K_TEXT:    return set_text(st, k, (char **)(base + k->off), value);
    case K_ADDRESS: return set_address(st, k, (char **)(base + k->off), value);
    case K_PROXIES: return set_proxies(st, k, (struct proxies *)(base + k->off), value);
    case K_METRICS: return set_metrics(st, (char **)(base + k->off), value);
    case K_GZIP_LEVEL: return set_gzip_level(st, (size_t *)(base + k->off), value);
    case K_TYPES:   return set_types(st, k, (char **)(base + k->off), value);
    case K_NORMALIZE: return set_normalize(st, (int *)(base + k->off), value);
    case K_NAMES:   return set_names(st, k, (char **)(base + k->off), value);
    case K_PUBSUB_MSG: return set_pubsub_msg(st, k, (size_t *)(base + k->off), value);
    case K_PUBSUB:  return set_pubsub(st, (char **)(base + k->off), value);
    }
    return 0;
}

int config_is_server_key(const char *name)
{
    return find_server_key("server", name) != NULL;
}
