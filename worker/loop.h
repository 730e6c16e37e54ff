/*
 * loop.h -- a plugin's own work on the worker's loop (loop.c): timers,
 * readiness watchers on its own fds, and the loop itself, each callback run
 * with its plugin marked as running.
 */
#ifndef KILN_LOOP_H
#define KILN_LOOP_H

struct worker;

/* At worker start; loop_shutdown() frees the timers and watchers still
 * running, after the plugins' fini hooks. */
void loop_init(struct worker *w);
void loop_shutdown(void);

#endif
