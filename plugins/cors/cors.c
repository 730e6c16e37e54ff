/*
 * cors.c -- Cross-Origin Resource Sharing as a middleware: a preflight
 * (OPTIONS with Access-Control-Request-Method) answered by its before, the
 * Access-Control-* headers of an allowed origin added by its after, to
 * handlers' answers and kiln's own 404s and 405s alike.
 *
 *     [cors]
 *     origins = https://app.example https://admin.example    # or *
 *     methods = GET, HEAD, POST, PUT, PATCH, DELETE
 *     headers = Content-Type, Authorization     # request headers allowed; * reflects
 *     expose = X-Request-Id                     # response headers scripts may read
 *     credentials = off                         # on: cookies and Authorization
 *     max_age = 600                             # seconds a preflight is cached
 *     prefix = /api                             # only paths under it (default: all)
 *
 * aiohttp-cors's ResourceOptions, in a config section.  A request without
 * Origin, or from an origin not listed, passes untouched (the browser then
 * refuses the response to the script); a preflight from a listed origin
 * asking for a method or header not allowed gets a 403 that says which.
 * With credentials on, the allowed origin is echoed, never "*" (the Fetch
 * standard refuses "*" with credentials).  Origins are compared exactly,
 * scheme, host and port, as browsers send them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <kiln.h>

#define MAX_ITEMS 64

struct list {
    char *items[MAX_ITEMS];
    int n;
    int any;                        /* "*" */
    char *storage;
};

static struct {
    struct list origins, methods, headers;
    const char *methods_text;       /* as sent in Allow-Methods */
    const char *headers_text;
    const char *expose;
    const char *prefix;
    size_t prefix_len;
    int credentials;
    char max_age[24];
} cors;

/* ---- lists ---------------------------------------------------------------- */

