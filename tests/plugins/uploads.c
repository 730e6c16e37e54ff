/*
 * Test plugin: what the 1.4 multipart accessors give.
 * ANY /upload answers 400 with "bad form: WHY\n" when kiln_form_error()
 * says why, else a JSON object: "fields", the [name, value] pairs read with
 * kiln_form_at() ("first": kiln_form() of each name), "files", one object
 * per file with its field, name, type, size, the length kiln_upload_data()
 * gives and the CRC-32 of its bytes (as zlib.crc32), "find", for each
 * file's field, the indices kiln_upload_find() gives in turn, and
 * "past_end", whether every accessor answers "none" at index count.
 */
#include <stdint.h>
#include <string.h>
#include <kiln.h>

static void json_str(kiln_req *req, const char *s)
{
    kiln_write(req, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            kiln_printf(req, "\\%c", c);
        else if (c < 0x20)
            kiln_printf(req, "\\u%04x", c);
        else
            kiln_write(req, s, 1);
    }
    kiln_write(req, "\"", 1);
}

static uint32_t crc32(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;

    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
    }
    return c ^ 0xffffffffu;
}

static void fields(kiln_req *req)
{
    const char *n, *v;

    kiln_printf(req, "\"fields\": [");
    for (size_t i = 0; kiln_form_at(req, i, &n, &v) == 0; i++) {
        kiln_printf(req, "%s[", i ? ", " : "");
        json_str(req, n);
        kiln_printf(req, ", ");
        json_str(req, v);
        kiln_printf(req, ", ");
        json_str(req, kiln_form(req, n));
        kiln_printf(req, "]");
    }
    kiln_printf(req, "], \"count\": %zu", kiln_form_count(req));
}

static void one_file(kiln_req *req, size_t i)
{
    size_t len = 99;
    const void *data = kiln_upload_data(req, i, &len);

    kiln_printf(req, "%s{\"field\": ", i ? ", " : "");
    json_str(req, kiln_upload_field(req, i));
    kiln_printf(req, ", \"name\": ");
    json_str(req, kiln_upload_name(req, i));
    kiln_printf(req, ", \"type\": ");
    json_str(req, kiln_upload_type(req, i));
    kiln_printf(req, ", \"size\": %zu, \"len\": %zu, \"crc\": %lu, \"find\": [",
                kiln_upload_size(req, i), len, (unsigned long)crc32(data, len));
    for (size_t n = 0; kiln_upload_find(req, kiln_upload_field(req, i), n) >= 0; n++)
        kiln_printf(req, "%s%ld", n ? ", " : "", kiln_upload_find(req, kiln_upload_field(req, i), n));
    kiln_printf(req, "]}");
}

static int upload(kiln_req *req, void *data)
{
    size_t n = kiln_upload_count(req), len = 99;
    int past;

    (void)data;
    if (kiln_form_error(req) != NULL)
        return kiln_error(req, 400, "bad form: %s\n", kiln_form_error(req));
    kiln_set_content_type(req, "application/json");
    kiln_printf(req, "{");
    fields(req);
    kiln_printf(req, ", \"files\": [");
    for (size_t i = 0; i < n; i++)
        one_file(req, i);
    past = kiln_upload_field(req, n) == NULL && kiln_upload_name(req, n) == NULL
        && kiln_upload_type(req, n) == NULL && kiln_upload_size(req, n) == 0
        && kiln_upload_data(req, n, &len) == NULL && len == 0
        && kiln_upload_find(req, NULL, 0) == -1;
    kiln_printf(req, "], \"past_end\": %s}", past ? "true" : "false");
    return KILN_OK;
}

static int init(kiln_app *app)
{
    return kiln_add_route(app, "*", "/upload", upload, NULL);
}

KILN_PLUGIN("uploads", init, NULL);
