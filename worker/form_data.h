/*
 * form_data.h -- a multipart/form-data body as a request keeps it: its
 * fields (parts without a filename) in a pair list, its files in an upload
 * list, both in a pool, a large file's data in a temporary file (spool.c).
 * C over multipart.c and spool.c (form_data.c, tests/unit/test_multipart.c).
 */
#ifndef KILN_FORM_DATA_H
#define KILN_FORM_DATA_H

#include <stddef.h>

#include "multipart.h"
#include "params.h"

struct pool;

/* A file part.  Its data is in memory (in the input itself when it arrived
 * in one piece, else a copy in the pool), or, spooled, in a temporary file
 * of its own (fd), mapped on demand. */
struct upload {
    const char *field;              /* the form name */
    const char *filename;           /* as sent: untrusted */
    const char *content_type;
    const char *data;               /* in memory: never NULL ("" when empty);
                                       spooled: the mapping, NULL until made */
    size_t len;
    int fd;                         /* spooled: the temporary file; else -1 */
};

/* Where a body parsed as it arrives puts its files. */
struct form_spool {
    const char *dir;                /* upload_dir: the temporary files' */
    size_t threshold;               /* a file past this many bytes is spooled */
    size_t max_file;                /* a file past this is refused; 0: no limit */
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
    const struct form_spool *spool; /* NULL: the input stays valid, all in memory */
    int fd;                         /* the current part's temporary file, or -1 */
    int status;                     /* why the parse stopped, as an HTTP status:
                                       413 (a file over max_file), 500 (a temporary
                                       file could not be written); 0: neither */
    int err;                        /* ... and the errno of a 500 */
};

/*
 * Starts a parse of a body whose Content-Type is `content_type` (its
 * boundary is read from it), appending fields and files to the lists.
 * NULL, or why not (multipart_boundary()'s reason).
 */
const char *form_data_begin(struct form_data *f, struct pool *pool, const char *content_type,
                            struct kv_list *fields, struct upload_list *files);

/*
 * Makes the parse begun on f copy what it keeps (the input need not stay
 * valid after each feed) and spool each file past sp->threshold bytes to
 * a temporary file in sp->dir (sp stays valid through the parse).  A file
 * over sp->max_file stops the parse with f->status 413; a temporary file
 * that cannot be made or written, with 500 (f->err the errno).
 */
void form_data_spool(struct form_data *f, const struct form_spool *sp);

/* Feeds data[0..len), which must stay valid as long as the lists (file
 * data may point into it) unless form_data_spool() said otherwise.  0, or
 * -1 on an error. */
int form_data_feed(struct form_data *f, const char *data, size_t len);

/* The body is over: NULL when it parsed, else why not ("out of memory"
 * included); on an error both lists are emptied. */
const char *form_data_end(struct form_data *f);

/* Closes the temporary files of f's parse (its files' and the current
 * part's) and unmaps their data; the lists keep their entries.  At the
 * request's end, whatever state the parse is in. */
void form_data_close(struct form_data *f);

/* All of body[0..len) at once, the form_data in the pool: as above. */
const char *form_data_parse(struct pool *pool, const char *content_type, const char *body,
                            size_t len, struct kv_list *fields, struct upload_list *files);

#endif
