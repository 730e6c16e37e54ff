/*
 * pubsub_api.c -- publish/subscribe as plugins call it (kiln_subscribe,
 * kiln_publish, kiln_sse_subscribe, kiln_on_publish): the arguments
 * checked, then pubsub.c's tables.
 */
#define _GNU_SOURCE                 /* vasprintf */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln.h"
#include "log.h"
#include "plugin.h"
#include "pubsub.h"
#include "pubsub_frame.h"
#include "stream.h"
#include "ws.h"

/* A plugin's own subscription (kiln_on_publish). */
struct plugin_sub {
    struct plugin_sub *next;
    void (*fn)(const char *channel, int binary, const void *msg, size_t len, void *data);
    void *data;
    struct plugin *plugin;
};

static struct plugin_sub *plugin_subs;

/* A plugin's channel name: its length, or 0 when it is not one. */
static size_t name_len(const char *channel)
{
    size_t n = channel ? strnlen(channel, PUBSUB_CHANNEL_MAX + 1) : 0;

    return pubsub_channel_ok(channel, n) ? n : 0;
}

KILN_EXPORT int kiln_publish(const char *channel, int binary, const void *msg, size_t len)
{
    size_t n = name_len(channel);

    if (n == 0 || (msg == NULL && len > 0))
        return -1;
    return pubsub_publish(channel, n, binary ? 1 : 0, msg, len);
}

KILN_EXPORT int kiln_publish_text(const char *channel, const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n, rc;

    if (fmt == NULL)
        return -1;
    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    rc = kiln_publish(channel, 0, s, (size_t)n);
    free(s);
    return rc;
}

KILN_EXPORT int kiln_subscribe(kiln_ws *ws, const char *channel)
{
    kiln_id id = ws_live_id(ws);
    size_t n = name_len(channel);

    if (id == 0 || n == 0)
        return -1;
    return pubsub_subscribe(PUBSUB_WS, id, channel, n);
}

KILN_EXPORT int kiln_unsubscribe(kiln_ws *ws, const char *channel)
{
    size_t n = name_len(channel);

    if (ws == NULL || n == 0)
        return -1;
    return pubsub_unsubscribe(PUBSUB_WS, kiln_ws_id(ws), channel, n);
}

KILN_EXPORT int kiln_sse_subscribe(kiln_id stream, const char *channel)
{
    size_t n = name_len(channel);

    if (!stream_is_sse(stream) || n == 0)
        return -1;
    return pubsub_subscribe(PUBSUB_SSE, stream, channel, n);
}

KILN_EXPORT int kiln_sse_unsubscribe(kiln_id stream, const char *channel)
{
    size_t n = name_len(channel);

    if (n == 0)
        return -1;
    return pubsub_unsubscribe(PUBSUB_SSE, stream, channel, n);
}

/* A message for a plugin's own subscription, run as that plugin. */
static void plugin_message(const char *channel, size_t channel_len, int binary,
                           const void *msg, size_t len, void *data)
{
    struct plugin_sub *p = data;
    char name[PUBSUB_CHANNEL_MAX + 1];
    struct plugin *was = plugin_current;

    memcpy(name, channel, channel_len);
    name[channel_len] = '\0';
    plugin_current = p->plugin;
    p->fn(name, binary, msg, len, p->data);
    plugin_current = was;
}

KILN_EXPORT int kiln_on_publish(kiln_app *app, const char *channel,
                                void (*fn)(const char *channel, int binary, const void *msg,
                                           size_t len, void *data),
                                void *data)
{
    size_t n = name_len(channel);
    struct plugin_sub *p;

    if (app == NULL || !app->in_init || fn == NULL || n == 0) {
        log_error("%s: on_publish(%s): %s", app ? plugin_name(app->plugin) : "-",
                  channel ? channel : "(null)",
                  app && !app->in_init ? "only from init" : "bad channel name or no function");
        return -1;
    }
    if (!pubsub_running())
        return 0;                   /* the reload's check: nothing runs */
    if ((p = calloc(1, sizeof *p)) == NULL)
        return -1;
    *p = (struct plugin_sub){ .next = plugin_subs, .fn = fn, .data = data,
                              .plugin = app->plugin };
    if (pubsub_join(channel, n, plugin_message, p) < 0) {
        free(p);
        return -1;
    }
    plugin_subs = p;
    return 0;
}

void pubsub_api_shutdown(void)
{
    struct plugin_sub *p, *next;

    for (p = plugin_subs; p; p = next) {
        next = p->next;
        free(p);
    }
    plugin_subs = NULL;
}
