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

/* An output buffer: what it needs (len) and what fits whole in it (kept). */
struct out {
    char *p;
    size_t size, len, kept;
};

/* Appends rep[0..n) when it fits whole (with room for the NUL). */
static void put(struct out *o, const char *rep, size_t n)
{
    if (o->kept == o->len && o->len + n < o->size) {
        memcpy(o->p + o->len, rep, n);
        o->kept += n;
    }
    o->len += n;
}

static size_t finish(struct out *o)
{
    if (o->size > 0)
        o->p[o->kept] = '\0';
    return o->len;
}

size_t static_url_escape(char *out, size_t size, const char *s)
{
    struct out o = {out, size, 0, 0};
    char hex[4];

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
            || strchr("-._~", *p)) {
            put(&o, (const char *)p, 1);
        } else {
            snprintf(hex, sizeof(hex), "%%%02X", *p);
            put(&o, hex, 3);
        }
    }
    return finish(&o);
}

size_t static_html_escape(char *out, size_t size, const char *s)
{
    struct out o = {out, size, 0, 0};

    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&': put(&o, "&amp;", 5); break;
        case '<': put(&o, "&lt;", 4); break;
        case '>': put(&o, "&gt;", 4); break;
        case '"': put(&o, "&quot;", 6); break;
        case '\'': put(&o, "&#39;", 5); break;
        default: put(&o, p, 1); break;
        }
    }
    return finish(&o);
}
