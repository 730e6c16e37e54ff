/*
 * identity.c -- who is asking, and how: kiln_peer_addr(), kiln_remote(),
 * kiln_scheme(), kiln_host(), kiln_http_version().  Worked out once per
 * request, on the first call of any of them, into the request's pool; the
 * headers of a peer in trusted_proxies are read by forwarded.c.
 */
#include <string.h>
#include <strings.h>

#include "kiln.h"
#include "config.h"
#include "conn_private.h"
#include "forwarded.h"
#include "http_rules.h"
#include "pool.h"
#include "request.h"
#include "worker.h"

struct req_identity {
    char peer[PROXIES_ADDRSTRLEN];  /* "127.0.0.1", "::1", "unix" */
    int port;                       /* 0 for a Unix socket */
    const char *remote, *scheme, *host;
    struct fwd_client fwd;          /* what Forwarded said */
    char xff[PROXIES_ADDRSTRLEN];   /* what X-Forwarded-For said */
    char xhost[FWD_HOST_MAX];       /* what X-Forwarded-Host said */
};

/* Every field `name` of the request joined with ",", as one list (RFC
 * 9110 5.3); NULL when there is none or no memory. */
static const char *joined(const kiln_req *req, const char *name)
{
    int n;
    const char *first = request_header(req, name, &n);
    struct buf b;
    char *out;

    if (n <= 1)
        return first;
    buf_init(&b);
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0 &&
            ((b.len > 0 && buf_append(&b, ",", 1) < 0) ||
             buf_append_str(&b, req->headers[i].value) < 0))
            break;
    out = pool_strndup(req->pool, b.data ? b.data : "", b.len);
    buf_free(&b);
    return out;
}

/* Forwarded, when the peer sent one: it alone is read. */
static int from_forwarded(const kiln_req *req, const struct proxies *tp, struct req_identity *id)
{
    const char *v = joined(req, "forwarded");

    if (v == NULL)
        return 0;
    if (forwarded_client(v, tp, &id->fwd)) {
        id->remote = id->fwd.addr;
        if (id->fwd.proto[0])
            id->scheme = id->fwd.proto;
        if (id->fwd.host[0] && http_host_ok(id->fwd.host))
            id->host = id->fwd.host;
    }
    return 1;
}

/* X-Forwarded-For, -Proto and -Host. */
static void from_x_forwarded(const kiln_req *req, const struct proxies *tp,
                             struct req_identity *id)
{
    const char *v;
    char proto[8];

    if ((v = joined(req, "x-forwarded-for")) != NULL && forwarded_xff(v, tp, id->xff))
        id->remote = id->xff;
    if ((v = joined(req, "x-forwarded-proto")) != NULL &&
        forwarded_last(v, proto, sizeof proto) && forwarded_proto(proto) != NULL)
        id->scheme = forwarded_proto(proto);
    if ((v = joined(req, "x-forwarded-host")) != NULL &&
        forwarded_last(v, id->xhost, sizeof id->xhost) && http_host_ok(id->xhost))
        id->host = id->xhost;
}

/* The request's identity, worked out on first use; NULL on no memory. */
static struct req_identity *identity(const kiln_req *req)
{
    kiln_req *r = (kiln_req *)req;  /* the cache is not what the caller reads */
    const struct proxies *tp = &r->conn->w->cfg->trusted_proxies;
    struct req_identity *id;
    unsigned char a[16];
    const char *host;

    if (r->ident != NULL)
        return r->ident;
    id = pool_alloc(r->pool, sizeof *id);
    if (id == NULL)
        return NULL;
    memset(id, 0, sizeof *id);
    host = request_header(r, "host", NULL);
    id->remote = id->peer;
    id->scheme = "http";
    id->host = host ? host : "";
    if (conn_peer(r->conn, a, &id->port) == 0) {
        proxies_addr_format(a, id->peer, sizeof id->peer);
        if (proxies_match(tp, a) && !from_forwarded(r, tp, id))
            from_x_forwarded(r, tp, id);
    } else {
        strcpy(id->peer, "unix");
        id->port = 0;
    }
    r->ident = id;
    return id;
}

KILN_EXPORT const char *kiln_peer_addr(const kiln_req *req, int *port)
{
    const struct req_identity *id = identity(req);

    if (port)
        *port = id ? id->port : 0;
    return id ? id->peer : "";
}

KILN_EXPORT const char *kiln_remote(const kiln_req *req)
{
    const struct req_identity *id = identity(req);

    return id ? id->remote : "";
}

KILN_EXPORT const char *kiln_scheme(const kiln_req *req)
{
    const struct req_identity *id = identity(req);

    return id ? id->scheme : "http";
}

KILN_EXPORT const char *kiln_host(const kiln_req *req)
{
    const struct req_identity *id = identity(req);

    return id ? id->host : "";
}

KILN_EXPORT int kiln_http_version(const kiln_req *req)
{
    return req->http_minor == 0 ? 10 : 11;
}
