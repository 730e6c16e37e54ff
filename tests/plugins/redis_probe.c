/*
 * Test plugin: the Redis client's contract, one route per rule --
 * POST /redis/cmd sends the body as one command (its first byte separates
 * the arguments, so that they may hold any byte, NUL included) and answers
 * with the reply described ("status OK", "integer 3", "string 3 \x00ab",
 * "nil", "array 2 [...]", "error ..."), or with a string reply's bytes
 * when ?raw=1; GET /redis/wait?ms=N blocks on the server with WAIT 1 N
 * (no replica answers: N ms), its cancel callback cancels the command and
 * logs it; GET /redis/later?ms=N&cmd=incr|wait answers at once and sends
 * the command from a timer N ms later, when the request is gone, logging
 * the reply; GET /redis/rules answers what the calls give for bad
 * arguments, a cancel, a second cancel, a long kiln_redis() and a cancel of
 * a command from inside its own callback.  Every callback logs an error if
 * it runs inside the call that submitted its command.  The start hook
 * sends PING while the first connect is still on and logs its reply; the
 * stop hook logs what kiln_redis() gives then.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kiln.h>

#define MAX_ARGS 64

struct probe {
    kiln_id req;
    kiln_id cmd;
    int raw;
};

static int submitting;              /* inside kiln_redis_command() */

static void check_outside(const char *what)
{
    if (submitting)
        kiln_log(KILN_LOG_ERROR, "%s: callback inside its submission", what);
}

/* ---- describing a reply ------------------------------------------------ */

struct buf {
    char s[8192];
    size_t n;
};

static void put(struct buf *b, const char *fmt, ...) KILN_PRINTF(2, 3);
static void put(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->n >= sizeof(b->s) - 1)
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->s + b->n, sizeof(b->s) - b->n, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->n = b->n + (size_t)n < sizeof(b->s) ? b->n + (size_t)n : sizeof(b->s) - 1;
}

/* The accessors agree with the type: no text for an integer, no elements
 * outside an array, 0 for a non-integer. */
static int consistent(const kiln_redis_reply *r)
{
    enum kiln_redis_type t = kiln_redis_type(r);
    size_t len = 1;

    if (t != KILN_REDIS_ARRAY && (kiln_redis_len(r) != 0 || kiln_redis_elem(r, 0)))
        return 0;
    if (t == KILN_REDIS_ARRAY && kiln_redis_elem(r, kiln_redis_len(r)))
        return 0;
    if (t != KILN_REDIS_INTEGER && kiln_redis_int(r) != 0)
        return 0;
    if ((t == KILN_REDIS_INTEGER || t == KILN_REDIS_NIL || t == KILN_REDIS_ARRAY) &&
        (kiln_redis_str(r, &len) || len != 0))
        return 0;
    return 1;
}

static void describe(struct buf *b, const kiln_redis_reply *r)
{
    const unsigned char *s;
    size_t len, i;

    if (!consistent(r))
        put(b, "(accessors disagree) ");
    switch (kiln_redis_type(r)) {
    case KILN_REDIS_ERROR:
        put(b, "error %s", kiln_redis_str(r, NULL));
        break;
    case KILN_REDIS_STATUS:
        put(b, "status %s", kiln_redis_str(r, NULL));
        break;
    case KILN_REDIS_INTEGER:
        put(b, "integer %lld", kiln_redis_int(r));
        break;
    case KILN_REDIS_NIL:
        put(b, "nil");
        break;
    case KILN_REDIS_STRING:
        s = (const unsigned char *)kiln_redis_str(r, &len);
        put(b, "string %zu ", len);
        for (i = 0; i < len; i++)
            put(b, s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\' ? "%c" : "\\x%02x", s[i]);
        if (s[len] != '\0')
            put(b, " (not NUL-terminated)");
        break;
    case KILN_REDIS_ARRAY:
        put(b, "array %zu [", kiln_redis_len(r));
        for (i = 0; i < kiln_redis_len(r); i++) {
            put(b, i ? ", " : "");
            describe(b, kiln_redis_elem(r, i));
        }
        put(b, "]");
        break;
    }
}

/* ---- POST /redis/cmd ----------------------------------------------------- */

static void on_cmd(const kiln_redis_reply *r, void *arg)
{
    struct probe *p = arg;
    kiln_req *req = kiln_pending(p->req);
    struct buf b = {.n = 0};
    size_t len;
    const char *s;

    check_outside("cmd");
    if (p->raw && kiln_redis_type(r) == KILN_REDIS_STRING) {
        s = kiln_redis_str(r, &len);
        kiln_bytes(req, 200, s, len);
    } else {
        describe(&b, r);
        kiln_text(req, 200, "%s\n", b.s);
    }
    kiln_resume(p->req, KILN_OK);
    free(p);
}

static void cmd_cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    struct probe *p = arg;

    (void)id;
    (void)why;
    kiln_redis_cancel(p->cmd);
    free(p);
}

