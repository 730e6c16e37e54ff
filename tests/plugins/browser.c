/*
 * Test plugin: the pages a real browser walks through in test_browser.py.
 * GET /login is a page with a login form; POST /login sets the cookie
 * "session" (Path=/, HttpOnly, SameSite=Lax, Max-Age=600), "theme"
 * (Path=/, visible to the page's script) and "scoped" (Path=/elsewhere,
 * never sent to /whoami), then answers 303 See Other to /whoami;
 * GET /logout deletes "session" and answers 302 Found to /whoami;
 * GET /whoami is a page whose <pre id=out> holds, as JSON, the cookies
 * kiln read ("cookies": [name, value] pairs) and the Cookie fields as sent.
 * GET /upload is a page with two multipart forms (a text field and one
 * file; a text field and <input type=file multiple>); POST /upload answers
 * a page whose <pre id=out> holds, as JSON, the form's fields, its files
 * (field, filename, type, size, CRC-32 of the bytes as zlib.crc32) and
 * kiln_form_error().
 */
#include <stdint.h>
#include <string.h>
#include <kiln.h>

#include "plugin_util.h"

static const char login_page[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>log in</title></head>"
    "<body><form id=\"login\" method=\"post\" action=\"/login\">"
    "<input name=\"user\" id=\"user\"> <button id=\"go\">Log in</button>"
    "</form></body></html>\n";

static const char upload_page[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>upload</title></head><body>"
    "<form id=\"one\" method=\"post\" action=\"/upload\" enctype=\"multipart/form-data\">"
    "<input name=\"title\" id=\"title\"> <input type=\"file\" name=\"doc\" id=\"doc\">"
    " <button id=\"send-one\">Send</button></form>"
    "<form id=\"many\" method=\"post\" action=\"/upload\" enctype=\"multipart/form-data\">"
    "<textarea name=\"note\" id=\"note\"></textarea>"
    " <input type=\"file\" name=\"files\" id=\"files\" multiple>"
    " <button id=\"send-many\">Send</button></form>"
    "</body></html>\n";

static void page_open(kiln_req *req, const char *title)
{
    kiln_set_content_type(req, "text/html; charset=utf-8");
    kiln_printf(req, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s"
                "</title></head><body><pre id=\"out\">", title);
}

static int page_close(kiln_req *req)
{
    kiln_printf(req, "</pre></body></html>\n");
    return KILN_OK;
}

static int html(kiln_req *req, const char *text)
{
    kiln_set_content_type(req, "text/html; charset=utf-8");
    kiln_write(req, text, strlen(text));
    return KILN_OK;
}

static int on_login_page(kiln_req *req, void *data)
{
    (void)data;
    return html(req, login_page);
}

static int on_login(kiln_req *req, void *data)
{
    struct kiln_cookie_opts session = {0}, theme = {0}, scoped = {0};
    const char *user = kiln_form(req, "user");

    (void)data;
    if (user == NULL || *user == '\0')
        return kiln_error(req, 400, "no user\n");
    session.path = "/";
    session.http_only = 1;
    session.same_site = "Lax";
    session.max_age = 600;
    theme.path = "/";
    scoped.path = "/elsewhere";
    if (kiln_set_cookie(req, "session", user, &session) != 0
        || kiln_set_cookie(req, "theme", "dark", &theme) != 0
        || kiln_set_cookie(req, "scoped", "no", &scoped) != 0)
        return kiln_error(req, 400, "bad cookie value\n");
    return kiln_redirect(req, 303, "/whoami");
}

static int on_logout(kiln_req *req, void *data)
{
    (void)data;
    if (kiln_delete_cookie(req, "session", "/", NULL) != 0)
        return KILN_ERROR;
    return kiln_redirect(req, 302, "/whoami");
}

static int on_whoami(kiln_req *req, void *data)
{
    const char *n, *v;
    size_t i;

    (void)data;
    page_open(req, "who am I");
    kiln_printf(req, "{\"cookies\": [");
    for (i = 0; kiln_cookie_at(req, i, &n, &v) == 0; i++) {
        kiln_printf(req, "%s[", i ? ", " : "");
        json_str(req, n);
        kiln_write(req, ", ", 2);
        json_str(req, v);
        kiln_write(req, "]", 1);
    }
    kiln_printf(req, "], \"cookie_header\": ");
    if (kiln_header(req, "Cookie") != NULL)
        json_str(req, kiln_header(req, "Cookie"));
    else
        kiln_printf(req, "null");
    kiln_printf(req, "}");
    return page_close(req);
}

static int on_upload_page(kiln_req *req, void *data)
{
    (void)data;
    return html(req, upload_page);
}

static void upload_files(kiln_req *req)
{
    size_t i, len;
    const void *bytes;

    for (i = 0; i < kiln_upload_count(req); i++) {
        bytes = kiln_upload_data(req, i, &len);
        kiln_printf(req, "%s{\"field\": ", i ? ", " : "");
        json_str(req, kiln_upload_field(req, i));
        kiln_printf(req, ", \"name\": ");
        json_str(req, kiln_upload_name(req, i));
        kiln_printf(req, ", \"type\": ");
        json_str(req, kiln_upload_type(req, i));
        kiln_printf(req, ", \"size\": %zu, \"len\": %zu, \"crc\": %lu}",
                    kiln_upload_size(req, i), len,
                    (unsigned long)(bytes ? crc32_of(bytes, len) : 0));
    }
}

static int on_upload(kiln_req *req, void *data)
{
    const char *n, *v, *err = kiln_form_error(req);
    size_t i;

    (void)data;
    page_open(req, "received");
    kiln_printf(req, "{\"content_type\": ");
    json_str(req, kiln_header(req, "Content-Type"));
    kiln_printf(req, ", \"error\": ");
    if (err != NULL)
        json_str(req, err);
    else
        kiln_printf(req, "null");
    kiln_printf(req, ", \"fields\": [");
    for (i = 0; kiln_form_at(req, i, &n, &v) == 0; i++) {
        kiln_printf(req, "%s[", i ? ", " : "");
        json_str(req, n);
        kiln_write(req, ", ", 2);
        json_str(req, v);
        kiln_write(req, "]", 1);
    }
    kiln_printf(req, "], \"files\": [");
    upload_files(req);
    kiln_printf(req, "]}");
    return page_close(req);
}

static int init(kiln_app *app)
{
    return kiln_add_get(app, "/login", on_login_page, NULL)
        || kiln_add_post(app, "/login", on_login, NULL)
        || kiln_add_get(app, "/logout", on_logout, NULL)
        || kiln_add_get(app, "/whoami", on_whoami, NULL)
        || kiln_add_get(app, "/upload", on_upload_page, NULL)
        || kiln_add_post(app, "/upload", on_upload, NULL);
}

KILN_PLUGIN("browser", init, NULL);
