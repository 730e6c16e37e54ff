/*
 * watch.h -- watch_plugins: the master watches plugin_dir with inotify and
 * reports, once a *.so file was written, renamed in or out, or removed, and
 * no change came for WATCH_SETTLE seconds, that a reload is due.  Names
 * starting with '.' are ignored, like the loader does.
 */
#ifndef KILN_WATCH_H
#define KILN_WATCH_H

#include <ev.h>

#define WATCH_SETTLE 0.3

struct config;

/* Called on the loop once changes settled, with "plugin_dir D changed (F)". */
typedef void watch_fn(const char *why, void *arg);

struct plugin_watch {
    struct ev_loop *loop;
    watch_fn *changed;
    void *arg;
    int fd;                     /* inotify instance, or -1 */
    char *dir;                  /* the directory watched */
    char last[256];             /* the file that changed last */
    ev_io io;
    ev_timer debounce;          /* the report waits for changes to settle */
};

/* Prepares a watch that reports to changed(why, arg); nothing is watched yet. */
void watch_init(struct plugin_watch *pw, struct ev_loop *loop, watch_fn *changed,
                void *arg);

/* Follows the serving config (NULL: none): starts, moves or stops the watch.
 * Failures are logged (the server runs on without it). */
void watch_update(struct plugin_watch *pw, const struct config *c);

/* Stops watching and closes the inotify descriptor (also in a child). */
void watch_close(struct plugin_watch *pw);

#endif
