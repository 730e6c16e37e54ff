/*
 * permissions.c -- who may reach which route prefix, as a middleware: HTTP
 * Basic checked against a password file of crypt(3) hashes (htpasswd -B,
 * -5 or -2), bearer tokens checked by a function another plugin exports;
 * 401 with WWW-Authenticate when the credentials are missing or wrong, 403
 * when they are right but the user is not one the rule names.
 *
 *     [permissions]
 *     htpasswd = /etc/kiln/htpasswd
 *     realm = kiln
 *     rules = /admin basic alice bob, /private basic, /api bearer
 *     cache = 60s         # how long a checked Basic credential is remembered
 *
 * A rule is a prefix (matching the path itself and what lies below it),
 * `basic` or `bearer`, and optionally the users it lets in; the longest
 * prefix that matches decides, and a path no rule covers passes.  The
 * checked user is kept as the request's "remote_user" (kiln_req_get()),
 * what the access log's %u writes.
 *
 * A hash costs milliseconds by design, so it is checked on the worker's
 * thread pool (kiln_offload()) while the request waits (KILN_PENDING from
 * the before, kiln_resume(id, KILN_NEXT) once it matched); a credential
 * that matched is then remembered for `cache` seconds, so a browser's next
 * requests pay nothing.  A user not in the file is checked against a dummy
 * hash, so that the time taken does not tell which users exist.
 *
 * A bearer rule calls the function exported as "permissions.bearer":
 *
 *     int check(kiln_req *req, const char *token, const char *prefix);
 *
 * returning 0 (let in; it may kiln_req_set() "remote_user"), 401 (unknown
 * or expired token) or 403 (known, not allowed here).  Without one, bearer
 * rules answer 500 and the worker's start says why.
 */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <kiln.h>

#include "htpasswd.h"

#define MAX_RULES 32
#define MAX_RULE_USERS 16
#define CACHE_SLOTS 256

typedef int (*bearer_fn)(kiln_req *req, const char *token, const char *prefix);

enum scheme { BASIC, BEARER };

struct rule {
    char *prefix;
    size_t len;
    enum scheme scheme;
    char *users[MAX_RULE_USERS];
    int nusers;
};

/* A Basic credential that matched: the Authorization value, its user. */
struct cached {
    char *auth;
    char *user;
    double until;
};

static struct {
    struct rule rules[MAX_RULES];
    int nrules;
    char *rules_text;
    struct htpasswd users;
    const char *realm;
    char challenge_basic[200], challenge_bearer[200];
    double cache_ttl;
    struct cached cache[CACHE_SLOTS];
    bearer_fn bearer;
} pm;

/* A Basic check on a pool thread. */
struct job {
    kiln_id id;
    int gone;
    int ok;
    const struct rule *rule;
    char user[HTPASSWD_USER_MAX];
    char password[CRYPT_MAX_PASSPHRASE_SIZE];
    char hash[CRYPT_OUTPUT_SIZE];
    char *auth;                 /* to remember it when it matched */
    struct crypt_data work;
};

/* ---- rules ---------------------------------------------------------------- */

static const struct rule *rule_for(const char *path)
{
    const struct rule *best = NULL;

    for (int i = 0; i < pm.nrules; i++) {
        const struct rule *r = &pm.rules[i];
        if (strncmp(path, r->prefix, r->len) == 0 &&
            (path[r->len] == '\0' || path[r->len] == '/' || r->prefix[r->len - 1] == '/') &&
            (best == NULL || r->len > best->len))
            best = r;
    }
    return best;
}

static int user_allowed(const struct rule *r, const char *user)
{
    if (r->nusers == 0)
        return 1;
    for (int i = 0; i < r->nusers; i++)
        if (strcmp(r->users[i], user) == 0)
            return 1;
    return 0;
}

/* "/admin basic alice bob, /api bearer": 0, or -1 with the reason logged. */
static int parse_rules(const char *text)
{
    char *save = NULL, *one;

    if ((pm.rules_text = strdup(text)) == NULL)
        return -1;
    for (one = strtok_r(pm.rules_text, ",", &save); one; one = strtok_r(NULL, ",", &save)) {
        char *s2 = NULL, *prefix = strtok_r(one, " \t", &s2), *scheme = strtok_r(NULL, " \t", &s2);
        struct rule *r = &pm.rules[pm.nrules];
        char *u;

        if (prefix == NULL)
            continue;
        if (pm.nrules == MAX_RULES || prefix[0] != '/' || scheme == NULL ||
            (strcmp(scheme, "basic") != 0 && strcmp(scheme, "bearer") != 0)) {
            kiln_log(KILN_LOG_ERROR, "[permissions] rules: expected \"PREFIX basic|bearer "
                     "[USER...]\" (at most %d, comma-separated), got \"%s%s%s\"", MAX_RULES,
                     prefix, scheme ? " " : "", scheme ? scheme : "");
            return -1;
        }
        r->prefix = prefix;
        r->len = strlen(prefix);
        r->scheme = strcmp(scheme, "basic") == 0 ? BASIC : BEARER;
        while ((u = strtok_r(NULL, " \t", &s2)) != NULL && r->nusers < MAX_RULE_USERS)
            r->users[r->nusers++] = u;
        pm.nrules++;
    }
    return 0;
}

