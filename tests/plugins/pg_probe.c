/*
 * Test plugin: the PostgreSQL client, one rule per route.  /row/{id} reads
 * a row of world; /pg-sleep?s=S runs pg_sleep(S) (/pg-sleep-short too, with a
 * pending_timeout of 0.5 s), and its cancel callback logs what
 * kiln_pg_cancel() returned; /run/{name} runs one statement of a fixed
 * list (a unique violation, a syntax error, BEGIN, COPY, a NOTICE...) and
 * tells its outcome; /types reads values of every kind with every getter, NULLs and
 * out-of-range cells included; /params sends NULL and text parameters;
 * /backends?app=A counts the backends of application_name A (kiln by
 * default); /prepared lists the statements prepared on the connection that
 * runs it (pg_prepared_statements, per session); /burst?n=N sends N
 * queries at once and counts their outcomes, and whether a callback ran
 * inside kiln_pg_query() (with distinct=1, each its own text); /cancel-rules
 * checks kiln_pg_cancel()'s return values (on a pool of one); /orphan sends a long query tied to no request, whose callback
 * logs the error a stopping worker gives it.  init and the stop hook log
 * the id kiln_pg_query() gives outside a running pool (0), the start hook
 * sends a query and logs its answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kiln.h>

/* ---- a pending request waiting for one query ------------------------------------ */

struct wait {
    kiln_id req, query;
    const char *what;               /* for the cancel's log line */
};

static const char *why_name(enum kiln_cancel why)
{
    return why == KILN_CANCEL_GONE ? "gone" : why == KILN_CANCEL_DEADLINE ? "deadline" : "stop";
}

static void wait_cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    struct wait *w = arg;

    (void)id;
    kiln_log(KILN_LOG_INFO, "%s cancelled (%s): kiln_pg_cancel %d", w->what, why_name(why),
             kiln_pg_cancel(w->query));
    free(w);
}

/* Defers req and sends sql; the callback gets the struct wait.  KILN_PENDING,
 * or an answer (503 without a pool). */
static int send_for(kiln_req *req, const char *what, const char *sql, int n,
                    const char *const *params, kiln_pg_fn cb)
{
    struct wait *w = calloc(1, sizeof(*w));

    if (!w)
        return KILN_ERROR;
    w->what = what;
    w->req = kiln_defer(req, wait_cancel, w);
    w->query = w->req ? kiln_pg_query(sql, n, params, cb, w) : 0;
    if (!w->query) {
        free(w);
        return kiln_text(req, 503, "no query\n");
    }
    return KILN_PENDING;
}

/* The request w waits for, and w freed: for the end of a callback. */
static kiln_req *done_with(struct wait *w, kiln_id *id)
{
    *id = w->req;
    free(w);
    return kiln_pending(*id);
}

/* Answers "error SQLSTATE message" (200, so that tests read it) when res is
 * an error; 1 if it answered. */
static int answered_error(kiln_req *req, kiln_id id, const kiln_pg_result *res)
{
    if (!kiln_pg_error(res))
        return 0;
    kiln_text(req, 200, "error %s %s\n", kiln_pg_sqlstate(res), kiln_pg_error(res));
    kiln_resume(id, KILN_OK);
    return 1;
}

/* ---- /row, /pg-sleep, /run ----------------------------------------------------------- */

static void on_row(const kiln_pg_result *res, void *arg)
{
    kiln_id id;
    kiln_req *req = done_with(arg, &id);

    if (answered_error(req, id, res))
        return;
    if (kiln_pg_rows(res) == 0)
        kiln_text(req, 404, "no row\n");
    else
        kiln_text(req, 200, "id=%s randomnumber=%s\n", kiln_pg_text(res, 0, 0),
                  kiln_pg_text(res, 0, kiln_pg_colnum(res, "randomnumber")));
    kiln_resume(id, KILN_OK);
}

static int row(kiln_req *req, void *data)
{
    const char *params[1] = {kiln_match(req, "id")};

    (void)data;
    return send_for(req, "row", "SELECT id, randomnumber FROM world WHERE id = $1", 1, params,
                    on_row);
}

static void on_slept(const kiln_pg_result *res, void *arg)
{
    kiln_id id;
    kiln_req *req = done_with(arg, &id);

    if (answered_error(req, id, res))
        return;
    kiln_text(req, 200, "slept\n");
    kiln_resume(id, KILN_OK);
}

static int sleep_handler(kiln_req *req, void *data)
{
    const char *params[1] = {kiln_query(req, "s")};

    (void)data;
    if (!params[0])
        params[0] = "1";
    return send_for(req, "sleep", "SELECT pg_sleep($1)", 1, params, on_slept);
}

