/* redis.c -- the Redis client of a worker: one hiredis connection on the loop (kiln_redis_*). */
#include <hiredis/hiredis.h>

#include "db.h"
#include "kiln.h"

void redis_init(struct worker *w) { (void)w; }
void redis_shutdown(void) { }

KILN_EXPORT kiln_id kiln_redis_command(kiln_redis_fn cb, void *arg, int argc,
                                       const char *const *argv, const size_t *argvlen)
{ (void)cb; (void)arg; (void)argc; (void)argv; (void)argvlen; return 0; }
KILN_EXPORT kiln_id kiln_redis(kiln_redis_fn cb, void *arg, const char *arg0, ...)
{ (void)cb; (void)arg; (void)arg0; return 0; }
KILN_EXPORT int kiln_redis_cancel(kiln_id id) { (void)id; return -1; }
KILN_EXPORT enum kiln_redis_type kiln_redis_type(const kiln_redis_reply *r) { (void)r; return KILN_REDIS_ERROR; }
KILN_EXPORT const char *kiln_redis_str(const kiln_redis_reply *r, size_t *len) { (void)r; (void)len; return NULL; }
KILN_EXPORT long long kiln_redis_int(const kiln_redis_reply *r) { (void)r; return 0; }
KILN_EXPORT size_t kiln_redis_len(const kiln_redis_reply *r) { (void)r; return 0; }
KILN_EXPORT const kiln_redis_reply *kiln_redis_elem(const kiln_redis_reply *r, size_t i) { (void)r; (void)i; return NULL; }
