/*
 * kiln.h -- the whole plugin API of the kiln application server.
 *
 * A plugin is a shared object that exports exactly one symbol, the
 * descriptor `kiln_plugin` (use KILN_PLUGIN() below).  kiln loads every
 * `*.so` of its plugin directory in each worker process, in name order, with
 * dlopen(RTLD_NOW | RTLD_LOCAL), checks the descriptor's ABI version and
 * calls its init hook, which registers routes:
 *
 *     #include <kiln.h>
 *
 *     static int hello(kiln_req *req, void *data)
 *     {
 *         const char *name = kiln_match(req, "name");
 *
 *         (void)data;
 *         return kiln_text(req, 200, "Hello, %s", name ? name : "Anonymous");
 *     }
 *
 *     static int init(kiln_app *app)
 *     {
 *         kiln_add_get(app, "/", hello, NULL);
 *         kiln_add_get(app, "/{name}", hello, NULL);
 *         return 0;
 *     }
 *
 *     KILN_PLUGIN("hello", init, NULL);
 *
 * kiln loads a plugin from a sealed copy of its file, made when the
 * generation's plugins were checked (dlopen of /proc/self/fd/N), so every
 * worker of a generation runs the same bytes, whatever is written to the
 * plugin directory meanwhile; $ORIGIN in a plugin's run path therefore does
 * not name the plugin directory: link its libraries by absolute path.
 *
 * Build it out of tree with
 *     cc -shared -fPIC -Wall -Wextra $(pkg-config --cflags kiln) -o hello.so hello.c
 * copy hello.so into $(pkg-config --variable=plugindir kiln) under a name
 * starting with '.', rename it to hello.so, and reload (kiln -s reload).
 *
 * Threading: a worker is one thread running one event loop.  Every function
 * here must be called from that thread: from inside init/fini, the worker
 * hooks, a handler, or a callback kiln runs on the loop (a timer's, a
 * watcher's, a cancel callback, a pool job's done).  Pool threads
 * (kiln_offload) call none of them.
 *
 * Memory: strings returned by request accessors belong to the request and
 * stay valid until its response is complete (for a pending request: until
 * kiln_resume() or its cancel callback has returned); copy what you keep.
 * Everything a plugin passes in (strings, bodies) is copied by kiln before the
 * call returns.
 *
 * ABI changelog (bump MINOR for additions, MAJOR for any incompatible change;
 * the loader refuses a plugin built for another MAJOR or a newer MINOR):
 *   1.0  2026-11-25  first release: routes, request accessors, responses,
 *                    per-plugin config, logging, WebSocket routes.
 *   1.1  2026-12-01  struct kiln_ws_handlers: max_msg_size (a per-route
 *                    message limit).
 *   1.2  2026-12-02  answering later: KILN_PENDING, kiln_defer(),
 *                    kiln_pending(), kiln_resume(); timers (kiln_timer_*),
 *                    readiness watchers (kiln_watch_*), kiln_loop();
 *                    worker start and stop hooks (kiln_worker_hooks);
 *                    WebSocket ids (kiln_ws_id, kiln_ws_get); a thread
 *                    pool per worker (kiln_offload); per-route
 *                    pending_timeout (kiln_route_pending_timeout).
 *   1.3  2026-12-02  PostgreSQL (kiln_pg_*) and Redis (kiln_redis_*)
 *                    clients on the worker's loop, configured in [postgres]
 *                    and [redis]; built in unless configure was told
 *                    --without-postgres / --without-redis.
 *   1.4  2026-12-02  route patterns: the tail capture {name:*} (a
 *                    pattern 1.3 refused: "*" is not a valid regex);
 *                    kiln_mime_type() from [server] mime_types; answers in
 *                    one call: kiln_error(), kiln_redirect(); cookies:
 *                    struct kiln_cookie_opts, kiln_set_cookie(),
 *                    kiln_delete_cookie(); JSON (jansson): kiln_json_body(),
 *                    kiln_json();
 *                    every query value (kiln_query_count/_at/_nth), cookies
 *                    (kiln_cookie*), urlencoded forms (kiln_form*),
 *                    request-scoped storage (kiln_req_set/get);
 *                    request identity: kiln_peer_addr(), kiln_remote(),
 *                    kiln_scheme(), kiln_host(), kiln_http_version(), with
 *                    [server] trusted_proxies; per-route body limit
 *                    (kiln_route_max_body);
 *                    multipart/form-data bodies: their fields through
 *                    kiln_form*, why one did not parse (kiln_form_error),
 *                    their files (kiln_upload_count/_find/_field/_name/
 *                    _type/_size/_data), parsed as the body arrives, a
 *                    file past [server] upload_spool_size spooled to a
 *                    nameless temporary file of upload_dir
 *                    (kiln_upload_spooled(), kiln_upload_fd(),
 *                    kiln_upload_save(); max_upload_file_size); bodies
 *                    read as they arrive, with back-pressure:
 *                    kiln_route_stream_body(), struct kiln_body_ops,
 *                    enum kiln_body_end, kiln_body_stream(),
 *                    kiln_body_pause(), kiln_body_resume();
 *                    streaming responses: struct kiln_stream_ops,
 *                    kiln_stream(), kiln_stream_write(), kiln_stream_end(),
 *                    kiln_stream_unsent(); Server-Sent Events: kiln_sse(),
 *                    kiln_sse_send(), kiln_sse_retry(), kiln_sse_comment(),
 *                    kiln_sse_heartbeat(); file responses: kiln_file()
 *                    (validators, conditional requests, one byte range,
 *                    sendfile(2) from the loop, precompressed .br/.gz
 *                    siblings), kiln_file_at() and kiln_open_at() under a
 *                    root (KILN_FILE_BENEATH, _NO_SYMLINKS, _PRECOMPRESSED,
 *                    _DIR_REDIRECT: openat2(2)); gzip of buffered
 *                    responses ([server] gzip, gzip_level,
 *                    gzip_min_length, gzip_types) and kiln_compress().
 *   1.5  2026-12-03  middlewares: KILN_NEXT, kiln_add_middleware(),
 *                    ordered by [server] middlewares; the response as a
 *                    middleware sees it: kiln_resp_status(),
 *                    kiln_resp_header(), kiln_resp_remove_header(),
 *                    kiln_resp_body(), kiln_resp_clear_body(),
 *                    kiln_resp_is_error(), kiln_resp_is_stream(); the
 *                    response-sent hook: struct kiln_sent,
 *                    kiln_on_response_sent(); log reopening:
 *                    kiln_on_reopen(); functions one plugin offers another:
 *                    kiln_export(), kiln_import(); route patterns:
 *                    {name:int} and kiln_match_int(); named routes and
 *                    URLs: kiln_route_name(), kiln_url_for(),
 *                    kiln_route_pattern(), kiln_route_name_of().
 *   1.6  2026-12-03  publish/subscribe across workers and hosts:
 *                    kiln_subscribe(), kiln_unsubscribe(),
 *                    kiln_sse_subscribe(), kiln_sse_unsubscribe(),
 *                    kiln_publish(), kiln_publish_text() ([server]
 *                    pubsub_max_message, pubsub_worker_queue,
 *                    pubsub_subscriber_queue, pubsub); kiln_on_publish();
 *                    kiln_ws_broadcast() reaches the route's connections
 *                    in every worker.
 *   1.7  2026-12-04  KILN_FILE_CACHE: kiln_file_at() answers small files
 *                    from the worker's file cache ([server] file_cache,
 *                    max_cached_file_size), invalidated by inotify(7).
 *
 * How the ABI grows: functions are only added, and a struct that a plugin
 * hands to kiln (struct kiln_plugin, struct kiln_ws_handlers) only gains
 * members at its end, each marked with the minor that added it.  kiln reads
 * of such a struct only the members that existed in the ABI minor the
 * plugin's descriptor declares (KILN_PLUGIN() records KILN_ABI_MINOR), and
 * takes the later ones as zero: a plugin built against an older minor keeps
 * loading and behaving the same, with no size field to fill in.
 */
#ifndef KILN_H
#define KILN_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_VERSION_MAJOR 0
#define KILN_VERSION_MINOR 1
#define KILN_VERSION_PATCH 0

#define KILN_ABI_MAJOR 1
#define KILN_ABI_MINOR 7

#if defined(__GNUC__)
#define KILN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define KILN_EXPORT __attribute__((visibility("default")))
#define KILN_SENTINEL __attribute__((sentinel))
#else
#define KILN_PRINTF(f, a)
#define KILN_EXPORT
#define KILN_SENTINEL
#endif

/* The server's version at run time, e.g. "0.1.0". */
const char *kiln_version(void);

/* ---- opaque types --------------------------------------------------------- */

/* The registration context handed to a plugin's init hook. */
typedef struct kiln_app kiln_app;
/* One HTTP request and the response being built for it. */
typedef struct kiln_req kiln_req;
/* One open WebSocket connection. */
typedef struct kiln_ws kiln_ws;
/* 1.2: a name for a pending request or a WebSocket that stays safe to use
 * after it is gone (see kiln_defer() and kiln_ws_id()); never 0. */
typedef unsigned long long kiln_id;

/* ---- handlers ------------------------------------------------------------- */

/* What a handler returns. */
enum {
    KILN_OK = 0,      /* the response is complete: send it */
    KILN_ERROR = -1,  /* the handler failed: kiln answers 500 */
    KILN_PENDING = 1  /* 1.2: kiln_defer() was called, kiln_resume() will
                         complete the response */
};

/*
 * A request handler.  `data` is the pointer given at registration.  It builds
 * the response with the kiln_text()/kiln_set_*() family and returns KILN_OK,
 * or KILN_ERROR for a 500.  A handler that sets nothing answers 204.  One
 * that must wait (for a timer, a database, another connection) calls
 * kiln_defer() and returns KILN_PENDING (see "answering later" below).
 */
typedef int (*kiln_handler)(kiln_req *req, void *data);

/* ---- the plugin descriptor ------------------------------------------------ */

struct kiln_plugin {
    unsigned abi_major;         /* KILN_ABI_MAJOR the plugin was built for */
    unsigned abi_minor;         /* KILN_ABI_MINOR the plugin was built for */
    const char *name;           /* short name; also its config section */
    /* Registers routes; 0 on success, non-zero refuses the plugin. */
    int (*init)(kiln_app *app);
    /* Called once when the worker stops; may be NULL. */
    void (*fini)(kiln_app *app);
};

/* Defines the one symbol a plugin exports. */
#define KILN_PLUGIN(name, init, fini)                                       \
    KILN_EXPORT const struct kiln_plugin kiln_plugin = {                    \
        KILN_ABI_MAJOR, KILN_ABI_MINOR, (name), (init), (fini)}

/* ---- route registration (from init only) ---------------------------------- */

/*
 * Adds a route.  `method` is an HTTP method ("GET", "POST", ...) or "*" for
 * any.  `pattern` is a path made of segments:
 *     /users               a literal segment
 *     /users/{name}        one non-empty segment, captured as "name"
 *     /users/{id:[0-9]+}   one segment matching a POSIX extended regex
 *                          (anchored to the whole segment), captured as "id"
 *     /notes/{id:int}      1.5: one segment that is an integer: an optional
 *                          '-' and decimal digits, within a long long
 *                          ("/notes/12x" or "/notes/99999999999999999999"
 *                          do not match); read it with kiln_match_int()
 *     /static/{path:*}     1.4: the rest of the path, as the last segment
 *                          only: "/static/css/a.css" gives path "css/a.css",
 *                          "/static/dir/" gives "dir/", "/static/" gives ""
 *                          ("/static" does not match); "/{path:*}" also
 *                          takes "/" (path "").  Segments are decoded and
 *                          dot-segments removed first; a path with an
 *                          encoded slash (%2F) in the rest does not match,
 *                          so the value splits at '/' into the segments
 *                          the client sent.
 * Literal segments take precedence over captures, then routes are tried in
 * registration order.  A GET route also answers HEAD.  Returns 0, or -1 with
 * the reason logged (bad pattern, bad regex, duplicate method+pattern; 1.5:
 * a route of another plugin with the same method and pattern once capture
 * names are left out, "/a/{x}" against "/a/{y}", the other plugin named).
 * 1.5: with `mount = /p1 /p2` in the plugin's config section the route is
 * served under each prefix instead ("/p1/a/{x}", "/p2/a/{x}"); the other
 * kiln_route_* calls still take the pattern as the plugin wrote it.
 */
