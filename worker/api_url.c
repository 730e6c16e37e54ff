/*
 * api_url.c -- the kiln_* functions about the route a request matched: its
 * pattern and name, and URLs built from named routes (kiln_url_for), under
 * the mount prefix the request came through.
 */
#include <stdarg.h>
#include <string.h>

#include "kiln.h"
#include "conn_private.h"
#include "log.h"
#include "plugin.h"
#include "request.h"
#include "router.h"
#include "router_url.h"
#include "worker.h"

KILN_EXPORT const char *kiln_route_pattern(const kiln_req *req)
{
    return req->match.route ? req->match.route->pattern : NULL;
}

KILN_EXPORT const char *kiln_route_name_of(const kiln_req *req)
{
    return req->match.route ? req->match.route->name : NULL;
}

/* Logs why url_for(name) gave NULL, with the running plugin's name. */
static char *refused(const char *name, const char *why)
{
    log_warn("%s: url_for(%s): %s", plugin_current ? plugin_name(plugin_current) : "-",
             name ? name : "(null)", why);
    return NULL;
}

/*
 * Gathers the (name, value) pairs after `name` until a NULL name into kv.
 * The number of pairs, or -1 when there are more than ROUTER_MAX_PARAMS.
 */
static long gather(va_list ap, const char **kv)
{
    const char *k;
    long n = 0;

    while ((k = va_arg(ap, const char *)) != NULL) {
        if (n == ROUTER_MAX_PARAMS)
            return -1;
        kv[2 * n] = k;
        kv[2 * n + 1] = va_arg(ap, const char *);
        n++;
    }
    return n;
}

KILN_EXPORT char *kiln_url_for(kiln_req *req, const char *name, ...)
{
    const char *kv[2 * ROUTER_MAX_PARAMS];
    const struct route *cur = req->match.route, *rt;
    char err[512];
    va_list ap;
    long n;

    va_start(ap, name);
    n = gather(ap, kv);
    va_end(ap);
    if (n < 0)
        return refused(name, "more than 16 parameters");
    rt = router_find_name(req->conn->w->router, name, cur ? cur->pattern : "",
                          cur ? cur->prefix_len : 0);
    if (rt == NULL)
        return refused(name, "no route has this name");
    char *url = router_url_build(req->pool, rt->pattern, kv, (size_t)n, err, sizeof err);
    return url ? url : refused(name, err);
}
