/* test_multipart.c -- unit tests of worker/multipart.c, worker/form_data.c and worker/spool.c: boundaries, parts fed at every split point, hostile bodies, and files spooled to temporary files (the threshold, the file limit, saving, nothing left behind). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "form_data.h"
#include "multipart.h"
#include "pool.h"
#include "spool.h"
#include "unit.h"

static struct pool p;
static const char *ctype = "multipart/form-data; boundary=XyZ";

/* What a parse gave, as one string: "name=value|" per field, then
 * "[field:filename:type:len:data]" per file (data bytes as they are). */
static char *describe(const struct kv_list *fields, const struct upload_list *files)
{
    static char out[65536];
    size_t n = 0;

    out[0] = '\0';
    for (size_t i = 0; i < fields->n; i++)
        n += (size_t)snprintf(out + n, sizeof(out) - n, "%s=%s|", fields->items[i].name,
                              fields->items[i].value);
    for (size_t i = 0; i < files->n; i++) {
        const struct upload *u = &files->items[i];

        n += (size_t)snprintf(out + n, sizeof(out) - n - u->len, "[%s:%s:%s:%zu:", u->field,
                              u->filename, u->content_type, u->len);
        memcpy(out + n, u->data, u->len);
        n += u->len;
        n += (size_t)snprintf(out + n, sizeof(out) - n, "]");
    }
    return out;
}

/*
 * Parses body[0..len) fed in pieces cut at cuts[0..ncuts) (ascending) and
 * returns describe() of the result, or "ERROR: why".
 */
static const char *parse_cut(const char *ct, const char *body, size_t len,
                             const size_t *cuts, size_t ncuts)
{
    static char res[65536 + 16];
    struct form_data *f = pool_alloc(&p, sizeof(*f));
    struct kv_list fields = { 0 };
    struct upload_list files = { 0 };
    const char *why = form_data_begin(f, &p, ct, &fields, &files);
    size_t at = 0;

    if (why == NULL) {
        for (size_t i = 0; i <= ncuts; i++) {
            size_t end = i < ncuts ? cuts[i] : len;

            form_data_feed(f, body + at, end - at);
            at = end;
        }
        why = form_data_end(f);
    }
    if (why != NULL)
        snprintf(res, sizeof(res), "ERROR: %s", why);
    else
        memcpy(res, describe(&fields, &files), 65536);
    return res;
}

static const char *parse(const char *ct, const char *body)
{
    return parse_cut(ct, body, strlen(body), NULL, 0);
}

static const char *parse_body(const char *body)
{
    return parse(ctype, body);
}

/* ---- boundaries ---------------------------------------------------------- */

static const char *boundary(const char *ct)
{
    static char b[MP_BOUNDARY_MAX + 1];
    const char *why = multipart_boundary(ct, b);

    return why ? why : b;
}

static void test_boundary(void)
{
    char ct[200];

    CHECK_STR(boundary("multipart/form-data; boundary=abc"), "abc", "a token");
    CHECK_STR(boundary("multipart/form-data;boundary=\"a b:c\""), "a b:c", "quoted, with a space");
    CHECK_STR(boundary("multipart/form-data; charset=utf-8; BOUNDARY=z"), "z",
              "among others, in any case");
    CHECK_STR(boundary("multipart/form-data; boundary=a; boundary=b"), "a", "the first");
    CHECK_STR(boundary("multipart/form-data"), "no boundary in Content-Type", "none");
    CHECK_STR(boundary("multipart/form-data; charset=x"), "no boundary in Content-Type",
              "another parameter only");
    CHECK_STR(boundary("multipart/form-data; boundary="), "empty boundary", "empty");
    CHECK_STR(boundary("multipart/form-data; boundary=\"\""), "empty boundary", "empty quoted");
    CHECK_STR(boundary("multipart/form-data; boundary=\"a\\\"b\""), "invalid character in boundary",
              "a quote in it");
    CHECK_STR(boundary("multipart/form-data; boundary=\"ab \""), "boundary ends with a space",
              "a trailing space");
    CHECK_STR(boundary("multipart/form-data; boundary=\"ab"), "malformed Content-Type parameters",
              "no closing quote");
    CHECK_STR(boundary("multipart/form-data; boundary"), "malformed Content-Type parameters",
              "no '='");
    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%070d", 7);
    CHECK(strlen(boundary(ct)) == 70, "70 characters");
    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%071d", 7);
    CHECK_STR(boundary(ct), "boundary longer than 70 characters", "71 characters");
    CHECK(multipart_boundary(NULL, (char[MP_BOUNDARY_MAX + 1]){ 0 }) != NULL, "no Content-Type");
}

