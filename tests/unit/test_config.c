/* test_config.c -- unit tests of the kiln.conf reader: values, defaults, errors with their line, sizes and times. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "redis_url.h"
#include "type_list.h"
#include "log.h"
#include "unit.h"

#ifndef PLUGINDIR
#define PLUGINDIR "/usr/local/lib/kiln/plugins"
#endif

static char path[64];

/* Writes `text` to a fresh temporary file whose name is left in `path`. */
static void write_conf(const char *text)
{
    int fd;

    snprintf(path, sizeof path, "/tmp/kiln-test-config-XXXXXX");
    fd = mkstemp(path);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        perror("mkstemp/write");
        exit(2);
    }
    close(fd);
}

/* Loads `text` into c (defaults first); config_load's result.  err gets the message. */
static int load(struct config *c, const char *text, char *err, size_t errlen)
{
    int rc;

    write_conf(text);
    config_defaults(c);
    rc = config_load(c, path, err, errlen);
    unlink(path);
    return rc;
}

static char last_warning[512];

/* config_unclaimed_sections' callback: counts and keeps the last one. */
static void count_warning(const char *msg, void *arg)
{
    (*(size_t *)arg)++;
    snprintf(last_warning, sizeof last_warning, "%s", msg);
}

/* Expects `text` to fail with "FILE:LINE: MESSAGE". */
static void expect_error(const char *text, int line, const char *message)
{
    struct config c;
    char err[512], want[512];
    int rc = load(&c, text, err, sizeof err);

    snprintf(want, sizeof want, "%s:%d: %s", path, line, message);
    CHECK(rc == -1, "refused: %s", message);
    CHECK_STR(err, want, "message: %s", message);
    config_free(&c);
}

static void test_defaults(void)
{
    struct config c;
    char err[256];

    CHECK(load(&c, "", err, sizeof err) == 0, "empty file loads");
    CHECK(c.nlisten == 1, "one default listen");
    CHECK_STR(c.listen[0], "127.0.0.1:8080", "default listen");
    CHECK(c.workers == 0, "workers auto");
    CHECK_STR(c.plugin_dir, PLUGINDIR, "plugin_dir default");
    CHECK_STR(c.pidfile, KILN_PIDFILE, "pidfile default");
    CHECK(c.pidfile_is_default, "pidfile marked as the default");
    CHECK(c.log_file == NULL, "no log file");
    CHECK(c.log_level == LOG_INFO, "log_level info");
    CHECK(c.backlog == 511, "backlog 511");
    CHECK(c.keepalive_timeout == 75 && c.header_timeout == 10 &&
          c.body_timeout == 30 && c.graceful_timeout == 30, "default timeouts");
    CHECK(c.max_uri_size == 8192 && c.max_header_size == 16384 &&
          c.max_headers == 100 && c.max_body_size == 1048576 &&
          c.keepalive_requests == 10000, "default sizes");
    CHECK(c.ws_max_msg_size == 4194304 && c.ws_max_queue == 16777216 &&
          c.ws_heartbeat == 0 && c.ws_idle_timeout == 0, "websocket defaults");
    CHECK(c.upload_spool_size == 65536 && c.max_upload_file_size == 0 &&
          c.upload_dir != NULL, "upload defaults");
    CHECK(c.nkv == 0, "no plugin keys");
    CHECK_STR(c.file, path, "file remembered");
    config_free(&c);
}

