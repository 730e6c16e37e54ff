/*
 * fuzz_params.c -- libFuzzer harness of worker/params.c, called directly:
 * the urlencoded pair parser (query strings, form bodies) and the Cookie
 * parser.
 *
 * Input: all of it is a form body for the urlencoded parser (raw NULs
 * included); up to its first NUL, it is a Cookie header value too.  The
 * urlencoded pairs must be exactly the non-empty '&' pieces, and, for an
 * input without NUL, each pair percent-encoded whole and parsed again must
 * give the same pair (nothing lost: a bad escape stays as its bytes).  The
 * cookies must be at most the ';' pieces, with names non-empty, free of
 * '=', ';' and surrounding white space, and values free of ';'.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "pool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void defect(const char *what)
{
    fprintf(stderr, "fuzz_params: %s\n", what);
    abort();
}

static size_t pieces(const char *s, size_t len, char sep)
{
    size_t n = 0, i, start = 0;

    for (i = 0; i <= len; i++)
        if (i == len || s[i] == sep) {
            n += i > start;
            start = i + 1;
        }
    return n;
}

/* s percent-encoded whole (every byte but letters and digits) into o. */
static char *encode(char *o, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    return o;
}

static void check_round_trip(struct pool *pool, const struct kv *kv)
{
    struct kv_list again = {0};
    char *enc = pool_alloc(pool, 3 * (strlen(kv->name) + strlen(kv->value)) + 2), *o;

    if (enc == NULL)
        return;
    o = encode(enc, kv->name);
    *o++ = '=';
    o = encode(o, kv->value);
    if (params_parse_urlencoded(pool, &again, enc, (size_t)(o - enc)) != 0)
        return;
    if (again.n != 1 || strcmp(again.items[0].name, kv->name) != 0 ||
        strcmp(again.items[0].value, kv->value) != 0)
        defect("a pair encoded and parsed again is another pair");
}

static void check_urlencoded(struct pool *pool, const char *s, size_t len)
{
    struct kv_list l = {0};
    int has_nul = memchr(s, '\0', len) != NULL;

    if (params_parse_urlencoded(pool, &l, s, len) != 0)
        return;
    if (l.n != pieces(s, len, '&'))
        defect("not one pair per non-empty '&' piece");
    for (size_t i = 0; i < l.n; i++) {
        if (strlen(l.items[i].name) + strlen(l.items[i].value) > len)
            defect("a pair longer than its input");
        if (!has_nul)
            check_round_trip(pool, &l.items[i]);
    }
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static void check_cookies(struct pool *pool, const char *s, size_t len)
{
    struct kv_list l = {0};

    if (params_parse_cookies(pool, &l, s, len) != 0)
        return;
    if (l.n > pieces(s, len, ';'))
        defect("more cookies than ';' pieces");
    for (size_t i = 0; i < l.n; i++) {
        const char *n = l.items[i].name, *v = l.items[i].value;
        size_t nl = strlen(n);

        if (nl == 0 || is_ws(n[0]) || is_ws(n[nl - 1]) || strpbrk(n, "=;") != NULL)
            defect("a cookie name empty, padded, or holding '=' or ';'");
        if (strchr(v, ';') != NULL || nl + strlen(v) > len)
            defect("a cookie value holding ';', or longer than its input");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct pool pool;
    const char *nul = memchr(s, '\0', size);

    pool_init(&pool, 4096);
    check_urlencoded(&pool, s, size);
    check_cookies(&pool, s, nul ? (size_t)(nul - s) : size);
    pool_free(&pool);
    return 0;
}
