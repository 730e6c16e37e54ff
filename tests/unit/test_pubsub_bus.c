/* test_pubsub_bus.c -- unit tests of the master's Redis pub/sub bus (master/pubsub_redis.c, included) on a libev loop against a real redis-server this program starts on a loopback port: delivery to two buses, binary channels and payloads, order, unsubscribes, an outage and its recovery. */
#include "unit.h"

#ifdef KILN_WITH_REDIS
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pubsub_redis.c"           /* master/, on this test's include path */

#define MAX_MSGS 2048

/* What one bus delivered, and its state changes. */
struct sink {
    struct pubsub_bus *bus;
    size_t n;
    char *channel[MAX_MSGS], *payload[MAX_MSGS];
    size_t channel_len[MAX_MSGS], len[MAX_MSGS];
    int ups, downs, up;
    int closed;                     /* a callback after close counts as one */
    int after_close;
};

static struct ev_loop *loop;
static pid_t server = -1;
static int port;
static char log_file[64];

static void on_deliver(void *arg, const char *channel, size_t channel_len,
                       const void *payload, size_t len)
{
    struct sink *s = arg;

    if (s->closed)
        s->after_close++;
    if (s->n == MAX_MSGS)
        return;
    s->channel[s->n] = malloc(channel_len + 1);
    s->payload[s->n] = malloc(len + 1);
    memcpy(s->channel[s->n], channel, channel_len);
    memcpy(s->payload[s->n], payload, len);
    s->channel_len[s->n] = channel_len;
    s->len[s->n++] = len;
}

static void on_state(void *arg, int up)
{
    struct sink *s = arg;

    if (s->closed)
        s->after_close++;
    s->up = up;
    if (up)
        s->ups++;
    else
        s->downs++;
}

static const struct pubsub_bus_events events = {on_deliver, on_state};

static void sink_clear(struct sink *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->channel[i]);
        free(s->payload[i]);
    }
    s->n = 0;
}

/* Whether the i-th delivery was (channel, text). */
static int got(const struct sink *s, size_t i, const char *channel, const char *text)
{
    return i < s->n && s->channel_len[i] == strlen(channel) &&
           memcmp(s->channel[i], channel, s->channel_len[i]) == 0 &&
           s->len[i] == strlen(text) && memcmp(s->payload[i], text, s->len[i]) == 0;
}

/* ---- the server -------------------------------------------------------- */

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), p = -1;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        p = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return p;
}

