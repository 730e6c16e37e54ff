/*
 * api_files.c -- the files of a multipart/form-data body (kiln_upload_*)
 * and why such a body did not parse (kiln_form_error): read from the lists
 * that request_form() fills on first use, or that the body filled as it
 * arrived (body.c), a spooled file's data mapped on demand.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "kiln.h"
#include "log.h"
#include "request.h"
#include "spool.h"

/* The i-th file part, or NULL. */
static const struct upload *file(kiln_req *req, size_t i)
{
    request_form(req);
    return i < req->files.n ? &req->files.items[i] : NULL;
}

KILN_EXPORT const char *kiln_form_error(kiln_req *req)
{
    request_form(req);
    return req->form_error;
}

KILN_EXPORT size_t kiln_upload_count(kiln_req *req)
{
    request_form(req);
    return req->files.n;
}

KILN_EXPORT long kiln_upload_find(kiln_req *req, const char *field, size_t n)
{
    request_form(req);
    for (size_t i = 0; field != NULL && i < req->files.n; i++)
        if (strcmp(req->files.items[i].field, field) == 0 && n-- == 0)
            return (long)i;
    return -1;
}

KILN_EXPORT const char *kiln_upload_field(kiln_req *req, size_t i)
{
    const struct upload *u = file(req, i);

    return u ? u->field : NULL;
}

KILN_EXPORT const char *kiln_upload_name(kiln_req *req, size_t i)
{
    const struct upload *u = file(req, i);

    return u ? u->filename : NULL;
}

KILN_EXPORT const char *kiln_upload_type(kiln_req *req, size_t i)
{
    const struct upload *u = file(req, i);

    return u ? u->content_type : NULL;
}

KILN_EXPORT size_t kiln_upload_size(kiln_req *req, size_t i)
{
    const struct upload *u = file(req, i);

    return u ? u->len : 0;
}

/* A spooled file's data, mapped on first use (unmapped with the request,
 * form_data_close()). */
static const char *mapped(struct upload *u)
{
    if (u->data == NULL && (u->data = spool_map(u->fd, u->len)) == NULL)
        log_error("upload \"%s\": mmap of its %zu bytes: %s", u->field, u->len,
                  strerror(errno));
    return u->data;
}

KILN_EXPORT const void *kiln_upload_data(kiln_req *req, size_t i, size_t *len)
{
    struct upload *u = (struct upload *)file(req, i);
    const char *data = u == NULL ? NULL : u->fd >= 0 ? mapped(u) : u->data;

    if (len != NULL)
        *len = data ? u->len : 0;
    return data;
}

KILN_EXPORT int kiln_upload_spooled(kiln_req *req, size_t i)
{
    const struct upload *u = file(req, i);

    return u != NULL && u->fd >= 0;
}

KILN_EXPORT int kiln_upload_fd(kiln_req *req, size_t i)
{
    const struct upload *u = file(req, i);

    if (u == NULL || u->fd < 0)
        return -1;
    lseek(u->fd, 0, SEEK_SET);
    return u->fd;
}

KILN_EXPORT int kiln_upload_save(kiln_req *req, size_t i, const char *path)
{
    const struct upload *u = file(req, i);

    if (u == NULL || path == NULL) {
        errno = EINVAL;
        return -1;
    }
    if (u->fd >= 0)
        return spool_save_fd(u->fd, u->len, path);
    return spool_save_data(u->data, u->len, path);
}
