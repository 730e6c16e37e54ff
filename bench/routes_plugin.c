/* routes_plugin.c -- bench plugin "routesbench": [routesbench] count routes of a realistic mix (static segments, captures, ints, tails), one of them the route bench/routes.sh requests. */
#include <stdio.h>
#include <stdlib.h>
#include <kiln.h>

/* The measured route's answer. */
static int target(kiln_req *req, void *data)
{
    (void)data;
    return kiln_text(req, 200, "post %lld %s", kiln_match_int(req, "id", -1),
                     kiln_match(req, "slug"));
}

static int other(kiln_req *req, void *data)
{
    (void)data;
    return kiln_text(req, 200, "other");
}

/* The i-th route of the mix: resources under /api/v1 and /api/v2, pages,
 * assets, and now and then a route with a capture at the top. */
static int add_one(kiln_app *app, int i)
{
    static const char *const methods[] = { "GET", "GET", "POST", "PUT", "DELETE" };
    char p[128];

    switch (i % 6) {
    case 0: snprintf(p, sizeof p, "/api/v%d/res%d", 1 + i % 2, i); break;
    case 1: snprintf(p, sizeof p, "/api/v%d/res%d/{id:int}", 1 + i % 2, i); break;
    case 2: snprintf(p, sizeof p, "/api/v%d/res%d/{id:int}/items/{slug}", 1 + i % 2, i); break;
    case 3: snprintf(p, sizeof p, "/pages/p%d/{name}", i); break;
    case 4: snprintf(p, sizeof p, "/assets%d/{path:*}", i); break;
    default:
        if (i % 60 == 5)
            snprintf(p, sizeof p, "/{lang}/help%d", i);
        else
            snprintf(p, sizeof p, "/api/v1/res%d/{id:[0-9a-f]+}/meta", i);
    }
    return kiln_add_route(app, methods[i % 5], p, other, NULL);
}

static int init(kiln_app *app)
{
    int count = atoi(kiln_config(app, "count", "500"));

    for (int i = 0; i < count - 1; i++) {
        if (i == (count - 1) / 2 &&
            kiln_add_get(app, "/api/v1/users/{id:int}/posts/{slug}", target, NULL) != 0)
            return 1;
        if (add_one(app, i) != 0)
            return 1;
    }
    if (count <= 1)
        return kiln_add_get(app, "/api/v1/users/{id:int}/posts/{slug}", target, NULL) != 0;
    return 0;
}

KILN_PLUGIN("routesbench", init, NULL);
