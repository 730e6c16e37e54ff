/*
 * pending.h -- requests answered later (pending.c): what http.c and conn.c
 * call when a handler defers its answer, when a connection that waits for
 * one ends, and what pending.c calls back when it may be completed.
 */
#ifndef KILN_PENDING_H
#define KILN_PENDING_H

#include "kiln.h"

struct conn;
struct worker;

/* At worker start, and after the plugins' fini hooks at its end. */
void pending_init(struct worker *w);
void pending_shutdown(void);

/* A new id for c's request (its handler runs), or 0 (no memory). */
kiln_id pending_new(struct conn *c, kiln_cancel_fn cancel, void *arg);

/* Kills an id without running its cancel callback: its handler answered
 * after all (it returned KILN_OK or KILN_ERROR, or resumed it inside). */
void pending_forget(kiln_id id);

/* c's request will never be answered by its handler: kills c->pending and
 * runs the cancel callback (with the plugin marked as running).  c stays
 * valid; the caller answers or closes it. */
void pending_cancel(struct conn *c, enum kiln_cancel why);

/* conn.c: completes c's pending request with `result` (KILN_OK: the
 * response the plugin built; else a 500), from the loop. */
void conn_resume(struct conn *c, int result);

#endif
