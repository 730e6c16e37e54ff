/* check.c -- loading a config's plugins once to check them, and dropping root for the processes that run plugins. */
#define _GNU_SOURCE                 /* initgroups */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "log.h"
#include "plugin.h"
#include "router.h"

int check_plugins(const struct config *cfg, const struct plugin_files *files)
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
    rc = 0;

done:
    plugins_unload(&ps);
    router_free(router);
    return rc;
}

/* The group the workers run as: the configured one, else the user's. */
static gid_t target_gid(const struct config *cfg)
{
    return cfg->group != NULL ? cfg->gid : cfg->user_gid;
}

int check_drop_privileges(const struct config *cfg, char *err, size_t errlen)
{
    const char *call = "setgid", *name = cfg->group ? cfg->group : cfg->user;
    gid_t gid = target_gid(cfg);

    if ((cfg->user == NULL && cfg->group == NULL) || geteuid() != 0)
        return 0;
    if (setgid(gid) < 0)
        goto fail;
    call = cfg->user != NULL ? "initgroups" : "setgroups";
    if (cfg->user != NULL ? initgroups(cfg->user, gid) < 0 : setgroups(1, &gid) < 0)
        goto fail;
    call = "setuid";
    name = cfg->user;
    if (cfg->user != NULL && setuid(cfg->uid) < 0)
        goto fail;
    /* setuid made the process undumpable: keep core dumps of crashed workers */
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    return 0;

fail:
    snprintf(err, errlen, "%s(%s) failed: %s", call, name, strerror(errno));
    return -1;
}
