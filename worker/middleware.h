/*
 * middleware.h -- middlewares on the request path and the response-sent
 * hook (middleware.c), as dispatch.c, http.c, stream.c and conn.c call them.
 * The registry itself is core/registry.c's.
 */
#ifndef KILN_MIDDLEWARE_H
#define KILN_MIDDLEWARE_H

#include <stddef.h>

struct conn;
struct plugin;

/* Read-only outside middleware.c: whether any middleware runs, whether any
 * response-sent hook is registered or [server] metrics counts answers
 * (one predictable branch each on the request path; both 0 until
 * mw_start()). */
extern int mw_active;
extern int mw_sent_active;

/* At worker start, once the plugins are loaded (`count`: kiln's own
 * count of each answer, scrape.c, runs first in the response-sent hook);
 * at its end, before they are unloaded. */
void mw_start(int count);
void mw_stop(void);

/*
 * Runs the befores of c's request from c->req.mw.upto on, each as its
 * plugin's: KILN_NEXT when every one went on, KILN_OK when one answered,
 * KILN_PENDING when one deferred (c->pending set, c->req.mw.before_pending),
 * KILN_ERROR for a 500 (the reason logged).
 */
int mw_befores(struct conn *c);

/* The plugin of the before that deferred c's answer (its cancel callback
 * runs as that plugin's). */
struct plugin *mw_pending_plugin(const struct conn *c);

/*
 * Before c's response is serialized: with `status` non-zero, kiln's own
 * answer (its text body, `extra` header lines) is put in c->req first;
 * then the afters run, once per response.  0, or -1 out of memory.
 */
int mw_afters(struct conn *c, int status, const char *extra);

/* The response-sent hooks for c's response: `bytes` of it (`body` of them
 * the body) handed to the connection, `complete` 0 when it ended before.
 * Once per response. */
void mw_sent(struct conn *c, unsigned long long bytes, unsigned long long body,
             int complete);

/* mw_sent() of a buffered answer: what c->out gained from `from` on;
 * `serialized` when response_serialize() wrote it (it kept its body's size). */
void mw_sent_queued(struct conn *c, size_t from, int serialized);

#endif
