/*
 * pending.h -- requests answered later (pending.c): what http.c and conn.c
 * call when a handler defers its answer and when a connection that waits
 * for one ends.  pending.c calls back up only through the completion
 * function it is given at start.
 */
#ifndef KILN_PENDING_H
#define KILN_PENDING_H

#include "kiln.h"

struct conn;
struct worker;

/* At worker start, with what completes a resumed request (conn_resume),
 * and after the plugins' fini hooks at its end. */
void pending_init(struct worker *w, void (*complete)(struct conn *c, int result));
void pending_shutdown(void);

/* A new id for c's request (its handler runs), or 0 (no memory). */
kiln_id pending_new(struct conn *c, kiln_cancel_fn cancel, void *arg);

/* The connection of a live pending id, or NULL (body.c's readers). */
struct conn *pending_conn(kiln_id id);

/* Kills an id without running its cancel callback: its handler answered
 * after all (it returned KILN_OK or KILN_ERROR, or resumed it inside). */
void pending_forget(kiln_id id);

/* c's request will never be answered by its handler: kills c->pending and
 * runs the cancel callback (with the plugin marked as running).  c stays
 * valid; the caller answers or closes it. */
void pending_cancel(struct conn *c, enum kiln_cancel why);

#endif
