/* Test plugin: /sub speaks subprotocols chat.v2 and chat.v1 and answers with the negotiated one; /deflate echoes with permessage-deflate; /small echoes messages of at most 16 bytes (ABI 1.1). */
#include <kiln.h>

static void which(kiln_ws *ws, int binary, const void *msg, size_t len,
                  void *data)
{
    const char *p = kiln_ws_subprotocol(ws);

    (void)binary;
    (void)msg;
    (void)len;
    (void)data;
    kiln_ws_send_text(ws, "%s", p ? p : "(none)");
}

static void echo(kiln_ws *ws, int binary, const void *msg, size_t len,
                 void *data)
{
    (void)data;
    kiln_ws_send(ws, binary, msg, len);
}

static int init(kiln_app *app)
{
    static const char *const protos[] = {"chat.v2", "chat.v1", NULL};
    static const struct kiln_ws_handlers sub = {
        .message = which, .subprotocols = protos};
    static const struct kiln_ws_handlers deflate = {
        .message = echo, .deflate = 1};
    static const struct kiln_ws_handlers small = {
        .message = echo, .max_msg_size = 16};

    if (kiln_add_websocket(app, "/sub", &sub, NULL) != 0 ||
        kiln_add_websocket(app, "/small", &small, NULL) != 0)
        return -1;
    return kiln_add_websocket(app, "/deflate", &deflate, NULL);
}

KILN_PLUGIN("ws_sub", init, NULL);