static void test_every_key(void)
{
    struct config c;
    char err[256];
    int rc = load(&c,
        "; a full file\n"
        "[server]\n"
        "listen = 127.0.0.1:9000 [::1]:9001\n"
        "listen = unix:/tmp/kiln.sock ; inline comment\n"
        "workers = 4\n"
        "plugin_dir = /opt/kiln/plugins\n"
        "pidfile = /run/kiln.pid\n"
        "log_file = /var/log/kiln.log\n"
        "log_level = debug\n"
        "backlog = 128\n"
        "keepalive_timeout = 5s\n"
        "header_timeout = 250ms\n"
        "body_timeout = 2m\n"
        "graceful_timeout = 1h\n"
        "max_uri_size = 4k\n"
        "max_header_size = 32K\n"
        "max_headers = 50\n"
        "max_body_size = 2m\n"
        "upload_spool_size = 1m\n"
        "max_upload_file_size = 3m\n"
        "upload_dir = /\n"
        "keepalive_requests = 77\n"
        "ws_max_msg_size = 64k\n"
        "ws_max_queue = 1m\n"
        "ws_heartbeat = 30s\n"
        "ws_idle_timeout = 0\n"
        "\n"
        "[hello]\n"
        "greeting = Hi there\n"
        "[other]\n"
        "greeting = Yo\n",
        err, sizeof err);

    CHECK(rc == 0, "full file loads (%s)", err);
    CHECK(c.nlisten == 3, "three listen addresses");
    CHECK_STR(c.listen[0], "127.0.0.1:9000", "listen 1");
    CHECK_STR(c.listen[1], "[::1]:9001", "listen 2");
    CHECK_STR(c.listen[2], "unix:/tmp/kiln.sock", "listen 3");
    CHECK(c.workers == 4, "workers");
    CHECK_STR(c.plugin_dir, "/opt/kiln/plugins", "plugin_dir");
    CHECK_STR(c.pidfile, "/run/kiln.pid", "pidfile");
    CHECK_STR(c.log_file, "/var/log/kiln.log", "log_file");
    CHECK(c.log_level == LOG_DEBUG, "log_level");
    CHECK(c.backlog == 128, "backlog");
    CHECK(c.keepalive_timeout == 5, "keepalive_timeout");
    CHECK(c.header_timeout == 0.25, "header_timeout");
    CHECK(c.body_timeout == 120, "body_timeout");
    CHECK(c.graceful_timeout == 3600, "graceful_timeout");
    CHECK(c.max_uri_size == 4096, "max_uri_size");
    CHECK(c.max_header_size == 32768, "max_header_size");
    CHECK(c.max_headers == 50, "max_headers");
    CHECK(c.max_body_size == 2097152, "max_body_size");
    CHECK(c.upload_spool_size == 1048576 && c.max_upload_file_size == 3145728,
          "upload sizes");
    CHECK_STR(c.upload_dir, "/", "upload_dir");
    CHECK(c.keepalive_requests == 77, "keepalive_requests");
    CHECK(c.ws_max_msg_size == 65536 && c.ws_max_queue == 1048576, "websocket sizes");
    CHECK(c.ws_heartbeat == 30 && c.ws_idle_timeout == 0, "websocket times (0: off)");
    CHECK(c.nkv == 2, "two plugin keys");
    CHECK_STR(config_plugin_value(&c, "hello", "greeting"), "Hi there", "plugin value");
    CHECK_STR(config_plugin_value(&c, "other", "greeting"), "Yo", "other section");
    CHECK_STR(config_plugin_value(&c, "hello", "absent"), NULL, "absent key");
    CHECK_STR(config_plugin_value(&c, "server", "workers"), NULL, "server is no plugin");
    CHECK(c.nkv == 2 && c.kv[0].line == 29 && c.kv[1].line == 31, "plugin key lines");
    config_free(&c);
}

/* The [server] gzip keys: defaults, values, errors. */
static void test_file_cache_keys(void)
{
    struct config c;
    char err[256];

    CHECK(load(&c, "", err, sizeof err) == 0, "empty file loads");
    CHECK(c.file_cache == 16u << 20 && c.max_cached_file_size == 64u << 10,
          "file cache defaults");
    config_free(&c);
    CHECK(load(&c, "[server]\nfile_cache = 0\nmax_cached_file_size = 1m\n", err,
               sizeof err) == 0, "file cache keys load (%s)", err);
    CHECK(c.file_cache == 0 && c.max_cached_file_size == 1u << 20, "file cache values");
    config_free(&c);
    expect_error("[server]\nfile_cache = lots\n", 2,
                 "file_cache: expected a size like 512, 8k, 1m or 1g, got \"lots\"");
}

