/*
 * request.h -- struct kiln_req: what the HTTP layer parsed and what the
 * handler builds.  Private to the worker; plugins see it as an opaque type.
 *
 * Filled by conn.c from http-parser callbacks; read by the kiln_* accessors
 * (api.c) and the helpers below (request.c); serialized by response.c.  All strings are NUL-terminated and
 * live in the connection's pool until the response is complete.
 */
#ifndef KILN_REQUEST_H
#define KILN_REQUEST_H

#include <stddef.h>
#include "form_data.h"
#include "kiln.h"
#include "params.h"
#include "pool.h"
#include "router.h"
#include "url.h"

struct conn;
struct req_entry;
struct req_identity;

struct req_header {
    const char *name;
    const char *value;
};

struct kiln_req {
    struct conn *conn;              /* owner */
    struct pool *pool;              /* the connection's; reset per request */

    /* request line */
    const char *method;             /* "GET" (static string) */
    char *target;                   /* raw request target */
    char *path;                     /* decoded path, no query */
    const char *query;              /* raw query string, "" if none */
    char **segs;                    /* decoded path segments */
    int nsegs;
    unsigned short http_major, http_minor;

    /* headers, in arrival order (names as sent) */
    struct req_header *headers;
    size_t nheaders;

    /* body (dechunked); points into the connection's body buffer */
    const char *body;
    size_t body_len;

    /* routing */
    struct route_match match;

    /* pairs, each list parsed on first use (api_params.c) */
    struct kv_list query_pairs, cookies, form;
    unsigned query_parsed : 1, cookies_parsed : 1, form_parsed : 1;
    struct upload_list files;       /* a multipart form's file parts */
    const char *form_error;         /* why a multipart form did not parse */
    struct form_data *form_stream;  /* a multipart body parsed as it arrived
                                       (body.c), its temporary files open */

    /* kiln_req_set() values (req_store.c), released when the request ends */
    struct req_entry *store;
    struct url_param *params;       /* query, parsed on first kiln_query() */
    int nparams;                    /* -1: not parsed yet */
    struct req_identity *ident;     /* peer, remote, scheme, host: worked out
                                       on first use (identity.c) */

    /* response being built */
    int status;                     /* 0: not set */
    int content_type_set;
    struct buf *resp_headers;       /* "Name: value\r\n" lines (conn-owned) */
    struct buf *resp_body;          /* body bytes (conn-owned) */
    int error_answer;               /* kiln_error(), kiln_json_body()'s 400:
                                       an error page may replace the body */
    struct json_t *json;            /* kiln_json_body()'s value (json.c owns
                                       it: json_release() at the end) */
    int compress;                   /* kiln_compress(): 1 on, -1 off, 0 the
                                       server's gzip key (compress.c) */
    int is_head;                    /* HEAD: send headers only */
    int keep_alive;                 /* answer keeps the connection open */
    int scrape;                     /* for [server] metrics' path (scrape.c) */

    /* middlewares and the response-sent hook (middleware.c) */
    struct req_mw {
        unsigned upto;              /* befores run so far: the next one's index */
        unsigned before_pending : 1;    /* the last of them deferred its answer */
        unsigned in_before : 1;     /* a before runs (no stream from there) */
        unsigned afters_done : 1;   /* the afters ran for this response */
        unsigned stream : 1;        /* a stream, SSE or file response */
        unsigned sent : 1;          /* the response-sent hook ran */
        unsigned long long received;    /* the header block's bytes */
        size_t body_out;            /* body bytes response_serialize() wrote */
    } mw;
};

/* The first header field called `name` (case-insensitive), or NULL; with
 * `count`, how many fields have that name. */
const char *request_header(const struct kiln_req *req, const char *name, int *count);

/* Whether a header `name` (any of them) lists `token` (case-insensitive);
 * with `token` NULL, whether any of them lists a token at all. */
int request_has_token(const struct kiln_req *req, const char *name, const char *token);

/* The form fields of the body, parsed on first use (urlencoded or
 * multipart/form-data; the files with them), or NULL out of memory
 * (api_params.c). */
const struct kv_list *request_form(struct kiln_req *req);

#endif
