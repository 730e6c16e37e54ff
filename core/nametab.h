/*
 * nametab.h -- a hash table of entries keyed by a short byte string (up to
 * 255 bytes, NULs allowed), intrusive: the caller embeds struct name_entry
 * first in its own structure and owns the memory.  Used for the channels
 * of publish/subscribe in both processes.
 */
#ifndef KILN_NAMETAB_H
#define KILN_NAMETAB_H

#include <stddef.h>
#include <stdint.h>

struct name_entry {
    struct name_entry *next;        /* private: the bucket's chain */
    uint32_t hash;                  /* private */
    unsigned char len;
    char name[256];                 /* len bytes, then a NUL */
};

struct nametab {
    struct name_entry **b;
    size_t nb, n;
};

/* Fills e's key (len <= 255).  0, or -1 when too long. */
int name_entry_set(struct name_entry *e, const void *name, size_t len);

/* The entry of that key, or NULL. */
struct name_entry *nametab_find(const struct nametab *t, const void *name, size_t len);

/* Adds e (its key set, not in t yet).  0, or -1 when out of memory. */
int nametab_add(struct nametab *t, struct name_entry *e);

/* Takes e out of t (it must be in it). */
void nametab_remove(struct nametab *t, struct name_entry *e);

/* Frees the buckets (not the entries). */
void nametab_free(struct nametab *t);

#endif
