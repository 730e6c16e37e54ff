/* Test plugin: GET /auth/{room} is a WebSocket route whose open() refuses (403) without ?token=secret. */
#include <stdlib.h>
#include <string.h>
#include <kiln.h>

/* Accepts only ?token=secret; keeps the room name as the connection's data. */
static int open_cb(kiln_ws *ws, kiln_req *req, void *data)
{
    const char *token = kiln_query(req, "token");
    const char *room = kiln_match(req, "room");
    char *copy;

    (void)data;
    if (token == NULL || strcmp(token, "secret") != 0)
        return 403;
    if (strcmp(room, "teapot") == 0)
        return 418;
    copy = strdup(room);
    if (copy == NULL)
        return 500;
    kiln_ws_set_data(ws, copy);
    return kiln_ws_send_text(ws, "welcome to %s", room) == 0 ? 0 : 500;
}

static void message(kiln_ws *ws, int binary, const void *msg, size_t len,
                    void *data)
{
    (void)binary;
    (void)data;
    kiln_ws_send_text(ws, "%s@%s: %.*s", (const char *)kiln_ws_data(ws),
                      kiln_ws_path(ws), (int)len, (const char *)msg);
}

static void close_cb(kiln_ws *ws, int code, const char *reason, void *data)
{
    (void)data;
    kiln_log(KILN_LOG_INFO, "auth closed %d \"%s\"", code, reason);
    free(kiln_ws_data(ws));
}

static int init(kiln_app *app)
{
    static const struct kiln_ws_handlers h = {
        .open = open_cb, .message = message, .close = close_cb};

    return kiln_add_websocket(app, "/auth/{room}", &h, NULL);
}

KILN_PLUGIN("ws_auth", init, NULL);
