/*
 * json.c -- JSON bodies in and out (kiln_json_body, kiln_json) with jansson:
 * the one file that includes jansson.h.  The parsed body belongs to the
 * request and is released by json_release() when the request ends.
 */
#include <stddef.h>
#include <string.h>

#include <jansson.h>

#include "kiln.h"
#include "json.h"
#include "pool.h"
#include "request.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/*
 * The deepest nesting of arrays and objects in body[0..len), counting only
 * brackets outside strings; stops counting past `limit`.  Run before
 * jansson, whose own limit (2048) is far above what a request needs.
 */
static int json_depth(const char *body, size_t len, int limit)
{
    int depth = 0, max = 0, in_string = 0;

    for (size_t i = 0; i < len && max <= limit; i++) {
        char c = body[i];

        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                max = depth;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return max;
}

/* Sets the 400 answer: {"error": text, "line", "column", "position"}. */
static void answer_bad_json(kiln_req *req, const char *text, int line, int column,
                            int position)
{
    json_t *e = json_pack("{s:s,s:i,s:i,s:i}", "error", text, "line", line,
                          "column", column, "position", position);

    if (kiln_json(req, 400, e) == KILN_OK)
        req->error_answer = 1;
    else
        req->status = 500;
}

KILN_EXPORT struct json_t *kiln_json_body(kiln_req *req)
{
    json_error_t err;
    size_t len;
    const char *body = kiln_body(req, &len);

    if (req->json != NULL)
        return req->json;
    if (len == 0) {
        answer_bad_json(req, "empty body", 1, 0, 0);
        return NULL;
    }
    if (json_depth(body, len, KILN_JSON_MAX_DEPTH) > KILN_JSON_MAX_DEPTH) {
        answer_bad_json(req, "nesting deeper than " STR(KILN_JSON_MAX_DEPTH) " arrays and objects", 1, 0, 0);
        return NULL;
    }
    req->json = json_loadb(body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
    if (req->json == NULL)
        answer_bad_json(req, err.text, err.line, err.column, err.position);
    return req->json;
}

/* json_dump_callback's sink: the response body. */
static int dump_to_body(const char *data, size_t len, void *arg)
{
    return buf_append(arg, data, len);
}

KILN_EXPORT int kiln_json(kiln_req *req, int status, struct json_t *value)
{
    int rc = KILN_ERROR;

    if (value == NULL || kiln_set_status(req, status) != 0
        || kiln_set_content_type(req, "application/json") != 0)
        goto done;
    buf_reset(req->resp_body);
    req->error_answer = 0;          /* the handler's own, even after kiln_json_body()'s 400 */
    if (json_dump_callback(value, dump_to_body, req->resp_body,
                           JSON_COMPACT | JSON_ENCODE_ANY) == 0)
        rc = KILN_OK;
    else
        buf_reset(req->resp_body);
done:
    if (value == NULL)
        kiln_log(KILN_LOG_WARN, "json(%d): no value (a failed json_pack?): answering 500",
                 status);
    json_decref(value);
    return rc;
}

void json_release(struct kiln_req *req)
{
    json_decref(req->json);
    req->json = NULL;
}
