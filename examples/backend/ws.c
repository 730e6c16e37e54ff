/*
 * ws.c -- live updates of the notes example: GET /api/ws is a WebSocket on
 * which a logged-in page hears of every change to the notes it may see, as
 * {"event": "created"|"updated", "note": {...}} or {"event": "deleted",
 * "id": N} (aiohttp's WebSocketResponse kept in app["websockets"]).
 *
 * The handshake goes through the middlewares as any request does, so
 * "backend.auth" (permissions.c) has answered 401 to one without a live
 * session, and found the user of the others; the socket first says
 * {"event": "hello", "user": ...}.
 *
 * A change reaches the sockets of the worker that made it only: kiln's
 * workers share no memory, so a deployment of this example runs one
 * worker (deploy/kiln.conf: workers = 1) until changes go through a
 * publish/subscribe channel (PostgreSQL's LISTEN/NOTIFY, Redis).
 */
#include <stdlib.h>
#include <string.h>
#include "backend.h"

/* One open socket and who it is for. */
struct sub {
    kiln_id ws;
    long long user;
    int admin;
    struct sub *prev, *next;
};

static struct sub *subs;            /* this worker's open sockets */

static void unlink_sub(struct sub *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
}

static int on_open(kiln_ws *ws, kiln_req *req, void *data)
{
    const struct user *u = perm_user(req);
    json_t *hello;
    char *text;
    struct sub *s;

    (void)data;
    if (!u)
        return 401;                 /* "backend.auth" left out of the chain */
    s = calloc(1, sizeof(*s));
    if (!s)
        return 500;
    s->ws = kiln_ws_id(ws);
    s->user = u->id;
    s->admin = u->admin;
    s->next = subs;
    if (subs)
        subs->prev = s;
    subs = s;
    kiln_ws_set_data(ws, s);
    hello = json_pack("{s:s,s:s}", "event", "hello", "user", u->name);
    text = hello ? json_dumps(hello, JSON_COMPACT) : NULL;
    if (text)
        kiln_ws_send(ws, 0, text, strlen(text));
    free(text);
    json_decref(hello);
    return 0;
}

static void on_message(kiln_ws *ws, int binary, const void *msg, size_t len, void *data)
{
    (void)ws;
    (void)binary;
    (void)msg;
    (void)len;
    (void)data;                     /* the page only listens */
}

static void on_close(kiln_ws *ws, int code, const char *reason, void *data)
{
    struct sub *s = kiln_ws_data(ws);

    (void)code;
    (void)reason;
    (void)data;
    if (!s)
        return;
    unlink_sub(s);
    free(s);
}

const struct kiln_ws_handlers ws_notes = {
    .open = on_open,
    .message = on_message,
    .close = on_close,
};

/*
 * Sends {"event": event, ...fields} (fields stolen; its members are added)
 * to every socket of this worker that may see a note of user `owner`:
 * the owner's and the admins'.
 */
void ws_push(long long owner, const char *event, json_t *fields)
{
    json_t *msg = json_pack("{s:s}", "event", event);
    struct sub *s, *next;
    kiln_ws *ws;
    char *text;

    if (msg && fields)
        json_object_update(msg, fields);
    json_decref(fields);
    text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (!text)
        return;
    /* A send over ws_max_queue closes that socket, which may unlink it. */
    for (s = subs; s; s = next) {
        next = s->next;
        if ((s->admin || s->user == owner) && (ws = kiln_ws_get(s->ws)) != NULL)
            kiln_ws_send(ws, 0, text, strlen(text));
    }
    free(text);
}
