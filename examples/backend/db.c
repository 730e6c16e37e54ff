/*
 * db.c -- the notes example's way to the database (aiohttp's db.py with its
 * asyncpg pool): a call holds one request while its queries run on kiln's
 * PostgreSQL pool ([postgres] dsn, pool_size), and answers it.
 *
 * What aiohttp writes as
 *
 *     async def note(request):
 *         async with request.app["db"].acquire() as conn:
 *             row = await conn.fetchrow("SELECT ... WHERE id = $1", id)
 *         return web.json_response(dict(row))
 *
 * is here a view that sends the query with db_send() and names the function
 * that goes on with its result; that function answers with call_json() or
 * sends the next query.  The call lives on the request (kiln_req_set), so
 * whichever way the request ends, kiln frees it; the cancel callback (the
 * client left, pending_timeout, the worker stops) cancels the query in
 * flight, whose callback then never runs.
 */
#include <stdlib.h>
#include <string.h>
#include "backend.h"

#define CALL_KEY "backend.call"

static void call_free(void *p)
{
    struct call *c = p;

    json_decref(c->input);
    free(c);
}

static void call_cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    struct call *c = arg;

    (void)id;
    (void)why;
    kiln_pg_cancel(c->query);
    c->query = 0;
    c->req = 0;
}

/*
 * Defers req and gives its call, owned by the request; NULL (nothing
 * deferred, the handler returns KILN_ERROR) out of memory.
 */
struct call *call_begin(kiln_req *req)
{
    struct call *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    if (kiln_req_set(req, CALL_KEY, c, call_free) < 0) {
        free(c);
        return NULL;
    }
    c->req = kiln_defer(req, call_cancel, c);
    return c->req ? c : NULL;
}

/* The call's request, NULL once it was answered or cancelled. */
kiln_req *call_req(const struct call *c)
{
    return c->req ? kiln_pending(c->req) : NULL;
}

static void on_result(const kiln_pg_result *res, void *arg)
{
    struct call *c = arg;

    c->query = 0;
    c->next(c, res);
}

/*
 * Sends `sql` with its text parameters; `next` runs with the result.  0, or
 * -1 when kiln has no pool to send it on (no [postgres] dsn, the worker
 * stops): the call is then answered 503.
 */
int db_send(struct call *c, call_fn next, const char *sql, int n, const char *const *params)
{
    c->next = next;
    c->query = kiln_pg_query(sql, n, params, on_result, c);
    if (c->query)
        return 0;
    call_error(c, 503, "the database is not available", NULL);
    return -1;
}

/*
 * Whether res is an error; if so the call is answered: 503 while the
 * server cannot be reached (SQLSTATE class 08, 57P01), else 500, and the
 * error is logged.
 */
int db_failed(struct call *c, const kiln_pg_result *res)
{
    const char *state = kiln_pg_sqlstate(res);
    kiln_req *req = call_req(c);

    if (!kiln_pg_error(res))
        return 0;
    kiln_log(KILN_LOG_WARN, "%s: %s (SQLSTATE %s)", req ? kiln_path(req) : "?",
             kiln_pg_error(res), state);
    if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0)
        call_error(c, 503, "the database is not available", NULL);
    else
        call_error(c, 500, "database error", NULL);
    return 1;
}

static void finish(struct call *c, int rc)
{
    kiln_id id = c->req;

    c->req = 0;
    kiln_resume(id, rc);
}

/* A middleware's before is done with the call: on to the handler. */
void call_next(struct call *c)
{
    finish(c, KILN_NEXT);
}

/* Answers `status` with `body` (stolen, as kiln_json() steals it). */
void call_json(struct call *c, int status, json_t *body)
{
    kiln_req *req = call_req(c);

    if (!req) {
        json_decref(body);
        return;
    }
    finish(c, kiln_json(req, status, body));
}

/* Answers a JSON error (middlewares.c's shape); `fields` is stolen. */
void call_error(struct call *c, int status, const char *message, json_t *fields)
{
    kiln_req *req = call_req(c);

    if (!req) {
        json_decref(fields);
        return;
    }
    finish(c, mw_error(req, status, message, fields));
}

/* Answers `status` with no body (204). */
void call_empty(struct call *c, int status)
{
    kiln_req *req = call_req(c);

    if (!req)
        return;
    kiln_set_status(req, status);
    finish(c, KILN_OK);
}
