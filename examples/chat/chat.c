/*
 * chat.c -- the chat example: chat rooms on kiln's publish/subscribe, so
 * that people whose pages landed in different workers (or on different
 * hosts, with [server] pubsub = redis://...) talk in one room.
 *
 *   GET /                      static_dir's index.html, the chat page
 *   GET /ws/{room}?nick=NAME   a WebSocket in the room: the page sends
 *                              {"text": "..."}, everyone in the room gets
 *                              {"type": "message", "nick": ..., "text": ...}
 *   GET /rooms/{room}/events   the room as Server-Sent Events (read-only)
 *
 * Every notice is a JSON object with a "type": "welcome" (to the newcomer
 * only: nick, room and the pid of the worker that serves it), "join" and
 * "leave" (nick, worker), "message", and "error" (to the sender only: a
 * message that is not {"text": "..."}, or whose text is empty or longer
 * than TEXT_MAX bytes).  A room name is 1..ROOM_MAX letters, digits, '-'
 * or '_'; a nick 1..NICK_MAX bytes of UTF-8 without control characters.
 *
 * In aiohttp this is a WebSocketResponse handler subscribed to a Redis
 * channel per room; here kiln carries the channel "room:NAME" between the
 * workers, and a connection leaves its channels when it closes.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <kiln.h>

#define ROOM_MAX 32
#define NICK_MAX 32
#define TEXT_MAX 1000
#define TEXT_MAX_S "1000"               /* TEXT_MAX, for messages */

/* One connection in a room (its kiln_ws_data). */
struct member {
    char channel[sizeof("room:") + ROOM_MAX];
    char nick[NICK_MAX + 1];
};

static char static_dir[PATH_MAX];       /* "": no page */

/* Whether `room` is a room name (see the top of the file). */
static int room_ok(const char *room)
{
    size_t n = room ? strlen(room) : 0, i;

    if (n == 0 || n > ROOM_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)room[i]) && room[i] != '-' && room[i] != '_')
            return 0;
    return 1;
}

/* Whether `nick` is a nick: jansson checks the UTF-8 when it is packed. */
static int nick_ok(const char *nick)
{
    size_t n = nick ? strlen(nick) : 0, i;

    if (n == 0 || n > NICK_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)nick[i] < 0x20 || nick[i] == 0x7f)
            return 0;
    return 1;
}

/* Publishes `j` (stolen) to `channel` as JSON text; 0, or -1 (bad UTF-8,
 * out of memory, refused). */
static int publish_json(const char *channel, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    int rc = text ? kiln_publish(channel, 0, text, strlen(text)) : -1;

    free(text);
    json_decref(j);
    return rc;
}

/* Sends `j` (stolen) to one connection only. */
static void send_json(kiln_ws *ws, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

    if (text)
        kiln_ws_send(ws, 0, text, strlen(text));
    free(text);
    json_decref(j);
}

static void send_error(kiln_ws *ws, const char *why)
{
    send_json(ws, json_pack("{s:s,s:s}", "type", "error", "error", why));
}

/* The handshake: checks the room and the nick, joins, tells the room. */
static int on_open(kiln_ws *ws, kiln_req *req, void *data)
{
    const char *room = kiln_match(req, "room"), *nick = kiln_query(req, "nick");
    struct member *m;
    json_t *join;

    (void)data;
    if (!room_ok(room) || !nick_ok(nick))
        return 400;
    join = json_pack("{s:s,s:s,s:i}", "type", "join", "nick", nick, "worker", (int)getpid());
    if (!join)
        return 400;                     /* the nick is not UTF-8 */
    m = calloc(1, sizeof(*m));
    if (!m) {
        json_decref(join);
        return 500;
    }
    snprintf(m->channel, sizeof(m->channel), "room:%s", room);
    snprintf(m->nick, sizeof(m->nick), "%s", nick);
    if (kiln_subscribe(ws, m->channel) != 0) {
        free(m);
        json_decref(join);
        return 500;
    }
    kiln_ws_set_data(ws, m);
    send_json(ws, json_pack("{s:s,s:s,s:s,s:i}", "type", "welcome", "nick", nick,
                            "room", room, "worker", (int)getpid()));
    publish_json(m->channel, join);
    return 0;
}

/* A message from the page: {"text": "..."}, published to the room. */
static void on_message(kiln_ws *ws, int binary, const void *msg, size_t len, void *data)
{
    struct member *m = kiln_ws_data(ws);
    json_t *in = binary ? NULL : json_loadb(msg, len, 0, NULL);
    json_t *text = json_object_get(in, "text");
    size_t n = json_string_length(text);

    (void)data;
    if (!json_is_string(text))
        send_error(ws, "expected {\"text\": \"...\"}");
    else if (n == 0 || n > TEXT_MAX)
        send_error(ws, "the text must be 1 to " TEXT_MAX_S " bytes long");
    else if (publish_json(m->channel, json_pack("{s:s,s:s,s:O}", "type", "message",
                                                "nick", m->nick, "text", text)) != 0)
        send_error(ws, "the room did not take the message");
    json_decref(in);
}

/* The connection closed (kiln unsubscribed it): tells the room. */
static void on_close(kiln_ws *ws, int code, const char *reason, void *data)
{
    struct member *m = kiln_ws_data(ws);

    (void)code;
    (void)reason;
    (void)data;
    if (!m)
        return;
    publish_json(m->channel, json_pack("{s:s,s:s,s:i}", "type", "leave", "nick", m->nick,
                                       "worker", (int)getpid()));
    free(m);
}

/* GET /rooms/{room}/events: what the room says, as Server-Sent Events. */
static int on_events(kiln_req *req, void *data)
{
    const char *room = kiln_match(req, "room");
    char channel[sizeof("room:") + ROOM_MAX];
    kiln_id id;

    (void)data;
    if (!room_ok(room))
        return kiln_error(req, 404, NULL);
    snprintf(channel, sizeof(channel), "room:%s", room);
    id = kiln_sse(req, NULL, NULL);
    if (id == 0)
        return KILN_ERROR;
    if (kiln_sse_subscribe(id, channel) != 0)
        kiln_stream_end(id);
    else
        kiln_sse_heartbeat(id, 15.0);
    return KILN_PENDING;
}

/* GET /: the page. */
static int on_index(kiln_req *req, void *data)
{
    char path[PATH_MAX + sizeof("/index.html")];

    (void)data;
    if (!static_dir[0])
        return kiln_text(req, 404, "no page here ([chat] static_dir is not set)\n");
    snprintf(path, sizeof(path), "%s/index.html", static_dir);
    return kiln_file(req, path);
}

static int init(kiln_app *app)
{
    static const struct kiln_ws_handlers room = {
        .open = on_open, .message = on_message, .close = on_close,
        .max_msg_size = 4 * TEXT_MAX,
    };
    const char *dir = kiln_config(app, "static_dir", "");

    if (strlen(dir) >= sizeof(static_dir)) {
        kiln_log(KILN_LOG_ERROR, "[chat] static_dir: longer than %d bytes", PATH_MAX - 1);
        return -1;
    }
    snprintf(static_dir, sizeof(static_dir), "%s", dir);
    if (kiln_add_get(app, "/", on_index, NULL) != 0 ||
        kiln_add_get(app, "/rooms/{room}/events", on_events, NULL) != 0)
        return -1;
    return kiln_add_websocket(app, "/ws/{room}", &room, NULL);
}

KILN_PLUGIN("chat", init, NULL);
