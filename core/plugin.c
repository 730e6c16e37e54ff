/*
 * plugin.c -- seals a copy of each *.so file of the plugin directory once,
 * dlopens the sealed copies, checks their descriptor and runs their init hooks.
 */
#define _GNU_SOURCE                 /* memfd_create, F_ADD_SEALS */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "plugin.h"
#include "registry.h"
#include "router.h"

/* Copies of a file that kept changing while it was read before giving up. */
#define SEAL_ATTEMPTS 3

struct plugin *plugin_current;
const struct route *plugin_route;

const char *plugin_name(const struct plugin *p)
{
    const char *slash;

    if (p == NULL)
        return "?";
    if (p->name != NULL)
        return p->name;
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

/* ---- the snapshot of a plugin directory ------------------------------------ */

void plugin_files_close(struct plugin_files *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n; i++) {
        if (f->v[i].fd >= 0)
            close(f->v[i].fd);
        free(f->v[i].path);
    }
    free(f->v);
    f->v = NULL;
    f->n = 0;
}

/*
 * Opens path for reading if it is a regular file (a FIFO or a device is
 * never opened).  The fd, with its size and change time in *st; -1 when it
 * is no regular file or is gone (as if the scan had come a moment later);
 * -2 on another failure, with errno.
 */
static int open_regular(const char *path, struct stat *st)
{
    int fd;

    if (stat(path, st) != 0 || !S_ISREG(st->st_mode))
        return -1;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return errno == ENOENT ? -1 : -2;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Copies all of `in` (from offset 0) to `out`.  0, or -1 with errno. */
static int copy_all(int in, int out)
{
    char buf[65536];
    off_t off = 0;
    ssize_t n;

    while ((n = pread(in, buf, sizeof buf, off)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        for (ssize_t done = 0, w; done < n; done += w) {
            w = write(out, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR)
                w = 0;
            else if (w < 0)
                return -1;
        }
        off += n;
    }
    return 0;
}

/* Whether a file changed between two stat()s of it. */
static int file_changed(const struct stat *a, const struct stat *b)
{
    return a->st_size != b->st_size || a->st_ino != b->st_ino ||
           a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
           a->st_mtim.tv_nsec != b->st_mtim.tv_nsec ||
           a->st_ctim.tv_sec != b->st_ctim.tv_sec ||
           a->st_ctim.tv_nsec != b->st_ctim.tv_nsec;
}

/*
 * Copies the open plugin file `fd` (stat'ed in *st) into an anonymous file
 * sealed against any change (memfd, F_SEAL_WRITE | SHRINK | GROW | SEAL), so
 * that what a generation loads can be written by no one, whatever happens to
 * the file in plugin_dir.  The sealed fd, or -1 with errno; EAGAIN when the
 * file kept changing while it was copied.
 */
static int seal_copy(int fd, const struct stat *st, const char *name)
{
    struct stat before = *st, after;
    int mfd = -1, saved;

    for (int attempt = 0; attempt < SEAL_ATTEMPTS; attempt++, before = after) {
        if (mfd >= 0)
            close(mfd);
        mfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (mfd < 0)
            return -1;
        if (copy_all(fd, mfd) < 0 || fstat(fd, &after) < 0)
            goto fail;
        if (file_changed(&before, &after))
            continue;
        if (fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW |
                  F_SEAL_SEAL) < 0)
            goto fail;
        return mfd;
    }
    errno = EAGAIN;
fail:
    saved = errno;
    if (mfd >= 0)
        close(mfd);
    errno = saved;
    return -1;
}

/*
 * Opens dir/name and seals a copy of it into the next slot of f (which has
 * room).  0, 1 when the file is skipped, or -1 with the reason logged.
 */
static int plugin_file_open(struct plugin_files *f, const char *dir,
                            const char *name)
{
    struct plugin_file *pf = &f->v[f->n];
    size_t len = strlen(dir) + strlen(name) + 2;
    struct stat st;
    int fd;

    pf->path = malloc(len);
    if (pf->path == NULL) {
        log_error("%s/%s: out of memory", dir, name);
        return -1;
    }
    snprintf(pf->path, len, "%s/%s", dir, name);
    fd = open_regular(pf->path, &st);
    if (fd == -1) {
        log_debug("%s: not a regular file, skipped", pf->path);
        goto skip;
    }
    if (fd < 0) {
        log_error("%s: open failed: %s", pf->path, strerror(errno));
        goto fail;
    }
    pf->fd = seal_copy(fd, &st, name);
    close(fd);
    if (pf->fd < 0) {
        if (errno == EAGAIN)
            log_error("%s: changed while it was being read (is it being written? "
                      "copy it under a dot name, then rename it into place)", pf->path);
        else
            log_error("%s: copying it failed: %s", pf->path, strerror(errno));
        goto fail;
    }
    f->n++;
    return 0;

skip:
    free(pf->path);
    pf->path = NULL;
    return 1;
fail:
    free(pf->path);
    pf->path = NULL;
    return -1;
}

int plugin_files_open(const char *dir, struct plugin_files *out)
{
    struct dirent **names = NULL;
    int count, i, rc = -1;

    memset(out, 0, sizeof(*out));
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
    out->v = calloc(count ? (size_t)count : 1, sizeof(*out->v));
    if (out->v == NULL) {
        log_error("%s: out of memory opening the plugins", dir);
        goto fail;
    }
    for (i = 0; i < count; i++)
        if (plugin_file_open(out, dir, names[i]->d_name) < 0)
            goto fail;
    rc = 0;
fail:
    for (i = 0; i < count; i++)
        free(names[i]);
    free(names);
    if (rc != 0)
        plugin_files_close(out);
    return rc;
}

/* ---- a worker's start and stop ------------------------------------------------ */

static void plugin_hook(struct plugin_set *ps, struct plugin *p, void (*hook)(kiln_app *))
{
    struct kiln_app app = { .plugin = p, .router = ps->router, .cfg = ps->cfg };
    struct plugin *prev = plugin_current;

    plugin_current = p;
    hook(&app);
    plugin_current = prev;
}

void plugins_start(struct plugin_set *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        struct plugin *p = &ps->v[i];

        if (p->initialized && p->on_start)
            plugin_hook(ps, p, p->on_start);
        p->started = p->initialized;
    }
}

