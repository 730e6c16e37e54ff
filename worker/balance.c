/* balance.c -- a worker leaves a new connection to a less loaded peer (see balance.h). */
#include <string.h>

#include "balance.h"

void balance_init(struct balance *b, struct scoreboard *sb,
                  const struct scoreboard_slot *mine)
{
    memset(b, 0, sizeof *b);
    b->sb = sb;
    b->mine = mine;
    b->waited = -1;
    b->listed_at = -BALANCE_REFRESH;
}

/* The entry of `old` (npeers entries) for slot i held by pid, or NULL. */
static const struct balance_peer *find(const struct balance_peer *old, unsigned n,
                                       unsigned i, pid_t pid)
{
    for (unsigned k = 0; k < n; k++)
        if (old[k].slot == i && old[k].pid == pid)
            return &old[k];
    return NULL;
}

void balance_refresh(struct balance *b, double now)
{
    struct balance_peer old[SCOREBOARD_SLOTS];
    unsigned nold = b->npeers, n = 0;

    if (b->sb == NULL || now - b->listed_at < BALANCE_REFRESH)
        return;
    b->listed_at = now;
    memcpy(old, b->peer, nold * sizeof old[0]);
    for (unsigned i = 0; i < SCOREBOARD_SLOTS; i++) {
        const struct scoreboard_slot *s = &b->sb->slot[i];
        pid_t pid = s->pid;
        const struct balance_peer *was;

        if (pid == 0 || s == b->mine)
            continue;
        was = find(old, nold, i, pid);
        b->peer[n] = was ? *was : (struct balance_peer){ .slot = (uint16_t)i, .pid = pid };
        if (b->peer[n].deaf && s->heartbeat > b->mine->heartbeat - BALANCE_ALIVE)
            b->peer[n].deaf = 0;        /* its loop turns: worth a try again */
        n++;
    }
    b->npeers = n;
    b->waited = -1;
}

/* The slot of peer k when it still holds the worker listed and accepts (a
 * yield is not a stop), and is not passed over; else NULL. */
static const struct scoreboard_slot *candidate(struct balance *b, unsigned k)
{
    struct balance_peer *p = &b->peer[k];
    const struct scoreboard_slot *s = &b->sb->slot[p->slot];

    if (s->pid != p->pid || !s->accepting)
        return NULL;
    if (p->deaf) {
        if (s->accepted == p->deaf_seen)
            return NULL;
        p->deaf = 0;
    }
    return s;
}

enum balance_answer balance_yield(struct balance *b, uint32_t held, uint32_t turn)
{
    uint32_t least = UINT32_MAX, fair;
    int best = -1;

    if (b->sb == NULL)
        return BALANCE_TAKE;
    for (unsigned k = 0; k < b->npeers; k++) {
        const struct scoreboard_slot *s = candidate(b, k);

        if (s != NULL && s->conns < least) {
            least = s->conns;
            best = (int)k;
        }
    }
    if (best < 0)
        return BALANCE_TAKE;
    fair = least + BALANCE_SLACK + least / 8;
    if (held > fair) {
        b->waited = best;
        b->waited_seen = b->sb->slot[b->peer[best].slot].accepted;
        return BALANCE_YIELD;
    }
    return turn >= BALANCE_TURN && held + turn > fair ? BALANCE_LATER : BALANCE_TAKE;
}

void balance_resume(struct balance *b)
{
    struct balance_peer *p;

    if (b->waited < 0)
        return;
    p = &b->peer[b->waited];
    if (b->sb->slot[p->slot].accepted != b->waited_seen)
        p->misses = 0;
    else if (++p->misses >= BALANCE_MISSES) {
        p->deaf = 1;
        p->misses = 0;
        p->deaf_seen = b->waited_seen;
    }
    b->waited = -1;
}
