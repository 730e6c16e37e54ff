/*
 * wsdeflate_plugin.c -- bench/ws.sh's deflate mode: /echo-deflate answers
 * like the echo plugin's /echo, with permessage-deflate negotiated when the
 * client offers it.  Built by bench/ws.sh with cc; not part of the make graph.
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
    static const struct kiln_ws_handlers echo = {.message = message, .deflate = 1};

    return kiln_add_websocket(app, "/echo-deflate", &echo, NULL);
}

KILN_PLUGIN("wsdeflate", init, NULL);
