/* pg.c -- the PostgreSQL client of a worker: pools of libpq connections on the loop (kiln_pg_*). */
#include <libpq-fe.h>

#include "db.h"
#include "kiln.h"

void pg_init(struct worker *w) { (void)w; }
void pg_shutdown(void) { }

KILN_EXPORT kiln_id kiln_pg_query(const char *sql, int nparams, const char *const *params,
                                  kiln_pg_fn cb, void *arg)
{ (void)sql; (void)nparams; (void)params; (void)cb; (void)arg; return 0; }
KILN_EXPORT int kiln_pg_cancel(kiln_id id) { (void)id; return -1; }
KILN_EXPORT const char *kiln_pg_error(const kiln_pg_result *r) { (void)r; return "unimplemented"; }
KILN_EXPORT const char *kiln_pg_sqlstate(const kiln_pg_result *r) { (void)r; return "XX000"; }
KILN_EXPORT int kiln_pg_rows(const kiln_pg_result *r) { (void)r; return 0; }
KILN_EXPORT int kiln_pg_cols(const kiln_pg_result *r) { (void)r; return 0; }
KILN_EXPORT long long kiln_pg_affected(const kiln_pg_result *r) { (void)r; return 0; }
KILN_EXPORT const char *kiln_pg_colname(const kiln_pg_result *r, int c) { (void)r; (void)c; return NULL; }
KILN_EXPORT int kiln_pg_colnum(const kiln_pg_result *r, const char *n) { (void)r; (void)n; return -1; }
KILN_EXPORT const char *kiln_pg_text(const kiln_pg_result *r, int row, int c) { (void)r; (void)row; (void)c; return NULL; }
KILN_EXPORT size_t kiln_pg_len(const kiln_pg_result *r, int row, int c) { (void)r; (void)row; (void)c; return 0; }
KILN_EXPORT int kiln_pg_isnull(const kiln_pg_result *r, int row, int c) { (void)r; (void)row; (void)c; return 1; }
KILN_EXPORT int kiln_pg_int(const kiln_pg_result *r, int row, int c, long long *o) { (void)r; (void)row; (void)c; (void)o; return -1; }
KILN_EXPORT int kiln_pg_double(const kiln_pg_result *r, int row, int c, double *o) { (void)r; (void)row; (void)c; (void)o; return -1; }
KILN_EXPORT int kiln_pg_bool(const kiln_pg_result *r, int row, int c, int *o) { (void)r; (void)row; (void)c; (void)o; return -1; }
