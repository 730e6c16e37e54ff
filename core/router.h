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
    char *pattern;              /* as registered, e.g. "/{name}" */
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
