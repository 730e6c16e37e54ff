/* request.c -- reading a parsed request's header fields: by name, and as comma-separated token lists. */
#include <string.h>
#include <strings.h>

#include "request.h"

const char *request_header(const struct kiln_req *req, const char *name, int *count)
{
    const char *v = NULL;
    int n = 0;

    for (size_t i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].name, name) != 0)
            continue;
        if (count == NULL)              /* the first is all that is asked */
            return req->headers[i].value;
        if (n++ == 0)
            v = req->headers[i].value;
    }
    if (count)
        *count = n;
    return v;
}

/*
 * The next comma-separated token of a header value at *p: sets *tok and
 * *len (white space trimmed) and advances *p.  0 at the end of the value.
 */
static int next_token(const char **p, const char **tok, size_t *len)
{
    const char *s = *p, *e;

    while (*s == ' ' || *s == '\t' || *s == ',')
        s++;
    if (*s == '\0')
        return 0;
    e = s;
    while (*e != '\0' && *e != ',')
        e++;
    *p = e;
    *tok = s;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *len = (size_t)(e - s);
    return 1;
}

int request_has_token(const struct kiln_req *req, const char *name, const char *token)
{
    size_t len, tl = token ? strlen(token) : 0;
    const char *p, *t;

    for (size_t i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].name, name) != 0)
            continue;
        p = req->headers[i].value;
        while (next_token(&p, &t, &len))
            if (token == NULL || (len == tl && strncasecmp(t, token, len) == 0))
                return 1;
    }
    return 0;
}
