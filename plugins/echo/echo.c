/*
 * echo.c -- the WebSocket hello: GET /echo answers a text message m with
 * "Hello, m" and sends binary messages back unchanged.
 */
#include <kiln.h>

static void message(kiln_ws *ws, int binary, const void *msg, size_t len,
                    void *data)
{
    (void)data;
    if (binary)
        kiln_ws_send_binary(ws, msg, len);
    else
        kiln_ws_send_text(ws, "Hello, %.*s", (int)len, (const char *)msg);
}

static int init(kiln_app *app)
{
    static const struct kiln_ws_handlers echo = {.message = message};

    return kiln_add_websocket(app, "/echo", &echo, NULL);
}

KILN_PLUGIN("echo", init, NULL);
