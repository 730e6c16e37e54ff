/* static_path.c -- the static plugin's path check and a listing's escaping (see static_path.h). */
#include <stdio.h>
#include <string.h>

#include "static_path.h"

/* Whether segment s[0..n) (not the last, empty one) is refused. */
static int bad_segment(const char *s, size_t n, int hidden)
{
    if (n == 0 || (s[0] == '.' && (!hidden || n == 1 || (n == 2 && s[1] == '.'))))
        return 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c == 0x7f || c == '\\')
            return 1;
    }
    return 0;
}

int static_path_ok(const char *path, int hidden)
{
    const char *p = path;

    while (*p) {
        size_t n = strcspn(p, "/");

        if (bad_segment(p, n, hidden))
            return -1;
        p += n;
        if (*p == '/')
            p++;
    }
    return 0;
}

/* Appends byte c (or the string rep) to out[*len], counting what it needs. */
static void put(char *out, size_t size, size_t *len, const char *rep, size_t n)
{
    if (*len + n < size)
        memcpy(out + *len, rep, n);
    *len += n;
}

static void finish(char *out, size_t size, size_t len)
{
    if (size > 0)
        out[len < size ? len : size - 1] = '\0';
}

size_t static_url_escape(char *out, size_t size, const char *s)
{
    size_t len = 0;
    char hex[4];

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
            || strchr("-._~", *p)) {
            put(out, size, &len, (const char *)p, 1);
        } else {
            snprintf(hex, sizeof(hex), "%%%02X", *p);
            put(out, size, &len, hex, 3);
        }
    }
    finish(out, size, len);
    return len;
}

size_t static_html_escape(char *out, size_t size, const char *s)
{
    size_t len = 0;

    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&': put(out, size, &len, "&amp;", 5); break;
        case '<': put(out, size, &len, "&lt;", 4); break;
        case '>': put(out, size, &len, "&gt;", 4); break;
        case '"': put(out, size, &len, "&quot;", 6); break;
        case '\'': put(out, size, &len, "&#39;", 5); break;
        default: put(out, size, &len, p, 1); break;
        }
    }
    finish(out, size, len);
    return len;
}
