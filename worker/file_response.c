/* file_response.c -- kiln_file() and kiln_file_at(): a file answered as aiohttp's web.FileResponse is, with its validators, conditional requests, one byte range and its precompressed siblings, its body sent by stream.c with sendfile(2). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coding.h"
#include "file_cache.h"
#include "file_cond.h"
#include "file_open.h"
#include "kiln.h"
#include "request.h"
#include "response.h"
#include "stream.h"

#define KNOWN_FLAGS (KILN_FILE_BENEATH | KILN_FILE_NO_SYMLINKS | KILN_FILE_PRECOMPRESSED \
                     | KILN_FILE_DIR_REDIRECT | KILN_FILE_CACHE)

/* The longest relative path whose siblings are looked for. */
#define SIBLING_PATH_MAX 4096

/* The representation chosen: its descriptor or cached bytes, validators
 * and coding. */
struct file_choice {
    int fd;                         /* -1 when data holds the bytes */
    const unsigned char *data;      /* file_cache.c's, or NULL */
    enum coding coding;
    int vary;                       /* a sibling exists: Vary: Accept-Encoding */
    struct file_meta m;
};

/* The open error as an answer: ENOENT 404 (and the paths the flags refuse:
 * EXDEV, ELOOP), EACCES 403, else 500. */
static int open_failed(kiln_req *req, int err)
{
    if (err == ENOENT || err == ENOTDIR || err == ELOOP || err == ENAMETOOLONG || err == EXDEV)
        return kiln_error(req, 404, NULL);
    if (err == EACCES || err == EPERM)
        return kiln_error(req, 403, NULL);
    kiln_log(KILN_LOG_WARN, "kiln_file(%s): open: %s", req->path, strerror(err));
    return kiln_error(req, 500, NULL);
}

/* fd's validators (and its link count), the ETag its own: 0 for a
 * regular file, 1 for a directory, -1 else. */
static int file_meta_of(int fd, struct file_meta *m, unsigned long *nlink)
{
    struct stat st;

    if (fstat(fd, &st) != 0)
        return -1;
    if (!S_ISREG(st.st_mode))
        return S_ISDIR(st.st_mode) ? 1 : -1;
    *nlink = (unsigned long)st.st_nlink;
    m->size = (long long)st.st_size;
    m->mtime = (long long)st.st_mtim.tv_sec;
    file_etag(m->etag, (unsigned long long)st.st_ino, m->size, m->mtime, st.st_mtim.tv_nsec);
    if (http_date(m->modified, m->mtime) != 0)
        m->modified[0] = '\0';
    return 0;
}

/* The ETag of a sibling answered for coding c: its own with "-gz" or "-br"
 * before the closing quote, never the identity one's. */
static void etag_for_coding(struct file_meta *m, enum coding c)
{
    size_t n = strlen(m->etag);

    if (c != CODING_IDENTITY && n + 4 < FILE_ETAG_MAX)
        snprintf(m->etag + n - 1, FILE_ETAG_MAX - n + 1, "-%s\"", c == CODING_GZIP ? "gz" : "br");
}

/*
 * open_rep() below, with the validators of rel itself.  A path the cache
 * takes is opened without following symbolic links, its directories
 * watched first; one that has a link (ELOOP, or ENOTDIR from the walk
 * without openat2) is opened again as the flags say, and not cached.
 */
static int open_cached(int dirfd, const char *rel, unsigned flags, struct file_choice *f)
{
    int cache = (flags & KILN_FILE_CACHE) && file_cache_usable(dirfd, rel), kind, err;
    unsigned long nlink = 0;
    struct file_hit h;

    f->fd = -1;
    f->data = NULL;
    if (cache && file_cache_find(dirfd, rel, &h)) {
        if (h.err) {
            errno = h.err;
            return -2;
        }
        f->m = h.m;
        f->data = h.data;
        return 0;
    }
    if (cache && file_cache_watch(dirfd, rel) != 0)
        cache = 0;
    f->fd = file_open_at(dirfd, rel, flags | (cache ? KILN_FILE_NO_SYMLINKS : 0));
    if (f->fd < 0 && cache && (errno == ELOOP || errno == ENOTDIR)
        && !(flags & KILN_FILE_NO_SYMLINKS)) {
        cache = 0;
        f->fd = file_open_at(dirfd, rel, flags);
    }
    if (f->fd < 0) {
        err = errno;
        if (cache && err == ENOENT)
            file_cache_add_missing(dirfd, rel, err);
        errno = err;
        return -2;
    }
    kind = file_meta_of(f->fd, &f->m, &nlink);
    if (kind != 0) {
        close(f->fd);
        f->fd = -1;
        return kind;
    }
    if (cache && (f->data = file_cache_add(dirfd, rel, f->fd, &f->m, nlink)) != NULL) {
        close(f->fd);
        f->fd = -1;
    }
    return 0;
}