static void test_gzip_keys(void)
{
    struct config c;
    char err[256];

    CHECK(load(&c, "", err, sizeof err) == 0, "empty file loads");
    CHECK(c.gzip == 0 && c.gzip_level == 5 && c.gzip_min_length == 1024, "gzip defaults");
    CHECK_STR(c.gzip_types, TYPE_LIST_DEFAULT, "gzip_types default");
    config_free(&c);
    CHECK(load(&c, "[server]\ngzip = on\ngzip_level = 9\ngzip_min_length = 0\n"
                   "gzip_types = Text/HTML  application/*\n", err, sizeof err) == 0,
          "gzip keys load (%s)", err);
    CHECK(c.gzip == 1 && c.gzip_level == 9 && c.gzip_min_length == 0, "gzip values");
    CHECK_STR(c.gzip_types, "text/html application/*", "gzip_types normalized");
    config_free(&c);
    CHECK(load(&c, "[server]\ngzip_types = *\ngzip_min_length = 2k\n", err, sizeof err) == 0,
          "gzip_types * loads (%s)", err);
    CHECK_STR(c.gzip_types, "*", "gzip_types *");
    CHECK(c.gzip_min_length == 2048, "gzip_min_length 2k");
    config_free(&c);
    expect_error("[server]\ngzip = maybe\n", 2, "gzip: expected on or off, got \"maybe\"");
    expect_error("[server]\n\ngzip_level = 0\n", 3,
                 "gzip_level: expected a number from 1 to 9, got \"0\"");
    expect_error("[server]\ngzip_level = 10\n", 2,
                 "gzip_level: expected a number from 1 to 9, got \"10\"");
    expect_error("[server]\ngzip_min_length = -1\n", 2,
                 "gzip_min_length: expected a size like 512, 8k, 1m or 1g, got \"-1\"");
    expect_error("[server]\ngzip_types = text/html, application/json\n", 2,
                 "gzip_types: \"text/html,\" is not type/subtype, type/*, type/*+suffix or *, "
                 "got \"text/html, application/json\"");
    expect_error("[server]\ngzip_types =\n", 2,
                 "gzip_types: expected media types like text/* application/json, or *, "
                 "got \"\"");
}

/* [server] middlewares: absent, a list with its line, empty, bad names. */
static void test_middlewares_key(void)
{
    struct config c;
    char err[256];

    CHECK(load(&c, "", err, sizeof err) == 0 && c.middlewares == NULL, "middlewares absent");
    config_free(&c);
    CHECK(load(&c, "[server]\n\nmiddlewares = auth, cors,timing\n", err, sizeof err) == 0,
          "middlewares loads (%s)", err);
    CHECK_STR(c.middlewares, "auth, cors,timing", "middlewares kept as written");
    CHECK(c.middlewares_line == 3, "middlewares line %d", c.middlewares_line);
    config_free(&c);
    CHECK(load(&c, "[server]\nmiddlewares =\n", err, sizeof err) == 0, "empty middlewares");
    CHECK_STR(c.middlewares, "", "empty middlewares: none run");
    config_free(&c);
    expect_error("[server]\nmiddlewares = auth; cors\n", 2,
                 "middlewares: a name holds ';' (names are letters, digits, '-', '_' and "
                 "'.', separated by commas)");
}

/* [postgres] and [redis] are kiln's own sections, checked like [server]. */
static void test_database_sections(void)
{
    struct config c;
    char err[256];

    CHECK(load(&c, "[server]\nworkers = 1\n", err, sizeof err) == 0, "no sections");
    CHECK(c.pg_dsn == NULL && c.pg_pool_size == 4 && c.pg_connect_timeout == 5,
          "postgres defaults");
    CHECK(c.redis_address == NULL && c.redis_db == 0 && c.redis_password == NULL &&
          c.redis_connect_timeout == 5, "redis defaults");
    config_free(&c);

    CHECK(load(&c, "[postgres]\ndsn = host=127.0.0.1 port=5432 dbname=app\n"
                   "pool_size = 16\nconnect_timeout = 250ms\n"
                   "[redis]\naddress = 127.0.0.1:6379\ndb = 3\npassword = s3 cret\n"
                   "connect_timeout = 2\n", err, sizeof err) == 0, "both load");
    CHECK_STR(c.pg_dsn, "host=127.0.0.1 port=5432 dbname=app", "dsn as written");
    CHECK(c.pg_pool_size == 16 && c.pg_connect_timeout == 0.25, "pool size, timeout");
    CHECK_STR(c.redis_address, "127.0.0.1:6379", "redis address");
    CHECK(c.redis_db == 3 && c.redis_connect_timeout == 2, "db, timeout");
    CHECK_STR(c.redis_password, "s3 cret", "password");
    CHECK(c.nkv == 0, "not kept as plugin sections");
    config_free(&c);

    CHECK(load(&c, "[redis]\naddress = unix:/run/redis/redis.sock\n", err,
               sizeof err) == 0, "a unix socket");
    CHECK_STR(c.redis_address, "unix:/run/redis/redis.sock", "unix address");
    config_free(&c);

    expect_error("[postgres]\nhost = x\n", 2, "unknown key \"host\" in [postgres]");
    expect_error("[postgres]\npool_size = 0\n", 2,
                 "pool_size: expected a number of at least 1, got \"0\"");
    expect_error("[postgres]\ndsn =\n", 2,
                 "dsn: expected a value, got \"\" (leave the key out instead)");
    expect_error("[redis]\naddress = localhost\n", 2,
                 "address: expected host:port or unix:/path, got \"localhost\"");
    expect_error("[redis]\naddress = :6379\n", 2,
                 "address: expected host:port or unix:/path, got \":6379\"");
    expect_error("[redis]\n\naddress = h:65536\n", 3,
                 "address: expected host:port or unix:/path, got \"h:65536\"");
    expect_error("[redis]\ndb = one\n", 2,
                 "db: expected a number, got \"one\"");
}

