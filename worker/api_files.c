/*
 * api_files.c -- the files of a multipart/form-data body (kiln_file_*) and
 * why such a body did not parse (kiln_form_error): read from the lists
 * that request_form() fills on first use.
 */
#include <string.h>

#include "kiln.h"
#include "request.h"

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

KILN_EXPORT const void *kiln_upload_data(kiln_req *req, size_t i, size_t *len)
{
    const struct upload *u = file(req, i);

    if (len != NULL)
        *len = u ? u->len : 0;
    return u ? u->data : NULL;
}
