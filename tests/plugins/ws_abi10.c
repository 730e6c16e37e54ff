/* Test plugin built the way a plugin compiled against kiln.h 1.0 is: its descriptor says ABI 1.0, and its struct kiln_ws_handlers ends after `deflate`, with other data of the plugin right behind it. */
#include <kiln.h>

/* struct kiln_ws_handlers as kiln.h 1.0 declared it. */
struct handlers_1_0 {
    int (*open)(kiln_ws *ws, kiln_req *req, void *data);
    void (*message)(kiln_ws *ws, int binary, const void *msg, size_t len, void *data);
    void (*close)(kiln_ws *ws, int code, const char *reason, void *data);
    const char *const *subprotocols;
    int deflate;
};

static void echo(kiln_ws *ws, int binary, const void *msg, size_t len, void *data)
{
    (void)data;
    kiln_ws_send(ws, binary, msg, len);
}

/* The 1.0 struct, and behind it, where 1.1's max_msg_size would be, a value
 * that would close every message above 4 bytes were kiln to read it. */
static const struct {
    struct handlers_1_0 h;
    size_t next;
} layout = { { .message = echo }, 4 };

static int init(kiln_app *app)
{
    _Static_assert(offsetof(struct kiln_ws_handlers, max_msg_size) ==
                   offsetof(__typeof__(layout), next),
                   "the 1.0 layout ends where max_msg_size begins");
    return kiln_add_websocket(app, "/abi10", (const struct kiln_ws_handlers *)&layout.h,
                              NULL);
}

KILN_EXPORT const struct kiln_plugin kiln_plugin = { 1, 0, "ws_abi10", init, NULL };
