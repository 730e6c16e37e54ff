/*
 * api.c -- the kiln_* functions of include/kiln.h, as the executable exports
 * them to plugins: registration, request accessors, response building, logs
 * (the request's pairs are in api_params.c, its storage in req_store.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kiln.h"
#include "config.h"
#include "log.h"
#include "plugin.h"
#include "pool.h"
#include "request.h"
#include "router.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Logs at `level` with the running plugin's "NAME: " prefix, if any. */
static void plugin_vlog(int level, const char *fmt, va_list ap)
{
    char prefix[128];

    if (plugin_current == NULL) {
        log_vmsg(level, NULL, fmt, ap);
        return;
    }
    snprintf(prefix, sizeof(prefix), "%s: ", plugin_name(plugin_current));
    log_vmsg(level, prefix, fmt, ap);
}

static void plugin_warn(const char *fmt, ...) KILN_PRINTF(1, 2);
static void plugin_warn(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    plugin_vlog(LOG_WARN, fmt, ap);
    va_end(ap);
}

KILN_EXPORT const char *kiln_version(void)
{
    return STR(KILN_VERSION_MAJOR) "." STR(KILN_VERSION_MINOR) "."
           STR(KILN_VERSION_PATCH);
}

/* ---- registration ---------------------------------------------------------- */

/* "*", or a non-empty upper-case method token ("GET", "M-SEARCH"). */
static int method_ok(const char *m)
{
    const char *c;

    if (m == NULL || m[0] == '\0')
        return 0;
    if (strcmp(m, "*") == 0)
        return 1;
    for (c = m; *c != '\0'; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')
              || *c == '-' || *c == '_'))
            return 0;
    return 1;
}

/* Logs "PLUGIN: CALL(WHAT): reason", naming the plugin of the route the
 * router refused for, and fails the app.  -1. */
static int refuse(kiln_app *app, const char *call, const char *what, const char *why,
                  const struct route *other)
{
    if (other != NULL && other->plugin != app->plugin)
        log_error("%s: %s(%s): %s of plugin %s", plugin_name(app->plugin), call, what,
                  why, plugin_name(other->plugin));
    else
        log_error("%s: %s(%s): %s", plugin_name(app->plugin), call, what, why);
    app->failed = 1;
    return -1;
}

/*
 * Validates, then registers with the router on behalf of app->plugin, under
 * each of its mount prefixes.  On failure logs "PLUGIN: add_route(METHOD
 * PATTERN): reason", marks the app failed (the loader then refuses the
 * plugin) and returns -1.
 */
KILN_EXPORT int kiln_add_route(kiln_app *app, const char *method,
                               const char *pattern, kiln_handler handler,
                               void *data)
{
    char err[256] = "", what[512];
    struct route *rt;

    if (app == NULL)
        return -1;
    app->last = NULL;
    if (!method_ok(method))
        snprintf(err, sizeof(err), "method must be \"*\" or an upper-case token");
    else if (pattern == NULL)
        snprintf(err, sizeof(err), "no pattern");
    else if (handler == NULL)
        snprintf(err, sizeof(err), "no handler");
    else if ((rt = router_add_mounted(app->router, app->mount, method, pattern, handler,
                                      data, app->plugin, err, sizeof(err))) != NULL) {
        app->last = rt;
        return 0;
    }
    snprintf(what, sizeof what, "%s %s", method ? method : "(null)",
             pattern ? pattern : "(null)");
    return refuse(app, "add_route", what, err[0] ? err : "refused",
                  err[0] ? router_clash(app->router) : NULL);
}

KILN_EXPORT int kiln_route_name(kiln_app *app, const char *name)
{
    const struct route *other;
    char err[512];

    if (app == NULL)
        return -1;
    if (app->last == NULL)
        return refuse(app, "route_name", name ? name : "(null)",
                      "no route was just added", NULL);
    if (router_name(app->router, app->last, name, &other, err, sizeof err) < 0)
        return refuse(app, "route_name", name ? name : "(null)", err, other);
    return 0;
}

/* This plugin's HTTP route `method pattern` (as the plugin wrote it: under
 * its first mount prefix, whose twins are the others) for a route_* call,
 * or NULL with "PLUGIN: CALL(METHOD PATTERN): no such route of this
 * plugin" logged and the app failed. */
static struct route *own_route(kiln_app *app, const char *call, const char *method,
                               const char *pattern)
{
    const char *m = app && app->mount ? app->mount + strspn(app->mount, " \t") : "";
    char full[1024];
    struct route *rt;

    if (app == NULL || method == NULL || pattern == NULL)
        return NULL;
    snprintf(full, sizeof full, "%.*s%s", (int)strcspn(m, " \t"), m, pattern);
    rt = router_find(app->router, method, full);
    if (rt != NULL && rt->plugin == app->plugin && !rt->ws)
        return rt;
    log_error("%s: %s(%s %s): no such route of this plugin", plugin_name(app->plugin), call,
              method, pattern);
    app->failed = 1;
    return NULL;
}

