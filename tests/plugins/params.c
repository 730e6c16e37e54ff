/*
 * Test plugin: what the 1.4 pair accessors and the request storage give.
 * ANY /pairs answers a JSON object: "query", "cookies" and "form", each the
 * list of [name, value] read with kiln_*_at() (and the count), "getall"
 * every query and form name's values read with kiln_*_nth(), "first" what
 * kiln_query(), kiln_cookie() and kiln_form() give for each name, and
 * "past_end" whether kiln_*_at(count) says -1, and "cookie_headers" the
 * Cookie fields as sent.
 * /store?tag=T sets T.a (replaced at once by a second T.a: the first is
 * freed then), T.b, and T.n (no free function), reads them back, and
 * answers "T.a2 T.b -"; /store-error?tag=T sets T.a and returns
 * KILN_ERROR; /store-pending?tag=T&ms=N sets T.a and T.b, defers, and
 * answers from a timer N ms later (the cancel stops the timer).  Every free
 * function logs "free ID" and every cancel "cancel T", so a test counts
 * them in the log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <kiln.h>

#include "plugin_util.h"

typedef size_t (*count_fn)(kiln_req *);
typedef int (*at_fn)(kiln_req *, size_t, const char **, const char **);
typedef const char *(*nth_fn)(kiln_req *, const char *, size_t);
typedef const char *(*first_fn)(kiln_req *, const char *);

struct kind {
    const char *key;
    count_fn count;
    at_fn at;
    nth_fn nth;                 /* NULL for cookies */
    first_fn first;
};

static void list(kiln_req *req, const struct kind *k)
{
    const char *n, *v;
    size_t i, c = k->count(req);

    kiln_printf(req, "\"%s\": [", k->key);
    for (i = 0; i < c && k->at(req, i, &n, &v) == 0; i++) {
        kiln_printf(req, "%s[", i ? ", " : "");
        json_str(req, n);
        kiln_write(req, ", ", 2);
        json_str(req, v);
        kiln_write(req, "]", 1);
    }
    kiln_printf(req, "], \"%s_count\": %zu, \"%s_past_end\": %s, ", k->key, c, k->key,
                k->at(req, c, &n, &v) == -1 ? "true" : "false");
}

/* Every name of the list once (the first time it appears): its values by
 * nth, and its first value. */
static void by_name(kiln_req *req, const struct kind *k)
{
    const char *n, *v, *m, *w;
    size_t i, j, c = k->count(req);
    int first = 1;

    kiln_printf(req, "\"%s_by_name\": {", k->key);
    for (i = 0; i < c && k->at(req, i, &n, &v) == 0; i++) {
        for (j = 0; j < i && k->at(req, j, &m, &w) == 0 && strcmp(m, n) != 0; j++)
            ;
        if (j < i)
            continue;
        kiln_write(req, first ? "" : ", ", first ? 0 : 2);
        first = 0;
        json_str(req, n);
        kiln_write(req, ": {\"first\": ", 12);
        json_str(req, k->first(req, n));
        kiln_write(req, ", \"all\": [", 10);
        for (j = 0; k->nth && (w = k->nth(req, n, j)) != NULL; j++) {
            kiln_write(req, j ? ", " : "", j ? 2 : 0);
            json_str(req, w);
        }
        kiln_write(req, "]}", 2);
    }
    kiln_write(req, "}", 1);
}

static int pairs(kiln_req *req, void *data)
{
    static const struct kind kinds[] = {
        {"query", kiln_query_count, kiln_query_at, kiln_query_nth, kiln_query},
        {"cookies", kiln_cookie_count, kiln_cookie_at, NULL, kiln_cookie},
        {"form", kiln_form_count, kiln_form_at, kiln_form_nth, kiln_form},
    };
    const char *n, *v, *sep = "";
    size_t i;

    (void)data;
    kiln_set_content_type(req, "application/json");
    kiln_write(req, "{", 1);
    for (i = 0; i < 3; i++) {
        list(req, &kinds[i]);
        by_name(req, &kinds[i]);
        kiln_write(req, ", ", 2);
    }
    kiln_write(req, "\"cookie_headers\": [", 19);
    for (i = 0; kiln_header_at(req, i, &n, &v) == 0; i++)
        if (strcasecmp(n, "Cookie") == 0) {
            kiln_write(req, sep, strlen(sep));
            json_str(req, v);
            sep = ", ";
        }
    kiln_printf(req, "], \"absent\": %s}",
                !kiln_query(req, "\x01") && !kiln_cookie(req, "\x01") && !kiln_form(req, "\x01")
                && !kiln_query_nth(req, NULL, 0) ? "true" : "false");
    return KILN_OK;
}

