/*
 * timer.h -- plugins' timers (timer.c): kiln_timer_* on the worker's loop,
 * each callback run with its plugin marked as running.
 */
#ifndef KILN_TIMER_H
#define KILN_TIMER_H

struct worker;

/* At worker start; timers_shutdown() frees the timers still running, after
 * the plugins' fini hooks. */
void timers_init(struct worker *w);
void timers_shutdown(void);

#endif