KILN_EXPORT int kiln_route_pending_timeout(kiln_app *app, const char *method,
                                           const char *pattern, double seconds)
{
    struct route *rt;

    if (app == NULL || method == NULL || pattern == NULL)
        return -1;
    if (!(seconds > 0) || seconds > 1e6) {
        log_error("%s: route_pending_timeout(%s %s, %g): seconds must be above 0",
                  plugin_name(app->plugin), method, pattern, seconds);
        app->failed = 1;
        return -1;
    }
    rt = own_route(app, "route_pending_timeout", method, pattern);
    if (rt == NULL)
        return -1;
    for (; rt != NULL; rt = rt->twin)
        rt->pending_timeout = seconds;
    return 0;
}

KILN_EXPORT int kiln_route_max_body(kiln_app *app, const char *method, const char *pattern,
                                    size_t bytes)
{
    struct route *rt = own_route(app, "route_max_body", method, pattern);

    if (rt == NULL)
        return -1;
    for (; rt != NULL; rt = rt->twin) {
        rt->max_body = bytes;
        rt->max_body_set = 1;
    }
    return 0;
}

KILN_EXPORT int kiln_route_stream_body(kiln_app *app, const char *method,
                                       const char *pattern)
{
    struct route *rt = own_route(app, "route_stream_body", method, pattern);

    if (rt == NULL)
        return -1;
    for (; rt != NULL; rt = rt->twin)
        rt->stream_body = 1;
    return 0;
}

KILN_EXPORT int kiln_worker_hooks(kiln_app *app, void (*start)(kiln_app *app),
                                  void (*stop)(kiln_app *app))
{
    if (app == NULL || app->plugin == NULL)
        return -1;
    app->plugin->on_start = start;
    app->plugin->on_stop = stop;
    return 0;
}

KILN_EXPORT const char *kiln_config(kiln_app *app, const char *key,
                                    const char *def)
{
    const char *v;

    if (app == NULL || app->cfg == NULL || key == NULL || app->plugin == NULL
        || app->plugin->name == NULL)
        return def;
    v = config_plugin_value(app->cfg, app->plugin->name, key);
    return v ? v : def;
}

/* ---- request accessors ----------------------------------------------------- */

KILN_EXPORT const char *kiln_method(const kiln_req *req)
{
    return req->method;
}

KILN_EXPORT const char *kiln_path(const kiln_req *req)
{
    return req->path;
}

KILN_EXPORT const char *kiln_target(const kiln_req *req)
{
    return req->target;
}

KILN_EXPORT const char *kiln_query_string(const kiln_req *req)
{
    return req->query ? req->query : "";
}

KILN_EXPORT const char *kiln_match(const kiln_req *req, const char *name)
{
    unsigned i;

    if (name == NULL)
        return NULL;
    for (i = 0; i < req->match.nparams && i < ROUTER_MAX_PARAMS; i++)
        if (req->match.names[i] && strcmp(req->match.names[i], name) == 0)
            return req->match.values[i];
    return NULL;
}

KILN_EXPORT long long kiln_match_int(const kiln_req *req, const char *name,
                                     long long fallback)
{
    const char *v = kiln_match(req, name);
    long long n;

    return v != NULL && router_parse_int(v, &n) == 0 ? n : fallback;
}

KILN_EXPORT const char *kiln_header(const kiln_req *req, const char *name)
{
    return name != NULL ? request_header(req, name, NULL) : NULL;
}

KILN_EXPORT size_t kiln_header_count(const kiln_req *req)
{
    return req->nheaders;
}

KILN_EXPORT int kiln_header_at(const kiln_req *req, size_t i,
                               const char **name, const char **value)
{
    if (i >= req->nheaders)
        return -1;
    if (name)
        *name = req->headers[i].name;
    if (value)
        *value = req->headers[i].value;
    return 0;
}

KILN_EXPORT const void *kiln_body(const kiln_req *req, size_t *len)
{
    if (len)
        *len = req->body ? req->body_len : 0;
    return req->body ? req->body : "";
}

/* ---- building the response ------------------------------------------------- */

KILN_EXPORT int kiln_set_status(kiln_req *req, int status)
{
    if (status < 200 || status > 599) {
        /* 1xx are interim answers, never a handler's final one */
        plugin_warn("set_status(%d): not in 200..599", status);
        return -1;
    }
    req->status = status;
    return 0;
}

/* An RFC 9110 token character (what a header name is made of). */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* 1 when name is a non-empty token and value holds no CR or LF. */
static int header_ok(const char *name, const char *value)
{
    const char *c;

    if (name == NULL || name[0] == '\0' || value == NULL)
        return 0;
    for (c = name; *c != '\0'; c++)
        if (!is_tchar((unsigned char)*c))
            return 0;
    return strpbrk(value, "\r\n") == NULL;
}

