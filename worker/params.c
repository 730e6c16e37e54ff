/* params.c -- the pair list of a request and its two parsers: urlencoded pairs and Cookie values. */
#include <string.h>

#include "params.h"
#include "pool.h"
#include "url.h"

int kv_push(struct pool *pool, struct kv_list *l, const char *name, const char *value)
{
    if (l->n == l->cap) {
        /* The pool cannot grow a block: the old array stays in it, so the
         * pairs cost at most twice their final array. */
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct kv *items = pool_alloc(pool, cap * sizeof(*items));

        if (items == NULL)
            return -1;
        if (l->n)
            memcpy(items, l->items, l->n * sizeof(*items));
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n].name = name;
    l->items[l->n].value = value;
    l->n++;
    return 0;
}

int kv_at(const struct kv_list *l, size_t i, const char **name, const char **value)
{
    if (i >= l->n)
        return -1;
    if (name)
        *name = l->items[i].name;
    if (value)
        *value = l->items[i].value;
    return 0;
}

const char *kv_nth(const struct kv_list *l, const char *name, size_t n)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].name, name) == 0 && n-- == 0)
            return l->items[i].value;
    return NULL;
}

/* ---- urlencoded ------------------------------------------------------------ */

/* s[0..len) decoded into the pool, NUL-terminated; what cannot be decoded
 * is copied as it is.  NULL out of memory. */
static char *decode(struct pool *pool, const char *s, size_t len)
{
    char *out = pool_alloc(pool, len + 1), *o = out;
    size_t i;

    if (out == NULL)
        return NULL;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int hi = -1, lo = -1;

        if (c == '%' && len - i >= 3) {
            hi = url_hexval((unsigned char)s[i + 1]);
            lo = url_hexval((unsigned char)s[i + 2]);
        }
        if (hi >= 0 && lo >= 0 && (hi | lo) != 0) {
            *o++ = (char)(hi << 4 | lo);
            i += 2;
        } else
            *o++ = c == '+' ? ' ' : (char)c;
    }
    *o = '\0';
    return out;
}

/* One non-empty piece "name[=value]".  0, or -1 out of memory. */
static int urlencoded_pair(struct pool *pool, struct kv_list *l, const char *s, size_t n)
{
    const char *eq = memchr(s, '=', n);
    size_t nlen = eq ? (size_t)(eq - s) : n;
    const char *name = decode(pool, s, nlen);
    const char *value = eq ? decode(pool, eq + 1, n - nlen - 1) : "";

    if (name == NULL || value == NULL)
        return -1;
    return kv_push(pool, l, name, value);
}

int params_parse_urlencoded(struct pool *pool, struct kv_list *l, const char *s, size_t len)
{
    const char *p = s, *end = s + len;

    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;

        if (stop > p && urlencoded_pair(pool, l, p, (size_t)(stop - p)) != 0)
            return -1;
        p = stop + 1;
    }
    return 0;
}

/* ---- cookies ----------------------------------------------------------------- */

static int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims white space off both ends of [*s, *e). */
static void trim(const char **s, const char **e)
{
    while (*s < *e && is_ws(**s))
        (*s)++;
    while (*e > *s && is_ws((*e)[-1]))
        (*e)--;
}

/* One piece between ';'s.  0 (kept or skipped), or -1 out of memory. */
static int cookie_pair(struct pool *pool, struct kv_list *l, const char *s, const char *e)
{
    const char *eq = memchr(s, '=', (size_t)(e - s));
    const char *ne, *vs;
    char *name, *value;

    if (eq == NULL)
        return 0;
    ne = eq;
    vs = eq + 1;
    trim(&s, &ne);
    trim(&vs, &e);
    if (ne == s)
        return 0;
    if (e - vs >= 2 && vs[0] == '"' && e[-1] == '"') {
        vs++;
        e--;
    }
    name = pool_strndup(pool, s, (size_t)(ne - s));
    value = pool_strndup(pool, vs, (size_t)(e - vs));
    if (name == NULL || value == NULL)
        return -1;
    return kv_push(pool, l, name, value);
}

int params_parse_cookies(struct pool *pool, struct kv_list *l, const char *s, size_t len)
{
    const char *p = s, *end = s + len;

    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *stop = semi ? semi : end;

        if (cookie_pair(pool, l, p, stop) != 0)
            return -1;
        p = stop + 1;
    }
    return 0;
}
