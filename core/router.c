/* router.c -- the route tree: pattern parsing, registration and matching. */
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "url.h"

/* The most distinct methods reported in an Allow list. */
#define MAX_ALLOWED 32

/* One level of the tree: a literal or capture segment and what hangs off it. */
struct node {
    char *text;                 /* literal text, or "{name}" / "{name:re}" */
    char *name;                 /* capture name; NULL for a literal */
    regex_t re;                 /* compiled "^(re)$" when has_re */
    int has_re;
    int tail;                   /* "{name:*}": the rest of the path */
    struct node **lits;         /* literal children, sorted by text */
    size_t nlits;
    struct node **caps;         /* capture children, registration order */
    size_t ncaps;
    struct route *routes;       /* one per method, registration order */
};

struct router {
    struct node root;           /* "/" */
    size_t count;
};

/* One segment of a pattern being registered; points into the pattern. */
struct pseg {
    const char *text;
    size_t len;
    const char *name;           /* capture name, NULL for a literal */
    size_t namelen;
    regex_t re;
    int has_re;                 /* re is compiled and owned here */
    int tail;                   /* "{name:*}" */
};

struct parsed {
    struct pseg segs[URL_MAX_SEGMENTS];
    int nsegs;
    int ncaps;
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

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- pattern parsing ------------------------------------------------------ */

static void parsed_free(struct parsed *ps)
{
    int i;

    for (i = 0; i < ps->nsegs; i++)
        if (ps->segs[i].has_re)
            regfree(&ps->segs[i].re);
}

/* Cuts the pattern at the '/' outside braces.  0, or -1 with err set. */
static int split_pattern(const char *pat, struct parsed *ps, char *err,
                         size_t errlen)
{
    const char *s = pat + 1, *p;
    int depth = 0;

    if (*s == '\0')
        return 0;
    for (p = s;; p++) {
        if (*p == '{') {
            depth++;
        } else if (*p == '}') {
            if (--depth < 0)
                goto unbalanced;
        } else if (*p == '\0' || (*p == '/' && depth == 0)) {
            if (depth != 0)
                goto unbalanced;
            if (ps->nsegs == URL_MAX_SEGMENTS) {
                set_err(err, errlen, "pattern '%s': more than %d segments",
                        pat, URL_MAX_SEGMENTS);
                return -1;
            }
            ps->segs[ps->nsegs++] = (struct pseg){.text = s, .len = (size_t)(p - s)};
            if (*p == '\0')
                return 0;
            s = p + 1;
        }
    }
unbalanced:
    set_err(err, errlen, "pattern '%s': unbalanced braces", pat);
    return -1;
}

/* 1 when the segment is one capture "{...}", 0 when it has no braces. */
static int whole_capture(const struct pseg *sg)
{
    size_t i;
    int depth = 0;

    if (memchr(sg->text, '{', sg->len) == NULL &&
        memchr(sg->text, '}', sg->len) == NULL)
        return 0;
    if (sg->text[0] != '{')
        return -1;
    for (i = 0; i < sg->len; i++) {
        depth += sg->text[i] == '{';
        depth -= sg->text[i] == '}';
        if (depth == 0)
            return i == sg->len - 1 ? 1 : -1;
    }
    return -1;
}

static int valid_name(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return 0;
    for (i = 0; i < n; i++)
        if (s[i] != '_' && !(s[i] >= 'a' && s[i] <= 'z') &&
            !(s[i] >= 'A' && s[i] <= 'Z') && !(s[i] >= '0' && s[i] <= '9'))
            return 0;
    return 1;
}

/* Compiles re[0..n) anchored to the whole segment.  0, or -1 with err set. */
static int compile_re(const char *pat, struct pseg *sg, const char *re,
                      size_t n, char *err, size_t errlen)
{
    char *src, msg[128];
    int rc;

    src = malloc(n + 5);
    if (src == NULL) {
        set_err(err, errlen, "pattern '%s': out of memory", pat);
        return -1;
    }
    snprintf(src, n + 5, "^(%.*s)$", (int)n, re);
    rc = regcomp(&sg->re, src, REG_EXTENDED | REG_NOSUB);
    free(src);
    if (rc != 0) {
        regerror(rc, &sg->re, msg, sizeof msg);
        set_err(err, errlen, "pattern '%s': bad regex '%.*s': %s", pat,
                (int)n, re, msg);
        return -1;
    }
    sg->has_re = 1;
    return 0;
}

/* Fills name and regex of a "{name}" / "{name:re}" segment. */
static int parse_capture(const char *pat, struct pseg *sg, char *err,
                         size_t errlen)
{
    const char *in = sg->text + 1, *colon;
    size_t inlen = sg->len - 2;

    colon = memchr(in, ':', inlen);
    sg->name = in;
    sg->namelen = colon ? (size_t)(colon - in) : inlen;
    if (sg->namelen == 0) {
        set_err(err, errlen, "pattern '%s': empty capture name", pat);
        return -1;
    }
    if (!valid_name(sg->name, sg->namelen)) {
        set_err(err, errlen, "pattern '%s': bad capture name '%.*s' "
                "(want [A-Za-z_][A-Za-z0-9_]*)", pat, (int)sg->namelen,
                sg->name);
        return -1;
    }
    if (colon == NULL)
        return 0;
    if (inlen - sg->namelen == 2 && colon[1] == '*') {
        sg->tail = 1;
        return 0;
    }
    if (inlen - sg->namelen == 1) {
        set_err(err, errlen, "pattern '%s': empty regex for '%.*s'", pat,
                (int)sg->namelen, sg->name);
        return -1;
    }
    return compile_re(pat, sg, colon + 1, inlen - sg->namelen - 1, err,
                      errlen);
}

/* Classifies one segment and checks capture count and names. */
static int parse_segment(const char *pat, struct parsed *ps, int i, char *err,
                         size_t errlen)
{
    struct pseg *sg = &ps->segs[i];
    int kind = whole_capture(sg), j;

    if (kind == 0)
        return 0;
    if (kind < 0) {
        set_err(err, errlen, "pattern '%s': segment '%.*s' mixes text and a "
                "capture; a capture must be a whole segment", pat,
                (int)sg->len, sg->text);
        return -1;
    }
    if (parse_capture(pat, sg, err, errlen) < 0)
        return -1;
    if (sg->tail && i + 1 < ps->nsegs) {
        set_err(err, errlen, "pattern '%s': the tail capture {%.*s:*} must be "
                "the last segment", pat, (int)sg->namelen, sg->name);
        return -1;
    }
    if (++ps->ncaps > ROUTER_MAX_PARAMS) {
        set_err(err, errlen, "pattern '%s': more than %d captures", pat,
                ROUTER_MAX_PARAMS);
        return -1;
    }
    for (j = 0; j < i; j++)
        if (ps->segs[j].name && ps->segs[j].namelen == sg->namelen &&
            memcmp(ps->segs[j].name, sg->name, sg->namelen) == 0) {
            set_err(err, errlen, "pattern '%s': capture name '%.*s' used "
                    "twice", pat, (int)sg->namelen, sg->name);
            return -1;
        }
    return 0;
}

/* Parses and validates a whole pattern.  0, or -1 with err set. */
static int parse_pattern(const char *pat, struct parsed *ps, char *err,
                         size_t errlen)
{
    int i;

    ps->nsegs = 0;
    ps->ncaps = 0;
    if (pat == NULL || pat[0] != '/') {
        set_err(err, errlen, "pattern '%s' must start with '/'",
                pat ? pat : "(null)");
        return -1;
    }
    if (split_pattern(pat, ps, err, errlen) < 0)
        return -1;
    for (i = 0; i < ps->nsegs; i++)
        if (parse_segment(pat, ps, i, err, errlen) < 0)
            return -1;
    return 0;
}

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

/* The literal child of n for sg, created if needed; NULL on OOM. */
static struct node *add_lit(struct node *n, const struct pseg *sg)
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
    return c;
fail:
    free(key);
    return NULL;
}

