/*
 * error_pages.c -- error answers replaced by pages read from a directory:
 * NNN.html for one status, 4xx.html and 5xx.html for a class; nginx's
 * error_page, as a middleware's after.
 *
 *     [error_pages]
 *     dir = /etc/kiln/errors      # 404.html, 500.html, 4xx.html, 5xx.html ...
 *     prefix = /                  # only paths under it (default: all)
 *
 * It replaces the body of an error answer only (kiln_resp_is_error()):
 * kiln's own 404, 405, 413, 500 and 504, and a handler's kiln_error(); a
 * body a handler wrote itself, such as a JSON 400, stays.  The status and
 * the headers stay as they were (WWW-Authenticate, Allow, Retry-After).
 * The pages are read when the plugin loads: after a change, `kiln -s
 * reload`.  In a page, every "{status}" becomes the status and every
 * "{reason}" the first line of kiln's own body ("404 Not Found").
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <kiln.h>

#define PAGE_MAX (1024 * 1024)

/* pages[s - 400] for 400..599; classes[0] 4xx, classes[1] 5xx. */
static struct {
    char *pages[200];
    size_t lens[200];
    char *classes[2];
    size_t class_lens[2];
    const char *prefix;
    size_t prefix_len;
} ep;

/* ---- the pages ------------------------------------------------------------ */

/* The whole of dir/name: 0, or -1 with the reason logged. */
static int read_page(int dirfd, const char *dir, const char *name, char **out, size_t *len)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf;
    ssize_t n;

    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > PAGE_MAX) {
        kiln_log(KILN_LOG_ERROR, "[error_pages] %s/%s: %s", dir, name,
                 fd < 0 ? strerror(errno) : "not a regular file of at most 1 MiB");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL ||
        (n = read(fd, buf, (size_t)st.st_size)) != st.st_size) {
        kiln_log(KILN_LOG_ERROR, "[error_pages] %s/%s: short read", dir, name);
        free(buf);
        close(fd);
        return -1;
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    *len = (size_t)n;
    return 0;
}

/* "404.html" -> 404, "4xx.html" -> 4 (a class), anything else 0. */
static int page_status(const char *name)
{
    if (strlen(name) != 8 || strcmp(name + 3, ".html") != 0 || (name[0] != '4' && name[0] != '5'))
        return 0;
    if (name[1] == 'x' && name[2] == 'x')
        return name[0] - '0';
    if (name[1] < '0' || name[1] > '9' || name[2] < '0' || name[2] > '9')
        return 0;
    return (name[0] - '0') * 100 + (name[1] - '0') * 10 + (name[2] - '0');
}

static int load_pages(const char *dir)
{
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), count = 0, rc = 0;
    DIR *d;
    struct dirent *e;

    if (dirfd < 0 || (d = fdopendir(dirfd)) == NULL) {
        kiln_log(KILN_LOG_ERROR, "[error_pages] dir: %s: %s", dir, strerror(errno));
        if (dirfd >= 0)
            close(dirfd);
        return -1;
    }
    while (rc == 0 && (e = readdir(d)) != NULL) {
        int s = page_status(e->d_name);

        if (s == 4 || s == 5)
            rc = read_page(dirfd, dir, e->d_name, &ep.classes[s - 4], &ep.class_lens[s - 4]);
        else if (s >= 400)
            rc = read_page(dirfd, dir, e->d_name, &ep.pages[s - 400], &ep.lens[s - 400]);
        count += s != 0 && rc == 0;
    }
    closedir(d);
    if (rc == 0 && count == 0)
        kiln_log(KILN_LOG_WARN, "[error_pages] %s holds no NNN.html, 4xx.html or 5xx.html", dir);
    return rc;
}

/* ---- the middleware ------------------------------------------------------- */

/* Writes `page` with its placeholders filled in. */
static void write_page(kiln_req *req, const char *page, size_t len, int status,
                       const char *reason, size_t reason_len)
{
    const char *p = page, *end = page + len;

    while (p < end) {
        const char *brace = memchr(p, '{', (size_t)(end - p));

        if (brace == NULL) {
            kiln_write(req, p, (size_t)(end - p));
            return;
        }
        kiln_write(req, p, (size_t)(brace - p));
        if ((size_t)(end - brace) >= 8 && memcmp(brace, "{status}", 8) == 0) {
            kiln_printf(req, "%d", status);
            p = brace + 8;
        } else if ((size_t)(end - brace) >= 8 && memcmp(brace, "{reason}", 8) == 0) {
            kiln_write(req, reason, reason_len);
            p = brace + 8;
        } else {
            kiln_write(req, "{", 1);
            p = brace + 1;
        }
    }
}

static void error_pages_after(kiln_req *req, void *data)
{
    int status = kiln_resp_status(req);
    const char *page, *old, *nl;
    char reason[128];
    size_t len = 0, old_len = 0, rlen;

    (void)data;
    if (status < 400 || status > 599 || !kiln_resp_is_error(req) || kiln_resp_is_stream(req))
        return;
    if (ep.prefix_len > 0 && strncmp(kiln_path(req), ep.prefix, ep.prefix_len) != 0)
        return;
    page = ep.pages[status - 400];
    len = ep.lens[status - 400];
    if (page == NULL) {
        page = ep.classes[status / 100 - 4];
        len = ep.class_lens[status / 100 - 4];
    }
    if (page == NULL)
        return;
    old = kiln_resp_body(req, &old_len);
    nl = old ? memchr(old, '\n', old_len) : NULL;
    rlen = old == NULL ? 0 : nl ? (size_t)(nl - old) : old_len;
    rlen = rlen < sizeof(reason) ? rlen : sizeof(reason) - 1;
    if (rlen > 0)
        memcpy(reason, old, rlen);
    reason[rlen] = '\0';
    if (kiln_resp_clear_body(req) < 0)
        return;
    kiln_set_content_type(req, "text/html; charset=utf-8");
    write_page(req, page, len, status, reason, rlen);
}

/* ---- configuration -------------------------------------------------------- */

static void fini(kiln_app *app)
{
    (void)app;
    for (int i = 0; i < 200; i++)
        free(ep.pages[i]);
    free(ep.classes[0]);
    free(ep.classes[1]);
    memset(&ep, 0, sizeof(ep));
}

static int init(kiln_app *app)
{
    const char *dir = kiln_config(app, "dir", "");

    if (*dir == '\0')
        return 0;                   /* loaded, replacing nothing */
    ep.prefix = kiln_config(app, "prefix", "");
    ep.prefix_len = strlen(ep.prefix);
    if (load_pages(dir) < 0) {
        fini(app);
        return -1;
    }
    return kiln_add_middleware(app, "error_pages", NULL, error_pages_after, NULL);
}

KILN_PLUGIN("error_pages", init, fini);
