/*
 * plugin.c -- finds the *.so files of the plugin directory, dlopens them,
 * checks their descriptor and runs their init hooks.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"
#include "plugin.h"
#include "router.h"

struct plugin *plugin_current;

const char *plugin_name(const struct plugin *p)
{
    const char *slash;

    if (p == NULL)
        return "?";
    if (p->desc != NULL && p->desc->name != NULL)
        return p->desc->name;
    if (p->path == NULL)
        return "?";
    slash = strrchr(p->path, '/');
    return slash ? slash + 1 : p->path;
}

/* scandir filter: "*.so", not a dotfile. */
static int is_candidate(const struct dirent *d)
{
    size_t len = strlen(d->d_name);

    if (d->d_name[0] == '.' || len < 4)
        return 0;
    if (d->d_type != DT_UNKNOWN && d->d_type != DT_REG && d->d_type != DT_LNK)
        return 0;
    return strcmp(d->d_name + len - 3, ".so") == 0;
}

/* scandir order: plain strcmp, whatever the locale. */
static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Calls p's fini hook if it is owed one. */
static void plugin_fini(struct plugin_set *ps, struct plugin *p)
{
    struct kiln_app app = { p, ps->router, ps->cfg, 0 };
    struct plugin *prev = plugin_current;

    if (!p->initialized || p->desc == NULL || p->desc->fini == NULL)
        return;
    plugin_current = p;
    p->desc->fini(&app);
    plugin_current = prev;
    p->initialized = 0;
}

void plugins_unload(struct plugin_set *ps)
{
    size_t i;

    if (ps == NULL)
        return;
    for (i = ps->n; i-- > 0;)
        plugin_fini(ps, &ps->v[i]);
    for (i = ps->n; i-- > 0;) {
        if (ps->v[i].handle != NULL)
            dlclose(ps->v[i].handle);
        free(ps->v[i].path);
    }
    free(ps->v);
    ps->v = NULL;
    ps->n = 0;
}

/*
 * Checks the descriptor of p (already found): ABI, name, init, unique name.
 * 0, or -1 with the reason logged.
 */
static int check_descriptor(const struct plugin_set *ps, const struct plugin *p)
{
    const struct kiln_plugin *d = p->desc;
    size_t i;

    if (d->abi_major != KILN_ABI_MAJOR || d->abi_minor > KILN_ABI_MINOR) {
        log_error("%s: built for plugin ABI %u.%u, this kiln speaks %u.%u%s",
                  p->path, d->abi_major, d->abi_minor,
                  KILN_ABI_MAJOR, KILN_ABI_MINOR,
                  d->abi_major == KILN_ABI_MAJOR
                      ? " (rebuild against this kiln's kiln.h or upgrade kiln)"
                      : "");
        return -1;
    }
    if (d->name == NULL || d->name[0] == '\0') {
        log_error("%s: descriptor has no name", p->path);
        return -1;
    }
    if (d->init == NULL) {
        log_error("%s: descriptor has no init hook", p->path);
        return -1;
    }
    for (i = 0; i < ps->n; i++) {
        if (&ps->v[i] != p && ps->v[i].desc != NULL
            && strcmp(ps->v[i].desc->name, d->name) == 0) {
            log_error("%s: plugin name \"%s\" already used by %s",
                      p->path, d->name, ps->v[i].path);
            return -1;
        }
    }
    return 0;
}

/* Runs p's init hook.  0, or -1 with the reason logged. */
static int plugin_init(struct plugin_set *ps, struct plugin *p)
{
    struct kiln_app app = { p, ps->router, ps->cfg, 0 };
    size_t before = router_count(ps->router);
    int rc;

    plugin_current = p;
    rc = p->desc->init(&app);
    plugin_current = NULL;
    if (rc != 0) {
        log_error("%s: init failed (returned %d)", p->path, rc);
        return -1;
    }
    p->initialized = 1;
    if (app.failed) {
        log_error("%s: route registration failed", p->path);
        return -1;
    }
    log_info("loaded plugin %s from %s (%zu routes)", p->desc->name, p->path,
             router_count(ps->router) - before);
    return 0;
}

/*
 * Loads dir/name into the next slot of ps (which has room).  The slot is
 * counted in ps->n as soon as dlopen succeeds, so that plugins_unload()
 * cleans it up.  0, 1 when the file is skipped, or -1 with the reason logged.
 */
static int plugin_load_one(struct plugin_set *ps, const char *dir,
                           const char *name)
{
    struct plugin *p = &ps->v[ps->n];
    struct stat st;
    size_t len = strlen(dir) + strlen(name) + 2;

    memset(p, 0, sizeof(*p));
    p->path = malloc(len);
    if (p->path == NULL) {
        log_error("%s/%s: out of memory", dir, name);
        return -1;
    }
    snprintf(p->path, len, "%s/%s", dir, name);
    if (stat(p->path, &st) != 0 || !S_ISREG(st.st_mode)) {
        log_debug("%s: not a regular file, skipped", p->path);
        free(p->path);
        p->path = NULL;
        return 1;
    }
    p->handle = dlopen(p->path, RTLD_NOW | RTLD_LOCAL);
    if (p->handle == NULL) {
        log_error("%s: dlopen failed: %s", p->path, dlerror());
        goto fail;
    }
    ps->n++;
    dlerror();
    p->desc = dlsym(p->handle, "kiln_plugin");
    if (p->desc == NULL) {
        log_error("%s: no kiln_plugin descriptor (not a kiln plugin?)", p->path);
        return -1;
    }
    if (check_descriptor(ps, p) != 0)
        return -1;
    return plugin_init(ps, p);

fail:
    free(p->path);
    p->path = NULL;
    return -1;
}

int plugins_load(struct plugin_set *ps, const char *dir,
                 const struct config *cfg, struct router *router)
{
    struct dirent **names = NULL;
    int count, i, rc = -1;

    memset(ps, 0, sizeof(*ps));
    ps->router = router;
    ps->cfg = cfg;
    count = scandir(dir, &names, is_candidate, by_name);
    if (count < 0 && errno == ENOENT) {
        log_warn("plugin directory %s does not exist: no plugins", dir);
        return 0;
    }
    if (count < 0) {
        log_error("scandir(%s) failed: %s", dir, strerror(errno));
        return -1;
    }
    if (count == 0)
        log_warn("plugin directory %s holds no *.so: no plugins", dir);
    ps->v = calloc(count ? (size_t)count : 1, sizeof(*ps->v));
    if (ps->v == NULL) {
        log_error("%s: out of memory loading plugins", dir);
        goto fail;
    }
    for (i = 0; i < count; i++)
        if (plugin_load_one(ps, dir, names[i]->d_name) < 0)
            goto fail;
    rc = 0;
fail:
    for (i = 0; i < count; i++)
        free(names[i]);
    free(names);
    if (rc != 0)
        plugins_unload(ps);
    return rc;
}