static const struct { const char *name, *sql; } statements[] = {
    {"unique", "INSERT INTO world (id, randomnumber) VALUES (1, 1)"},
    {"syntax", "SELEC 1"},
    {"missing", "SELECT * FROM no_such_table"},
    {"divzero", "SELECT 1 / (id - id) FROM world WHERE id = 1"},
    {"multi", "SELECT 1; SELECT 2"},
    {"begin", "BEGIN"},
    {"copy", "COPY world TO STDOUT"},
    {"affected", "UPDATE world SET randomnumber = randomnumber WHERE id <= 3"},
    {"select3", "SELECT id FROM world WHERE id <= 3 ORDER BY id"},
    {"empty", ""},
    {"notice", "DO $$BEGIN RAISE NOTICE 'a notice for the log'; END$$"},
};

static void on_run(const kiln_pg_result *res, void *arg)
{
    kiln_id id;
    kiln_req *req = done_with(arg, &id);

    if (answered_error(req, id, res))
        return;
    kiln_text(req, 200, "ok %s rows=%d cols=%d affected=%lld\n", kiln_pg_sqlstate(res),
              kiln_pg_rows(res), kiln_pg_cols(res), kiln_pg_affected(res));
    kiln_resume(id, KILN_OK);
}

static int run(kiln_req *req, void *data)
{
    const char *name = kiln_match(req, "name");
    size_t i;

    (void)data;
    for (i = 0; i < sizeof(statements) / sizeof(statements[0]); i++) {
        if (strcmp(statements[i].name, name) == 0)
            return send_for(req, "run", statements[i].sql, 0, NULL, on_run);
    }
    return kiln_text(req, 404, "no statement %s\n", name);
}

/* ---- values ------------------------------------------------------------------------- */

#define TYPES "SELECT 42::int8 AS i, -7::int4 AS neg, 9223372036854775807::int8 AS max, " \
    "'99999999999999999999'::numeric AS huge, 1.5::float8 AS half, 'NaN'::float8 AS nan, " \
    "'-Infinity'::float8 AS ninf, '1e-310'::float8 AS tiny, true AS yes, false AS no, " \
    "NULL::int AS nothing, 'abc'::text AS abc, ''::text AS blank, 1 AS \"CamelCase\""

static void print_cell(kiln_req *req, const kiln_pg_result *res, int col)
{
    const char *t = kiln_pg_text(res, 0, col);
    long long i = 0;
    double d = 0;
    int b = 0, ri = kiln_pg_int(res, 0, col, &i), rd = kiln_pg_double(res, 0, col, &d),
        rb = kiln_pg_bool(res, 0, col, &b);

    kiln_printf(req, "%s text=%s len=%zu null=%d int=%d:%lld double=%d:%.17g bool=%d:%d\n",
                kiln_pg_colname(res, col), t ? t : "(null)", kiln_pg_len(res, 0, col),
                kiln_pg_isnull(res, 0, col), ri, i, rd, d, rb, b);
}

static void on_types(const kiln_pg_result *res, void *arg)
{
    kiln_id id;
    kiln_req *req = done_with(arg, &id);
    long long dummy;
    int col;

    if (answered_error(req, id, res))
        return;
    kiln_set_status(req, 200);
    kiln_printf(req, "rows=%d cols=%d error=%s sqlstate=%s\n", kiln_pg_rows(res),
                kiln_pg_cols(res), kiln_pg_error(res) ? "yes" : "none", kiln_pg_sqlstate(res));
    for (col = 0; col < kiln_pg_cols(res); col++)
        print_cell(req, res, col);
    kiln_printf(req, "outside: text=%s text=%s text=%s null=%d int=%d colname=%s\n",
                kiln_pg_text(res, 1, 0) ? "set" : "NULL",
                kiln_pg_text(res, 0, kiln_pg_cols(res)) ? "set" : "NULL",
                kiln_pg_text(res, -1, 0) ? "set" : "NULL", kiln_pg_isnull(res, 0, 99),
                kiln_pg_int(res, 5, 0, &dummy), kiln_pg_colname(res, 99) ? "set" : "NULL");
    kiln_printf(req, "colnum: abc=%d CamelCase=%d camelcase=%d nope=%d\n",
                kiln_pg_colnum(res, "abc"), kiln_pg_colnum(res, "CamelCase"),
                kiln_pg_colnum(res, "camelcase"), kiln_pg_colnum(res, "nope"));
    kiln_resume(id, KILN_OK);
}

