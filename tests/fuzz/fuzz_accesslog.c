/*
 * fuzz_accesslog.c -- libFuzzer harness of the access log's format compiler
 * and renderer (plugins/accesslog/format.c, included here).
 *
 * Input: NUL-separated strings: a format, then the method, the target, the
 * path, the query, the user and the value every request and response header
 * lookup returns (missing ones are NULL).  A format either compiles or gets
 * an error message; a compiled one renders exactly one line: one newline,
 * at its end, and no other control byte, whatever the values hold.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/accesslog/format.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *hdr_value;

static const char *hdr(const void *ctx, const char *name)
{
    (void)ctx;
    (void)name;
    return hdr_value;
}

static void defect(const char *what, const char *format)
{
    fprintf(stderr, "fuzz_accesslog: %s (format \"%s\")\n", what, format);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1), *field[7] = { 0 }, err[160] = "";
    struct alog_record r = { .status = 200, .complete = 1, .http_minor = 11,
                             .start = 1e9, .duration = 0.5, .pid = 1,
                             .req_header = hdr, .resp_header = hdr };
    struct alog_format f;
    struct alog_buf b = { 0 };
    size_t off = 0;

    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    for (int i = 0; i < 7 && off <= size; i++) {
        field[i] = copy + off;
        off += strlen(copy + off) + 1;
    }
    r.method = field[1];
    r.target = field[2];
    r.path = field[3];
    r.query = field[4];
    r.user = field[5];
    r.remote = r.peer = r.host = field[6];
    hdr_value = field[6];
    if (alog_compile(&f, field[0], err, sizeof(err)) < 0) {
        if (err[0] == '\0')
            defect("refused without a message", field[0]);
    } else {
        if (alog_render(&f, &r, &b) < 0)
            defect("render failed", field[0]);
        if (b.len == 0 || b.data[b.len - 1] != '\n')
            defect("the line does not end in a newline", field[0]);
        for (size_t i = 0; i + 1 < b.len; i++) {
            unsigned char c = (unsigned char)b.data[i];
            if (c < 0x20 || c == 0x7f)
                defect("a control byte in the line", field[0]);
        }
        alog_buf_free(&b);
        alog_format_free(&f);
    }
    free(copy);
    return 0;
}
