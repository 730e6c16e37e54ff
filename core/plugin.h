/*
 * plugin.h -- loading plugins with dlopen and checking their descriptor.
 *
 * A generation's plugins are pinned and sealed: the master scans plugin_dir
 * once per generation (plugin_files_open) and copies every file into an
 * anonymous file that no one can write to (memfd_create, then F_SEAL_WRITE,
 * F_SEAL_SHRINK, F_SEAL_GROW), and the plugin check and every worker of that
 * generation, replacements included, load exactly those sealed copies.  A
 * file renamed over, removed, added or even written over in place in
 * plugin_dir takes effect at the next reload, never in between, and never
 * under code that is running.  (The dynamic linker knows a plugin as
 * /proc/self/fd/N: $ORIGIN in its run path does not name plugin_dir.)
 *
 * Policy for a refused plugin (no descriptor, another ABI major, a newer ABI
 * minor, dlopen failure, failing init, a bad route): plugins_load() fails as
 * a whole.  So `kiln -t` reports it and exits 1, a first start fails (the
 * server refuses to start), and a reload is abandoned with the old
 * generation left serving.  A worker of the serving generation that still
 * fails (it loads the checked files, so only from a cause outside them: no
 * memory, a file's permissions changed) exits with EXIT_BOOT_FAILURE and is
 * respawned with the crash back-off.
 */
#ifndef KILN_PLUGIN_H
#define KILN_PLUGIN_H

#include <stddef.h>
#include <stdio.h>
#include "kiln.h"
#include "router.h"
#include "scoreboard.h"

struct config;
struct router;

struct plugin {
    char *path;                     /* "/usr/lib/kiln/plugins/hello.so" */
    void *handle;                   /* dlopen handle */
    const struct kiln_plugin *desc; /* the exported descriptor */
    char *name;                     /* a copy of desc->name, once checked */
    int initialized;                /* init returned 0: fini is owed */
    void (*on_start)(kiln_app *app);    /* kiln_worker_hooks(), or NULL */
    void (*on_stop)(kiln_app *app);
    int started;                    /* on_start ran: on_stop is owed */
    void (*on_reopen)(kiln_app *app);   /* kiln_on_reopen(), or NULL */
};

/* What init/fini receive, as the opaque kiln_app. */
struct kiln_app {
    struct plugin *plugin;
    struct router *router;
    const struct config *cfg;
    int failed;                     /* a kiln_add_route failed during init */
    const char *mount;              /* the section's mount prefixes, or NULL */
    struct route *last;             /* the route added last (kiln_route_name) */
    int in_init;                    /* its init hook runs: registration allowed */
};

/* One plugin file of a snapshot: the name it is logged as, and its sealed copy. */
struct plugin_file {
    char *path;                     /* "/usr/lib/kiln/plugins/hello.so" */
    int fd;                         /* sealed memfd copy, O_CLOEXEC */
};

/* The plugin files of a directory, as one scan found them, in load order. */
struct plugin_files {
    struct plugin_file *v;
    size_t n;
};

struct plugin_set {
    struct plugin *v;
    size_t n;
    struct router *router;
    const struct config *cfg;
};

/*
 * Scans `dir` once: every regular file (or link to one) matching *.so, not a
 * dotfile, in strcmp order, is copied into a sealed anonymous file in `out`.
 * A missing or empty directory is not an error (logged at warn; `out` is
 * empty).  0, or -1 with the reason logged ("scandir(DIR) failed: ...",
 * "PATH: open failed: ...", "PATH: changed while it was being read ...") and
 * `out` empty.  The caller owns `out`: plugin_files_close() it.
 */
int plugin_files_open(const char *dir, struct plugin_files *out);

/* Closes the fds and frees the paths.  Safe on a zeroed or closed set. */
void plugin_files_close(struct plugin_files *f);

/*
 * Loads the files of the snapshot `files` (through /proc/self/fd, so the
 * sealed copies, whatever plugin_dir holds now), in its order, into
 * `router`.  Logs name the files by their paths.  On the first refusal logs
 * "PATH: reason" at error level, unloads what was loaded and returns -1.
 * 0 on success.  `files` stays the caller's.
 */
int plugins_load(struct plugin_set *ps, const struct plugin_files *files,
                 const struct config *cfg, struct router *router);

/* A worker's start and stop (never the reload's check process): runs each
 * plugin's start hook in load order, and the stop hooks of those started in
 * reverse order.  Stop is safe to call twice. */
void plugins_start(struct plugin_set *ps);
void plugins_stop(struct plugin_set *ps);

/* The logs were reopened: runs each plugin's reopen hook, in load order. */
void plugins_reopen(struct plugin_set *ps);

/* Logs a warning (file:line) for each plugin section of the config that
 * names none of the loaded plugins. */
void plugins_report_sections(const struct plugin_set *ps);

/* Calls fini hooks in reverse order, dlcloses, frees.  Safe on a zeroed set. */
void plugins_unload(struct plugin_set *ps);

/*
 * The plugin whose code runs now (init, fini or a handler), or NULL.  Used for
 * kiln_log's prefix.  Set around calls: by the loader for init and fini, by
 * plugin_enter()/plugin_leave() for handlers.
 */
extern struct plugin *plugin_current;
/* The route whose handler runs now (set with plugin_current by
 * plugin_enter()), or NULL: what a timer started there is attributed to. */
extern const struct route *plugin_route;

/*
 * Loads `files` (a snapshot of cfg->plugin_dir) into a scratch router, warns
 * of config sections no plugin claims, then unloads them (init and fini
 * hooks run): what `kiln -t` and a reload's check process do.  0, or -1
 * with the reason logged ("PATH: reason").  With `routes` (kiln -t
 * --routes), once every plugin loaded, writes each route to it: method,
 * pattern as served, plugin, name ("-": none), registration order.
 */
int plugins_check(const struct config *cfg, const struct plugin_files *files, FILE *routes);

/* The name logs and the scoreboard use: the descriptor's (copied at load),
 * or, before the descriptor was checked, the file's base name. */
const char *plugin_name(const struct plugin *p);

/*
 * Around every call into a handler of route `rt`: sets plugin_current and
 * marks the worker's scoreboard slot "in plugin P, route WHAT PATTERN" (what
 * the master reports when the worker dies or hangs there).  `what` is the
 * method shown ("GET", "WS").  plugin_leave() counts a request served when
 * `request` is non-zero.  Inline: they run around every handler.
 */
static inline void plugin_enter(struct scoreboard_slot *slot, const struct route *rt,
                                const char *what)
{
    plugin_current = rt->plugin;
    plugin_route = rt;
    if (scoreboard_enter(slot, rt))
        scoreboard_name(slot, rt, rt->plugin ? plugin_name(rt->plugin) : "-", what,
                        rt->pattern);
}

static inline void plugin_leave(struct scoreboard_slot *slot, int request)
{
    plugin_current = NULL;
    plugin_route = NULL;
    scoreboard_leave(slot, request);
}

#endif
