/* handover.c -- binary upgrade on SIGUSR2, and the listening sockets a master inherits from an old binary or from systemd. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "handover.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "pidfile.h"
#include "systemd.h"

/* ---- taking sockets over at start -------------------------------------------- */

static int config_has(const struct config *c, const char *addr)
{
    for (size_t i = 0; i < c->nlisten; i++)
        if (strcmp(c->listen[i], addr) == 0)
            return 1;
    return 0;
}

static int already_open(const struct master *m, const char *addr)
{
    for (size_t i = 0; i < m->nls; i++)
        if (strcmp(m->ls[i].addr, addr) == 0)
            return 1;
    return 0;
}

/* Adds fd as a listener of m for `addr` (NULL: an extra).  0, or -1 with err. */
static int adopt_one(struct master *m, int fd, const char *addr, int own,
                     const char *from, char *err, size_t errlen)
{
    struct listener *l = &m->ls[m->nls];

    if (m->nls == MASTER_MAX_LISTENERS) {
        snprintf(err, errlen, "socket fd %d %s: more than %d listening sockets",
                 fd, from, MASTER_MAX_LISTENERS);
        return -1;
    }
    if (listen_adopt(l, fd, addr, own, err, errlen) < 0)
        return -1;
    l->extra = addr == NULL;
    m->nls++;
    if (l->extra)
        log_info("listening on %s (%s; not in the config, served too)", l->bound, from);
    else
        log_info("listening on %s (%s)", l->bound, from);
    return 0;
}

/* One "FD:ADDR" or "FD=ADDR" entry of $KILN_INHERIT.  0, or -1 with err. */
static int inherit_entry(struct master *m, const struct config *c, char *entry,
                         char *err, size_t errlen)
{
    size_t digits = strspn(entry, "0123456789");
    char sep = entry[digits], *addr = entry + digits + 1;
    int fd;

    if (digits == 0 || digits > 6 || (sep != ':' && sep != '=') || *addr == '\0') {
        snprintf(err, errlen, "%s: bad entry \"%s\"", HANDOVER_ENV, entry);
        return -1;
    }
    fd = atoi(entry);
    if (sep == '=')
        return adopt_one(m, fd, NULL, 1, "inherited", err, errlen);
    if (!config_has(c, addr) || already_open(m, addr)) {
        log_info("inherited socket %s is not in the config any more: closed", addr);
        close(fd);
        return 0;
    }
    return adopt_one(m, fd, addr, 1, "inherited", err, errlen);
}

/* Takes the sockets named by $KILN_INHERIT.  0, or -1 with err. */
static int adopt_inherited(struct master *m, const struct config *c, char *err,
                           size_t errlen)
{
    const char *env = getenv(HANDOVER_ENV);
    char *copy, *save = NULL, *tok;
    int rc = 0;

    if (env == NULL)
        return 0;
    copy = strdup(env);
    unsetenv(HANDOVER_ENV);
    if (copy == NULL) {
        snprintf(err, errlen, "%s: out of memory", HANDOVER_ENV);
        return -1;
    }
    m->parent_master = getppid();
    for (tok = strtok_r(copy, ";", &save); tok && rc == 0; tok = strtok_r(NULL, ";", &save))
        rc = inherit_entry(m, c, tok, err, errlen);
    free(copy);
    return rc;
}

/* The config address socket `fd` is bound to and nothing serves yet, or NULL. */
static const char *match_address(const struct master *m, const struct config *c, int fd)
{
    for (size_t i = 0; i < c->nlisten; i++)
        if (!already_open(m, c->listen[i]) && listen_bound_to(fd, c->listen[i]))
            return c->listen[i];
    return NULL;
}

/* Takes the sockets socket activation passed (fds 3, 4, ...).  0, or -1 with err. */
static int adopt_activated(struct master *m, const struct config *c, char *err,
                           size_t errlen)
{
    int n = systemd_listen_fds();

    for (int fd = SYSTEMD_LISTEN_FDS_START; fd < SYSTEMD_LISTEN_FDS_START + n; fd++)
        if (adopt_one(m, fd, match_address(m, c, fd), 0, "from systemd", err, errlen) < 0)
            return -1;
    return 0;
}

