/* config.c -- reads kiln.conf with inih: each line counted, kiln's own keys handed to config_keys.c, other sections kept for plugins, errors and warnings with file:line. */
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_private.h"
#include "listen.h"
#include "log.h"
#include "router_url.h"
#include "scoreboard.h"
#include "type_list.h"

_Static_assert(CONFIG_LINE_MAX == INI_MAX_LINE, "config_keys.c sizes its buffers by inih's line");

/* ---- errors ----------------------------------------------------------------- */

int config_fail(struct parse_state *st, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (st->err_line != 0)
        return 0;
    st->err_line = st->line;
    n = snprintf(st->err, st->errlen, "%s:%d: ", st->file, st->line);
    if (n < 0 || (size_t)n >= st->errlen)
        return 0;
    va_start(ap, fmt);
    vsnprintf(st->err + n, st->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return 0;
}

void config_warn(struct parse_state *st, const char *fmt, ...)
{
    char buf[512], **v;
    va_list ap;
    int n = snprintf(buf, sizeof buf, "%s:%d: ", st->file, st->line);

    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    v = realloc(st->c->warnings, (st->c->nwarnings + 1) * sizeof *v);
    if (v == NULL)
        return;
    st->c->warnings = v;
    v[st->c->nwarnings] = strdup(buf);
    if (v[st->c->nwarnings] != NULL)
        st->c->nwarnings++;
}

/* ---- plugin sections -------------------------------------------------------- */

/* Why the mount prefix w[0..n) is not one, or NULL: "/x" or "/x/y", no
 * trailing '/', no empty or dot segment, no braces, only characters a path
 * segment takes as they are. */
static const char *bad_prefix(const char *w, size_t n)
{
    if (w[0] != '/')
        return "does not start with '/'";
    if (w[n - 1] == '/')
        return "ends with '/'";
    for (size_t i = 0; i < n; i++) {
        if (w[i] == '{' || w[i] == '}')
            return "has a brace (a prefix is literal)";
        if (w[i] == '/' && (w[i + 1] == '/' ||
            (w[i + 1] == '.' && (w[i + 2] == '/' || i + 2 == n ||
             (w[i + 2] == '.' && (w[i + 3] == '/' || i + 3 == n))))))
            return "has an empty, '.' or '..' segment";
        if (w[i] != '/' && !router_url_pchar((unsigned char)w[i]))
            return "has a character a path segment must percent-encode";
    }
    return NULL;
}

/* Checks a plugin section's "mount" value: blank-separated prefixes.  1,
 * or 0 with the error. */
static int check_mount(struct parse_state *st, const char *section, const char *value)
{
    const char *p = value, *why;
    size_t n;

    for (p += strspn(p, " \t"); *p != '\0'; p += n, p += strspn(p, " \t")) {
        n = strcspn(p, " \t");
        if ((why = bad_prefix(p, n)) != NULL)
            return config_fail(st, "[%s] mount: prefix '%.*s' %s", section, (int)n, p, why);
    }
    return 1;
}

/* Keeps a plugin section's key.  1, or 0 on out of memory. */
static int plugin_key(struct parse_state *st, const char *section,
                      const char *name, const char *value)
{
    struct config *c = st->c;
    struct config_kv *kv, *v;

    if (strcmp(name, "mount") == 0 && !check_mount(st, section, value))
        return 0;
    if (config_is_server_key(name))
        config_warn(st, "\"%s\" is a [server] key, but it is in [%s], where only the "
                    "plugin named %s reads it (move it under [server] if it is the "
                    "server's)", name, section, section);
    v = realloc(c->kv, (c->nkv + 1) * sizeof *c->kv);
    if (v == NULL)
        return config_fail(st, "[%s] %s: out of memory", section, name);
    c->kv = v;
    kv = &c->kv[c->nkv];
    kv->section = strdup(section);
    kv->key = strdup(name);
    kv->value = strdup(value);
    kv->line = st->line;
    c->nkv++;
    if (kv->section == NULL || kv->key == NULL || kv->value == NULL)
        return config_fail(st, "[%s] %s: out of memory", section, name);
    return 1;
}

int config_listens_on(const struct config *c, const char *addr)
{
    for (size_t i = 0; i < c->nlisten; i++)
        if (strcmp(c->listen[i], addr) == 0)
            return 1;
    return 0;
}

void config_listen_opts(const struct config *c, size_t i, struct listen_opts *o)
{
    const struct listen_opts *w = &c->listen_opts[i];

    int secs = (int)c->header_timeout;

    if (c->header_timeout > secs)
        secs++;                             /* rounded up */
    o->backlog = w->backlog > 0 ? w->backlog : c->backlog;
    o->defer_accept = w->defer_accept >= 0 ? w->defer_accept : secs;
}

void config_listen_opts_default(struct config *c, size_t i)
{
    c->listen_opts[i].backlog = 0;
    c->listen_opts[i].defer_accept = -1;
}

/* Whether section `s` is one of the n `names`. */
static int claimed(const char *s, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return 1;
    return 0;
}

/* Whether kv[i] is the first key of its section. */
static int first_of_section(const struct config *c, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcmp(c->kv[j].section, c->kv[i].section) == 0)
            return 0;
    return 1;
}

