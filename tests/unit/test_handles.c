/* test_handles.c -- unit tests of core/handles.c: ids are never 0, find their object while alive, and nothing once freed, also after their slot is reused. */
#include <stdint.h>

#include "handles.h"
#include "unit.h"

int main(void)
{
    struct handles h = {0};
    int a, b, c, objs[200];
    uint64_t ia = handle_new(&h, &a), ib = handle_new(&h, &b), ic, ids[200];
    int ok = 1;

    CHECK(ia != 0 && ib != 0 && ia != ib, "ids are never 0 and differ");
    CHECK(handle_get(&h, ia) == &a && handle_get(&h, ib) == &b, "a live id finds its object");
    handle_free(&h, ia);
    CHECK(handle_get(&h, ia) == NULL, "a freed id finds nothing");
    ic = handle_new(&h, &c);
    CHECK(ic != ia && handle_get(&h, ic) == &c && handle_get(&h, ia) == NULL,
          "a reused slot gets a new id; the old one stays dead");
    handle_free(&h, ia);
    CHECK(handle_get(&h, ic) == &c, "freeing a dead id again touches nothing");
    CHECK(handle_get(&h, 0) == NULL && handle_get(&h, (uint64_t)1 << 40) == NULL &&
          handle_get(&h, ((uint64_t)1 << 32) | 9999) == NULL,
          "0 and ids of slots never made find nothing");
    CHECK(handle_get(&h, (ib & 0xffffffffu) | ((ib >> 32) + 1) << 32) == NULL,
          "an id with its slot's next generation finds nothing");
    for (int i = 0; i < 200; i++)
        ids[i] = handle_new(&h, &objs[i]);
    for (int i = 0; i < 200; i++)
        ok &= ids[i] != 0 && handle_get(&h, ids[i]) == &objs[i];
    CHECK(ok, "the table grows and keeps every object");
    for (int i = 0; i < 200; i += 2)
        handle_free(&h, ids[i]);
    for (int i = 0; i < 200; i++)
        ok &= handle_get(&h, ids[i]) == (i % 2 ? &objs[i] : NULL);
    CHECK(ok, "frees among many leave the others alive");
    handles_clear(&h);
    CHECK(handle_get(&h, ib) == NULL, "a cleared table finds nothing");
    return unit_done();
}
