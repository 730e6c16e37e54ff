/*
 * compress_plugin.c -- the kiln side of bench/compress.sh: GET /body
 * answers the file named by [compressbench] file as [compressbench] type
 * (application/json), read once at init, through the buffered response
 * path that [server] gzip compresses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <kiln.h>

static char *body;
static size_t body_len;
static const char *type;

static int serve(kiln_req *req, void *data)
{
    (void)data;
    kiln_set_content_type(req, type);
    return kiln_write(req, body, body_len) == 0 ? KILN_OK : KILN_ERROR;
}

static int init(kiln_app *app)
{
    const char *path = kiln_config(app, "file", NULL);
    FILE *f = path ? fopen(path, "rb") : NULL;
    long n;

    type = kiln_config(app, "type", "application/json");
    if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        !(body = malloc((size_t)n + 1)) || fread(body, 1, (size_t)n, f) != (size_t)n) {
        kiln_log(KILN_LOG_ERROR, "cannot read [compressbench] file %s", path ? path : "(unset)");
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    body_len = (size_t)n;
    return kiln_add_get(app, "/body", serve, NULL);
}

static void fini(kiln_app *app)
{
    (void)app;
    free(body);
}

KILN_PLUGIN("compressbench", init, fini);
