/* test_pool.c -- unit tests of the request arena and the byte buffer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "pool.h"
#include "unit.h"

static int aligned(const void *p)
{
    return ((uintptr_t)p % _Alignof(max_align_t)) == 0;
}

static void test_alignment(void)
{
    struct pool p;
    int i, ok = 1;

    pool_init(&p, 4096);
    for (i = 1; i < 200; i++) {
        char *m = pool_alloc(&p, (size_t)i % 37);
        if (m == NULL || !aligned(m))
            ok = 0;
        else
            memset(m, 0xab, (size_t)i % 37);
    }
    CHECK(ok, "every allocation is aligned to max_align_t");
    pool_free(&p);
}

static void test_big(void)
{
    struct pool p;
    char *small, *big, *after;

    pool_init(&p, 1024);
    small = pool_alloc(&p, 10);
    big = pool_alloc(&p, 100000);
    CHECK(big != NULL && aligned(big), "a block bigger than a chunk");
    memset(big, 1, 100000);
    after = pool_alloc(&p, 10);
    CHECK(after != NULL && after != small, "small allocation after a big one");
    pool_reset(&p);
    CHECK(pool_alloc(&p, 10) == small, "reset after a big block rewinds the first chunk");
    CHECK(pool_alloc(&p, (size_t)-1) == NULL, "an impossible size fails");
    pool_free(&p);

    pool_init(&p, 1024);
    big = pool_alloc(&p, 50000);
    CHECK(big != NULL, "a big first allocation");
    pool_reset(&p);
    CHECK(p.head == NULL, "an oversized first chunk is not kept");
    pool_free(&p);
}

static void test_reset(void)
{
    struct pool p;
    char *first, *s;
    int i, ok = 1;

    pool_init(&p, 4096);
    first = pool_alloc(&p, 32);
    for (i = 0; i < 1000; i++)
        pool_alloc(&p, 100);
    pool_reset(&p);
    CHECK(pool_alloc(&p, 32) == first, "reset keeps and rewinds the first chunk");
    for (i = 0; i < 100; i++) {
        pool_reset(&p);
        if (pool_alloc(&p, 64) != first)
            ok = 0;
    }
    CHECK(ok, "a steady load reuses the same memory");
    s = pool_strndup(&p, "hello world", 5);
    CHECK_STR(s, "hello", "pool_strndup copies n bytes and terminates");
    s = pool_strndup(&p, "", 0);
    CHECK_STR(s, "", "pool_strndup of nothing");
    pool_free(&p);
    CHECK(p.head == NULL, "pool_free empties the pool");
    pool_reset(&p);
    CHECK(pool_alloc(&p, 8) != NULL, "a freed pool can be used again");
    pool_free(&p);
}

static void test_buf(void)
{
    struct buf b;
    int i, ok = 1;

    buf_init(&b);
    CHECK(buf_append_str(&b, "abc") == 0 && b.len == 3, "append a string");
    CHECK(buf_append(&b, "", 0) == 0 && b.len == 3, "append nothing");
    CHECK(buf_printf(&b, "-%d-%s", 42, "x") == 0 && b.len == 8 &&
          memcmp(b.data, "abc-42-x", 8) == 0, "printf into the free space");
    for (i = 0; i < 1000; i++)
        if (buf_printf(&b, "%04d", i) != 0)
            ok = 0;
    CHECK(ok && b.len == 8 + 4000 && memcmp(b.data + 8 + 4 * 999, "0999", 4) == 0,
          "printf grows the buffer");
    CHECK(b.cap >= b.len, "capacity covers the length");
    buf_consume(&b, 8);
    CHECK(b.len == 4000 && memcmp(b.data, "0000", 4) == 0, "consume drops the front");
    buf_consume(&b, 100000);
    CHECK(b.len == 0, "consume past the end empties");
    buf_reset(&b);
    CHECK(b.len == 0 && b.data != NULL, "reset keeps the memory");
    CHECK(buf_reserve(&b, 1 << 20) == 0 && b.cap >= (1 << 20), "reserve a megabyte");
    CHECK(buf_reserve(&b, (size_t)-1) == -1, "reserve an impossible size fails");
    buf_free(&b);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0, "free resets the buffer");

    buf_init(&b);
    CHECK(buf_printf(&b, "%s", "") == 0 && b.len == 0, "printf of nothing on an empty buffer");
    CHECK(buf_printf(&b, "%300s", "y") == 0 && b.len == 300 && b.data[299] == 'y',
          "printf into an empty buffer");
    buf_free(&b);
}

/* Formats of text, %s and %% only take the copying path; it must print
 * what vsnprintf prints. */
