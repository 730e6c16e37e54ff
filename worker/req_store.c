/*
 * req_store.c -- request-scoped storage: values keyed by string that a
 * plugin sets on a request (a middleware, for its handler) and whose free
 * functions kiln runs when the request ends.  Entries and key copies live
 * in the request's pool; req_store_clear() runs before the pool is reset.
 */
#include <string.h>

#include "kiln.h"
#include "plugin.h"
#include "pool.h"
#include "req_store.h"
#include "request.h"

struct req_entry {
    const char *key;                /* copied into the pool */
    void *value;
    void (*free_fn)(void *);
    struct plugin *plugin;          /* that set it: runs free_fn */
    struct req_entry *next;         /* in the order first set */
};

static struct req_entry *find(const kiln_req *req, const char *key)
{
    struct req_entry *e;

    for (e = req->store; e != NULL; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

static void release(struct plugin *p, void *value, void (*free_fn)(void *))
{
    struct plugin *outer = plugin_current;

    if (free_fn == NULL)
        return;
    plugin_current = p;
    free_fn(value);
    plugin_current = outer;
}

/* A new entry at the end of req's store, or NULL out of memory. */
static struct req_entry *append(kiln_req *req, const char *key)
{
    struct req_entry *e = pool_alloc(req->pool, sizeof(*e)), **tail = &req->store;

    if (e == NULL)
        return NULL;
    e->key = pool_strndup(req->pool, key, strlen(key));
    if (e->key == NULL)
        return NULL;
    e->next = NULL;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = e;
    return e;
}

KILN_EXPORT int kiln_req_set(kiln_req *req, const char *key, void *value,
                             void (*free_fn)(void *))
{
    struct req_entry *e;
    void *old_value;
    void (*old_free)(void *);
    struct plugin *old_plugin;

    if (req == NULL || key == NULL)
        return -1;
    e = find(req, key);
    if (e == NULL) {
        e = append(req, key);
        if (e == NULL)
            return -1;
        e->value = value;
        e->free_fn = free_fn;
        e->plugin = plugin_current;
        return 0;
    }
    old_value = e->value;
    old_free = e->free_fn;
    old_plugin = e->plugin;
    e->value = value;
    e->free_fn = free_fn;
    e->plugin = plugin_current;
    if (old_value != value)         /* the same pointer again is not freed */
        release(old_plugin, old_value, old_free);
    return 0;
}

KILN_EXPORT void *kiln_req_get(const kiln_req *req, const char *key)
{
    const struct req_entry *e = req && key ? find(req, key) : NULL;

    return e ? e->value : NULL;
}

void req_store_clear(struct kiln_req *req)
{
    /* A free function that sets a value again starts a new store: taken
     * in turn, until none is left. */
    while (req->store != NULL) {
        struct req_entry *e = req->store;

        req->store = NULL;
        for (; e != NULL; e = e->next)
            release(e->plugin, e->value, e->free_fn);
    }
}