#ifdef KILN_WITH_REDIS
/* A URL's address and password as redis_link takes them. */
static void expect_url(const char *url, const char *address, const char *password)
{
    struct redis_url u;
    char why[200] = "";

    CHECK(redis_url_parse(url, &u, why, sizeof why) == 0, "%s parses%s%s", url,
          why[0] ? ": " : "", why);
    CHECK_STR(u.address, address, "%s: address", url);
    CHECK_STR(u.password, password, "%s: password", url);
}

/* [server] pubsub: the redis:// forms, each wrong one named with its line. */
static void test_pubsub_key(void)
{
    struct config c;
    char err[512], shown[128];
    const char *forms = "pubsub: expected " REDIS_URL_FORMS ", got ";

    CHECK(load(&c, "[server]\nworkers = 1\n", err, sizeof err) == 0 && c.pubsub == NULL,
          "pubsub: none by default");
    config_free(&c);
    CHECK(load(&c, "[server]\n\npubsub = redis://127.0.0.1:6379\n", err, sizeof err) == 0,
          "pubsub = redis://127.0.0.1:6379 loads");
    CHECK_STR(c.pubsub, "redis://127.0.0.1:6379", "kept as written");
    CHECK(c.pubsub_line == 3, "its line kept (%d)", c.pubsub_line);
    config_free(&c);

    expect_url("redis://127.0.0.1:6379", "127.0.0.1:6379", "");
    expect_url("redis://cache.internal:7000/", "cache.internal:7000", "");
    expect_url("redis://localhost", "localhost:6379", "");
    expect_url("redis://:s3cr@t@10.0.0.1:6380", "10.0.0.1:6380", "s3cr@t");
    expect_url("redis://[::1]:6379", "[::1]:6379", "");
    expect_url("redis://[fe80::1%eth0]", "[fe80::1%eth0]:6379", "");
    expect_url("redis+unix:///run/redis/redis.sock", "unix:/run/redis/redis.sock", "");
    expect_url("redis+unix://:pw@/tmp/r.sock", "unix:/tmp/r.sock", "pw");

    char want[512];
#define BAD(value, why) do {                                                  \
        snprintf(want, sizeof want, "%s\"%s\": %s", forms, value, why);        \
        expect_error("[server]\npubsub = " value "\n", 2, want);                \
    } while (0)
    BAD("local", "not a redis:// URL");
    BAD("127.0.0.1:6379", "not a redis:// URL");
    BAD("http://127.0.0.1:6379", "the scheme is not redis:// or redis+unix://");
    BAD("rediss://127.0.0.1:6379", "the scheme is not redis:// or redis+unix://");
    BAD("redis://", "the host is missing");
    BAD("redis://:6379", "the host is missing");
    BAD("redis://h:0", "the port must be a number from 1 to 65535");
    BAD("redis://h:65536", "the port must be a number from 1 to 65535");
    BAD("redis://h:63x", "the port must be a number from 1 to 65535");
    BAD("redis://h:", "the port must be a number from 1 to 65535");
    BAD("redis://::1:6379", "the host is not a name or an address");
    BAD("redis://[::1:6379", "the host is not a name or an address");
    BAD("redis://h o:1", "the host is not a name or an address");
    BAD("redis://h:1/0", "a path (a db number) means nothing to pub/sub");
    BAD("redis://[::1]x:1", "the host is not a name or an address");
    BAD("redis://[::1%]:1", "the host is not a name or an address");
    BAD("redis+unix://", "expected the socket's absolute path after \"redis+unix://\"");
    BAD("redis+unix://run/r.sock",
        "expected the socket's absolute path after \"redis+unix://\"");
