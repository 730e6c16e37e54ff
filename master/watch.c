/* watch.c -- inotify on plugin_dir for watch_plugins: a changed *.so starts a reload once changes settle. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "master.h"
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
static int watch_event(struct master *m, const struct inotify_event *ev)
{
    struct plugin_watch *pw = &m->watch;

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
    struct master *m = io->data;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    int changed = 0;

    (void)revents;
    while ((n = read(m->watch.fd, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            changed |= watch_event(m, ev);
            p += sizeof *ev + ev->len;
        }
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR)
        log_error("read(inotify %s) failed: %s", m->watch.dir, strerror(errno));
    if (changed) {
        ev_timer_stop(loop, &m->watch.debounce);
        ev_timer_set(&m->watch.debounce, WATCH_SETTLE, 0);
        ev_timer_start(loop, &m->watch.debounce);
    }
}

static void on_settled(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct master *m = t->data;
    char why[512];

    (void)loop;
    (void)revents;
    snprintf(why, sizeof why, "plugin_dir %s changed (%s)", m->watch.dir, m->watch.last);
    master_reload(m, why);
}

void watch_close(struct master *m)
{
    struct plugin_watch *pw = &m->watch;

    if (pw->fd < 0)
        return;
    ev_io_stop(m->loop, &pw->io);
    ev_timer_stop(m->loop, &pw->debounce);
    close(pw->fd);
    pw->fd = -1;
    free(pw->dir);
    pw->dir = NULL;
}

/* Starts watching `dir`.  0, or -1 (logged). */
static int watch_open(struct master *m, const char *dir)
{
    struct plugin_watch *pw = &m->watch;
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
    pw->io.data = m;
    ev_io_start(m->loop, &pw->io);
    ev_init(&pw->debounce, on_settled);
    pw->debounce.data = m;
    log_info("watching plugin_dir %s for changed plugins", dir);
    return 0;

fail:
    log_error("%s(%s) failed: %s; watch_plugins is off", call, dir, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

void watch_update(struct master *m)
{
    const struct config *c = m->current != NULL ? m->current->cfg : NULL;

    if (c == NULL || !c->watch_plugins) {
        if (m->watch.fd >= 0)
            log_info("no longer watching plugin_dir %s", m->watch.dir);
        watch_close(m);
        return;
    }
    if (m->watch.fd >= 0 && strcmp(m->watch.dir, c->plugin_dir) == 0)
        return;
    watch_close(m);
    watch_open(m, c->plugin_dir);
}