int handover_adopt(struct master *m, const struct config *c, char *err, size_t errlen)
{
    if (adopt_inherited(m, c, err, errlen) < 0)
        return -1;
    return adopt_activated(m, c, err, errlen);
}

int handover_pending(const struct master *m)
{
    return m->upgrade_pid > 0 ||
           (m->parent_master > 1 && getppid() == m->parent_master);
}

/* ---- starting the new binary ------------------------------------------------- */

/* $KILN_INHERIT's value for our listeners (malloc'd), or NULL on OOM. */
static char *inherit_value(const struct master *m)
{
    size_t size = 1, len = 0;
    char *buf;

    for (size_t i = 0; i < m->nls; i++)
        size += strlen(m->ls[i].addr) + 16;
    buf = malloc(size);
    if (buf == NULL)
        return NULL;
    buf[0] = '\0';
    for (size_t i = 0; i < m->nls; i++) {
        int n = snprintf(buf + len, size - len, "%s%d%c%s", i ? ";" : "", m->ls[i].fd,
                         m->ls[i].extra ? '=' : ':', m->ls[i].addr);
        len += n > 0 ? (size_t)n : 0;
    }
    return buf;
}

/* In the forked child: the listeners survive exec, the rest closes on exec. */
static void __attribute__((noreturn))
exec_new_binary(const struct master *m, const char *inherit)
{
    sigset_t none;

    for (size_t i = 0; i < MASTER_NSIGNALS; i++)
        signal(master_signals[i], SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (size_t i = 0; i < m->nls; i++)
        fcntl(m->ls[i].fd, F_SETFD, 0);
    if (setenv(HANDOVER_ENV, inherit, 1) == 0)
        execv(m->exe, m->opt->argv);
    log_error("execv(%s) failed: %s", m->exe, strerror(errno));
    _exit(127);
}

/* Why SIGUSR2 cannot start an upgrade now, or NULL. */
static const char *upgrade_refused(const struct master *m)
{
    if (m->upgrade_pid > 0)
        return "a new binary is running already";
    if (handover_pending(m))
        return "the old binary's master still runs (stop it or this one first)";
    if (m->exe == NULL)
        return "the path of this binary is unknown";
    return NULL;
}

void handover_upgrade(struct master *m)
{
    const char *why = upgrade_refused(m);
    char *inherit = NULL;
    pid_t pid;

    if (why != NULL) {
        log_warn("SIGUSR2 ignored: %s", why);
        return;
    }
    inherit = inherit_value(m);
    if (inherit == NULL || pidfile_to_oldbin(&m->pidfile) < 0)
        goto done;
    pid = fork();
    if (pid < 0) {
        log_error("binary upgrade: fork() failed: %s", strerror(errno));
        pidfile_restore(&m->pidfile);
        goto done;
    }
    if (pid == 0)
        exec_new_binary(m, inherit);
    m->upgrade_pid = pid;
    log_info("received SIGUSR2: binary upgrade, started %s as pid %ld with %zu "
             "listening sockets", m->exe, (long)pid, m->nls);

done:
    if (inherit == NULL)
        log_error("binary upgrade: out of memory");
    free(inherit);
}

void handover_ended(struct master *m, int status)
{
    pid_t pid = m->upgrade_pid;

    m->upgrade_pid = 0;
    if (WIFEXITED(status))
        log_warn("the new binary's master (pid %ld) exited with code %d",
                 (long)pid, WEXITSTATUS(status));
    else
        log_warn("the new binary's master (pid %ld) was killed by signal %d",
                 (long)pid, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    pidfile_restore(&m->pidfile);
    if (m->winched && !m->stopping)
        master_reload(m, "the new binary is gone and our workers had left");
}
