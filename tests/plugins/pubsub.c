/* Test plugin: publish/subscribe -- WebSocket rooms (/ps/{room}), SSE subscribers (/sse/{room}), publishes over HTTP (/publish) answering 200 or 400 with kiln_publish()'s verdict. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <kiln.h>

/* Subscribes to the room (twice: the second is a no-op) and says which
 * worker holds the connection. */
static int room_open(kiln_ws *ws, kiln_req *req, void *data)
{
    const char *room = kiln_match(req, "room");

    (void)data;
    if (kiln_subscribe(ws, room) != 0 || kiln_subscribe(ws, room) != 0)
        return 500;
    return kiln_ws_send_text(ws, "pid %ld", (long)getpid()) == 0 ? 0 : 500;
}

/* "!unsub": unsubscribes (answers "unsub 0", then "unsub -1" a second
 * time); anything else is published on the room as it came. */
static void room_message(kiln_ws *ws, int binary, const void *msg, size_t len, void *data)
{
    const char *room = kiln_ws_path(ws) + strlen("/ps/");

    (void)data;
    if (!binary && len == 6 && memcmp(msg, "!unsub", 6) == 0) {
        int rc = kiln_unsubscribe(ws, room);
        kiln_ws_send_text(ws, "unsub %d", rc);
        return;
    }
    if (kiln_publish(room, binary, msg, len) != 0)
        kiln_ws_send_text(ws, "publish refused");
}

/* /bc: what a client sends goes to the route's every connection. */
static void bc_message(kiln_ws *ws, int binary, const void *msg, size_t len, void *data)
{
    (void)data;
    kiln_ws_broadcast(ws, binary, msg, len);
}

static int bc_open(kiln_ws *ws, kiln_req *req, void *data)
{
    (void)req;
    (void)data;
    return kiln_ws_send_text(ws, "pid %ld", (long)getpid()) == 0 ? 0 : 500;
}

static int sse(kiln_req *req, void *data)
{
    kiln_id id;

    (void)data;
    id = kiln_sse(req, NULL, NULL);
    if (id == 0)
        return KILN_ERROR;
    if (kiln_sse_subscribe(id, kiln_match(req, "room")) != 0) {
        kiln_stream_end(id);
        return KILN_PENDING;
    }
    kiln_sse_comment(id, "subscribed");
    return KILN_PENDING;
}

/* /publish?channel=C&text=T, or &size=N (N bytes of 'x'), &binary=1. */
static int publish(kiln_req *req, void *data)
{
    const char *ch = kiln_query(req, "channel"), *text = kiln_query(req, "text");
    const char *size = kiln_query(req, "size"), *bin = kiln_query(req, "binary");
    size_t n = size ? strtoul(size, NULL, 10) : 0;
    char *buf;
    int rc;

    (void)data;
    if (text != NULL && bin == NULL)
        rc = kiln_publish_text(ch, "%s", text);
    else {
        if ((buf = malloc(n + 1)) == NULL)
            return kiln_text(req, 500, "oom\n");
        memset(buf, 'x', n);
        rc = kiln_publish(ch, bin != NULL, text ? text : buf, text ? strlen(text) : n);
        free(buf);
    }
    return kiln_text(req, rc == 0 ? 200 : 400, "%d\n", rc);
}

static int init(kiln_app *app)
{
    static const struct kiln_ws_handlers room = {.open = room_open, .message = room_message};
    static const struct kiln_ws_handlers bc = {.open = bc_open, .message = bc_message};

    if (kiln_add_websocket(app, "/ps/{room}", &room, NULL) != 0 ||
        kiln_add_websocket(app, "/bc", &bc, NULL) != 0 ||
        kiln_add_get(app, "/sse/{room}", sse, NULL) != 0)
        return -1;
    return kiln_add_get(app, "/publish", publish, NULL);
}

KILN_PLUGIN("pubsub", init, NULL);