int kiln_add_route(kiln_app *app, const char *method, const char *pattern,
                   kiln_handler handler, void *data);

/*
 * 1.2: the time a pending request of the route `method pattern` (added by
 * this plugin before) has to be answered, instead of the server's
 * pending_timeout; past it the request is cancelled and answered 504.
 * From init; 0, or -1 with the reason logged (the plugin is then refused).
 */
int kiln_route_pending_timeout(kiln_app *app, const char *method, const char *pattern,
                               double seconds);

/*
 * 1.4: the largest request body the route `method pattern` (added by this
 * plugin before) takes, instead of the server's max_body_size, larger or
 * smaller (0: no body at all).  A body over it is answered 413 and the
 * connection closed: before any of it is read when Content-Length says so,
 * else as soon as the chunks received pass it.  The limit is the route's
 * that the method and path match (a HEAD request falling back to GET takes
 * the GET route's).  From init; 0, or -1 with the reason logged (no such
 * HTTP route of this plugin; the plugin is then refused).
 */
int kiln_route_max_body(kiln_app *app, const char *method, const char *pattern,
                        size_t bytes);

/*
 * 1.4: the route `method pattern` (added by this plugin before) reads its
 * body itself: its handler runs as soon as the header block is read,
 * before any of the body, and reads it piece by piece through
 * kiln_body_stream() (see "reading a body as it arrives").  From init; 0,
 * or -1 with the reason logged (no such HTTP route of this plugin).
 */
int kiln_route_stream_body(kiln_app *app, const char *method, const char *pattern);

/*
 * 1.5: names the route the last kiln_add_route() (or kiln_add_websocket())
 * of this plugin added, for kiln_url_for() and kiln_route_name_of().  A
 * name is made of [A-Za-z0-9_.-] and is unique across every plugin: a name
 * taken already (by this plugin or another) refuses the plugin with a
 * message naming both.  From init; 0, or -1 with the reason logged.
 *     kiln_add_get(app, "/notes/{id:int}", note, NULL);
 *     kiln_route_name(app, "note");
 */
int kiln_route_name(kiln_app *app, const char *name);

static inline int kiln_add_get(kiln_app *app, const char *pattern,
                               kiln_handler handler, void *data)
{ return kiln_add_route(app, "GET", pattern, handler, data); }
static inline int kiln_add_post(kiln_app *app, const char *pattern,
                                kiln_handler handler, void *data)
{ return kiln_add_route(app, "POST", pattern, handler, data); }
static inline int kiln_add_put(kiln_app *app, const char *pattern,
                               kiln_handler handler, void *data)
{ return kiln_add_route(app, "PUT", pattern, handler, data); }
static inline int kiln_add_patch(kiln_app *app, const char *pattern,
                                 kiln_handler handler, void *data)
{ return kiln_add_route(app, "PATCH", pattern, handler, data); }
static inline int kiln_add_delete(kiln_app *app, const char *pattern,
                                  kiln_handler handler, void *data)
{ return kiln_add_route(app, "DELETE", pattern, handler, data); }

/*
 * 1.2: hooks run in each worker, never in the process a reload uses to
 * check the plugins (where init and fini run too): `start` once the worker
 * has loaded every plugin, before it accepts a connection (connect to a
 * database here); `stop` when it stops, after its connections are closed
 * (pending requests cancelled, WebSockets closed) and before fini.  Either
 * may be NULL; from init only.  0, or -1.
 */
int kiln_worker_hooks(kiln_app *app, void (*start)(kiln_app *app),
                      void (*stop)(kiln_app *app));

/*
 * A value of this plugin's config section ([name] in kiln.conf, where name
 * is the descriptor's name), or `def` when the key is absent.  The string
 * stays valid while the plugin is loaded (until its fini hook has returned),
 * so init may keep it, for instance as a handler's data.
 */
const char *kiln_config(kiln_app *app, const char *key, const char *def);

/* ---- request accessors (read-only; valid until the response is sent) ------ */

const char *kiln_method(const kiln_req *req);    /* "GET" */
const char *kiln_path(const kiln_req *req);      /* percent-decoded, no query */
const char *kiln_target(const kiln_req *req);    /* raw request target */
const char *kiln_query_string(const kiln_req *req); /* raw, after '?'; "" if none */

/* match_info: the decoded value captured as {name}, or NULL. */
const char *kiln_match(const kiln_req *req, const char *name);

/* 1.5: the value captured as {name} as a number -- a {name:int} capture's
 * always is one -- or `fallback` when there is no such capture or its value
 * is not an integer (an optional '-' and decimal digits, in range):
 *     long long id = kiln_match_int(req, "id", -1); */
long long kiln_match_int(const kiln_req *req, const char *name, long long fallback);

/*
 * 1.5: the path of the route named `name` (aiohttp's url_for), its captures
 * given as (capture name, value) string pairs ended by NULL:
 *     kiln_url_for(req, "note", "id", "42", NULL)      -> "/notes/42"
 *     kiln_url_for(req, "file", "path", "a b/c", NULL) -> "/files/a%20b/c"
 * Values are percent-encoded as a path segment needs (RFC 3986; a {name:*}
 * value keeps its '/').  Under mount prefixes the path is built under the
 * prefix the current request came through (its route's), else under the
 * first.  The string is the request's (valid until the response is
 * complete).  NULL, with the reason logged, for an unknown name, a capture
 * without a value, a parameter the pattern does not capture, an empty
 * value, "." or "..", or a {name:int} value that is not an integer (a
 * {name:regex} value is not checked against its regex); at most 16 pairs.
 */
char *kiln_url_for(kiln_req *req, const char *name, ...) KILN_SENTINEL;

/* 1.5: the pattern of the route the request matched, as served (with its
 * mount prefix: "/api/v1/notes/{id:int}"), and its name (kiln_route_name),
 * for logs and metrics; NULL when no route matched or it has no name. */
const char *kiln_route_pattern(const kiln_req *req);
const char *kiln_route_name_of(const kiln_req *req);

/* The first value of query parameter `name`, decoded ('+' is a space);
 * "" for a key without '='; NULL when absent.  (1.4: every pair counts, and
 * a bad escape stays as it was sent: see "query, cookies, forms" below.) */
const char *kiln_query(kiln_req *req, const char *name);

/* A request header by case-insensitive name (the first one), or NULL. */
const char *kiln_header(const kiln_req *req, const char *name);
/* Number of request headers, and the i-th of them (0 <= i < count). */
size_t kiln_header_count(const kiln_req *req);
int kiln_header_at(const kiln_req *req, size_t i, const char **name,
                   const char **value);

/* The request body (dechunked) and its length; an empty body is "" / 0.
 * (1.4: "" for a multipart/form-data body, parsed as it arrived -- see
 * kiln_form*, kiln_upload* -- and on a kiln_route_stream_body() route.) */
const void *kiln_body(const kiln_req *req, size_t *len);

/*
 * 1.4: the media type of a file name by its extension, compared without
 * case ("a/b.CSS" -> "text/css"), from the mime.types file of [server]
 * mime_types (default /etc/mime.types, Debian's media-types package), read
 * once when the worker starts; `def` for no extension (".profile" has
 * none), an unknown one, or no table.  The string stays valid while the
 * worker runs.  From a handler or a loop callback.
 */
const char *kiln_mime_type(const char *path, const char *def);

/* ---- query, cookies, forms, request storage (1.4) ---------------------------- */

/*
 * aiohttp's request.query (a MultiDict), request.cookies, await
 * request.post() and request['key']:
 *
 *     for (size_t i = 0; kiln_query_at(req, i, &name, &value) == 0; i++) ...
 *     const char *tag;
 *     for (size_t n = 0; (tag = kiln_query_nth(req, "tag", n)) != NULL; n++) ...
 *     const char *sid = kiln_cookie(req, "session");
 *     const char *email = kiln_form(req, "email");
 *
 * Query and form pairs are urlencoded: "a=1&b=x+y&a=3" gives (a,1) (b,x y)
 * (a,3), in order, every one of them (no cap: the request's own limits,
 * URI size for a query and max_body_size for a form, bound them).  '+' is
 * a space and %XX the byte it names (%20 a space, %2B a '+'); an invalid
 * escape ("%zz", a truncated "%4") stays as the bytes that were sent, as
 * aiohttp (yarl) keeps it, and so does "%00": a NUL would cut the C string,
 * so kiln hands on the three characters "%00" instead.  Empty pieces
 * ("a=1&&b") are skipped; a name without '=' has the value "".  Names
 * compare exactly (case matters).  Values are bytes as decoded (UTF-8 when
 * the client sent UTF-8); a raw NUL byte in a form body (no client sends
 * one) ends that value as a C string.
 *
 * Every string returned here belongs to the request, valid until its
 * response is sent (as the other accessors).  Each list is parsed on its
 * first use; out of memory then, it reads as empty (count 0, NULL).
 */

/* How many query pairs there are, and the i-th (0 <= i < count): 0 with
 * *name and *value set (either pointer may be NULL), or -1 out of range. */
size_t kiln_query_count(kiln_req *req);
int kiln_query_at(kiln_req *req, size_t i, const char **name, const char **value);
/* The n-th value (0-based, in order) of query parameter `name`, NULL past
 * the last (aiohttp's getall()); n = 0 is kiln_query(). */
const char *kiln_query_nth(kiln_req *req, const char *name, size_t n);

/*
 * Cookies, from every Cookie header field in arrival order (an HTTP/1.1
 * client may send several), read as browsers send them (RFC 6265 5.4):
 * "a=1; b=\"two\"; a=2" gives (a,1) (b,two) (a,2).  Pairs split at ';',
 * white space around names and values is trimmed, one pair of double
 * quotes around a value is removed, and pieces without '=' or with an
 * empty name are skipped.  Values are opaque (RFC 6265 4.1.1): nothing is
 * percent-decoded; a plugin that encoded a value decodes it itself.
 * kiln_cookie() gives the first value of `name` (a browser sends the
 * cookie of the most specific path first), NULL when absent;
 * kiln_cookie_count() and kiln_cookie_at() as for the query.
 */
const char *kiln_cookie(kiln_req *req, const char *name);
size_t kiln_cookie_count(kiln_req *req);
int kiln_cookie_at(kiln_req *req, size_t i, const char **name, const char **value);

/*
 * The fields of a urlencoded form body: when the request's Content-Type is
 * application/x-www-form-urlencoded (in any case, parameters such as
 * "; charset=utf-8" allowed), its body parsed as the query is.  For a
 * multipart/form-data body, the fields are its parts without a filename
 * (see "multipart forms and files" below).  For any other content type, or
 * none, there are no fields: kiln_form() and kiln_form_nth() give NULL,
 * kiln_form_count() 0, kiln_form_at() -1.  The same contracts as
 * kiln_query(), kiln_query_count(), kiln_query_at(), kiln_query_nth().
 */
const char *kiln_form(kiln_req *req, const char *name);
size_t kiln_form_count(kiln_req *req);
int kiln_form_at(kiln_req *req, size_t i, const char **name, const char **value);
const char *kiln_form_nth(kiln_req *req, const char *name, size_t n);

/*
 * Request-scoped storage (aiohttp's request['key'] = value): what one piece
 * of code running for a request (a middleware, say) hands to another (the
 * handler).  kiln_req_set() keeps `value` under `key` (copied; any string,
 * compared exactly), replacing a value set before under the same key,
 * whose free_fn then runs at once (unless it is the same pointer again:
 * only its free_fn is replaced).  When the request ends -- its response
 * sent, it was answered with an error, it was cancelled (after the cancel
 * callback has returned), or its connection is gone, pending or not --
 * free_fn(value) runs once for every value still set, in the order the keys
 * were first set, with the plugin that set it as the running one (for
 * kiln_log); a free_fn may be NULL, and calls no kiln_* function on the
 * request.  0, or -1 (key NULL, out of memory: nothing is kept, and
 * free_fn does not run: the value stays the caller's).
 *
 * kiln_req_get() gives the value set under `key`, or NULL when none is (or
 * key is NULL); valid until the request ends.
 */
