/*
 * form_data.h -- a multipart/form-data body as a request keeps it: its
 * fields (parts without a filename) in a pair list, its files in an upload
 * list, both in a pool.  Pure C over multipart.c (form_data.c,
 * tests/unit/test_multipart.c).
 */
#ifndef KILN_FORM_DATA_H
#define KILN_FORM_DATA_H

#include <stddef.h>

#include "multipart.h"
#include "params.h"

struct pool;

/* A file part.  Its data is in memory: in the input itself when it arrived
 * in one piece, else a copy in the pool.  (The seam for spooling: a later
 * upload whose data is in a temporary file would say so here.) */
struct upload {
    const char *field;              /* the form name */
    const char *filename;           /* as sent: untrusted */
    const char *content_type;
    const char *data;               /* never NULL ("" when empty) */
    size_t len;
};

struct upload_list {
    struct upload *items;
    size_t n, cap;
};

/* A parse in progress (its parser's buffers are large: pool it). */
struct form_data {
    struct multipart mp;
    struct pool *pool;
    struct kv_list *fields;
    struct upload_list *files;
    const char *name, *filename, *ctype;    /* the current part's */
    const char *data;               /* its data so far */
    size_t len, cap;                /* cap 0: data points into the input */
    int oom;
};

/*
 * Starts a parse of a body whose Content-Type is `content_type` (its
 * boundary is read from it), appending fields and files to the lists.
 * NULL, or why not (multipart_boundary()'s reason).
 */
const char *form_data_begin(struct form_data *f, struct pool *pool, const char *content_type,
                            struct kv_list *fields, struct upload_list *files);

/* Feeds data[0..len), which must stay valid as long as the lists (file
 * data may point into it).  0, or -1 on an error. */
int form_data_feed(struct form_data *f, const char *data, size_t len);

/* The body is over: NULL when it parsed, else why not ("out of memory"
 * included); on an error both lists are emptied. */
const char *form_data_end(struct form_data *f);

/* All of body[0..len) at once, the form_data in the pool: as above. */
const char *form_data_parse(struct pool *pool, const char *content_type, const char *body,
                            size_t len, struct kv_list *fields, struct upload_list *files);

#endif
