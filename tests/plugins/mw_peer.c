/*
 * Test plugin: uses a function another plugin exports -- /peer/double?n=N
 * answers with "middleware.double" (imported by the worker start hook)
 * applied to N, or 503 when nothing is exported under that name.
 */
#include <stdlib.h>
#include <kiln.h>

static int (*twice)(int);

static int dbl(kiln_req *req, void *data)
{
    const char *n = kiln_query(req, "n");

    (void)data;
    if (twice == NULL)
        return kiln_error(req, 503, "nothing exported\n");
    return kiln_text(req, 200, "%d\n", twice(n ? atoi(n) : 0));
}

static void on_start(kiln_app *app)
{
    (void)app;
    twice = (int (*)(int))kiln_import("middleware.double");
    kiln_log(KILN_LOG_INFO, "imported middleware.double: %s", twice ? "yes" : "no");
}

static int init(kiln_app *app)
{
    kiln_worker_hooks(app, on_start, NULL);
    kiln_add_get(app, "/peer/double", dbl, NULL);
    return 0;
}

KILN_PLUGIN("mw_peer", init, NULL);
