/*
 * config.c -- the notes example's [backend] section (aiohttp's config.py
 * reading its settings file), read once in init and checked there, so that
 * a bad value refuses the plugin with a message naming the key.
 *
 *   [backend]
 *   session_lifetime = 86400   seconds a login lasts (60 .. 31536000)
 *   per_page = 20              notes per page without ?per_page= (1 .. max_per_page)
 *   max_per_page = 100         the largest ?per_page= taken (1 .. 1000)
 *   cookie_secure = no         yes: the session cookie says Secure (behind TLS)
 *   static_dir =               the directory of index.html (GET /); none: 404
 *   mount = /v1                kiln's own: every route under that prefix
 *
 * The database is kiln's own [postgres] section (dsn, pool_size): the pool
 * is the server's, shared by every plugin of a worker, as an aiohttp app's
 * asyncpg pool is created from its config at startup.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "backend.h"

static struct backend_config cfg;

const struct backend_config *config(void)
{
    return &cfg;
}

/* Reads key as a whole decimal number in lo..hi; 0, or -1 logged. */
static int number(kiln_app *app, const char *key, const char *def, long long lo,
                  long long hi, long long *out)
{
    const char *v = kiln_config(app, key, def);
    char *end;

    errno = 0;
    *out = strtoll(v, &end, 10);
    if (errno || end == v || *end != '\0' || *out < lo || *out > hi) {
        kiln_log(KILN_LOG_ERROR, "[backend] %s = %s: expected a number from %lld to %lld",
                 key, v, lo, hi);
        return -1;
    }
    return 0;
}

static int yes_no(kiln_app *app, const char *key, const char *def, int *out)
{
    const char *v = kiln_config(app, key, def);

    if (strcmp(v, "yes") == 0 || strcmp(v, "on") == 0 || strcmp(v, "true") == 0)
        *out = 1;
    else if (strcmp(v, "no") == 0 || strcmp(v, "off") == 0 || strcmp(v, "false") == 0)
        *out = 0;
    else {
        kiln_log(KILN_LOG_ERROR, "[backend] %s = %s: expected yes or no", key, v);
        return -1;
    }
    return 0;
}

/* Fills the config from [backend]; 0, or -1 (logged) for a bad value. */
int config_load(kiln_app *app)
{
    long long lifetime, per_page, max_per_page;
    const char *dir = kiln_config(app, "static_dir", "");

    if (number(app, "session_lifetime", "86400", 60, 31536000, &lifetime) < 0 ||
        number(app, "max_per_page", "100", 1, 1000, &max_per_page) < 0 ||
        number(app, "per_page", "20", 1, max_per_page, &per_page) < 0 ||
        yes_no(app, "cookie_secure", "no", &cfg.cookie_secure) < 0)
        return -1;
    cfg.session_lifetime = lifetime;
    cfg.per_page = (long)per_page;
    cfg.max_per_page = (long)max_per_page;
    cfg.static_dir = *dir ? dir : NULL;
    return 0;
}