static int types(kiln_req *req, void *data)
{
    (void)data;
    return send_for(req, "types", TYPES, 0, NULL, on_types);
}

static void on_params(const kiln_pg_result *res, void *arg)
{
    kiln_id id;
    kiln_req *req = done_with(arg, &id);

    if (answered_error(req, id, res))
        return;
    kiln_text(req, 200, "null=%s text=%s sum=%s\n", kiln_pg_text(res, 0, 0),
              kiln_pg_text(res, 0, 1), kiln_pg_text(res, 0, 2));
    kiln_resume(id, KILN_OK);
}

static int params_handler(kiln_req *req, void *data)
{
    const char *v = kiln_query(req, "v");
    const char *params[3] = {NULL, v ? v : "", "41"};

    (void)data;
    return send_for(req, "params", "SELECT $1::text IS NULL, $2::text, $3::int + 1", 3, params,
                    on_params);
}

static void on_count(const kiln_pg_result *res, void *arg)
{
    kiln_id id;
    kiln_req *req = done_with(arg, &id);

    if (answered_error(req, id, res))
        return;
    kiln_text(req, 200, "backends %s\n", kiln_pg_text(res, 0, 0));
    kiln_resume(id, KILN_OK);
}

static int backends(kiln_req *req, void *data)
{
    const char *app = kiln_query(req, "app");
    const char *params[1] = {app ? app : "kiln"};

    (void)data;
    return send_for(req, "backends",
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", 1,
                    params, on_count);
}

static void on_prepared(const kiln_pg_result *res, void *arg)
{
    kiln_id id;
    kiln_req *req = done_with(arg, &id);
    int i;

    if (answered_error(req, id, res))
        return;
    kiln_set_status(req, 200);
    for (i = 0; i < kiln_pg_rows(res); i++)
        kiln_printf(req, "%s|%s|%s\n", kiln_pg_text(res, i, 0), kiln_pg_text(res, i, 1),
                    kiln_pg_text(res, i, 2));
    kiln_resume(id, KILN_OK);
}

static int prepared(kiln_req *req, void *data)
{
    (void)data;
    return send_for(req, "prepared",
                    "SELECT name, generic_plans + custom_plans, statement "
                    "FROM pg_prepared_statements ORDER BY name", 0, NULL, on_prepared);
}

/* ---- many at once, cancel's rules, a query of no request ----------------------------- */

struct burst {
    kiln_id req;
    int left, ok, full, other, inside;
    char other_state[6];
};

static int in_query;                /* inside kiln_pg_query() */

static void on_burst(const kiln_pg_result *res, void *arg)
{
    struct burst *b = arg;
    kiln_req *req;

    b->inside += in_query;
    if (!kiln_pg_error(res))
        b->ok++;
    else if (strcmp(kiln_pg_sqlstate(res), "53000") == 0)
        b->full++;
    else if (++b->other)
        snprintf(b->other_state, sizeof(b->other_state), "%s", kiln_pg_sqlstate(res));
    if (--b->left > 0)
        return;
    req = kiln_pending(b->req);
    if (req) {
        kiln_text(req, 200, "ok=%d 53000=%d other=%d(%s) inside=%d\n", b->ok, b->full, b->other,
                  b->other_state, b->inside);
        kiln_resume(b->req, KILN_OK);
    }
    free(b);
}

static int burst(kiln_req *req, void *data)
{
    const char *v = kiln_query(req, "n");
    struct burst *b = calloc(1, sizeof(*b));
    int i, n = v ? atoi(v) : 10, distinct = kiln_query(req, "distinct") != NULL;
    char sql[32] = "SELECT 1";

    (void)data;
    if (!b || n < 1) {
        free(b);
        return kiln_text(req, 400, "n must be a positive number\n");
    }
    b->req = kiln_defer(req, NULL, NULL);   /* answered by the last callback */
    for (i = 0; i < n; i++) {
        if (distinct)
            snprintf(sql, sizeof(sql), "SELECT %d AS n", i);
        in_query = 1;
        b->left += kiln_pg_query(sql, 0, NULL, on_burst, b) != 0;
        in_query = 0;
    }
    if (b->left == 0) {
        free(b);
        return kiln_text(req, 503, "no query\n");
    }
    return KILN_PENDING;
}

struct rules {
    kiln_id req, running, queued, last;
    int ran, c_running, c_queued, again, zero, self;
};

static void on_cancelled(const kiln_pg_result *res, void *arg)
{
    (void)res;
    ((struct rules *)arg)->ran++;
}