/* Sends p's command with the request's callbacks: KILN_PENDING, or an answer. */
static int send_deferred(kiln_req *req, struct probe *p, kiln_redis_fn cb, int argc,
                         const char **argv, const size_t *lens, kiln_cancel_fn cancel)
{
    submitting = 1;
    p->cmd = kiln_redis_command(cb, p, argc, argv, lens);
    submitting = 0;
    if (!p->cmd) {
        free(p);
        return kiln_text(req, 503, "no redis\n");
    }
    p->req = kiln_defer(req, cancel, p);
    return KILN_PENDING;
}

static int cmd_handler(kiln_req *req, void *data)
{
    const char *argv[MAX_ARGS], *raw = kiln_query(req, "raw");
    size_t lens[MAX_ARGS], len, i, start;
    const char *body = kiln_body(req, &len);
    struct probe *p;
    int argc = 0;

    (void)data;
    if (len < 2)
        return kiln_text(req, 400, "body: SEParg1SEParg2...\n");
    for (start = i = 1; i <= len && argc < MAX_ARGS; i++) {
        if (i == len || body[i] == body[0]) {
            argv[argc] = body + start;
            lens[argc++] = i - start;
            start = i + 1;
        }
    }
    p = calloc(1, sizeof(*p));
    if (!p)
        return KILN_ERROR;
    p->raw = raw && strcmp(raw, "1") == 0;
    return send_deferred(req, p, on_cmd, argc, argv, lens, cmd_cancel);
}

/* ---- GET /redis/wait -------------------------------------------------------- */

static const char *why_name(enum kiln_cancel why)
{
    return why == KILN_CANCEL_GONE ? "gone" : why == KILN_CANCEL_DEADLINE ? "deadline" : "stop";
}

static void on_wait(const kiln_redis_reply *r, void *arg)
{
    struct probe *p = arg;
    struct buf b = {.n = 0};

    check_outside("wait");
    describe(&b, r);
    kiln_log(KILN_LOG_INFO, "wait: reply %s", b.s);
    kiln_text(kiln_pending(p->req), 200, "wait %s\n", b.s);
    kiln_resume(p->req, KILN_OK);
    free(p);
}

static void wait_cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    struct probe *p = arg;
    int first, again;

    (void)id;
    first = kiln_redis_cancel(p->cmd);
    again = kiln_redis_cancel(p->cmd);
    kiln_log(KILN_LOG_INFO, "wait cancelled %s: cancel %d, again %d", why_name(why), first,
             again);
    free(p);
}

static int wait_handler(kiln_req *req, void *data)
{
    const char *ms = kiln_query(req, "ms");
    struct probe *p;

    (void)data;
    if (!ms || atol(ms) <= 0)
        return kiln_text(req, 400, "ms > 0, please (WAIT 1 0 blocks for ever)\n");
    p = calloc(1, sizeof(*p));
    if (!p)
        return KILN_ERROR;
    submitting = 1;
    p->cmd = kiln_redis(on_wait, p, "WAIT", "1", ms, NULL);
    submitting = 0;
    if (!p->cmd) {
        free(p);
        return kiln_text(req, 503, "no redis\n");
    }
    p->req = kiln_defer(req, wait_cancel, p);
    return KILN_PENDING;
}

/* ---- GET /redis/later --------------------------------------------------- */

static void on_later(const kiln_redis_reply *r, void *arg)
{
    struct buf b = {.n = 0};

    (void)arg;
    check_outside("later");
    describe(&b, r);
    kiln_log(KILN_LOG_INFO, "later: reply %s", b.s);
}

static void later_fire(kiln_timer *t, void *arg)
{
    int wait = arg != NULL;
    kiln_id id;

    (void)t;
    submitting = 1;
    id = wait ? kiln_redis(on_later, NULL, "WAIT", "1", "10000", NULL)
              : kiln_redis(on_later, NULL, "INCR", "redis_probe:later", NULL);
    submitting = 0;
    kiln_log(KILN_LOG_INFO, "later: %s sent, id %s", wait ? "WAIT" : "INCR", id ? "yes" : "0");
}

