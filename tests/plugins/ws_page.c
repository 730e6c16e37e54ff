/* Test plugin: GET /page serves the HTML file named by [ws_page] file, a page whose script talks to /echo. */
#include <stdio.h>
#include <kiln.h>

static const char *page_file;

static int page(kiln_req *req, void *data)
{
    char buf[8192];
    size_t n;
    FILE *f;

    (void)data;
    f = page_file ? fopen(page_file, "rb") : NULL;
    if (f == NULL)
        return kiln_text(req, 404, "no page file configured\n");
    kiln_set_content_type(req, "text/html; charset=utf-8");
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        kiln_write(req, buf, n);
    fclose(f);
    return KILN_OK;
}

static int init(kiln_app *app)
{
    page_file = kiln_config(app, "file", NULL);
    return kiln_add_get(app, "/page", page, NULL);
}

KILN_PLUGIN("ws_page", init, NULL);
