/* static.c -- the bundled static plugin: a directory served under a prefix, as aiohttp's app.router.add_static() and nginx's location + root serve one. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "static.h"
#include "static_path.h"

#define PATTERN_MAX 512
#define PREFIX_MAX 480

static struct static_conf conf = {.root = -1};
static char prefix_slash[PREFIX_MAX];    /* "/static/": where "/static" goes */

/* A boolean key: 0 or 1, or -1 (logged) when it is neither on nor off. */
static int config_bool(kiln_app *app, const char *key, const char *def)
{
    const char *v = kiln_config(app, key, def);
    static const char *const yes[] = {"on", "yes", "true", "1"}, *const no[] = {"off", "no", "false", "0"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return 1;
        if (strcasecmp(v, no[i]) == 0)
            return 0;
    }
    kiln_log(KILN_LOG_ERROR, "[static] %s = %s: expected on or off", key, v);
    return -1;
}

/* symlinks = inside | off | any as KILN_FILE_* flags, or -1 (logged). */
static int symlink_flags(kiln_app *app)
{
    const char *v = kiln_config(app, "symlinks", "inside");

    if (strcmp(v, "inside") == 0)
        return (int)KILN_FILE_BENEATH;
    if (strcmp(v, "off") == 0)
        return (int)(KILN_FILE_BENEATH | KILN_FILE_NO_SYMLINKS);
    if (strcmp(v, "any") == 0)
        return 0;
    kiln_log(KILN_LOG_ERROR, "[static] symlinks = %s: expected inside, off or any", v);
    return -1;
}

/* 403 when `path` (a directory's, "" for the root) names a directory, as
 * nginx answers one without an index, else 404. */
static int no_index(kiln_req *req, const char *path)
{
    struct stat st;
    int fd = kiln_open_at(conf.root, *path ? path : ".", conf.flags), is_dir;

    is_dir = fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    if (fd >= 0)
        close(fd);
    return kiln_error(req, is_dir ? 403 : 404, NULL);
}

/*
 * A directory asked for with its slash: its index file, else its listing
 * (listing = on), else 403 (404 when there is no such directory).  Without
 * a listing the index is answered at once, from the file cache when it is
 * on, and only its 404 looks at the directory; with one, the index is
 * looked for first, since the listing is the other answer.
 */
static int serve_dir(kiln_req *req, const char *path)
{
    char file[4096];
    struct stat st;
    int fd, is_file, rc;

    if (!conf.index[0] || (size_t)snprintf(file, sizeof(file), "%s%s", path, conf.index)
                              >= sizeof(file))
        return conf.listing ? listing_answer(req, &conf, path) : no_index(req, path);
    if (!conf.listing) {
        rc = kiln_file_at(req, conf.root, file, conf.flags);
        if (rc != KILN_OK || kiln_resp_status(req) != 404 || !kiln_resp_is_error(req))
            return rc;
        return no_index(req, path);
    }
    fd = kiln_open_at(conf.root, file, conf.flags);
    is_file = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (fd >= 0)
        close(fd);
    if (is_file)
        return kiln_file_at(req, conf.root, file, conf.flags);
    return listing_answer(req, &conf, path);
}

/* GET PREFIX/{path:*}. */
static int serve(kiln_req *req, void *data)
{
    const char *path = kiln_match(req, "path");
    size_t n = strlen(path);

    (void)data;
    if (static_path_ok(path, conf.hidden) != 0)
        return kiln_error(req, 404, NULL);
    if (n == 0 || path[n - 1] == '/')
        return serve_dir(req, path);
    return kiln_file_at(req, conf.root, path, conf.flags | KILN_FILE_DIR_REDIRECT);
}

/* GET PREFIX: 301 to PREFIX/, as nginx answers for a location's directory. */
static int to_slash(kiln_req *req, void *data)
{
    (void)data;
    return kiln_redirect(req, 301, prefix_slash);
}

/* prefix: "/" or "/a/b" (a trailing slash dropped), no braces, no "//". */
static int read_prefix(kiln_app *app, char *pattern, size_t size)
{
    const char *v = kiln_config(app, "prefix", "/static");
    size_t n = strlen(v);

    while (n > 1 && v[n - 1] == '/')
        n--;
    if (v[0] != '/' || strpbrk(v, "{}?#% \t") || strstr(v, "//") || n + 16 > sizeof(prefix_slash)) {
        kiln_log(KILN_LOG_ERROR, "[static] prefix = %s: expected a path such as /static", v);
        return -1;
    }
    snprintf(prefix_slash, sizeof(prefix_slash), "%.*s/", n == 1 ? 0 : (int)n, v);
    snprintf(pattern, size, "%s{path:*}", prefix_slash);
    return n == 1 ? 0 : 1;
}

/* Every key but root into conf and the route pattern: 0, or -1 (logged). */
static int read_settings(kiln_app *app, char *pattern, size_t size, int *has_prefix)
{
    int sym = symlink_flags(app), pre = config_bool(app, "precompressed", "on");
    int cache = config_bool(app, "cache", "on");

    conf.index = kiln_config(app, "index", "index.html");
    conf.listing = config_bool(app, "listing", "off");
    conf.hidden = config_bool(app, "hidden", "off");
    *has_prefix = read_prefix(app, pattern, size);
    if (strchr(conf.index, '/')) {
        kiln_log(KILN_LOG_ERROR, "[static] index = %s: a file name, not a path", conf.index);
        return -1;
    }
    if (sym < 0 || pre < 0 || cache < 0 || conf.listing < 0 || conf.hidden < 0
        || *has_prefix < 0)
        return -1;
    conf.flags = (unsigned)sym | (pre ? KILN_FILE_PRECOMPRESSED : 0)
                 | (cache ? KILN_FILE_CACHE : 0);
    return 0;
}

static int init(kiln_app *app)
{
    const char *root = kiln_config(app, "root", NULL);
    char pattern[PATTERN_MAX], route[PATTERN_MAX];
    int has_prefix;

    if (read_settings(app, pattern, sizeof(pattern), &has_prefix) != 0)
        return -1;
    if (root == NULL) {
        kiln_log(KILN_LOG_INFO, "[static] no root: the static plugin serves nothing");
        return 0;
    }
    conf.root = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (conf.root < 0) {
        kiln_log(KILN_LOG_ERROR, "[static] root = %s: %s", root, strerror(errno));
        return -1;
    }
    if (kiln_add_get(app, pattern, serve, NULL) != 0)
        return -1;
    snprintf(route, sizeof(route), "%.*s", (int)strlen(prefix_slash) - 1, prefix_slash);
    return has_prefix ? kiln_add_get(app, route, to_slash, NULL) : 0;
}

static void fini(kiln_app *app)
{
    (void)app;
    if (conf.root >= 0)
        close(conf.root);
    conf.root = -1;
}

KILN_PLUGIN("static", init, fini);
