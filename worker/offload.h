/*
 * offload.h -- a worker's thread pool (offload.c): kiln_offload() runs jobs on
 * pool threads and their completions on the loop.
 */
#ifndef KILN_OFFLOAD_H
#define KILN_OFFLOAD_H

struct worker;

/* At worker start (no thread starts before the first job). */
void offload_init(struct worker *w);

/*
 * kiln's own work on the pool (pg.c's cancel requests, which block): as
 * kiln_offload(), but done runs with no plugin marked as running.  0, or -1
 * (thread_pool = 0, no memory, stopping): the caller does without.
 */
int offload_internal(void (*run)(void *arg), void (*done)(void *arg, int cancelled),
                     void *arg);

/*
 * At worker stop, after its connections are closed and before the stop
 * hooks: jobs not started are dropped (their done callbacks run with
 * cancelled = 1), the running ones are waited for (done with 0), and the
 * threads end.
 */
void offload_shutdown(void);

#endif
