/*
 * hash.c -- password hashing on the worker's thread pool: POST /hash
 * answers the yescrypt hash of the password in the body, POST /hash/verify
 * whether a password matches a hash.
 *
 * What a Python developer writes for it in aiohttp:
 *
 *     async def hash_password(request):
 *         password = await request.text()
 *         salt = crypt.mksalt(crypt.METHOD_SHA512)   # Python makes no $y$ salt
 *         loop = asyncio.get_running_loop()
 *         hashed = await loop.run_in_executor(None, crypt.crypt, password, salt)
 *         return web.Response(text=hashed + "\n")
 *
 * A hash costs tens of milliseconds of CPU by design; on the loop it would
 * hold up every connection of the worker.  So the handler copies what the
 * job needs (the password, the hash to check), defers its request and hands
 * the job to kiln_offload(): run() hashes on a pool thread and touches
 * nothing but the job, done() answers on the loop with kiln_resume().  When
 * the request is cancelled first (the client left, pending_timeout, the
 * worker stops), its cancel callback only marks the job: the job may be
 * running on a thread, so done(), which runs in every case, frees it.
 *
 * Routes; every answer is text/plain and ends with a newline:
 *   POST /hash          body: the password.  200 "$y$...": its yescrypt
 *                       hash, salted with 16 bytes of getrandom(2).
 *   POST /hash/verify   body: the password, a newline, the hash, and
 *                       optionally a newline (the password is everything
 *                       before the last newline ahead of the hash, so it
 *                       may hold newlines).  200 "ok" or 403 "mismatch";
 *                       400 when the hash is not one libcrypt counts as
 *                       current (crypt_checksalt(): malformed, a disabled
 *                       or a legacy method such as DES or MD5).
 *   Both: 413 for a body over 1 KiB; 400 for one holding a NUL byte or a
 *   password of 512 bytes or more (libcrypt's CRYPT_MAX_PASSPHRASE_SIZE);
 *   503 when the worker has no thread pool (thread_pool = 0).
 *
 * [hash] cost = N: yescrypt's cost factor, 1 to 11 (default 5, libxcrypt's
 * own); each step doubles the time and the memory of one hash (5: 16 MiB).
 */
#define _GNU_SOURCE             /* memrchr, explicit_bzero */
#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <kiln.h>

#define MAX_BODY 1024           /* bytes of a request body */
#define SALT_BYTES 16           /* random bytes of a new hash's salt */

enum kind { NEW_HASH, VERIFY };

/* One password to hash or to check: the handler fills it, run() works on
 * it on a pool thread, done() answers from it and frees it. */
struct job {
    kiln_id id;
    enum kind kind;
    int gone;                   /* the request was cancelled: done() only frees */
    int status;                 /* run()'s verdict: 200, 403, or 500 */
    char password[CRYPT_MAX_PASSPHRASE_SIZE];
    char hash[CRYPT_OUTPUT_SIZE];   /* VERIFY: the hash to check; NEW_HASH: the result */
    struct crypt_data work;     /* crypt_rn()'s scratch area (32 KiB) */
};

static unsigned long cost = 5;

/* Clears the password and what crypt_rn() left behind, then frees. */
static void job_free(struct job *j)
{
    explicit_bzero(j, sizeof(*j));
    free(j);
}

/* Whether a and b are the same string, in time that depends on their
 * lengths only. */
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

/* ---- on a pool thread ---- */

static int new_hash(struct job *j)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    unsigned char salt[SALT_BYTES];
    const char *out;
    ssize_t n;

    do
        n = getrandom(salt, sizeof(salt), 0);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(salt) ||
        !crypt_gensalt_rn("$y$", cost, (const char *)salt, sizeof(salt), setting,
                          sizeof(setting)))
        return 500;
    out = crypt_rn(j->password, setting, &j->work, sizeof(j->work));
    if (!out || strlen(out) >= sizeof(j->hash))
        return 500;
    strcpy(j->hash, out);
    return 200;
}

static int verify(struct job *j)
{
    const char *out = crypt_rn(j->password, j->hash, &j->work, sizeof(j->work));

    if (!out)
        return 500;             /* the handler checked the hash: no memory */
    return same(out, j->hash) ? 200 : 403;
}

static void run(void *arg)
{
    struct job *j = arg;

    j->status = j->kind == NEW_HASH ? new_hash(j) : verify(j);
    explicit_bzero(j->password, sizeof(j->password));
}

/* ---- on the loop ---- */

