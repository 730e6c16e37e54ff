/* log.c -- the process-wide log: timestamped lines, one write(2) each, to a file or stderr. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE    /* dup3 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* The longest line written; longer messages are cut and end with "...". */
#define LOG_LINE_MAX 4096

static struct {
    int fd;             /* where lines go */
    char *path;         /* the file, or NULL for stderr */
    int level;          /* messages above it are dropped */
    char ident[32];     /* "master", "worker" */
} lg = { STDERR_FILENO, NULL, LOG_INFO, "master" };

static const char *const level_names[] = { "error", "warn", "info", "debug" };

static int is_stderr_path(const char *path)
{
    return path == NULL || path[0] == '\0' || strcmp(path, "stderr") == 0;
}

/* Opens `path` for appending; the fd, or -1 with errno set. */
static int open_append(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

/*
 * Makes `path` the destination.  A file gets its own descriptor (kept at the
 * same number across log_reopen); stderr means fd 2.  On failure the previous
 * destination stays and errno tells why.
 */
int log_open(const char *path)
{
    char *copy = NULL;
    int fd, saved;

    tzset();
    if (is_stderr_path(path)) {
        fd = STDERR_FILENO;
    } else {
        copy = strdup(path);
        if (copy == NULL)
            return -1;
        fd = open_append(path);
        if (fd < 0)
            goto fail;
    }
    if (lg.fd != STDERR_FILENO && lg.fd != fd)
        close(lg.fd);
    free(lg.path);
    lg.fd = fd;
    lg.path = copy;
    return 0;

fail:
    saved = errno;
    free(copy);
    errno = saved;
    return -1;
}

/* Re-opens the current file onto the same descriptor number.  0 or -1. */
int log_reopen(void)
{
    int fd, saved;

    if (lg.path == NULL)
        return 0;
    fd = open_append(lg.path);
    if (fd < 0)
        return -1;
    if (dup3(fd, lg.fd, O_CLOEXEC) < 0)
        goto fail;
    close(fd);
    return 0;

fail:
    saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

int log_adopt_fd(int fd)
{
    int rc = 0, saved;

    if (lg.path != NULL && fd != lg.fd)
        rc = dup3(fd, lg.fd, O_CLOEXEC);
    saved = errno;
    close(fd);
    errno = saved;
    return rc < 0 ? -1 : 0;
}

const char *log_path(void)
{
    return lg.path;
}

void log_set_level(int level)
{
    if (level >= LOG_ERROR && level <= LOG_DEBUG)
        lg.level = level;
}

int log_get_level(void)
{
    return lg.level;
}

void log_set_ident(const char *ident)
{
    snprintf(lg.ident, sizeof lg.ident, "%s", ident ? ident : "");
}

int log_fd(void)
{
    return lg.fd;
}

int log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (s != NULL && strcasecmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

/* Writes "2026/11/25 13:50:00 [error] 1234#master: " into buf; its length. */
static size_t format_head(char *buf, size_t size, int level)
{
    struct tm tm;
    time_t now = time(NULL);
    int n;

    localtime_r(&now, &tm);
    n = snprintf(buf, size, "%04d/%02d/%02d %02d:%02d:%02d [%s] %ld#%s: ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, level_names[level], (long)getpid(),
                 lg.ident);
    return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

/* Writes the whole line, retrying on EINTR and short writes. */
static void write_line(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(lg.fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

/*
 * Formats one line (prefix may be NULL) and writes it with a single write(2)
 * so that lines of several processes sharing the file do not interleave.
 * Keeps errno unchanged.
 */
void log_vmsg(int level, const char *prefix, const char *fmt, va_list ap)
{
    char buf[LOG_LINE_MAX];
    size_t len, room;
    int saved = errno, n;

    if (level < LOG_ERROR)
        level = LOG_ERROR;
    if (level > LOG_DEBUG || level > lg.level)
        return;
    len = format_head(buf, sizeof buf, level);
    if (prefix != NULL) {
        n = snprintf(buf + len, sizeof buf - len, "%s", prefix);
        len += n < 0 ? 0 : (size_t)n >= sizeof buf - len ? sizeof buf - len - 1 : (size_t)n;
    }
    room = sizeof buf - len - 1;            /* keep one byte for '\n' */
    errno = saved;                          /* for %m */
    n = vsnprintf(buf + len, room + 1, fmt, ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > room) {
        len += room;
        memcpy(buf + len - 3, "...", 3);
    } else {
        len += (size_t)n;
    }
    buf[len++] = '\n';
    write_line(buf, len);
    errno = saved;
}

void log_msg(int level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(level, NULL, fmt, ap);
    va_end(ap);
}
