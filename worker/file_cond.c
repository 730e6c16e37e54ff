/* file_cond.c -- a file response's ETag, If-None-Match and If-Range matching, HTTP dates and one-range Range parsing (pure C, unit-tested by tests/unit/test_file_cond.c). */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "file_cond.h"

void file_etag(char out[FILE_ETAG_MAX], unsigned long long ino, long long size,
               long long mtime, long nsec)
{
    snprintf(out, FILE_ETAG_MAX, "\"%llx-%llx-%llx.%lx\"", ino, (unsigned long long)size,
             (unsigned long long)mtime, (unsigned long)nsec);
}

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* One entity-tag at p: its opaque-tag (quotes included) in *tag and *len and
 * whether it is weak; the end, or NULL when none parses. */
static const char *etag_next(const char *p, const char **tag, size_t *len, int *weak)
{
    const char *q;

    *weak = p[0] == 'W' && p[1] == '/';
    if (*weak)
        p += 2;
    if (*p != '"')
        return NULL;
    q = strchr(p + 1, '"');
    if (q == NULL)
        return NULL;
    *tag = p;
    *len = (size_t)(q + 1 - p);
    return q + 1;
}

/* Walks an If-None-Match list: 1 when one member's opaque-tag equals
 * etag's, weak or not. */
static int etag_list_has(const char *p, const char *etag)
{
    size_t elen = strlen(etag), len;
    const char *tag;
    int weak;

    for (;;) {
        p = skip_ows(p);
        while (*p == ',')
            p = skip_ows(p + 1);
        if (*p == '\0')
            return 0;
        p = etag_next(p, &tag, &len, &weak);
        if (p == NULL)
            return 0;
        if (len == elen && memcmp(tag, etag, len) == 0)
            return 1;
        p = skip_ows(p);
        if (*p != ',' && *p != '\0')
            return 0;
    }
}

int file_etag_match_weak(const char *list, const char *etag)
{
    const char *p = skip_ows(list);

    if (p[0] == '*' && *skip_ows(p + 1) == '\0')
        return 1;
    return etag_list_has(p, etag);
}

int file_http_date_parse(const char *s, long long *t)
{
    struct tm tm;
    const char *end;
    time_t v;

    memset(&tm, 0, sizeof(tm));
    if (strlen(s) != 29 || s[3] != ',' || strcmp(s + 25, " GMT") != 0)
        return -1;
    end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == NULL || *end != '\0')
        return -1;
    v = timegm(&tm);
    if (v == (time_t)-1)
        return -1;
    *t = (long long)v;
    return 0;
}

/* Digits at *p as a non-negative number (no overflow): 0, or -1. */
static int read_pos(const char **p, long long *v)
{
    const char *q = *p;
    long long n = 0;

    if (!isdigit((unsigned char)*q))
        return -1;
    for (; isdigit((unsigned char)*q); q++) {
        if (n > (0x7fffffffffffffffLL - 9) / 10)
            return -1;
        n = n * 10 + (*q - '0');
    }
    *p = q;
    *v = n;
    return 0;
}

enum file_range file_range_parse(const char *value, long long size, long long *first,
                                 long long *last)
{
    const char *p = skip_ows(value);
    long long a = -1, b = -1;

    if (strncasecmp(p, "bytes=", 6) != 0)
        return FILE_RANGE_WHOLE;
    p = skip_ows(p + 6);
    if (*p != '-' && read_pos(&p, &a) != 0)
        return FILE_RANGE_WHOLE;
    if (*p++ != '-')
        return FILE_RANGE_WHOLE;
    if (isdigit((unsigned char)*p) && read_pos(&p, &b) != 0)
        return FILE_RANGE_WHOLE;
    if (*skip_ows(p) != '\0' || (a < 0 && b < 0) || (a >= 0 && b >= 0 && b < a))
        return FILE_RANGE_WHOLE;    /* several ranges, or no valid one */
    if (a < 0) {                    /* -n: the last n bytes */
        if (b == 0)
            return FILE_RANGE_UNSAT;
        if (size == 0)
            return FILE_RANGE_WHOLE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return FILE_RANGE_PART;
    }
    if (a >= size)
        return FILE_RANGE_UNSAT;
    *first = a;
    *last = b < 0 || b >= size ? size - 1 : b;
    return FILE_RANGE_PART;
}

int file_if_range(const char *value, const char *etag, long long mtime)
{
    const char *p = skip_ows(value);
    long long t;

    if (*p == '"' || (p[0] == 'W' && p[1] == '/')) {
        const char *tag;
        size_t len;
        int weak;
        const char *end = etag_next(p, &tag, &len, &weak);

        return end && *skip_ows(end) == '\0' && !weak && len == strlen(etag)
               && memcmp(tag, etag, len) == 0;
    }
    return file_http_date_parse(p, &t) == 0 && t == mtime;
}
