/* privileges.c -- dropping root for the processes that run plugins. */
#define _GNU_SOURCE                 /* initgroups */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "config.h"
#include "privileges.h"

/* The group the workers run as: the configured one, else the user's. */
static gid_t target_gid(const struct config *cfg)
{
    return cfg->group != NULL ? cfg->gid : cfg->user_gid;
}

int privileges_drop(const struct config *cfg, char *err, size_t errlen)
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
