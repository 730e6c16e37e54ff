/*
 * form_data.c -- collects a multipart/form-data body's parts as multipart.c
 * reports them: fields into a pair list, files into an upload list, their
 * strings and data in a pool, or a file's data, past a threshold, in a
 * temporary file (spool.c).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "form_data.h"
#include "pool.h"
#include "spool.h"

static const char *pool_dup(struct pool *pool, const char *s)
{
    return s ? pool_strndup(pool, s, strlen(s)) : NULL;
}

static int part_begin(void *ud, const struct mp_part *part)
{
    struct form_data *f = ud;

    f->name = pool_dup(f->pool, part->name);
    f->filename = pool_dup(f->pool, part->filename);
    f->ctype = pool_dup(f->pool, part->content_type);
    f->data = "";
    f->len = f->cap = 0;
    f->fd = -1;
    if (f->name == NULL || f->ctype == NULL || (part->filename && f->filename == NULL))
        return f->oom = -1;
    return 0;
}

/* Stops the parse with an HTTP status (and the errno of a 500). */
static int stop(struct form_data *f, int status)
{
    f->status = status;
    f->err = errno;
    return -1;
}

/* The current file's data goes to a temporary file from now on: what was
 * kept in memory first. */
static int spool_begin(struct form_data *f)
{
    f->fd = spool_open(f->spool->dir);
    if (f->fd < 0 || spool_write(f->fd, f->data, f->len) < 0)
        return stop(f, 500);
    return 0;
}

/* A spooling parse's file data: counted against max_file, then written to
 * its temporary file once past the threshold.  1: taken; 0: for the pool;
 * -1: the parse stops. */
static int spool_data(struct form_data *f, const char *p, size_t n)
{
    const struct form_spool *sp = f->spool;

    if (sp == NULL || f->filename == NULL)
        return 0;
    if (sp->max_file && f->len + n > sp->max_file)
        return stop(f, 413);
    if (f->fd < 0 && f->len + n > sp->threshold && spool_begin(f) < 0)
        return -1;
    if (f->fd < 0)
        return 0;
    if (spool_write(f->fd, p, n) < 0)
        return stop(f, 500);
    f->len += n;
    return 1;
}

/* Data arriving right after what came before, in the same input, is only
 * counted (unless the input does not stay: a spooling parse); anything
 * else makes (or grows) a copy in the pool. */
static int part_data(void *ud, const char *p, size_t n)
{
    struct form_data *f = ud;
    char *copy;
    int spooled = spool_data(f, p, n);

    if (spooled != 0)
        return spooled < 0 ? -1 : 0;
    if (f->spool == NULL && f->cap == 0 && (f->len == 0 || p == f->data + f->len)) {
        if (f->len == 0)
            f->data = p;
        f->len += n;
        return 0;
    }
    if (f->len + n >= f->cap) {
        size_t cap = f->cap * 2 > f->len + n + 1 ? f->cap * 2 : f->len + n + 1;

        copy = pool_alloc(f->pool, cap < 256 ? 256 : cap);
        if (copy == NULL)
            return f->oom = -1;
        memcpy(copy, f->data, f->len);
        f->data = copy;
        f->cap = cap < 256 ? 256 : cap;
    }
    memcpy((char *)f->data + f->len, p, n);
    f->len += n;
    return 0;
}

static int push_file(struct form_data *f)
{
    struct upload_list *l = f->files;
    struct upload *u;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        struct upload *items = pool_alloc(f->pool, cap * sizeof(*items));

        if (items == NULL)
            return -1;
        if (l->n)
            memcpy(items, l->items, l->n * sizeof(*items));
        l->items = items;
        l->cap = cap;
    }
    u = &l->items[l->n++];
    u->field = f->name;
    u->filename = f->filename;
    u->content_type = f->ctype;
    u->data = f->fd >= 0 ? NULL : f->data;
    u->len = f->len;
    u->fd = f->fd;
    f->fd = -1;                     /* the list's now */
    return 0;
}

static int part_end(void *ud)
{
    struct form_data *f = ud;
    const char *value;

    if (f->filename != NULL) {
        if (push_file(f) != 0)
            return f->oom = -1;
        return 0;
    }
    value = pool_strndup(f->pool, f->data, f->len);
    if (value == NULL || kv_push(f->pool, f->fields, f->name, value) != 0)
        return f->oom = -1;
    return 0;
}

static const struct mp_callbacks collect = { part_begin, part_data, part_end };

const char *form_data_begin(struct form_data *f, struct pool *pool, const char *content_type,
                            struct kv_list *fields, struct upload_list *files)
{
    char boundary[MP_BOUNDARY_MAX + 1];
    const char *why = multipart_boundary(content_type, boundary);

    if (why != NULL)
        return why;
    f->pool = pool;
    f->fields = fields;
    f->files = files;
    f->name = f->filename = f->ctype = NULL;
    f->data = "";
    f->len = f->cap = 0;
    f->oom = 0;
    f->spool = NULL;
    f->fd = -1;
    f->status = f->err = 0;
    multipart_init(&f->mp, boundary, &collect, f);
    return NULL;
}

int form_data_feed(struct form_data *f, const char *data, size_t len)
{
    return multipart_feed(&f->mp, data, len);
}

void form_data_spool(struct form_data *f, const struct form_spool *sp)
{
    f->spool = sp;
}

void form_data_close(struct form_data *f)
{
    struct upload_list *l = f->files;

    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    for (size_t i = 0; i < l->n; i++) {
        struct upload *u = &l->items[i];

        if (u->fd < 0)
            continue;
        if (u->data != NULL)
            spool_unmap(u->data, u->len);
        close(u->fd);
        u->fd = -1;
        u->data = "";
        u->len = 0;
    }
}

const char *form_data_end(struct form_data *f)
{
    if (multipart_finish(&f->mp) == 0)
        return NULL;
    form_data_close(f);
    f->fields->n = 0;
    f->files->n = 0;
    if (f->status == 413)
        return "a file is over max_upload_file_size";
    if (f->status == 500)
        return "a temporary file could not be written";
    return f->oom ? "out of memory" : multipart_error(&f->mp);
}

const char *form_data_parse(struct pool *pool, const char *content_type, const char *body,
                            size_t len, struct kv_list *fields, struct upload_list *files)
{
    struct form_data *f = pool_alloc(pool, sizeof(*f));
    const char *why;

    if (f == NULL)
        return "out of memory";
    why = form_data_begin(f, pool, content_type, fields, files);
    if (why != NULL)
        return why;
    form_data_feed(f, body, len);
    return form_data_end(f);
}
