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
#include "listeners.h"
#include "log.h"
#include "pidfile.h"
#include "systemd.h"

/* ---- taking sockets over at start -------------------------------------------- */

/* Remembers this binary's path, for SIGUSR2 (later, the file may be replaced). */
static void find_exe(struct handover *h)
{
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);

    if (n <= 0) {
        log_warn("readlink(/proc/self/exe) failed: %s; SIGUSR2 will not work",
                 strerror(errno));
        return;
    }
    buf[n] = '\0';
    h->exe = strdup(buf);
}

/* One "FD:ADDR" or "FD=ADDR" entry of $KILN_INHERIT.  0, or -1 with err. */
static int inherit_entry(struct listeners *ls, const struct config *c, char *entry,
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
        return listeners_adopt(ls, fd, NULL, 1, "inherited", err, errlen);
    if (!config_listens_on(c, addr) || listeners_find(ls, addr) != NULL) {
        log_info("inherited socket %s is not in the config any more: closed", addr);
        close(fd);
        return 0;
    }
    return listeners_adopt(ls, fd, addr, 1, "inherited", err, errlen);
}

/* Takes the sockets named by $KILN_INHERIT.  0, or -1 with err. */
static int adopt_inherited(struct handover *h, struct listeners *ls,
                           const struct config *c, char *err, size_t errlen)
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
    h->parent_master = getppid();
    for (tok = strtok_r(copy, ";", &save); tok && rc == 0; tok = strtok_r(NULL, ";", &save))
        rc = inherit_entry(ls, c, tok, err, errlen);
    free(copy);
    return rc;
}

/* The config address socket `fd` is bound to and nothing serves yet, or NULL. */
static const char *match_address(struct listeners *ls, const struct config *c, int fd)
{
    for (size_t i = 0; i < c->nlisten; i++)
        if (listeners_find(ls, c->listen[i]) == NULL && listen_bound_to(fd, c->listen[i]))
            return c->listen[i];
    return NULL;
}

/* Takes the sockets socket activation passed (fds 3, 4, ...).  0, or -1 with err. */
static int adopt_activated(struct listeners *ls, const struct config *c, char *err,
                           size_t errlen)
{
    int n = systemd_listen_fds();

    for (int fd = SYSTEMD_LISTEN_FDS_START; fd < SYSTEMD_LISTEN_FDS_START + n; fd++)
        if (listeners_adopt(ls, fd, match_address(ls, c, fd), 0, "from systemd", err,
                            errlen) < 0)
            return -1;
    return 0;
}

int handover_adopt(struct handover *h, struct listeners *ls, const struct config *c,
                   char *err, size_t errlen)
{
    find_exe(h);
    if (adopt_inherited(h, ls, c, err, errlen) < 0)
        return -1;
    return adopt_activated(ls, c, err, errlen);
}

int handover_pending(const struct handover *h)
{
    return h->upgrade_pid > 0 ||
           (h->parent_master > 1 && getppid() == h->parent_master);
}

void handover_free(struct handover *h)
{
    free(h->exe);
    h->exe = NULL;
}

/* ---- starting the new binary ------------------------------------------------- */

/* $KILN_INHERIT's value for our listeners (malloc'd), or NULL on OOM. */
static char *inherit_value(const struct listeners *ls)
{
    size_t size = 1, len = 0;
    char *buf;

    for (size_t i = 0; i < ls->n; i++)
        size += strlen(ls->v[i].addr) + 16;
    buf = malloc(size);
    if (buf == NULL)
        return NULL;
    buf[0] = '\0';
    for (size_t i = 0; i < ls->n; i++) {
        int n = snprintf(buf + len, size - len, "%s%d%c%s", i ? ";" : "", ls->v[i].fd,
                         ls->v[i].extra ? '=' : ':', ls->v[i].addr);
        len += n > 0 ? (size_t)n : 0;
    }
    return buf;
}

/* In the forked child: default signal dispositions and an empty mask, as a
 * new process has; the listeners survive exec, the rest closes on exec. */
static void __attribute__((noreturn))
exec_new_binary(const struct handover *h, const struct listeners *ls, char *const *argv,
                const char *inherit)
{
    sigset_t none;

    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (size_t i = 0; i < ls->n; i++)
        fcntl(ls->v[i].fd, F_SETFD, 0);
    if (setenv(HANDOVER_ENV, inherit, 1) == 0)
        execv(h->exe, argv);
    log_error("execv(%s) failed: %s", h->exe, strerror(errno));
    _exit(127);
}

/* Why SIGUSR2 cannot start an upgrade now, or NULL. */
static const char *upgrade_refused(const struct handover *h)
{
    if (h->upgrade_pid > 0)
        return "a new binary is running already";
    if (handover_pending(h))
        return "the old binary's master still runs (stop it or this one first)";
    if (h->exe == NULL)
        return "the path of this binary is unknown";
    return NULL;
}

void handover_upgrade(struct handover *h, const struct listeners *ls,
                      struct pidfile *pf, char *const *argv)
{
    const char *why = upgrade_refused(h);
    char *inherit = NULL;
    pid_t pid;

    if (why != NULL) {
        log_warn("SIGUSR2 ignored: %s", why);
        return;
    }
    inherit = inherit_value(ls);
    if (inherit == NULL || pidfile_to_oldbin(pf) < 0)
        goto done;
    pid = fork();
    if (pid < 0) {
        log_error("binary upgrade: fork() failed: %s", strerror(errno));
        pidfile_restore(pf);
        goto done;
    }
    if (pid == 0)
        exec_new_binary(h, ls, argv, inherit);
    h->upgrade_pid = pid;
    log_info("received SIGUSR2: binary upgrade, started %s as pid %ld with %zu "
             "listening sockets", h->exe, (long)pid, ls->n);

done:
    if (inherit == NULL)
        log_error("binary upgrade: out of memory");
    free(inherit);
}

void handover_ended(struct handover *h, struct pidfile *pf, int status)
{
    pid_t pid = h->upgrade_pid;

    h->upgrade_pid = 0;
    if (WIFEXITED(status))
        log_warn("the new binary's master (pid %ld) exited with code %d",
                 (long)pid, WEXITSTATUS(status));
    else
        log_warn("the new binary's master (pid %ld) was killed by signal %d",
                 (long)pid, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    pidfile_restore(pf);
}
