/*
 * unit.h -- a tiny TAP-style harness for kiln's unit tests.
 *
 * Each CHECK prints "ok N - what" or "not ok N - what (file:line)"; tests/run
 * counts those lines.  A test program ends with `return unit_done();`, which
 * prints the plan and returns 1 if anything failed.
 */
#ifndef KILN_UNIT_H
#define KILN_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_n, unit_failed;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        int ok_ = !!(cond);                                                 \
        unit_n++;                                                           \
        printf("%sok %d - ", ok_ ? "" : "not ", unit_n);                    \
        printf(__VA_ARGS__);                                                \
        if (!ok_) {                                                         \
            unit_failed++;                                                  \
            printf(" (%s:%d: %s)", __FILE__, __LINE__, #cond);              \
        }                                                                   \
        printf("\n");                                                       \
    } while (0)

#define CHECK_STR(got, want, ...)                                           \
    do {                                                                    \
        const char *g_ = (got), *w_ = (want);                               \
        int same_ = (g_ == NULL && w_ == NULL) ||                           \
                    (g_ != NULL && w_ != NULL && strcmp(g_, w_) == 0);      \
        CHECK(same_, __VA_ARGS__);                                          \
        if (!same_)                                                         \
            printf("#   got \"%s\", want \"%s\"\n", g_ ? g_ : "(null)",     \
                   w_ ? w_ : "(null)");                                     \
    } while (0)

static inline int unit_done(void)
{
    printf("1..%d\n", unit_n);
    return unit_failed ? 1 : 0;
}

#endif