static int accepting(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* redis-server on `port`, killed with this program if it dies first.  0 once
 * it accepts, -1 when it did not within 5 s. */
static int server_start(void)
{
    char p[16];

    snprintf(p, sizeof(p), "%d", port);
    fflush(stdout);
    server = fork();
    if (server == 0) {
        int null = open("/dev/null", O_WRONLY);

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (null < 0 || dup2(null, STDOUT_FILENO) < 0)
            _exit(127);
        execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500 && server > 0; i++) {
        if (accepting())
            return 0;
        if (waitpid(server, NULL, WNOHANG) == server) {
            server = -1;
            break;
        }
        usleep(10000);
    }
    return -1;
}

static void server_kill(void)
{
    if (server > 0) {
        kill(server, SIGKILL);
        waitpid(server, NULL, 0);
        server = -1;
    }
}

/* ---- the loop ---------------------------------------------------------- */

static int (*waiting_for)(void);

static void on_tick(struct ev_loop *l, ev_timer *t, int revents)
{
    (void)t;
    (void)revents;
    if (waiting_for && waiting_for())
        ev_break(l, EVBREAK_ONE);
}

static void on_deadline(struct ev_loop *l, ev_timer *t, int revents)
{
    (void)t;
    (void)revents;
    ev_break(l, EVBREAK_ONE);
}

/* Runs the loop until cond() holds or `seconds` passed; cond() at the end. */
static int run_until(int (*cond)(void), double seconds)
{
    ev_timer tick, deadline;

    if (cond())
        return 1;
    waiting_for = cond;
    ev_timer_init(&tick, on_tick, 0.005, 0.005);
    ev_timer_init(&deadline, on_deadline, seconds, 0.);
    ev_timer_start(loop, &tick);
    ev_timer_start(loop, &deadline);
    ev_run(loop, 0);
    ev_timer_stop(loop, &tick);
    ev_timer_stop(loop, &deadline);
    waiting_for = NULL;
    return cond();
}

static struct sink A, B;

static int both_up(void) { return A.up && B.up; }
static int a_up(void) { return A.up; }
static int both_down(void) { return !A.up && !B.up; }
static int never(void) { return 0; }

/* Nothing queued or due on a bus's subscriber link: its (un)subscribes confirmed. */
static int settled(const struct pubsub_bus *b)
{
    return !b->ops && b->subs_due == 0 && !b->unsub_due;
}
static int both_settled(void) { return settled(A.bus) && settled(B.bus); }

static size_t want_a, want_b;
static int both_have(void) { return A.n >= want_a && B.n >= want_b; }

static struct pubsub_bus *open_bus(struct sink *s)
{
    char url[64], err[256] = "";

    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    s->bus = pubsub_bus_open(loop, url, &events, s, err, sizeof(err));
    if (!s->bus)
        printf("# %s\n", err);
    return s->bus;
}

static int publish(struct sink *s, const char *channel, const char *text)
{
    return pubsub_bus_publish(s->bus, channel, strlen(channel), text, strlen(text));
}

static int subscribe(struct sink *s, const char *channel)
{
    return pubsub_bus_subscribe(s->bus, channel, strlen(channel));
}

/* ---- the tests --------------------------------------------------------- */

static void bad_urls(void)
{
    char err[256] = "";

    CHECK(pubsub_bus_open(loop, "redis://h:0", &events, NULL, err, sizeof(err)) == NULL,
          "a bad URL opens no bus");
    CHECK(strstr(err, "pubsub = redis://h:0: the port must be") != NULL, "and says why: %s",
          err);
    CHECK(pubsub_bus_open(loop, "redis://:secret@h:0", &events, NULL, err, sizeof(err)) ==
              NULL && !strstr(err, "secret"), "the password is not in the message: %s", err);
}

static void own_and_other(void)
{
    CHECK(open_bus(&A) != NULL, "bus A opens");
    CHECK(run_until(a_up, 5), "bus A comes up");
    CHECK(A.ups == 1 && A.downs == 0, "state(1) once");
    CHECK(subscribe(&A, "news") == 0 && subscribe(&A, "news") == 0, "subscribe, twice");
    CHECK(open_bus(&B) != NULL, "bus B opens");
    CHECK(run_until(both_up, 5), "bus B comes up");
    CHECK(subscribe(&B, "news") == 0, "B subscribes");
    CHECK(run_until(both_settled, 5), "the subscribes are confirmed");

    CHECK(publish(&A, "news", "hello") == 0, "A publishes");
    want_a = 1;
    want_b = 1;
    CHECK(run_until(both_have, 5), "both receive it");
    CHECK(got(&A, 0, "news", "hello") && A.n == 1, "A its own message, once");
    CHECK(got(&B, 0, "news", "hello") && B.n == 1, "B the message of A, once");
    CHECK(publish(&B, "news", "from b") == 0 && publish(&A, "elsewhere", "x") == 0,
          "B publishes; A on a channel nobody subscribed to");
    want_a = 2;
    want_b = 2;
    CHECK(run_until(both_have, 5) && got(&A, 1, "news", "from b") && got(&B, 1, "news", "from b"),
          "A receives the message of B");
    run_until(never, 0.05);
    CHECK(A.n == 2 && B.n == 2, "nothing of the unsubscribed channel");
    sink_clear(&A);
    sink_clear(&B);
}

static void binary_and_order(void)
{
    static const char chan[] = "bin\0ary\xff";
    char payload[1000], text[32];
    struct pubsub_bus_stats st;
    int in_order = 1;

    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (char)(i % 7 == 0 ? 0 : i * 31);
    CHECK(pubsub_bus_subscribe(B.bus, chan, sizeof(chan) - 1) == 0, "a channel with a NUL");
    CHECK(run_until(both_settled, 5), "confirmed");
    CHECK(pubsub_bus_publish(A.bus, chan, sizeof(chan) - 1, payload, sizeof(payload)) == 0,
          "a payload with NULs");
    CHECK(pubsub_bus_publish(A.bus, chan, sizeof(chan) - 1, "", 0) == 0, "an empty one");
    want_a = 0;
    want_b = 2;
    CHECK(run_until(both_have, 5), "B receives both");
    CHECK(B.channel_len[0] == sizeof(chan) - 1 && memcmp(B.channel[0], chan, sizeof(chan) - 1) == 0,
          "the channel's bytes");
    CHECK(B.len[0] == sizeof(payload) && memcmp(B.payload[0], payload, sizeof(payload)) == 0,
          "the payload's bytes");
    CHECK(B.len[1] == 0, "the empty payload");
    sink_clear(&B);

    for (int i = 0; i < 1000; i++) {
        snprintf(text, sizeof(text), "m%d", i);
        publish(&A, "news", text);
    }
    want_a = 1000;
    want_b = 1000;
    CHECK(run_until(both_have, 10), "1000 messages arrive at both");
    for (int i = 0; i < 1000; i++) {
        snprintf(text, sizeof(text), "m%d", i);
        in_order &= got(&A, (size_t)i, "news", text) && got(&B, (size_t)i, "news", text);
    }
    CHECK(in_order && A.n == 1000 && B.n == 1000, "each once, in order");
    pubsub_bus_stats(A.bus, &st);
    CHECK(st.published == 1004 && st.dropped == 0 && st.up == 1, "A's stats: %llu published",
          (unsigned long long)st.published);
    pubsub_bus_stats(B.bus, &st);
    CHECK(st.delivered == 1004, "B's stats: %llu delivered", (unsigned long long)st.delivered);
    sink_clear(&A);
    sink_clear(&B);
}

static void unsubscribing(void)
{
    CHECK(pubsub_bus_unsubscribe(B.bus, "news", 4) == 0, "B unsubscribes");
    CHECK(pubsub_bus_unsubscribe(B.bus, "never", 5) == 0, "a channel it never had: 0");
    publish(&A, "news", "after");
    pubsub_bus_publish(A.bus, "bin\0ary\xff", 8, "sentinel", 8);
    want_a = 1;
    want_b = 1;
    CHECK(run_until(both_have, 5), "A has its message, B the sentinel");
    CHECK(got(&A, 0, "news", "after") && A.n == 1, "A still subscribed");
    CHECK(B.n == 1 && B.len[0] == 8, "B no longer receives news");
    sink_clear(&A);
    sink_clear(&B);

    /* Against the grain of hiredis: the same channel on and off in one
     * breath, and the last channel dropped with another one taken. */
    for (int i = 0; i < 3; i++) {
        subscribe(&B, "flip");
        pubsub_bus_unsubscribe(B.bus, "flip", 4);
    }
    subscribe(&B, "flip");
    pubsub_bus_unsubscribe(B.bus, "bin\0ary\xff", 8);
    pubsub_bus_unsubscribe(B.bus, "flip", 4);
    subscribe(&B, "fresh");
    subscribe(&B, "flip");
    CHECK(run_until(both_settled, 5), "on and off, settled");
    publish(&A, "flip", "f");
    publish(&A, "fresh", "g");
    pubsub_bus_publish(A.bus, "bin\0ary\xff", 8, "h", 1);
    want_a = 0;
    want_b = 2;
    CHECK(run_until(both_have, 5) && got(&B, 0, "flip", "f") && got(&B, 1, "fresh", "g"),
          "the last subscribe of each channel holds");
    run_until(never, 0.05);
    CHECK(B.n == 2, "and the channel dropped stays dropped");
    CHECK(B.bus->nchans == 2, "B's set: flip and fresh");
    sink_clear(&B);
}

/* Lines of the log that hold `what`. */
static int logged(const char *what)
{
    char line[1024];
    int n = 0;
    FILE *f = fopen(log_file, "r");

    while (f && fgets(line, sizeof(line), f))
        n += strstr(line, what) != NULL;
    if (f)
        fclose(f);
    return n;
}

static void outage(void)
{
    struct pubsub_bus_stats st;
    int i, dropped = 0;

    server_kill();
    CHECK(run_until(both_down, 5), "both buses see the server gone");
    CHECK(A.downs == 1 && B.downs == 1, "state(0) once each");
    for (i = 0; i < 5; i++)
        dropped += publish(&A, "news", "lost") < 0;
    pubsub_bus_stats(A.bus, &st);
    CHECK(dropped == 5 && st.dropped == 5 && st.up == 0, "publishes while down dropped (%llu)",
          (unsigned long long)st.dropped);
    CHECK(subscribe(&A, "later") == 0, "a subscribe while down is kept");
    CHECK(pubsub_bus_unsubscribe(B.bus, "flip", 4) == 0, "an unsubscribe while down too");
    run_until(never, 0.5);          /* a few reconnects refused */
    CHECK(server_start() == 0, "redis-server again on port %d", port);
    CHECK(run_until(both_up, 10), "both buses come back");
    CHECK(A.ups == 2 && B.ups == 2, "state(1) again");
    pubsub_bus_stats(A.bus, &st);
    CHECK(st.reconnects == 1 && st.up == 1, "one reconnect counted");
    publish(&B, "news", "back");
    publish(&B, "later", "new");
    publish(&A, "fresh", "again");
    publish(&A, "flip", "gone");
    want_a = 2;
    want_b = 1;
    CHECK(run_until(both_have, 5), "messages after the recovery arrive");
    CHECK(got(&A, 0, "news", "back") && got(&A, 1, "later", "new"),
          "A: subscriptions restored, the one made while down included");
    CHECK(got(&B, 0, "fresh", "again"), "B: subscription restored");
    run_until(never, 0.05);
    CHECK(A.n == 2 && B.n == 1, "nothing else (no flip: unsubscribed while down)");
    CHECK(logged("[pubsub] connection to 127.0.0.1:") == 2,
          "the outage logged once per bus (%d)", logged("[pubsub] connection to 127.0.0.1:"));
    CHECK(logged("the bus is back, 2 channel(s) subscribed again; 5 publish(es) dropped") == 1,
          "A's recovery logged, with its drops");
    CHECK(logged("connected to 127.0.0.1:") == 2, "each bus's reconnect logged once");
    sink_clear(&A);
    sink_clear(&B);
}

static void closing(void)
{
    pubsub_bus_close(A.bus);
    A.closed = 1;
    publish(&B, "news", "to nobody");
    for (int i = 0; i < 100; i++)
        publish(&B, "fresh", "mine");
    pubsub_bus_close(B.bus);
    B.closed = 1;
    run_until(never, 0.1);
    CHECK(A.after_close == 0 && B.after_close == 0, "no callback after close");
    pubsub_bus_close(NULL);
}

int main(void)
{
    int fd;

    if (system("command -v redis-server >/dev/null 2>&1") != 0) {
        CHECK(1, "pubsub bus # SKIP redis-server is not installed (apt-get install "
                 "redis-server; scripts/deps --test installs it)");
        return unit_done();
    }
    alarm(120);                     /* a hung loop fails; redis-server dies with us */
    signal(SIGPIPE, SIG_IGN);
    snprintf(log_file, sizeof(log_file), "/tmp/kiln-test-bus-XXXXXX");
    fd = mkstemp(log_file);
    if (fd < 0 || log_open(log_file) < 0)
        return 2;
    close(fd);
    log_set_level(LOG_INFO);
    loop = ev_default_loop(0);
    port = free_port();
    CHECK(port > 0 && server_start() == 0, "redis-server on 127.0.0.1:%d", port);
    if (server > 0) {
        bad_urls();
        own_and_other();
        binary_and_order();
        unsubscribing();
        outage();
        closing();
    }
    server_kill();
    unlink(log_file);
    return unit_done();
}

#else

int main(void)
{
    CHECK(1, "pubsub bus # SKIP built without Redis");
    return unit_done();
}

#endif
