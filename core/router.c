/*
 * router.c -- the route table: a tree of parsed patterns (router_pattern.c),
 * registration, and matching a request to a route (precedence, the Allow
 * list, HEAD answered by GET).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "router_pattern.h"
#include "url.h"

/* The most distinct methods reported in an Allow list. */
#define MAX_ALLOWED 32

/* From this many literal children on, a node finds them by hash rather
 * than by binary search. */
#define HASH_FROM 8

/* One level of the tree: a literal or capture segment and what hangs off it. */
struct node {
    char *text;                 /* literal text, or "{name}" / "{name:re}" */
    char *name;                 /* capture name; NULL for a literal */
    struct router_cap cap;      /* what a capture accepts */
    uint32_t hash;              /* a literal's text_hash */
    struct node **lits;         /* literal children, sorted by text */
    size_t nlits;
    struct node **tab;          /* with HASH_FROM literal children or more:
                                   them by hash, open addressing, a power of
                                   two 2..4 times nlits; else NULL */
    size_t tabmask;
    struct node **caps;         /* capture children, registration order */
    size_t ncaps;
    struct route *routes;       /* one per method, registration order */
};

struct router {
    struct node root;           /* "/" */
    size_t count;
    struct route **all;         /* every route, in registration order */
    size_t cap;
    const struct route *clash;  /* what the last router_add refused for */
};

/* State of one router_match() walk. */
struct walk {
    const char *method;
    const char *path;           /* "/" + segs joined by '/' */
    char **segs;
    int nsegs;
    struct route_match *m;
    const char *allowed[MAX_ALLOWED];
    int nallowed;
};

/* ---- the tree --------------------------------------------------------------- */

