/*
 * model/notes.c -- the SQL of notes (the notes half of an aiohttp app's
 * db.py queries) and a note row read back as JSON.  Each statement is one
 * (a CTE where it writes and reads), as kiln's pool wants, and every note
 * comes back with the same columns: id, user_id, owner, title, body,
 * updated (to the microsecond: what orders two versions of a note).
 */
#include <stdio.h>
#include <string.h>
#include "backend.h"

#define COLUMNS \
    "n.id, n.user_id, u.name AS owner, n.title, n.body," \
    " to_char(n.updated AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS updated"

/* One page, newest first, and how many notes there are in all: a row with
 * the total and NULL note columns when the page is past the end.  $1 is
 * the owner to show, NULL for every owner (an admin). */
static const char page_sql[] =
    "SELECT t.total, " COLUMNS
    " FROM (SELECT count(*) AS total FROM notes WHERE $1::bigint IS NULL OR user_id = $1) t"
    " LEFT JOIN LATERAL (SELECT * FROM notes WHERE $1::bigint IS NULL OR user_id = $1"
    "   ORDER BY id DESC LIMIT $2 OFFSET $3) n ON true"
    " LEFT JOIN users u ON u.id = n.user_id ORDER BY n.id DESC";

static const char owner_sql[] = "SELECT user_id FROM notes WHERE id = $1";

static const char get_sql[] =
    "SELECT " COLUMNS " FROM notes n JOIN users u ON u.id = n.user_id WHERE n.id = $1";

static const char insert_sql[] =
    "WITH n AS (INSERT INTO notes (user_id, title, body) VALUES ($1, $2, $3) RETURNING *)"
    " SELECT " COLUMNS " FROM n JOIN users u ON u.id = n.user_id";

/* A field left out of a PUT (NULL) keeps its value. */
static const char update_sql[] =
    "WITH n AS (UPDATE notes SET title = coalesce($2, title), body = coalesce($3, body),"
    "   updated = now() WHERE id = $1 RETURNING *)"
    " SELECT " COLUMNS " FROM n JOIN users u ON u.id = n.user_id";

static const char delete_sql[] = "DELETE FROM notes WHERE id = $1 RETURNING user_id";

/* c->input's string member `name`, or NULL. */
static const char *input(const struct call *c, const char *name)
{
    return json_string_value(json_object_get(c->input, name));
}

/* Page `page` (from 1) of per_page notes that c->user may see. */
int notes_page(struct call *c, call_fn next, long page, long per_page)
{
    const char *params[3] = {c->user.admin ? NULL : c->param[0], c->param[1], c->param[2]};

    snprintf(c->param[0], sizeof(c->param[0]), "%lld", c->user.id);
    snprintf(c->param[1], sizeof(c->param[1]), "%ld", per_page);
    snprintf(c->param[2], sizeof(c->param[2]), "%lld", (long long)(page - 1) * per_page);
    return db_send(c, next, page_sql, 3, params);
}

static int by_id(struct call *c, call_fn next, const char *sql)
{
    const char *params[1] = {c->param[0]};

    snprintf(c->param[0], sizeof(c->param[0]), "%lld", c->note_id);
    return db_send(c, next, sql, 1, params);
}

/* The owner of note c->note_id: no row when there is no such note. */
int notes_owner(struct call *c, call_fn next)
{
    return by_id(c, next, owner_sql);
}

int notes_get(struct call *c, call_fn next)
{
    return by_id(c, next, get_sql);
}

int notes_delete(struct call *c, call_fn next)
{
    return by_id(c, next, delete_sql);
}

/* A note of c->user from c->input's title and body. */
int notes_insert(struct call *c, call_fn next)
{
    const char *body = input(c, "body");
    const char *params[3] = {c->param[0], input(c, "title"), body ? body : ""};

    snprintf(c->param[0], sizeof(c->param[0]), "%lld", c->user.id);
    return db_send(c, next, insert_sql, 3, params);
}

/* Note c->note_id with c->input's title and body (either may be absent). */
int notes_update(struct call *c, call_fn next)
{
    const char *params[3] = {c->param[0], input(c, "title"), input(c, "body")};

    snprintf(c->param[0], sizeof(c->param[0]), "%lld", c->note_id);
    return db_send(c, next, update_sql, 3, params);
}

static json_t *text(const kiln_pg_result *res, int row, const char *col)
{
    const char *v = kiln_pg_text(res, row, kiln_pg_colnum(res, col));

    return v ? json_string(v) : json_null();
}

/* Row `row` as {"id", "title", "body", "owner", "updated"}; NULL when its
 * id is NULL (an empty page) or out of memory. */
json_t *notes_read(const kiln_pg_result *res, int row)
{
    long long id;

    if (kiln_pg_int(res, row, kiln_pg_colnum(res, "id"), &id) < 0)
        return NULL;
    return json_pack("{s:I,s:o,s:o,s:o,s:o}", "id", (json_int_t)id,
                     "title", text(res, row, "title"), "body", text(res, row, "body"),
                     "owner", text(res, row, "owner"), "updated", text(res, row, "updated"));
}

/* The user_id column of row `row`, -1 when it is not there. */
long long notes_read_owner(const kiln_pg_result *res, int row)
{
    long long owner;

    return kiln_pg_int(res, row, kiln_pg_colnum(res, "user_id"), &owner) < 0 ? -1 : owner;
}
