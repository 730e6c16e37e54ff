/* test_pubsub_frame.c -- unit tests of core/pubsub_frame.c (frames on the master<->worker channel: round trips, limits, malformed datagrams) and core/nametab.c (keys with NULs, growth, removal). */
#include <stdlib.h>

#include "nametab.h"
#include "pubsub_frame.h"
#include "unit.h"

static void frames(void)
{
    static unsigned char buf[PUBSUB_FRAME_MAX], payload[PUBSUB_MESSAGE_CAP];
    char name[PUBSUB_CHANNEL_MAX + 1];
    struct pubsub_frame f = { .type = CHAN_PUB, .binary = 1, .channel = "room",
                              .channel_len = 4, .msg = "hello", .len = 5 }, g;
    size_t n = pubsub_frame_encode(buf, sizeof buf, &f);

    CHECK(n == 3 + 4 + 5 && n == pubsub_frame_size(&f), "a message: head, channel, payload");
    CHECK(pubsub_frame_decode(buf, n, &g) == 0 && g.type == CHAN_PUB && g.binary == 1 &&
          g.channel_len == 4 && memcmp(g.channel, "room", 4) == 0 && g.len == 5 &&
          memcmp(g.msg, "hello", 5) == 0, "it decodes to the same");
    f.len = 0;
    f.binary = 0;
    n = pubsub_frame_encode(buf, sizeof buf, &f);
    CHECK(n == 7 && pubsub_frame_decode(buf, n, &g) == 0 && g.len == 0 && g.binary == 0,
          "an empty text message");
    f = (struct pubsub_frame){ .type = CHAN_SUB, .channel = "\0ws:/x", .channel_len = 6 };
    n = pubsub_frame_encode(buf, sizeof buf, &f);
    CHECK(n == 9 && pubsub_frame_decode(buf, n, &g) == 0 && g.type == CHAN_SUB &&
          g.channel_len == 6 && g.channel[0] == '\0', "a subscription to kiln's own channel");
    CHECK(n > 1, "a frame is never one byte (a command)");
    memset(name, 'a', sizeof name);
    f = (struct pubsub_frame){ .type = CHAN_PUB, .channel = name, .channel_len = 255,
                               .msg = payload, .len = PUBSUB_MESSAGE_CAP };
    CHECK(pubsub_frame_encode(buf, sizeof buf, &f) == PUBSUB_FRAME_MAX,
          "the largest frame fits PUBSUB_FRAME_MAX");
    f.channel_len = 256;
    CHECK(pubsub_frame_encode(buf, sizeof buf, &f) == 0, "a 256-byte channel is refused");
    f.channel_len = 0;
    CHECK(pubsub_frame_encode(buf, sizeof buf, &f) == 0, "an empty channel is refused");
    f = (struct pubsub_frame){ .type = CHAN_PUB, .channel = "c", .channel_len = 1,
                               .msg = "abc", .len = 3 };
    CHECK(pubsub_frame_encode(buf, 6, &f) == 0, "a frame larger than the buffer is refused");
    f.type = 'Q';
    CHECK(pubsub_frame_encode(buf, sizeof buf, &f) == 0, "an unknown type is refused");
}

static void malformed(void)
{
    struct pubsub_frame g;

    CHECK(pubsub_frame_decode("P", 1, &g) < 0, "one byte is no frame");
    CHECK(pubsub_frame_decode("P\0\0", 3, &g) < 0, "an empty channel");
    CHECK(pubsub_frame_decode("P\0\5ab", 5, &g) < 0, "a channel longer than the datagram");
    CHECK(pubsub_frame_decode("X\0\1a", 4, &g) < 0, "an unknown type");
    CHECK(pubsub_frame_decode("P\2\1a", 4, &g) < 0, "unknown flags");
    CHECK(pubsub_frame_decode("+\0\1ab", 5, &g) < 0, "a subscription with a payload");
    CHECK(pubsub_frame_decode("-\0\1a", 4, &g) == 0 && g.type == CHAN_UNSUB, "an unsubscription");
}

static void names(void)
{
    CHECK(pubsub_channel_ok("a", 1), "one byte is a name");
    CHECK(!pubsub_channel_ok("", 0) && !pubsub_channel_ok(NULL, 0), "empty is not");
    CHECK(!pubsub_channel_ok("a\0b", 3), "a NUL is not allowed");
}

struct item {
    struct name_entry e;
    int v;
};

static void table(void)
{
    struct nametab t = { 0 };
    struct item *items = calloc(1000, sizeof *items);
    char key[16];
    int ok = 1;

    for (int i = 0; i < 1000; i++) {
        int n = snprintf(key, sizeof key, "k%d", i);
        key[0] = i % 2 ? 'k' : '\0';          /* NULs are key bytes */
        name_entry_set(&items[i].e, key, (size_t)n);
        items[i].v = i;
        ok &= nametab_add(&t, &items[i].e) == 0;
    }
    CHECK(ok && t.n == 1000 && t.nb >= 500, "1000 entries in, the table grew");
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(key, sizeof key, "k%d", i);
        struct item *it;
        key[0] = i % 2 ? 'k' : '\0';
        it = (struct item *)nametab_find(&t, key, (size_t)n);
        ok &= it != NULL && it->v == i;
    }
    CHECK(ok, "each is found by its key");
    CHECK(nametab_find(&t, "k1", 1) == NULL && nametab_find(&t, "zz", 2) == NULL,
          "a prefix or another key finds nothing");
    nametab_remove(&t, &items[7].e);
    CHECK(nametab_find(&t, "k7", 2) == NULL && t.n == 999 &&
          nametab_find(&t, "k9", 2) != NULL, "a removed entry is gone, the others stay");
    CHECK(name_entry_set(&items[0].e, key, 256) < 0, "a key over 255 bytes is refused");
    nametab_free(&t);
    free(items);
}

int main(void)
{
    frames();
    malformed();
    names();
    table();
    return unit_done();
}
