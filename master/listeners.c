/* listeners.c -- the master's set of listening sockets, across reloads and hand-overs. */
#include <stdio.h>
#include <string.h>

#include "listeners.h"
#include "log.h"

struct listener *listeners_find(struct listeners *ls, const char *addr)
{
    for (size_t i = 0; i < ls->n; i++)
        if (strcmp(ls->v[i].addr, addr) == 0)
            return &ls->v[i];
    return NULL;
}

/* The next free slot, or NULL with err naming `what`. */
static struct listener *next_slot(struct listeners *ls, const char *what, char *err,
                                  size_t errlen)
{
    if (ls->n < LISTENERS_MAX)
        return &ls->v[ls->n];
    snprintf(err, errlen, "%s: more than %d listening sockets", what, LISTENERS_MAX);
    return NULL;
}

int listeners_open(struct listeners *ls, const struct config *c, char *err,
                   size_t errlen)
{
    char what[300];

    for (size_t i = 0; i < c->nlisten; i++) {
        struct listen_opts o;
        struct listener *l;

        config_listen_opts(c, i, &o);
        if ((l = listeners_find(ls, c->listen[i])) != NULL) {
            if (listen_tune(l, &o, err, errlen) < 0)
                return -1;
            continue;
        }
        snprintf(what, sizeof what, "bind(%s) failed", c->listen[i]);
        if ((l = next_slot(ls, what, err, errlen)) == NULL ||
            listen_open(l, c->listen[i], &o, err, errlen) < 0)
            return -1;
        ls->n++;
        log_info("listening on %s", l->bound);
    }
    return 0;
}

int listeners_adopt(struct listeners *ls, int fd, const char *addr, int own,
                    const char *from, char *err, size_t errlen)
{
    char what[64];
    struct listener *l;

    snprintf(what, sizeof what, "socket fd %d %s", fd, from);
    if ((l = next_slot(ls, what, err, errlen)) == NULL ||
        listen_adopt(l, fd, addr, own, err, errlen) < 0)
        return -1;
    l->extra = addr == NULL;
    ls->n++;
    if (l->extra)
        log_info("listening on %s (%s; not in the config, served too)", l->bound, from);
    else
        log_info("listening on %s (%s)", l->bound, from);
    return 0;
}

int listeners_serves(const struct config *c, const struct listener *l)
{
    return l->extra || config_listens_on(c, l->addr);
}

/* Whether one of the configs in use names l (extras are always in use). */
static int in_use(const struct listener *l, const struct config *const *cfgs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (cfgs[i] != NULL && listeners_serves(cfgs[i], l))
            return 1;
    return l->extra;
}

void listeners_close_unused(struct listeners *ls, const struct config *const *cfgs,
                            size_t n)
{
    for (size_t i = 0; i < ls->n;) {
        if (in_use(&ls->v[i], cfgs, n)) {
            i++;
            continue;
        }
        log_info("no longer listening on %s", ls->v[i].bound);
        listen_close(&ls->v[i]);
        ls->v[i] = ls->v[--ls->n];
    }
}

void listeners_close_all(struct listeners *ls, int release)
{
    for (size_t i = 0; i < ls->n; i++) {
        if (release)
            listen_release(&ls->v[i]);
        else
            listen_close(&ls->v[i]);
    }
    ls->n = 0;
}