static void test_plain_formats(void)
{
    static const char *const fmts[] = {
        "Hello, %s", "%s", "", "no directive", "100%% %s%s!", "%s%%", "a%sb%sc%s",
    };
    const char *nul = NULL;
    char want[512], big[300];
    struct buf b;

    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        buf_init(&b);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
        snprintf(want, sizeof want, fmts[i], "Ann", big, "x");
        CHECK(buf_printf(&b, fmts[i], "Ann", big, "x") == 0 && b.len == strlen(want) &&
              memcmp(b.data ? b.data : "", want, b.len) == 0, "plain format \"%s\"", fmts[i]);
#pragma GCC diagnostic pop
        buf_free(&b);
    }
    buf_init(&b);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-overflow"
#pragma GCC diagnostic ignored "-Wformat"
    CHECK(buf_printf(&b, "[%s]", nul) == 0 && b.len == 8 && memcmp(b.data, "[(null)]", 8) == 0,
          "a NULL %%s prints (null), as glibc does");
#pragma GCC diagnostic pop
    buf_free(&b);
    buf_init(&b);
    CHECK(buf_printf(&b, "ab") == 0 && buf_printf(&b, "%s, %s: %d%%", "Ann", big, 7) == 0 &&
          b.len == 2 + 3 + 2 + strlen(big) + 4 && memcmp(b.data, "abAnn, zz", 9) == 0 &&
          memcmp(b.data + b.len - 4, ": 7%", 4) == 0,
          "a %%d after %%s: the copy so far is undone, vsnprintf prints it all");
    buf_free(&b);
}

/* %.*s takes the copying path too: what vsnprintf prints, for precisions
 * below, at and past the string's length, none (negative), and a NULL
 * string (left to vsnprintf: "(null)" from 6 on, nothing below, in glibc). */
static void test_precision_formats(void)
{
    static const int precs[] = { -1, 0, 1, 2, 3, 4, 5, 6, 7, 299, 300, 1000 };
    const char *strs[] = { "Ann", "", NULL, NULL };
    char want[1024], big[300];
    struct buf b;

    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    strs[2] = big;
    for (size_t i = 0; i < sizeof precs / sizeof precs[0]; i++)
        for (size_t j = 0; j < sizeof strs / sizeof strs[0]; j++) {
            const char *s = strs[j];
            int p = precs[i];

            buf_init(&b);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-overflow"
#pragma GCC diagnostic ignored "-Wformat"
            snprintf(want, sizeof want, "Hello, %.*s and %s: %.*s%%", p, s, "x", p, s);
            CHECK(buf_printf(&b, "ab") == 0 &&
                  buf_printf(&b, "Hello, %.*s and %s: %.*s%%", p, s, "x", p, s) == 0 &&
                  b.len == 2 + strlen(want) && memcmp(b.data, "ab", 2) == 0 &&
                  memcmp(b.data + 2, want, b.len - 2) == 0,
                  "\"%%.*s\" of precision %d, string %zu", p, j);
#pragma GCC diagnostic pop
            buf_free(&b);
        }
    buf_init(&b);
    CHECK(buf_printf(&b, "[%.*s]", 5, "ab\0cd") == 0 && b.len == 4 && memcmp(b.data, "[ab]", 4) == 0,
          "%%.*s stops at a NUL within its precision, as vsnprintf does");
    buf_free(&b);
}

int main(void)
{
    test_alignment();
    test_big();
    test_reset();
    test_buf();
    test_plain_formats();
    test_precision_formats();
    return unit_done();
}
