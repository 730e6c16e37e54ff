/* Test plugin serving GET /block, whose handler never returns (for the worker_timeout heartbeat tests). */
#include <unistd.h>
#include <kiln.h>

static int block(kiln_req *req, void *data)
{
    (void)data;
    /* Blocking on purpose, forever: only the master's heartbeat check ends it. */
    for (;;)
        sleep(1);
    return kiln_text(req, 200, "unreachable\n");
}

static int init(kiln_app *app)
{
    return kiln_add_get(app, "/block", block, NULL) == 0 ? 0 : 1;
}

KILN_PLUGIN("block", init, NULL);
