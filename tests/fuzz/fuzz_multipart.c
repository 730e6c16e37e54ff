/*
 * fuzz_multipart.c -- libFuzzer harness of worker/multipart.c and
 * worker/form_data.c, called directly: a Content-Type value and a
 * multipart/form-data body.
 *
 * Input: up to its first '\n', a Content-Type value (the boundary is read
 * from it); the rest is the body.  The body parsed in one piece and fed in
 * pieces (cut at a third and at two thirds, and, for a short body, byte by
 * byte) must give the same outcome: the same error, or the same fields and
 * files, byte for byte.  On an error both lists are empty; otherwise there
 * are at most MP_PARTS_MAX parts, and the file data, in all, is no longer
 * than the body.  Parsed once more as a request parses it while it arrives
 * (form_data_spool(): each piece in a buffer scribbled over and freed after
 * its feed, files past SPOOL_AT bytes in temporary files), the outcome is
 * the same again, read through the files' mappings, and exactly the files
 * past SPOOL_AT are spooled.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "form_data.h"
#include "multipart.h"
#include "pool.h"
#include "spool.h"

#define SPOOL_AT 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void defect(const char *what)
{
    fprintf(stderr, "fuzz_multipart: %s\n", what);
    abort();
}

struct outcome {
    const char *error;
    struct kv_list fields;
    struct upload_list files;
};

/* Parses body[0..len) fed in pieces of `step` bytes (0: at `cut1` and
 * `cut2` only). */
static void parse(struct pool *p, const char *ct, const char *body, size_t len, size_t step,
                  size_t cut1, size_t cut2, struct outcome *o)
{
    struct form_data *f = pool_alloc(p, sizeof(*f));
    size_t at = 0;

    memset(&o->fields, 0, sizeof(o->fields));
    memset(&o->files, 0, sizeof(o->files));
    if (f == NULL)
        defect("out of memory");
    o->error = form_data_begin(f, p, ct, &o->fields, &o->files);
    if (o->error != NULL)
        return;
    while (at < len) {
        size_t end = step ? at + step : at < cut1 ? cut1 : at < cut2 ? cut2 : len;

        if (end > len)
            end = len;
        form_data_feed(f, body + at, end - at);
        at = end;
    }
    o->error = form_data_end(f);
}

/* As parse(), with a spooling parse whose input does not stay; f's
 * temporary files stay open for the comparison (form_data_close()). */
static struct form_data *parse_spooled(struct pool *p, const char *ct, const char *body,
                                       size_t len, struct outcome *o)
{
    static const struct form_spool sp = { NULL, SPOOL_AT, 0 };
    static struct form_spool spool;
    struct form_data *f = pool_alloc(p, sizeof(*f));
    size_t at = 0, step = len / 5 + 1;

    spool = sp;
    spool.dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    memset(&o->fields, 0, sizeof(o->fields));
    memset(&o->files, 0, sizeof(o->files));
    if (f == NULL)
        defect("out of memory");
    o->error = form_data_begin(f, p, ct, &o->fields, &o->files);
    if (o->error != NULL)
        return NULL;
    form_data_spool(f, &spool);
    while (at < len) {
        size_t n = at + step > len ? len - at : step;
        char *piece = malloc(n);

        if (piece == NULL)
            defect("out of memory");
        memcpy(piece, body + at, n);
        form_data_feed(f, piece, n);
        memset(piece, 0xAA, n);         /* nothing may point into it now */
        free(piece);
        at += n;
    }
    o->error = form_data_end(f);
    for (size_t i = 0; i < o->files.n; i++) {
        struct upload *u = &o->files.items[i];

        if ((u->fd >= 0) != (u->len > SPOOL_AT))
            defect("a file spooled below the threshold, or not above it");
        if (u->fd >= 0 && (u->data = spool_map(u->fd, u->len)) == NULL)
            defect("a spooled file that does not map");
    }
    return f;
}

static int same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void compare(const struct outcome *a, const struct outcome *b)
{
    if (!same_str(a->error, b->error))
        defect("a different error when fed in pieces");
    if (a->fields.n != b->fields.n || a->files.n != b->files.n)
        defect("a different number of parts when fed in pieces");
    for (size_t i = 0; i < a->fields.n; i++)
        if (!same_str(a->fields.items[i].name, b->fields.items[i].name)
            || !same_str(a->fields.items[i].value, b->fields.items[i].value))
            defect("a different field when fed in pieces");
    for (size_t i = 0; i < a->files.n; i++) {
        const struct upload *x = &a->files.items[i], *y = &b->files.items[i];

        if (!same_str(x->field, y->field) || !same_str(x->filename, y->filename)
            || !same_str(x->content_type, y->content_type) || x->len != y->len
            || memcmp(x->data, y->data, x->len) != 0)
            defect("a different file when fed in pieces");
    }
}

static void check(const struct outcome *o, size_t len)
{
    size_t total = 0;

    if (o->error != NULL && (o->fields.n != 0 || o->files.n != 0))
        defect("parts kept after an error");
    if (o->fields.n + o->files.n > MP_PARTS_MAX)
        defect("more parts than the limit");
    for (size_t i = 0; i < o->files.n; i++) {
        if (o->files.items[i].data == NULL || o->files.items[i].filename == NULL)
            defect("a file without data or name");
        total += o->files.items[i].len;
    }
    if (total > len)
        defect("more file data than body");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    size_t ctlen = nl ? (size_t)(nl - (const char *)data) : size;
    char *ct = malloc(ctlen + 1), *body;
    size_t len = nl ? size - ctlen - 1 : 0;
    struct pool p;
    struct outcome whole, cut, bytes, spooled;
    struct form_data *f;

    if (ct == NULL)
        return 0;
    memcpy(ct, data, ctlen);
    ct[ctlen] = '\0';
    body = malloc(len ? len : 1);
    if (body == NULL) {
        free(ct);
        return 0;
    }
    memcpy(body, data + ctlen + (nl != NULL), len);
    pool_init(&p, 4096);
    parse(&p, ct, body, len, len ? len : 1, 0, 0, &whole);
    check(&whole, len);
    parse(&p, ct, body, len, 0, len / 3, 2 * len / 3, &cut);
    compare(&whole, &cut);
    if (len <= 4096) {
        parse(&p, ct, body, len, 1, 0, 0, &bytes);
        compare(&whole, &bytes);
    }
    f = parse_spooled(&p, ct, body, len, &spooled);
    compare(&whole, &spooled);
    if (f != NULL)
        form_data_close(f);
    pool_free(&p);
    free(body);
    free(ct);
    return 0;
}
