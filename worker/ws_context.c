/*
 * ws_context.c -- the worker's libwebsockets context: created after the fork
 * on the worker's libev loop when its router has WebSocket routes, with one
 * vhost speaking every route's subprotocols, and one sweep timer that
 * enforces the sessions' deadlines (heartbeat pings, idle timeouts, the
 * close handshake's time limit); and the adoption of an upgraded socket
 * into the context.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include <libwebsockets.h>

#include "config.h"
#include "log.h"
#include "router.h"
#include "worker.h"
#include "ws.h"
#include "ws_handshake.h"
#include "ws_private.h"

#define WS_SERV_BUF      (32u << 10)        /* lws' read buffer, per worker */
#define WS_FD_LIMIT_MAX  262144             /* caps lws' fd tables (16 B per fd) */

#define WS_CLOSE_TIMEOUT 5.0                /* s from deciding to close to a hard close */

static const struct lws_extension ws_extensions[] = {
    {"permessage-deflate", lws_extension_callback_pm_deflate,
     "permessage-deflate; client_max_window_bits"},
    {NULL, NULL, NULL}
};

/* libwebsockets' log lines, into ours (minus the line it logs as an error
 * on every adoption). */
static void lws_emit(int level, const char *line)
{
    int lv = level & LLL_ERR ? LOG_ERROR : LOG_WARN;
    size_t n = strlen(line);

    if (strstr(line, "adopt_socket_readbuf: calling service"))
        return;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    log_msg(lv, "libwebsockets: %.*s", (int)n, line);
}

/* lws sizes its fd tables by this, and refuses fds numbered above it. */
static unsigned fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur > WS_FD_LIMIT_MAX)
        return WS_FD_LIMIT_MAX;
    return (unsigned)rl.rlim_cur;
}

/* Creates the lws context on the worker's loop and our one vhost. */
static int context_new(struct ws_ctx *ctx)
{
    struct lws_context_creation_info info;

    memset(&info, 0, sizeof(info));
    ctx->loops[0] = ctx->w->loop;
    info.options = LWS_SERVER_OPTION_LIBEV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                   LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.foreign_loops = ctx->loops;
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.user = ctx;
    info.fd_limit_per_thread = fd_limit();
    info.pt_serv_buf_size = WS_SERV_BUF;
    info.count_threads = 1;
    info.gid = -1;
    info.uid = -1;
    ctx->lws = lws_create_context(&info);
    if (!ctx->lws) {
        log_error("lws_create_context() failed (is libwebsockets-evlib-ev installed?)");
        return -1;
    }
    info.vhost_name = "kiln";
    info.protocols = ctx->protocols;
    info.extensions = ws_extensions;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    ctx->vh = lws_create_vhost(ctx->lws, &info);
    if (!ctx->vh) {
        log_error("lws_create_vhost() failed");
        return -1;
    }
    return 0;
}

/* ---- deadlines -------------------------------------------------------------------- */

