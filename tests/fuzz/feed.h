/*
 * feed.h -- a worker with no master and no listener, whose connections the
 * fuzz harnesses feed with bytes: conn_new() on one end of a socketpair, the
 * client's bytes written into the other end, the worker's loop run until
 * nothing moves.  Everything from the first read(2) on is kiln's own code
 * (worker/conn.c, worker/http.c, the router, the WebSocket layer).
 */
#ifndef KILN_FUZZ_FEED_H
#define KILN_FUZZ_FEED_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct plugin;
struct router;
struct worker;

/* The plugin the harnesses register their routes for ("fuzz"). */
struct plugin *feed_plugin(void);

/*
 * Whether FUZZ_OPEN is set in the environment: a harness may keep out of
 * the way of a defect of tests/fuzz/open/ unless it is set (to reproduce
 * those inputs: FUZZ_OPEN=1 build-fuzz/NAME FILE).  No defect is open now:
 * slow clients stay slow after their upgrade, and the deflate route is on.
 */
int feed_open(void);

/*
 * The harness's worker, made on the first call: the default libev loop,
 * `router` (the harness's; kept), a scoreboard slot and a plugin to name in
 * it, the log sent to /dev/null.  `cfg` may change from one call to the
 * next (the limits a harness tries).
 */
struct worker *feed_worker(const struct config *cfg, struct router *router);

/*
 * Serves one connection of w: the n pieces parts[i] (lens[i] bytes) are
 * written in turn, each once the worker has taken what came before it (so
 * each piece is read on its own), then the client shuts down its writing
 * side, and the loop runs until the connection, and any WebSocket it
 * became, is gone.  A `slow` client reads nothing before that (unless
 * the connection was handed to the WebSocket layer, without FUZZ_OPEN),
 * and kiln's socket buffer is as small as the kernel allows, so that its
 * writes stall.  What kiln wrote back is in *out (feed's buffer, valid until the
 * next call; with FEED_SHOW in the environment, also copied to stderr).  A
 * connection that outlives its client's end of stream is a defect: abort().
 */
void feed_serve(struct worker *w, const uint8_t *const *parts, const size_t *lens,
                size_t n, int slow, const char **out, size_t *outlen);

/*
 * Cuts data[0..size) into three reads, at two offsets chosen by the bytes a
 * and b (0..255, scaled to the length; the lower one first): parts[i] and
 * lens[i], for feed_serve().
 */
void feed_split(const uint8_t *data, size_t size, uint8_t a, uint8_t b,
                const uint8_t *parts[3], size_t lens[3]);

#endif