/* ---- parts --------------------------------------------------------------- */

/* Every kind of thing in one body: a preamble, a field, a file whose data
 * holds delimiter look-alikes, padding after a delimiter, an empty file,
 * two files under one name, an epilogue. */
static const char sample[] =
    "preamble \r\n--Xy is not it\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"title\"\r\n"
    "\r\n"
    "A \"B\"\r\nC\r\n"
    "--XyZ  \t\r\n"
    "content-disposition: form-data; name=f; filename=\"a\\\"b.bin\"\r\n"
    "Content-Type:  application/octet-stream \r\n"
    "X-Other: 1\r\n"
    "\r\n"
    "\r\r\n-\r\n--\r\n--X\r\n--Xy\r\n-XyZ"
    "\r\n--XyZ\r\n"
    "Content-Disposition: form-data; name=\"f\"; filename=\"\"; filename*=UTF-8''%E2%82%AC.txt\r\n"
    "\r\n"
    "\r\n--XyZ\r\n"
    "Content-Disposition: form-data; name=\"empty\"\r\n"
    "\r\n"
    "\r\n--XyZ--\r\nepilogue\r\n--XyZ\r\n";

static const char sample_want[] =
    "title=A \"B\"\r\nC|empty=|"
    "[f:a\"b.bin:application/octet-stream:25:\r\r\n-\r\n--\r\n--X\r\n--Xy\r\n-XyZ]"
    "[f:\xE2\x82\xAC.txt:text/plain:0:]";

static void test_sample(void)
{
    size_t len = sizeof(sample) - 1, bad = 0, bad2 = 0, cuts[2];
    char *bytes;

    CHECK_STR(parse_body(sample), sample_want, "the sample in one piece");
    for (size_t i = 0; i <= len; i++) {
        cuts[0] = i;
        if (strcmp(parse_cut(ctype, sample, len, cuts, 1), sample_want) != 0 && bad++ == 0)
            printf("# split at %zu: %s\n", i, parse_cut(ctype, sample, len, cuts, 1));
    }
    CHECK(bad == 0, "split at every one of %zu points: the same parts", len + 1);
    for (size_t i = 0; i <= len; i++)
        for (size_t j = i; j <= len; j++) {
            cuts[0] = i;
            cuts[1] = j;
            if (strcmp(parse_cut(ctype, sample, len, cuts, 2), sample_want) != 0)
                bad2++;
            pool_reset(&p);
        }
    CHECK(bad2 == 0, "split at every pair of points: the same parts");
    {
        size_t *all = malloc(len * sizeof(*all));

        for (size_t i = 0; i < len; i++)
            all[i] = i;
        CHECK_STR(parse_cut(ctype, sample, len, all, len), sample_want, "fed byte by byte");
        free(all);
    }
    /* a copy that is not contiguous: each piece on its own */
    bytes = malloc(len);
    memcpy(bytes, sample, len);
    CHECK_STR(parse_cut(ctype, bytes, len, NULL, 0), sample_want, "from another buffer");
    free(bytes);
}

static void test_binary(void)
{
    char body[1024], want[1024];
    size_t n = 0, w;
    const char *got;

    n += (size_t)sprintf(body, "--XyZ\r\nContent-Disposition: form-data; name=b; "
                               "filename=all.bin\r\n\r\n");
    for (int i = 0; i < 256; i++)
        body[n++] = (char)i;
    memcpy(body + n, "\r\n--XyZ--", 9);
    n += 9;
    w = (size_t)sprintf(want, "[b:all.bin:text/plain:256:");
    for (int i = 0; i < 256; i++)
        want[w++] = (char)i;
    want[w++] = ']';
    got = parse_cut(ctype, body, n, NULL, 0);
    CHECK(memcmp(got, want, w) == 0, "every byte value in a file");
}

