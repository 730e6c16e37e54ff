/*
 * registry.h -- what plugins register for the request path and for each
 * other (registry.c): middlewares and their order, response-sent hooks,
 * exported functions.  Filled while the plugins' init hooks run, checked
 * once they all ran (plugins_load), emptied when they are unloaded.
 */
#ifndef KILN_REGISTRY_H
#define KILN_REGISTRY_H

#include <stddef.h>

#include "kiln.h"

struct config;
struct plugin;

struct registry_mw {
    char *name;
    struct plugin *plugin;          /* the registering one */
    kiln_mw_before before;          /* either may be NULL, not both */
    kiln_mw_after after;
    void *data;
};

struct registry_sent {
    struct plugin *plugin;
    kiln_sent_fn fn;
    void *data;
};

/* Registers a middleware of p: 0, or -1 with the reason logged (a name
 * taken names both plugins). */
int registry_add_mw(struct plugin *p, const char *name, kiln_mw_before before,
                    kiln_mw_after after, void *data);

/* A response-sent hook of p, and an exported function: 0, or -1 logged. */
int registry_add_sent(struct plugin *p, kiln_sent_fn fn, void *data);
int registry_export(struct plugin *p, const char *name, void *fn);

/* The function exported as `name`, or NULL. */
void *registry_import(const char *name);

/*
 * Resolves the order of the middlewares that run from cfg's [server]
 * middlewares (every one, in registration order, without it).  0, or -1
 * with "FILE:LINE: middlewares: ..." logged for a name no plugin
 * registered, or one listed twice.
 */
int registry_order(const struct config *cfg);

/* Warns of each registered middleware that the order leaves out. */
void registry_report_unlisted(const struct config *cfg);

/* The middlewares that run, in order, and the response-sent hooks (valid
 * until registry_clear()). */
struct registry_mw *const *registry_mws(size_t *n);
const struct registry_sent *registry_sents(size_t *n);

/* Forgets everything (the plugins are being unloaded). */
void registry_clear(void);

#endif
