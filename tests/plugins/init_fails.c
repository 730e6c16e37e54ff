/* Test plugin whose init hook fails, so the loader must refuse it. */
#include <kiln.h>

static int init(kiln_app *app)
{
    (void)app;
    kiln_log(KILN_LOG_ERROR, "refusing to initialize on purpose");
    return 1;
}

KILN_PLUGIN("init_fails", init, NULL);
