/* pubsub_frame.c -- encoding and decoding of the publish/subscribe frames on the master<->worker channel. */
#include <string.h>

#include "pubsub_frame.h"

int pubsub_channel_ok(const char *name, size_t len)
{
    return name != NULL && len >= 1 && len <= PUBSUB_CHANNEL_MAX &&
           memchr(name, '\0', len) == NULL;
}

static int type_ok(char type)
{
    return type == CHAN_PUB || type == CHAN_SUB || type == CHAN_UNSUB;
}

size_t pubsub_frame_size(const struct pubsub_frame *f)
{
    return PUBSUB_FRAME_HEAD + f->channel_len + (f->type == CHAN_PUB ? f->len : 0);
}

size_t pubsub_frame_encode(void *buf, size_t size, const struct pubsub_frame *f)
{
    unsigned char *p = buf;
    size_t n = pubsub_frame_size(f);

    if (!type_ok(f->type) || f->channel_len == 0 || f->channel_len > PUBSUB_CHANNEL_MAX ||
        n > size || (f->type == CHAN_PUB && f->len > 0 && f->msg == NULL))
        return 0;
    p[0] = (unsigned char)f->type;
    p[1] = f->binary ? PUBSUB_BINARY : 0;
    p[2] = (unsigned char)f->channel_len;
    memcpy(p + PUBSUB_FRAME_HEAD, f->channel, f->channel_len);
    if (f->type == CHAN_PUB && f->len > 0)
        memcpy(p + PUBSUB_FRAME_HEAD + f->channel_len, f->msg, f->len);
    return n;
}

int pubsub_frame_decode(const void *buf, size_t len, struct pubsub_frame *f)
{
    const unsigned char *p = buf;

    if (len < PUBSUB_FRAME_HEAD || !type_ok((char)p[0]) || p[2] == 0 ||
        (p[1] & ~PUBSUB_BINARY) != 0 || len < PUBSUB_FRAME_HEAD + (size_t)p[2])
        return -1;
    f->type = (char)p[0];
    f->binary = p[1] & PUBSUB_BINARY;
    f->channel_len = p[2];
    f->channel = (const char *)p + PUBSUB_FRAME_HEAD;
    f->msg = p + PUBSUB_FRAME_HEAD + f->channel_len;
    f->len = len - PUBSUB_FRAME_HEAD - f->channel_len;
    if (f->type != CHAN_PUB && f->len != 0)
        return -1;
    return 0;
}