/* ---- the cache of checked credentials ------------------------------------ */

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct cached *slot(const char *auth)
{
    unsigned h = 2166136261u;

    for (const char *p = auth; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return &pm.cache[h % CACHE_SLOTS];
}

static const char *cache_find(const char *auth)
{
    struct cached *c = slot(auth);

    if (c->auth != NULL && strcmp(c->auth, auth) == 0 && now() < c->until)
        return c->user;
    return NULL;
}

static void cache_put(char *auth, const char *user)
{
    struct cached *c = slot(auth);
    char *u = strdup(user);

    if (pm.cache_ttl <= 0 || u == NULL) {
        free(u);
        free(auth);
        return;
    }
    free(c->auth);
    free(c->user);
    c->auth = auth;
    c->user = u;
    c->until = now() + pm.cache_ttl;
}

/* ---- answers -------------------------------------------------------------- */

static int challenge(kiln_req *req, enum scheme s, const char *why)
{
    kiln_add_header(req, "WWW-Authenticate", s == BASIC ? pm.challenge_basic : pm.challenge_bearer);
    return kiln_error(req, 401, "401 Unauthorized: %s\n", why);
}

static int let_in(kiln_req *req, const struct rule *r, const char *user)
{
    char *copy = strdup(user);

    if (copy == NULL || kiln_req_set(req, "remote_user", copy, free) < 0) {
        free(copy);
        return KILN_ERROR;
    }
    if (!user_allowed(r, user))
        return kiln_error(req, 403, "403 Forbidden: %s may not reach %s\n", user, r->prefix);
    return KILN_NEXT;
}

/* ---- Basic ---------------------------------------------------------------- */

static void run(void *arg)
{
    struct job *j = arg;
    const char *out = crypt_rn(j->password, j->hash, &j->work, sizeof(j->work));

    j->ok = out != NULL && htpasswd_same(out, j->hash) && j->user[0] != '\0';
    explicit_bzero(j->password, sizeof(j->password));
}

static void job_free(struct job *j)
{
    free(j->auth);
    explicit_bzero(j, sizeof(*j));
    free(j);
}

static void done(void *arg, int cancelled)
{
    struct job *j = arg;
    kiln_req *req = j->gone ? NULL : kiln_pending(j->id);

    if (req != NULL && cancelled)
        kiln_resume(j->id, kiln_error(req, 503, "the worker is stopping\n"));
    else if (req != NULL && !j->ok)
        kiln_resume(j->id, challenge(req, BASIC, "wrong user or password"));
    else if (req != NULL) {
        cache_put(j->auth, j->user);
        j->auth = NULL;
        kiln_resume(j->id, let_in(req, j->rule, j->user));
    }
    job_free(j);
}

static void cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    (void)id;
    (void)why;
    ((struct job *)arg)->gone = 1;
}

/* Fills the job from "Basic base64(user:password)": 0, or -1. */
static int take_credentials(struct job *j, const char *auth)
{
    char plain[HTPASSWD_USER_MAX + CRYPT_MAX_PASSPHRASE_SIZE + 1], *colon;
    const char *hash;
    long n;

    if (strncasecmp(auth, "Basic ", 6) != 0)
        return -1;
    if ((n = htpasswd_base64(auth + 6, plain, sizeof(plain) - 1)) < 0)
        return -1;
    plain[n] = '\0';
    if ((size_t)n != strlen(plain) || (colon = strchr(plain, ':')) == NULL ||
        (size_t)(colon - plain) >= sizeof(j->user) || strlen(colon + 1) >= sizeof(j->password))
        return -1;
    *colon = '\0';
    hash = htpasswd_find(&pm.users, plain);
    strcpy(j->user, hash ? plain : "");
    strcpy(j->password, colon + 1);
    strcpy(j->hash, hash ? hash : pm.users.dummy);
    explicit_bzero(plain, sizeof(plain));
    return 0;
}