/* Closes the connection at once, without a close handshake. */
static void kill_now(struct kiln_ws *ws)
{
    lws_set_timeout(ws->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

/* Pings a connection that was silent for ws_heartbeat; drops one whose ping
 * is unanswered after ws_heartbeat/2. */
static void heartbeat(struct ws_ctx *ctx, struct kiln_ws *ws, double now)
{
    if (ws->ping_at > ws->last_rx) {            /* a ping is unanswered */
        if (now - ws->ping_at >= ctx->heartbeat / 2) {
            log_info("websocket %s: no pong within %.3gs: dropping it",
                     ws->path, ctx->heartbeat / 2);
            kill_now(ws);
        }
        return;
    }
    if (now - ws->last_rx >= ctx->heartbeat) {
        ws->ping_at = now;
        ws->ping_due = 1;
        lws_callback_on_writable(ws->wsi);
    }
}

static void sweep_one(struct ws_ctx *ctx, struct kiln_ws *ws, double now)
{
    if (ws->state == WS_CLOSING) {
        if (now - ws->closing_at >= WS_CLOSE_TIMEOUT)
            kill_now(ws);
        return;
    }
    if (ws->state != WS_OPEN)
        return;
    if (ctx->idle > 0 && now - ws->last_rx >= ctx->idle) {
        ws_session_close(ws, 1001, "idle timeout", 1);
        return;
    }
    if (ctx->heartbeat > 0)
        heartbeat(ctx, ws, now);
}

/* Heartbeats, idle timeouts and close deadlines of every connection. */
static void sweep(struct ws_ctx *ctx, double now)
{
    struct kiln_ws *ws, *next;

    for (size_t i = 0; i < ctx->nroutes; i++) {
        for (ws = ctx->routes[i]->conns; ws; ws = next) {
            next = ws->next;
            sweep_one(ctx, ws, now);
        }
    }
}


static void on_sweep(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    sweep(t->data, ev_now(loop));
}

/* How often the sweep runs: a quarter of the shortest period, within
 * [50 ms, 1 s]. */
static double sweep_interval(const struct ws_ctx *ctx)
{
    double t = 1.0;

    if (ctx->heartbeat > 0 && ctx->heartbeat / 4 < t)
        t = ctx->heartbeat / 4;
    if (ctx->idle > 0 && ctx->idle / 4 < t)
        t = ctx->idle / 4;
    return t < 0.05 ? 0.05 : t;
}

/* router_each's callback: collects the WebSocket routes into ctx. */
static void collect(const struct route *rt, void *arg)
{
    struct ws_ctx *ctx = arg;

    if (rt->ws != NULL && ctx->routes != NULL)
        ctx->routes[ctx->nroutes++] = rt->ws;
}

/* Counts the WebSocket routes. */
static void count(const struct route *rt, void *arg)
{
    *(size_t *)arg += rt->ws != NULL;
}

static size_t size_or(size_t v, size_t def)
{
    return v ? v : def;
}

int ws_init(struct worker *w)
{
    struct ws_ctx *ctx;
    size_t n = 0;
    double t;

    router_each(w->router, count, &n);
    if (n == 0)
        return 0;                       /* no WebSocket route: no lws at all */
    ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return -1;
    w->ws = ctx;
    ctx->w = w;
    ctx->routes = calloc(n, sizeof(*ctx->routes));
    if (!ctx->routes) {
        ws_destroy(w);
        return -1;
    }
    router_each(w->router, collect, ctx);
    ctx->max_queue = size_or(w->cfg->ws_max_queue, WS_DEFAULT_MAX_QUEUE);
    ctx->heartbeat = w->cfg->ws_heartbeat;
    ctx->idle = w->cfg->ws_idle_timeout;
    /* lws' notices run to several lines per frame on libev: never wanted. */
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_emit);
    ctx->protocols = ws_session_protocols(ctx);
    if (!ctx->protocols || context_new(ctx) < 0) {
        ws_destroy(w);
        return -1;
    }
    t = sweep_interval(ctx);
    ev_timer_init(&ctx->sweep, on_sweep, t, t);
    ctx->sweep.data = ctx;
    ev_timer_start(w->loop, &ctx->sweep);
    ev_unref(w->loop);                  /* the sweep alone keeps nothing alive */
    return 0;
}

void ws_destroy(struct worker *w)
{
    struct ws_ctx *ctx = w->ws;

    if (!ctx)
        return;
    if (ev_is_active(&ctx->sweep)) {
        ev_ref(w->loop);
        ev_timer_stop(w->loop, &ctx->sweep);
    }
    if (ctx->lws)
        lws_context_destroy(ctx->lws);  /* CLOSED for what is still open */
    free(ctx->protocols);
    free(ctx->routes);
    free(ctx);
    w->ws = NULL;
}

/* ---- adoption ------------------------------------------------------------------- */

int ws_adopt(struct worker *w, int fd, struct kiln_ws *ws, struct kiln_req *req,
             const char *bytes, size_t len)
{
    struct ws_ctx *ctx = w->ws;
    struct lws *wsi;
    size_t hlen = 0;
    char *head = ws_handshake_request(req, ws->proto, ws->rt->h.deflate, bytes, len,
                                      &hlen);

    if (!head) {
        close(fd);
        ws_discard(ws);
        return -1;
    }
    ws->deflate = ws->rt->h.deflate && ws_deflate_offer(req) != NULL;
    ctx->adopting = ws;
    ctx->adopt_fd = fd;
    wsi = lws_adopt_socket_vhost_readbuf(ctx->vh, fd, head, hlen);
    free(head);
    if (ctx->adopting == NULL)
        return 0;               /* opened, and already closed inside */
    ctx->adopting = NULL;
    if (ws->wsi)
        return 0;
    if (wsi) {                  /* handshake still under way: bind now */
        ws->wsi = wsi;
        lws_set_opaque_user_data(wsi, ws);
        return 0;
    }
    log_error("websocket %s: libwebsockets refused the connection", ws->path);
    ws_discard(ws);             /* lws closed the fd */
    return -1;
}
