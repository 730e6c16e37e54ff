/* test_pg_result.c -- unit tests of worker/pg_result.c: the strict parsers of PostgreSQL's text output, libpq's messages on one line, and the accessors on results built with libpq (no server), NULLs, out-of-range cells and errors included. */
#include "unit.h"

#ifdef KILN_WITH_POSTGRES
#include <limits.h>
#include <math.h>

#include "pg_result.c"        /* worker/, on this test's include path */

static void parsers(void)
{
    long long i = 0;
    double d = 0;
    int b = -1;

    CHECK(pg_parse_int("42", &i) == 0 && i == 42, "int 42");
    CHECK(pg_parse_int("-9223372036854775808", &i) == 0 && i == LLONG_MIN, "int min");
    CHECK(pg_parse_int("9223372036854775807", &i) == 0 && i == LLONG_MAX, "int max");
    CHECK(pg_parse_int("9223372036854775808", &i) < 0, "int overflow refused");
    CHECK(pg_parse_int("", &i) < 0 && pg_parse_int("-", &i) < 0 && pg_parse_int(NULL, &i) < 0,
          "int: empty, a sign alone, NULL refused");
    CHECK(pg_parse_int(" 1", &i) < 0 && pg_parse_int("1 ", &i) < 0 && pg_parse_int("+1", &i) < 0,
          "int: white space and '+' refused");
    CHECK(pg_parse_int("1.5", &i) < 0 && pg_parse_int("t", &i) < 0 && pg_parse_int("0x10", &i) < 0,
          "int: a decimal, a bool, hex refused");
    CHECK(pg_parse_double("1.5", &d) == 0 && d == 1.5, "double 1.5");
    CHECK(pg_parse_double("-2e3", &d) == 0 && d == -2000, "double -2e3");
    CHECK(pg_parse_double("NaN", &d) == 0 && isnan(d), "double NaN");
    CHECK(pg_parse_double("Infinity", &d) == 0 && isinf(d) && d > 0, "double Infinity");
    CHECK(pg_parse_double("-Infinity", &d) == 0 && isinf(d) && d < 0, "double -Infinity");
    CHECK(pg_parse_double("1e-310", &d) == 0 && d > 0 && d < 1e-300, "double: a subnormal");
    CHECK(pg_parse_double("1e400", &d) < 0, "double overflow refused");
    CHECK(pg_parse_double("", &d) < 0 && pg_parse_double(" 1", &d) < 0 &&
          pg_parse_double("1.5x", &d) < 0 && pg_parse_double("abc", &d) < 0,
          "double: empty, white space, trailing junk, a word refused");
    CHECK(pg_parse_bool("t", &b) == 0 && b == 1 && pg_parse_bool("f", &b) == 0 && b == 0,
          "bool t and f");
    CHECK(pg_parse_bool("true", &b) < 0 && pg_parse_bool("1", &b) < 0 &&
          pg_parse_bool("", &b) < 0 && pg_parse_bool("tt", &b) < 0, "bool: anything else refused");
}

static void messages(void)
{
    char buf[64], tiny[6];

    pg_clean_message(buf, sizeof(buf), "connection to server failed: refused\n\tIs it up?\n");
    CHECK_STR(buf, "connection to server failed: refused Is it up?", "one line");
    pg_clean_message(buf, sizeof(buf), "  \n ");
    CHECK_STR(buf, "", "white space alone: empty");
    pg_clean_message(tiny, sizeof(tiny), "abc defgh");
    CHECK_STR(tiny, "abc d", "cut to the buffer");
    pg_clean_message(buf, sizeof(buf), NULL);
    CHECK_STR(buf, "", "NULL: empty");
}

/* A result of columns (n int4, s text) and rows (1, "one"), (NULL, ""). */
static PGresult *two_rows(void)
{
    PGresAttDesc cols[2] = {{"n", 0, 0, 0, 23, 4, -1}, {"s", 0, 0, 0, 25, -1, -1}};
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);

    if (!res || !PQsetResultAttrs(res, 2, cols) || !PQsetvalue(res, 0, 0, "1", 1) ||
        !PQsetvalue(res, 0, 1, "one", 3) || !PQsetvalue(res, 1, 0, NULL, -1) ||
        !PQsetvalue(res, 1, 1, "", 0))
        return NULL;
    return res;
}

