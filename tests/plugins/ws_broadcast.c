/* Test plugin: every text message sent to /room goes to all of the worker's /room connections, prefixed with the sender's worker pid. */
#include <stdio.h>
#include <unistd.h>
#include <kiln.h>

static void message(kiln_ws *ws, int binary, const void *msg, size_t len,
                    void *data)
{
    char out[512];
    int n;

    (void)data;
    if (binary)
        return;
    n = snprintf(out, sizeof(out), "%ld: %.*s", (long)getpid(), (int)len,
                 (const char *)msg);
    if (n < 0 || (size_t)n >= sizeof(out))
        return;
    n = kiln_ws_broadcast(ws, 0, out, (size_t)n);
    kiln_log(KILN_LOG_INFO, "broadcast to %d", n);
}

/* Tells the client which worker holds it, so a test can group connections. */
static int open_cb(kiln_ws *ws, kiln_req *req, void *data)
{
    (void)req;
    (void)data;
    return kiln_ws_send_text(ws, "pid %ld", (long)getpid()) == 0 ? 0 : 500;
}

static int init(kiln_app *app)
{
    static const struct kiln_ws_handlers h = {.open = open_cb, .message = message};

    return kiln_add_websocket(app, "/room", &h, NULL);
}

KILN_PLUGIN("ws_broadcast", init, NULL);
