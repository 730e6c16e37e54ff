/*
 * db.c -- TechEmpower's database tests on kiln's PostgreSQL pool: GET /db
 * answers one random row of world(id, randomnumber) as
 * {"id":N,"randomNumber":M}, GET /queries?n=N a JSON array of N of them,
 * read one after the other (n clamped to 1..500; missing or not a number:
 * 1).  The database is [postgres] dsn's; without one, both answer 503.
 *
 * What a Python developer writes for them with aiohttp and asyncpg:
 *
 *     async def db(request):
 *         row = await pool.fetchrow(WORLD, random.randint(1, 10000))
 *         return web.json_response({"id": row[0], "randomNumber": row[1]})
 *
 *     async def queries(request):
 *         n = clamp(request.query.get("n"))
 *         rows = []
 *         async with pool.acquire() as conn:
 *             for _ in range(n):
 *                 row = await conn.fetchrow(WORLD, random.randint(1, 10000))
 *                 rows.append({"id": row[0], "randomNumber": row[1]})
 *         return web.json_response(rows)
 *
 * Here a handler defers its request and sends a query; the query's callback
 * writes the row and sends the next query, or answers.  If the request is
 * cancelled first (the client left, pending_timeout, the worker stops), its
 * cancel callback cancels the query: kiln_pg_cancel() means the query's
 * callback will not run, so the cancel callback frees what they share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <kiln.h>

#define WORLD "SELECT id, randomnumber FROM world WHERE id = $1"
#define WORLD_ROWS 10000
#define QUERIES_MAX 500

#define ROW_MAX 40                  /* {"id":10000,"randomNumber":10000}, */

/* One request in progress: its id, its query's, how far it got, and the
 * JSON so far (written to the response once complete, so that an error
 * answers a plain 500). */
struct fetch {
    kiln_id req;
    kiln_id query;
    int n, done;                    /* rows wanted (0: /db, one object), read */
    size_t len;
    char json[];                    /* (n or 1) * ROW_MAX + 2 bytes */
};

static unsigned rng;

/* Each worker's own sequence: seeded from getrandom(), as pid ^ time is not
 * (two workers whose first requests come a second apart can get the same
 * seed, and then the same "random" rows). */
static int random_id(void)
{
    while (!rng)
        if (getrandom(&rng, sizeof(rng), GRND_NONBLOCK) != (ssize_t)sizeof(rng))
            rng = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return 1 + (int)(rng % WORLD_ROWS);
}

static void on_row(const kiln_pg_result *res, void *arg);

/* Sends the query for the next random row; 0, or -1 (no [postgres] dsn). */
static int fetch_next(struct fetch *f)
{
    char id[16];
    const char *params[1] = {id};

    snprintf(id, sizeof(id), "%d", random_id());
    f->query = kiln_pg_query(WORLD, 1, params, on_row, f);
    return f->query ? 0 : -1;
}

/* Answers 500 naming the SQLSTATE, and logs the error. */
static void fail(struct fetch *f, kiln_req *req, const kiln_pg_result *res)
{
    kiln_log(KILN_LOG_WARN, "%s: %s (SQLSTATE %s)", kiln_path(req), kiln_pg_error(res),
             kiln_pg_sqlstate(res));
    kiln_text(req, 500, "database error (SQLSTATE %s)\n", kiln_pg_sqlstate(res));
    kiln_resume(f->req, KILN_OK);
    free(f);
}

/* Adds the row of res to f->json; 0, or -1 when it is not one. */
static int add_row(struct fetch *f, const kiln_pg_result *res)
{
    long long id, number;
    int len;

    if (kiln_pg_rows(res) != 1 || kiln_pg_int(res, 0, 0, &id) < 0 ||
        kiln_pg_int(res, 0, 1, &number) < 0)
        return -1;
    len = snprintf(f->json + f->len, ROW_MAX + 1, "%s{\"id\":%lld,\"randomNumber\":%lld}",
                   f->done > 0 ? "," : "", id, number);
    if (len < 0 || len > ROW_MAX)
        return -1;
    f->len += (size_t)len;
    return 0;
}

/* Sends f's JSON (an object, or an array of them) and frees f. */
static void answer(struct fetch *f, kiln_req *req)
{
    kiln_set_status(req, 200);
    kiln_set_content_type(req, "application/json");
    if (f->n > 0)
        kiln_write(req, "[", 1);
    kiln_write(req, f->json, f->len);
    if (f->n > 0)
        kiln_write(req, "]", 1);
    kiln_resume(f->req, KILN_OK);
    free(f);
}

static void on_row(const kiln_pg_result *res, void *arg)
{
    struct fetch *f = arg;
    kiln_req *req = kiln_pending(f->req);

    f->query = 0;
    if (kiln_pg_error(res)) {
        fail(f, req, res);
        return;
    }
    if (add_row(f, res) < 0) {
        kiln_log(KILN_LOG_ERROR, "%s: not a row of world(id, randomnumber)", kiln_path(req));
        kiln_resume(f->req, KILN_ERROR);
        free(f);
        return;
    }
    if (++f->done >= f->n) {
        answer(f, req);
    } else if (fetch_next(f) < 0) {
        kiln_text(req, 503, "the database is gone\n");      /* the worker stops */
        kiln_resume(f->req, KILN_OK);
        free(f);
    }
}

static void cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    struct fetch *f = arg;

    (void)id;
    (void)why;
    kiln_pg_cancel(f->query);
    free(f);
}

/* Defers req and reads n rows (0: /db's one object). */
static int start(kiln_req *req, int n)
{
    struct fetch *f = calloc(1, sizeof(*f) + (size_t)(n > 0 ? n : 1) * ROW_MAX + 2);

    if (!f)
        return KILN_ERROR;
    f->n = n;
    f->req = kiln_defer(req, cancel, f);
    if (!f->req) {
        free(f);
        return KILN_ERROR;
    }
    if (fetch_next(f) < 0) {
        free(f);                    /* answered now: the deferral is dropped */
        return kiln_text(req, 503, "no [postgres] dsn configured\n");
    }
    return KILN_PENDING;
}

static int db(kiln_req *req, void *data)
{
    (void)data;
    return start(req, 0);
}

/* TechEmpower's rule: not a number or below 1 is 1, above 500 is 500. */
static int clamp_queries(const char *v)
{
    char *end;
    long n;

    if (!v)
        return 1;
    n = strtol(v, &end, 10);
    if (end == v || *end != '\0' || n < 1)
        return 1;
    return n > QUERIES_MAX ? QUERIES_MAX : (int)n;
}

static int queries(kiln_req *req, void *data)
{
    (void)data;
    return start(req, clamp_queries(kiln_query(req, "n")));
}

static int init(kiln_app *app)
{
    if (kiln_add_get(app, "/db", db, NULL) < 0 || kiln_add_get(app, "/queries", queries, NULL) < 0)
        return -1;
    return 0;
}

KILN_PLUGIN("db", init, NULL);
