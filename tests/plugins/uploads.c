/*
 * Test plugin: what the 1.4 multipart accessors give.
 * ANY /upload answers 400 with "bad form: WHY\n" when kiln_form_error()
 * says why, else a JSON object: "fields", the [name, value] pairs read with
 * kiln_form_at() ("first": kiln_form() of each name), "files", one object
 * per file with its field, name, type, size, the length kiln_upload_data()
 * gives and the CRC-32 of its bytes (as zlib.crc32), "find", for each
 * file's field, the indices kiln_upload_find() gives in turn, and
 * "past_end", whether every accessor answers "none" at index count.
 * Each file also says whether it was spooled (kiln_upload_spooled), whether
 * kiln_upload_fd() gave a descriptor and the CRC-32 of what reading that
 * descriptor gives ("fd_crc", -1 without one).  POST /upload/save?DIR saves
 * file i to DIR/i with kiln_upload_save() and answers "saved N" (or
 * "error: ERRNO TEXT").  POST /upload/fd answers "SIZE SPOOLED FD_CRC" per
 * file, reading spooled files through their descriptors only (no mapping:
 * what bench/upload.sh measures).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <kiln.h>

#include "plugin_util.h"

/* The CRC-32 of what fd reads from its start to its end. */
static long fd_crc(int fd)
{
    unsigned char buf[65536];
    uint32_t c = 0;
    ssize_t n;

    if (fd < 0)
        return -1;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        c = crc32_more(c, buf, (size_t)n);
    return n < 0 ? -2 : (long)c;
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

    int fd = kiln_upload_fd(req, i);

    kiln_printf(req, "%s{\"spooled\": %d, \"fd\": %s, \"fd_crc\": %ld, \"field\": ",
                i ? ", " : "", kiln_upload_spooled(req, i), fd >= 0 ? "true" : "false",
                fd_crc(fd));
    json_str(req, kiln_upload_field(req, i));
    kiln_printf(req, ", \"name\": ");
    json_str(req, kiln_upload_name(req, i));
    kiln_printf(req, ", \"type\": ");
    json_str(req, kiln_upload_type(req, i));
    kiln_printf(req, ", \"size\": %zu, \"len\": %zu, \"crc\": %lu, \"find\": [",
                kiln_upload_size(req, i), len, (unsigned long)crc32_of(data, len));
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

static int save(kiln_req *req, void *data)
{
    char path[4096];
    size_t i;

    (void)data;
    kiln_set_content_type(req, "text/plain");
    for (i = 0; i < kiln_upload_count(req); i++) {
        snprintf(path, sizeof(path), "%s/%zu", kiln_query(req, "dir"), i);
        if (kiln_upload_save(req, i, path) < 0)
            return kiln_printf(req, "error: %d %s\n", errno, strerror(errno)), KILN_OK;
    }
    kiln_printf(req, "saved %zu\n", i);
    return KILN_OK;
}

static int by_fd(kiln_req *req, void *data)
{
    (void)data;
    kiln_set_content_type(req, "text/plain");
    for (size_t i = 0; i < kiln_upload_count(req); i++)
        kiln_printf(req, "%zu %d %ld\n", kiln_upload_size(req, i), kiln_upload_spooled(req, i),
                    fd_crc(kiln_upload_fd(req, i)));
    return KILN_OK;
}

static int init(kiln_app *app)
{
    if (kiln_add_route(app, "*", "/upload", upload, NULL) != 0 ||
        kiln_add_route(app, "POST", "/upload/save", save, NULL) != 0 ||
        kiln_add_route(app, "POST", "/upload/big", upload, NULL) != 0 ||
        kiln_add_route(app, "POST", "/upload/fd", by_fd, NULL) != 0)
        return -1;
    return kiln_route_max_body(app, "POST", "/upload/big", (size_t)1 << 31) != 0 ||
           kiln_route_max_body(app, "POST", "/upload/fd", (size_t)1 << 31) != 0 ? -1 : 0;
}

KILN_PLUGIN("uploads", init, NULL);
