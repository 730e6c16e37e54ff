/*
 * scrape.h -- a worker's side of [server] metrics (core/metrics.h): its
 * slot's route names, the count after each answer, its gauges published,
 * and the answer at the metrics path (kiln's own, before any plugin).
 */
#ifndef KILN_SCRAPE_H
#define KILN_SCRAPE_H

struct conn;
struct worker;
struct worker_args;

/* At start, once the plugins are loaded: takes the worker's slot when
 * [server] metrics is on (w->mslot; else NULL) and names its routes. */
void scrape_start(struct worker *w, const struct worker_args *a);

/* Copies the worker's live gauges (connections, WebSockets, pending and
 * in-flight requests, PostgreSQL pool, Redis link) into its slot: on the
 * heartbeat tick and before a scrape. */
void scrape_publish(struct worker *w);

/* The response-sent hook's count for c's request (kiln's own, before the
 * plugins' hooks). */
void scrape_count(struct conn *c, int status, unsigned long long in,
                  unsigned long long out, double seconds);

/* Marks c's request as one for the metrics path (from its head). */
void scrape_mark(struct conn *c);

/* Answers c's request for the metrics path: 405 but for GET and HEAD, 403
 * for a peer metrics_allow leaves out, else the counters.  What
 * dispatch_out() returned. */
int scrape_answer(struct conn *c);

#endif
