/* file_response.c -- kiln_file(): a file answered as aiohttp's web.FileResponse is, with its validators, conditional requests and one byte range, its body sent by stream.c with sendfile(2). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_cond.h"
#include "kiln.h"
#include "request.h"
#include "response.h"
#include "stream.h"

struct file_meta {
    long long size, mtime;
    char etag[FILE_ETAG_MAX];
    char modified[30];
};

/* The open error as an answer: ENOENT 404, EACCES 403, else 500. */
static int open_failed(kiln_req *req, int err)
{
    if (err == ENOENT || err == ENOTDIR || err == ELOOP || err == ENAMETOOLONG)
        return kiln_error(req, 404, NULL);
    if (err == EACCES || err == EPERM)
        return kiln_error(req, 403, NULL);
    kiln_log(KILN_LOG_WARN, "kiln_file(%s): open: %s", req->path, strerror(err));
    return kiln_error(req, 500, NULL);
}

/* ETag, Last-Modified and Accept-Ranges: 0, or -1 out of memory. */
static int add_validators(kiln_req *req, const struct file_meta *m)
{
    if (kiln_add_header(req, "ETag", m->etag) != 0
        || (m->modified[0] && kiln_add_header(req, "Last-Modified", m->modified) != 0))
        return -1;
    return kiln_add_header(req, "Accept-Ranges", "bytes");
}

/* Whether If-None-Match, else If-Modified-Since, says the client's copy is
 * current (RFC 9110 13.2.2 steps 3 and 4). */
static int not_modified(const kiln_req *req, const struct file_meta *m)
{
    const char *inm = kiln_header(req, "If-None-Match"), *ims;
    long long t;

    if (inm)
        return file_etag_match_weak(inm, m->etag);
    ims = kiln_header(req, "If-Modified-Since");
    return ims && file_http_date_parse(ims, &t) == 0 && m->mtime <= t;
}

static int is_get_or_head(const kiln_req *req)
{
    return strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
}

/* The answer to a file open as fd (closed here or by the stream). */
static int file_answer(kiln_req *req, int fd, const char *path, const struct file_meta *m)
{
    const char *range = kiln_header(req, "Range"), *ifr = kiln_header(req, "If-Range");
    long long first = 0, last = m->size - 1;
    enum file_range r = FILE_RANGE_WHOLE;
    char cr[96];

    if (add_validators(req, m) != 0)
        goto oom;
    if (not_modified(req, m)) {
        close(fd);
        if (!is_get_or_head(req))
            return kiln_error(req, 412, NULL);
        kiln_set_status(req, 304);
        return KILN_OK;
    }
    if (range && strcmp(req->method, "GET") == 0
        && (!ifr || file_if_range(ifr, m->etag, m->mtime)))
        r = file_range_parse(range, m->size, &first, &last);
    if (r == FILE_RANGE_UNSAT) {
        close(fd);
        snprintf(cr, sizeof(cr), "bytes */%lld", m->size);
        if (kiln_add_header(req, "Content-Range", cr) != 0)
            return KILN_ERROR;
        return kiln_error(req, 416, NULL);
    }
    if (!req->content_type_set
        && kiln_set_content_type(req, kiln_mime_type(path, "application/octet-stream")) != 0)
        goto oom;
    if (r == FILE_RANGE_PART) {
        snprintf(cr, sizeof(cr), "bytes %lld-%lld/%lld", first, last, m->size);
        if (kiln_add_header(req, "Content-Range", cr) != 0)
            goto oom;
    }
    if (stream_file(req, r == FILE_RANGE_PART ? 206 : 200, fd, first,
                    r == FILE_RANGE_PART ? last - first + 1 : m->size) != 0) {
        kiln_log(KILN_LOG_WARN, "kiln_file(%s): not from a handler, or out of memory", path);
        return KILN_ERROR;
    }
    return KILN_OK;
oom:
    close(fd);
    return KILN_ERROR;
}

KILN_EXPORT int kiln_file(kiln_req *req, const char *path)
{
    struct file_meta m;
    struct stat st;
    int fd;

    if (req == NULL || path == NULL)
        return KILN_ERROR;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return open_failed(req, errno);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return kiln_error(req, 404, NULL);
    }
    m.size = (long long)st.st_size;
    m.mtime = (long long)st.st_mtim.tv_sec;
    file_etag(m.etag, (unsigned long long)st.st_ino, m.size, m.mtime, st.st_mtim.tv_nsec);
    if (http_date(m.modified, m.mtime) != 0)
        m.modified[0] = '\0';
    return file_answer(req, fd, path, &m);
}