#undef BAD
    /* the password is not in the message */
    snprintf(want, sizeof want, "%s\"redis://***@h:1\": "
             "a user name is not supported: write redis://:password@host", forms);
    expect_error("[server]\npubsub = redis://user:pw@h:1\n", 2, want);
    snprintf(want, sizeof want, "%s\"redis://***@h:1\": the password after \":\" is empty",
             forms);
    expect_error("[server]\npubsub = redis://:@h:1\n", 2, want);
    snprintf(want, sizeof want, "%s\"redis://***@h:99999\": "
             "the port must be a number from 1 to 65535", forms);
    expect_error("[server]\npubsub = redis://:hunter2@h:99999\n", 2, want);
    redis_url_shown("redis+unix://:pw@/r.sock", shown, sizeof shown);
    CHECK_STR(shown, "redis+unix://***@/r.sock", "a unix URL's password hidden");
    expect_error("[server]\npubsub =\n", 2,
                 "pubsub: expected " REDIS_URL_FORMS ", got \"\": not a redis:// URL");
}
#else
static void test_pubsub_key(void)
{
    expect_error("[server]\npubsub = redis://127.0.0.1:6379\n", 2,
                 "pubsub: this kiln was built without Redis (configure found no hiredis, "
                 "or was given --without-redis)");
}
#endif

/* The limits of publish/subscribe: defaults, sizes, pubsub_max_message's
 * ceiling (one message is one datagram of the channel). */
static void test_pubsub_limits(void)
{
    struct config c;
    char err[256];

    CHECK(load(&c, "[server]\nworkers = 1\n", err, sizeof err) == 0 &&
          c.pubsub_max_message == 65536 && c.pubsub_worker_queue == 16777216 &&
          c.pubsub_subscriber_queue == 1048576, "pubsub limits: 64k, 16m, 1m by default");
    config_free(&c);
    CHECK(load(&c, "[server]\npubsub_max_message = 192k\npubsub_worker_queue = 1m\n"
               "pubsub_subscriber_queue = 256k\n", err, sizeof err) == 0 &&
          c.pubsub_max_message == 196608 && c.pubsub_worker_queue == 1048576 &&
          c.pubsub_subscriber_queue == 262144, "pubsub limits as written");
    config_free(&c);
    expect_error("[server]\npubsub_max_message = 193k\n", 2,
                 "pubsub_max_message: expected a size from 1 to 192k, got \"193k\"");
    expect_error("[server]\npubsub_max_message = 0\n", 2,
                 "pubsub_max_message: expected a size from 1 to 192k, got \"0\"");
    expect_error("[server]\npubsub_subscriber_queue = 0\n", 2,
                 "pubsub_subscriber_queue: expected a size greater than 0 like 512, 8k, "
                 "1m or 1g, got \"0\"");
}

static void test_listen_lines(void)
{
    struct config c;
    char err[256];

    CHECK(load(&c, "[server]\nlisten = 9000\nworkers = auto\nlisten = *:9001\n",
               err, sizeof err) == 0, "two listen lines load");
    CHECK(c.nlisten == 2, "the first line replaced the default");
    CHECK_STR(c.listen[0], "9000", "first address as written");
    CHECK_STR(c.listen[1], "*:9001", "second address");
    CHECK(c.workers == 0, "workers auto");
    config_free(&c);

    CHECK(load(&c, "[server]\nlisten = [::]:0\n", err, sizeof err) == 0,
          "v6 any with port 0");
    CHECK(c.nlisten == 1, "one address");
    config_free(&c);
}