void plugins_reopen(struct plugin_set *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->v[i].started && ps->v[i].on_reopen)
            plugin_hook(ps, &ps->v[i], ps->v[i].on_reopen);
}

void plugins_stop(struct plugin_set *ps)
{
    for (size_t i = ps->n; i-- > 0;) {
        struct plugin *p = &ps->v[i];

        if (p->started && p->on_stop)
            plugin_hook(ps, p, p->on_stop);
        p->started = 0;
    }
}

/* ---- loading ---------------------------------------------------------------- */

/* Calls p's fini hook if it is owed one. */
static void plugin_fini(struct plugin_set *ps, struct plugin *p)
{
    struct kiln_app app = { .plugin = p, .router = ps->router, .cfg = ps->cfg };
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
        free(ps->v[i].name);
    }
    free(ps->v);
    ps->v = NULL;
    ps->n = 0;
    registry_clear();               /* what they registered points into them */
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
        if (&ps->v[i] != p && ps->v[i].name != NULL
            && strcmp(ps->v[i].name, d->name) == 0) {
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
    struct kiln_app app = { .plugin = p, .router = ps->router, .cfg = ps->cfg, .in_init = 1,
                            .mount = config_plugin_value(ps->cfg, p->name, "mount") };
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
        log_error("%s: registration failed (see above)", p->path);
        return -1;
    }
    log_info("loaded plugin %s from %s (%zu routes)", p->name, p->path,
             router_count(ps->router) - before);
    return 0;
}

/*
 * What a plugin that binds to a kiln_* call this kiln lacks needs: the
 * PostgreSQL and Redis calls exist only when configure built them in.
 */
static const char *missing_feature(const char *msg)
{
    static const struct { const char *prefix, *what; } features[] = {
        { "undefined symbol: kiln_pg_",
          ": the plugin needs PostgreSQL, and this kiln was built without it "
          "(see kiln -V; rebuild with libpq-dev installed)" },
        { "undefined symbol: kiln_redis",
          ": the plugin needs Redis, and this kiln was built without it "
          "(see kiln -V; rebuild with libhiredis-dev installed)" },
    };

    for (size_t i = 0; i < sizeof features / sizeof features[0]; i++)
        if (strstr(msg, features[i].prefix) != NULL)
            return features[i].what;
    return "";
}

/*
 * Logs a dlopen failure of p, naming the file by its path where dlerror()
 * names it by the /proc/self/fd link it was opened through.
 */
static void log_dlopen_error(const struct plugin *p, const char *link)
{
    const char *msg = dlerror();
    size_t len = strlen(link);

    if (msg == NULL)
        msg = "unknown error";
    if (strncmp(msg, link, len) == 0 && msg[len] == ':')
        log_error("%s: dlopen failed: %s%s%s", p->path, p->path, msg + len,
                  missing_feature(msg));
    else
        log_error("%s: dlopen failed: %s%s", p->path, msg, missing_feature(msg));
}