static void accessors(void)
{
    PGresult *res = two_rows();
    struct kiln_pg_result r;
    long long i = 0;
    int b;

    CHECK(res != NULL, "libpq builds a result");
    if (!res)
        return;
    pg_result_from(&r, res, 0);
    CHECK(kiln_pg_error(&r) == NULL, "no error");
    CHECK_STR(kiln_pg_sqlstate(&r), "00000", "success's SQLSTATE");
    CHECK(kiln_pg_rows(&r) == 2 && kiln_pg_cols(&r) == 2, "2 rows, 2 columns");
    CHECK_STR(kiln_pg_colname(&r, 1), "s", "a column's name");
    CHECK(kiln_pg_colname(&r, 2) == NULL && kiln_pg_colname(&r, -1) == NULL,
          "no name out of range");
    CHECK(kiln_pg_colnum(&r, "s") == 1 && kiln_pg_colnum(&r, "S") == -1 &&
          kiln_pg_colnum(&r, NULL) == -1, "names match exactly");
    CHECK_STR(kiln_pg_text(&r, 0, 1), "one", "a value");
    CHECK(kiln_pg_len(&r, 0, 1) == 3 && kiln_pg_len(&r, 1, 0) == 0, "lengths");
    CHECK(kiln_pg_text(&r, 1, 0) == NULL && kiln_pg_isnull(&r, 1, 0), "SQL NULL");
    CHECK_STR(kiln_pg_text(&r, 1, 1), "", "an empty text is not NULL");
    CHECK(!kiln_pg_isnull(&r, 1, 1), "... nor null");
    CHECK(kiln_pg_text(&r, 2, 0) == NULL && kiln_pg_text(&r, 0, 2) == NULL &&
          kiln_pg_text(&r, -1, 0) == NULL && kiln_pg_isnull(&r, 5, 5), "out of range");
    CHECK(kiln_pg_int(&r, 0, 0, &i) == 0 && i == 1, "an int");
    CHECK(kiln_pg_int(&r, 1, 0, &i) < 0 && kiln_pg_int(&r, 0, 1, &i) < 0 &&
          kiln_pg_int(&r, 0, 0, NULL) < 0, "NULL, text, no out: refused");
    CHECK(kiln_pg_bool(&r, 0, 0, &b) < 0, "an int is not a bool");
    CHECK(kiln_pg_affected(&r) == 0, "affected of a result made by hand: 0");
    PQclear(res);
}

static void errors(void)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
    struct kiln_pg_result r;

    pg_result_from(&r, res, 0);
    CHECK(kiln_pg_error(&r) != NULL, "an error result is an error");
    CHECK_STR(kiln_pg_sqlstate(&r), "XX000", "libpq's own error on a sound connection");
    CHECK(kiln_pg_rows(&r) == 0 && kiln_pg_cols(&r) == 0 && kiln_pg_text(&r, 0, 0) == NULL,
          "no rows in an error");
    pg_result_from(&r, res, 1);
    CHECK_STR(kiln_pg_sqlstate(&r), "08006", "libpq's own error on a broken connection");
    PQclear(res);
    pg_result_error(&r, "57P01", "the worker\nis stopping");
    CHECK_STR(kiln_pg_error(&r), "the worker is stopping", "kiln's error, on one line");
    CHECK_STR(kiln_pg_sqlstate(&r), "57P01", "and its SQLSTATE");
    CHECK(kiln_pg_rows(&r) == 0 && kiln_pg_affected(&r) == 0, "no rows");
    CHECK(kiln_pg_error(NULL) != NULL && kiln_pg_rows(NULL) == 0 &&
          kiln_pg_text(NULL, 0, 0) == NULL, "a NULL result reads as an error");
}

int main(void)
{
    parsers();
    messages();
    accessors();
    errors();
    return unit_done();
}

#else

int main(void)
{
    CHECK(1, "pg_result.c # SKIP built without PostgreSQL");
    return unit_done();
}

#endif
