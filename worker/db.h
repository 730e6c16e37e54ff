/*
 * db.h -- the database clients a worker runs on its loop: PostgreSQL pools
 * (pg.c, kiln_pg_*) and a Redis connection (redis.c, kiln_redis_*), each
 * built in only when configure found its library.
 */
#ifndef KILN_DB_H
#define KILN_DB_H

#include <stddef.h>

struct worker;

/*
 * pg_init(): at worker start, after the plugins are loaded and before their
 * start hooks; connects the pool of [postgres] (nothing without a dsn).
 * pg_shutdown(): at worker stop, once the connections are closed and the
 * thread pool is gone, before the stop hooks: every query left gets its
 * callback with an error (SQLSTATE 57P01), the connections close, and
 * kiln_pg_query() returns 0 from then on.  The same for Redis.
 */
/*
 * For [server] metrics: pg_stats() gives the pool's connections, those
 * running a query and the queries waiting for one (all 0 without a pool);
 * redis_up() is 1 when the link is ready, 0 when not, -1 without [redis].
 */
#ifdef KILN_WITH_POSTGRES
void pg_init(struct worker *w);
void pg_shutdown(void);
void pg_stats(size_t *size, size_t *in_use, size_t *waiting);
#else
static inline void pg_init(struct worker *w) { (void)w; }
static inline void pg_shutdown(void) { }
static inline void pg_stats(size_t *size, size_t *in_use, size_t *waiting)
{
    *size = *in_use = *waiting = 0;
}
#endif

#ifdef KILN_WITH_REDIS
void redis_init(struct worker *w);
void redis_shutdown(void);
int redis_up(void);
#else
static inline void redis_init(struct worker *w) { (void)w; }
static inline void redis_shutdown(void) { }
static inline int redis_up(void) { return -1; }
#endif

#endif
