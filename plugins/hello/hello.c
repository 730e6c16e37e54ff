/*
 * hello.c -- the smallest kiln plugin: greets the name in the path.
 */
#include <kiln.h>

/* GET / and GET /{name}: "Hello, NAME" ({name} arrives percent-decoded). */
static int hello(kiln_req *req, void *data)
{
    const char *name = kiln_match(req, "name");

    (void)data;
    return kiln_text(req, 200, "Hello, %s", name ? name : "Anonymous");
}

static int init(kiln_app *app)
{
    if (kiln_add_get(app, "/", hello, NULL) != 0)
        return -1;
    return kiln_add_get(app, "/{name}", hello, NULL);
}

KILN_PLUGIN("hello", init, NULL);
