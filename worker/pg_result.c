/*
 * pg_result.c -- what a PostgreSQL query's callback reads (kiln_pg_error,
 * kiln_pg_rows, kiln_pg_text, the typed getters...): a PGresult, or an
 * error of kiln's own, behind struct kiln_pg_result (pg_private.h, the one
 * header that includes libpq-fe.h).  Values are PostgreSQL's text output,
 * parsed strictly by the typed getters.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pg_private.h"

void pg_clean_message(char *dst, size_t size, const char *msg)
{
    size_t n = 0;
    int space = 0;

    for (; msg && *msg && n + 1 < size; msg++) {
        if (isspace((unsigned char)*msg)) {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < size)
            dst[n++] = ' ';
        space = 0;
        dst[n++] = *msg;
    }
    dst[n] = '\0';
}

void pg_result_error(struct kiln_pg_result *r, const char *sqlstate, const char *msg)
{
    r->pg = NULL;
    memcpy(r->sqlstate, sqlstate, 5);
    r->sqlstate[5] = '\0';
    pg_clean_message(r->text, sizeof(r->text), msg);
    r->error = r->text[0] ? r->text : "unknown error";
}

void pg_result_from(struct kiln_pg_result *r, PGresult *res, int conn_bad)
{
    const char *state, *msg;

    r->pg = res;
    r->text[0] = '\0';
    switch (PQresultStatus(res)) {
    case PGRES_TUPLES_OK:
    case PGRES_COMMAND_OK:
    case PGRES_EMPTY_QUERY:
        r->error = NULL;
        memcpy(r->sqlstate, "00000", 6);
        return;
    default:
        break;
    }
    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (!state || strlen(state) != 5)
        state = conn_bad ? "08006" : "XX000";   /* an error libpq made itself */
    memcpy(r->sqlstate, state, 6);
    msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (msg && *msg) {
        r->error = msg;
        return;
    }
    pg_clean_message(r->text, sizeof(r->text), PQresultErrorMessage(res));
    r->error = r->text[0] ? r->text : "unknown error";
}

/* ---- parsing the text format ------------------------------------------------ */

int pg_parse_int(const char *s, long long *out)
{
    char *end;
    long long v;

    if (!s || !(*s == '-' || isdigit((unsigned char)*s)))
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int pg_parse_double(const char *s, double *out)
{
    char *end;
    double v;

    if (!s || *s == '\0' || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0')
        return -1;
    if (errno == ERANGE && isinf(v))
        return -1;                  /* overflow; an underflow is a tiny value */
    *out = v;
    return 0;
}

int pg_parse_bool(const char *s, int *out)
{
    if (!s || (s[0] != 't' && s[0] != 'f') || s[1] != '\0')
        return -1;
    *out = s[0] == 't';
    return 0;
}

/* ---- the accessors of kiln.h ----------------------------------------------------- */

/* Whether r has rows and (row, col) is one of its cells. */
static int cell(const kiln_pg_result *r, int row, int col)
{
    return r && r->pg && !r->error && row >= 0 && col >= 0 &&
           row < PQntuples(r->pg) && col < PQnfields(r->pg);
}

KILN_EXPORT const char *kiln_pg_error(const kiln_pg_result *r)
{
    return r ? r->error : "no result";
}

KILN_EXPORT const char *kiln_pg_sqlstate(const kiln_pg_result *r)
{
    return r ? r->sqlstate : "XX000";
}

KILN_EXPORT int kiln_pg_rows(const kiln_pg_result *r)
{
    return r && r->pg && !r->error ? PQntuples(r->pg) : 0;
}

KILN_EXPORT int kiln_pg_cols(const kiln_pg_result *r)
{
    return r && r->pg && !r->error ? PQnfields(r->pg) : 0;
}

KILN_EXPORT long long kiln_pg_affected(const kiln_pg_result *r)
{
    long long n;

    if (!r || !r->pg || r->error || pg_parse_int(PQcmdTuples(r->pg), &n) < 0)
        return 0;
    return n;
}

KILN_EXPORT const char *kiln_pg_colname(const kiln_pg_result *r, int col)
{
    if (col < 0 || col >= kiln_pg_cols(r))
        return NULL;
    return PQfname(r->pg, col);
}

/* An exact match: PQfnumber() would fold an unquoted name to lower case. */
KILN_EXPORT int kiln_pg_colnum(const kiln_pg_result *r, const char *name)
{
    int i, n = kiln_pg_cols(r);

    for (i = 0; name && i < n; i++) {
        if (strcmp(PQfname(r->pg, i), name) == 0)
            return i;
    }
    return -1;
}

KILN_EXPORT const char *kiln_pg_text(const kiln_pg_result *r, int row, int col)
{
    if (!cell(r, row, col) || PQgetisnull(r->pg, row, col))
        return NULL;
    return PQgetvalue(r->pg, row, col);
}

KILN_EXPORT size_t kiln_pg_len(const kiln_pg_result *r, int row, int col)
{
    if (!cell(r, row, col) || PQgetisnull(r->pg, row, col))
        return 0;
    return (size_t)PQgetlength(r->pg, row, col);
}

KILN_EXPORT int kiln_pg_isnull(const kiln_pg_result *r, int row, int col)
{
    return !cell(r, row, col) || PQgetisnull(r->pg, row, col);
}

KILN_EXPORT int kiln_pg_int(const kiln_pg_result *r, int row, int col, long long *out)
{
    return out ? pg_parse_int(kiln_pg_text(r, row, col), out) : -1;
}

KILN_EXPORT int kiln_pg_double(const kiln_pg_result *r, int row, int col, double *out)
{
    return out ? pg_parse_double(kiln_pg_text(r, row, col), out) : -1;
}

KILN_EXPORT int kiln_pg_bool(const kiln_pg_result *r, int row, int col, int *out)
{
    return out ? pg_parse_bool(kiln_pg_text(r, row, col), out) : -1;
}
