/*
 * ws_plugin.c -- bench/ws.sh's kiln side in its deflate mode: the echo
 * plugin's /echo (text m answered with "Hello, m", binary sent back as it
 * is) with permessage-deflate negotiated.  Built by the script; not part
 * of the make graph.
 */
#include <kiln.h>

static void message(kiln_ws *ws, int binary, const void *msg, size_t len, void *data)
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

    return kiln_add_websocket(app, "/echo", &echo, NULL);
}

KILN_PLUGIN("wsbench", init, NULL);
