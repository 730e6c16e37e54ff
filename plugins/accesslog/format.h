/*
 * format.h -- access-log formats: a format string with Apache's and
 * aiohttp's % directives compiled once into a list of items, then rendered
 * into one line per response from a record of what was served.
 *
 * Pure: no kiln calls, so that tests/unit/test_accesslog.c and
 * tests/fuzz/fuzz_accesslog.c drive it with records of their own.
 */
#ifndef KILN_ACCESSLOG_FORMAT_H
#define KILN_ACCESSLOG_FORMAT_H

#include <stddef.h>
#include <time.h>

/* The formats known by name. */
#define ALOG_COMMON   "%h %l %u %t \"%r\" %>s %b"
#define ALOG_COMBINED ALOG_COMMON " \"%{Referer}i\" \"%{User-Agent}i\""

struct alog_item;

/* What a format reads of a record, so that what it does not is not looked up. */
#define ALOG_NEEDS_REMOTE  0x01u    /* remote */
#define ALOG_NEEDS_PEER    0x02u    /* peer */
#define ALOG_NEEDS_USER    0x04u    /* user */
#define ALOG_NEEDS_REQLINE 0x08u    /* method, target, http_minor */
#define ALOG_NEEDS_PATH    0x10u    /* path */
#define ALOG_NEEDS_QUERY   0x20u    /* query */
#define ALOG_NEEDS_HOST    0x40u    /* host */

struct alog_format {
    struct alog_item *items;
    size_t n;
    unsigned needs;             /* ALOG_NEEDS_* */
};

/*
 * What a line is made of (the fields a format's needs do not name may be
 * left unset).  Strings may be NULL (logged as "-"); the two
 * header lookups get `ctx` back and return NULL for a header not there.
 */
struct alog_record {
    const char *remote;         /* %a %h: the client, through trusted proxies */
    const char *peer;           /* %{c}a: the connection's own peer */
    const char *user;           /* %u */
    const char *method;         /* %m */
    const char *target;         /* the raw request target, for %r */
    const char *path;           /* %U: decoded, without the query */
    const char *query;          /* %q: after '?', "" when none */
    const char *host;           /* %v */
    int http_minor;             /* %H: 10 or 11 (HTTP/1.0, HTTP/1.1), 0 unknown */
    int status;                 /* %s %>s */
    int complete;               /* %X: 0 when the connection ended first */
    unsigned long long bytes;       /* %O: sent, head included */
    unsigned long long body_bytes;  /* %b %B */
    unsigned long long received;    /* %I */
    double start;               /* %t: the request's first byte (epoch s) */
    double duration;            /* %D %T %Tf: seconds */
    long pid;                   /* %P */
    const char *(*req_header)(const void *ctx, const char *name);   /* %{X}i */
    const char *(*resp_header)(const void *ctx, const char *name);  /* %{X}o */
    const void *ctx;
};

/* A growing line buffer. */
struct alog_buf {
    char *data;
    size_t len, cap;
};

/* Compiles `spec` ("combined", "common" or a format string).  0, or -1
 * with a message in err (the directive and its column). */
int alog_compile(struct alog_format *f, const char *spec, char *err, size_t errlen);
void alog_format_free(struct alog_format *f);

/* Appends one line for `r`, newline included: 0, or -1 out of memory
 * (the buffer is then as it was). */
int alog_render(const struct alog_format *f, const struct alog_record *r,
                struct alog_buf *out);

void alog_buf_free(struct alog_buf *b);

#endif
