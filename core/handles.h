/*
 * handles.h -- ids for objects that may go away while a plugin still holds
 * on to them (a pending request, a WebSocket): each id names a slot of a
 * table and carries the slot's generation, so that an id outlives its
 * object safely.  A dead id finds nothing, and ids are never 0.
 */
#ifndef KILN_HANDLES_H
#define KILN_HANDLES_H

#include <stdint.h>

struct handle_slot {
    uint32_t gen;                   /* odd while in use */
    uint32_t next_free;             /* index + 1, or 0 */
    void *ptr;
};

struct handles {
    struct handle_slot *v;
    uint32_t n, cap;
    uint32_t free_head;             /* index + 1 of a free slot, or 0 */
};

/* A new id for ptr (not NULL), or 0 when out of memory. */
uint64_t handle_new(struct handles *h, void *ptr);

/* The object of a live id, or NULL. */
void *handle_get(const struct handles *h, uint64_t id);

/* Kills an id (a dead one is ignored); every copy of it is dead after. */
void handle_free(struct handles *h, uint64_t id);

/* Frees the table; every id is dead. */
void handles_clear(struct handles *h);

#endif
