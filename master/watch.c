/* watch.c -- inotify on plugin_dir for watch_plugins: a changed *.so is reported once changes settle. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "watch.h"

#define WATCH_EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | \
                      IN_DELETE_SELF | IN_MOVE_SELF)

/* Whether a file name is one the plugin loader would load. */
static int is_plugin_name(const char *name)
{
    size_t len = strlen(name);

    return name[0] != '.' && len > 3 && strcmp(name + len - 3, ".so") == 0;
}

/* Notes one event; 1 when it should lead to a reload. */
static int watch_event(struct plugin_watch *pw, const struct inotify_event *ev)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        snprintf(pw->last, sizeof pw->last, "(many files)");
        return 1;
    }
    if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
        log_warn("plugin_dir %s was removed or moved: no longer watched", pw->dir);
        return 0;
    }
    if (ev->len == 0 || !is_plugin_name(ev->name))
        return 0;
    snprintf(pw->last, sizeof pw->last, "%s", ev->name);
    return 1;
}

static void on_watch(struct ev_loop *loop, ev_io *io, int revents)
{
    struct plugin_watch *pw = io->data;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    int changed = 0;

    (void)revents;
    while ((n = read(pw->fd, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            changed |= watch_event(pw, ev);
            p += sizeof *ev + ev->len;
        }
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR)
        log_error("read(inotify %s) failed: %s", pw->dir, strerror(errno));
    if (changed) {
        ev_timer_stop(loop, &pw->debounce);
        ev_timer_set(&pw->debounce, WATCH_SETTLE, 0);
        ev_timer_start(loop, &pw->debounce);
    }
}

static void on_settled(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct plugin_watch *pw = t->data;
    char why[512];

    (void)loop;
    (void)revents;
    snprintf(why, sizeof why, "plugin_dir %s changed (%s)", pw->dir, pw->last);
    pw->changed(why, pw->arg);
}

void watch_init(struct plugin_watch *pw, struct ev_loop *loop, watch_fn *changed,
                void *arg)
{
    pw->loop = loop;
    pw->changed = changed;
    pw->arg = arg;
    pw->fd = -1;
    pw->dir = NULL;
    ev_init(&pw->debounce, on_settled);
    pw->debounce.data = pw;
}

void watch_close(struct plugin_watch *pw)
{
    if (pw->fd < 0)
        return;
    ev_io_stop(pw->loop, &pw->io);
    ev_timer_stop(pw->loop, &pw->debounce);
    close(pw->fd);
    pw->fd = -1;
    free(pw->dir);
    pw->dir = NULL;
}

/* Starts watching `dir`.  0, or -1 (logged). */
static int watch_open(struct plugin_watch *pw, const char *dir)
{
    const char *call = "inotify_init1";
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

    if (fd < 0)
        goto fail;
    call = "inotify_add_watch";
    if (inotify_add_watch(fd, dir, WATCH_EVENTS | IN_ONLYDIR) < 0)
        goto fail;
    call = "strdup";
    pw->dir = strdup(dir);
    if (pw->dir == NULL)
        goto fail;
    pw->fd = fd;
    ev_io_init(&pw->io, on_watch, fd, EV_READ);
    pw->io.data = pw;
    ev_io_start(pw->loop, &pw->io);
    log_info("watching plugin_dir %s for changed plugins", dir);
    return 0;

fail:
    log_error("%s(%s) failed: %s; watch_plugins is off", call, dir, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

void watch_update(struct plugin_watch *pw, const struct config *c)
{
    if (c == NULL || !c->watch_plugins) {
        if (pw->fd >= 0)
            log_info("no longer watching plugin_dir %s", pw->dir);
        watch_close(pw);
        return;
    }
    if (pw->fd >= 0 && strcmp(pw->dir, c->plugin_dir) == 0)
        return;
    watch_close(pw);
    watch_open(pw, c->plugin_dir);
}
