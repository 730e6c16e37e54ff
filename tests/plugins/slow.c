/* Test plugin serving GET /slow?ms=N, which blocks its worker for N milliseconds (for drain tests). */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <kiln.h>

#define SLOW_MAX_MS 60000L

static int slow(kiln_req *req, void *data)
{
    const char *arg = kiln_query(req, "ms");
    long ms = 0;
    struct timespec ts;

    (void)data;
    if (arg != NULL && *arg != '\0') {
        char *end;
        ms = strtol(arg, &end, 10);
        if (*end != '\0' || ms < 0)
            return kiln_text(req, 400, "bad ms\n");
    }
    if (ms > SLOW_MAX_MS)
        ms = SLOW_MAX_MS;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    /* Blocking on purpose: the whole worker stalls while this runs. */
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
    return kiln_text(req, 200, "slow done");
}

static int init(kiln_app *app)
{
    return kiln_add_get(app, "/slow", slow, NULL) == 0 ? 0 : 1;
}

KILN_PLUGIN("slow", init, NULL);
