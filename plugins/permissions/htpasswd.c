/*
 * htpasswd.c -- the password file of the permissions plugin: read, checked
 * line by line (each hash one crypt(3) verifies), sorted for lookups.
 */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kiln.h>

#include "htpasswd.h"

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct htpasswd_user *)a)->name,
                  ((const struct htpasswd_user *)b)->name);
}

/* Why `hash` is refused, or NULL when crypt(3) checks it. */
static const char *refused(const char *hash)
{
    if (strncmp(hash, "$apr1$", 6) == 0)
        return "an Apache MD5 ($apr1$) hash, which crypt(3) does not check: "
               "write it with htpasswd -B (bcrypt), -5 or -2";
    if (strncmp(hash, "{SHA}", 5) == 0)
        return "an unsalted SHA-1 ({SHA}) hash: write it with htpasswd -B, -5 or -2";
    switch (crypt_checksalt(hash)) {
    case CRYPT_SALT_OK:
    case CRYPT_SALT_TOO_CHEAP:
        return NULL;
    case CRYPT_SALT_METHOD_LEGACY:
        /* libxcrypt counts SHA-256 crypt as legacy; htpasswd -2 writes it */
        if (strncmp(hash, "$5$", 3) == 0)
            return NULL;
        return "a legacy hash (DES or MD5): write it with htpasswd -B, -5 or -2";
    default:
        return "not a crypt(3) hash";
    }
}

static int add_user(struct htpasswd *h, const char *name, const char *hash)
{
    struct htpasswd_user *u = realloc(h->users, (h->n + 1) * sizeof(*u));

    if (u == NULL)
        return -1;
    h->users = u;
    u[h->n].name = strdup(name);
    u[h->n].hash = strdup(hash);
    if (u[h->n].name == NULL || u[h->n].hash == NULL) {
        free(u[h->n].name);
        free(u[h->n].hash);
        return -1;
    }
    h->n++;
    return 0;
}

/* One line, "user:hash", blank or "#...": 0, or -1 with why in *why. */
static int parse_line(struct htpasswd *h, char *line, const char **why)
{
    char *colon;

    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '\0' || line[0] == '#')
        return 0;
    if ((colon = strchr(line, ':')) == NULL || colon == line ||
        (size_t)(colon - line) >= HTPASSWD_USER_MAX) {
        *why = "expected user:hash";
        return -1;
    }
    *colon = '\0';
    if ((*why = refused(colon + 1)) != NULL)
        return -1;
    if (strlen(colon + 1) >= CRYPT_OUTPUT_SIZE || add_user(h, line, colon + 1) < 0) {
        *why = "out of memory, or a hash too long";
        return -1;
    }
    return 0;
}

/* A hash in the same method and cost as the first user's, of nothing any
 * user has: an unknown user costs as much as a known one. */
static int make_dummy(struct htpasswd *h)
{
    struct crypt_data work;
    const char *setting = h->n ? h->users[0].hash : "$2b$05$abcdefghijklmnopqrstuu";
    const char *out;

    memset(&work, 0, sizeof(work));
    out = crypt_rn("\x01not a password", setting, &work, sizeof(work));
    if (out == NULL || strlen(out) >= sizeof(h->dummy))
        return -1;
    strcpy(h->dummy, out);
    return 0;
}

int htpasswd_load(struct htpasswd *h, const char *path)
{
    FILE *f = fopen(path, "re");
    char line[HTPASSWD_USER_MAX + CRYPT_OUTPUT_SIZE + 4];
    const char *why = NULL;
    int lineno = 0;

    memset(h, 0, sizeof(*h));
    if (f == NULL) {
        kiln_log(KILN_LOG_ERROR, "[permissions] htpasswd: %s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        if (parse_line(h, line, &why) < 0)
            break;
        why = NULL;
    }
    fclose(f);
    if (why == NULL && h->n > 1) {
        qsort(h->users, h->n, sizeof(*h->users), by_name);
        for (size_t i = 1; i < h->n && why == NULL; i++)
            if (strcmp(h->users[i].name, h->users[i - 1].name) == 0) {
                why = "a user given twice";
                lineno = 0;
            }
    }
    if (why == NULL && make_dummy(h) < 0) {
        why = "cannot hash with the first user's method";
        lineno = 0;
    }
    if (why != NULL) {
        if (lineno > 0)
            kiln_log(KILN_LOG_ERROR, "[permissions] %s:%d: %s", path, lineno, why);
        else
            kiln_log(KILN_LOG_ERROR, "[permissions] %s: %s", path, why);
        htpasswd_free(h);
        return -1;
    }
    return 0;
}

void htpasswd_free(struct htpasswd *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->users[i].name);
        free(h->users[i].hash);
    }
    free(h->users);
    memset(h, 0, sizeof(*h));
}

const char *htpasswd_find(const struct htpasswd *h, const char *user)
{
    struct htpasswd_user key = { .name = (char *)user };
    const struct htpasswd_user *u;

    if (h->n == 0)
        return NULL;
    u = bsearch(&key, h->users, h->n, sizeof(*h->users), by_name);
    return u ? u->hash : NULL;
}

int htpasswd_same(const char *a, const char *b)
{
    size_t n = strlen(a);
    unsigned char diff = 0;

    if (n != strlen(b))
        return 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

static int b64(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

long htpasswd_base64(const char *in, char *out, size_t cap)
{
    size_t len = strlen(in), n = 0, i;
    unsigned acc = 0;
    int bits = 0;

    while (len > 0 && in[len - 1] == '=')
        len--;
    if (strlen(in) - len > 2 || len % 4 == 1)
        return -1;
    for (i = 0; i < len; i++) {
        int v = b64(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap)
                return -1;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    return (long)n;
}
