/*
 * router_names.c -- what the router adds on top of the route table: the same
 * routes under each mount prefix, route names, and finding a route by name.
 */
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "router_pattern.h"

/* The next blank-separated word of *s (its length in *len), moving *s past
 * it; NULL at the end. */
static const char *next_word(const char **s, size_t *len)
{
    const char *p = *s + strspn(*s, " \t");

    if (*p == '\0')
        return NULL;
    *len = strcspn(p, " \t");
    *s = p + *len;
    return p;
}

/* Adds method prefix[0..plen) + pattern.  The route, or NULL with err set. */
static struct route *add_under(struct router *r, const char *prefix, size_t plen,
                               const char *method, const char *pattern,
                               kiln_handler handler, void *data, struct plugin *plugin,
                               char *err, size_t errlen)
{
    char *full = malloc(plen + strlen(pattern) + 1);
    struct route *rt;

    if (full == NULL) {
        router_err(err, errlen, "%s %s: out of memory", method, pattern);
        return NULL;
    }
    memcpy(full, prefix, plen);
    strcpy(full + plen, pattern);
    rt = router_add(r, method, full, handler, data, plugin, err, errlen);
    free(full);
    if (rt != NULL)
        rt->prefix_len = plen;
    return rt;
}

struct route *router_add_mounted(struct router *r, const char *mount, const char *method,
                                 const char *pattern, kiln_handler handler, void *data,
                                 struct plugin *plugin, char *err, size_t errlen)
{
    struct route *first = NULL, **tail = &first;
    const char *s = mount ? mount : "", *w;
    size_t len;

    if (pattern == NULL || pattern[0] != '/' || next_word(&s, &len) == NULL)
        return router_add(r, method, pattern, handler, data, plugin, err, errlen);
    for (s = mount; (w = next_word(&s, &len)) != NULL; tail = &(*tail)->twin) {
        *tail = add_under(r, w, len, method, pattern, handler, data, plugin, err, errlen);
        if (*tail == NULL)
            return NULL;    /* the routes added stay: the plugin is refused */
    }
    return first;
}

static int name_ok(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
            return 0;
    return 1;
}

struct by_name {
    const char *name, *prefix;
    size_t len;
    const struct route *first, *under;
};

static void by_name_one(const struct route *rt, void *arg)
{
    struct by_name *b = arg;

    if (rt->name == NULL || strcmp(rt->name, b->name) != 0)
        return;
    if (b->first == NULL)
        b->first = rt;
    if (b->under == NULL && rt->prefix_len == b->len &&
        (b->len == 0 || memcmp(rt->pattern, b->prefix, b->len) == 0))
        b->under = rt;
}

const struct route *router_find_name(const struct router *r, const char *name,
                                     const char *prefix, size_t len)
{
    struct by_name b = { name, prefix, len, NULL, NULL };

    if (name == NULL)
        return NULL;
    router_each(r, by_name_one, &b);
    return b.under ? b.under : b.first;
}

int router_name(struct router *r, struct route *rt, const char *name,
                const struct route **other, char *err, size_t errlen)
{
    *other = NULL;
    if (!name_ok(name)) {
        router_err(err, errlen, "route name '%s' is not made of [A-Za-z0-9_.-]",
                   name ? name : "(null)");
        return -1;
    }
    if (rt->name != NULL) {
        router_err(err, errlen, "%s %s is named '%s' already", rt->method, rt->pattern,
                   rt->name);
        return -1;
    }
    if ((*other = router_find_name(r, name, NULL, 0)) != NULL) {
        router_err(err, errlen, "route name '%s' is taken by %s %s", name,
                   (*other)->method, (*other)->pattern);
        return -1;
    }
    for (; rt != NULL; rt = rt->twin)
        if ((rt->name = strdup(name)) == NULL) {
            router_err(err, errlen, "route name '%s': out of memory", name);
            return -1;
        }
    return 0;
}
