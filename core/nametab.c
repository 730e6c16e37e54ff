/* nametab.c -- an intrusive hash table keyed by short byte strings, growing by doubling. */
#include <stdlib.h>
#include <string.h>

#include "nametab.h"

static uint32_t hash_of(const void *name, size_t len)
{
    const unsigned char *p = name;
    uint32_t h = 2166136261u;           /* FNV-1a */

    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

int name_entry_set(struct name_entry *e, const void *name, size_t len)
{
    if (len > 255)
        return -1;
    memcpy(e->name, name, len);
    e->name[len] = '\0';
    e->len = (unsigned char)len;
    e->hash = hash_of(name, len);
    return 0;
}

struct name_entry *nametab_find(const struct nametab *t, const void *name, size_t len)
{
    uint32_t h = hash_of(name, len);
    struct name_entry *e;

    if (t->nb == 0)
        return NULL;
    for (e = t->b[h & (t->nb - 1)]; e; e = e->next)
        if (e->hash == h && e->len == len && memcmp(e->name, name, len) == 0)
            return e;
    return NULL;
}

/* Doubles the buckets (from 64).  0, or -1. */
static int grow(struct nametab *t)
{
    size_t nb = t->nb ? t->nb * 2 : 64;
    struct name_entry **b = calloc(nb, sizeof *b), *e, *next;

    if (b == NULL)
        return -1;
    for (size_t i = 0; i < t->nb; i++)
        for (e = t->b[i]; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    free(t->b);
    t->b = b;
    t->nb = nb;
    return 0;
}

int nametab_add(struct nametab *t, struct name_entry *e)
{
    struct name_entry **slot;

    if ((t->n >= t->nb * 2 || t->nb == 0) && grow(t) < 0 && t->nb == 0)
        return -1;
    slot = &t->b[e->hash & (t->nb - 1)];
    e->next = *slot;
    *slot = e;
    t->n++;
    return 0;
}

void nametab_remove(struct nametab *t, struct name_entry *e)
{
    struct name_entry **pp = &t->b[e->hash & (t->nb - 1)];

    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    t->n--;
}

void nametab_free(struct nametab *t)
{
    free(t->b);
    t->b = NULL;
    t->nb = t->n = 0;
}
