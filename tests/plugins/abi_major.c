/* Test plugin whose descriptor claims the next ABI major version, so the loader must refuse it. */
#include <kiln.h>

static int init(kiln_app *app)
{
    (void)app;
    return 0;
}

/* Written by hand instead of with KILN_PLUGIN() to get a wrong abi_major. */
KILN_EXPORT const struct kiln_plugin kiln_plugin = {
    KILN_ABI_MAJOR + 1, KILN_ABI_MINOR, "abi_major", init, NULL
};
