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
 * Its two halves are request_id_before() and timing_after(), registered as
 * two middlewares, "backend.request_id" and "backend.timing": an after
 * without a before runs for every answer, also for one kiln gives before
 * the befores ran (a 413 announced by Content-Length), and then makes up
 * the id itself.  "backend.json_errors" turns kiln's own error answers
 * (404, 405, 413, 500, 504, and kiln_error()'s) into JSON bodies of the
 * example's shape: an API client reads one kind of error, whoever answered.
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

/* The request's id and start, made now when the before did not run (kiln
 * answered before the befores); NULL out of memory. */
static struct request_info *info_of(kiln_req *req)
{
    if (!kiln_req_get(req, INFO_KEY))
        request_id_before(req, NULL);
    return kiln_req_get(req, INFO_KEY);
}

static void timing_after(kiln_req *req, void *data)
{
    struct request_info *info = info_of(req);
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

/* kiln's error text ("404 Not Found\n", or kiln_error()'s message) as the
 * message of a JSON error: the status number and the newline dropped. */
static json_t *error_text(kiln_req *req, int status)
{
    size_t len;
    const char *body = kiln_resp_body(req, &len);
    char number[8];
    int n = snprintf(number, sizeof(number), "%d ", status);

    if (body && len >= (size_t)n && memcmp(body, number, (size_t)n) == 0) {
        body += n;
        len -= (size_t)n;
    }
    while (body && len > 0 && (body[len - 1] == '\n' || body[len - 1] == '\r'))
        len--;
    return body && len > 0 ? json_stringn(body, len) : json_string("error");
}

static void json_errors_after(kiln_req *req, void *data)
{
    struct request_info *info = info_of(req);
    int status = kiln_resp_status(req);
    const char *type = kiln_resp_header(req, "Content-Type");
    json_t *body;
    char *text;

    (void)data;
    if (!kiln_resp_is_error(req) || kiln_resp_is_stream(req) ||
        (type && strncmp(type, "application/json", 16) == 0))
        return;                     /* not an error, or JSON already */
    body = json_pack("{s:o}", "error", error_text(req, status));
    if (body && info)
        json_object_set_new(body, "request_id", json_string(info->id));
    text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text && kiln_resp_clear_body(req) == 0) {
        kiln_set_content_type(req, "application/json");
        kiln_write(req, text, strlen(text));
    }
    free(text);
}

/* Registers the example's middlewares (from init); 0, or -1. */
int mw_register(kiln_app *app)
{
    if (kiln_add_middleware(app, "backend.request_id", request_id_before, NULL, NULL) < 0 ||
        kiln_add_middleware(app, "backend.timing", NULL, timing_after, NULL) < 0)
        return -1;
    return kiln_add_middleware(app, "backend.json_errors", NULL, json_errors_after, NULL);
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