/* Index of the literal child `key`, or where it would go; *found says which. */
static size_t lit_pos(const struct node *n, const char *key, int *found)
{
    size_t lo = 0, hi = n->nlits, mid;
    int c;

    *found = 0;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = strcmp(key, n->lits[mid]->text);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* FNV-1a of a segment's text. */
static uint32_t text_hash(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Rebuilds n's hash table of literal children.  0, or -1 on OOM (then
 * none: lookups search the sorted array). */
static int rehash(struct node *n)
{
    size_t size = 16, i, j;
    struct node **tab;

    if (n->nlits < HASH_FROM)
        return 0;
    while (size < 2 * n->nlits)
        size *= 2;
    tab = calloc(size, sizeof *tab);
    if (tab == NULL) {
        free(n->tab);
        n->tab = NULL;
        return -1;
    }
    for (i = 0; i < n->nlits; i++) {
        for (j = n->lits[i]->hash & (size - 1); tab[j] != NULL; j = (j + 1) & (size - 1))
            ;
        tab[j] = n->lits[i];
    }
    free(n->tab);
    n->tab = tab;
    n->tabmask = size - 1;
    return 0;
}

/* The literal child of n whose text is seg, or NULL. */
static const struct node *find_lit(const struct node *n, const char *seg)
{
    uint32_t h;
    size_t i;
    int found;

    if (n->nlits == 0)
        return NULL;
    if (n->tab == NULL) {
        i = lit_pos(n, seg, &found);
        return found ? n->lits[i] : NULL;
    }
    h = text_hash(seg);
    for (i = h & n->tabmask; n->tab[i] != NULL; i = (i + 1) & n->tabmask)
        if (n->tab[i]->hash == h && strcmp(n->tab[i]->text, seg) == 0)
            return n->tab[i];
    return NULL;
}

/* The literal child of n for sg, created if needed; NULL on OOM. */
static struct node *add_lit(struct node *n, const struct router_seg *sg)
{
    char *key = strndup(sg->text, sg->len);
    struct node **v, *c = NULL;
    size_t pos;
    int found;

    if (key == NULL)
        return NULL;
    pos = lit_pos(n, key, &found);
    if (found) {
        free(key);
        return n->lits[pos];
    }
    v = realloc(n->lits, (n->nlits + 1) * sizeof *v);
    if (v == NULL)
        goto fail;
    n->lits = v;
    c = calloc(1, sizeof *c);
    if (c == NULL)
        goto fail;
    memmove(v + pos + 1, v + pos, (n->nlits - pos) * sizeof *v);
    v[pos] = c;
    n->nlits++;
    c->text = key;
    c->hash = text_hash(key);
    rehash(n);
    return c;
fail:
    free(key);
    return NULL;
}

/* The capture child of n for sg (keyed by its text), created if needed and
 * then taking over sg's regex; NULL on OOM. */
static struct node *add_cap(struct node *n, struct router_seg *sg)
{
    struct node **v, *c = NULL;
    size_t i;

    for (i = 0; i < n->ncaps; i++)
        if (strlen(n->caps[i]->text) == sg->len &&
            memcmp(n->caps[i]->text, sg->text, sg->len) == 0)
            return n->caps[i];
    v = realloc(n->caps, (n->ncaps + 1) * sizeof *v);
    if (v == NULL)
        goto fail;
    n->caps = v;
    c = calloc(1, sizeof *c);
    if (c == NULL)
        goto fail;
    c->text = strndup(sg->text, sg->len);
    c->name = strndup(sg->name, sg->namelen);
    if (c->text == NULL || c->name == NULL)
        goto fail;
    c->cap = sg->cap;
    sg->cap.has_re = 0;
    v[n->ncaps++] = c;
    return c;
fail:
    if (c != NULL) {
        free(c->text);
        free(c->name);
    }
    free(c);
    return NULL;
}

/* Walks down the tree along the pattern, creating nodes; NULL on OOM. */
static struct node *insert_path(struct router *r, struct router_pattern *ps)
{
    struct node *n = &r->root;
    int i;

    for (i = 0; i < ps->nsegs && n != NULL; i++)
        n = ps->segs[i].name ? add_cap(n, &ps->segs[i])
                             : add_lit(n, &ps->segs[i]);
    return n;
}

static void free_routes(struct route *rt)
{
    struct route *next;

    for (; rt != NULL; rt = next) {
        next = rt->next;
        if (rt->ws != NULL && rt->ws_free != NULL)
            rt->ws_free(rt->ws);
        free(rt->method);
        free(rt->pattern);
        free(rt->name);
        free(rt);
    }
}

static void free_node(struct node *n, int self)
{
    size_t i;

    for (i = 0; i < n->nlits; i++)
        free_node(n->lits[i], 1);
    for (i = 0; i < n->ncaps; i++)
        free_node(n->caps[i], 1);
    free(n->lits);
    free(n->tab);
    free(n->caps);
    free_routes(n->routes);
    router_cap_free(&n->cap);
    free(n->text);
    free(n->name);
    if (self)
        free(n);
}

struct router *router_new(void)
{
    return calloc(1, sizeof(struct router));
}

void router_free(struct router *r)
{
    if (r == NULL)
        return;
    free_node(&r->root, 0);
    free(r->all);
    free(r);
}

size_t router_count(const struct router *r)
{
    return r->count;
}

void router_each(const struct router *r, void (*fn)(const struct route *rt, void *arg),
                 void *arg)
{
    for (size_t i = 0; i < r->count; i++)
        fn(r->all[i], arg);
}

struct route *router_find(const struct router *r, const char *method, const char *pattern)
{
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->all[i]->method, method) == 0 &&
            strcmp(r->all[i]->pattern, pattern) == 0)
            return r->all[i];
    return NULL;
}

const struct route *router_clash(const struct router *r)
{
    return r->clash;
}

/* The route another plugin registered for method and a pattern of the same
 * shape as pattern's, or the one with the same pattern; NULL if none (or on
 * OOM, when the insert then finds the exact duplicate). */
static const struct route *find_clash(const struct router *r, const char *method,
                                      const char *pattern, const struct plugin *plugin)
{
    char *shape = router_pattern_shape(pattern), *other;
    const struct route *rt, *found = NULL;

    for (size_t i = 0; shape != NULL && i < r->count && found == NULL; i++) {
        rt = r->all[i];
        if (strcmp(rt->method, method) != 0)
            continue;
        if (strcmp(rt->pattern, pattern) == 0)
            found = rt;
        else if (rt->plugin != plugin && (other = router_pattern_shape(rt->pattern)) != NULL) {
            if (strcmp(other, shape) == 0)
                found = rt;
            free(other);
        }
    }
    free(shape);
    return found;
}