/* backlog= and deferred= after an address; the defaults follow [server]. */
static void test_listen_options(void)
{
    struct config c;
    struct listen_opts o;
    char err[256];

    CHECK(load(&c, "[server]\nlisten = 9000 backlog=4096 deferred=off 9001 "
                   "unix:/tmp/a=b.sock 9002 deferred=2500ms\n"
                   "backlog = 100\nheader_timeout = 3.5s\n", err, sizeof err) == 0,
          "listen options load");
    CHECK(c.nlisten == 4, "four addresses, the options not among them");
    CHECK_STR(c.listen[2], "unix:/tmp/a=b.sock", "a unix path with '=' is an address");
    config_listen_opts(&c, 0, &o);
    CHECK(o.backlog == 4096 && o.defer_accept == 0, "the first address's own options");
    config_listen_opts(&c, 1, &o);
    CHECK(o.backlog == 100 && o.defer_accept == 4,
          "defaults: [server] backlog, deferred as long as header_timeout (rounded up)");
    config_listen_opts(&c, 3, &o);
    CHECK(o.backlog == 100 && o.defer_accept == 3, "deferred=2500ms: 3 s");
    config_free(&c);

    expect_error("[server]\nlisten = backlog=5 9000\n", 2,
                 "listen: \"backlog=5\" must follow the address it applies to");
    expect_error("[server]\nlisten = 9000 backlog=0\n", 2,
                 "listen: 9000: backlog= expects a number from 1 to 65535, got \"0\"");
    expect_error("[server]\nlisten = 9000 deferred=soon\n", 2,
                 "listen: 9000: deferred= expects on, off or a time up to 1h, got \"soon\"");
    expect_error("[server]\nlisten = unix:/tmp/k.sock deferred=on\n", 2,
                 "listen: unix:/tmp/k.sock: deferred= applies to TCP addresses only");
    expect_error("[server]\nlisten = 9000 fastopen=1\n", 2,
                 "listen: unknown option \"fastopen\" (expected backlog= or deferred=)");
}

static void test_errors(void)
{
    char buf[512];

    expect_error("[server]\nworkers = 2\n\n\n\n\n\n\n\n\n\nlisen = 1\n", 12,
                 "unknown key \"lisen\" in [server]");
    expect_error("; top\n\n[server]\nworkers = x\n", 4,
                 "workers: expected \"auto\" or a number from 1 to 128, got \"x\"");
    expect_error("[server]\nworkers = 0\n", 2,
                 "workers: expected \"auto\" or a number from 1 to 128, got \"0\"");
    expect_error("[server]\nworkers = 129\n", 2,
                 "workers: expected \"auto\" or a number from 1 to 128, got \"129\"");
    expect_error("workers = 2\n", 1, "key \"workers\" outside any section");
    expect_error("[server]\nworkers = 2\n\n\n\n\nthis is not ini\n", 7, "syntax error");
    expect_error("[server\n", 1, "syntax error");
    expect_error("[server]\nlog_level = loud\n", 2,
                 "log_level: expected error, warn, info or debug, got \"loud\"");
    expect_error("[server]\nbacklog = 0\n", 2,
                 "backlog: expected a number from 1 to 65535, got \"0\"");
    expect_error("[server]\nkeepalive_timeout = 0\n", 2,
                 "keepalive_timeout: expected a time greater than 0 like 10, 10s, "
                 "250ms, 2m or 1h, got \"0\"");
    expect_error("[server]\n\ngraceful_timeout = 5 s\n", 3,
                 "graceful_timeout: expected a time greater than 0 like 10, 10s, "
                 "250ms, 2m or 1h, got \"5 s\"");
    expect_error("[server]\nws_heartbeat = -1\n", 2,
                 "ws_heartbeat: expected a time like 10, 10s, 250ms, 2m or 1h "
                 "(0: off), got \"-1\"");
    expect_error("[server]\nupload_dir = /nonexistent-kiln\n", 2,
                 "upload_dir: /nonexistent-kiln: No such file or directory");
    expect_error("[server]\n\nupload_dir = /dev/null\n", 3,
                 "upload_dir: /dev/null: not a directory");
    expect_error("[server]\nupload_dir =\n", 2, "upload_dir: expected a directory, got \"\"");
    expect_error("[server]\nupload_spool_size = 1x\n", 2,
                 "upload_spool_size: expected a size like 512, 8k, 1m or 1g, got \"1x\"");
    expect_error("[server]\nmax_body_size = -1\n", 2,
                 "max_body_size: expected a size like 512, 8k, 1m or 1g, got \"-1\"");
    expect_error("[server]\nmax_headers = 0\n", 2,
                 "max_headers: expected a size greater than 0 like 512, 8k, 1m or 1g, "
                 "got \"0\"");
    expect_error("[server]\nmax_uri_size = 99999999999999999999999\n", 2,
                 "max_uri_size: expected a size greater than 0 like 512, 8k, 1m or 1g, "
                 "got \"99999999999999999999999\"");
    expect_error("[server]\nplugin_dir =\n", 2, "plugin_dir: expected a path, got \"\"");
    expect_error("[server]\nlisten = 127.0.0.1:8080 nowhere:x\n", 2,
                 "listen: bad address \"nowhere:x\" (expected IP:PORT, [IPV6]:PORT, "
                 "*:PORT, PORT or unix:/path)");
    expect_error("[server]\nlisten = 70000\n", 2,
                 "listen: bad address \"70000\" (expected IP:PORT, [IPV6]:PORT, "
                 "*:PORT, PORT or unix:/path)");
    expect_error("[server]\nlisten = 9000\nlisten = 9000\n", 3,
                 "listen: \"9000\" is listed twice");
    expect_error("[server]\nlisten = 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n", 2,
                 "listen: more than 16 addresses");
    /* the first error wins, whatever its kind */
    expect_error("[server]\nbogus = 1\n[x\n", 2, "unknown key \"bogus\" in [server]");
    expect_error("[server]\n[x\nbogus = 1\n", 2, "syntax error");

    memset(buf, 'a', sizeof buf);
    memcpy(buf, "[p]\nk = ", 8);
    strcpy(buf + 300, "\nlater = 1\n");
    expect_error(buf, 2, "line longer than 199 characters");
}