/* The capture child of n for sg (keyed by its text), created if needed and
 * then taking over sg's regex; NULL on OOM. */
static struct node *add_cap(struct node *n, struct pseg *sg)
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
    c->re = sg->re;
    c->has_re = sg->has_re;
    c->tail = sg->tail;
    sg->has_re = 0;
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
static struct node *insert_path(struct router *r, struct parsed *ps)
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
    free(n->caps);
    free_routes(n->routes);
    if (n->has_re)
        regfree(&n->re);
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
    free(r);
}

size_t router_count(const struct router *r)
{
    return r->count;
}

/* Calls fn on every route below n, depth first. */
static void each_route(const struct node *n, void (*fn)(const struct route *, void *),
                       void *arg)
{
    for (const struct route *rt = n->routes; rt != NULL; rt = rt->next)
        fn(rt, arg);
    for (size_t i = 0; i < n->nlits; i++)
        each_route(n->lits[i], fn, arg);
    for (size_t i = 0; i < n->ncaps; i++)
        each_route(n->caps[i], fn, arg);
}

void router_each(const struct router *r, void (*fn)(const struct route *rt, void *arg),
                 void *arg)
{
    each_route(&r->root, fn, arg);
}

struct find {
    const char *method, *pattern;
    const struct route *found;
};