/* Appends rt to the registration-order list.  0, or -1 on OOM. */
static int remember(struct router *r, struct route *rt)
{
    struct route **v;

    if (r->count == r->cap) {
        v = realloc(r->all, (r->cap ? 2 * r->cap : 16) * sizeof *v);
        if (v == NULL)
            return -1;
        r->all = v;
        r->cap = r->cap ? 2 * r->cap : 16;
    }
    rt->index = (unsigned)r->count;
    r->all[r->count++] = rt;
    return 0;
}

/* A new route, or NULL on OOM. */
static struct route *route_new(const char *method, const char *pattern,
                               kiln_handler handler, void *data,
                               struct plugin *plugin)
{
    struct route *rt = calloc(1, sizeof *rt);

    if (rt == NULL)
        return NULL;
    rt->method = strdup(method);
    rt->pattern = strdup(pattern);
    if (rt->method == NULL || rt->pattern == NULL) {
        free_routes(rt);
        return NULL;
    }
    rt->handler = handler;
    rt->data = data;
    rt->plugin = plugin;
    return rt;
}

/* Parses the pattern, finds or creates its node and appends the route. */
struct route *router_add(struct router *r, const char *method,
                         const char *pattern, kiln_handler handler, void *data,
                         struct plugin *plugin, char *err, size_t errlen)
{
    struct router_pattern ps;
    struct route *rt = NULL, **tail;
    struct node *n;

    ps.nsegs = 0;
    r->clash = NULL;
    if (method == NULL || method[0] == '\0') {
        router_err(err, errlen, "route '%s': empty method",
                pattern ? pattern : "(null)");
        goto fail;
    }
    if (router_pattern_parse(pattern, &ps, err, errlen) < 0)
        goto fail;
    if ((r->clash = find_clash(r, method, pattern, plugin)) != NULL) {
        if (strcmp(r->clash->pattern, pattern) == 0)
            router_err(err, errlen, "%s %s is already registered", method, pattern);
        else
            router_err(err, errlen, "%s %s takes the paths of %s %s", method, pattern,
                       r->clash->method, r->clash->pattern);
        goto fail;
    }
    n = insert_path(r, &ps);
    if (n == NULL)
        goto oom;
    for (tail = &n->routes; *tail != NULL; tail = &(*tail)->next)
        if (strcmp((*tail)->method, method) == 0) {
            router_err(err, errlen, "%s %s is already registered", method,
                    pattern);
            goto fail;
        }
    rt = route_new(method, pattern, handler, data, plugin);
    if (rt == NULL)
        goto oom;
    if (remember(r, rt) < 0) {
        free_routes(rt);
        goto oom;
    }
    *tail = rt;
    router_pattern_free(&ps);
    return rt;
oom:
    router_err(err, errlen, "%s %s: out of memory", method, pattern);
fail:
    router_pattern_free(&ps);
    return NULL;
}

/* ---- matching ------------------------------------------------------------- */

/* Whether two method names are the same (a few bytes: inline, no call). */
static int same_method(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b)
        a++, b++;
    return *a == *b;
}

/* The route of n answering method: exact, then GET for HEAD, then "*". */
static const struct route *route_for(const struct node *n, const char *method)
{
    const struct route *rt, *get = NULL, *any = NULL;
    int head = same_method(method, "HEAD");

    for (rt = n->routes; rt != NULL; rt = rt->next) {
        if (same_method(rt->method, method))
            return rt;
        if (head && get == NULL && same_method(rt->method, "GET"))
            get = rt;
        if (any == NULL && same_method(rt->method, "*"))
            any = rt;
    }
    return get ? get : any;
}

static void allow_add(struct walk *w, const char *method)
{
    int i;

    for (i = 0; i < w->nallowed; i++)
        if (strcmp(w->allowed[i], method) == 0)
            return;
    if (w->nallowed < MAX_ALLOWED)
        w->allowed[w->nallowed++] = method;
}

/* At the end of the path: 1 when n has a route for the method, else notes
 * n's methods for the Allow list. */