/*
 * Opens `rel` as kiln_file_at()'s flags say, through the file cache with
 * KILN_FILE_CACHE: into f (its descriptor, or the cached bytes, and its
 * validators for coding c) 0 for a regular file, 1 for a directory, -1 for
 * something else, -2 with errno when it cannot be opened.
 */
static int open_rep(int dirfd, const char *rel, unsigned flags, enum coding c,
                    struct file_choice *f)
{
    int kind = open_cached(dirfd, rel, flags, f);

    if (kind == 0)
        etag_for_coding(&f->m, c);
    return kind;
}

/* Lets go of the chosen representation's descriptor, if it has one. */
static void rep_close(struct file_choice *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
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

/* The answer to the chosen representation (its fd closed here or by the
 * stream); `name` gives the Content-Type. */
static int file_answer(kiln_req *req, struct file_choice *f, const char *name)
{
    const struct file_meta *m = &f->m;
    const char *range = kiln_header(req, "Range"), *ifr = kiln_header(req, "If-Range");
    long long first = 0, last = m->size - 1;
    enum file_range r = FILE_RANGE_WHOLE;
    char cr[96];

    if ((f->vary && kiln_add_header(req, "Vary", "Accept-Encoding") != 0)
        || add_validators(req, m) != 0)
        goto oom;
    if (not_modified(req, m)) {
        rep_close(f);
        if (!is_get_or_head(req))
            return kiln_error(req, 412, NULL);
        kiln_set_status(req, 304);
        return KILN_OK;
    }
    if (range && strcmp(req->method, "GET") == 0
        && (!ifr || file_if_range(ifr, m->etag, m->mtime)))
        r = file_range_parse(range, m->size, &first, &last);
    if (r == FILE_RANGE_UNSAT) {
        rep_close(f);
        snprintf(cr, sizeof(cr), "bytes */%lld", m->size);
        if (kiln_add_header(req, "Content-Range", cr) != 0)
            return KILN_ERROR;
        return kiln_error(req, 416, NULL);
    }
    if ((!req->content_type_set
         && kiln_set_content_type(req, kiln_mime_type(name, "application/octet-stream")) != 0)
        || (f->coding != CODING_IDENTITY
            && kiln_add_header(req, "Content-Encoding", coding_name(f->coding)) != 0))
        goto oom;
    if (r == FILE_RANGE_PART) {
        snprintf(cr, sizeof(cr), "bytes %lld-%lld/%lld", first, last, m->size);
        if (kiln_add_header(req, "Content-Range", cr) != 0)
            goto oom;
    }
    if ((f->data ? stream_file_bytes(req, r == FILE_RANGE_PART ? 206 : 200, f->data + first,
                                     r == FILE_RANGE_PART ? last - first + 1 : m->size)
                 : stream_file(req, r == FILE_RANGE_PART ? 206 : 200, f->fd, first,
                               r == FILE_RANGE_PART ? last - first + 1 : m->size)) != 0) {
        kiln_log(KILN_LOG_WARN, "kiln_file(%s): not from a handler, or out of memory", name);
        return KILN_ERROR;
    }
    return KILN_OK;
oom:
    rep_close(f);
    return KILN_ERROR;
}

/* relpath + ".gz" / ".br" opened as the original was, when it is a regular
 * file: 0 with it in *f, else -1. */
static int open_sibling(int dirfd, const char *relpath, unsigned flags, enum coding c,
                        struct file_choice *f)
{
    char path[SIBLING_PATH_MAX];
    int kind;

    if ((size_t)snprintf(path, sizeof(path), "%s.%s", relpath,
                         c == CODING_GZIP ? "gz" : "br") >= sizeof(path))
        return -1;
    kind = open_rep(dirfd, path, flags, c, f);
    return kind == 0 ? 0 : -1;
}

/* With an Accept-Encoding that takes br or gzip, the siblings it takes
 * that exist, and of them and the original the one it prefers (RFC 9110
 * 12.5.3 through coding_choose()) into *f; no header: no look at all. */
static void choose_sibling(const kiln_req *req, int dirfd, const char *relpath, unsigned flags,
                           struct file_choice *f)
{
    const char *accept = kiln_header(req, "Accept-Encoding");
    static const enum coding order[] = {CODING_BR, CODING_GZIP};
    struct file_choice sib[CODING_COUNT];
    int best;
    unsigned offered = CODING_BIT(CODING_IDENTITY);

    if (accept == NULL || *accept == '\0')
        return;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        enum coding c = order[i];

        if (coding_choose(accept, CODING_BIT(c)) == (int)c
            && open_sibling(dirfd, relpath, flags, c, &sib[c]) == 0)
            offered |= CODING_BIT(c);
    }
    if (offered == CODING_BIT(CODING_IDENTITY))
        return;
    f->vary = 1;
    best = coding_choose(accept, offered);
    for (int c = CODING_GZIP; c < CODING_COUNT; c++)
        if ((offered & CODING_BIT(c)) && c != best)
            rep_close(&sib[c]);
    if (best > CODING_IDENTITY) {
        rep_close(f);
        f->fd = sib[best].fd;
        f->data = sib[best].data;
        f->m = sib[best].m;
        f->coding = (enum coding)best;
    }
}

