/*
 * log.h -- the process-wide log: one line per message, to a file or stderr.
 *
 * Line format (nginx style):
 *     2026/11/25 13:50:00 [error] 1234#master: bind(127.0.0.1:80) failed: ...
 * The ident ("master", "worker") is set once per process.  Safe to call from
 * any ordinary context; never from a signal handler.
 */
#ifndef KILN_LOG_H
#define KILN_LOG_H

#include "kiln.h"   /* enum kiln_log_level: the same levels everywhere */

#define LOG_ERROR KILN_LOG_ERROR
#define LOG_WARN  KILN_LOG_WARN
#define LOG_INFO  KILN_LOG_INFO
#define LOG_DEBUG KILN_LOG_DEBUG

/* Opens `path` for append (NULL or "" or "stderr": standard error).
 * Returns 0, or -1 with errno set (the previous destination is kept). */
int log_open(const char *path);
/* Re-opens the current file (SIGUSR1, logrotate).  0 or -1. */
int log_reopen(void);
/* Makes `fd`, a file already opened for appending (handed over by the
 * master on a reopen), the destination, at the current descriptor number.
 * Takes fd (closed in every case).  0, or -1 with errno set. */
int log_adopt_fd(int fd);
/* The file the log goes to, or NULL for stderr. */
const char *log_path(void);
void log_set_level(int level);
int log_get_level(void);
void log_set_ident(const char *ident);
/* The file descriptor log lines go to (for handing to children). */
int log_fd(void);

void log_msg(int level, const char *fmt, ...) KILN_PRINTF(2, 3);
void log_vmsg(int level, const char *prefix, const char *fmt, va_list ap);

/* Parses "error|warn|info|debug"; -1 when unknown. */
int log_level_parse(const char *s);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) \
    do { if (log_get_level() >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
