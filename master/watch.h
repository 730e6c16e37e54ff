/*
 * watch.h -- watch_plugins: the master watches plugin_dir with inotify and
 * reloads (the same checked reload as SIGHUP) once a *.so file was written,
 * renamed in or out, or removed, and no change came for WATCH_SETTLE seconds.
 * Names starting with '.' are ignored, like the loader does.
 */
#ifndef KILN_WATCH_H
#define KILN_WATCH_H

#define WATCH_SETTLE 0.3

struct master;

/* Follows the current generation's config: starts, moves or stops the
 * watch.  Failures are logged (the server runs on without it). */
void watch_update(struct master *m);

/* Stops watching and closes the inotify descriptor (also in a child). */
void watch_close(struct master *m);

#endif