/* Splits `text` at commas and blanks.  0, or -1 (too many, no memory). */
static int list_parse(struct list *l, const char *text)
{
    char *save = NULL, *tok;

    memset(l, 0, sizeof(*l));
    if ((l->storage = strdup(text)) == NULL)
        return -1;
    for (tok = strtok_r(l->storage, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
        if (strcmp(tok, "*") == 0) {
            l->any = 1;
            continue;
        }
        if (l->n == MAX_ITEMS)
            return -1;
        l->items[l->n++] = tok;
    }
    return 0;
}

static int list_has(const struct list *l, const char *s, size_t len, int nocase)
{
    if (l->any)
        return 1;
    for (int i = 0; i < l->n; i++)
        if (strlen(l->items[i]) == len &&
            (nocase ? strncasecmp(l->items[i], s, len) : strncmp(l->items[i], s, len)) == 0)
            return 1;
    return 0;
}

/* Every comma-separated name of `asked` is allowed: 1, or 0 with the
 * first one that is not in *bad (and its length in *badlen). */
static int headers_allowed(const char *asked, const char **bad, int *badlen)
{
    const char *p = asked;

    if (cors.headers.any)
        return 1;
    while (*p != '\0') {
        size_t n;

        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        n = strcspn(p, ", \t");
        if (n > 0 && !list_has(&cors.headers, p, n, 1)) {
            *bad = p;
            *badlen = (int)n;
            return 0;
        }
        p += n;
    }
    return 1;
}

/* ---- the middleware ------------------------------------------------------- */

static int in_scope(const kiln_req *req)
{
    return cors.prefix_len == 0 || strncmp(kiln_path(req), cors.prefix, cors.prefix_len) == 0;
}

/* The origin of an allowed cross-origin request, or NULL. */
static const char *allowed_origin(const kiln_req *req)
{
    const char *origin = kiln_header(req, "Origin");

    if (origin == NULL || !in_scope(req))
        return NULL;
    return list_has(&cors.origins, origin, strlen(origin), 0) ? origin : NULL;
}

static void allow_origin(kiln_req *req, const char *origin)
{
    int echo = cors.credentials || !cors.origins.any;

    kiln_add_header(req, "Access-Control-Allow-Origin", echo ? origin : "*");
    if (cors.credentials)
        kiln_add_header(req, "Access-Control-Allow-Credentials", "true");
}

static int preflight(kiln_req *req, const char *origin, const char *method)
{
    const char *asked = kiln_header(req, "Access-Control-Request-Headers");
    const char *bad = NULL;
    int badlen = 0;

    if (!list_has(&cors.methods, method, strlen(method), 0))
        return kiln_error(req, 403, "CORS: method %s is not allowed\n", method);
    if (asked != NULL && !headers_allowed(asked, &bad, &badlen))
        return kiln_error(req, 403, "CORS: header %.*s is not allowed\n", badlen, bad);
    allow_origin(req, origin);
    kiln_add_header(req, "Access-Control-Allow-Methods",
                    cors.methods.any ? method : cors.methods_text);
    if (asked != NULL && *asked != '\0')
        kiln_add_header(req, "Access-Control-Allow-Headers",
                        cors.headers.any ? asked : cors.headers_text);
    kiln_add_header(req, "Access-Control-Max-Age", cors.max_age);
    kiln_add_header(req, "Vary", "Origin, Access-Control-Request-Method, "
                    "Access-Control-Request-Headers");
    kiln_req_set(req, "cors.preflight", req, NULL);
    return kiln_set_status(req, 204) == 0 ? KILN_OK : KILN_ERROR;
}

static int cors_before(kiln_req *req, void *data)
{
    const char *origin, *method;

    (void)data;
    if (strcmp(kiln_method(req), "OPTIONS") != 0 ||
        (method = kiln_header(req, "Access-Control-Request-Method")) == NULL ||
        (origin = allowed_origin(req)) == NULL)
        return KILN_NEXT;
    return preflight(req, origin, method);
}

static void cors_after(kiln_req *req, void *data)
{
    const char *origin;

    (void)data;
    if (kiln_req_get(req, "cors.preflight") != NULL || !in_scope(req))
        return;
    if (!cors.origins.any || cors.credentials)
        kiln_add_header(req, "Vary", "Origin");
    if ((origin = allowed_origin(req)) == NULL)
        return;
    allow_origin(req, origin);
    if (cors.expose != NULL && *cors.expose != '\0')
        kiln_add_header(req, "Access-Control-Expose-Headers", cors.expose);
}

/* ---- configuration -------------------------------------------------------- */

static int bad(const char *key, const char *why, const char *value)
{
    kiln_log(KILN_LOG_ERROR, "[cors] %s: %s, got \"%s\"", key, why, value);
    return -1;
}

static int configure(kiln_app *app)
{
    const char *origins = kiln_config(app, "origins", "");
    const char *credentials = kiln_config(app, "credentials", "off");
    const char *max_age = kiln_config(app, "max_age", "600");
    char *end;
    long age;

    cors.methods_text = kiln_config(app, "methods", "GET, HEAD, POST");
    cors.headers_text = kiln_config(app, "headers", "");
    cors.expose = kiln_config(app, "expose", "");
    cors.prefix = kiln_config(app, "prefix", "");
    cors.prefix_len = strlen(cors.prefix);
    if (list_parse(&cors.origins, origins) < 0 || list_parse(&cors.methods, cors.methods_text) < 0 ||
        list_parse(&cors.headers, cors.headers_text) < 0)
        return bad("origins, methods, headers", "at most 64 items each", "");
    for (int i = 0; i < cors.origins.n; i++)
        if (strncmp(cors.origins.items[i], "http://", 7) != 0 &&
            strncmp(cors.origins.items[i], "https://", 8) != 0)
            return bad("origins", "expected * or origins like https://app.example",
                       cors.origins.items[i]);
    if (strcmp(credentials, "on") == 0)
        cors.credentials = 1;
    else if (strcmp(credentials, "off") != 0)
        return bad("credentials", "expected on or off", credentials);
    age = strtol(max_age, &end, 10);
    if (end == max_age || *end != '\0' || age < 0 || age > 86400)
        return bad("max_age", "expected seconds from 0 to 86400", max_age);
    snprintf(cors.max_age, sizeof(cors.max_age), "%ld", age);
    if (cors.prefix_len > 0 && cors.prefix[0] != '/')
        return bad("prefix", "expected a path starting with /", cors.prefix);
    return 0;
}

static void fini(kiln_app *app)
{
    (void)app;
    free(cors.origins.storage);
    free(cors.methods.storage);
    free(cors.headers.storage);
    memset(&cors, 0, sizeof(cors));
}

static int init(kiln_app *app)
{
    if (*kiln_config(app, "origins", "") == '\0')
        return 0;                   /* loaded, allowing no cross-origin request */
    if (configure(app) < 0) {
        fini(app);
        return -1;
    }
    return kiln_add_middleware(app, "cors", cors_before, cors_after, NULL);
}

KILN_PLUGIN("cors", init, fini);
