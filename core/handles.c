/* handles.c -- ids that outlive their objects safely: a table of slots, each id its slot's index and generation. */
#include <stdlib.h>

#include "handles.h"

static uint64_t id_of(const struct handles *h, uint32_t i)
{
    return ((uint64_t)h->v[i].gen << 32) | (i + 1);
}

static struct handle_slot *slot_of(const struct handles *h, uint64_t id)
{
    uint32_t i = (uint32_t)(id & 0xffffffffu), gen = (uint32_t)(id >> 32);

    if (i == 0 || i > h->n || h->v[i - 1].gen != gen || !(gen & 1))
        return NULL;
    return &h->v[i - 1];
}

uint64_t handle_new(struct handles *h, void *ptr)
{
    uint32_t i;

    if (h->free_head) {
        i = h->free_head - 1;
        h->free_head = h->v[i].next_free;
    } else {
        if (h->n == h->cap) {
            uint32_t cap = h->cap ? h->cap * 2 : 64;
            struct handle_slot *v = realloc(h->v, cap * sizeof(*v));

            if (!v)
                return 0;
            h->v = v;
            h->cap = cap;
        }
        i = h->n++;
        h->v[i].gen = 0;
    }
    h->v[i].gen++;                  /* odd: in use */
    h->v[i].next_free = 0;
    h->v[i].ptr = ptr;
    return id_of(h, i);
}

void *handle_get(const struct handles *h, uint64_t id)
{
    struct handle_slot *s = slot_of(h, id);

    return s ? s->ptr : NULL;
}

void handle_free(struct handles *h, uint64_t id)
{
    struct handle_slot *s = slot_of(h, id);

    if (!s)
        return;
    s->gen++;                       /* even: free; a generation never repeats
                                       before 2^31 reuses of one slot */
    s->ptr = NULL;
    s->next_free = h->free_head;
    h->free_head = (uint32_t)(s - h->v) + 1;
}

void handles_clear(struct handles *h)
{
    free(h->v);
    h->v = NULL;
    h->n = h->cap = h->free_head = 0;
}
