/* options.c -- a config as the command line amends it (-l, -w), and the log it names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "options.h"

/* Replaces the config's listen list with the -l addresses.  0 or -1 (OOM). */
static int override_listen(struct config *c, const struct master_options *o)
{
    for (size_t i = 0; i < c->nlisten; i++)
        free(c->listen[i]);
    c->nlisten = 0;
    for (size_t i = 0; i < o->nlisten; i++) {
        c->listen[i] = strdup(o->listen[i]);
        if (c->listen[i] == NULL)
            return -1;
        config_listen_opts_default(c, i);
        c->nlisten++;
    }
    return 0;
}

struct config *options_load_config(const struct master_options *o, char *err,
                                   size_t errlen)
{
    struct config *c = malloc(sizeof *c);

    if (c == NULL) {
        snprintf(err, errlen, "%s: out of memory", o->conf_file);
        return NULL;
    }
    config_defaults(c);
    if (config_load(c, o->conf_file, err, errlen) < 0)
        goto fail;
    if (o->nlisten > 0 && override_listen(c, o) < 0) {
        snprintf(err, errlen, "%s: out of memory", o->conf_file);
        goto fail;
    }
    if (o->workers >= 0)
        c->workers = o->workers;
    return c;

fail:
    config_free(c);
    free(c);
    return NULL;
}

void options_log_warnings(const struct config *c)
{
    for (size_t i = 0; i < c->nwarnings; i++)
        log_warn("%s", c->warnings[i]);
}

int options_apply_log(const struct config *c, char *err, size_t errlen)
{
    if (log_open(c->log_file) < 0) {
        snprintf(err, errlen, "log_open(%s) failed: %s", c->log_file,
                 strerror(errno));
        return -1;
    }
    log_set_level(c->log_level);
    options_log_warnings(c);
    return 0;
}
