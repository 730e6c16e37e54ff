/*
 * backend.h -- what the files of the notes example share: its config, one
 * request's trip to the database (a call), the logged-in user, and each
 * file's entry points; the one file that includes <jansson.h>.
 */
#ifndef BACKEND_H
#define BACKEND_H

#include <jansson.h>
#include <kiln.h>

/* ---- config.c: the [backend] section ---------------------------------------- */

struct backend_config {
    long long session_lifetime;     /* seconds a login lasts (session_lifetime) */
    long per_page;                  /* notes per page when ?per_page= is absent */
    long max_per_page;              /* the largest ?per_page= taken */
    int cookie_secure;              /* the session cookie says Secure */
    const char *static_dir;         /* where index.html is; NULL: GET / is 404 */
};

int config_load(kiln_app *app);
const struct backend_config *config(void);

/* ---- permissions.c: who is asking -------------------------------------------- */

#define USER_NAME_MAX 64

struct user {
    long long id;
    char name[USER_NAME_MAX];
    int admin;                      /* role 'admin': sees and changes every note */
};

/* ---- db.c: a call, one request waiting for the database ---------------------- */

/*
 * A call is what a view keeps while its request waits: the pending
 * request's id, the query in flight, the user, and what the view parsed.
 * It is stored on the request (kiln_req_set), so kiln frees it when the
 * request ends, answered or cancelled; the cancel callback only cancels the
 * query in flight.  A view answers a call exactly once, with call_json()
 * or call_error(); after that the call may be gone.
 */
struct call;
struct route;
typedef void (*call_fn)(struct call *c, const kiln_pg_result *res);
typedef void (*view_fn)(struct call *c);

struct call {
    kiln_id req;                    /* the pending request */
    kiln_id query;                  /* the query in flight, or 0 */
    call_fn next;                   /* what runs with the query's result */
    const struct route *route;      /* urls.c's entry for the request */
    struct user user;               /* set once permissions let it through */
    long long note_id;              /* {id} of /api/notes/{id} */
    json_t *input;                  /* the validated JSON body, or NULL */
    char token[65];                 /* a session token (login, logout) */
    long page, per_page;            /* GET /api/notes: the page asked for */
    char param[3][24];              /* numbers passed as query parameters */
};

struct call *call_begin(kiln_req *req);
kiln_req *call_req(const struct call *c);
int db_send(struct call *c, call_fn next, const char *sql, int n, const char *const *params);
int db_failed(struct call *c, const kiln_pg_result *res);
void call_next(struct call *c);
void call_json(struct call *c, int status, json_t *body);
void call_error(struct call *c, int status, const char *message, json_t *fields);
void call_empty(struct call *c, int status);

/* ---- model/users.c, model/notes.c: the SQL, and rows read back ----------------- */

/* Each sends one query for the call (db_send: 0, or -1 with the call
 * answered 503); the reader functions take the row of its result. */
int users_by_name(struct call *c, call_fn next, const char *name);
int users_by_session(struct call *c, call_fn next, const char *token);
int users_read(const kiln_pg_result *res, int row, struct user *u);
int sessions_create(struct call *c, call_fn next);
int sessions_delete(struct call *c, call_fn next);

int notes_page(struct call *c, call_fn next, long page, long per_page);
int notes_owner(struct call *c, call_fn next);
int notes_get(struct call *c, call_fn next);
int notes_insert(struct call *c, call_fn next);
int notes_update(struct call *c, call_fn next);
int notes_delete(struct call *c, call_fn next);
json_t *notes_read(const kiln_pg_result *res, int row);
long long notes_read_owner(const kiln_pg_result *res, int row);

/* ---- middlewares.c: around every answer --------------------------------------- */

int mw_register(kiln_app *app);
int mw_error(kiln_req *req, int status, const char *message, json_t *fields);

/* ---- permissions.c ------------------------------------------------------------- */

int perm_register(kiln_app *app);
const struct user *perm_user(const kiln_req *req);
int perm_may_touch(const struct user *u, long long owner);
void perm_check_password(struct call *c, const char *hash, const char *password,
                         void (*then)(struct call *c, int ok));
int perm_new_token(char out[65]);
int perm_set_session(kiln_req *req, const char *token);
int perm_clear_session(kiln_req *req);
const char *perm_session_token(kiln_req *req);

/* ---- views.c: the handlers ------------------------------------------------------ */

void view_login(struct call *c);
void view_logout(struct call *c);
void view_me(struct call *c);
void view_notes_list(struct call *c);
void view_notes_create(struct call *c);
void view_note_get(struct call *c);
void view_note_update(struct call *c);
void view_note_delete(struct call *c);
int view_index(kiln_req *req, void *data);

/* ---- ws.c: live updates ---------------------------------------------------------- */

extern const struct kiln_ws_handlers ws_notes;
void ws_push(long long owner, const char *event, json_t *payload);

/* ---- urls.c: the route table ------------------------------------------------------- */

int urls_register(kiln_app *app);
int urls_needs_login(const kiln_req *req);

#endif /* BACKEND_H */
