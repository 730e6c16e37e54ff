/*
 * urls.c -- every route of the notes example in one table (aiohttp's
 * urls.py / routes.py), and the plugin's descriptor.
 *
 * A route names its view, whether it needs a login, and its name for
 * kiln_url_for() (aiohttp's router.add_get(..., name="note")).  Before dispatch()
 * runs, kiln has run the middlewares (middlewares.c: the request id;
 * permissions.c: the login check, which found the user); dispatch() puts
 * the request on hold as a call (db.c), reads the note id of the path and
 * runs the view.  init registers the middlewares first, so that without a
 * [server] middlewares list they run in that order.
 */
#include <string.h>
#include "backend.h"

enum {
    PUBLIC = 0,
    LOGGED_IN = 1,                  /* 401 without a session */
    NOTE_ID = 2                     /* the path's {id} is a note's */
};

struct route {
    const char *method;
    const char *pattern;
    view_fn view;
    unsigned flags;
    const char *name;               /* for kiln_url_for() and urls_needs_login() */
};

#define NOTE "/api/notes/{id:int}"

static const struct route routes[] = {
    {"POST",   "/api/login",  view_login,        PUBLIC,              "backend.login"},
    {"POST",   "/api/logout", view_logout,       LOGGED_IN,           "backend.logout"},
    {"GET",    "/api/me",     view_me,           LOGGED_IN,           "backend.me"},
    {"GET",    "/api/notes",  view_notes_list,   LOGGED_IN,           "backend.notes"},
    {"POST",   "/api/notes",  view_notes_create, LOGGED_IN,           "backend.notes.create"},
    {"GET",    NOTE,          view_note_get,     LOGGED_IN | NOTE_ID, "backend.note"},
    {"PUT",    NOTE,          view_note_update,  LOGGED_IN | NOTE_ID, "backend.note.update"},
    {"DELETE", NOTE,          view_note_delete,  LOGGED_IN | NOTE_ID, "backend.note.delete"},
};

#define WS_NAME "backend.ws"        /* GET /api/ws: needs a login too */

/*
 * Whether the route the request matched is one of this table's that needs
 * a login, or the WebSocket (permissions.c asks, from its middleware; by
 * the route's name, so that it holds under a mount prefix too).
 */
int urls_needs_login(const kiln_req *req)
{
    const char *name = kiln_route_name_of(req);
    size_t i;

    if (!name)
        return 0;
    if (strcmp(name, WS_NAME) == 0)
        return 1;
    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (strcmp(routes[i].name, name) == 0)
            return (routes[i].flags & LOGGED_IN) != 0;
    return 0;
}

/* The view of a route, once the user is known. */
static void run_view(struct call *c)
{
    const struct route *r = c->route;

    if (r->flags & NOTE_ID)         /* {id:int}: kiln matched a long long */
        c->note_id = kiln_match_int(call_req(c), "id", 0);
    r->view(c);
}

static int dispatch(kiln_req *req, void *data)
{
    const struct route *r = data;
    const struct user *u = perm_user(req);
    struct call *c = call_begin(req);

    if (!c)
        return KILN_ERROR;
    c->route = r;
    if ((r->flags & LOGGED_IN) && !u)       /* "backend.auth" left out of the chain */
        call_error(c, 401, "not logged in", NULL);
    else {
        if (u)
            c->user = *u;
        run_view(c);
    }
    return KILN_PENDING;
}

int urls_register(kiln_app *app)
{
    size_t i;

    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (kiln_add_route(app, routes[i].method, routes[i].pattern, dispatch,
                           (void *)&routes[i]) < 0)
            return -1;
        if (kiln_route_name(app, routes[i].name) < 0)
            return -1;
    }
    if (kiln_add_get(app, "/", view_index, NULL) < 0 ||
        kiln_route_name(app, "backend.index") < 0 ||
        kiln_add_websocket(app, "/api/ws", &ws_notes, NULL) < 0)
        return -1;
    return kiln_route_name(app, WS_NAME);
}

static int init(kiln_app *app)
{
    if (config_load(app) < 0 || mw_register(app) < 0 || perm_register(app) < 0)
        return -1;
    return urls_register(app);
}

KILN_PLUGIN("backend", init, NULL);
