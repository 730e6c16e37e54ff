/*
 * views.c -- the handlers of the notes example (aiohttp's views.py): log in
 * and out, who am I, and the notes: a page of them, one, create, change,
 * delete; plus the page itself (GET /).
 *
 * Each view gets a call (db.c) whose request is already waiting, with
 * c->user set when its route needs a login (urls.c), checks its input, and
 * goes on through the database in steps, one function per query result,
 * as an aiohttp handler goes on after each `await`.  Input errors answer
 * 400 {"error": ..., "fields": {"title": "required", ...}}.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "backend.h"

#define TITLE_MAX 200
#define BODY_MAX 10000
#define PAGE_MAX 1000000

/* ---- input ---------------------------------------------------------------------- */

/* The request's JSON object body, kept on the call; NULL with the call
 * answered 400 when the body is not a JSON object. */
static json_t *object_body(struct call *c)
{
    json_t *j = kiln_json_body(call_req(c));

    if (!j || !json_is_object(j)) {
        call_error(c, 400, "invalid input",
                   json_pack("{s:s}", "body", "expected a JSON object"));
        return NULL;
    }
    c->input = json_incref(j);
    return j;
}

/* Checks member `name` of j: a string of 1..max characters (UTF-8 code
 * points), or absent when !required.  Adds the reason to `fields`. */
static void check_string(json_t *j, const char *name, size_t max, int required, json_t *fields)
{
    json_t *v = json_object_get(j, name);
    const char *s = json_string_value(v);
    size_t n = 0;

    if (!v) {
        if (required)
            json_object_set_new(fields, name, json_string("required"));
        return;
    }
    if (!s) {
        json_object_set_new(fields, name, json_string("must be a string"));
        return;
    }
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    if (required && n == 0)
        json_object_set_new(fields, name, json_string("must not be empty"));
    else if (n > max)
        json_object_set_new(fields, name, json_sprintf("at most %zu characters", max));
}

/* Answers 400 when `fields` names any refused input (stolen either way);
 * 1 if so. */
static int refused(struct call *c, json_t *fields)
{
    if (json_object_size(fields) == 0) {
        json_decref(fields);
        return 0;
    }
    call_error(c, 400, "invalid input", fields);
    return 1;
}

/* A query parameter as a number in 1..max, `def` when absent; -1 else. */
static long positive(const char *v, long def, long max)
{
    char *end;
    long n;

    if (!v)
        return def;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 1 || n > max)
        return -1;
    return n;
}

/* ---- logging in and out -------------------------------------------------------------- */

static void logged_in(struct call *c, const kiln_pg_result *res)
{
    kiln_req *req = call_req(c);

    if (db_failed(c, res))
        return;
    if (perm_set_session(req, c->token) < 0) {
        call_error(c, 500, "could not set the session cookie", NULL);
        return;
    }
    call_json(c, 200, json_pack("{s:s,s:s}", "user", c->user.name,
                                "role", c->user.admin ? "admin" : "user"));
}

static void password_checked(struct call *c, int ok)
{
    if (!ok) {
        call_error(c, 401, "wrong user name or password", NULL);
        return;
    }
    if (perm_new_token(c->token) < 0) {
        call_error(c, 500, "no random bytes for a session", NULL);
        return;
    }
    sessions_create(c, logged_in);
}

static void user_found(struct call *c, const kiln_pg_result *res)
{
    int found;
    const char *hash;

    if (db_failed(c, res))
        return;
    found = kiln_pg_rows(res) == 1 && users_read(res, 0, &c->user) == 0;
    hash = found ? kiln_pg_text(res, 0, kiln_pg_colnum(res, "password_hash")) : NULL;
    perm_check_password(c, hash, json_string_value(json_object_get(c->input, "password")),
                        password_checked);
}

/* POST /api/login {"user": ..., "password": ...}: 200 and the cookie, 401. */
void view_login(struct call *c)
{
    json_t *j = object_body(c), *fields;

    if (!j)
        return;
    fields = json_object();
    check_string(j, "user", USER_NAME_MAX - 1, 1, fields);
    check_string(j, "password", 1024, 1, fields);
    if (refused(c, fields))
        return;
    users_by_name(c, user_found, json_string_value(json_object_get(j, "user")));
}

static void logged_out(struct call *c, const kiln_pg_result *res)
{
    if (db_failed(c, res))
        return;
    perm_clear_session(call_req(c));
    call_empty(c, 204);
}

/* POST /api/logout: 204, the session ended and its cookie removed. */
void view_logout(struct call *c)
{
    const char *token = perm_session_token(call_req(c));

    snprintf(c->token, sizeof(c->token), "%s", token ? token : "");
    sessions_delete(c, logged_out);
}

/* GET /api/me: {"user", "role"}. */
void view_me(struct call *c)
{
    call_json(c, 200, json_pack("{s:s,s:s}", "user", c->user.name,
                                "role", c->user.admin ? "admin" : "user"));
}

/* ---- notes ------------------------------------------------------------------------------ */

static void page_read(struct call *c, const kiln_pg_result *res)
{
    json_t *notes, *note, *next = json_null();
    const char *base;
    long long total = 0;
    char link[160];
    int i;

    if (db_failed(c, res))
        return;
    kiln_pg_int(res, 0, kiln_pg_colnum(res, "total"), &total);
    notes = json_array();
    for (i = 0; i < kiln_pg_rows(res); i++)
        if ((note = notes_read(res, i)) != NULL)
            json_array_append_new(notes, note);
    if ((long long)c->page * c->per_page < total && (base = kiln_url_for(call_req(c),
                                                      "backend.notes", NULL)) != NULL) {
        snprintf(link, sizeof(link), "%s?page=%ld&per_page=%ld", base, c->page + 1,
                 c->per_page);
        next = json_string(link);
    }
    call_json(c, 200, json_pack("{s:o,s:I,s:I,s:I,s:o}", "notes", notes,
                                "page", (json_int_t)c->page, "per_page", (json_int_t)c->per_page,
                                "total", (json_int_t)total, "next", next));
}