/*
 * Loads the snapshot's file f into the next slot of ps (which has room).
 * The slot is counted in ps->n as soon as dlopen succeeds, so that
 * plugins_unload() cleans it up.  0, or -1 with the reason logged.
 */
static int plugin_load_one(struct plugin_set *ps, const struct plugin_file *f)
{
    struct plugin *p = &ps->v[ps->n];
    char link[64];

    memset(p, 0, sizeof(*p));
    p->path = strdup(f->path);
    if (p->path == NULL) {
        log_error("%s: out of memory", f->path);
        return -1;
    }
    snprintf(link, sizeof link, "/proc/self/fd/%d", f->fd);
    p->handle = dlopen(link, RTLD_NOW | RTLD_LOCAL);
    if (p->handle == NULL) {
        log_dlopen_error(p, link);
        free(p->path);
        p->path = NULL;
        return -1;
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
    p->name = strdup(p->desc->name);
    if (p->name == NULL) {
        log_error("%s: out of memory", p->path);
        return -1;
    }
    return plugin_init(ps, p);
}

struct metrics_clash {
    const char *path;
    const struct route *found;
};

/* router_each's callback: the first route at the metrics path. */
static void at_metrics(const struct route *rt, void *arg)
{
    struct metrics_clash *mc = arg;

    if (mc->found == NULL && strcmp(rt->pattern, mc->path) == 0)
        mc->found = rt;
}

/* [server] metrics is kiln's own path: a route there is refused, naming
 * both.  0, or -1 logged. */
static int check_metrics_path(const struct config *cfg, const struct router *router)
{
    struct metrics_clash mc = { cfg->metrics, NULL };
    const struct route *rt;

    if (cfg->metrics == NULL)
        return 0;
    router_each(router, at_metrics, &mc);
    if ((rt = mc.found) == NULL)
        return 0;
    log_error("%s:%d: metrics = %s: plugin %s has the route %s %s at that path "
              "(move the metrics or the route)", cfg->file ? cfg->file : "(config)",
              cfg->metrics_line, cfg->metrics, rt->plugin ? plugin_name(rt->plugin) : "-",
              rt->method, rt->pattern);
    return -1;
}

int plugins_load(struct plugin_set *ps, const struct plugin_files *files,
                 const struct config *cfg, struct router *router)
{
    memset(ps, 0, sizeof(*ps));
    ps->router = router;
    ps->cfg = cfg;
    ps->v = calloc(files->n ? files->n : 1, sizeof(*ps->v));
    if (ps->v == NULL) {
        log_error("out of memory loading plugins");
        return -1;
    }
    for (size_t i = 0; i < files->n; i++) {
        if (plugin_load_one(ps, &files->v[i]) < 0) {
            plugins_unload(ps);
            return -1;
        }
    }
    if (registry_order(cfg) < 0 || check_metrics_path(cfg, router) < 0) {
        plugins_unload(ps);
        return -1;
    }
    return 0;
}

/* config_unclaimed_sections' callback: a warning in the log. */
static void warn_line(const char *msg, void *arg)
{
    (void)arg;
    log_warn("%s", msg);
}

void plugins_report_sections(const struct plugin_set *ps)
{
    const char **names = calloc(ps->n ? ps->n : 1, sizeof *names);

    if (names == NULL)
        return;
    for (size_t i = 0; i < ps->n; i++)
        names[i] = ps->v[i].name != NULL ? ps->v[i].name : "";
    config_unclaimed_sections(ps->cfg, names, ps->n, warn_line, NULL);
    free(names);
    registry_report_unlisted(ps->cfg);
}

/* router_each's callback: one line of kiln -t --routes. */
static void list_route(const struct route *rt, void *arg)
{
    fprintf(arg, "%-7s %-40s %-16s %s%s\n", rt->method, rt->pattern,
            rt->plugin ? plugin_name(rt->plugin) : "-", rt->name ? rt->name : "-",
            rt->ws ? " (WebSocket)" : "");
}

int plugins_check(const struct config *cfg, const struct plugin_files *files, FILE *routes)
{
    struct router *router = router_new();
    struct plugin_set ps;
    int rc = -1;

    memset(&ps, 0, sizeof ps);
    if (router == NULL) {
        log_error("router_new() failed: out of memory");
        goto done;
    }
    if (plugins_load(&ps, files, cfg, router) < 0)
        goto done;
    plugins_report_sections(&ps);
    if (routes != NULL) {
        fprintf(routes, "%-7s %-40s %-16s %s\n", "METHOD", "PATTERN", "PLUGIN", "NAME");
        router_each(router, list_route, routes);
        fflush(routes);
    }
    rc = 0;

done:
    plugins_unload(&ps);
    router_free(router);
    return rc;
}