int kiln_req_set(kiln_req *req, const char *key, void *value, void (*free_fn)(void *));
void *kiln_req_get(const kiln_req *req, const char *key);

/* ---- multipart forms and files (1.4) --------------------------------------- */

/*
 * aiohttp's `await request.post()` on a multipart/form-data body (RFC
 * 7578), as browsers, curl -F and aiohttp.FormData send it:
 *
 *     if (kiln_form_error(req) != NULL)
 *         return kiln_error(req, 400, "%s", kiln_form_error(req));
 *     const char *title = kiln_form(req, "title");      // field.value
 *     for (size_t i = 0; i < kiln_upload_count(req); i++) {
 *         size_t len;
 *         const void *data = kiln_upload_data(req, i, &len);  // field.file
 *         ... kiln_upload_field(req, i), kiln_upload_name(req, i) (field.filename),
 *             kiln_upload_type(req, i) (field.content_type) ...
 *     }
 *
 * When the Content-Type is multipart/form-data (in any case, with a valid
 * boundary= parameter), the body is parsed as it arrives, before the
 * handler runs, and is not kept as such: kiln_body() gives "" for it (with
 * a bad or missing boundary the body stays in memory, and
 * kiln_form_error() says why).  Its parts without a filename= parameter
 * are the fields (name -> value, in order; a NUL byte in a value ends it
 * as a C string), read through kiln_form(), kiln_form_count(),
 * kiln_form_at() and kiln_form_nth(); the parts with one (even an empty
 * one) are the files, read by index below, in order.
 *
 * Fields stay in memory.  A file stays in memory up to upload_spool_size
 * bytes ([server], 64k by default) and then continues into a temporary
 * file in upload_dir, opened with O_TMPFILE: it has no name, so nothing is
 * left behind after the request, a client that leaves, or a worker that
 * dies.  kiln_upload_data() reads every file the same way (a spooled one
 * mapped), kiln_upload_fd() gives a spooled file's descriptor, and
 * kiln_upload_save() puts a file under a path (aiohttp's
 * `await request.post()` with large files, Starlette's SpooledTemporaryFile).
 * A file over max_upload_file_size, and a body over max_body_size or the
 * route's kiln_route_max_body(), is answered 413 before the handler runs,
 * and the connection closes.  A temporary file that cannot be made or
 * written (upload_dir full) is answered 500, logged.
 *
 * A body that is not a valid multipart body -- no boundary or a bad one
 * (1..70 characters of RFC 2046's set), a part whose headers are not CRLF
 * lines, over 8 KiB, without Content-Disposition: form-data and a name=,
 * more than 1000 parts, or no close delimiter "--boundary--" at the end --
 * has no fields and no files at all, and kiln_form_error() says why.  What
 * is read: a preamble and an epilogue are skipped; parameters are tokens
 * or quoted-strings, "\x" standing for x; filename*=UTF-8''... (RFC 5987,
 * percent-decoded) takes precedence over filename=; a part without
 * Content-Type is "text/plain" (RFC 7578 4.4); other part headers (a
 * Content-Transfer-Encoding too) are ignored.
 */

/* Why the body's multipart form did not parse ("no close delimiter",
 * "part without a name", ...: a static string, for a 400 answer), or NULL
 * when it did, or when the body is not multipart (a urlencoded form never
 * fails). */
const char *kiln_form_error(kiln_req *req);

/* How many file parts the body has (0 when it is not multipart, or did
 * not parse). */
size_t kiln_upload_count(kiln_req *req);

/* The index of the n-th file (0-based, in order) sent under form name
 * `field` (several files under one name: <input type=file multiple>), or
 * -1 when there is none (field NULL too). */
long kiln_upload_find(kiln_req *req, const char *field, size_t n);

/*
 * The i-th file (0 <= i < kiln_upload_count()): its form name (name=), its
 * filename as the client sent it (decoded, UTF-8 when filename* was used;
 * possibly "") and its Content-Type ("text/plain" when the part had none).
 * A filename= value is not percent-decoded (browsers and curl send UTF-8
 * as it is; aiohttp's FormData, with quote_fields on by default, sends
 * "%C3%A4": it arrives so, as in aiohttp's own server).  The filename is
 * untrusted input: it may hold "/", "..", "\" or any other byte but NUL;
 * never use it as a path.  Each NULL when i is out of range.
 */
const char *kiln_upload_field(kiln_req *req, size_t i);
const char *kiln_upload_name(kiln_req *req, size_t i);
const char *kiln_upload_type(kiln_req *req, size_t i);

/* The i-th file's length in bytes (0 out of range: check the count). */
size_t kiln_upload_size(kiln_req *req, size_t i);

/*
 * The i-th file's bytes, exactly as sent (any byte values), and their
 * length through `len` (if not NULL); an empty file is "" / 0.  NULL (and
 * *len 0) when i is out of range.  Valid until the response is sent.
 * For a spooled file (kiln_upload_spooled()) the bytes are its temporary
 * file mapped read-only on the first call (and unmapped when the request
 * ends): every file reads the same way, and so does code that never heard
 * of spooling; NULL (and *len 0) only when the mapping fails (logged).
 */
const void *kiln_upload_data(kiln_req *req, size_t i, size_t *len);

/* 1 when the i-th file's data is in a temporary file (it had more than
 * upload_spool_size bytes), 0 when it is in memory or i is out of range. */
int kiln_upload_spooled(kiln_req *req, size_t i);

/*
 * The descriptor of the i-th file's temporary file, positioned at its
 * start (each call seeks it back), to read (read(2), sendfile(2), hand it
 * to a library): kiln owns it and closes it when the request ends -- do
 * not close it, write to it, or keep it past the response.  -1 for a file
 * in memory or i out of range.
 */
int kiln_upload_fd(kiln_req *req, size_t i);

/*
 * Writes the i-th file to `path` (aiohttp's shutil.copyfileobj(field.file,
 * open(path, "wb"))): a spooled file is linked there without a copy when
 * `path` is new and on the same file system as upload_dir, else copied;
 * a file in memory is written out.  The file is created with mode 0600
 * (an existing one is replaced: truncated, its mode kept).  The disk is
 * written from the loop (the same holds for spooling), so keep upload_dir
 * and `path` on a local disk.  A linked file is the upload's own: saving
 * it again under the same path does nothing, and writing to that path
 * during the request changes what kiln_upload_data() reads.  0, or -1 with
 * errno (EINVAL: i out of range or path NULL; open(2)'s and write(2)'s
 * errors).
 */
int kiln_upload_save(kiln_req *req, size_t i, const char *path);

/* ---- request identity (1.4; valid until the response is sent) ------------- */

/*
 * aiohttp's request.transport.get_extra_info('peername'), request.remote,
 * request.scheme, request.host and request.version.  Each is worked out
 * once per request, on the first call of any of them, and held in the
 * request's memory; none is ever NULL.
 *
 * Trust: a peer whose address is in [server] trusted_proxies (none by
 * default) is a proxy, and the headers it sends say who the client is:
 * "Forwarded" (RFC 7239) when the request has one, else "X-Forwarded-For",
 * "X-Forwarded-Proto" and "X-Forwarded-Host".  A trusted proxy must set
 * (or remove) the one kiln reads: one that only appends X-Forwarded-For
 * and lets a client's own Forwarded through would let that client choose
 * its address.  From any other peer these headers are ignored.
 */

/* The socket peer's address, "127.0.0.1" or "::1" (an IPv4-mapped IPv6
 * address as IPv4), and its port through `port` (if not NULL).  On a Unix
 * socket listener (listen = unix:/path): "unix", port 0. */
const char *kiln_peer_addr(const kiln_req *req, int *port);

/*
 * The client's address.  The peer's, unless the peer is a trusted proxy:
 * then the hops of its header are read from the right (the rightmost is
 * what the peer itself added), skipping those whose address is trusted
 * too, and the first that is not is the client (nginx realip with
 * real_ip_recursive on); when all are trusted, the leftmost.  What lies
 * left of the client is never read, so a client's spoofed entries do not
 * count.  Forwarded's for= may also give "unknown" or an obfuscated
 * "_name" (RFC 7239 6.2-6.3), returned as such; a port in the header is
 * dropped.  A hop that does not parse before the client is found, a
 * Forwarded value with a syntax error anywhere, more than 32 hops, or no
 * X-Forwarded-For at all: the peer's address.
 */
const char *kiln_remote(const kiln_req *req);

/* "http" (kiln itself speaks no TLS), or what a trusted proxy says the
 * client used: the proto= of the client's Forwarded element, else the
 * rightmost X-Forwarded-Proto entry; only "http" and "https" (in any case)
 * are taken, returned in lower case. */
const char *kiln_scheme(const kiln_req *req);

/* The authority the request names: its Host field (the authority of an
 * absolute-form target), "" when an HTTP/1.0 request has none; or what a
 * trusted proxy says: the host= of the client's Forwarded element, else the
 * rightmost X-Forwarded-Host entry, when it is a valid host[:port]. */
const char *kiln_host(const kiln_req *req);

/* 10 for HTTP/1.0, 11 for HTTP/1.1 (a higher HTTP/1.x is served as 1.1,
 * and is 11): major * 10 + minor. */
int kiln_http_version(const kiln_req *req);

/* ---- building the response ------------------------------------------------ */

/* Sets the status: 200-599 (1xx are interim answers kiln sends itself);
 * default 200 once a body is set, 204 when nothing is.  0, or -1. */
int kiln_set_status(kiln_req *req, int status);
/* Adds a response header (kiln writes Date, Content-Length, Connection). */
int kiln_add_header(kiln_req *req, const char *name, const char *value);
/* Sets Content-Type (default for kiln_text: text/plain; charset=utf-8). */
int kiln_set_content_type(kiln_req *req, const char *type);
/* Appends bytes to the response body. */
int kiln_write(kiln_req *req, const void *data, size_t len);
int kiln_printf(kiln_req *req, const char *fmt, ...) KILN_PRINTF(2, 3);

/*
 * Shortcuts that return KILN_OK so that a handler can end with them:
 * kiln_text sets status, Content-Type text/plain; charset=utf-8 and a
 * printf-formatted body; kiln_bytes sets status, application/octet-stream
 * (unless a type was set) and the bytes.  On allocation failure they return
 * KILN_ERROR.
 */
int kiln_text(kiln_req *req, int status, const char *fmt, ...) KILN_PRINTF(3, 4);
int kiln_bytes(kiln_req *req, int status, const void *data, size_t len);

/*
 * 1.4: compression of this response, what aiohttp's
 * resp.enable_compression() is.  on = 1 gzips the body whatever [server]
 * gzip, gzip_types and gzip_min_length say; on = 0 sends it as it is.
 * Without a call, the server's keys decide: gzip = on, a type in
 * gzip_types and a body of at least gzip_min_length bytes.  Either way a
 * body is only gzipped when the request's Accept-Encoding takes gzip (over
 * identity), the status has a body (not 204, 206 or 304) and the handler
 * set no Content-Encoding of its own; a compressible response (one that
 * would be gzipped for a client asking for it) says Vary: Accept-Encoding
 * (added to the handler's Vary), a gzipped one Content-Encoding: gzip, its
 * Content-Length the compressed size, and a strong ETag the handler set
 * becomes weak (W/"...").  A HEAD request gets the headers its GET would,
 * without a Content-Length.  A stream (kiln_stream, kiln_sse) is gzipped
 * only when kiln_compress(req, 1) came before kiln_stream() (the server's
 * keys never compress one): it then keeps a deflate state of its own
 * (about 256 KiB) until it ends, each kiln_stream_write() is deflated
 * with a sync flush so that it can be decoded as soon as it arrives, and
 * the body goes chunked (HTTP/1.0: ended by the close) even with a
 * declared length, which still counts the bytes written.  A file
 * (kiln_file, which may send a precompressed .gz or .br sibling) goes out
 * as it is.  Call it from the handler, or before kiln_resume().  0, or -1
 * for a NULL req.
 */
