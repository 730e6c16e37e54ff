/* Test plugin whose routes expose what the kiln API hands to a handler, so tests can check it over HTTP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kiln.h>

/* kiln_config value copied at init; freed by fini. */
static char *greeting;

static void put_query(kiln_req *req, const char *name)
{
    const char *v = kiln_query(req, name);

    if (v == NULL)
        kiln_printf(req, "%s absent\n", name);
    else
        kiln_printf(req, "%s=[%s]\n", name, v);
}

/* GET /inspect/query: how kiln_query() decoded a and b. */
static int query(kiln_req *req, void *data)
{
    (void)data;
    kiln_set_status(req, 200);
    kiln_set_content_type(req, "text/plain; charset=utf-8");
    put_query(req, "a");
    put_query(req, "b");
    return KILN_OK;
}

/* POST /inspect/body: echoes the body and its length. */
static int body(kiln_req *req, void *data)
{
    size_t len = 0;
    const void *p = kiln_body(req, &len);
    char n[32];

    (void)data;
    snprintf(n, sizeof n, "%zu", len);
    kiln_add_header(req, "X-Body-Length", n);
    return kiln_bytes(req, 200, p, len);
}

/* GET /inspect/header: the x-test request header, looked up in lower case. */
static int header(kiln_req *req, void *data)
{
    const char *v = kiln_header(req, "x-test");

    (void)data;
    if (v == NULL)
        return kiln_text(req, 200, "no x-test");
    return kiln_text(req, 200, "%s", v);
}

/* GET /inspect/headers: every request header in arrival order. */
static int headers(kiln_req *req, void *data)
{
    size_t i, n = kiln_header_count(req);

    (void)data;
    kiln_set_status(req, 200);
    kiln_set_content_type(req, "text/plain; charset=utf-8");
    for (i = 0; i < n; i++) {
        const char *name, *value;
        if (kiln_header_at(req, i, &name, &value) == 0)
            kiln_printf(req, "%s: %s\n", name, value);
    }
    return KILN_OK;
}

static int item_id(kiln_req *req, void *data)
{
    (void)data;
    return kiln_text(req, 200, "item %s", kiln_match(req, "id"));
}

static int item_name(kiln_req *req, void *data)
{
    (void)data;
    return kiln_text(req, 200, "name %s", kiln_match(req, "name"));
}

/* GET /inspect/files/{path:*}: the rest of the path, bracketed. */
static int files(kiln_req *req, void *data)
{
    (void)data;
    return kiln_text(req, 200, "files [%s]", kiln_match(req, "path"));
}

/* GET /inspect/mime/{path:*}: kiln_mime_type() of the path. */
static int mime(kiln_req *req, void *data)
{
    (void)data;
    return kiln_text(req, 200, "%s", kiln_mime_type(kiln_match(req, "path"), "(none)"));
}

/* GET /inspect/config: this plugin's "greeting" config value. */
static int config(kiln_req *req, void *data)
{
    (void)data;
    return kiln_text(req, 200, "%s", greeting);
}

/* POST /inspect/status/{code}: answers with that status and X-Custom. */
static int status(kiln_req *req, void *data)
{
    int code = atoi(kiln_match(req, "code"));

    (void)data;
    if (kiln_set_status(req, code) != 0)
        return KILN_ERROR;
    kiln_add_header(req, "X-Custom", "yes");
    kiln_printf(req, "status %d", code);
    return KILN_OK;
}

static int method_put(kiln_req *req, void *data)
{
    (void)data;
    return kiln_text(req, 200, "put");
}

/* Any method on /inspect/any: which one it was. */
static int any(kiln_req *req, void *data)
{
    (void)data;
    return kiln_text(req, 200, "%s", kiln_method(req));
}

/* GET /inspect/request/...: the request line as the accessors see it. */
static int request(kiln_req *req, void *data)
{
    (void)data;
    return kiln_text(req, 200, "method=%s\npath=%s\ntarget=%s\nquery=%s\n",
                     kiln_method(req), kiln_path(req), kiln_target(req),
                     kiln_query_string(req));
}

/* GET /inspect/empty: sets nothing, so kiln answers 204. */
static int empty(kiln_req *req, void *data)
{
    (void)req;
    (void)data;
    return KILN_OK;
}

/* GET /inspect/fail: fails, so kiln answers 500. */
static int fail(kiln_req *req, void *data)
{
    (void)req;
    (void)data;
    return KILN_ERROR;
}

static int init(kiln_app *app)
{
    const char *g = kiln_config(app, "greeting", "none");

    greeting = strdup(g ? g : "(null)");
    if (greeting == NULL)
        return 1;
    if (kiln_add_get(app, "/inspect/query", query, NULL) != 0 ||
        kiln_add_post(app, "/inspect/body", body, NULL) != 0 ||
        kiln_add_get(app, "/inspect/header", header, NULL) != 0 ||
        kiln_add_get(app, "/inspect/headers", headers, NULL) != 0 ||
        kiln_add_get(app, "/inspect/items/{id:[0-9]+}", item_id, NULL) != 0 ||
        kiln_add_get(app, "/inspect/items/{name}", item_name, NULL) != 0 ||
        kiln_add_get(app, "/inspect/files/{path:*}", files, NULL) != 0 ||
        kiln_add_get(app, "/inspect/mime/{path:*}", mime, NULL) != 0 ||
        kiln_add_get(app, "/inspect/config", config, NULL) != 0 ||
        kiln_add_post(app, "/inspect/status/{code:[0-9]+}", status, NULL) != 0 ||
        kiln_add_put(app, "/inspect/method", method_put, NULL) != 0 ||
        kiln_add_route(app, "*", "/inspect/any", any, NULL) != 0 ||
        kiln_add_get(app, "/inspect/request/{rest}", request, NULL) != 0 ||
        kiln_add_get(app, "/inspect/empty", empty, NULL) != 0 ||
        kiln_add_get(app, "/inspect/fail", fail, NULL) != 0)
        return 1;
    kiln_log(KILN_LOG_DEBUG, "inspect: greeting is \"%s\"", greeting);
    return 0;
}

static void fini(kiln_app *app)
{
    (void)app;
    free(greeting);
    greeting = NULL;
}

KILN_PLUGIN("inspect", init, fini);
