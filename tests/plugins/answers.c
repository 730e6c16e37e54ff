/*
 * Test plugin: answers in one call, cookies and JSON (test_responses.py) --
 * /err/{status}[?msg=M] writes a body and a header, then answers
 * kiln_error() (with M, or the reason phrase); /redirect/{status}?to=L
 * answers kiln_redirect() (any method); /method echoes the method and the
 * body's length (where redirects land); /cookie/set?name=N&value=V&...
 * sets one cookie from the query (max_age, expires, path, domain, secure,
 * httponly, samesite; "none" for no opts at all) and answers "rc R";
 * /cookies sets three; /cookie/delete?name=N[&path=P][&domain=D] deletes
 * one; /json/echo answers {"got": body}; /json/sum adds "a" and "b";
 * /json/twice checks that a second kiln_json_body() gives the same value;
 * /json/null passes kiln_json() NULL; /json/later?ms=N parses, then
 * answers from a timer with the value kept by the request.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <kiln.h>

static int status_of(kiln_req *req)
{
    const char *s = kiln_match(req, "status");

    return s ? atoi(s) : 0;
}

static int err(kiln_req *req, void *data)
{
    const char *msg = kiln_query(req, "msg");

    (void)data;
    kiln_add_header(req, "X-Kept", "yes");
    kiln_printf(req, "written before the error\n");
    if (msg != NULL)
        return kiln_error(req, status_of(req), "%s\n", msg);
    return kiln_error(req, status_of(req), NULL);
}

static int redirect(kiln_req *req, void *data)
{
    (void)data;
    kiln_printf(req, "written before the redirect\n");
    return kiln_redirect(req, status_of(req), kiln_query(req, "to"));
}

static int method(kiln_req *req, void *data)
{
    size_t len;

    (void)data;
    kiln_body(req, &len);
    return kiln_text(req, 200, "%s %zu\n", kiln_method(req), len);
}

static long long query_ll(kiln_req *req, const char *name)
{
    const char *v = kiln_query(req, name);

    return v ? atoll(v) : 0;
}

static int cookie_set(kiln_req *req, void *data)
{
    struct kiln_cookie_opts o = {0};
    const char *v;
    int rc;

    (void)data;
    o.max_age = query_ll(req, "max_age");
    o.expires = query_ll(req, "expires");
    o.path = kiln_query(req, "path");
    o.domain = kiln_query(req, "domain");
    o.same_site = kiln_query(req, "samesite");
    o.secure = kiln_query(req, "secure") != NULL;
    o.http_only = kiln_query(req, "httponly") != NULL;
    v = kiln_query(req, "value");
    rc = kiln_set_cookie(req, kiln_query(req, "name"), v ? v : "",
                         kiln_query(req, "none") ? NULL : &o);
    return kiln_text(req, 200, "rc %d\n", rc);
}

static int cookies(kiln_req *req, void *data)
{
    struct kiln_cookie_opts o = {0};

    (void)data;
    o.path = "/";
    o.http_only = 1;
    o.max_age = 600;
    if (kiln_set_cookie(req, "session", "s1", NULL) != 0
        || kiln_set_cookie(req, "user", "alice", &o) != 0
        || kiln_set_cookie(req, "theme", "\"dark\"", &o) != 0)
        return KILN_ERROR;
    return kiln_text(req, 200, "three\n");
}

static int cookie_delete(kiln_req *req, void *data)
{
    int rc;

    (void)data;
    rc = kiln_delete_cookie(req, kiln_query(req, "name"), kiln_query(req, "path"),
                            kiln_query(req, "domain"));
    return kiln_text(req, 200, "rc %d\n", rc);
}

static int on_json_echo(kiln_req *req, void *data)
{
    json_t *j = kiln_json_body(req);

    (void)data;
    if (j == NULL)
        return KILN_OK;
    return kiln_json(req, 200, json_pack("{s:O}", "got", j));
}

static int on_json_sum(kiln_req *req, void *data)
{
    json_t *in = kiln_json_body(req);

    (void)data;
    if (in == NULL)
        return KILN_OK;
    return kiln_json(req, 200, json_pack("{s:I}", "sum",
                     json_integer_value(json_object_get(in, "a"))
                     + json_integer_value(json_object_get(in, "b"))));
}

static int on_json_twice(kiln_req *req, void *data)
{
    json_t *a = kiln_json_body(req), *b = kiln_json_body(req);

    (void)data;
    if (a == NULL)
        return KILN_OK;
    return kiln_json(req, 200, json_pack("{s:b}", "same", a == b));
}

static int on_json_null(kiln_req *req, void *data)
{
    (void)data;
    return kiln_json(req, 200, NULL);
}

struct later {
    kiln_id id;
    kiln_timer *timer;
};

static void later_wake(kiln_timer *t, void *arg)
{
    struct later *l = arg;
    kiln_req *req = kiln_pending(l->id);

    (void)t;
    if (req != NULL)
        kiln_resume(l->id, kiln_json(req, 200, json_pack("{s:O}", "later",
                                                        kiln_json_body(req))));
    free(l);
}

static void later_cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    struct later *l = arg;

    (void)id;
    kiln_log(KILN_LOG_INFO, "json later cancelled (%d)", (int)why);
    kiln_timer_stop(l->timer);
    free(l);
}

static int on_json_later(kiln_req *req, void *data)
{
    struct later *l;

    (void)data;
    if (kiln_json_body(req) == NULL)
        return KILN_OK;
    l = calloc(1, sizeof(*l));
    if (l == NULL || (l->id = kiln_defer(req, later_cancel, l)) == 0) {
        free(l);
        return KILN_ERROR;
    }
    l->timer = kiln_timer_start((double)query_ll(req, "ms") / 1000.0, 0, later_wake, l);
    return l->timer ? KILN_PENDING : KILN_ERROR;
}

static int init(kiln_app *app)
{
    return kiln_add_route(app, "*", "/err/{status}", err, NULL)
        || kiln_add_route(app, "*", "/redirect/{status}", redirect, NULL)
        || kiln_add_route(app, "*", "/method", method, NULL)
        || kiln_add_get(app, "/cookie/set", cookie_set, NULL)
        || kiln_add_get(app, "/cookies", cookies, NULL)
        || kiln_add_get(app, "/cookie/delete", cookie_delete, NULL)
        || kiln_add_post(app, "/json/echo", on_json_echo, NULL)
        || kiln_add_post(app, "/json/sum", on_json_sum, NULL)
        || kiln_add_post(app, "/json/twice", on_json_twice, NULL)
        || kiln_add_get(app, "/json/null", on_json_null, NULL)
        || kiln_add_post(app, "/json/later", on_json_later, NULL);
}

KILN_PLUGIN("answers", init, NULL);