static int later_handler(kiln_req *req, void *data)
{
    const char *ms = kiln_query(req, "ms"), *cmd = kiln_query(req, "cmd");
    static int wait_tag;

    (void)data;
    if (!kiln_timer_start(ms ? atol(ms) / 1000.0 : 0, 0, later_fire,
                          cmd && strcmp(cmd, "wait") == 0 ? &wait_tag : NULL))
        return KILN_ERROR;
    return kiln_text(req, 200, "later\n");
}

/* ---- GET /redis/rules ----------------------------------------------------- */

struct rules {
    kiln_id req;
    kiln_id cmd;
    char text[512];
};

static void on_rules_del(const kiln_redis_reply *r, void *arg)
{
    struct rules *x = arg;
    struct buf b = {.n = 0};

    check_outside("rules");
    describe(&b, r);
    kiln_text(kiln_pending(x->req), 200, "%slong: %s, own cancel %d\n", x->text, b.s,
              kiln_redis_cancel(x->cmd));
    kiln_resume(x->req, KILN_OK);
    free(x);
}

static void rules_cancel(kiln_id id, enum kiln_cancel why, void *arg)
{
    struct rules *x = arg;

    (void)id;
    (void)why;
    kiln_redis_cancel(x->cmd);
    free(x);
}

static void never(const kiln_redis_reply *r, void *arg)
{
    (void)r;
    (void)arg;
    kiln_log(KILN_LOG_ERROR, "rules: a cancelled command's callback ran");
}

static int rules_handler(kiln_req *req, void *data)
{
    const char *holed[3] = {"ECHO", NULL, "x"};
    struct rules *x;
    kiln_id id;
    int first, again;

    (void)data;
    x = calloc(1, sizeof(*x));
    if (!x)
        return KILN_ERROR;
    id = kiln_redis(never, NULL, "PING", NULL);
    first = kiln_redis_cancel(id);
    again = kiln_redis_cancel(id);
    snprintf(x->text, sizeof(x->text),
             "argc 0: %llu\nnull arg0: %llu\nnull argv[1]: %llu\n"
             "cancel: %d, again: %d, id 0: %d\n",
             kiln_redis_command(never, NULL, 0, holed, NULL),
             kiln_redis(never, NULL, (const char *)NULL, (char *)NULL),
             kiln_redis_command(never, NULL, 3, holed, NULL),
             first, again, kiln_redis_cancel(0));
    submitting = 1;
    x->cmd = kiln_redis(on_rules_del, x, "DEL", "rp:1", "rp:2", "rp:3", "rp:4", "rp:5",
                        "rp:6", "rp:7", "rp:8", "rp:9", "rp:10", "rp:11", "rp:12", "rp:13",
                        "rp:14", "rp:15", "rp:16", "rp:17", "rp:18", "rp:19", "rp:20", NULL);
    submitting = 0;
    if (!id || !x->cmd) {
        kiln_redis_cancel(x->cmd);
        free(x);
        return kiln_text(req, 503, "no redis\n");
    }
    x->req = kiln_defer(req, rules_cancel, x);
    return KILN_PENDING;
}

/* ---- hooks ------------------------------------------------------------------ */

static void on_start_ping(const kiln_redis_reply *r, void *arg)
{
    struct buf b = {.n = 0};

    (void)arg;
    check_outside("start");
    describe(&b, r);
    kiln_log(KILN_LOG_INFO, "start: PING: %s", b.s);
}

static void start(kiln_app *app)
{
    (void)app;
    submitting = 1;
    if (!kiln_redis(on_start_ping, NULL, "PING", NULL))
        kiln_log(KILN_LOG_INFO, "start: no redis");
    submitting = 0;
}

static void stop(kiln_app *app)
{
    (void)app;
    kiln_log(KILN_LOG_INFO, "stop: kiln_redis gives %llu",
             kiln_redis(never, NULL, "PING", NULL));
}

static int init(kiln_app *app)
{
    if (kiln_add_post(app, "/redis/cmd", cmd_handler, NULL) < 0 ||
        kiln_add_get(app, "/redis/wait", wait_handler, NULL) < 0 ||
        kiln_add_get(app, "/redis/later", later_handler, NULL) < 0 ||
        kiln_add_get(app, "/redis/rules", rules_handler, NULL) < 0)
        return -1;
    return kiln_worker_hooks(app, start, stop);
}

KILN_PLUGIN("redis_probe", init, NULL);
