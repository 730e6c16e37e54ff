/*
 * compress_sizes.c -- compressed size and CPU time of gzip (zlib) levels
 * against brotli qualities on the files named on the command line, the
 * figures that decide which codings kiln sends.
 *
 * Usage: compress_sizes FILE...   (bench/compress.sh builds and runs it)
 * For each file and each setting, compresses the whole file in one call
 * (as kiln compresses a buffered body) as often as fits in about 0.3 s of
 * process CPU time, and prints the compressed size, its ratio to the
 * original and the CPU time of one compression.  Then, on the first
 * kilobyte of the first file (a body small enough for the state's cost to
 * show), what the deflate state costs per response: made and freed for
 * each (deflateInit2 + deflateEnd) against kept and reset (deflateReset),
 * as kiln's worker does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>
#ifdef WITH_BROTLI
#include <brotli/encode.h>
#endif

static double cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One gzip stream of in[0..n) at `level` into out; its size, or 0. */
static size_t gzip_once(z_stream *z, int level, const unsigned char *in, size_t n,
                        unsigned char *out, size_t cap)
{
    if (deflateReset(z) != Z_OK || deflateParams(z, level, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    z->next_in = (unsigned char *)in;
    z->avail_in = (uInt)n;
    z->next_out = out;
    z->avail_out = (uInt)cap;
    if (deflate(z, Z_FINISH) != Z_STREAM_END)
        return 0;
    return cap - z->avail_out;
}

#ifdef WITH_BROTLI
static size_t brotli_once(int quality, const unsigned char *in, size_t n,
                          unsigned char *out, size_t cap)
{
    size_t len = cap;

    if (!BrotliEncoderCompress(quality, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, n, in,
                               &len, out))
        return 0;
    return len;
}
#endif

/* Runs one setting on one file until 0.3 s of CPU are spent; prints a row. */
static void measure(const char *name, const char *setting, int gzip, int level,
                    z_stream *z, const unsigned char *in, size_t n,
                    unsigned char *out, size_t cap)
{
    double start = cpu_now(), spent;
    size_t len = 0;
    long runs = 0;

    do {
        if (gzip)
            len = gzip_once(z, level, in, n, out, cap);
#ifdef WITH_BROTLI
        else
            len = brotli_once(level, in, n, out, cap);
#endif
        runs++;
        spent = cpu_now() - start;
    } while (spent < 0.3 && len > 0);
    if (len == 0) {
        fprintf(stderr, "compress_sizes: %s %s failed\n", name, setting);
        exit(1);
    }
    printf("%-12s %-10s %9zu %9zu %6.1f%% %10.1f\n", name, setting, n, len,
           100.0 * (double)len / (double)n, spent / (double)runs * 1e6);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *p;
    long len;

    if (!f || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        perror(path);
        exit(1);
    }
    p = malloc((size_t)len + 1);
    if (!p || fread(p, 1, (size_t)len, f) != (size_t)len) {
        perror(path);
        exit(1);
    }
    fclose(f);
    *n = (size_t)len;
    return p;
}

/* CPU us of one gzip-5 of in[0..n) with a state made and freed for it
 * (fresh) or one reset. */
static double state_cost(int fresh, const unsigned char *in, size_t n, unsigned char *out,
                         size_t cap)
{
    double start = cpu_now(), spent;
    long runs = 0;
    z_stream z;

    memset(&z, 0, sizeof(z));
    if (!fresh && deflateInit2(&z, 5, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        exit(1);
    do {
        if (fresh) {
            memset(&z, 0, sizeof(z));
            if (deflateInit2(&z, 5, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                exit(1);
        } else if (deflateReset(&z) != Z_OK) {
            exit(1);
        }
        z.next_in = (unsigned char *)in;
        z.avail_in = (uInt)n;
        z.next_out = out;
        z.avail_out = (uInt)cap;
        if (deflate(&z, Z_FINISH) != Z_STREAM_END)
            exit(1);
        if (fresh)
            deflateEnd(&z);
        runs++;
        spent = cpu_now() - start;
    } while (spent < 0.3);
    if (!fresh)
        deflateEnd(&z);
    return spent / (double)runs * 1e6;
}

int main(int argc, char **argv)
{
    static const int levels[] = {1, 5, 6};
    static const int qualities[] = {1, 4, 5};
    z_stream z;

    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 1;
    printf("%-12s %-10s %9s %9s %7s %10s\n", "body", "coding", "bytes", "out", "ratio",
           "cpu us");
    for (int i = 1; i < argc; i++) {
        const char *name = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
        size_t n, cap;
        unsigned char *in = slurp(argv[i], &n), *out;
        char setting[32];

        cap = n + n / 2 + 1024;
        out = malloc(cap);
        if (!out)
            return 1;
        for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
            snprintf(setting, sizeof(setting), "gzip-%d", levels[l]);
            measure(name, setting, 1, levels[l], &z, in, n, out, cap);
        }
#ifdef WITH_BROTLI
        for (size_t q = 0; q < sizeof(qualities) / sizeof(qualities[0]); q++) {
            snprintf(setting, sizeof(setting), "br-%d", qualities[q]);
            measure(name, setting, 0, qualities[q], NULL, in, n, out, cap);
        }
#else
        (void)qualities;
#endif
        free(in);
        free(out);
    }
    deflateEnd(&z);
    if (argc > 1) {
        size_t n, cap;
        unsigned char *in = slurp(argv[1], &n), *out;

        if (n > 1024)
            n = 1024;
        cap = n + n / 2 + 1024;
        out = malloc(cap);
        if (!out)
            return 1;
        printf("\nthe deflate state, gzip-5 of %zu bytes: made and freed per response "
               "%.1f us, reset per response %.1f us\n", n, state_cost(1, in, n, out, cap),
               state_cost(0, in, n, out, cap));
        free(in);
        free(out);
    }
    return 0;
}