/* A directory asked for without its slash: 301 to the path with one (the
 * decoded path percent-encoded again, the query kept), as nginx answers. */
static int redirect_dir(kiln_req *req)
{
    static const char keep[] = "-._~!$&'()*+,;=:@/";
    size_t n = strlen(req->path), q = strlen(req->query), j = 0;
    char *loc = pool_alloc(req->pool, 3 * n + q + 3);

    if (loc == NULL)
        return KILN_ERROR;
    for (const unsigned char *p = (const unsigned char *)req->path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
            || strchr(keep, *p))
            loc[j++] = (char)*p;
        else
            j += (size_t)sprintf(loc + j, "%%%02X", *p);
    }
    loc[j++] = '/';
    if (q)
        loc[j++] = '?';
    memcpy(loc + j, req->query, q + 1);
    return kiln_redirect(req, 301, loc);
}

KILN_EXPORT int kiln_open_at(int dirfd, const char *relpath, unsigned flags)
{
    if (relpath == NULL || (flags & ~KNOWN_FLAGS)) {
        errno = EINVAL;
        return -1;
    }
    return file_open_at(dirfd, relpath, flags);
}

KILN_EXPORT int kiln_file_at(kiln_req *req, int dirfd, const char *relpath, unsigned flags)
{
    struct file_choice f = {.fd = -1, .data = NULL, .coding = CODING_IDENTITY, .vary = 0};
    int kind;

    if (req == NULL || relpath == NULL)
        return KILN_ERROR;
    if (flags & ~KNOWN_FLAGS) {
        kiln_log(KILN_LOG_WARN, "kiln_file_at(%s): unknown flags %#x", relpath, flags);
        return KILN_ERROR;
    }
    file_cache_begin();
    kind = open_rep(dirfd, relpath, flags, CODING_IDENTITY, &f);
    if (kind == -2)
        return open_failed(req, errno);
    if (kind != 0) {
        if (kind == 1 && (flags & KILN_FILE_DIR_REDIRECT) && relpath[0]
            && relpath[strlen(relpath) - 1] != '/')
            return redirect_dir(req);
        return kiln_error(req, 404, NULL);
    }
    if (flags & KILN_FILE_PRECOMPRESSED)
        choose_sibling(req, dirfd, relpath, flags, &f);
    return file_answer(req, &f, relpath);
}

KILN_EXPORT int kiln_file(kiln_req *req, const char *path)
{
    return kiln_file_at(req, AT_FDCWD, path, KILN_FILE_PRECOMPRESSED);
}
