/* type_list.c -- lists of media types (gzip_types): their syntax, and whether a Content-Type is in one (see type_list.h). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "type_list.h"

/* An RFC 9110 tchar. */
static int tchar(unsigned char c)
{
    return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The length of the token at s (possibly 0), stopping at '*' when !star. */
static size_t token_len(const char *s, size_t n, int star)
{
    size_t i = 0;

    while (i < n && tchar((unsigned char)s[i]) && (star || s[i] != '*'))
        i++;
    return i;
}

/* Whether s[0..n) is a lone star, type/star, type/star+suffix or
 * type/subtype. */
static int entry_ok(const char *s, size_t n)
{
    size_t t;

    if (n == 1 && s[0] == '*')
        return 1;
    t = token_len(s, n, 0);
    if (t == 0 || t >= n || s[t] != '/')
        return 0;
    s += t + 1;
    n -= t + 1;
    if (n == 1 && s[0] == '*')
        return 1;
    if (n > 2 && s[0] == '*' && s[1] == '+')
        return token_len(s + 2, n - 2, 0) == n - 2;
    return n > 0 && token_len(s, n, 0) == n;
}

int type_list_parse(const char *value, char *out, size_t outlen, char *why,
                    size_t whylen)
{
    const char *p = value;
    size_t o = 0;

    while (*p != '\0') {
        size_t n;

        p += strspn(p, " \t");
        n = strcspn(p, " \t");
        if (n == 0)
            break;
        if (!entry_ok(p, n)) {
            snprintf(why, whylen, "\"%.*s\" is not type/subtype, type/*, type/*+suffix or *",
                     (int)n, p);
            return -1;
        }
        if (o + n + 2 > outlen) {
            snprintf(why, whylen, "the list is longer than %zu characters", outlen - 1);
            return -1;
        }
        if (o > 0)
            out[o++] = ' ';
        for (size_t i = 0; i < n; i++)
            out[o++] = (char)tolower((unsigned char)p[i]);
        p += n;
    }
    if (o == 0) {
        snprintf(why, whylen, "expected media types like text/* application/json, or *");
        return -1;
    }
    out[o] = '\0';
    return 0;
}

/* Whether the list entry e[0..en) covers the type t[0..tn) ("a/b"). */
static int entry_match(const char *e, size_t en, const char *t, size_t tn)
{
    const char *es = memchr(e, '/', en), *ts;
    size_t tl, sl;

    if (es == NULL)                             /* a lone star */
        return 1;
    if (es[1] != '*')
        return en == tn && strncasecmp(e, t, tn) == 0;
    ts = memchr(t, '/', tn);
    tl = (size_t)(es - e);
    if (ts == NULL || (size_t)(ts - t) != tl || strncasecmp(e, t, tl) != 0)
        return 0;
    sl = en - tl - 2;                           /* "+suffix" after the star, or 0 */
    return sl == 0 || (tn - tl - 1 > sl && strncasecmp(t + tn - sl, es + 2, sl) == 0);
}

int type_list_match(const char *list, const char *content_type, size_t len)
{
    const char *t = content_type, *end;
    size_t tn;

    if (list == NULL || content_type == NULL)
        return 0;
    end = memchr(t, ';', len);
    if (end == NULL)
        end = t + len;
    while (t < end && (*t == ' ' || *t == '\t'))
        t++;
    while (end > t && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    tn = (size_t)(end - t);
    if (tn == 0)
        return 0;
    for (const char *e = list; *e != '\0';) {
        size_t en = strcspn(e, " ");

        if (entry_match(e, en, t, tn))
            return 1;
        e += en;
        e += *e == ' ';
    }
    return 0;
}