static int basic(kiln_req *req, const struct rule *r)
{
    const char *auth = kiln_header(req, "Authorization"), *user;
    struct job *j;

    if (auth == NULL)
        return challenge(req, BASIC, "credentials required");
    if ((user = cache_find(auth)) != NULL)
        return let_in(req, r, user);
    if ((j = calloc(1, sizeof(*j))) == NULL)
        return KILN_ERROR;
    j->rule = r;
    if (take_credentials(j, auth) < 0) {
        job_free(j);
        return challenge(req, BASIC, "expected Basic credentials");
    }
    if ((j->auth = strdup(auth)) == NULL || (j->id = kiln_defer(req, cancel, j)) == 0) {
        job_free(j);
        return KILN_ERROR;
    }
    if (kiln_offload(run, done, j) != 0) {
        job_free(j);
        return kiln_error(req, 503, "no thread pool to check passwords on (thread_pool = 0)\n");
    }
    return KILN_PENDING;
}

/* ---- Bearer --------------------------------------------------------------- */

static int bearer(kiln_req *req, const struct rule *r)
{
    const char *auth = kiln_header(req, "Authorization");
    int rc;

    if (pm.bearer == NULL)
        return kiln_error(req, 500, "no plugin exports permissions.bearer\n");
    if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0 || auth[7] == '\0')
        return challenge(req, BEARER, "a bearer token is required");
    rc = pm.bearer(req, auth + 7, r->prefix);
    if (rc == 0) {
        const char *user = kiln_req_get(req, "remote_user");
        return user == NULL || user_allowed(r, user) ? KILN_NEXT
               : kiln_error(req, 403, "403 Forbidden: %s may not reach %s\n", user, r->prefix);
    }
    if (rc == 403)
        return kiln_error(req, 403, "403 Forbidden\n");
    kiln_add_header(req, "WWW-Authenticate", pm.challenge_bearer);
    return kiln_error(req, 401, "401 Unauthorized: invalid token\n");
}

static int permissions_before(kiln_req *req, void *data)
{
    const struct rule *r = rule_for(kiln_path(req));

    (void)data;
    if (r == NULL)
        return KILN_NEXT;
    return r->scheme == BASIC ? basic(req, r) : bearer(req, r);
}

/* ---- loading -------------------------------------------------------------- */

static void worker_start(kiln_app *app)
{
    (void)app;
    pm.bearer = (bearer_fn)kiln_import("permissions.bearer");
    for (int i = 0; i < pm.nrules; i++)
        if (pm.rules[i].scheme == BEARER && pm.bearer == NULL) {
            kiln_log(KILN_LOG_ERROR, "[permissions] %s bearer: no plugin exports "
                     "permissions.bearer: its requests get 500", pm.rules[i].prefix);
            break;
        }
}

static int configure(kiln_app *app)
{
    const char *path = kiln_config(app, "htpasswd", "");
    const char *cache = kiln_config(app, "cache", "60s");
    char *end;

    pm.realm = kiln_config(app, "realm", "kiln");
    if (strpbrk(pm.realm, "\"\\\r\n") != NULL) {
        kiln_log(KILN_LOG_ERROR, "[permissions] realm: no quote, backslash or newline, "
                 "got \"%s\"", pm.realm);
        return -1;
    }
    snprintf(pm.challenge_basic, sizeof(pm.challenge_basic),
             "Basic realm=\"%s\", charset=\"UTF-8\"", pm.realm);
    snprintf(pm.challenge_bearer, sizeof(pm.challenge_bearer), "Bearer realm=\"%s\"", pm.realm);
    pm.cache_ttl = strtod(cache, &end);
    if (end == cache || (strcmp(end, "s") != 0 && *end != '\0') || pm.cache_ttl < 0) {
        kiln_log(KILN_LOG_ERROR, "[permissions] cache: expected seconds like 60s (0: off), "
                 "got \"%s\"", cache);
        return -1;
    }
    if (parse_rules(kiln_config(app, "rules", "")) < 0)
        return -1;
    for (int i = 0; i < pm.nrules; i++)
        if (pm.rules[i].scheme == BASIC && *path == '\0') {
            kiln_log(KILN_LOG_ERROR, "[permissions] rules: %s basic needs htpasswd = FILE",
                     pm.rules[i].prefix);
            return -1;
        }
    return *path == '\0' ? 0 : htpasswd_load(&pm.users, path);
}

static void fini(kiln_app *app)
{
    (void)app;
    htpasswd_free(&pm.users);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        free(pm.cache[i].auth);
        free(pm.cache[i].user);
    }
    free(pm.rules_text);
    memset(&pm, 0, sizeof(pm));
}

static int init(kiln_app *app)
{
    if (*kiln_config(app, "rules", "") == '\0')
        return 0;                   /* loaded, guarding nothing */
    if (configure(app) < 0) {
        fini(app);
        return -1;
    }
    if (kiln_worker_hooks(app, worker_start, NULL) < 0)
        return -1;
    return kiln_add_middleware(app, "permissions", permissions_before, NULL, NULL);
}

KILN_PLUGIN("permissions", init, fini);
