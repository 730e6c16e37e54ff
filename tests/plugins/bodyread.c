/*
 * Test plugin: bodies read as they arrive (kiln_route_stream_body,
 * kiln_body_stream, kiln_body_pause/resume).
 * POST /body answers {"len", "crc" (zlib.crc32 of the bytes), "pieces",
 * "max_piece"} once the body ended; its limit is 2 GiB.
 * POST /body/small: the same with a 1000-byte limit.
 * POST /body/hold pauses after the first piece until GET /body/release
 * (which answers how many it resumed); then answers as /body.
 * POST /body/early answers 403 from the handler, reading nothing.
 * POST /body/refuse reads the first piece, then answers 409 at once with
 * kiln_resume() while the body still arrives.
 * GET /body/stats answers "live L ended E last HOW": readers attached and
 * not over, how many ended with an error, the last error's KILN_BODY_*.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kiln.h>

#include "plugin_util.h"

struct job {
    kiln_id id;
    unsigned long long len, pieces, max_piece;
    uint32_t crc;
    int hold, refuse;
    struct job *next;               /* held, waiting for /body/release */
};

static struct job *held;
static long live, ended_bad, last_how = -1;

static void unhold(struct job *j)
{
    for (struct job **p = &held; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            return;
        }
}

static void finish(struct job *j)
{
    unhold(j);
    live--;
    free(j);
}

static int on_data(kiln_id id, const void *data, size_t len, void *arg)
{
    struct job *j = arg;

    (void)id;
    j->crc = crc32_more(j->crc, data, len);
    j->len += len;
    j->pieces++;
    if (len > j->max_piece)
        j->max_piece = len;
    if (j->refuse) {
        kiln_req *req = kiln_pending(j->id);

        kiln_set_status(req, 409);
        kiln_printf(req, "refused after %llu bytes\n", j->len);
        kiln_resume(j->id, KILN_OK);
        finish(j);
        return 1;
    }
    if (j->hold == 1) {
        j->hold = 2;
        j->next = held;
        held = j;
        return 0;                   /* pause */
    }
    return 1;
}

static void on_end(kiln_id id, enum kiln_body_end how, void *arg)
{
    struct job *j = arg;
    kiln_req *req;

    if (how != KILN_BODY_DONE) {
        ended_bad++;
        last_how = how;
        finish(j);
        return;
    }
    req = kiln_pending(id);
    kiln_set_content_type(req, "application/json");
    kiln_printf(req, "{\"len\": %llu, \"crc\": %lu, \"pieces\": %llu, \"max_piece\": %llu}",
                j->len, (unsigned long)j->crc, j->pieces, j->max_piece);
    kiln_resume(id, KILN_OK);
    finish(j);
}

static const struct kiln_body_ops ops = { on_data, on_end, NULL };

static int start(kiln_req *req, int hold, int refuse)
{
    struct job *j = calloc(1, sizeof(*j));

    if (j == NULL)
        return KILN_ERROR;
    j->hold = hold;
    j->refuse = refuse;
    j->id = kiln_body_stream(req, &ops, j);
    if (j->id == 0) {
        free(j);
        return KILN_ERROR;
    }
    live++;
    return KILN_PENDING;
}

static int body(kiln_req *req, void *data)
{
    (void)data;
    return start(req, 0, 0);
}

static int hold(kiln_req *req, void *data)
{
    (void)data;
    return start(req, 1, 0);
}

static int refuse(kiln_req *req, void *data)
{
    (void)data;
    return start(req, 0, 1);
}

static int early(kiln_req *req, void *data)
{
    (void)data;
    return kiln_error(req, 403, "no body wanted\n");
}

static int release(kiln_req *req, void *data)
{
    int n = 0;

    (void)data;
    for (struct job *j = held; j; j = j->next, n++)
        kiln_body_resume(j->id);
    held = NULL;
    kiln_printf(req, "released %d\n", n);
    return KILN_OK;
}

static int stats(kiln_req *req, void *data)
{
    (void)data;
    kiln_printf(req, "live %ld ended %ld last %ld\n", live, ended_bad, last_how);
    return KILN_OK;
}

static int init(kiln_app *app)
{
    static const char *const streamed[] = { "/body", "/body/small", "/body/hold",
                                            "/body/early", "/body/refuse" };
    kiln_handler h[] = { body, body, hold, early, refuse };

    for (size_t i = 0; i < 5; i++)
        if (kiln_add_route(app, "POST", streamed[i], h[i], NULL) != 0 ||
            kiln_route_stream_body(app, "POST", streamed[i]) != 0 ||
            kiln_route_max_body(app, "POST", streamed[i],
                                i == 1 ? 1000 : (size_t)1 << 31) != 0)
            return -1;
    return kiln_add_get(app, "/body/release", release, NULL) != 0 ||
           kiln_add_get(app, "/body/stats", stats, NULL) != 0 ? -1 : 0;
}

KILN_PLUGIN("bodyread", init, NULL);
