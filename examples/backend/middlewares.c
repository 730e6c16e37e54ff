/*
 * middlewares.c -- what runs around every answer of the notes example
 * (aiohttp's middlewares.py): a request id, the time the answer took, and
 * errors as JSON bodies.
 *
 * In aiohttp:
 *
 *     @web.middleware
 *     async def request_id(request, handler):
 *         request["id"] = request.headers.get("X-Request-Id") or uuid4().hex
 *         start = time.monotonic()
 *         resp = await handler(request)
 *         resp.headers["X-Request-Id"] = request["id"]
 *         resp.headers["Server-Timing"] = "app;dur=%.2f" % ms(start)
 *         return resp
 *
 * The two halves are request_id_before() and timing_after(), written as
 * kiln's middleware hooks (kiln_mw_before, kiln_mw_after) are.  Until the
 * server runs middlewares itself, urls.c's dispatcher calls them through
 * mw_request_start() and db.c through mw_request_finish(), once per answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include "backend.h"

#define INFO_KEY "backend.request"
#define ID_MAX 64

/* What the before half leaves for the after half. */
struct request_info {
    char id[ID_MAX + 1];
    struct timespec start;
    int finished;
};

/* A client's X-Request-Id is kept when it is 1..64 characters of
 * [A-Za-z0-9._-]: anything else could forge log lines or headers. */
static int usable_id(const char *v)
{
    size_t n = v ? strlen(v) : 0;

    return n > 0 && n <= ID_MAX && strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                          "0123456789._-") == n;
}

static void new_id(char out[ID_MAX + 1])
{
    unsigned char b[8] = {0};
    size_t i;

    if (getrandom(b, sizeof(b), GRND_NONBLOCK) != (ssize_t)sizeof(b))
        memset(b, 0, sizeof(b));
    for (i = 0; i < sizeof(b); i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static int request_id_before(kiln_req *req, void *data)
{
    struct request_info *info = calloc(1, sizeof(*info));
    const char *given = kiln_header(req, "X-Request-Id");

    (void)data;
    if (!info)
        return KILN_NEXT;           /* no id: the request still goes on */
    clock_gettime(CLOCK_MONOTONIC, &info->start);
    if (usable_id(given))
        strcpy(info->id, given);
    else
        new_id(info->id);
    if (kiln_req_set(req, INFO_KEY, info, free) < 0)
        free(info);
    return KILN_NEXT;
}

static void timing_after(kiln_req *req, void *data)
{
    struct request_info *info = kiln_req_get(req, INFO_KEY);
    struct timespec now;
    char timing[48];
    double ms;

    (void)data;
    if (!info || info->finished)
        return;
    info->finished = 1;
    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (double)(now.tv_sec - info->start.tv_sec) * 1e3 +
         (double)(now.tv_nsec - info->start.tv_nsec) / 1e6;
    snprintf(timing, sizeof(timing), "app;dur=%.2f", ms);
    kiln_add_header(req, "X-Request-Id", info->id);
    kiln_add_header(req, "Server-Timing", timing);
}

void mw_request_start(kiln_req *req)
{
    request_id_before(req, NULL);
}

void mw_request_finish(kiln_req *req)
{
    timing_after(req, NULL);
}

/*
 * Answers `status` with {"error": message, "fields": {...}, "request_id":
 * ...}: "fields" (stolen; NULL: none) names each input that was refused
 * and why.  KILN_OK, or KILN_ERROR out of memory.
 */
int mw_error(kiln_req *req, int status, const char *message, json_t *fields)
{
    struct request_info *info = kiln_req_get(req, INFO_KEY);
    json_t *body = json_pack("{s:s}", "error", message);

    if (body && fields)
        json_object_set_new(body, "fields", fields);
    else
        json_decref(fields);
    if (body && info)
        json_object_set_new(body, "request_id", json_string(info->id));
    return kiln_json(req, status, body);
}