/* GET /api/notes?page=N&per_page=M: a page, newest first (an admin's has
 * everyone's notes), with the total and the next page's link (or null). */
void view_notes_list(struct call *c)
{
    kiln_req *req = call_req(c);
    json_t *fields = json_object();

    c->page = positive(kiln_query(req, "page"), 1, PAGE_MAX);
    c->per_page = positive(kiln_query(req, "per_page"), config()->per_page,
                           config()->max_per_page);
    if (c->page < 0)
        json_object_set_new(fields, "page", json_string("a number from 1"));
    if (c->per_page < 0)
        json_object_set_new(fields, "per_page",
                            json_sprintf("a number from 1 to %ld", config()->max_per_page));
    if (refused(c, fields))
        return;
    notes_page(c, page_read, c->page, c->per_page);
}

/* Answers with the first row's note and tells the owner's pages. */
static void answer_note(struct call *c, const kiln_pg_result *res, int status,
                        const char *event)
{
    json_t *note = kiln_pg_rows(res) == 1 ? notes_read(res, 0) : NULL;
    const char *location;
    char id[24];

    if (!note) {
        call_error(c, 404, "no such note", NULL);
        return;
    }
    if (event)
        ws_push(notes_read_owner(res, 0), event, json_pack("{s:O}", "note", note));
    if (status == 201) {
        snprintf(id, sizeof(id), "%lld",
                 (long long)json_integer_value(json_object_get(note, "id")));
        location = kiln_url_for(call_req(c), "backend.note", "id", id, NULL);
        if (location)
            kiln_add_header(call_req(c), "Location", location);
    }
    call_json(c, status, note);
}

static void created(struct call *c, const kiln_pg_result *res)
{
    if (!db_failed(c, res))
        answer_note(c, res, 201, "created");
}

/* Checks a note's title and body; 1 when the call was answered 400. */
static int bad_note(struct call *c, json_t *j, int title_required)
{
    json_t *fields = json_object();

    check_string(j, "title", TITLE_MAX, title_required, fields);
    check_string(j, "body", BODY_MAX, 0, fields);
    if (!title_required && !json_object_get(j, "title") && !json_object_get(j, "body"))
        json_object_set_new(fields, "title", json_string("title or body required"));
    return refused(c, fields);
}

/* POST /api/notes {"title", "body"}: 201, Location, the note. */
void view_notes_create(struct call *c)
{
    json_t *j = object_body(c);

    if (j && !bad_note(c, j, 1))
        notes_insert(c, created);
}

static void note_read(struct call *c, const kiln_pg_result *res)
{
    if (db_failed(c, res))
        return;
    if (kiln_pg_rows(res) == 1 && !perm_may_touch(&c->user, notes_read_owner(res, 0)))
        call_error(c, 403, "the note belongs to another user", NULL);
    else
        answer_note(c, res, 200, NULL);
}

/* GET /api/notes/{id}: 200, 403 (another user's), 404. */
void view_note_get(struct call *c)
{
    notes_get(c, note_read);
}

/* Whether the owner row of res lets c->user on; answers 404 or 403 if not. */
static int owner_allows(struct call *c, const kiln_pg_result *res)
{
    if (db_failed(c, res))
        return 0;
    if (kiln_pg_rows(res) != 1) {
        call_error(c, 404, "no such note", NULL);
        return 0;
    }
    if (!perm_may_touch(&c->user, notes_read_owner(res, 0))) {
        call_error(c, 403, "the note belongs to another user", NULL);
        return 0;
    }
    return 1;
}

static void updated(struct call *c, const kiln_pg_result *res)
{
    if (!db_failed(c, res))
        answer_note(c, res, 200, "updated");
}

static void may_update(struct call *c, const kiln_pg_result *res)
{
    if (owner_allows(c, res))
        notes_update(c, updated);
}

/* PUT /api/notes/{id} {"title"?, "body"?}: the note changed; what is left
 * out keeps its value. */
void view_note_update(struct call *c)
{
    json_t *j = object_body(c);

    if (j && !bad_note(c, j, 0))
        notes_owner(c, may_update);
}

static void deleted(struct call *c, const kiln_pg_result *res)
{
    if (db_failed(c, res))
        return;
    if (kiln_pg_rows(res) != 1) {
        call_error(c, 404, "no such note", NULL);
        return;
    }
    ws_push(notes_read_owner(res, 0), "deleted", json_pack("{s:I}", "id",
                                                             (json_int_t)c->note_id));
    call_empty(c, 204);
}

static void may_delete(struct call *c, const kiln_pg_result *res)
{
    if (owner_allows(c, res))
        notes_delete(c, deleted);
}

/* DELETE /api/notes/{id}: 204. */
void view_note_delete(struct call *c)
{
    notes_owner(c, may_delete);
}

/* ---- the page -------------------------------------------------------------------------- */

/* GET /: static_dir's index.html. */
int view_index(kiln_req *req, void *data)
{
    char path[PATH_MAX];
    const char *dir = config()->static_dir;

    (void)data;
    if (!dir || snprintf(path, sizeof(path), "%s/index.html", dir) >= (int)sizeof(path))
        return mw_error(req, 404, "no page here ([backend] static_dir is not set)", NULL);
    return kiln_file(req, path);
}
