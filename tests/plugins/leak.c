/* Test plugin whose init leaks a block on purpose, so that a sanitizer build must report it (kiln -t, a reload's plugin check). */
#include <stdlib.h>
#include <string.h>
#include <kiln.h>

static void *volatile lost;         /* overwritten: nothing points at the block */

static int leaked(kiln_req *req, void *data)
{
    (void)data;
    return kiln_text(req, 200, "leaked");
}

static __attribute__((noinline)) void leak_a_block(void)
{
    char *p = malloc(4096);

    if (p != NULL)
        memset(p, 'L', 4096);
    lost = p;
    lost = NULL;
}

static int init(kiln_app *app)
{
    leak_a_block();
    return kiln_add_get(app, "/leak", leaked, NULL) != 0;
}

KILN_PLUGIN("leak", init, NULL);
