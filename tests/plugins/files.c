/*
 * Test plugin: /files/{path:*} answers kiln_file() of the path under the
 * directory `root` of its config section, after refusing ".." segments
 * (403); /typed/{path:*} the same with the handler's own Content-Type.
 */
#include <stdio.h>
#include <string.h>
#include <kiln.h>

static const char *root;

/* root + "/" + path in buf, or NULL when a segment is "..". */
static const char *join(char *buf, size_t size, const char *path)
{
    const char *p = path;

    while (p) {
        if (strncmp(p, "..", 2) == 0 && (p[2] == '/' || p[2] == '\0'))
            return NULL;
        p = strchr(p, '/');
        if (p)
            p++;
    }
    if ((size_t)snprintf(buf, size, "%s/%s", root, path) >= size)
        return NULL;
    return buf;
}

static int serve(kiln_req *req, void *data)
{
    char buf[4096];
    const char *file = join(buf, sizeof(buf), kiln_match(req, "path"));

    if (file == NULL)
        return kiln_error(req, 403, NULL);
    if (data != NULL && kiln_set_content_type(req, "text/x-own") != 0)
        return KILN_ERROR;
    return kiln_file(req, file);
}

static int init(kiln_app *app)
{
    root = kiln_config(app, "root", "/nonexistent");
    return kiln_add_get(app, "/files/{path:*}", serve, NULL) |
           kiln_add_get(app, "/typed/{path:*}", serve, "typed");
}

KILN_PLUGIN("files", init, NULL);
