/*
 * permissions.c -- who may do what in the notes example (aiohttp's
 * permissions.py, aiohttp_security's check_authorized and check_permission):
 * passwords checked with crypt(3) on kiln's thread pool, the session
 * cookie, the logged-in user of a request, and the rule that a user
 * touches their own notes only unless their role is admin; the login
 * check is the middleware "backend.auth".
 *
 * A password hash costs tens of milliseconds of CPU by design (yescrypt,
 * $y$); run on the loop it would stall every connection of the worker, so
 * perm_check_password() hands crypt_rn() to kiln_offload(), as aiohttp
 * hands it to run_in_executor().  The session is a random token in an
 * HttpOnly, SameSite=Lax cookie; the database keeps only its SHA-256
 * (model/users.c), so a copy of the table logs nobody in.
 */
#define _GNU_SOURCE                 /* explicit_bzero */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "backend.h"

#define COOKIE "session"
#define TOKEN_BYTES 32

/* Checked when the user does not exist, so that an unknown name takes as
 * long to refuse as a wrong password (no telling which names exist). */
#define NO_SUCH_USER "$y$j9T$AsMHp2bLmVs723TSc1Vg61$hSma1fznsjErfuUf5HR2zsgz8VCu35M5bJyAtI3QkJ9"

/* ---- the session cookie -------------------------------------------------------- */

/* The request's session token: 64 lower-case hex digits, or NULL. */
const char *perm_session_token(kiln_req *req)
{
    const char *t = kiln_cookie(req, COOKIE);

    if (!t || strlen(t) != 2 * TOKEN_BYTES || strspn(t, "0123456789abcdef") != 2 * TOKEN_BYTES)
        return NULL;
    return t;
}

/* A new token into out (65 bytes); 0, or -1 when getrandom(2) failed. */
int perm_new_token(char out[65])
{
    unsigned char b[TOKEN_BYTES];
    size_t i;

    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
        return -1;
    for (i = 0; i < sizeof(b); i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    return 0;
}

int perm_set_session(kiln_req *req, const char *token)
{
    struct kiln_cookie_opts o = {0};

    o.max_age = config()->session_lifetime;
    o.path = "/";
    o.same_site = "Lax";
    o.http_only = 1;
    o.secure = config()->cookie_secure;
    return kiln_set_cookie(req, COOKIE, token, &o);
}

int perm_clear_session(kiln_req *req)
{
    return kiln_delete_cookie(req, COOKIE, "/", NULL);
}

/* ---- the logged-in user: the middleware "backend.auth" ---------------------------- */

#define USER_KEY "backend.user"

/* The user the middleware found for the request, or NULL. */
const struct user *perm_user(const kiln_req *req)
{
    return kiln_req_get(req, USER_KEY);
}

static void on_session(struct call *c, const kiln_pg_result *res)
{
    struct user *u;

    if (db_failed(c, res))
        return;
    u = malloc(sizeof(*u));
    if (u && (kiln_pg_rows(res) != 1 || users_read(res, 0, u) < 0)) {
        free(u);
        call_error(c, 401, "not logged in (the session has ended)", NULL);
        return;
    }
    if (!u || kiln_req_set(call_req(c), USER_KEY, u, free) < 0) {
        free(u);
        call_error(c, 500, "out of memory", NULL);
        return;
    }
    call_next(c);
}

/*
 * A before (aiohttp_security's check_authorized): a request for a route
 * that needs a login (urls.c says which: all of /api/ but the login, the
 * WebSocket's handshake too) goes on with its user (perm_user()) when it
 * has a live session, else is answered 401.  Other requests (an unknown
 * path, the page, another plugin's routes) go on untouched.
 */
static int auth_before(kiln_req *req, void *data)
{
    const char *token;
    struct call *c;

    (void)data;
    if (!urls_needs_login(req))
        return KILN_NEXT;
    token = perm_session_token(req);
    if (!token)
        return mw_error(req, 401, "not logged in", NULL);
    c = call_begin(req);
    if (!c)
        return KILN_ERROR;
    users_by_session(c, on_session, token);
    return KILN_PENDING;
}

/* Registers "backend.auth" (from init); 0, or -1. */
int perm_register(kiln_app *app)
{
    return kiln_add_middleware(app, "backend.auth", auth_before, NULL, NULL);
}

/* Whether u may read or change a note of user `owner`. */
int perm_may_touch(const struct user *u, long long owner)
{
    return u->admin || u->id == owner;
}

/* ---- passwords, on the thread pool --------------------------------------------------- */

/* One password to check: the view fills it, run() works on it on a pool
 * thread and touches nothing else, done() goes on with the call. */
struct job {
    kiln_id req;                    /* the call's request: alive iff pending */
    struct call *call;              /* valid while kiln_pending(req) is not NULL */
    void (*then)(struct call *c, int ok);
    int ok;
    int unknown;                    /* no such user: never ok */
    char password[CRYPT_MAX_PASSPHRASE_SIZE];
    char hash[CRYPT_OUTPUT_SIZE];
    struct crypt_data work;
};

static void job_free(struct job *j)
{
    explicit_bzero(j, sizeof(*j));
    free(j);
}

/* Compares in a time that depends on the lengths only. */
static int same(const char *a, const char *b)
{
    size_t n = strlen(a), i;
    unsigned char diff = 0;

    if (n != strlen(b))
        return 0;
    for (i = 0; i < n; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

static void run(void *arg)
{
    struct job *j = arg;
    const char *out = crypt_rn(j->password, j->hash, &j->work, sizeof(j->work));

    j->ok = out && out[0] != '*' && same(out, j->hash);
    explicit_bzero(j->password, sizeof(j->password));
}

static void done(void *arg, int cancelled)
{
    struct job *j = arg;

    if (kiln_pending(j->req)) {
        if (cancelled)
            call_error(j->call, 503, "the server is stopping", NULL);
        else
            j->then(j->call, j->ok && !j->unknown);
    }
    job_free(j);
}

/*
 * Checks `password` against `hash` (NULL: the user does not exist; the
 * check runs all the same and fails) on the thread pool, then calls
 * then(c, ok) on the loop.  The call is answered 400 for a password too
 * long for libcrypt, 503 when the worker has no thread pool.
 */
void perm_check_password(struct call *c, const char *hash, const char *password,
                         void (*then)(struct call *c, int ok))
{
    struct job *j;

    if (strlen(password) >= CRYPT_MAX_PASSPHRASE_SIZE) {
        call_error(c, 400, "invalid input",
                   json_pack("{s:s}", "password", "too long"));
        return;
    }
    if (!hash || strlen(hash) >= CRYPT_OUTPUT_SIZE)
        hash = NO_SUCH_USER;
    j = calloc(1, sizeof(*j));
    if (!j) {
        call_error(c, 500, "out of memory", NULL);
        return;
    }
    j->req = c->req;
    j->call = c;
    j->then = then;
    j->unknown = hash == (const char *)NO_SUCH_USER;
    strcpy(j->password, password);
    strcpy(j->hash, hash);
    if (kiln_offload(run, done, j) != 0) {
        job_free(j);
        call_error(c, 503, "no thread pool to check passwords on (thread_pool = 0)", NULL);
    }
}
