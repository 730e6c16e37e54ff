/* Test plugin named "hello" that answers "Hi, <name>", used to replace hello.so in reload tests. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <kiln.h>

static int hi(kiln_req *req, void *data)
{
    const char *name = kiln_match(req, "name");

    (void)data;
    return kiln_text(req, 200, "Hi, %s", name ? name : "Anonymous");
}

/* Sleeps for [hello] init_delay_ms (default 0), so that a test can act while
 * a reload's plugin check is running. */
static void init_delay(kiln_app *app)
{
    long ms = strtol(kiln_config(app, "init_delay_ms", "0"), NULL, 10);
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    if (ms <= 0)
        return;
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static int init(kiln_app *app)
{
    init_delay(app);
    if (kiln_add_get(app, "/", hi, NULL) != 0)
        return 1;
    if (kiln_add_get(app, "/{name}", hi, NULL) != 0)
        return 1;
    return 0;
}

KILN_PLUGIN("hello", init, NULL);
