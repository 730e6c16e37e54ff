/*
 * guarded.c -- routes behind the bundled permissions, cors and error_pages
 * plugins (test_permissions.py, test_cors.py, test_error_pages.py): each
 * answers who the request's remote_user is, and the plugin exports the
 * bearer check the permissions plugin imports ("permissions.bearer").
 *
 *   * /admin/{rest:*}, /private/{rest:*}, /api/{rest:*}, /open
 *                      200 "user=NAME" (or "user=-")
 *   GET /err/{status}  kiln_error(status, NULL)
 *   GET /json400       a JSON 400 the handler writes itself
 *   POST /json_own     body not JSON: the handler's own JSON 503 replaces
 *                      kiln_json_body()'s 400
 *
 * Tokens: "good" lets in as "token-user", "other" as "someone", "forbidden"
 * is 403, anything else 401.
 */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <kiln.h>

static int who(kiln_req *req, void *data)
{
    const char *user = kiln_req_get(req, "remote_user");

    (void)data;
    return kiln_text(req, 200, "user=%s", user ? user : "-");
}

static int err(kiln_req *req, void *data)
{
    (void)data;
    return kiln_error(req, atoi(kiln_match(req, "status")), NULL);
}

static int json400(kiln_req *req, void *data)
{
    (void)data;
    kiln_set_content_type(req, "application/json");
    kiln_set_status(req, 400);
    kiln_printf(req, "{\"error\":\"bad\"}");
    return KILN_OK;
}

static int json_own(kiln_req *req, void *data)
{
    json_t *j = kiln_json_body(req);

    (void)data;
    if (j != NULL)
        return kiln_text(req, 200, "json\n");
    return kiln_json(req, 503, json_pack("{s:s}", "error", "mine"));
}

static int bearer(kiln_req *req, const char *token, const char *prefix)
{
    (void)prefix;
    if (strcmp(token, "good") == 0 || strcmp(token, "other") == 0) {
        char *user = strdup(strcmp(token, "good") == 0 ? "token-user" : "someone");
        if (user == NULL || kiln_req_set(req, "remote_user", user, free) < 0) {
            free(user);
            return 401;
        }
        return 0;
    }
    return strcmp(token, "forbidden") == 0 ? 403 : 401;
}

static int init(kiln_app *app)
{
    static const char *const areas[] = { "/admin/{rest:*}", "/private/{rest:*}",
                                         "/api/{rest:*}", "/open" };

    for (size_t i = 0; i < sizeof(areas) / sizeof(areas[0]); i++)
        if (kiln_add_route(app, "*", areas[i], who, NULL) != 0)
            return -1;
    if (kiln_add_get(app, "/err/{status}", err, NULL) != 0 ||
        kiln_add_get(app, "/json400", json400, NULL) != 0 ||
        kiln_add_post(app, "/json_own", json_own, NULL) != 0)
        return -1;
    return kiln_export(app, "permissions.bearer", (void *)bearer);
}

KILN_PLUGIN("guarded", init, NULL);
