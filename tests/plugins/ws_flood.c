/*
 * Test plugin: /flood obeys text commands -- "flood N SIZE" queues N binary
 * messages of SIZE bytes, "close CODE REASON" sends "bye" then closes,
 * "pid" answers the worker's pid, "echo TEXT" answers TEXT -- and logs
 * every close it sees.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <kiln.h>

#define FLOOD_MAX_SIZE (1 << 20)

/* Queues up to n messages of size bytes; logs how many were accepted. */
static void flood(kiln_ws *ws, long n, long size)
{
    char *buf;
    long i;

    if (size < 0 || size > FLOOD_MAX_SIZE)
        return;
    buf = malloc(size ? (size_t)size : 1);
    if (buf == NULL)
        return;
    memset(buf, 'x', (size_t)size);
    for (i = 0; i < n; i++)
        if (kiln_ws_send_binary(ws, buf, (size_t)size) != 0)
            break;
    free(buf);
    kiln_log(KILN_LOG_INFO, "flood queued %ld of %ld", i, n);
}

static void message(kiln_ws *ws, int binary, const void *msg, size_t len,
                    void *data)
{
    char cmd[256], reason[200] = "";
    long a = 0, b = 0;

    (void)data;
    if (binary || len >= sizeof(cmd))
        return;
    memcpy(cmd, msg, len);
    cmd[len] = '\0';
    if (sscanf(cmd, "flood %ld %ld", &a, &b) == 2) {
        flood(ws, a, b);
    } else if (sscanf(cmd, "close %ld %199[^\n]", &a, reason) >= 1) {
        kiln_ws_send_text(ws, "bye");
        if (kiln_ws_close(ws, (int)a, reason) != 0)
            kiln_ws_send_text(ws, "close refused");
    } else if (strcmp(cmd, "pid") == 0) {
        kiln_ws_send_text(ws, "%ld", (long)getpid());
    } else if (strncmp(cmd, "echo ", 5) == 0) {
        kiln_ws_send_text(ws, "%s", cmd + 5);
    }
}

static void close_cb(kiln_ws *ws, int code, const char *reason, void *data)
{
    (void)ws;
    (void)data;
    kiln_log(KILN_LOG_INFO, "flood closed %d \"%s\"", code, reason);
}

static int init(kiln_app *app)
{
    static const struct kiln_ws_handlers h = {.message = message, .close = close_cb};

    return kiln_add_websocket(app, "/flood", &h, NULL);
}

KILN_PLUGIN("ws_flood", init, NULL);
