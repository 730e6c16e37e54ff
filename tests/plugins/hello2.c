/* Test plugin named "hello" that answers "Hi, <name>", used to replace hello.so in reload tests. */
#include <kiln.h>

static int hi(kiln_req *req, void *data)
{
    const char *name = kiln_match(req, "name");

    (void)data;
    return kiln_text(req, 200, "Hi, %s", name ? name : "Anonymous");
}

static int init(kiln_app *app)
{
    if (kiln_add_get(app, "/", hi, NULL) != 0)
        return 1;
    if (kiln_add_get(app, "/{name}", hi, NULL) != 0)
        return 1;
    return 0;
}

KILN_PLUGIN("hello", init, NULL);
