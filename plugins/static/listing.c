/* listing.c -- the static plugin's directory listing: an HTML page of a directory's names, sorted, escaped and linked. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "static.h"
#include "static_path.h"

struct entry {
    char *name;
    int dir;
};

struct entries {
    struct entry *v;
    size_t n, cap;
};

static void entries_free(struct entries *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i].name);
    free(e->v);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* The kind of d's entry: 1 directory, 2 symbolic link, 0 else. */
static int kind_of(DIR *d, const struct dirent *de)
{
    struct stat st;

    if (de->d_type == DT_DIR)
        return 1;
    if (de->d_type == DT_LNK)
        return 2;
    if (de->d_type != DT_UNKNOWN || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return 0;
    return S_ISDIR(st.st_mode) ? 1 : S_ISLNK(st.st_mode) ? 2 : 0;
}

/* Whether the listing shows a link as a directory (it leads to one). */
static int link_is_dir(DIR *d, const char *name)
{
    struct stat st;

    return fstatat(dirfd(d), name, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

/* Reads d's names that the listing shows into e: 0, or -1 out of memory. */
static int read_entries(DIR *d, const struct static_conf *conf, struct entries *e)
{
    struct dirent *de;

    while ((de = readdir(d)) != NULL) {
        int kind = kind_of(d, de);

        if (de->d_name[0] == '.' && (!conf->hidden || !strcmp(de->d_name, ".")
                                     || !strcmp(de->d_name, "..")))
            continue;
        if (kind == 2 && (conf->flags & KILN_FILE_NO_SYMLINKS))
            continue;
        if (e->n == e->cap) {
            size_t cap = e->cap ? 2 * e->cap : 32;
            struct entry *v = realloc(e->v, cap * sizeof(*v));

            if (v == NULL)
                return -1;
            e->v = v;
            e->cap = cap;
        }
        e->v[e->n].name = strdup(de->d_name);
        if (e->v[e->n].name == NULL)
            return -1;
        e->v[e->n++].dir = kind == 1 || (kind == 2 && link_is_dir(d, de->d_name));
    }
    qsort(e->v, e->n, sizeof(*e->v), by_name);
    return 0;
}

/* Writes `s` escaped by `escape` to the body: 0, or -1. */
static int write_escaped(kiln_req *req, size_t (*escape)(char *, size_t, const char *),
                         const char *s)
{
    char small[512], *buf = small;
    size_t n = escape(small, sizeof(small), s);
    int rc;

    if (n >= sizeof(small)) {
        buf = malloc(n + 1);
        if (buf == NULL)
            return -1;
        escape(buf, n + 1, s);
    }
    rc = kiln_write(req, buf, n);
    if (buf != small)
        free(buf);
    return rc;
}

static int write_page(kiln_req *req, const char *path, const struct entries *e)
{
    const char *title = kiln_path(req);

    if (kiln_printf(req, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ") < 0
        || write_escaped(req, static_html_escape, title) != 0
        || kiln_printf(req, "</title></head>\n<body><h1>Index of ") < 0
        || write_escaped(req, static_html_escape, title) != 0
        || kiln_printf(req, "</h1>\n<ul>\n%s", *path ? "<li><a href=\"../\">../</a></li>\n" : "") < 0)
        return -1;
    for (size_t i = 0; i < e->n; i++) {
        const char *slash = e->v[i].dir ? "/" : "";

        if (kiln_printf(req, "<li><a href=\"") < 0
            || write_escaped(req, static_url_escape, e->v[i].name) != 0
            || kiln_printf(req, "%s\">", slash) < 0
            || write_escaped(req, static_html_escape, e->v[i].name) != 0
            || kiln_printf(req, "%s</a></li>\n", slash) < 0)
            return -1;
    }
    return kiln_printf(req, "</ul>\n</body></html>\n") < 0 ? -1 : 0;
}

int listing_answer(kiln_req *req, const struct static_conf *conf, const char *path)
{
    struct entries e = {NULL, 0, 0};
    int fd = kiln_open_at(conf->root, *path ? path : ".", conf->flags), rc = KILN_ERROR;
    DIR *d;

    if (fd < 0)
        return kiln_error(req, errno == EACCES ? 403 : 404, NULL);
    d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return kiln_error(req, 404, NULL);
    }
    if (read_entries(d, conf, &e) == 0 && kiln_set_status(req, 200) == 0
        && kiln_set_content_type(req, "text/html; charset=utf-8") == 0
        && write_page(req, path, &e) == 0)
        rc = KILN_OK;
    closedir(d);
    entries_free(&e);
    return rc;
}