static void test_long_line_limit(void)
{
    struct config c;
    char text[256], err[256];

    /* "k = " + 195 characters: exactly 199, the longest inih takes */
    snprintf(text, sizeof text, "[p]\nk = %0195d\nz = 1\n", 7);
    CHECK(load(&c, text, err, sizeof err) == 0, "199-character line loads (%s)", err);
    CHECK(c.nkv == 2 && strlen(c.kv[0].value) == 195, "value kept whole");
    CHECK(c.nkv == 2 && c.kv[1].line == 3, "next line counted");
    config_free(&c);
}

static void test_missing_file(void)
{
    struct config c;
    char err[256];

    config_defaults(&c);
    CHECK(config_load(&c, "/nonexistent/kiln.conf", err, sizeof err) == -1,
          "missing file refused");
    CHECK_STR(err, "/nonexistent/kiln.conf: cannot open: No such file or directory",
              "missing file message");
    config_free(&c);
}

static void test_sizes(void)
{
    size_t v = 0;

    CHECK(config_parse_size("512", &v) == 0 && v == 512, "512");
    CHECK(config_parse_size("0", &v) == 0 && v == 0, "0");
    CHECK(config_parse_size("8k", &v) == 0 && v == 8192, "8k");
    CHECK(config_parse_size("16K", &v) == 0 && v == 16384, "16K");
    CHECK(config_parse_size("1m", &v) == 0 && v == 1048576, "1m");
    CHECK(config_parse_size("2g", &v) == 0 && v == 2147483648u, "2g");
    CHECK(config_parse_size("", &v) == -1, "empty");
    CHECK(config_parse_size("k", &v) == -1, "unit alone");
    CHECK(config_parse_size("-1", &v) == -1, "negative");
    CHECK(config_parse_size("+1", &v) == -1, "plus sign");
    CHECK(config_parse_size(" 1", &v) == -1, "leading space");
    CHECK(config_parse_size("1kb", &v) == -1, "two-letter unit");
    CHECK(config_parse_size("1.5k", &v) == -1, "fraction");
    CHECK(config_parse_size("0x10", &v) == -1, "hex");
    CHECK(config_parse_size("12t", &v) == -1, "unknown unit");
    CHECK(config_parse_size("18446744073709551615", &v) == 0 && v == SIZE_MAX,
          "SIZE_MAX");
    CHECK(config_parse_size("18446744073709551616", &v) == -1, "SIZE_MAX + 1");
    CHECK(config_parse_size("17179869184g", &v) == -1, "overflow by unit");
}

