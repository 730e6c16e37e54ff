/* scoreboard.c -- the shared scoreboard: one anonymous MAP_SHARED mapping made before the workers are forked, and a worker's writes to its slot. */
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>

#include "scoreboard.h"

/* Maps a zeroed scoreboard (anonymous memory is zero-filled), or NULL. */
struct scoreboard *scoreboard_new(void)
{
    void *p = mmap(NULL, sizeof(struct scoreboard), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    return p == MAP_FAILED ? NULL : p;
}

void scoreboard_free(struct scoreboard *sb)
{
    if (sb != NULL)
        munmap(sb, sizeof *sb);
}

double scoreboard_clock(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void scoreboard_beat(struct scoreboard_slot *s)
{
    if (s != NULL)
        s->heartbeat = scoreboard_clock();
}

void scoreboard_ready(struct scoreboard_slot *s)
{
    if (s == NULL)
        return;
    s->heartbeat = scoreboard_clock();
    s->ready = 1;
}

void scoreboard_name(struct scoreboard_slot *s, const void *key, const char *plugin,
                     const char *what, const char *pattern)
{
    s->named = key;
    snprintf(s->plugin, sizeof s->plugin, "%s", plugin);
    snprintf(s->route, sizeof s->route, "%s %s", what, pattern);
}