int kiln_compress(kiln_req *req, int on);

/* ---- answers in one call, cookies, JSON (1.4) ------------------------------- */

/*
 * What raising aiohttp's web.HTTPNotFound(text=...) is to a handler:
 *
 *     if (user == NULL)
 *         return kiln_error(req, 404, NULL);       "404 Not Found\n"
 *     return kiln_error(req, 422, "no field %s\n", "name");
 *
 * kiln_error() answers `status` (400..599) with a text/plain; charset=utf-8
 * body: the printf-formatted message as it is, or, with fmt NULL, the
 * status and its reason phrase and a newline, as kiln's own 404, 405 and
 * 413 have.  What the handler had written to the body before is discarded,
 * and its Content-Type replaced; the headers it added stay (so
 * WWW-Authenticate or Retry-After can be added first).  The response is
 * marked as an error answer, as kiln's own are.  Returns KILN_OK; KILN_ERROR
 * (so the handler's return answers 500) with a warning naming the plugin
 * for a status outside 400..599, or out of memory.
 */
int kiln_error(kiln_req *req, int status, const char *fmt, ...) KILN_PRINTF(3, 4);

/*
 * What raising aiohttp's web.HTTPFound(location) is: answers `status`
 * (301, 302, 303, 307 or 308) with a Location header and a short text/plain
 * body ("302 Found\n"), discarding the body written before; call it once
 * per response.  `location` is sent as given (an absolute URL, or a
 * reference the client resolves against the request's URL): it must be
 * non-empty and hold no control character (CR, LF, NUL: a header injection
 * is refused, as kiln_add_header() refuses it).  Clients follow 301, 302
 * and 303 with a GET (a POST becomes a GET), 307 and 308 with the same
 * method and body.  KILN_OK, or KILN_ERROR with a warning naming the plugin
 * (another status, a bad location, out of memory).
 */
int kiln_redirect(kiln_req *req, int status, const char *location);

/*
 * The attributes of a Set-Cookie (RFC 6265 4.1; aiohttp's set_cookie()
 * arguments).  All zero, like a NULL pointer, is a session cookie with no
 * attribute: start from `struct kiln_cookie_opts o = {0};` and set what you
 * need.  kiln reads the members of the ABI minor the plugin was built for
 * (kiln.h's rule above): members are only added at the end, each zero by
 * default.
 */
struct kiln_cookie_opts {
    long long max_age;      /* Max-Age in seconds; 0: none (to remove a
                               cookie, use kiln_delete_cookie()); < 0 refused */
    long long expires;      /* Expires, as unix time (formatted IMF-fixdate:
                               "Wed, 02 Dec 2026 10:00:00 GMT"); 0: none;
                               < 0 or past the year 9999 refused */
    const char *path;       /* Path, starting with '/'; NULL: none */
    const char *domain;     /* Domain, letters, digits, '-' and '.'; NULL: none */
    const char *same_site;  /* "Strict", "Lax" or "None" (any case); NULL: none.
                               "None" needs secure, as browsers do: refused
                               without it */
    int secure;             /* non-zero: Secure */
    int http_only;          /* non-zero: HttpOnly */
};

/*
 * Adds a Set-Cookie header: "name=value" and the attributes of `opts`
 * (NULL: none), in the order Expires, Max-Age, Domain, Path, Secure,
 * HttpOnly, SameSite.  Each call adds one line, so several cookies are
 * several Set-Cookie lines.  `name` is an RFC 9110 token; `value`
 * cookie-octets (printable ASCII but space, '"', ',', ';' and '\'), possibly
 * empty, or such octets in double quotes; name and value together at most
 * 4096 bytes (what browsers keep).  A name starting with "__Secure-" needs
 * secure; one starting with "__Host-" needs secure, path "/" and no domain
 * (browsers drop them otherwise).  Attribute values may hold no ';' and no
 * control character.  The caller encodes a value that needs more (base64,
 * percent-encoding); kiln never does.  0, or -1 with a warning naming the
 * plugin and the reason (and no header added) on bad input or no memory.
 */
int kiln_set_cookie(kiln_req *req, const char *name, const char *value,
                    const struct kiln_cookie_opts *opts);

/*
 * aiohttp's del_cookie(): a Set-Cookie for `name` with an empty value,
 * Max-Age=0 and Expires=Thu, 01 Jan 1970 00:00:00 GMT, with the `path` and
 * `domain` (NULL: none) the cookie was set with (a browser removes only the
 * cookie that matches them).  Unlike aiohttp, no Path=/ is assumed.  A
 * "__Secure-" or "__Host-" name gets Secure (and "__Host-" Path=/) as it
 * needs.  0, or -1 as kiln_set_cookie().
 */
int kiln_delete_cookie(kiln_req *req, const char *name, const char *path,
                       const char *domain);

/*
 * JSON, with jansson (Debian's libjansson-dev): what `await request.json()`
 * and web.json_response() are to aiohttp.  kiln.h does not include
 * <jansson.h>; a plugin that uses these includes it itself and links with
 * jansson ($(pkg-config --cflags --libs jansson), i.e. -ljansson):
 * jansson's json_t is `struct json_t`, so its pointers pass as they are.
 *
 *     #include <jansson.h>
 *     #include <kiln.h>
 *
 *     static int add(kiln_req *req, void *data)
 *     {
 *         json_t *in = kiln_json_body(req);
 *
 *         if (in == NULL)
 *             return KILN_OK;               400 already set
 *         return kiln_json(req, 200, json_pack("{s:I}", "sum",
 *             json_integer_value(json_object_get(in, "a"))
 *             + json_integer_value(json_object_get(in, "b"))));
 *     }
 */
struct json_t;

/*
 * The request body parsed as JSON (RFC 8259: any value at the top level,
 * UTF-8; the Content-Type is not checked, as aiohttp does not).  The value
 * belongs to the request: do not json_decref() it (json_incref() what you
 * keep longer); it is freed when the response is complete (for a pending
 * request: after kiln_resume() or its cancel).  A second call gives the
 * same value.  NULL when the body is empty or not JSON: invalid syntax or
 * UTF-8, a key twice in one object, a string holding \u0000, or nesting
 * deeper than KILN_JSON_MAX_DEPTH arrays and objects; the response is then
 * already set to a 400 error answer, application/json:
 *     {"error":"...","line":1,"column":8,"position":8}
 * (jansson's message and where it stopped: line and column from 1, the
 * byte position from 0), so that the handler writes
 * `if (j == NULL) return KILN_OK;`.  NULL also out of memory (then with a
 * 500 set).  The body's size is bounded by max_body_size, as always.
 */
#define KILN_JSON_MAX_DEPTH 64
struct json_t *kiln_json_body(kiln_req *req);

/*
 * Answers `status` (200..599) with `value` serialized compactly (no
 * spaces, keys in insertion order, UTF-8 as it is: not escaped to \uXXXX)
 * as an application/json body, replacing the body written before.  Steals
 * the reference, like jansson's *_new calls: kiln decrefs `value` in every
 * case, errors included, so `kiln_json(req, 200, json_pack(...))` leaks
 * nothing.  KILN_OK; KILN_ERROR (a 500) for value NULL (a failed
 * json_pack), a bad status or no memory.
 */
int kiln_json(kiln_req *req, int status, struct json_t *value);

/* ---- WebSocket routes ------------------------------------------------------ */

/*
 * The callbacks of a WebSocket route (aiohttp's WebSocketResponse handler).
 * The protocol (handshake, framing, fragments, ping/pong, close, deflate) is
 * handled by kiln; a handler sees whole messages.
 */
struct kiln_ws_handlers {
    /*
     * Called with the upgrade request before the handshake: the request's
     * path, kiln_match(), kiln_query() and kiln_header() are readable here
     * (authenticate here).  Return 0 to accept, or an HTTP status (e.g. 401,
     * 403) to refuse the upgrade with that status.  May be NULL.  Messages
     * sent from open() are queued and go out after the handshake if it
     * returns 0; they are dropped if it refuses.
     */
    int (*open)(kiln_ws *ws, kiln_req *req, void *data);
    /* A whole message: `binary` is 0 for text (valid UTF-8, NUL-terminated
     * for convenience, len excludes the NUL) and 1 for binary. */
    void (*message)(kiln_ws *ws, int binary, const void *msg, size_t len,
                    void *data);
    /* The connection closed.  When the peer closed first: its close code
     * and reason; when kiln or the handler closed first (kiln_ws_close,
     * max_msg_size 1009, send queue 1008, shutdown 1001): that code and
     * reason (1002 and kiln's reason for a close frame RFC 6455 forbids);
     * 1006 "" when the connection ended without a close handshake (peer
     * gone, heartbeat missed, a protocol error or invalid UTF-8 answered by
     * 1002 or 1007 on the wire).  `ws` is freed after this returns.  May be
     * NULL. */
    void (*close)(kiln_ws *ws, int code, const char *reason, void *data);
    /* Subprotocols this route speaks, NULL-terminated, in preference order;
     * NULL: none (a client that asks only for others gets a 400). */
    const char *const *subprotocols;
    /* Non-zero: negotiate permessage-deflate when the client offers it. */
    int deflate;
    /* 1.1: the largest message this route takes, once reassembled and
     * inflated (a larger one closes with 1009); 0: ws_max_msg_size. */
    size_t max_msg_size;
};

/*
 * Adds a WebSocket route for GET `pattern` (same pattern syntax as
 * kiln_add_route).  A plain GET without an upgrade gets 426 Upgrade Required.
 * `h` is copied.  Returns 0, or -1 with the reason logged.
 */
int kiln_add_websocket(kiln_app *app, const char *pattern,
                       const struct kiln_ws_handlers *h, void *data);

/*
 * Queues a message.  Returns 0, or -1 when the connection is closing or its
 * send queue exceeds ws_max_queue (the connection is then closed with 1008,
 * so a slow reader cannot grow memory without bound).
 */
int kiln_ws_send(kiln_ws *ws, int binary, const void *msg, size_t len);
int kiln_ws_send_text(kiln_ws *ws, const char *fmt, ...) KILN_PRINTF(2, 3);
static inline int kiln_ws_send_binary(kiln_ws *ws, const void *msg, size_t len)
{ return kiln_ws_send(ws, 1, msg, len); }

/* Sends a close frame with `code` and `reason` (<= 123 bytes) and closes. */
int kiln_ws_close(kiln_ws *ws, int code, const char *reason);

/* Sends a message to every open connection of ws's route (ws included), in
 * every worker of this kiln (1.6: before, this worker's only).  Returns
 * how many connections of this worker it was queued for; the other
 * workers' get it through the master as a publish (below) would, unless
 * it is above [server] pubsub_max_message (then this worker's only, with
 * a warning). */
int kiln_ws_broadcast(kiln_ws *ws, int binary, const void *msg, size_t len);

/* ---- publish/subscribe (1.6) ------------------------------------------------ */