static void test_times(void)
{
    double t = 0;

    CHECK(config_parse_time("10", &t) == 0 && t == 10, "10");
    CHECK(config_parse_time("10s", &t) == 0 && t == 10, "10s");
    CHECK(config_parse_time("250ms", &t) == 0 && t == 0.25, "250ms");
    CHECK(config_parse_time("2m", &t) == 0 && t == 120, "2m");
    CHECK(config_parse_time("1h", &t) == 0 && t == 3600, "1h");
    CHECK(config_parse_time("1.5s", &t) == 0 && t == 1.5, "1.5s");
    CHECK(config_parse_time("0", &t) == 0 && t == 0, "0 parses (keys refuse it)");
    CHECK(config_parse_time("", &t) == -1, "empty");
    CHECK(config_parse_time("s", &t) == -1, "unit alone");
    CHECK(config_parse_time("-1", &t) == -1, "negative");
    CHECK(config_parse_time("1.", &t) == -1, "dangling dot");
    CHECK(config_parse_time(".5", &t) == -1, "leading dot");
    CHECK(config_parse_time("10 s", &t) == -1, "space before unit");
    CHECK(config_parse_time("1d", &t) == -1, "unknown unit");
    CHECK(config_parse_time("inf", &t) == -1, "inf");
    CHECK(config_parse_time("1e3", &t) == -1, "exponent");
    CHECK(config_parse_time("1000000000000h", &t) == -1, "too large");
}

static void test_pidfile_and_warnings(void)
{
    struct config c;
    char err[256], want[512];
    const char *names[] = { "hello" };
    size_t seen = 0;

    CHECK(load(&c, "[server]\npidfile =\n", err, sizeof err) == 0, "empty pidfile loads");
    CHECK(c.pidfile == NULL && !c.pidfile_is_default, "pidfile = (empty): none");
    config_free(&c);
    CHECK(load(&c, "[server]\npidfile = k.pid\n", err, sizeof err) == 0, "pidfile loads");
    CHECK_STR(c.pidfile, "k.pid", "relative pidfile kept as written");
    CHECK(!c.pidfile_is_default, "explicit pidfile is not the default");
    CHECK(c.nwarnings == 0, "no warnings");
    config_free(&c);

    CHECK(load(&c, "[server]\nworkers = 2\n[hello]\ngreeting = hi\npidfile = /x\n"
               "[helo]\ngreeting = yo\n", err, sizeof err) == 0, "misplaced key loads");
    CHECK(c.nwarnings == 1, "one warning (%zu)", c.nwarnings);
    snprintf(want, sizeof want, "%s:5: \"pidfile\" is a [server] key, but it is in "
             "[hello], where only the plugin named hello reads it (move it under "
             "[server] if it is the server's)", path);
    CHECK(c.nwarnings == 1 && strcmp(c.warnings[0], want) == 0, "warning names file:line");
    CHECK(c.pidfile_is_default, "the misplaced key does not set the server's pidfile");
    CHECK_STR(config_plugin_value(&c, "hello", "pidfile"), "/x", "kept for the plugin");
    config_unclaimed_sections(&c, names, 1, count_warning, &seen);
    CHECK(seen == 1, "one unclaimed section (%zu)", seen);
    snprintf(want, sizeof want, "%s:7: [helo] names no loaded plugin", path);
    CHECK(strncmp(last_warning, want, strlen(want)) == 0, "unclaimed: %s", last_warning);
    config_free(&c);
}

int main(void)
{
    test_defaults();
    test_every_key();
    test_gzip_keys();
    test_file_cache_keys();
    test_middlewares_key();
    test_listen_lines();
    test_listen_options();
    test_database_sections();
    test_pubsub_key();
    test_pubsub_limits();
    test_errors();
    test_long_line_limit();
    test_missing_file();
    test_sizes();
    test_times();
    test_pidfile_and_warnings();
    return unit_done();
}
