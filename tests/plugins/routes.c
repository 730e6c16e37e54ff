/* routes.c -- test plugin of the router: typed captures, named routes and URL building, mounts (test_router.py). */
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

static int init(kiln_app *app)
{
    if (kiln_add_get(app, "/notes/{id:int}", note, NULL) != 0 ||
        kiln_add_get(app, "/int/{v}", as_int, NULL) != 0)
        return 1;
    return 0;
}

KILN_PLUGIN(ROUTES_NAME, init, NULL);
