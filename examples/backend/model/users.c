/*
 * model/users.c -- the SQL of users and their sessions (the users half of
 * an aiohttp app's db.py queries): find a user by name or by session
 * token, open and close a session.  A session row keeps the SHA-256 of
 * its token, never the token itself.
 */
#include <stdio.h>
#include <string.h>
#include "backend.h"

#define TOKEN_HASH "sha256(convert_to($1, 'UTF8'))"

static const char by_name[] =
    "SELECT id, name, role, password_hash FROM users WHERE name = $1";

static const char by_session[] =
    "SELECT u.id, u.name, u.role FROM sessions s JOIN users u ON u.id = s.user_id"
    " WHERE s.token_hash = " TOKEN_HASH " AND s.expires > now()";

/* Opening a session also drops the ones that have ended: one statement. */
static const char create[] =
    "WITH ended AS (DELETE FROM sessions WHERE expires <= now())"
    " INSERT INTO sessions (token_hash, user_id, expires)"
    " VALUES (" TOKEN_HASH ", $2, now() + make_interval(secs => $3))";

static const char delete[] = "DELETE FROM sessions WHERE token_hash = " TOKEN_HASH;

int users_by_name(struct call *c, call_fn next, const char *name)
{
    const char *params[1] = {name};

    return db_send(c, next, by_name, 1, params);
}

int users_by_session(struct call *c, call_fn next, const char *token)
{
    const char *params[1] = {token};

    return db_send(c, next, by_session, 1, params);
}

/* Reads row's id, name and role into u; 0, or -1 when they are not there. */
int users_read(const kiln_pg_result *res, int row, struct user *u)
{
    const char *name = kiln_pg_text(res, row, kiln_pg_colnum(res, "name"));
    const char *role = kiln_pg_text(res, row, kiln_pg_colnum(res, "role"));

    if (kiln_pg_int(res, row, kiln_pg_colnum(res, "id"), &u->id) < 0 || !name || !role ||
        strlen(name) >= sizeof(u->name))
        return -1;
    strcpy(u->name, name);
    u->admin = strcmp(role, "admin") == 0;
    return 0;
}

/* A session for c->user under c->token, lasting session_lifetime. */
int sessions_create(struct call *c, call_fn next)
{
    const char *params[3] = {c->token, c->param[0], c->param[1]};

    snprintf(c->param[0], sizeof(c->param[0]), "%lld", c->user.id);
    snprintf(c->param[1], sizeof(c->param[1]), "%lld", config()->session_lifetime);
    return db_send(c, next, create, 3, params);
}

/* Ends the session of c->token. */
int sessions_delete(struct call *c, call_fn next)
{
    const char *params[1] = {c->token};

    return db_send(c, next, delete, 1, params);
}
