/*
 * answer.c -- responses in one call (kiln_error, kiln_redirect) and
 * Set-Cookie headers (kiln_set_cookie, kiln_delete_cookie), on top of the
 * response calls of api.c; cookie.c checks and formats the cookies.
 */
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "kiln.h"
#include "cookie.h"
#include "pool.h"
#include "request.h"
#include "response.h"

/* Drops the body written so far and sets a text/plain one: the start of
 * every answer here.  0, or -1. */
static int answer_begin(kiln_req *req, int status)
{
    buf_reset(req->resp_body);
    if (kiln_set_content_type(req, "text/plain; charset=utf-8") != 0)
        return -1;
    req->status = status;
    return 0;
}

/* The status's own text ("404 Not Found\n") as the body. */
static int write_status_text(kiln_req *req, int status)
{
    char text[HTTP_STATUS_TEXT_MAX];
    size_t n = http_status_text(status, text);

    return buf_append(req->resp_body, text, n);
}

KILN_EXPORT int kiln_error(kiln_req *req, int status, const char *fmt, ...)
{
    va_list ap;
    int rc;

    if (status < 400 || status > 599) {
        kiln_log(KILN_LOG_WARN, "error(%d): not an error status (400..599): answering 500",
                 status);
        return KILN_ERROR;
    }
    if (answer_begin(req, status) != 0)
        return KILN_ERROR;
    req->error_answer = 1;
    if (fmt == NULL)
        return write_status_text(req, status) == 0 ? KILN_OK : KILN_ERROR;
    va_start(ap, fmt);
    rc = buf_vprintf(req->resp_body, fmt, ap);
    va_end(ap);
    return rc < 0 ? KILN_ERROR : KILN_OK;
}

static int redirect_status(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307
           || status == 308;
}

/* Non-empty, with no control character (CR, LF and the others). */
static int location_ok(const char *loc)
{
    if (loc == NULL || loc[0] == '\0')
        return 0;
    for (; *loc != '\0'; loc++)
        if ((unsigned char)*loc < 0x20 || *loc == 0x7f)
            return 0;
    return 1;
}

KILN_EXPORT int kiln_redirect(kiln_req *req, int status, const char *location)
{
    if (!redirect_status(status)) {
        kiln_log(KILN_LOG_WARN, "redirect(%d): not 301, 302, 303, 307 or 308: answering 500",
                 status);
        return KILN_ERROR;
    }
    if (!location_ok(location)) {
        kiln_log(KILN_LOG_WARN, "redirect(%d): the location is empty or holds a control "
                 "character (CR, LF): answering 500", status);
        return KILN_ERROR;
    }
    if (kiln_add_header(req, "Location", location) != 0 || answer_begin(req, status) != 0
        || write_status_text(req, status) != 0)
        return KILN_ERROR;
    return KILN_OK;
}

/*
 * How much of a plugin's struct kiln_cookie_opts kiln reads: the members of
 * its ABI minor (kiln.h: structs grow at their end only).  Every member
 * came with 1.4, the first minor that has the struct; a member added later
 * is read only from plugins of its minor on, the rest of kiln's copy is 0.
 */
static size_t cookie_opts_size(void)
{
    return sizeof(struct kiln_cookie_opts);
}

/* Formats c and adds it as a Set-Cookie header.  0, or -1 with a warning. */
static int cookie_add(kiln_req *req, const char *call, const struct cookie *c)
{
    struct buf line;
    const char *why = "out of memory";
    int rc;

    buf_init(&line);
    rc = cookie_format(&line, c, &why);
    if (rc == 0 && buf_append(&line, "", 1) == 0) {
        rc = kiln_add_header(req, "Set-Cookie", line.data);
        buf_free(&line);
        return rc;
    }
    buf_free(&line);
    kiln_log(KILN_LOG_WARN, "%s(%s): %s", call, c->name ? c->name : "(null)", why);
    return -1;
}

KILN_EXPORT int kiln_set_cookie(kiln_req *req, const char *name, const char *value,
                                const struct kiln_cookie_opts *opts)
{
    struct kiln_cookie_opts o = { 0 };
    struct cookie c;

    if (opts != NULL)
        memcpy(&o, opts, cookie_opts_size());
    c = (struct cookie){
        .name = name, .value = value,
        .max_age = o.max_age == 0 ? -1 : o.max_age < 0 ? -2 : o.max_age,
        .expires = o.expires == 0 ? -1 : o.expires < 0 ? -2 : o.expires,
        .path = o.path, .domain = o.domain, .same_site = o.same_site,
        .secure = o.secure != 0, .http_only = o.http_only != 0,
    };
    return cookie_add(req, "set_cookie", &c);
}

KILN_EXPORT int kiln_delete_cookie(kiln_req *req, const char *name, const char *path,
                                   const char *domain)
{
    int host = name != NULL && strncasecmp(name, "__Host-", 7) == 0;
    struct cookie c = {
        .name = name, .value = "", .max_age = 0, .expires = 0,
        .path = host && path == NULL ? "/" : path, .domain = domain,
        .secure = host || (name != NULL && strncasecmp(name, "__Secure-", 9) == 0),
    };

    return cookie_add(req, "delete_cookie", &c);
}
