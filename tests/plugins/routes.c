/* routes.c -- test plugin of the router: typed captures, named routes and URL building, mounts (test_router.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kiln.h>

#ifndef ROUTES_NAME
#define ROUTES_NAME "routes"
#endif

/* "note N", N read back as a number. */
static int note(kiln_req *req, void *data)
{
    (void)data;
    return kiln_text(req, 200, "note %lld", kiln_match_int(req, "id", -1));
}

/* What kiln_match_int makes of a plain capture: the number, or -1. */
static int as_int(kiln_req *req, void *data)
{
    (void)data;
    return kiln_text(req, 200, "%lld", kiln_match_int(req, "v", -1));
}

/* The matched route's pattern and name. */
static int whoami(kiln_req *req, void *data)
{
    const char *name = kiln_route_name_of(req);

    (void)data;
    return kiln_text(req, 200, "%s %s", kiln_route_pattern(req), name ? name : "-");
}

/* kiln_url_for(the {name} captured, the query's pairs): 200 and the path,
 * or 500 "NULL". */
static int url(kiln_req *req, void *data)
{
    const char *k[3] = { NULL, NULL, NULL }, *v[3] = { NULL, NULL, NULL };
    const char *name = kiln_match(req, "name");
    size_t n = kiln_query_count(req);
    char *u = NULL;

    (void)data;
    for (size_t i = 0; i < n && i < 3; i++)
        kiln_query_at(req, i, &k[i], &v[i]);
    if (strcmp(name, "-") == 0)
        name = NULL;
    if (n == 0)
        u = kiln_url_for(req, name, NULL);
    else if (n == 1)
        u = kiln_url_for(req, name, k[0], v[0], NULL);
    else if (n == 2)
        u = kiln_url_for(req, name, k[0], v[0], k[1], v[1], NULL);
    else
        u = kiln_url_for(req, name, k[0], v[0], k[1], v[1], k[2], v[2], NULL);
    return kiln_text(req, u ? 200 : 500, "%s", u ? u : "NULL");
}

/* Adds a route and names it (name NULL: none).  0 or -1. */
static int add(kiln_app *app, const char *method, const char *pattern, kiln_handler h,
               const char *name)
{
    if (kiln_add_route(app, method, pattern, h, NULL) != 0)
        return -1;
    return name ? kiln_route_name(app, name) : 0;
}

/* The routes of the [NAME] key "add": "METHOD PATTERN [NAME]" items
 * separated by ',', each answered by whoami.  0 or -1. */
static int add_configured(kiln_app *app)
{
    const char *spec = kiln_config(app, "add", NULL);
    char buf[1024], *item, *save = NULL, m[16], p[256], name[64];
    int k;

    if (spec == NULL)
        return 0;
    snprintf(buf, sizeof buf, "%s", spec);
    for (item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        k = sscanf(item, "%15s %255s %63s", m, p, name);
        if (k < 2 || add(app, m, p, whoami, k == 3 ? name : NULL) != 0)
            return -1;
    }
    return 0;
}

static int init(kiln_app *app)
{
    const char *builtin = kiln_config(app, "builtin", "yes");

    if (strcmp(builtin, "yes") == 0 &&
        (add(app, "GET", "/notes/{id:int}", note, "note") != 0 ||
         add(app, "GET", "/notes/{id:int}/files/{path:*}", whoami, "note_file") != 0 ||
         add(app, "GET", "/users/{name}", whoami, "user") != 0 ||
         add(app, "GET", "/about/", whoami, "about") != 0 ||
         add(app, "GET", "/plain", whoami, NULL) != 0 ||
         add(app, "GET", "/int/{v}", as_int, NULL) != 0 ||
         add(app, "GET", "/url/{name}", url, NULL) != 0 ||
         add(app, "POST", "/small", whoami, NULL) != 0 ||
         kiln_route_max_body(app, "POST", "/small", 4) != 0))
        return 1;
    return add_configured(app) != 0;
}

KILN_PLUGIN(ROUTES_NAME, init, NULL);
