/*
 * plugin.h -- loading plugins with dlopen and checking their descriptor.
 *
 * Policy for a refused plugin (no descriptor, another ABI major, a newer ABI
 * minor, dlopen failure, failing init, a bad route): plugins_load() fails as
 * a whole.  So `kiln -t` reports it and exits 1, a worker that cannot load
 * its plugins exits with EXIT_BOOT_FAILURE (the master does not respawn it),
 * a first start fails, and a reload is abandoned with the old generation
 * left serving.
 */
#ifndef KILN_PLUGIN_H
#define KILN_PLUGIN_H

#include <stddef.h>
#include "kiln.h"

struct config;
struct router;

struct plugin {
    char *path;                     /* "/usr/lib/kiln/plugins/hello.so" */
    void *handle;                   /* dlopen handle */
    const struct kiln_plugin *desc; /* the exported descriptor */
    int initialized;                /* init returned 0: fini is owed */
};

/* What init/fini receive, as the opaque kiln_app. */
struct kiln_app {
    struct plugin *plugin;
    struct router *router;
    const struct config *cfg;
    int failed;                     /* a kiln_add_route failed during init */
};

struct plugin_set {
    struct plugin *v;
    size_t n;
    struct router *router;
    const struct config *cfg;
};

/*
 * Loads every regular file matching *.so in `dir`, in strcmp order, into
 * `router`.  A missing or empty directory is not an error (logged at warn).
 * On the first refusal logs "PATH: reason" at error level, unloads what
 * was loaded and returns -1.  0 on success.
 */
int plugins_load(struct plugin_set *ps, const char *dir,
                 const struct config *cfg, struct router *router);

/* Calls fini hooks in reverse order, dlcloses, frees.  Safe on a zeroed set. */
void plugins_unload(struct plugin_set *ps);

/*
 * The plugin whose code runs now (init, fini or a handler), or NULL.  Used for
 * kiln_log's prefix and the scoreboard.  Set by the caller around calls.
 */
extern struct plugin *plugin_current;

/* A short name for logs: the descriptor's name, or the file's base name. */
const char *plugin_name(const struct plugin *p);

#endif
