/* registry.c -- the middlewares, response-sent hooks and exported functions plugins register, and the middlewares' order from [server] middlewares. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "plugin.h"
#include "registry.h"

struct export {
    char *name;
    struct plugin *plugin;
    void *fn;
};

static struct registry_mw *mws;      /* in registration order */
static size_t nmws, cap_mws;
static struct registry_mw **order;   /* the ones that run */
static size_t norder;
static struct registry_sent *sents;
static size_t nsents, cap_sents;
static struct export *exports;
static size_t nexports, cap_exports;

/* Room for one more element of an array: 0, or -1 out of memory. */
static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    size_t c = *cap ? *cap * 2 : 8;
    void *p;

    if (n < *cap)
        return 0;
    if ((p = realloc(*v, c * size)) == NULL)
        return -1;
    *v = p;
    *cap = c;
    return 0;
}

static struct registry_mw *mw_find(const char *name, size_t len)
{
    for (size_t i = 0; i < nmws; i++)
        if (strlen(mws[i].name) == len && memcmp(mws[i].name, name, len) == 0)
            return &mws[i];
    return NULL;
}

int registry_add_mw(struct plugin *p, const char *name, kiln_mw_before before,
                    kiln_mw_after after, void *data)
{
    const struct registry_mw *taken = name ? mw_find(name, strlen(name)) : NULL;
    struct registry_mw *m;

    if (taken != NULL) {
        log_error("%s: add_middleware(%s): the name is taken by plugin %s", plugin_name(p),
                  name, plugin_name(taken->plugin));
        return -1;
    }
    if (grow((void **)&mws, &cap_mws, nmws, sizeof(*mws)) < 0
        || (name = strdup(name)) == NULL) {
        log_error("%s: add_middleware: out of memory", plugin_name(p));
        return -1;
    }
    m = &mws[nmws++];
    *m = (struct registry_mw){ (char *)name, p, before, after, data };
    return 0;
}

int registry_add_sent(struct plugin *p, kiln_sent_fn fn, void *data)
{
    if (grow((void **)&sents, &cap_sents, nsents, sizeof(*sents)) < 0) {
        log_error("%s: on_response_sent: out of memory", plugin_name(p));
        return -1;
    }
    sents[nsents++] = (struct registry_sent){ p, fn, data };
    return 0;
}

int registry_export(struct plugin *p, const char *name, void *fn)
{
    char *copy;

    for (size_t i = 0; i < nexports; i++)
        if (strcmp(exports[i].name, name) == 0) {
            log_error("%s: export(%s): already exported by plugin %s", plugin_name(p), name,
                      plugin_name(exports[i].plugin));
            return -1;
        }
    if (grow((void **)&exports, &cap_exports, nexports, sizeof(*exports)) < 0
        || (copy = strdup(name)) == NULL) {
        log_error("%s: export(%s): out of memory", plugin_name(p), name);
        return -1;
    }
    exports[nexports++] = (struct export){ copy, p, fn };
    return 0;
}

void *registry_import(const char *name)
{
    for (size_t i = 0; name != NULL && i < nexports; i++)
        if (strcmp(exports[i].name, name) == 0)
            return exports[i].fn;
    return NULL;
}

/* ---- the order ------------------------------------------------------------- */

/* The next name of the list at *p (white space trimmed): its length, 0 at
 * the end. */
static size_t next_name(const char **p, const char **name)
{
    const char *s = *p, *e;

    while (*s == ',' || *s == ' ' || *s == '\t')
        s++;
    for (e = s; *e != '\0' && *e != ',' && *e != ' ' && *e != '\t'; e++)
        ;
    *name = s;
    *p = e;
    return (size_t)(e - s);
}

static int listed(const struct registry_mw *m)
{
    for (size_t i = 0; i < norder; i++)
        if (order[i] == m)
            return 1;
    return 0;
}

/* The listed names, each a registered middleware listed once. */
static int order_from_list(const struct config *cfg)
{
    const char *p = cfg->middlewares, *name, *file = cfg->file ? cfg->file : "(config)";
    size_t len;

    while ((len = next_name(&p, &name)) > 0) {
        struct registry_mw *m = mw_find(name, len);

        if (m == NULL || listed(m)) {
            log_error("%s:%d: middlewares: \"%.*s\" %s", file, cfg->middlewares_line,
                      (int)len, name, m ? "is listed twice"
                                        : "is no middleware a plugin registered");
            return -1;
        }
        order[norder++] = m;
    }
    return 0;
}

int registry_order(const struct config *cfg)
{
    free(order);
    norder = 0;
    if ((order = calloc(nmws ? nmws : 1, sizeof(*order))) == NULL) {
        log_error("middlewares: out of memory");
        return -1;
    }
    if (cfg->middlewares != NULL)
        return order_from_list(cfg);
    for (size_t i = 0; i < nmws; i++)
        order[norder++] = &mws[i];
    return 0;
}

void registry_report_unlisted(const struct config *cfg)
{
    for (size_t i = 0; i < nmws; i++)
        if (!listed(&mws[i]))
            log_warn("%s:%d: middlewares: the middleware \"%s\" of plugin %s is not listed: "
                     "it does not run", cfg->file ? cfg->file : "(config)",
                     cfg->middlewares_line, mws[i].name, plugin_name(mws[i].plugin));
}

struct registry_mw *const *registry_mws(size_t *n)
{
    *n = norder;
    return order;
}

const struct registry_sent *registry_sents(size_t *n)
{
    *n = nsents;
    return sents;
}

void registry_clear(void)
{
    for (size_t i = 0; i < nmws; i++)
        free(mws[i].name);
    for (size_t i = 0; i < nexports; i++)
        free(exports[i].name);
    free(mws);
    free(order);
    free(sents);
    free(exports);
    mws = NULL;
    order = NULL;
    sents = NULL;
    exports = NULL;
    nmws = cap_mws = norder = nsents = cap_sents = nexports = cap_exports = 0;
}
