/* Test plugin echoing the request identity accessors (kiln_peer_addr, kiln_remote, kiln_scheme, kiln_host, kiln_http_version) and serving routes with their own body limits (kiln_route_max_body). */
#include <stdlib.h>
#include <string.h>
#include <kiln.h>

/* * /reqinfo: one line per accessor, each asked twice (the second from the cache). */
static int info(kiln_req *req, void *data)
{
    int port = -1, port2 = -1;
    const char *peer = kiln_peer_addr(req, &port);

    (void)data;
    if (strcmp(kiln_peer_addr(req, &port2), peer) != 0 || port != port2 ||
        kiln_remote(req) != kiln_remote(req) || kiln_peer_addr(req, NULL) != peer)
        return kiln_text(req, 500, "not the same twice\n");
    return kiln_text(req, 200, "peer=%s port=%d\nremote=%s\nscheme=%s\nhost=%s\nversion=%d\n",
                     peer, port, kiln_remote(req), kiln_scheme(req), kiln_host(req),
                     kiln_http_version(req));
}

/* POST /reqinfo/big, /small, /none, /default: the body's length. */
static int body(kiln_req *req, void *data)
{
    size_t len = 0;

    (void)data;
    kiln_body(req, &len);
    return kiln_text(req, 200, "%zu\n", len);
}

static int init(kiln_app *app)
{
    if (kiln_add_route(app, "*", "/reqinfo", info, NULL) != 0 ||
        kiln_add_post(app, "/reqinfo/big", body, NULL) != 0 ||
        kiln_add_post(app, "/reqinfo/small", body, NULL) != 0 ||
        kiln_add_post(app, "/reqinfo/none", body, NULL) != 0 ||
        kiln_add_post(app, "/reqinfo/default", body, NULL) != 0)
        return -1;
    if (kiln_route_max_body(app, "POST", "/reqinfo/big",
                            (size_t)atol(kiln_config(app, "big", "4096"))) != 0 ||
        kiln_route_max_body(app, "POST", "/reqinfo/small", 16) != 0 ||
        kiln_route_max_body(app, "POST", "/reqinfo/none", 0) != 0)
        return -1;
    /* [reqinfo] bad = yes: a limit for a route this plugin does not have */
    if (strcmp(kiln_config(app, "bad", "no"), "yes") == 0)
        return kiln_route_max_body(app, "POST", "/elsewhere", 10) == 0 ? 0 : -1;
    return 0;
}

KILN_PLUGIN("reqinfo", init, NULL);
