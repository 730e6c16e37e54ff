/* scoreboard.c -- the shared scoreboard: one anonymous MAP_SHARED mapping made before the workers are forked. */
#include <stdio.h>
#include <sys/mman.h>

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
