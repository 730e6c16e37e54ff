/* pidfile.c -- the master's pidfile: write, move on reload, .oldbin during a binary upgrade, remove. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pidfile.h"

#define OLDBIN_SUFFIX ".oldbin"

/* Writes our pid to `path` through a temporary file renamed into place, so
 * that `kiln -s` never reads a half-written file.  0, or -1 with errno. */
static int write_pid(const char *path)
{
    char buf[32], *tmp;
    size_t len = strlen(path) + sizeof ".tmp";
    int fd, n, saved;

    tmp = malloc(len);
    if (tmp == NULL)
        return -1;
    snprintf(tmp, len, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        goto fail;
    n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (write(fd, buf, (size_t)n) != n || close(fd) < 0 || rename(tmp, path) < 0) {
        saved = errno;
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        errno = saved;
        goto fail;
    }
    free(tmp);
    return 0;

fail:
    free(tmp);
    return -1;
}

/* Whether `path` holds this process's pid (another master may have written
 * the same file since: it is then left alone). */
static int holds_our_pid(const char *path)
{
    char buf[32];
    FILE *fp = fopen(path, "re");
    int ours = 0;

    if (fp == NULL)
        return 0;
    if (fgets(buf, sizeof buf, fp) != NULL)
        ours = strtol(buf, NULL, 10) == (long)getpid();
    fclose(fp);
    return ours;
}

int pidfile_write(struct pidfile *pf, const char *path, char *err, size_t errlen)
{
    char *copy;

    if (path == NULL)
        return 0;
    copy = strdup(path);
    if (copy == NULL || write_pid(path) < 0) {
        snprintf(err, errlen, "writing pidfile %s failed: %s", path, strerror(errno));
        free(copy);
        return -1;
    }
    free(pf->path);
    pf->path = copy;
    return 0;
}

static int same_path(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

void pidfile_change(struct pidfile *pf, const char *path, int is_default)
{
    char err[512], *old = pf->path;

    if (same_path(path, pf->orig != NULL ? pf->orig : pf->path))
        return;
    if (pf->orig != NULL) {
        log_warn("pidfile: the config names %s, but a binary upgrade holds %s; "
                 "unchanged until the upgrade ends", path ? path : "none", pf->path);
        return;
    }
    if (path == NULL) {
        log_info("pidfile %s removed: the config names none", old);
        pidfile_remove(pf);
        return;
    }
    pf->path = NULL;
    if (pidfile_write(pf, path, err, sizeof err) < 0) {
        log_msg(is_default ? LOG_WARN : LOG_ERROR, "%s%s; keeping %s", err,
                is_default ? " (the default pidfile)" : "", old ? old : "none");
        pf->path = old;
        return;
    }
    if (old != NULL && holds_our_pid(old))
        unlink(old);
    log_info("pidfile %s written%s%s", path, old ? " instead of " : "", old ? old : "");
    free(old);
}

int pidfile_to_oldbin(struct pidfile *pf)
{
    size_t len;
    char *oldbin;

    if (pf->path == NULL)
        return 0;
    len = strlen(pf->path) + sizeof OLDBIN_SUFFIX;
    oldbin = malloc(len);
    if (oldbin == NULL) {
        log_error("binary upgrade: out of memory");
        return -1;
    }
    snprintf(oldbin, len, "%s%s", pf->path, OLDBIN_SUFFIX);
    if (rename(pf->path, oldbin) < 0) {
        log_error("binary upgrade: rename(%s, %s) failed: %s", pf->path, oldbin,
                  strerror(errno));
        free(oldbin);
        return -1;
    }
    pf->orig = pf->path;
    pf->path = oldbin;
    return 0;
}

void pidfile_restore(struct pidfile *pf)
{
    if (pf->orig == NULL)
        return;
    if (rename(pf->path, pf->orig) < 0)
        log_error("rename(%s, %s) failed: %s", pf->path, pf->orig, strerror(errno));
    else
        log_info("pidfile %s restored", pf->orig);
    free(pf->path);
    pf->path = pf->orig;
    pf->orig = NULL;
}

void pidfile_remove(struct pidfile *pf)
{
    if (pf->path != NULL && holds_our_pid(pf->path))
        unlink(pf->path);
    free(pf->path);
    free(pf->orig);
    pf->path = pf->orig = NULL;
}
