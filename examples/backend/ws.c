/*
 * ws.c -- live updates of the notes example: GET /api/ws is a WebSocket on
 * which a logged-in page hears of every change to the notes it may see, as
 * {"event": "created"|"updated", "note": {...}} or {"event": "deleted",
 * "id": N} (aiohttp's WebSocketResponse kept in app["websockets"]).
 *
 * The handshake needs the session cookie; the session itself is looked up
 * once the socket is open (open() cannot wait for the database): until the
 * lookup answers the socket hears nothing, and a session that has ended
 * closes it with 4401.  Then it says {"event": "hello", "user": ...}.
 *
 * A change reaches the sockets of the worker that made it only: kiln's
 * workers share no memory, so a deployment of this example runs one
 * worker (deploy/kiln.conf: workers = 1) until changes go through a
 * publish/subscribe channel (PostgreSQL's LISTEN/NOTIFY, Redis).
 */
#include <stdlib.h>
#include <string.h>
#include "backend.h"

/* One open socket: who it is for, once known. */
struct sub {
    kiln_id ws;
    kiln_id query;                  /* the session lookup in flight, or 0 */
    long long user;
    int admin;
    int ready;                      /* the session was found */
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

static void on_session(const kiln_pg_result *res, void *arg)
{
    struct sub *s = arg;
    kiln_ws *ws = kiln_ws_get(s->ws);
    struct user u;
    json_t *hello;
    char *text;

    s->query = 0;
    if (!ws)
        return;
    if (kiln_pg_error(res) || kiln_pg_rows(res) != 1 || users_read(res, 0, &u) < 0) {
        kiln_ws_close(ws, 4401, "not logged in");
        return;
    }
    s->user = u.id;
    s->admin = u.admin;
    s->ready = 1;
    hello = json_pack("{s:s,s:s}", "event", "hello", "user", u.name);
    text = hello ? json_dumps(hello, JSON_COMPACT) : NULL;
    if (text)
        kiln_ws_send(ws, 0, text, strlen(text));
    free(text);
    json_decref(hello);
}

static int on_open(kiln_ws *ws, kiln_req *req, void *data)
{
    const char *token = perm_session_token(req);
    struct sub *s;

    (void)data;
    if (!token)
        return 401;
    s = calloc(1, sizeof(*s));
    if (!s)
        return 500;
    s->ws = kiln_ws_id(ws);
    s->query = users_session_query(token, on_session, s);
    if (!s->ws || !s->query) {
        kiln_pg_cancel(s->query);
        free(s);
        return 503;
    }
    s->next = subs;
    if (subs)
        subs->prev = s;
    subs = s;
    kiln_ws_set_data(ws, s);
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
    kiln_pg_cancel(s->query);
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
        if (s->ready && (s->admin || s->user == owner) && (ws = kiln_ws_get(s->ws)) != NULL)
            kiln_ws_send(ws, 0, text, strlen(text));
    }
    free(text);
}