static void rules_answer(kiln_timer *t, void *arg)
{
    struct rules *r = arg;
    kiln_req *req = kiln_pending(r->req);

    (void)t;
    kiln_text(req, 200, "running=%d queued=%d again=%d zero=%d self=%d ran=%d\n", r->c_running,
              r->c_queued, r->again, r->zero, r->self, r->ran);
    kiln_resume(r->req, KILN_OK);
    free(r);
}

static void on_last(const kiln_pg_result *res, void *arg)
{
    struct rules *r = arg;

    (void)res;
    r->self = kiln_pg_cancel(r->last);      /* dead from the callback's first line */
    kiln_timer_start(0.4, 0, rules_answer, r);
}

/* On a pool of one: a query running and one queued behind it, both
 * cancelled; then one more, answered once the connection is clean. */
static int cancel_rules(kiln_req *req, void *data)
{
    struct rules *r = calloc(1, sizeof(*r));

    (void)data;
    if (!r)
        return KILN_ERROR;
    r->req = kiln_defer(req, NULL, NULL);
    r->running = kiln_pg_query("SELECT pg_sleep(0.3)", 0, NULL, on_cancelled, r);
    r->queued = kiln_pg_query("SELECT 11", 0, NULL, on_cancelled, r);
    r->c_running = kiln_pg_cancel(r->running);
    r->c_queued = kiln_pg_cancel(r->queued);
    r->again = kiln_pg_cancel(r->running);
    r->zero = kiln_pg_cancel(0);
    r->last = kiln_pg_query("SELECT 2", 0, NULL, on_last, r);
    if (!r->running || !r->queued || !r->last) {
        free(r);
        return kiln_text(req, 503, "no query\n");
    }
    return KILN_PENDING;
}

static void on_orphan(const kiln_pg_result *res, void *arg)
{
    (void)arg;
    kiln_log(KILN_LOG_INFO, "orphan: %s %s", kiln_pg_sqlstate(res),
             kiln_pg_error(res) ? kiln_pg_error(res) : "done");
}

static int orphan(kiln_req *req, void *data)
{
    const char *v = kiln_query(req, "s");
    const char *params[1] = {v ? v : "30"};

    (void)data;
    if (!kiln_pg_query("SELECT pg_sleep($1)", 1, params, on_orphan, NULL))
        return kiln_text(req, 503, "no query\n");
    return kiln_text(req, 200, "sent\n");
}

/* ---- hooks ------------------------------------------------------------------------------ */

static void on_start_query(const kiln_pg_result *res, void *arg)
{
    (void)arg;
    kiln_log(KILN_LOG_INFO, "start query: %s %s", kiln_pg_error(res) ? "error" : "ok",
             kiln_pg_error(res) ? kiln_pg_sqlstate(res) : kiln_pg_text(res, 0, 0));
}

static void start(kiln_app *app)
{
    (void)app;
    kiln_pg_query("SELECT 'started'", 0, NULL, on_start_query, NULL);
}

static void stop(kiln_app *app)
{
    (void)app;
    kiln_log(KILN_LOG_INFO, "stop: query id %llu",
             kiln_pg_query("SELECT 1", 0, NULL, on_start_query, NULL));
}

static int init(kiln_app *app)
{
    kiln_log(KILN_LOG_INFO, "init: query id %llu",
             kiln_pg_query("SELECT 1", 0, NULL, on_start_query, NULL));
    if (kiln_add_get(app, "/row/{id}", row, NULL) < 0 ||
        kiln_add_get(app, "/pg-sleep", sleep_handler, NULL) < 0 ||
        kiln_add_get(app, "/pg-sleep-short", sleep_handler, NULL) < 0 ||
        kiln_route_pending_timeout(app, "GET", "/pg-sleep-short", 0.5) < 0 ||
        kiln_add_get(app, "/run/{name}", run, NULL) < 0 ||
        kiln_add_get(app, "/types", types, NULL) < 0 ||
        kiln_add_get(app, "/params", params_handler, NULL) < 0 ||
        kiln_add_get(app, "/backends", backends, NULL) < 0 ||
        kiln_add_get(app, "/prepared", prepared, NULL) < 0 ||
        kiln_add_get(app, "/burst", burst, NULL) < 0 ||
        kiln_add_get(app, "/cancel-rules", cancel_rules, NULL) < 0 ||
        kiln_add_get(app, "/orphan", orphan, NULL) < 0)
        return -1;
    return kiln_worker_hooks(app, start, stop);
}

KILN_PLUGIN("pg_probe", init, NULL);
