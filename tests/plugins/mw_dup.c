/* Test plugin: registers a middleware under the name "auth", which the middleware test plugin registers too. */
#include <kiln.h>

static int pass(kiln_req *req, void *data)
{
    (void)req;
    (void)data;
    return KILN_NEXT;
}

static int init(kiln_app *app)
{
    return kiln_add_middleware(app, "auth", pass, NULL, NULL) == 0 ? 0 : 0;
}

KILN_PLUGIN("mw_dup", init, NULL);