static void test_names(void)
{
    CHECK_STR(parse_body("--XyZ\r\nContent-Disposition: form-data; name=\"a\\\\b\"\r\n\r\n1"
                         "\r\n--XyZ--"), "a\\b=1|", "a backslash escaped");
    CHECK_STR(parse_body("--XyZ\r\nContent-Disposition: FORM-DATA ;name=a;name=b ;\r\n\r\n1"
                         "\r\n--XyZ--"), "a=1|", "the first name; spaces; a trailing ';'");
    CHECK_STR(parse_body("--XyZ\r\nContent-Disposition: form-data; name=f; filename=x.txt; "
                         "filename*=ISO-8859-1''%E9.txt\r\n\r\n\r\n--XyZ--"),
              "[f:x.txt:text/plain:0:]", "filename* in another charset: unused");
    CHECK_STR(parse_body("--XyZ\r\nContent-Disposition: form-data; name=f; "
                         "filename*=utf-8'en'a%20b\r\n\r\n\r\n--XyZ--"),
              "[f:a b:text/plain:0:]", "filename* alone, a language, any case");
    CHECK_STR(parse_body("--XyZ\r\nContent-Disposition: form-data; name=f; "
                         "filename*=UTF-8''a%zz\r\n\r\n\r\n--XyZ--"),
              "ERROR: malformed Content-Disposition", "filename*: a bad escape");
    CHECK_STR(parse_body("--XyZ\r\nContent-Disposition: form-data; name=f; "
                         "filename*=UTF-8''a%00\r\n\r\n\r\n--XyZ--"),
              "ERROR: malformed Content-Disposition", "filename*: %%00");
    CHECK_STR(parse_body("--XyZ\r\nContent-Disposition: form-data; name=f; "
                         "filename*=a%41\r\n\r\n\r\n--XyZ--"),
              "ERROR: malformed Content-Disposition", "filename*: no quotes");
    CHECK_STR(parse_body("--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\n\r\n--XyZ--"),
              "ERROR: malformed Content-Disposition", "an unclosed quote");
    CHECK_STR(parse_body("--XyZ\r\nContent-Disposition: form-data; filename=x\r\n\r\n\r\n--XyZ--"),
              "ERROR: part without a name", "no name");
    CHECK_STR(parse_body("--XyZ\r\nContent-Type: text/plain\r\n\r\n\r\n--XyZ--"),
              "ERROR: part without Content-Disposition", "no Content-Disposition");
    CHECK_STR(parse_body("--XyZ\r\n\r\n\r\n--XyZ--"),
              "ERROR: part without Content-Disposition", "no headers at all");
    CHECK_STR(parse_body("--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\n\r\n--XyZ--"),
              "ERROR: part disposition is not form-data", "not form-data");
    CHECK_STR(parse_body("--XyZ\r\nContent-Disposition: form-data; name=a\r\n"
                         "Content-Disposition: form-data; name=b\r\n\r\n\r\n--XyZ--"),
              "ERROR: two Content-Disposition fields in a part", "two dispositions");
    CHECK_STR(parse_body("--XyZ--"), "", "no parts at all");
}

/* ---- hostile bodies ------------------------------------------------------- */