/*
 * Channels across every worker (and, with [server] pubsub = "redis://...",
 * every kiln host sharing that server): two clients of one chat room land
 * in different workers of a pre-fork server, and still hear each other.
 *
 *     static int open_cb(kiln_ws *ws, kiln_req *req, void *data)
 *     {
 *         return kiln_subscribe(ws, kiln_match(req, "room")) == 0 ? 0 : 500;
 *     }
 *     static void message(kiln_ws *ws, int binary, const void *msg, size_t len,
 *                         void *data)
 *     {
 *         kiln_publish(kiln_ws_path(ws), binary, msg, len);   (any name)
 *     }
 *
 * A channel name is 1..255 bytes, with no NUL.  Every subscriber of the
 * channel -- a WebSocket connection, or an SSE stream of kiln_sse() -- in
 * every worker receives each message published on it exactly once, in the
 * order each publisher published them; the publishing connection too, when
 * it is subscribed (as with Redis).  A WebSocket gets it as a message of
 * the published type; an SSE stream gets a text message as one event of
 * "data:" lines (no event name; split at line ends as kiln_sse_send()
 * does), and no binary message.  Messages published while a subscriber was
 * not subscribed yet are not replayed.  Across hosts (Redis), a message
 * published while the bus is down is lost, as Redis' pub/sub loses it.
 *
 * 1.6: kiln_subscribe() subscribes a WebSocket connection from its open
 * callback on (accepted or open): 0, also when it was subscribed already;
 * -1 when ws is not open (closing, closed), the name is bad, or out of
 * memory.  kiln_unsubscribe(): 0, or -1 when it was not subscribed.
 * kiln_sse_subscribe() and kiln_sse_unsubscribe() are the same for an SSE
 * stream's id (not ended).  A connection or stream that ends is
 * unsubscribed from everything by kiln.
 *
 * 1.6: kiln_publish() sends `len` bytes (text when binary is 0: valid
 * UTF-8 for WebSocket clients, as kiln_ws_send() expects) from any
 * handler, timer or callback on the loop; the bytes are copied.  This
 * worker's subscribers have it queued before the call returns.  0 when
 * accepted; -1 for a bad channel name, a message above [server]
 * pubsub_max_message (64k; at most 192k), or when this worker's queue to
 * the master is full (pubsub_worker_queue, 16m: the master is overwhelmed)
 * -- then nothing is delivered anywhere.  kiln_publish_text() publishes a
 * formatted text message.
 *
 * Slow subscribers: a message for a WebSocket connection whose unsent bytes
 * are above [server] pubsub_subscriber_queue (1m) closes it with 1008
 * "subscriber too slow" (what was queued for it is dropped), and an SSE
 * stream above it is ended; the other subscribers are not held back.  The
 * master likewise queues at most pubsub_worker_queue bytes for a worker
 * that does not read its channel; past it, that worker misses messages
 * (counted and logged) rather than slowing the others down.
 */
int kiln_subscribe(kiln_ws *ws, const char *channel);
int kiln_unsubscribe(kiln_ws *ws, const char *channel);
int kiln_sse_subscribe(kiln_id stream, const char *channel);
int kiln_sse_unsubscribe(kiln_id stream, const char *channel);
int kiln_publish(const char *channel, int binary, const void *msg, size_t len);
int kiln_publish_text(const char *channel, const char *fmt, ...) KILN_PRINTF(2, 3);

/*
 * 1.6: the plugin's own subscription, from init: fn(channel, binary, msg,
 * len, data) runs on the loop with each message published on `channel`
 * (anywhere, this worker included), as kiln_publish() delivers it to a
 * connection; msg is valid for the call.  0, or -1 (not from init, bad
 * name, no fn, out of memory).  It lasts as long as the worker.
 */
int kiln_on_publish(kiln_app *app, const char *channel,
                    void (*fn)(const char *channel, int binary, const void *msg,
                               size_t len, void *data),
                    void *data);

/*
 * 1.2: an id for ws, never 0 (0 only when out of memory), that stays safe
 * to use after the connection is gone: kiln_ws_get() gives the connection
 * until its close handler has returned, NULL afterwards.  Keep the id, not
 * the pointer, where a timer, a database reply or another connection's
 * message will send to it later.  (A WebSocket's ids and a pending
 * request's are not interchangeable.)
 */
kiln_id kiln_ws_id(const kiln_ws *ws);
kiln_ws *kiln_ws_get(kiln_id id);

/* Per-connection user data (NULL at first). */
void kiln_ws_set_data(kiln_ws *ws, void *user);
void *kiln_ws_data(const kiln_ws *ws);
/* The negotiated subprotocol, or NULL. */
const char *kiln_ws_subprotocol(const kiln_ws *ws);
/* The request path the connection was opened with (decoded). */
const char *kiln_ws_path(const kiln_ws *ws);

/* ---- logging --------------------------------------------------------------- */

enum kiln_log_level {
    KILN_LOG_ERROR = 0,
    KILN_LOG_WARN = 1,
    KILN_LOG_INFO = 2,
    KILN_LOG_DEBUG = 3
};

/* Writes a line to kiln's log, prefixed with the plugin's name. */
void kiln_log(enum kiln_log_level level, const char *fmt, ...) KILN_PRINTF(2, 3);

/* ---- answering later (1.2) --------------------------------------------------- */

/*
 * What aiohttp's `await` is to a handler: the handler calls kiln_defer(),
 * starts what it waits for and returns KILN_PENDING; the worker goes on
 * serving every other connection; a callback on the loop later builds the
 * response on kiln_pending(id) with the usual calls and sends it with
 * kiln_resume(id, KILN_OK).  Requests pipelined behind a pending one wait
 * their turn.
 *
 * A pending request is named by an id, never 0, that stays safe to use
 * after the request is gone: once it was resumed or cancelled, kiln_pending()
 * gives NULL and kiln_resume() does nothing and returns -1.  The request
 * is cancelled, and `cancel` (may be NULL) runs once, when the client goes
 * away (KILN_CANCEL_GONE), when pending_timeout passes (KILN_CANCEL_DEADLINE;
 * kiln then answers 504) or when the worker stops before the request was
 * resumed (KILN_CANCEL_STOP; a graceful stop first waits for it, up to
 * graceful_timeout).  The cancel callback releases what the handler started
 * (stops its timer, gives its database connection back); the id is dead
 * from its first line.  Once kiln_resume() has been called the request is
 * answered and `cancel` never runs, even if the connection ends before the
 * answer goes out: the callback that resumes may free the state at once.
 */

enum kiln_cancel {
    KILN_CANCEL_GONE = 1,       /* the client closed the connection */
    KILN_CANCEL_DEADLINE = 2,   /* pending_timeout passed: 504 */
    KILN_CANCEL_STOP = 3        /* the worker is stopping */
};

typedef void (*kiln_cancel_fn)(kiln_id id, enum kiln_cancel why, void *arg);

/* From a handler, before it returns KILN_PENDING: the request's id, or 0
 * (called twice, outside a handler, or out of memory). */
kiln_id kiln_defer(kiln_req *req, kiln_cancel_fn cancel, void *arg);

/* The pending request `id`, to read it and build its response; NULL once
 * the id is dead. */
kiln_req *kiln_pending(kiln_id id);

/*
 * Completes the pending request `id`: KILN_OK sends the response built on
 * kiln_pending(id) (204 when nothing was set), KILN_ERROR answers 500.  The
 * answer goes out from the loop right after the current callback, never
 * from inside it.  0, or -1 when the id is dead (a no-op).
 */
int kiln_resume(kiln_id id, int result);

/* ---- reading a body as it arrives (1.4) ------------------------------------- */

/*
 * aiohttp's `async for chunk in request.content.iter_chunked(n)` or
 * `await request.content.read(n)`: a body too large to hold, read piece by
 * piece as the client sends it, with back-pressure.  The route is marked
 * from init with kiln_route_stream_body(); its handler then runs as soon
 * as the header block is read, before any of the body (kiln_body() gives
 * "", and no form is parsed), attaches a reader and returns KILN_PENDING:
 *
 *     static int on_data(kiln_id id, const void *data, size_t len, void *arg)
 *     {
 *         struct job *j = arg;
 *         ... send data to PostgreSQL (COPY) or a file ...
 *         return busy(j) ? 0 : 1;          (0: pause; kiln_body_resume() later)
 *     }
 *     static void on_end(kiln_id id, enum kiln_body_end how, void *arg)
 *     {
 *         if (how == KILN_BODY_DONE) { kiln_printf(kiln_pending(id), ...);
 *                                      kiln_resume(id, KILN_OK); }
 *         ... release j in any case but DONE (the request is over) ...
 *     }
 *     ... in the handler:
 *     static const struct kiln_body_ops ops = { on_data, on_end, on_cancel };
 *     if (kiln_body_stream(req, &ops, j) == 0) return KILN_ERROR;
 *     return KILN_PENDING;
 *
 * kiln_body_stream() is called from such a route's handler, at most once,
 * instead of kiln_defer(): the request becomes pending and the id it
 * returns is the pending request's (kiln_pending(), kiln_resume(), and
 * pending_timeout once the body ended).  A client that sent "Expect:
 * 100-continue" is answered "100 Continue" at this call, not before.  0
 * with a warning: not in the handler of a kiln_route_stream_body() route,
 * called twice or after kiln_defer(), out of memory.
 *
 * The body's bytes then go to ops->data as they arrive, dechunked, in
 * pieces of any size (at most what one read(2) brought), valid during the
 * call only.  Back-pressure: data returning 0, or kiln_body_pause(id) from
 * any loop callback, stops kiln reading the connection after the piece
 * just delivered: the client's bytes wait in the kernel's buffers and the
 * client's TCP window fills, while the worker's memory stays as it is.
 * kiln_body_resume(id) reads on (from the loop, after the current
 * callback; never inside the call).  A paused body is the plugin's time,
 * not the client's: pending_timeout (the route's, else the server's)
 * bounds a pause, past which the reader ends with KILN_BODY_TIMEOUT and
 * the client gets 504; while not paused, body_timeout bounds the client's
 * silence as for any body.  While paused kiln reads nothing, so a client
 * that leaves is seen once the reader resumes (or the pause times out).
 * Both return 0, or -1 when the id is no longer a reader of a body in
 * progress.
 *
 * ops->end(id, how, arg) runs once: KILN_BODY_DONE when the body is
 * complete -- the request is still pending, answer it with kiln_resume()
 * (from this callback or later); or with an error, the request is over
 * and the id dead: KILN_BODY_GONE (the client left), KILN_BODY_TIMEOUT
 * (the client sent nothing for body_timeout: 408; a pause over
 * pending_timeout: 504), KILN_BODY_STOP (the worker stops),
 * KILN_BODY_TOO_LARGE (the body passed the route's limit or max_body_size:
 * 413 and close, before the first byte when Content-Length says so -- the
 * handler does not run then -- else as soon as it passes), KILN_BODY_BAD
 * (a malformed chunk: 400).  After KILN_BODY_DONE, ops->cancel (a
 * kiln_cancel_fn; may be NULL) runs as kiln_defer()'s cancel does, if the
 * request is cancelled before kiln_resume().  The callbacks run on the
 * loop with the plugin and route marked as running.
 *
 * Answering before the body ended (the handler returns KILN_OK, or
 * kiln_resume() while the body arrives, to refuse it early): the reader
 * gets nothing more, no data and no end callback; the answer goes out at
 * once; as nginx and aiohttp do, the rest of a body with at most 64 KiB
 * left (by its Content-Length) is read and dropped, and the connection
 * serves the next request; a larger or chunked rest, or one whose
 * "100 Continue" was never sent, makes the answer say "Connection: close"
 * and the connection closes after it.  Requests pipelined behind wait
 * their turn, as behind any pending request.  A handler that defers
 * (kiln_defer()) without a reader has its body read and dropped.
 * kiln_stream() from the handler before the body ended: the connection
 * closes after the stream.
 *
 * A handler wrapped by another (a middleware) runs the same way: the
 * route's handler runs when the header block is read, whatever calls it.
 */
enum kiln_body_end {
    KILN_BODY_DONE = 0,         /* all of the body arrived: answer it */
    KILN_BODY_GONE = 1,         /* the client closed the connection */
    KILN_BODY_TIMEOUT = 2,      /* body_timeout (408), or a pause over
                                   pending_timeout (504) */
    KILN_BODY_STOP = 3,         /* the worker is stopping */
    KILN_BODY_TOO_LARGE = 4,    /* over the body limit: 413 */
    KILN_BODY_BAD = 5           /* a malformed body (chunk framing): 400 */
};

struct kiln_body_ops {
    int (*data)(kiln_id id, const void *data, size_t len, void *arg);
    void (*end)(kiln_id id, enum kiln_body_end how, void *arg);
    kiln_cancel_fn cancel;
};

