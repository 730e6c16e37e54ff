/*
 * router.h -- maps (method, path segments) to a route.
 *
 * A tree keyed by path segment.  At each level literal children are found
 * first (by binary search on their text), then capture children ({name},
 * {name:int}, {name:regex}, and {name:*}, which takes the rest of the path) in
 * registration order, with backtracking.  Regexes are
 * compiled once at registration.  A path that matches routes but none for
 * the method yields ROUTER_METHOD_NOT_ALLOWED and the allowed methods; HEAD
 * falls back to GET; a route registered for "*" takes any method.
 */
#ifndef KILN_ROUTER_H
#define KILN_ROUTER_H

#include <stddef.h>
#include "kiln.h"

#define ROUTER_MAX_PARAMS 16

struct plugin;

struct route {
    char *method;               /* "GET", ... or "*" */
    char *pattern;              /* as served, e.g. "/{name}"; under a mount
                                   prefix, "/api/v1/{name}" */
    size_t prefix_len;          /* the mount prefix's length in pattern (0:
                                   none): pattern + prefix_len is the
                                   plugin's own */
    char *name;                 /* router_name()'s, or NULL */
    struct route *twin;         /* the same route under the next mount
                                   prefix, or NULL */
    kiln_handler handler;
    void *data;
    struct plugin *plugin;      /* owner, for logs and crash reports */
    void *ws;                   /* a WebSocket route's description, or NULL;
                                   owned by the route: ws_free(ws) frees it
                                   with the router */
    void (*ws_free)(void *ws);
    double pending_timeout;     /* a pending request's deadline; 0: the
                                   server's pending_timeout */
    size_t max_body;            /* the largest body, when max_body_set */
    int max_body_set;           /* 0: the server's max_body_size */
    int stream_body;            /* the handler runs at the header block's end
                                   and reads the body (kiln_route_stream_body) */
    unsigned index;             /* registration order, from 0 (the row of
                                   its counters in core/metrics.h, + 1) */
    struct route *next;         /* next route at the same node */
};

struct route_match {
    const struct route *route;
    unsigned nparams;
    const char *names[ROUTER_MAX_PARAMS];   /* owned by the router */
    const char *values[ROUTER_MAX_PARAMS];  /* the request's segments */
};

enum router_result {
    ROUTER_FOUND = 0,
    ROUTER_NOT_FOUND,
    ROUTER_METHOD_NOT_ALLOWED
};

struct router;

struct router *router_new(void);
void router_free(struct router *r);

/*
 * Adds a route.  Returns the route (owned by the router), or NULL with the
 * reason in err: pattern not starting with '/', unbalanced or empty braces,
 * a bad regex, too many captures, a capture name used twice, or the same
 * method and pattern registered already.
 */
struct route *router_add(struct router *r, const char *method,
                         const char *pattern, kiln_handler handler, void *data,
                         struct plugin *plugin, char *err, size_t errlen);

/*
 * router_add under each prefix of `mount` (prefixes separated by blanks,
 * each "/x" without a trailing '/'; NULL or "": none): one route per
 * prefix, pattern prefix + pattern, chained by twin.  Returns the first,
 * or NULL with the reason in err (nothing added).
 */
struct route *router_add_mounted(struct router *r, const char *mount, const char *method,
                                 const char *pattern, kiln_handler handler, void *data,
                                 struct plugin *plugin, char *err, size_t errlen);

/*
 * The route the last router_add refused the new one for: the same method
 * and a pattern that is the same once capture names are left out
 * ("/a/{x}" and "/a/{y}") and another plugin (or the same pattern); else
 * NULL.
 */
const struct route *router_clash(const struct router *r);

/*
 * Names rt and its twins.  0, or -1 with the reason in err and, when
 * another route has the name, *other set to it: name empty or not made of
 * [A-Za-z0-9_.-], rt named already, the name taken.
 */
int router_name(struct router *r, struct route *rt, const char *name,
                const struct route **other, char *err, size_t errlen);

/* The route named `name` whose mount prefix is prefix[0..len), else the
 * first so named in registration order; NULL when none is. */
const struct route *router_find_name(const struct router *r, const char *name,
                                     const char *prefix, size_t len);

/*
 * Matches decoded segments and the decoded path they were split from (see
 * url_split_path: "/" + the segments joined by '/'; a tail capture's value
 * points into it).  On ROUTER_FOUND fills m.  On ROUTER_METHOD_NOT_ALLOWED
 * writes the allowed methods ("GET, HEAD") to allow (NUL-terminated,
 * truncated to allowlen).
 */
enum router_result router_match(const struct router *r, const char *method,
                                const char *path, char **segs, int nsegs,
                                struct route_match *m, char *allow, size_t allowlen);

/*
 * A {name:int} capture's value: an optional '-' then decimal digits, the
 * number fitting a long long.  0 with *out set, or -1 (no digits, another
 * character, out of range).
 */
int router_parse_int(const char *s, long long *out);

/* Number of routes registered. */
size_t router_count(const struct router *r);

/* The route registered with exactly this method and pattern, or NULL. */
struct route *router_find(const struct router *r, const char *method, const char *pattern);

/* Calls fn(route, arg) on every route registered. */
void router_each(const struct router *r, void (*fn)(const struct route *rt, void *arg),
                 void *arg);

#endif