static void test_hostile(void)
{
    char *big;
    size_t n;

    CHECK_STR(parse("multipart/form-data", "--XyZ--"), "ERROR: no boundary in Content-Type",
              "no boundary");
    CHECK_STR(parse_body(""), "ERROR: no delimiter in the body", "an empty body");
    CHECK_STR(parse_body("a=1&b=2"), "ERROR: no delimiter in the body", "no delimiter");
    CHECK_STR(parse_body("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1"),
              "ERROR: no close delimiter", "no close delimiter");
    CHECK_STR(parse_body("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ"),
              "ERROR: no close delimiter", "the input ends after a delimiter");
    CHECK_STR(parse_body("--XyZ\r\nContent-Disposition: form-data; name=a\r\n"),
              "ERROR: no close delimiter", "the input ends in the headers");
    CHECK_STR(parse_body("--XyZ\nContent-Disposition: form-data; name=a\n\n1\n--XyZ--\n"),
              "ERROR: malformed delimiter line", "bare LF after the delimiter");
    CHECK_STR(parse_body("--XyZ\r\nContent-Disposition: form-data; name=a\n\n1\r\n--XyZ--"),
              "ERROR: bare LF in part headers", "bare LF in the headers");
    CHECK_STR(parse_body("--XyZ\r\nContent-Disposition: form-data; name=a\rX\r\n\r\n\r\n--XyZ--"),
              "ERROR: bare CR in part headers", "bare CR in the headers");
    CHECK_STR(parse_body("--XyZ\r\nContent-Disposition: form-data; name=a\r\n x\r\n\r\n\r\n--XyZ--"),
              "ERROR: folded part header line", "a folded line");
    CHECK_STR(parse_body("--XyZ\r\nContent-Disposition form-data\r\n\r\n\r\n--XyZ--"),
              "ERROR: malformed part header line", "a line without ':'");
    CHECK_STR(parse_body("--XyZZ\r\n"), "ERROR: malformed delimiter line",
              "a longer boundary");
    CHECK_STR(parse_body("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n--XyZ-x"),
              "ERROR: malformed close delimiter", "a close delimiter cut short");
    CHECK(parse_cut(ctype, "--XyZ\r\nA\0: 1\r\n\r\n--XyZ--", 22, NULL, 0)[0] == 'E',
          "NUL in a header: %s", parse_cut(ctype, "--XyZ\r\nA\0: 1\r\n\r\n--XyZ--", 22, NULL, 0));
    /* a header block of 8192 bytes is taken, one more is not */
    big = malloc(3 * MP_HEADER_MAX);
    for (int extra = 0; extra < 2; extra++) {
        const char *cd = "Content-Disposition: form-data; name=a\r\nX: ";

        n = (size_t)sprintf(big, "--XyZ\r\n%s", cd);
        memset(big + n, 'v', MP_HEADER_MAX - strlen(cd) - 4 + (size_t)extra);
        n += MP_HEADER_MAX - strlen(cd) - 4 + (size_t)extra;
        n += (size_t)sprintf(big + n, "\r\n\r\n1\r\n--XyZ--");
        CHECK_STR(parse_cut(ctype, big, n, NULL, 0), extra ? "ERROR: part header block too long"
                                                           : "a=1|",
                  "a header block of %d bytes", MP_HEADER_MAX + extra);
    }
    free(big);
    /* 1000 parts are taken, 1001 are not */
    big = malloc(64 * (MP_PARTS_MAX + 2));
    for (int extra = 0; extra < 2; extra++) {
        n = 0;
        for (int i = 0; i < MP_PARTS_MAX + extra; i++)
            n += (size_t)sprintf(big + n, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n"
                                          "\r\n");
        n += (size_t)sprintf(big + n, "--XyZ--");
        CHECK_STR(parse_cut(ctype, big, n, NULL, 0) + (extra ? 0 : 3 * (MP_PARTS_MAX - 1)),
                  extra ? "ERROR: more than 1000 parts" : "a=|", "%d parts: %s",
                  MP_PARTS_MAX + extra, extra ? "refused" : "taken");
        pool_reset(&p);
    }
    free(big);
}

static int stop_at_data(void *ud, const char *d, size_t n)
{
    (void)ud, (void)d, (void)n;
    return 1;
}

static void test_stop(void)
{
    static const struct mp_callbacks cb = { NULL, stop_at_data, NULL };
    static struct multipart m;
    const char *b = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ--";

    multipart_init(&m, "XyZ", &cb, NULL);
    CHECK(multipart_feed(&m, b, strlen(b)) == -1, "a callback stops the parse");
    CHECK_STR(multipart_error(&m), "stopped by the caller", "and says so");
    CHECK(multipart_feed(&m, "", 1) == -1 && multipart_finish(&m) == -1,
          "later feeds fail at once");
}