static void done(void *arg, int cancelled)
{
    struct job *j = arg;
    kiln_req *req = j->gone ? NULL : kiln_pending(j->id);

    if (j->gone)
        kiln_log(KILN_LOG_DEBUG, "%s: cancelled before its job was done",
                 j->kind == NEW_HASH ? "/hash" : "/hash/verify");
    if (req && cancelled)       /* the pool stopped before the job ran */
        kiln_resume(j->id, kiln_text(req, 503, "the worker is stopping\n"));
    else if (req && j->status == 500)
        kiln_resume(j->id, KILN_ERROR);
    else if (req && j->kind == NEW_HASH)
        kiln_resume(j->id, kiln_text(req, 200, "%s\n", j->hash));
    else if (req)
        kiln_resume(j->id, kiln_text(req, j->status, j->status == 200 ? "ok\n" : "mismatch\n"));
    job_free(j);
}

static void cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    struct job *j = arg;

    (void)id;
    (void)why;
    j->gone = 1;
}

/* Copies the password of `len` bytes into the job; 0, or -2 when it is
 * too long for libcrypt. */
static int take_password(struct job *j, const char *password, size_t len)
{
    if (len >= sizeof(j->password))
        return -2;
    memcpy(j->password, password, len);
    return 0;
}

/* Splits a verify body, "PASSWORD\nHASH" with an optional "\n" after it,
 * into the job.  0, -1 when it is not of that form, or -2 when the
 * password is too long. */
static int split(struct job *j, const char *body, size_t len)
{
    const char *nl;
    size_t plen, hlen;

    if (len > 0 && body[len - 1] == '\n')
        len--;
    nl = memrchr(body, '\n', len);
    if (!nl)
        return -1;
    plen = (size_t)(nl - body);
    hlen = len - plen - 1;
    if (hlen == 0 || hlen >= sizeof(j->hash))
        return -1;
    memcpy(j->hash, nl + 1, hlen);
    return take_password(j, body, plen);
}

/* The hash to check is one libcrypt reads and does not count as legacy. */
static int current_hash(const char *hash)
{
    int ok = crypt_checksalt(hash);

    return ok == CRYPT_SALT_OK || ok == CRYPT_SALT_TOO_CHEAP;
}

static int handle(kiln_req *req, enum kind kind)
{
    size_t len;
    const char *body = kiln_body(req, &len);
    struct job *j;
    int rc;

    if (len > MAX_BODY)
        return kiln_text(req, 413, "the body is over %d bytes\n", MAX_BODY);
    if (memchr(body, '\0', len))
        return kiln_text(req, 400, "the body holds a NUL byte\n");
    j = calloc(1, sizeof(*j));
    if (!j)
        return KILN_ERROR;
    j->kind = kind;
    rc = kind == NEW_HASH ? take_password(j, body, len) : split(j, body, len);
    if (rc == 0 && kind == VERIFY && !current_hash(j->hash))
        rc = -1;
    if (rc < 0) {
        job_free(j);
        if (rc == -2)
            return kiln_text(req, 400, "the password is over %d bytes\n",
                             CRYPT_MAX_PASSPHRASE_SIZE - 1);
        return kiln_text(req, 400, "expected the password, a newline and a current "
                         "crypt hash ($y$, $6$, $2b$, ...)\n");
    }
    j->id = kiln_defer(req, cancel, j);
    if (!j->id) {
        job_free(j);
        return KILN_ERROR;
    }
    if (kiln_offload(run, done, j) != 0) {
        /* Answered now, after all: kiln forgets the deferral. */
        job_free(j);
        return kiln_text(req, 503, "no thread pool to hash on (thread_pool = 0)\n");
    }
    kiln_log(KILN_LOG_DEBUG, "%s: a job for the pool", kind == NEW_HASH ? "/hash" : "/hash/verify");
    return KILN_PENDING;
}

static int hash_route(kiln_req *req, void *data)
{
    (void)data;
    return handle(req, NEW_HASH);
}

static int verify_route(kiln_req *req, void *data)
{
    (void)data;
    return handle(req, VERIFY);
}

static int init(kiln_app *app)
{
    const char *v = kiln_config(app, "cost", "5");
    char *end;

    errno = 0;
    cost = strtoul(v, &end, 10);
    if (errno || *v < '0' || *v > '9' || *end != '\0' || cost < 1 || cost > 11) {
        kiln_log(KILN_LOG_ERROR, "[hash] cost = %s: expected a number from 1 to 11", v);
        return -1;
    }
    if (kiln_add_post(app, "/hash", hash_route, NULL) != 0)
        return -1;
    return kiln_add_post(app, "/hash/verify", verify_route, NULL);
}

KILN_PLUGIN("hash", init, NULL);