/* ---- request storage --------------------------------------------------------- */

static void free_value(void *p)
{
    kiln_log(KILN_LOG_INFO, "free %s", (char *)p);
    free(p);
}

static char *value(const char *tag, const char *what)
{
    size_t n = strlen(tag) + strlen(what) + 2;
    char *s = malloc(n);

    if (s)
        snprintf(s, n, "%s.%s", tag, what);
    return s;
}

/* Sets tag.what under `key`, freed by free_value.  0, or -1. */
static int set(kiln_req *req, const char *key, const char *tag, const char *what)
{
    char *v = value(tag, what);

    if (v == NULL || kiln_req_set(req, key, v, free_value) != 0) {
        free(v);
        return -1;
    }
    return 0;
}

static const char *tag_of(kiln_req *req)
{
    const char *t = kiln_query(req, "tag");

    return t ? t : "none";
}

static const char *got(kiln_req *req, const char *key)
{
    const char *v = kiln_req_get(req, key);

    return v ? v : "-";
}

static int store(kiln_req *req, void *data)
{
    static char plain[] = "n";
    const char *tag = tag_of(req);

    (void)data;
    if (set(req, "a", tag, "a1") || set(req, "a", tag, "a2") || set(req, "b", tag, "b")
        || kiln_req_set(req, "n", plain, NULL) || kiln_req_set(req, NULL, plain, NULL) != -1)
        return KILN_ERROR;
    return kiln_text(req, 200, "%s %s %s %s\n", got(req, "a"), got(req, "b"),
                     kiln_req_get(req, "n") == plain ? "n" : "?", got(req, "zz"));
}

static int store_error(kiln_req *req, void *data)
{
    (void)data;
    set(req, "a", tag_of(req), "a");
    return KILN_ERROR;
}

struct later {
    kiln_id id;
    kiln_timer *timer;
    char tag[64];
};

static void later_wake(kiln_timer *t, void *arg)
{
    struct later *l = arg;
    kiln_req *req = kiln_pending(l->id);

    (void)t;
    if (req) {
        kiln_text(req, 200, "%s %s\n", got(req, "a"), got(req, "b"));
        kiln_resume(l->id, KILN_OK);
    }
    free(l);
}

static void later_cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    struct later *l = arg;

    (void)id;
    (void)why;
    kiln_log(KILN_LOG_INFO, "cancel %s", l->tag);
    kiln_timer_stop(l->timer);
    free(l);
}

static int store_pending(kiln_req *req, void *data)
{
    const char *ms = kiln_query(req, "ms");
    struct later *l = calloc(1, sizeof(*l));

    (void)data;
    if (l == NULL)
        return KILN_ERROR;
    snprintf(l->tag, sizeof(l->tag), "%s", tag_of(req));
    if (set(req, "a", l->tag, "a") || set(req, "b", l->tag, "b")
        || (l->id = kiln_defer(req, later_cancel, l)) == 0) {
        free(l);
        return KILN_ERROR;
    }
    l->timer = kiln_timer_start((ms ? atof(ms) : 100) / 1000.0, 0, later_wake, l);
    if (l->timer == NULL) {
        free(l);
        return KILN_ERROR;
    }
    return KILN_PENDING;
}

static int init(kiln_app *app)
{
    if (kiln_add_route(app, "*", "/pairs", pairs, NULL) < 0
        || kiln_add_get(app, "/store", store, NULL) < 0
        || kiln_add_get(app, "/store-error", store_error, NULL) < 0
        || kiln_add_get(app, "/store-pending", store_pending, NULL) < 0)
        return -1;
    return 0;
}

KILN_PLUGIN("params", init, NULL);
