/* control.c -- `kiln -s reload|stop|quit|reopen`: signals the running master named by the configured pidfile. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "control.h"
#include "options.h"

static const struct {
    const char *action;
    int sig;
} actions[] = {
    { "reload", SIGHUP },           /* re-read config, new generation */
    { "stop",   SIGINT },           /* fast stop */
    { "quit",   SIGQUIT },          /* graceful stop */
    { "reopen", SIGUSR1 },          /* reopen the log files */
};

int control_signal(const char *action)
{
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (strcmp(actions[i].action, action) == 0)
            return actions[i].sig;
    return 0;
}

/* The pid in `path`.  > 0, or -1 with the reason printed. */
static long read_pid(const char *path, const char *action)
{
    char buf[32], *end;
    FILE *fp = fopen(path, "re");
    long pid = -1;

    if (fp == NULL) {
        fprintf(stderr, "kiln: -s %s: cannot open pidfile %s: %s (is kiln running?)\n",
                action, path, strerror(errno));
        return -1;
    }
    if (fgets(buf, sizeof buf, fp) != NULL) {
        pid = strtol(buf, &end, 10);
        if (end == buf || (*end != '\n' && *end != '\0') || pid <= 1)
            pid = -1;
    }
    fclose(fp);
    if (pid < 0)
        fprintf(stderr, "kiln: -s %s: pidfile %s holds no process id\n", action, path);
    return pid;
}

int control_send(const struct master_options *o, const char *action)
{
    char err[1024];
    struct config *cfg = options_load_config(o, err, sizeof err);
    int sig = control_signal(action), rc = 1;
    long pid;

    if (cfg == NULL) {
        fprintf(stderr, "kiln: -s %s: %s\n", action, err);
        return 1;
    }
    if (cfg->pidfile == NULL) {
        fprintf(stderr, "kiln: -s %s: %s sets no pidfile (\"pidfile =\" with no "
                "value), so the master cannot be found\n", action, o->conf_file);
        goto done;
    }
    pid = read_pid(cfg->pidfile, action);
    if (pid < 0)
        goto done;
    if (kill((pid_t)pid, sig) < 0) {
        fprintf(stderr, "kiln: -s %s: kill(%ld, %s) failed: %s%s\n", action, pid,
                strsignal(sig), strerror(errno),
                errno == ESRCH ? " (stale pidfile: kiln is not running)" : "");
        goto done;
    }
    rc = 0;

done:
    config_free(cfg);
    free(cfg);
    return rc;
}
