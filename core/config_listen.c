/* config_listen.c -- [server] listen: the addresses, each with the options written after it (backlog=, deferred=). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_private.h"
#include "listen.h"

/* Adds one listen address, with the default options, after checking it.
 * 1, or 0 with the error noted. */
static int add_listen(struct parse_state *st, const char *addr)
{
    struct config *c = st->c;
    struct sockaddr_storage ss;
    socklen_t len;
    char why[200];

    if (listen_parse(addr, &ss, &len, why, sizeof why) < 0)
        return config_fail(st, "listen: %s", why);
    for (size_t i = 0; i < c->nlisten; i++)
        if (strcmp(c->listen[i], addr) == 0)
            return config_fail(st, "listen: \"%s\" is listed twice", addr);
    if (c->nlisten == CONFIG_MAX_LISTEN)
        return config_fail(st, "listen: more than %d addresses", CONFIG_MAX_LISTEN);
    c->listen[c->nlisten] = strdup(addr);
    if (c->listen[c->nlisten] == NULL)
        return config_fail(st, "listen: out of memory");
    config_listen_opts_default(c, c->nlisten);
    c->nlisten++;
    return 1;
}

/* "off", "on" (-1: as long as header_timeout) or a time rounded up to whole
 * seconds, at most an hour.  0 or -1. */
static int parse_deferred(const char *v, int *out)
{
    double t;

    if (strcmp(v, "on") == 0) {
        *out = -1;
        return 0;
    }
    if (strcmp(v, "off") == 0) {
        *out = 0;
        return 0;
    }
    if (config_parse_time(v, &t) < 0 || t < 0 || t > 3600)
        return -1;
    *out = (int)t + (t > (int)t);
    return 0;
}

/* One NAME=VALUE option of the address before it.  1, or 0 on error. */
static int set_option(struct parse_state *st, const char *tok, int after_addr)
{
    struct config *c = st->c;
    const char *eq = strchr(tok, '='), *v = eq + 1;
    struct listen_opts *o;
    size_t n;

    if (!after_addr)
        return config_fail(st, "listen: \"%s\" must follow the address it applies to", tok);
    o = &c->listen_opts[c->nlisten - 1];
    if (strncmp(tok, "backlog=", 8) == 0) {
        if (strspn(v, "0123456789") != strlen(v) || config_parse_size(v, &n) < 0 ||
            n < 1 || n > 65535)
            return config_fail(st, "listen: %s: backlog= expects a number from 1 to "
                                   "65535, got \"%s\"", c->listen[c->nlisten - 1], v);
        o->backlog = (int)n;
        return 1;
    }
    if (strncmp(tok, "deferred=", 9) == 0) {
        if (strncmp(c->listen[c->nlisten - 1], "unix:", 5) == 0)
            return config_fail(st, "listen: %s: deferred= applies to TCP addresses only",
                               c->listen[c->nlisten - 1]);
        if (parse_deferred(v, &o->defer_accept) < 0)
            return config_fail(st, "listen: %s: deferred= expects on, off or a time up "
                                   "to 1h, got \"%s\"", c->listen[c->nlisten - 1], v);
        return 1;
    }
    return config_fail(st, "listen: unknown option \"%.*s\" (expected backlog= or deferred=)",
                       (int)(eq - tok), tok);
}

/* Whether a token is an option rather than an address (a unix socket's path
 * may hold '='). */
static int is_option(const char *tok)
{
    return strncmp(tok, "unix:", 5) != 0 && strchr(tok, '=') != NULL;
}

int config_set_listen(struct parse_state *st, const char *value)
{
    char buf[CONFIG_LINE_MAX + 1];
    char *save = NULL, *tok;
    int after_addr = 0;

    if (!st->listen_seen) {
        for (size_t i = 0; i < st->c->nlisten; i++)
            free(st->c->listen[i]);
        st->c->nlisten = 0;
        st->listen_seen = 1;
    }
    snprintf(buf, sizeof buf, "%s", value);
    tok = strtok_r(buf, " \t", &save);
    if (tok == NULL)
        return config_fail(st, "listen: expected an address, got \"\"");
    for (; tok != NULL; tok = strtok_r(NULL, " \t", &save)) {
        if (is_option(tok) ? !set_option(st, tok, after_addr) : !add_listen(st, tok))
            return 0;
        after_addr = 1;
    }
    return 1;
}
