/* scoreboard.c -- the shared scoreboard: one anonymous MAP_SHARED mapping made before the workers are forked, and a worker's writes to its slot. */
#include <string.h>
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

/* Appends src to dst[*at..cap), truncating, always NUL-terminated. */
static void put(char *dst, size_t cap, size_t *at, const char *src)
{
    size_t n = strnlen(src, cap - 1 - *at);

    memcpy(dst + *at, src, n);
    *at += n;
    dst[*at] = '\0';
}

/* Without snprintf(): it runs whenever what runs changes (a route after
 * another, each middleware around a handler), on every request. */
void scoreboard_name(struct scoreboard_slot *s, const void *key, const char *plugin,
                     const char *what, const char *pattern)
{
    size_t at = 0;

    s->named = key;
    put(s->plugin, sizeof s->plugin, &at, plugin);
    at = 0;
    put(s->route, sizeof s->route, &at, what);
    put(s->route, sizeof s->route, &at, " ");
    put(s->route, sizeof s->route, &at, pattern);
}