kiln_id kiln_body_stream(kiln_req *req, const struct kiln_body_ops *ops, void *arg);
int kiln_body_pause(kiln_id id);
int kiln_body_resume(kiln_id id);

/*
 * Timers on the worker's loop.  The callback runs `after` seconds from
 * now, then every `repeat` seconds if `repeat` > 0.  A one-shot timer is
 * freed once its callback has returned; a repeating one when stopped.
 * kiln_timer_stop() stops and frees a timer that has not fired (or a
 * repeating one), also from inside its own callback; do not use the
 * pointer afterwards.  Timers still running when the worker stops are
 * freed after the plugins' fini hooks.  NULL on bad arguments, no memory,
 * or outside a worker (in init when a reload checks the plugins).
 */
typedef struct kiln_timer kiln_timer;
typedef void (*kiln_timer_fn)(kiln_timer *t, void *arg);

kiln_timer *kiln_timer_start(double after, double repeat, kiln_timer_fn cb, void *arg);
void kiln_timer_stop(kiln_timer *t);

/*
 * Readiness of a plugin's own file descriptor (a socket of a database
 * client, a pipe): `cb` runs with the events that are ready, while `events`
 * (KILN_READ, KILN_WRITE, both, or 0 to pause) asks for them.  The fd stays
 * the plugin's: stop the watcher before closing it.  kiln_watch_stop()
 * frees the watcher, also from inside its callback.  NULL on bad arguments
 * or no memory; kiln_watch_set() returns 0 or -1.
 */
enum { KILN_READ = 1, KILN_WRITE = 2 };
typedef struct kiln_watch kiln_watch;
typedef void (*kiln_watch_fn)(kiln_watch *w, int fd, int revents, void *arg);

kiln_watch *kiln_watch_fd(int fd, int events, kiln_watch_fn cb, void *arg);
int kiln_watch_set(kiln_watch *w, int events);
void kiln_watch_stop(kiln_watch *w);

/*
 * The worker's libev loop, a `struct ev_loop *`, for a library that brings
 * a libev adapter (hiredis' adapters/libev.h): kiln runs on libev 4, and
 * the plugin must be built against the same major.  Watchers the plugin
 * (or its library) adds there run outside kiln's marking of the running
 * plugin, and must be stopped by the plugin's stop hook or fini.  NULL
 * outside a worker.
 */
void *kiln_loop(void);

/*
 * A worker's thread pool (thread_pool threads, 4 by default; they start
 * with the first job): run(arg) runs on a pool thread, then done(arg, 0)
 * on the loop, in the order the jobs finish.  A pool thread may call no
 * kiln_* function at all, and touches no request: run() works on what arg
 * gives it (copies made by the handler), done() answers (kiln_resume()).
 * When the worker stops, the jobs not started yet do not run: their done
 * runs with cancelled = 1; running ones are waited for, within
 * graceful_timeout (after it the master kills the worker).  0, or -1 (no
 * pool: thread_pool = 0, no memory, outside a worker, stopping).
 */
typedef void (*kiln_job_fn)(void *arg);
typedef void (*kiln_done_fn)(void *arg, int cancelled);

int kiln_offload(kiln_job_fn run, kiln_done_fn done, void *arg);

/* ---- streaming responses (1.4) ---------------------------------------------- */

/*
 * What aiohttp's StreamResponse is (`await resp.prepare(request)`,
 * `await resp.write(data)`, `await resp.write_eof()`), with back-pressure as
 * in Node's writable streams (write() says when the buffer is full; a ready
 * callback says when to go on):
 *
 *     static void tick(kiln_timer *t, void *arg)
 *     {
 *         struct job *j = arg;
 *
 *         if (kiln_stream_write(j->id, "tick\n", 5) < 0 || ++j->n == 10) {
 *             kiln_stream_end(j->id);          (a no-op when it is gone)
 *             kiln_timer_stop(t); free(j);
 *         }
 *     }
 *     ... in a handler:
 *     kiln_set_content_type(req, "text/plain");
 *     j->id = kiln_stream(req, 200, -1, &ops, j);
 *     if (j->id == 0) return KILN_ERROR;
 *     kiln_timer_start(0.1, 0.1, tick, j);
 *     return KILN_PENDING;
 *
 * kiln_stream() is called from a handler (which then returns KILN_PENDING;
 * kiln_defer() is not needed, and the handler's return value is not used
 * once a stream started) or for a pending request, with kiln_pending(id)
 * as `req`, from any loop callback: the pending id is then dead (kiln_resume()
 * and kiln_pending() on it fail) and its cancel callback never runs: the
 * stream's ops replace it.  It queues the status line and the headers set
 * so far (kiln_add_header(), kiln_set_content_type(), kiln_set_cookie();
 * later ones are not sent); the body written with kiln_write() before is
 * dropped.  `status` is 200..599 but 204 and 304 (which have no body).
 * `length` >= 0 sends Content-Length: length, and exactly that many bytes
 * must follow; -1 sends the body in chunks (Transfer-Encoding: chunked) to
 * an HTTP/1.1 client, and as it comes, ended by closing the connection, to
 * an HTTP/1.0 one (which then does not stay open).  For HEAD the head is
 * the same and the body is not sent: writes are accepted and discarded.
 * Returns the stream's id, never 0, safe to use after the stream is gone;
 * 0 with a warning naming the plugin: bad status or length, the request
 * is not in its handler nor pending (resumed, another stream, a WebSocket),
 * or out of memory.  Requests pipelined behind a stream wait their turn.
 *
 * Bytes go out from the loop, never from inside the call: every call here
 * only queues them (nothing is ever dropped) and may be made from any loop
 * callback.  kiln_stream_write() returns 1 while the connection's unsent
 * output (kiln's buffer, beyond the kernel's socket buffer) is under
 * KILN_STREAM_HIGH_WATER bytes, 0 when it is at or over it: stop writing
 * then and go on when ops->ready runs, once the unsent output has fallen
 * under KILN_STREAM_LOW_WATER (a plugin that writes on regardless grows
 * that buffer; a client that takes nothing for body_timeout is dropped,
 * see below).  -1: the stream is gone (ended, its client left, cancelled,
 * the worker stopping), or the write would pass the known length (the
 * stream is then ended short, see kiln_stream_end()): a no-op.  A write of
 * 0 bytes sends nothing (it never ends a chunked body).
 *
 * kiln_stream_end() ends the body (the last chunk, for a chunked one); once
 * the unsent output is out, the request is complete and the connection
 * serves the next request.  A known length not fully written by then: the
 * body can no longer be trusted, so the connection closes after what was
 * written, with a warning naming the plugin.  0, or -1 when the stream is
 * gone.  The id is dead from kiln_stream_end() on.
 *
 * The ops (kiln reads the members of the plugin's ABI minor; members are
 * only added at its end) are copied; either callback may be NULL, and both
 * run on the loop with the plugin and route marked as running:
 *   ready(id, arg)   after a write returned 0, once the unsent output fell
 *                    under KILN_STREAM_LOW_WATER; once per write that
 *                    returned 0.
 *   cancel(id, why, arg)  once, when the stream ends before
 *                    kiln_stream_end(): the client left or the connection
 *                    broke (KILN_CANCEL_GONE), it took nothing of the
 *                    unsent output for body_timeout seconds
 *                    (KILN_CANCEL_DEADLINE), or the worker stopped
 *                    (KILN_CANCEL_STOP: a graceful stop first lets streams
 *                    end, within graceful_timeout).  The id is dead from
 *                    its first line: release what feeds the stream (stop
 *                    its timer).  Never after kiln_stream_end().
 *
 * Time limits: pending_timeout applies until kiln_stream() is called, not
 * after: a stream may stay open as long as its plugin writes (or even idle,
 * with nothing unsent: an SSE heartbeat keeps proxies from closing it).  A
 * client that stops reading is dropped once unsent output has waited
 * body_timeout seconds without the socket taking a byte.
 */
#define KILN_STREAM_HIGH_WATER 65536
#define KILN_STREAM_LOW_WATER 16384

struct kiln_stream_ops {
    void (*ready)(kiln_id id, void *arg);
    void (*cancel)(kiln_id id, enum kiln_cancel why, void *arg);
};

kiln_id kiln_stream(kiln_req *req, int status, long long length,
                    const struct kiln_stream_ops *ops, void *arg);
int kiln_stream_write(kiln_id id, const void *data, size_t len);
int kiln_stream_end(kiln_id id);
/* The bytes of the stream's connection queued in kiln, not yet given to
 * the socket (what the water marks count); 0 when the id is dead. */
size_t kiln_stream_unsent(kiln_id id);

/*
 * Server-Sent Events (aiohttp-sse's sse_response / EventSourceResponse) on
 * a stream: kiln_sse() is kiln_stream(req, 200, -1, ops, arg) with
 * Content-Type: text/event-stream, Cache-Control: no-cache and
 * X-Accel-Buffering: no (so that nginx does not buffer it).  The id is a
 * stream's: kiln_stream_write(), kiln_stream_end() and ops work on it.  A
 * client reconnecting sends the last id it saw: kiln_header(req,
 * "Last-Event-ID").
 *
 * kiln_sse_send() sends one event: "event: EVENT" when event is not NULL,
 * "id: EVENT_ID" when event_id is not NULL, then "data: " for each line of
 * `data` (split at "\r\n", "\n" and "\r"; NULL or "" is one empty data
 * line), and a blank line.  event and event_id may hold no CR or LF (and
 * an id no NUL, by construction): refused, -1 with a warning naming the
 * plugin, nothing sent.  kiln_sse_retry() sends "retry: MS" (the client's
 * reconnection delay; ms >= 0), kiln_sse_comment() ": TEXT" lines (split
 * as data; clients ignore them).  kiln_sse_heartbeat() sends a comment
 * line (": heartbeat") whenever the stream sent nothing for `seconds`
 * (> 0; 0 stops it), until the stream ends.  Each returns as
 * kiln_stream_write() (1, 0 or -1), and -1 on bad arguments.
 */
kiln_id kiln_sse(kiln_req *req, const struct kiln_stream_ops *ops, void *arg);
int kiln_sse_send(kiln_id id, const char *event, const char *data,
                  const char *event_id);
int kiln_sse_retry(kiln_id id, long ms);
int kiln_sse_comment(kiln_id id, const char *text);
int kiln_sse_heartbeat(kiln_id id, double seconds);

/* ---- file responses (1.4) --------------------------------------------------- */

