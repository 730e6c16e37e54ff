/*
 * counter.c -- GET /counter/{name} counts its hits in Redis: an INCR of the
 * key "counter:{name}" on the server of the [redis] section, answered with
 * the new value and a newline.
 *
 * What a Python developer writes for it in aiohttp with redis.asyncio:
 *
 *     async def counter(request):
 *         try:
 *             n = await request.app["redis"].incr("counter:" + request.match_info["name"])
 *         except redis.RedisError as e:
 *             logging.error("INCR: %s", e)
 *             raise web.HTTPInternalServerError()
 *         return web.Response(text=f"{n}\n")
 *
 * Here the handler sends the command, defers its request and returns
 * KILN_PENDING; the reply's callback answers.  If the request is cancelled
 * first (the client left, pending_timeout, the worker stops), its cancel
 * callback cancels the command: its reply is then read and dropped.  With
 * no [redis] address configured, kiln_redis_command() gives 0 and the
 * answer is 503.
 */
#include <stdlib.h>
#include <string.h>
#include <kiln.h>

#define PREFIX "counter:"

struct hit {
    kiln_id req;                    /* the pending request */
    kiln_id cmd;                    /* its INCR */
};

static void on_incr(const kiln_redis_reply *r, void *arg)
{
    struct hit *h = arg;
    kiln_req *req = kiln_pending(h->req);
    const char *err = kiln_redis_str(r, NULL);

    if (req && kiln_redis_type(r) == KILN_REDIS_INTEGER) {
        kiln_text(req, 200, "%lld\n", kiln_redis_int(r));
        kiln_resume(h->req, KILN_OK);
    } else if (req) {
        kiln_log(KILN_LOG_ERROR, "INCR " PREFIX "%s: %s", kiln_match(req, "name"),
                 err ? err : "not an integer reply");
        kiln_resume(h->req, KILN_ERROR);
    }
    free(h);
}

static void cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    struct hit *h = arg;

    (void)id;
    (void)why;
    kiln_redis_cancel(h->cmd);
    free(h);
}

static int counter(kiln_req *req, void *data)
{
    const char *name = kiln_match(req, "name");
    size_t n = strlen(name);
    const char *argv[2];
    size_t lens[2];
    struct hit *h;
    char *key;

    (void)data;
    key = malloc(sizeof(PREFIX) + n);
    h = malloc(sizeof(*h));
    if (!key || !h) {
        free(key);
        free(h);
        return KILN_ERROR;
    }
    memcpy(key, PREFIX, sizeof(PREFIX) - 1);
    memcpy(key + sizeof(PREFIX) - 1, name, n);
    argv[0] = "INCR";
    lens[0] = 4;
    argv[1] = key;
    lens[1] = sizeof(PREFIX) - 1 + n;
    /* The reply never comes from inside the call: defer after it. */
    h->cmd = kiln_redis_command(on_incr, h, 2, argv, lens);
    free(key);                      /* kiln copied it */
    if (!h->cmd) {
        free(h);
        return kiln_text(req, 503, "no [redis] address configured\n");
    }
    h->req = kiln_defer(req, cancel, h);
    if (!h->req) {
        kiln_redis_cancel(h->cmd);
        free(h);
        return KILN_ERROR;
    }
    return KILN_PENDING;
}

static int init(kiln_app *app)
{
    return kiln_add_get(app, "/counter/{name}", counter, NULL);
}

KILN_PLUGIN("counter", init, NULL);
