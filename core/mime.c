/* mime.c -- the table of media types by extension: one open-addressing hash of lower-cased extensions, built from a mime.types file. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"

#define MIME_MAX_FILE (4 * 1024 * 1024)  /* a mime.types larger is refused */
#define MIME_MAX_EXT 64                  /* longer extensions are skipped */

struct mime_entry {
    char *ext;                  /* lower case; NULL: a free slot */
    const char *type;           /* in types */
};

struct mime_table {
    struct mime_entry *slots;
    size_t cap;                 /* a power of two, at least twice n */
    size_t n;
    char **types;               /* each distinct type's text, owned */
    size_t ntypes, captypes;
};

/* dst = src[0..n) in lower case (ASCII), for n <= MIME_MAX_EXT. */
static void lower_copy(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)((src[i] >= 'A' && src[i] <= 'Z') ? src[i] + 32 : src[i]);
}

static uint32_t hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;   /* FNV-1a */

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

/* The slot of ext (n bytes, lower case): its entry, or the free slot where
 * it would go. */
static struct mime_entry *slot(const struct mime_table *t, const char *ext, size_t n)
{
    size_t i = hash(ext, n) & (t->cap - 1);

    while (t->slots[i].ext != NULL &&
           (strlen(t->slots[i].ext) != n || memcmp(t->slots[i].ext, ext, n) != 0))
        i = (i + 1) & (t->cap - 1);
    return &t->slots[i];
}

static int grow(struct mime_table *t)
{
    struct mime_table bigger = *t;
    size_t i;

    bigger.cap = t->cap ? t->cap * 2 : 256;
    bigger.slots = calloc(bigger.cap, sizeof *bigger.slots);
    if (bigger.slots == NULL)
        return -1;
    for (i = 0; i < t->cap; i++)
        if (t->slots[i].ext != NULL)
            *slot(&bigger, t->slots[i].ext, strlen(t->slots[i].ext)) = t->slots[i];
    free(t->slots);
    *t = bigger;
    return 0;
}

/* Keeps a copy of type[0..n); NULL on OOM. */
static const char *add_type(struct mime_table *t, const char *type, size_t n)
{
    char **v;

    if (t->ntypes == t->captypes) {
        size_t cap = t->captypes ? t->captypes * 2 : 256;

        v = realloc(t->types, cap * sizeof *v);
        if (v == NULL)
            return NULL;
        t->types = v;
        t->captypes = cap;
    }
    t->types[t->ntypes] = strndup(type, n);
    return t->types[t->ntypes] ? t->types[t->ntypes++] : NULL;
}

/* Maps ext[0..n) to type, replacing what an earlier line gave it.  0, -1. */
static int add_ext(struct mime_table *t, const char *ext, size_t n, const char *type)
{
    struct mime_entry *e;
    char lower[MIME_MAX_EXT + 1];

    if (n > MIME_MAX_EXT)
        return 0;
    lower_copy(lower, ext, n);
    if ((t->n + 1) * 2 > t->cap && grow(t) < 0)
        return -1;
    e = slot(t, lower, n);
    if (e->ext == NULL) {
        e->ext = strndup(lower, n);
        if (e->ext == NULL)
            return -1;
        t->n++;
    }
    e->type = type;
    return 0;
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

/* One line: "type ext ext ..." (a type with no extension adds nothing). */
static int parse_line(struct mime_table *t, const char *p, const char *end)
{
    const char *type, *word, *kept = NULL;
    size_t typelen;

    while (p < end && is_space(*p))
        p++;
    if (p == end || *p == '#')
        return 0;
    for (type = p; p < end && !is_space(*p); p++)
        ;
    typelen = (size_t)(p - type);
    if (memchr(type, '/', typelen) == NULL)
        return 0;                   /* not a type: skipped */
    for (;;) {
        while (p < end && is_space(*p))
            p++;
        if (p == end || *p == '#')
            return 0;
        for (word = p; p < end && !is_space(*p); p++)
            ;
        if (kept == NULL && (kept = add_type(t, type, typelen)) == NULL)
            return -1;
        if (add_ext(t, word, (size_t)(p - word), kept) < 0)
            return -1;
    }
}

struct mime_table *mime_parse(const char *text, size_t len)
{
    struct mime_table *t = calloc(1, sizeof *t);
    const char *p = text, *end = text + len, *nl;

    if (t == NULL || grow(t) < 0)
        goto fail;
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (parse_line(t, p, nl ? nl : end) < 0)
            goto fail;
        p = nl ? nl + 1 : end;
    }
    return t;
fail:
    mime_free(t);
    return NULL;
}

struct mime_table *mime_load(const char *file, char *err, size_t errlen)
{
    struct mime_table *t = NULL;
    FILE *fp = fopen(file, "re");
    char *text = NULL;
    long size;

    errno = fp ? 0 : errno;
    if (fp == NULL)
        goto fail;
    if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0)
        goto fail;
    if (size > MIME_MAX_FILE) {
        errno = EFBIG;
        goto fail;
    }
    text = malloc((size_t)size + 1);
    if (text == NULL || fread(text, 1, (size_t)size, fp) != (size_t)size)
        goto fail;
    t = mime_parse(text, (size_t)size);
    if (t == NULL)
        errno = ENOMEM;
fail:
    if (t == NULL)
        snprintf(err, errlen, "%s: %s", file, strerror(errno ? errno : EIO));
    free(text);
    if (fp != NULL)
        fclose(fp);
    return t;
}

const char *mime_lookup(const struct mime_table *t, const char *path)
{
    const char *base, *dot;
    char lower[MIME_MAX_EXT + 1];
    size_t n;

    if (t == NULL || path == NULL)
        return NULL;
    base = strrchr(path, '/');
    base = base ? base + 1 : path;
    dot = strrchr(base, '.');
    if (dot == NULL || dot == base || dot[1] == '\0')
        return NULL;
    n = strlen(dot + 1);
    if (n > MIME_MAX_EXT)
        return NULL;
    lower_copy(lower, dot + 1, n);
    return slot(t, lower, n)->type;
}

size_t mime_count(const struct mime_table *t)
{
    return t ? t->n : 0;
}

void mime_free(struct mime_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->cap; i++)
        free(t->slots[i].ext);
    for (size_t i = 0; i < t->ntypes; i++)
        free(t->types[i]);
    free(t->slots);
    free(t->types);
    free(t);
}
