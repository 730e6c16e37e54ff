/*
 * replay.c -- a fuzz harness without libFuzzer: calls its
 * LLVMFuzzerTestOneInput() on every file of the directories (or on the
 * files) named on the command line, in name order.  `make check` links one
 * per harness with the normal compiler (tests/fuzz/replay_NAME), and
 * tests/run runs it on the harness's corpus and crashers, so that every
 * input ever found stays a regression test.
 *
 * Prints TAP: "ok N - DIR: K inputs" per directory (or file), then the plan.
 * An input that crashes the harness ends the program with the name of the
 * input on stderr (after the sanitizer's report, in a sanitizer build).
 */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The sanitizers' hook for a last word before they end the process; NULL
 * in a build without them. */
extern void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

static const char *current;         /* the input being run */

static void name_current(void)
{
    if (current != NULL) {
        (void)!write(2, "replay: crashed on ", 19);
        (void)!write(2, current, strlen(current));
        (void)!write(2, "\n", 1);
    }
}

static void on_fatal(int sig)
{
    name_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Names the input that crashes the harness, however it dies. */
static void watch_crashes(void)
{
    static const int sigs[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };

    if (__sanitizer_set_death_callback != NULL) {
        __sanitizer_set_death_callback(name_current);   /* after its report */
        return;
    }
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], on_fatal);
}

/* Runs the harness on one file: exactly its bytes, in a buffer of that size
 * (so that a sanitizer sees a read past the end).  0, or -1 when it cannot
 * be read. */
static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    long len;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0 || (data = malloc(len ? (size_t)len : 1)) == NULL ||
        fread(data, 1, (size_t)len, f) != (size_t)len) {
        perror(path);
        if (f != NULL)
            fclose(f);
        free(data);
        return -1;
    }
    fclose(f);
    current = path;
    LLVMFuzzerTestOneInput(data, (size_t)len);
    current = NULL;
    free(data);
    return 0;
}

static int visible(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* Runs every file of `dir`; the number run, or -1. */
static long run_dir(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, visible, alphasort);
    long ran = 0;

    if (n < 0) {
        perror(dir);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        size_t len = strlen(dir) + strlen(names[i]->d_name) + 2;
        char *path = malloc(len);
        struct stat st;

        if (path == NULL)
            abort();
        snprintf(path, len, "%s/%s", dir, names[i]->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(path) < 0)
                ran = -1;
            else if (ran >= 0)
                ran++;
        }
        free(path);
        free(names[i]);
    }
    free(names);
    return ran;
}

/* What a TAP line calls `path`: from "tests/fuzz/" on, when it has it. */
static const char *shown(const char *path)
{
    const char *p = strstr(path, "tests/fuzz/");

    return p ? p : path;
}

int main(int argc, char **argv)
{
    int failed = 0;

    watch_crashes();
    for (int i = 1; i < argc; i++) {
        struct stat st;
        long n;

        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            n = run_dir(argv[i]);
        else
            n = run_file(argv[i]) == 0 ? 1 : -1;
        if (n > 0) {
            printf("ok %d - %s: %ld input%s replayed\n", i, shown(argv[i]), n,
                   n == 1 ? "" : "s");
        } else {
            printf("not ok %d - %s: %s\n", i, shown(argv[i]),
                   n == 0 ? "no input in it" : "unreadable");
            failed++;
        }
        fflush(stdout);
    }
    printf("1..%d\n", argc - 1);
    return failed ? 1 : 0;
}