static int at_leaf(struct walk *w, const struct node *n)
{
    const struct route *rt;

    if (n->routes == NULL)
        return 0;
    rt = route_for(n, w->method);
    if (rt != NULL) {
        w->m->route = rt;
        return 1;
    }
    for (rt = n->routes; rt != NULL; rt = rt->next) {
        allow_add(w, rt->method);
        if (strcmp(rt->method, "GET") == 0)
            allow_add(w, "HEAD");
    }
    return 0;
}

/*
 * A tail capture at depth: the rest of the path, from segs[depth] to its end
 * (a trailing slash kept), as one pointer into w->path; NULL when a segment
 * holds an encoded slash, so the value splits back into the segments the
 * client sent.
 */
static const char *tail_value(const struct walk *w, int depth)
{
    size_t off = 1;
    int i;

    for (i = 0; i < w->nsegs; i++) {
        if (i >= depth && strchr(w->segs[i], '/') != NULL)
            return NULL;
        if (i < depth)
            off += strlen(w->segs[i]) + 1;
    }
    return w->path + off;
}

/* Tries n's tail capture c on the rest of the path: 1 when c has a route
 * for it. */
static int walk_tail(struct walk *w, const struct node *c, int depth)
{
    struct route_match *m = w->m;
    const char *value = tail_value(w, depth);

    if (value == NULL)
        return 0;
    m->names[m->nparams] = c->name;
    m->values[m->nparams++] = value;
    if (at_leaf(w, c))
        return 1;
    m->nparams--;
    return 0;
}

/* "/" has no segment: a tail capture of the root, "/{name:*}", takes it
 * as "". */
static int root_tail(struct walk *w, const struct node *root)
{
    size_t i;

    for (i = 0; i < root->ncaps; i++)
        if (root->caps[i]->cap.tail && walk_tail(w, root->caps[i], 0))
            return 1;
    return 0;
}

/* Depth-first search below n for segs[depth..]: literal child first, then
 * captures in registration order.  1 when a route was found. */
static int walk(struct walk *w, const struct node *n, int depth)
{
    struct route_match *m = w->m;
    const struct node *lit;
    const char *seg;
    size_t i;

    if (depth == w->nsegs)
        return at_leaf(w, n) || (depth == 0 && root_tail(w, n));
    seg = w->segs[depth];
    lit = find_lit(n, seg);
    if (lit != NULL && walk(w, lit, depth + 1))
        return 1;
    for (i = 0; i < n->ncaps && m->nparams < ROUTER_MAX_PARAMS; i++) {
        if (n->caps[i]->cap.tail) {
            if (walk_tail(w, n->caps[i], depth))
                return 1;
            continue;
        }
        if (!router_cap_accepts(&n->caps[i]->cap, seg))
            continue;
        m->names[m->nparams] = n->caps[i]->name;
        m->values[m->nparams++] = seg;
        if (walk(w, n->caps[i], depth + 1))
            return 1;
        m->nparams--;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Writes the sorted methods, comma-space separated, dropping whole methods
 * that do not fit. */
static void write_allow(struct walk *w, char *allow, size_t allowlen)
{
    size_t off = 0;
    int i, k;

    if (allow == NULL || allowlen == 0)
        return;
    allow[0] = '\0';
    qsort(w->allowed, (size_t)w->nallowed, sizeof w->allowed[0], cmp_str);
    for (i = 0; i < w->nallowed; i++) {
        k = snprintf(allow + off, allowlen - off, "%s%s", i ? ", " : "",
                     w->allowed[i]);
        if (k < 0 || (size_t)k >= allowlen - off) {
            allow[off] = '\0';
            return;
        }
        off += (size_t)k;
    }
}

enum router_result router_match(const struct router *r, const char *method,
                                const char *path, char **segs, int nsegs,
                                struct route_match *m, char *allow, size_t allowlen)
{
    struct walk w;

    w.method = method;
    w.path = path;
    w.segs = segs;
    w.nsegs = nsegs;
    w.m = m;
    w.nallowed = 0;
    m->route = NULL;
    m->nparams = 0;
    if (walk(&w, &r->root, 0))
        return ROUTER_FOUND;
    if (w.nallowed == 0)
        return ROUTER_NOT_FOUND;
    write_allow(&w, allow, allowlen);
    return ROUTER_METHOD_NOT_ALLOWED;
}