/* Entries of a directory other than . and .. */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    while (d && (e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (d)
        closedir(d);
    return n;
}

/* A spooling parse of body, fed in pieces of `step` bytes from a buffer
 * scribbled over after each feed. */
static const char *spool_parse(struct form_data *f, const struct form_spool *sp,
                               struct kv_list *fields, struct upload_list *files,
                               const char *body, size_t step)
{
    size_t len = strlen(body);
    char piece[64];

    CHECK(form_data_begin(f, &p, ctype, fields, files) == NULL, "spool: begin");
    form_data_spool(f, sp);
    for (size_t at = 0; at < len; at += step) {
        size_t n = len - at < step ? len - at : step;

        memcpy(piece, body + at, n);
        form_data_feed(f, piece, n);
        memset(piece, '#', sizeof(piece));
    }
    return form_data_end(f);
}

static void test_spool(void)
{
    char dir[] = "/tmp/kiln-unit-spool-XXXXXX", path[256], back[64];
    const char *body = "--XyZ\r\nContent-Disposition: form-data; name=a; filename=s\r\n\r\n"
                       "0123456789\r\n"
                       "--XyZ\r\nContent-Disposition: form-data; name=b; filename=l\r\n\r\n"
                       "0123456789abcdefghij\r\n"
                       "--XyZ\r\nContent-Disposition: form-data; name=t\r\n\r\n"
                       "a field longer than ten\r\n--XyZ--\r\n";
    struct form_spool sp = { dir, 10, 0 };
    struct kv_list fields = { 0 };
    struct upload_list files = { 0 };
    struct form_data *f = pool_alloc(&p, sizeof(*f));
    const void *m;
    int fd;

    CHECK(mkdtemp(dir) != NULL, "spool: a directory");
    for (size_t step = 1; step <= 7; step += 3) {
        fields.n = files.n = 0;
        CHECK(spool_parse(f, &sp, &fields, &files, body, step) == NULL, "spool: parsed");
        CHECK(files.n == 2 && fields.n == 1, "spool: two files, one field");
        CHECK(files.items[0].fd < 0 && files.items[0].len == 10 &&
              memcmp(files.items[0].data, "0123456789", 10) == 0,
              "spool: a file at the threshold stays in memory");
        CHECK(files.items[1].fd >= 0 && files.items[1].data == NULL &&
              files.items[1].len == 20, "spool: one past it is spooled");
        CHECK_STR(fields.items[0].value, "a field longer than ten", "spool: fields stay");
        m = spool_map(files.items[1].fd, 20);
        CHECK(m != NULL && memcmp(m, "0123456789abcdefghij", 20) == 0,
              "spool: the temporary file holds the data");
        files.items[1].data = m;
        CHECK(entries(dir) == 0, "spool: the temporary file has no name");
        snprintf(path, sizeof(path), "%s/saved", dir);
        unlink(path);
        CHECK(spool_save_fd(files.items[1].fd, 20, path) == 0, "spool: saved");
        fd = open(path, O_RDONLY);
        CHECK(fd >= 0 && read(fd, back, sizeof(back)) == 20 &&
              memcmp(back, "0123456789abcdefghij", 20) == 0, "spool: the saved file");
        close(fd);
        CHECK(spool_save_fd(files.items[1].fd, 20, path) == 0, "spool: saved again, unchanged");
        fd = open(path, O_RDONLY);
        CHECK(fd >= 0 && read(fd, back, sizeof(back)) == 20, "spool: still whole");
        close(fd);
        unlink(path);
        snprintf(path, sizeof(path), "%s/other", dir);
        CHECK(spool_save_data("old and longer than twenty", 26, path) == 0,
              "spool: in-memory data saved");
        CHECK(spool_save_fd(files.items[1].fd, 20, path) == 0, "spool: saved over another (copy)");
        fd = open(path, O_RDONLY);
        CHECK(fd >= 0 && read(fd, back, sizeof(back)) == 20 &&
              memcmp(back, "0123456789abcdefghij", 20) == 0, "spool: the copy, truncated");
        close(fd);
        unlink(path);
        form_data_close(f);
        CHECK(files.items[1].fd == -1, "spool: closed");
        CHECK(entries(dir) == 0, "spool: nothing left");
    }
    sp.max_file = 15;
    fields.n = files.n = 0;
    CHECK_STR(spool_parse(f, &sp, &fields, &files, body, 4), "a file is over max_upload_file_size",
              "spool: a file over max_file");
    CHECK(f->status == 413 && files.n == 0 && fields.n == 0, "spool: 413, nothing kept");
    sp.max_file = 0;
    sp.dir = "/nonexistent-kiln-dir";
    fields.n = files.n = 0;
    CHECK_STR(spool_parse(f, &sp, &fields, &files, body, 64), "a temporary file could not be written",
              "spool: no directory");
    CHECK(f->status == 500 && f->err == ENOENT, "spool: 500 with its errno");
    rmdir(dir);
}

int main(void)
{
    pool_init(&p, 4096);
    test_boundary();
    test_sample();
    test_binary();
    test_names();
    test_hostile();
    test_stop();
    test_spool();
    pool_free(&p);
    return unit_done();
}
