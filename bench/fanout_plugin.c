/*
 * fanout_plugin.c -- the kiln side of bench/fanout.sh: every WebSocket of
 * /room subscribes to the channel "room", and each text message it sends
 * is published to "room" as it is, to every subscriber of every worker
 * (and, with [server] pubsub = redis://..., of every host); GET / answers
 * "Hello, Anonymous" (the bench's readiness check).
 * Built by bench/fanout.sh with `cc -shared -fPIC`; not part of the make graph.
 */
#include <kiln.h>

static int on_open(kiln_ws *ws, kiln_req *req, void *data)
{
    (void)req;
    (void)data;
    return kiln_subscribe(ws, "room") == 0 ? 0 : 500;
}

static void on_message(kiln_ws *ws, int binary, const void *msg, size_t len, void *data)
{
    (void)ws;
    (void)data;
    if (!binary)
        kiln_publish("room", 0, msg, len);
}

static int on_root(kiln_req *req, void *data)
{
    (void)data;
    return kiln_text(req, 200, "Hello, Anonymous");
}

static int init(kiln_app *app)
{
    static const struct kiln_ws_handlers room = {.open = on_open, .message = on_message};

    return kiln_add_websocket(app, "/room", &room, NULL)
        || kiln_add_get(app, "/", on_root, NULL);
}

KILN_PLUGIN("fanoutbench", init, NULL);
