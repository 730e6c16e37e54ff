/*
 * htpasswd.h -- a password file of crypt(3) hashes, as Apache's htpasswd
 * writes it with -B, -5 or -2 ("user:$2y$05$..."), read into memory; and
 * the decoding a Basic credential needs.
 */
#ifndef KILN_PERMISSIONS_HTPASSWD_H
#define KILN_PERMISSIONS_HTPASSWD_H

#include <stddef.h>

#define HTPASSWD_USER_MAX 256

struct htpasswd_user {
    char *name;
    char *hash;
};

struct htpasswd {
    struct htpasswd_user *users;    /* sorted by name */
    size_t n;
    char dummy[128];                /* checked for an unknown user */
};

/* Reads `path`: 0, or -1 with "PATH:LINE: why" logged (a line that is not
 * user:hash, a hash crypt(3) does not check or counts as legacy, such as
 * htpasswd's default MD5 "$apr1$", a user twice). */
int htpasswd_load(struct htpasswd *h, const char *path);
void htpasswd_free(struct htpasswd *h);

/* The hash of `user`, or NULL. */
const char *htpasswd_find(const struct htpasswd *h, const char *user);

/* a and b are the same string, in a time that depends on their lengths. */
int htpasswd_same(const char *a, const char *b);

/* Decodes base64 `in` (RFC 4648, padding optional, nothing else) into out:
 * the length, or -1 (not base64, more than `cap` bytes). */
long htpasswd_base64(const char *in, char *out, size_t cap);

#endif