void config_unclaimed_sections(const struct config *c, const char *const *names,
                               size_t n, void (*warn_fn)(const char *msg, void *arg),
                               void *arg)
{
    char buf[512];

    for (size_t i = 0; i < c->nkv; i++) {
        if (!first_of_section(c, i) || claimed(c->kv[i].section, names, n))
            continue;
        snprintf(buf, sizeof buf, "%s:%d: [%s] names no loaded plugin: its keys "
                 "are read by no one (a plugin's section is named after its "
                 "descriptor)", c->file ? c->file : "?", c->kv[i].line,
                 c->kv[i].section);
        warn_fn(buf, arg);
    }
}

const char *config_plugin_value(const struct config *c, const char *section,
                                const char *key)
{
    for (size_t i = c->nkv; i-- > 0;)       /* the last one wins */
        if (strcmp(c->kv[i].section, section) == 0 &&
            strcmp(c->kv[i].key, key) == 0)
            return c->kv[i].value;
    return NULL;
}

/* ---- inih glue -------------------------------------------------------------- */

/* inih's handler: 1 when the key was taken, 0 for an error. */
static int on_key(void *user, const char *section, const char *name,
                  const char *value)
{
    struct parse_state *st = user;

    if (section[0] == '\0')
        return config_fail(st, "key \"%s\" outside any section", name);
    if (config_own_section(section))
        return config_key(st, section, name, value);
    return plugin_key(st, section, name, value);
}

/*
 * inih's reader: fgets that counts lines, so that the handler knows where it
 * is.  A line longer than inih's buffer stops the parse (inih would cut it in
 * two and read the rest as a line of its own).
 */
static char *read_line(char *str, int num, void *stream)
{
    struct parse_state *st = stream;
    size_t n;
    int ch;

    if (st->long_line || fgets(str, num, st->fp) == NULL)
        return NULL;
    if (st->at_bol)
        st->line++;
    n = strlen(str);
    st->at_bol = n > 0 && str[n - 1] == '\n';
    if (st->at_bol || (int)n < num - 1)
        return str;
    ch = getc(st->fp);
    if (ch == '\n' || ch == EOF) {
        st->at_bol = 1;
        return str;
    }
    ungetc(ch, st->fp);
    st->long_line = st->line;
    return NULL;
}

/* Turns the outcome of a parse into the first error, if any.  0 or -1. */
static int parse_outcome(struct parse_state *st, int rc)
{
    if (rc == -2)
        return config_fail(st, "out of memory"), -1;
    if (ferror(st->fp)) {
        snprintf(st->err, st->errlen, "%s: cannot read: %s", st->file, strerror(errno));
        return -1;
    }
    if (rc > 0 && (st->err_line == 0 || rc < st->err_line)) {
        st->err_line = 0;
        st->line = rc;
        config_fail(st, "syntax error");
    }
    if (st->long_line && st->err_line == 0) {
        st->line = st->long_line;
        config_fail(st, "line longer than %d characters", INI_MAX_LINE - 1);
    }
    return st->err_line != 0 ? -1 : 0;
}

/*
 * Reads `file` into `c`.  Every error is "file:line: message" (or
 * "file: message" when the file cannot be read); the first one is reported.
 */
int config_load(struct config *c, const char *file, char *err, size_t errlen)
{
    struct parse_state st = {
        .c = c, .file = file, .at_bol = 1, .err = err, .errlen = errlen
    };
    int rc;

    err[0] = '\0';
    free(c->file);
    c->file = strdup(file);
    st.fp = fopen(file, "re");
    if (st.fp == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", file, strerror(errno));
        return -1;
    }
    errno = 0;
    rc = ini_parse_stream(read_line, &st, on_key, &st);
    rc = parse_outcome(&st, rc);
    fclose(st.fp);
    return rc;
}

void config_free(struct config *c)
{
    if (c == NULL)
        return;
    free(c->file);
    for (size_t i = 0; i < c->nlisten; i++)
        free(c->listen[i]);
    free(c->plugin_dir);
    free(c->pidfile);
    free(c->log_file);
    free(c->mime_types);
    free(c->upload_dir);
    free(c->gzip_types);
    free(c->middlewares);
    free(c->pubsub);
    free(c->metrics);
    free(c->user);
    free(c->group);
    free(c->pg_dsn);
    free(c->redis_address);
    free(c->redis_password);
    for (size_t i = 0; i < c->nkv; i++) {
        free(c->kv[i].section);
        free(c->kv[i].key);
        free(c->kv[i].value);
    }
    free(c->kv);
    for (size_t i = 0; i < c->nwarnings; i++)
        free(c->warnings[i]);
    free(c->warnings);
    memset(c, 0, sizeof *c);
}