static void find_one(const struct route *rt, void *arg)
{
    struct find *f = arg;

    if (!f->found && strcmp(rt->method, f->method) == 0 && strcmp(rt->pattern, f->pattern) == 0)
        f->found = rt;
}

struct route *router_find(const struct router *r, const char *method, const char *pattern)
{
    struct find f = { method, pattern, NULL };

    each_route(&r->root, find_one, &f);
    return (struct route *)f.found;     /* the router's own: it may change it */
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
    struct parsed ps;
    struct route *rt = NULL, **tail;
    struct node *n;

    ps.nsegs = 0;
    if (method == NULL || method[0] == '\0') {
        set_err(err, errlen, "route '%s': empty method",
                pattern ? pattern : "(null)");
        goto fail;
    }
    if (parse_pattern(pattern, &ps, err, errlen) < 0)
        goto fail;
    n = insert_path(r, &ps);
    if (n == NULL)
        goto oom;
    for (tail = &n->routes; *tail != NULL; tail = &(*tail)->next)
        if (strcmp((*tail)->method, method) == 0) {
            set_err(err, errlen, "%s %s is already registered", method,
                    pattern);
            goto fail;
        }
    rt = route_new(method, pattern, handler, data, plugin);
    if (rt == NULL)
        goto oom;
    *tail = rt;
    r->count++;
    parsed_free(&ps);
    return rt;
oom:
    set_err(err, errlen, "%s %s: out of memory", method, pattern);
fail:
    parsed_free(&ps);
    return NULL;
}

/* ---- matching ------------------------------------------------------------- */

/* The route of n answering method: exact, then GET for HEAD, then "*". */
static const struct route *route_for(const struct node *n, const char *method)
{
    const struct route *rt, *get = NULL, *any = NULL;
    int head = strcmp(method, "HEAD") == 0;

    for (rt = n->routes; rt != NULL; rt = rt->next) {
        if (strcmp(rt->method, method) == 0)
            return rt;
        if (head && get == NULL && strcmp(rt->method, "GET") == 0)
            get = rt;
        if (any == NULL && strcmp(rt->method, "*") == 0)
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
        if (root->caps[i]->tail && walk_tail(w, root->caps[i], 0))
            return 1;
    return 0;
}

static int cap_accepts(const struct node *c, const char *seg)
{
    if (c->has_re)
        return regexec(&c->re, seg, 0, NULL, 0) == 0;
    return seg[0] != '\0';
}

/* Depth-first search below n for segs[depth..]: literal child first, then
 * captures in registration order.  1 when a route was found. */
static int walk(struct walk *w, const struct node *n, int depth)
{
    struct route_match *m = w->m;
    const char *seg;
    size_t i;
    int found;

    if (depth == w->nsegs)
        return at_leaf(w, n) || (depth == 0 && root_tail(w, n));
    seg = w->segs[depth];
    i = lit_pos(n, seg, &found);
    if (found && walk(w, n->lits[i], depth + 1))
        return 1;
    for (i = 0; i < n->ncaps && m->nparams < ROUTER_MAX_PARAMS; i++) {
        if (n->caps[i]->tail) {
            if (walk_tail(w, n->caps[i], depth))
                return 1;
            continue;
        }
        if (!cap_accepts(n->caps[i], seg))
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
