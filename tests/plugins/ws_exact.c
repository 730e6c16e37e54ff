/*
 * Test plugin: the echo an RFC 6455 conformance client expects -- /exact
 * sends every message back unchanged (text as text, binary as binary), and
 * /exact-deflate does the same with permessage-deflate negotiated; both take
 * messages up to 16 MiB.
 */
#include <kiln.h>

#define EXACT_MAX_MSG ((size_t)16 << 20)

static void message(kiln_ws *ws, int binary, const void *msg, size_t len,
                    void *data)
{
    (void)data;
    kiln_ws_send(ws, binary, msg, len);
}

static int init(kiln_app *app)
{
    static const struct kiln_ws_handlers plain = {
        .message = message, .max_msg_size = EXACT_MAX_MSG};
    static const struct kiln_ws_handlers deflate = {
        .message = message, .deflate = 1, .max_msg_size = EXACT_MAX_MSG};

    if (kiln_add_websocket(app, "/exact", &plain, NULL) != 0)
        return -1;
    return kiln_add_websocket(app, "/exact-deflate", &deflate, NULL);
}

KILN_PLUGIN("ws_exact", init, NULL);
