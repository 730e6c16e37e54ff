/*
 * api_params.c -- the request's pairs as plugins read them: every query
 * parameter (kiln_query*), cookies (kiln_cookie*) and form fields
 * (kiln_form*), urlencoded or multipart (form_data.c; its files are read
 * through api_files.c).  Each list is parsed into the request's pool on its
 * first use; a list whose parse ran out of memory reads as empty.
 */
#include <string.h>
#include <strings.h>

#include "kiln.h"
#include "params.h"
#include "request.h"

/* Parses the query string once.  The list, or NULL out of memory. */
static const struct kv_list *query_list(kiln_req *req)
{
    const char *qs = req->query ? req->query : "";

    if (!req->query_parsed) {
        if (params_parse_urlencoded(req->pool, &req->query_pairs, qs, strlen(qs)) != 0) {
            req->query_pairs.n = 0;
            return NULL;
        }
        req->query_parsed = 1;
    }
    return &req->query_pairs;
}

/* Every Cookie field, in arrival order, once. */
static const struct kv_list *cookie_list(kiln_req *req)
{
    size_t i;

    if (req->cookies_parsed)
        return &req->cookies;
    for (i = 0; i < req->nheaders; i++) {
        const char *v = req->headers[i].value;

        if (strcasecmp(req->headers[i].name, "Cookie") == 0
            && params_parse_cookies(req->pool, &req->cookies, v, strlen(v)) != 0) {
            req->cookies.n = 0;
            return NULL;
        }
    }
    req->cookies_parsed = 1;
    return &req->cookies;
}

/* Whether a Content-Type value is of media type `type`, with parameters
 * or none, in any case. */
static int is_type(const char *ct, const char *type)
{
    size_t tl = strlen(type);

    if (ct == NULL)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, type, tl) != 0)
        return 0;
    ct += tl;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

/* The body's fields when it is a form, once; else empty.  A multipart
 * body that does not parse has no fields and leaves its reason in
 * req->form_error. */
const struct kv_list *request_form(kiln_req *req)
{
    const char *ct = request_header(req, "Content-Type", NULL);

    if (req->form_parsed)
        return &req->form;
    if (is_type(ct, "multipart/form-data")) {
        req->form_error = form_data_parse(req->pool, ct, req->body ? req->body : "",
                                          req->body_len, &req->form, &req->files);
    } else if (req->body && is_type(ct, "application/x-www-form-urlencoded")
               && params_parse_urlencoded(req->pool, &req->form, req->body,
                                          req->body_len) != 0) {
        req->form.n = 0;
        return NULL;
    }
    req->form_parsed = 1;
    return &req->form;
}

static size_t count(const struct kv_list *l)
{
    return l ? l->n : 0;
}

static int at(const struct kv_list *l, size_t i, const char **name, const char **value)
{
    return l ? kv_at(l, i, name, value) : -1;
}

static const char *nth(const struct kv_list *l, const char *name, size_t n)
{
    return l ? kv_nth(l, name, n) : NULL;
}

/* ---- the plugin API -------------------------------------------------------- */

KILN_EXPORT const char *kiln_query(kiln_req *req, const char *name)
{
    return name ? nth(query_list(req), name, 0) : NULL;
}

KILN_EXPORT size_t kiln_query_count(kiln_req *req)
{
    return count(query_list(req));
}

KILN_EXPORT int kiln_query_at(kiln_req *req, size_t i, const char **name, const char **value)
{
    return at(query_list(req), i, name, value);
}

KILN_EXPORT const char *kiln_query_nth(kiln_req *req, const char *name, size_t n)
{
    return name ? nth(query_list(req), name, n) : NULL;
}

KILN_EXPORT const char *kiln_cookie(kiln_req *req, const char *name)
{
    return name ? nth(cookie_list(req), name, 0) : NULL;
}

KILN_EXPORT size_t kiln_cookie_count(kiln_req *req)
{
    return count(cookie_list(req));
}

KILN_EXPORT int kiln_cookie_at(kiln_req *req, size_t i, const char **name, const char **value)
{
    return at(cookie_list(req), i, name, value);
}

KILN_EXPORT const char *kiln_form(kiln_req *req, const char *name)
{
    return name ? nth(request_form(req), name, 0) : NULL;
}

KILN_EXPORT size_t kiln_form_count(kiln_req *req)
{
    return count(request_form(req));
}

KILN_EXPORT int kiln_form_at(kiln_req *req, size_t i, const char **name, const char **value)
{
    return at(request_form(req), i, name, value);
}

KILN_EXPORT const char *kiln_form_nth(kiln_req *req, const char *name, size_t n)
{
    return name ? nth(request_form(req), name, n) : NULL;
}