/* Headers kiln writes itself: a handler's copy would contradict them. */
static int header_reserved(const char *name)
{
    static const char *const reserved[] = {
        "Content-Length", "Transfer-Encoding", "Connection", "Date", NULL
    };
    size_t i;

    for (i = 0; reserved[i] != NULL; i++)
        if (strcasecmp(name, reserved[i]) == 0)
            return 1;
    return 0;
}

/* Appends "name: value\r\n" to the response headers.  0, or -1 on OOM. */
static int header_put(kiln_req *req, const char *name, size_t nl, const char *value,
                      size_t vl)
{
    struct buf *b = req->resp_headers;
    char *p;

    if (buf_reserve(b, nl + vl + 4) != 0)
        return -1;
    p = b->data + b->len;
    memcpy(p, name, nl);
    memcpy(p + nl, ": ", 2);
    memcpy(p + nl + 2, value, vl);
    memcpy(p + nl + 2 + vl, "\r\n", 2);
    b->len += nl + vl + 4;
    return 0;
}

static int header_append(kiln_req *req, const char *name, const char *value)
{
    return header_put(req, name, strlen(name), value, strlen(value));
}

KILN_EXPORT int kiln_add_header(kiln_req *req, const char *name,
                                const char *value)
{
    if (!header_ok(name, value)) {
        plugin_warn("add_header(%s): bad name or value (empty, ':', space, "
                    "CR or LF)", name ? name : "(null)");
        return -1;
    }
    if (strcasecmp(name, "Content-Type") == 0)
        return kiln_set_content_type(req, value);
    if (header_reserved(name)) {
        plugin_warn("add_header(%s): kiln writes this header itself", name);
        return -1;
    }
    return header_append(req, name, value);
}

/* Removes the "Content-Type: ...\r\n" line that kiln_set_content_type wrote. */
static void content_type_remove(struct buf *b)
{
    static const char key[] = "Content-Type: ";
    size_t pos = 0, end;

    while (pos < b->len) {
        const char *nl = memchr(b->data + pos, '\n', b->len - pos);

        end = nl ? (size_t)(nl - b->data) + 1 : b->len;
        if (end - pos >= sizeof(key) - 1
            && memcmp(b->data + pos, key, sizeof(key) - 1) == 0) {
            memmove(b->data + pos, b->data + end, b->len - end);
            b->len -= end - pos;
            return;
        }
        pos = end;
    }
}

KILN_EXPORT int kiln_set_content_type(kiln_req *req, const char *type)
{
    if (type == NULL || type[0] == '\0' || strpbrk(type, "\r\n") != NULL) {
        plugin_warn("set_content_type(%s): empty, or holds CR or LF",
                    type ? type : "(null)");
        return -1;
    }
    if (req->content_type_set)
        content_type_remove(req->resp_headers);
    if (header_append(req, "Content-Type", type) != 0)
        return -1;
    req->content_type_set = 1;
    return 0;
}

/* kiln_text's and kiln_bytes' type when the handler set none (known good:
 * not checked again).  0, or -1 on OOM. */
static int default_type(kiln_req *req, const char *type, size_t len)
{
    if (header_put(req, "Content-Type", 12, type, len) != 0)
        return -1;
    req->content_type_set = 1;
    return 0;
}

#define TEXT_PLAIN "text/plain; charset=utf-8"
#define OCTETS "application/octet-stream"

KILN_EXPORT int kiln_write(kiln_req *req, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    return buf_append(req->resp_body, data, len);
}

KILN_EXPORT int kiln_printf(kiln_req *req, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = buf_vprintf(req->resp_body, fmt, ap);
    va_end(ap);
    return rc < 0 ? -1 : 0;
}

KILN_EXPORT int kiln_text(kiln_req *req, int status, const char *fmt, ...)
{
    va_list ap;
    int rc;

    if (kiln_set_status(req, status) != 0)
        return KILN_ERROR;
    if (!req->content_type_set && default_type(req, TEXT_PLAIN, sizeof TEXT_PLAIN - 1) != 0)
        return KILN_ERROR;
    va_start(ap, fmt);
    rc = buf_vprintf(req->resp_body, fmt, ap);
    va_end(ap);
    return rc < 0 ? KILN_ERROR : KILN_OK;
}

KILN_EXPORT int kiln_bytes(kiln_req *req, int status, const void *data,
                           size_t len)
{
    if (kiln_set_status(req, status) != 0)
        return KILN_ERROR;
    if (!req->content_type_set && default_type(req, OCTETS, sizeof OCTETS - 1) != 0)
        return KILN_ERROR;
    return kiln_write(req, data, len) == 0 ? KILN_OK : KILN_ERROR;
}

/* ---- logging ---------------------------------------------------------------- */

KILN_EXPORT void kiln_log(enum kiln_log_level level, const char *fmt, ...)
{
    va_list ap;
    int lv = (int)level;

    if (lv < LOG_ERROR)
        lv = LOG_ERROR;
    if (lv > LOG_DEBUG)
        lv = LOG_DEBUG;
    va_start(ap, fmt);
    plugin_vlog(lv, fmt, ap);
    va_end(ap);
}
