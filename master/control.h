/*
 * control.h -- `kiln -s ACTION`: sends the signal for ACTION to the master
 * whose pid is in the configured pidfile (nginx's -s).
 */
#ifndef KILN_CONTROL_H
#define KILN_CONTROL_H

struct master_options;

/* The signal ACTION (reload, stop, quit, reopen) stands for, or 0. */
int control_signal(const char *action);

/*
 * Reads the config of `o` for its pidfile, and signals the pid it holds.
 * Errors (no pidfile key, no file, a stale pid) go to stderr.  Returns the
 * exit code: 0 when the signal was sent, 1 otherwise.
 */
int control_send(const struct master_options *o, const char *action);

#endif