/*
 * What returning aiohttp's web.FileResponse(path) is to a handler:
 *
 *     return kiln_file(req, path);
 *
 * Opens `path` (symbolic links are followed: choosing which files may be
 * served, and from which roots, is the caller's business) and answers:
 *   - not there (ENOENT, ENOTDIR, ELOOP): 404; no permission (EACCES): 403;
 *     not a regular file (a directory, a FIFO, a socket, a device): 404;
 *     another open error: 500 -- all through kiln_error(), so error pages
 *     replace them;
 *   - the file: 200 with Content-Length, Content-Type from
 *     kiln_mime_type(path, "application/octet-stream") unless the handler
 *     set one, ETag (strong: the inode, size and mtime seconds and
 *     nanoseconds, in quoted hex, "\"ino-size-sec.nsec\""), Last-Modified
 *     (IMF-fixdate), Accept-Ranges: bytes; for HEAD the same head, no body;
 *   - If-None-Match ("*" or a list, weak comparison), else If-Modified-Since
 *     (an IMF-fixdate): 304 for GET and HEAD with ETag and Last-Modified and
 *     no body (412 for other methods);
 *   - Range on GET: one range "bytes=a-b", "a-" or "-n": 206 with
 *     Content-Range; one it cannot satisfy: 416 with Content-Range:
 *     bytes, "*", "/" and the size; several ranges (multipart/byteranges is not
 *     sent), another unit or a syntax error: the whole file, 200; with an
 *     If-Range (an ETag, compared strongly, or the Last-Modified date) that
 *     does not match: the whole file, 200.
 * The body is sent from the loop with sendfile(2) as the client takes it,
 * never blocking the worker; the file stays open until it is sent, the
 * client leaves or the worker stops (body_timeout applies to a stalled
 * client), and its length is the size fstat gave when it was opened (a
 * file that shrinks meanwhile closes the connection).
 * Only from a handler, which returns what kiln_file() returns: KILN_OK
 * (the answer is set, or its body under way), KILN_ERROR out of memory or
 * outside a handler.  Headers the handler added before stay.
 *
 * Precompressed siblings, as aiohttp's FileResponse serves them by default
 * and nginx's gzip_static on does: when the request has an Accept-Encoding
 * that takes br or gzip (q > 0) and `path.br` / `path.gz` is a regular file,
 * the one the header prefers (q-values; ties go to br, then gzip, then the
 * file itself) is answered instead: Content-Encoding: br or gzip, the
 * Content-Type of `path`, the sibling's own Content-Length, Last-Modified
 * and ETag (its inode's, with "-br" or "-gz" before the closing quote, so
 * never the identity one's), and Range, If-Range and 304s over the
 * sibling's bytes.  `path` itself must exist: a sibling alone is not
 * served.  Every answer for which a sibling was found, the identity one
 * included, carries Vary: Accept-Encoding.  Without an Accept-Encoding
 * header, or one that takes neither, no sibling is looked for (no extra
 * open(2)).  Files are never compressed on the fly: precompress them
 * (`gzip -k -9 f`, `brotli -k f`) and keep the siblings up to date.
 * kiln_file(req, path) is kiln_file_at(req, AT_FDCWD, path,
 * KILN_FILE_PRECOMPRESSED).
 */
int kiln_file(kiln_req *req, const char *path);

/* 1.4: kiln_file_at() and kiln_open_at() flags. */
#define KILN_FILE_BENEATH       0x1u  /* relpath may not leave dirfd: no
                                         absolute path, no ".." above it, no
                                         symbolic link that climbs out or is
                                         absolute (openat2 RESOLVE_BENEATH) */
#define KILN_FILE_NO_SYMLINKS   0x2u  /* no component may be a symbolic link
                                         (openat2 RESOLVE_NO_SYMLINKS) */
#define KILN_FILE_PRECOMPRESSED 0x4u  /* path.br / path.gz siblings (above) */
#define KILN_FILE_DIR_REDIRECT  0x8u  /* a directory named without a trailing
                                         slash: 301 to the request's path with
                                         one (and its query), as nginx answers,
                                         instead of 404 */
#define KILN_FILE_CACHE         0x10u /* 1.7: through the worker's file cache
                                         (below); dirfd stays open on the same
                                         directory while the worker runs */

/*
 * 1.4: kiln_file() of `relpath` resolved from the directory `dirfd` (an
 * O_PATH or O_RDONLY descriptor of it; AT_FDCWD: the working directory), the
 * way a static-files server serves a root:
 *
 *     root = open("/srv/www", O_PATH | O_DIRECTORY | O_CLOEXEC);   (in init)
 *     return kiln_file_at(req, root, kiln_match(req, "path"), KILN_FILE_BENEATH);
 *
 * `flags` are the KILN_FILE_* bits above (another bit: KILN_ERROR with a
 * warning).  A path the flags refuse is answered 404, as a missing one is.
 * The siblings are opened with the same dirfd and flags.  KILN_FILE_BENEATH
 * and KILN_FILE_NO_SYMLINKS use openat2(2) (Linux 5.6 and later); where it
 * is missing (ENOSYS) or refused (EPERM: a seccomp filter), kiln says so
 * once in the log and opens the path one component at a time with
 * O_NOFOLLOW instead: then no symbolic link is followed at all under
 * either flag, and ".." is refused even where it would stay below dirfd.
 * Without either flag relpath is opened as openat(2) opens it (an absolute
 * one ignores dirfd).  Returns what kiln_file() returns.
 *
 * 1.7: with KILN_FILE_CACHE the worker keeps, up to [server] file_cache
 * bytes, the bytes and validators of the regular files of at most
 * max_cached_file_size it answered, and which names (the .br and .gz
 * siblings most often) were missing, and answers them again without
 * opening them: head and body in one write.  Each entry goes as soon as
 * inotify(7) reports a change to its name or to a directory on its path
 * (written, replaced, renamed, deleted, chmod'ed), before the next request
 * is answered.  What inotify cannot see is never cached: a path with a
 * symbolic link or a "."/".." component, a file with several hard links.
 * Writes through a shared mmap(2), and changes another host makes on a
 * network file system, are not seen: leave the flag off for such trees.
 * The cache knows dirfd by its number: it must name the same directory
 * while the worker runs (opened in init, closed in fini).  Answers are
 * the same as without the flag, kiln_resp_is_stream() included.
 */
int kiln_file_at(kiln_req *req, int dirfd, const char *relpath, unsigned flags);

/*
 * 1.4: opens `relpath` from `dirfd` under the rules of `flags` (BENEATH,
 * NO_SYMLINKS; the other bits are ignored) as kiln_file_at() would,
 * read-only, close-on-exec and non-blocking: for a plugin that looks at a
 * directory (an index file, a listing with fdopendir(3)) before answering.
 * The descriptor, which the caller closes, or -1 with errno (EXDEV or
 * ELOOP for a path the flags refuse; EINVAL for an unknown flag).
 */
int kiln_open_at(int dirfd, const char *relpath, unsigned flags);

/* ---- PostgreSQL (1.3) ------------------------------------------------------ */

/*
 * What asyncpg is to aiohttp: queries on a pool of connections that each
 * worker keeps to the server of the [postgres] section (dsn, pool_size,
 * connect_timeout), run without blocking the loop:
 *
 *     static void on_row(const kiln_pg_result *res, void *arg)
 *     {
 *         struct job *j = arg;
 *         kiln_req *req = kiln_pending(j->id);
 *
 *         if (kiln_pg_error(res))
 *             kiln_text(req, 500, "SQLSTATE %s\n", kiln_pg_sqlstate(res));
 *         else if (kiln_pg_rows(res) == 0)
 *             kiln_text(req, 404, "no such user\n");
 *         else
 *             kiln_text(req, 200, "%s\n", kiln_pg_text(res, 0, 0));
 *         kiln_resume(j->id, KILN_OK);
 *         free(j);
 *     }
 *     ... in a handler, after kiln_defer():
 *     j->query = kiln_pg_query("SELECT name FROM users WHERE id = $1", 1,
 *                              params, on_row, j);
 *     ... and in its cancel callback: kiln_pg_cancel(j->query); free(j);
 *
 * kiln_pg_query() sends `sql`, one SQL statement, with `nparams` text
 * parameters ($1, $2, ...; a NULL pointer for SQL NULL), both copied, on an
 * idle connection, or queues it (first in, first out) until one is free,
 * and returns an id, never 0.  `cb` runs once, later, on the loop (never
 * inside kiln_pg_query() or kiln_pg_cancel()), with the plugin and, from a
 * handler, the route that sent the query marked as running; the result and
 * every string read from it are valid until cb returns, and the id is dead
 * from cb's first line.  0, and cb never runs: outside a worker (in init,
 * and in the process kiln -t and reloads check plugins in), with no
 * [postgres] dsn, from the stop hook on, with bad arguments (sql or cb
 * NULL, nparams < 0 or > 65535, params NULL with nparams > 0), or out of
 * memory.
 *
 * Each connection prepares a statement the first time it runs a text (256
 * texts per connection; past them, unnamed statements) and reuses it
 * afterwards; so a query is one statement ("SELECT 1; SELECT 2" fails with
 * 42601).  Connections are shared: a query must leave its session as it
 * found it.  One left inside a transaction (BEGIN alone) is closed and
 * replaced, with a warning naming the plugin, and a COPY is refused
 * (0A000): make a transaction one statement (a CTE, a function).  A query
 * runs as long as the server takes (add statement_timeout to the dsn's
 * options to bound it); the pending request waiting for it has its
 * pending_timeout.
 *
 * kiln_pg_cancel(id) (from a pending request's cancel callback, say) means cb
 * will not run: a query still queued is dropped, one running is cancelled on
 * the server (a PQcancel on the thread pool; with thread_pool = 0 its
 * connection is closed and another one opened) and its connection goes back
 * to the pool only once it is idle again, never mid-result.  0, or -1 when
 * id is not a live query (answered, cancelled, 0).
 *
 * Errors are results: kiln_pg_error() is not NULL and kiln_pg_sqlstate()
 * gives the server's SQLSTATE, or kiln's own: when the server goes away, the
 * queries running on it get 08006 (or the server's 57P01 at its shutdown);
 * while no connection can be had, queued and new queries get 08001 (at
 * once, or once the attempt under way fails: never a hang), and the pool
 * reconnects with back-off (0.1 s doubling to 5 s), logging one warning
 * when it loses the server and one line when it is back.  53000: 10000
 * queries already wait for a connection in this worker.  57P01 "the worker
 * is stopping": every query left when the worker stops (after its
 * requests were cancelled, before the stop hooks) gets its callback so.
 *
 * A kiln built --without-postgres has none of these functions: a plugin that
 * calls them is refused at load, with a message saying so.
 */
typedef struct kiln_pg_result kiln_pg_result;
typedef void (*kiln_pg_fn)(const kiln_pg_result *res, void *arg);

kiln_id kiln_pg_query(const char *sql, int nparams, const char *const *params,
                      kiln_pg_fn cb, void *arg);
int kiln_pg_cancel(kiln_id id);

/* NULL when the query succeeded; else the server's (or kiln's) message, one
 * line, and its five-character SQLSTATE ("23505", "57014", "08006"); the
 * SQLSTATE of a success is "00000". */
const char *kiln_pg_error(const kiln_pg_result *res);
const char *kiln_pg_sqlstate(const kiln_pg_result *res);
/* Rows and columns of a result (0 for an error or a command without rows);
 * the rows a command touched or a SELECT returned (UPDATE 3 -> 3), 0 when
 * the command says none. */
int kiln_pg_rows(const kiln_pg_result *res);
int kiln_pg_cols(const kiln_pg_result *res);
long long kiln_pg_affected(const kiln_pg_result *res);
/* A column's name (NULL out of range), or the number of the column whose
 * name is exactly `name` (case matters: unquoted names come lower-cased
 * from the server), -1 when none is. */
const char *kiln_pg_colname(const kiln_pg_result *res, int col);
int kiln_pg_colnum(const kiln_pg_result *res, const char *name);
/* A value as text (PostgreSQL's output format), NULL for SQL NULL or out of
 * range; its length in bytes (0 then); whether it is SQL NULL (1 out of
 * range too). */
const char *kiln_pg_text(const kiln_pg_result *res, int row, int col);
size_t kiln_pg_len(const kiln_pg_result *res, int row, int col);
int kiln_pg_isnull(const kiln_pg_result *res, int row, int col);
/* Typed getters of the text: 0 with *out set, or -1 (NULL, out of range, or
 * not wholly a value of that type: an integer read as a bool, "abc" or
 * "1.5" as an integer, one past the range of long long).  An int is
 * decimal digits with an optional '-'; a double what strtod reads whole,
 * NaN and [-]Infinity included (an overflow is refused); a bool "t" or "f". */
int kiln_pg_int(const kiln_pg_result *res, int row, int col, long long *out);
int kiln_pg_double(const kiln_pg_result *res, int row, int col, double *out);
int kiln_pg_bool(const kiln_pg_result *res, int row, int col, int *out);

/* ---- Redis (1.3) -------------------------------------------------------------- */

/*
 * What redis.asyncio is to aiohttp: commands on one connection per worker to
 * the server of the [redis] section (address host:port or unix:/path, db,
 * password, connect_timeout), pipelined, with replies on the loop:
 *
 *     static void on_incr(const kiln_redis_reply *r, void *arg)
 *     {
 *         ... kiln_redis_int(r) ...
 *     }
 *
 *     kiln_id id = kiln_redis(on_incr, arg, "INCR", key, NULL);
 *
 * kiln_redis_command() sends the `argc` (>= 1) arguments (argv[i],
 * argvlen[i] bytes each, any byte allowed; argvlen NULL: NUL-terminated
 * strings), copied before it returns, and returns an id, never 0.
 * kiln_redis() is the same with NUL-terminated arguments ending with NULL.
 * `cb` runs once, later, on the loop, never from inside the call that sent
 * the command, with the plugin (and the route, for a command sent from a
 * handler or its callbacks) that sent it marked as running, as for a timer;
 * the reply, and every string and element read from it, are valid until cb
 * returns, and the id is dead from its first line.  cb may send commands
 * (they go on the same connection, after the ones already sent); cb NULL:
 * the reply is read and dropped.  Replies come in the order the commands
 * were sent, so a MULTI ... EXEC sent from one callback is not interleaved
 * with other plugins' commands.
 *
 * kiln_redis_cancel(id) (from a pending request's cancel callback, say):
 * cb will not run.  A command kiln has sent already still runs on the
 * server (a cancelled INCR still counts); its reply is read and dropped, so
 * the connection stays in step.  0, or -1 when id is not a live command
 * (cancelled before, answered, or 0).
 *
 * The connection: each worker connects when it starts, sending AUTH
 * (password) and SELECT (db) first; a refusal of either is logged naming
 * the key, and counts as a failed connect.  Commands sent before the first
 * connect is through (from a start hook) wait for it, at most
 * connect_timeout.  Errors that kiln makes up, rather than the server, are
 * KILN_REDIS_ERROR replies whose text starts in lower case:
 *     "not connected"           sent while the connection is down (or the
 *                               first connect failed)
 *     "connection lost"         in flight when the connection dropped
 *     "the worker is stopping"  in flight when the worker stopped
 *     "not allowed on the shared connection: ..."
 *                               commands that would change the connection
 *                               for every plugin of the worker or break its
 *                               request/reply order: SELECT, AUTH, HELLO,
 *                               QUIT, RESET, MONITOR, CLIENT REPLY and the
 *                               (P|S)(UN)SUBSCRIBE family
 * (the server's own start with a code in capitals: "ERR ...", "WRONGTYPE
 * ...", "NOAUTH ...").  When the connection drops, kiln logs one warning,
 * reconnects with back-off (0.1 s doubling to 5 s, with jitter) and logs
 * one line once it is back.  There is no time limit on a command the
 * server is slow to answer: a blocking command (BLPOP, WAIT, XREAD BLOCK)
 * holds up every command behind it on its worker's connection, and a
 * request waiting for one ends at pending_timeout (504, the cancel runs).
 *
 * At a worker's stop, after its pending requests were cancelled and before
 * the stop hooks, the commands still in flight get "the worker is
 * stopping" and the connection closes; kiln_redis_command() returns 0 from
 * then on (in stop hooks and fini).  It returns 0 too (and cb never runs)
 * outside a worker (init in the process a reload checks the plugins in),
 * with no [redis] address configured, on bad arguments (argc < 1, a NULL
 * argument) or out of memory.  A kiln built --without-redis has none of
 * these functions (see PostgreSQL above).
 */
typedef struct kiln_redis_reply kiln_redis_reply;
typedef void (*kiln_redis_fn)(const kiln_redis_reply *r, void *arg);

enum kiln_redis_type {
    KILN_REDIS_ERROR = 0,   /* an error reply, or one kiln made up (above) */
    KILN_REDIS_STRING = 1,  /* a bulk string (may hold NUL bytes) */
    KILN_REDIS_STATUS = 2,  /* a status reply ("OK", "PONG") */
    KILN_REDIS_INTEGER = 3,
    KILN_REDIS_NIL = 4,     /* a nil bulk string or array (GET of a missing key) */
    KILN_REDIS_ARRAY = 5    /* may be empty; its elements are replies of any type */
};

kiln_id kiln_redis_command(kiln_redis_fn cb, void *arg, int argc,
                           const char *const *argv, const size_t *argvlen);
kiln_id kiln_redis(kiln_redis_fn cb, void *arg, const char *arg0, ...) KILN_SENTINEL;
int kiln_redis_cancel(kiln_id id);

enum kiln_redis_type kiln_redis_type(const kiln_redis_reply *r);
/* The text of an error, status or string reply (NUL-terminated, and *len
 * its length without the NUL, for a string holding NULs; len may be NULL),
 * else NULL (and *len 0). */
const char *kiln_redis_str(const kiln_redis_reply *r, size_t *len);
/* An integer reply's value (0 for other types). */
long long kiln_redis_int(const kiln_redis_reply *r);
/* An array's length (0 for other types) and its i-th element (NULL out of
 * range), valid as long as the array. */
size_t kiln_redis_len(const kiln_redis_reply *r);
const kiln_redis_reply *kiln_redis_elem(const kiln_redis_reply *r, size_t i);

/* ---- middlewares and the response they see (1.5) ----------------------------- */

/*
 * What an aiohttp middleware is (`async def mw(request, handler)`), split in
 * its two halves, since a C handler does not return its response:
 *
 *     static int auth_before(kiln_req *req, void *data)
 *     {
 *         if (kiln_header(req, "Authorization") == NULL) {
 *             kiln_add_header(req, "WWW-Authenticate", "Basic realm=\"x\"");
 *             return kiln_error(req, 401, NULL);    answered: KILN_OK
 *         }
 *         kiln_req_set(req, "user", ..., free);      for the handler
 *         return KILN_NEXT;                          on to the next one
 *     }
 *
 *     static void timing_after(kiln_req *req, void *data)
 *     {
 *         kiln_add_header(req, "Server-Timing", ...);
 *     }
 *
 *     kiln_add_middleware(app, "auth", auth_before, NULL, NULL);
 *     kiln_add_middleware(app, "timing", NULL, timing_after, NULL);
 *
 * Registered from init.  `name` (letters, digits, '-', '_' and '.', what
 * the config can list) is unique across every plugin (a second
 * registration of a name refuses the plugin).  The order is that of
 * [server] middlewares (a comma-separated list of names; a name that no
 * plugin registered is a config error naming the file and line; a
 * middleware registered but not listed does not run, with a warning at
 * start and from `kiln -t`); without that key, every middleware runs, in
 * plugin load order and then registration order.
 *
 * For each request, every `before` runs in order, after the request's
 * header block and (unless the route reads its body as it arrives) its
 * body were read, and before the handler; it also runs when no route
 * matched (kiln's 404 and 405 come after the befores, so a CORS preflight
 * can answer OPTIONS) and before a WebSocket route's handshake.  A before
 * returns
 *   KILN_NEXT     to go on (to the next before, then the handler);
 *   KILN_OK       when it answered, with the kiln_text()/kiln_error() family
 *                 (a buffered answer: kiln_stream(), kiln_sse() and
 *                 kiln_file() refuse a before): neither the later befores
 *                 nor the handler run;
 *   KILN_PENDING  after kiln_defer(): kiln_resume(id, KILN_NEXT) goes on,
 *                 kiln_resume(id, KILN_OK) sends the answer it built;
 *   KILN_ERROR    for a 500.
 * For a WebSocket route, an answer from a before is sent instead of the
 * handshake (a 401, a 403); KILN_NEXT lets the handshake go on.
 *
 * Every `after` runs in the reverse order, once the response is set and
 * before its head is serialized: the handler's (when it returned, or was
 * resumed), a before's answer (then only the afters of the middlewares
 * whose before ran, and of those with no before), and kiln's own answers
 * to a request it has read (404, 405, 413, 500, 504; such an answer
 * replaces what was built before it, headers included; a 413 announced by
 * Content-Length comes before the befores ran).  An after may change
 * the status, add or remove headers and replace a buffered body
 * (kiln_resp_clear_body(), then kiln_write()).  For a stream, SSE or file
 * response (kiln_resp_is_stream()), the afters run before its head goes
 * out: headers may change, the body is not there.  Afters do not run for
 * a WebSocket handshake that succeeded, nor for a 400 to a request kiln
 * could not read (those the response-sent hook sees).
 *
 * Both halves run as their plugin's (kiln_log names it); `data` is the
 * pointer given at registration; either may be NULL.  0, or -1 (outside
 * init, name NULL or taken, both halves NULL, out of memory) with the
 * reason logged.  With no middleware registered, a request pays nothing.
 */
enum {
    KILN_NEXT = 2           /* 1.5: a middleware's before: go on */
};

typedef int (*kiln_mw_before)(kiln_req *req, void *data);
typedef void (*kiln_mw_after)(kiln_req *req, void *data);

int kiln_add_middleware(kiln_app *app, const char *name, kiln_mw_before before,
                        kiln_mw_after after, void *data);

/* The response so far: its status (0 when none was set; 204 is what an
 * empty answer will be), the first value of a response header (NULL when
 * not set), and the buffered body (NULL and *len 0 for a stream or file
 * response; len may be NULL).  Valid until the next call changing it. */
int kiln_resp_status(const kiln_req *req);
const char *kiln_resp_header(const kiln_req *req, const char *name);
const void *kiln_resp_body(const kiln_req *req, size_t *len);

/* Removes every response header named `name` (case-insensitive): how many
 * were. */
int kiln_resp_remove_header(kiln_req *req, const char *name);

/* Empties the buffered body (its Content-Type stays), so that an after can
 * write another: 0, or -1 for a stream or file response. */
int kiln_resp_clear_body(kiln_req *req);

/* 1 when the response is an error answer: kiln's own (404, 405, 413, ...)
 * or a kiln_error() one, so an error page may replace it; 0 for one a
 * handler wrote itself (a JSON 400 stays as it is). */
int kiln_resp_is_error(const kiln_req *req);

/* 1 for a kiln_stream(), kiln_sse() or kiln_file() response. */
int kiln_resp_is_stream(const kiln_req *req);

/*
 * The response-sent hook, for access logs and metrics: fn(req, sent, data)
 * runs once per response, when its last byte was handed to the connection
 * (a buffered answer: once it is queued; a stream or file: once its end is
 * written) or when the connection ended before (sent->complete 0).  It runs
 * for every response kiln writes, its own 400s included (then the request's
 * method and target may be "" when they were not read).  The request's
 * accessors still work there; the response may not be changed.  Runs as
 * the registering plugin's; several hooks run in registration order.  With
 * none registered, nothing is measured.  0, or -1 (outside init, fn NULL,
 * out of memory).
 */
struct kiln_sent {
    int status;                     /* as sent; 101 for a WebSocket handshake */
    int complete;                   /* 0: the connection ended before the end */
    unsigned long long bytes;       /* response bytes, head included (0 for
                                       a 101: libwebsockets writes it) */
    unsigned long long body_bytes;  /* of which body (Apache's %b) */
    unsigned long long received;    /* request bytes read, head included
                                       (of a chunked body, its data) */
    double start;                   /* the request's first byte, in seconds
                                       since the epoch (CLOCK_REALTIME) */
    double duration;                /* from then until the hook, seconds */
};

typedef void (*kiln_sent_fn)(const kiln_req *req, const struct kiln_sent *sent,
                             void *data);

int kiln_on_response_sent(kiln_app *app, kiln_sent_fn fn, void *data);

/* fn(app) runs in each worker when the server is told to reopen its logs
 * (SIGUSR1, `kiln -s reopen`, logrotate), after kiln's own log was
 * reopened: a plugin that writes a file of its own reopens it there.  From
 * init; 0, or -1. */
int kiln_on_reopen(kiln_app *app, void (*fn)(kiln_app *app));

/*
 * Functions one plugin offers another, by name: a permissions plugin
 * checks bearer tokens with a function the application's plugin exports.
 * kiln_export() from init (a name exported twice refuses the second
 * plugin); kiln_import() gives the pointer exported under `name`, or NULL,
 * from a worker start hook or later (every plugin's init has run by then).
 * The caller knows the pointer's type by the name's documentation.
 */
int kiln_export(kiln_app *app, const char *name, void *fn);
void *kiln_import(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* KILN_H */
