/*
 * redis_url.h -- a Redis server's URL ([server] pubsub): "redis://host:port",
 * "redis://:password@host:port", "redis://[v6]:port", "redis+unix:///path",
 * checked by the config and read by the master's bus (redis_url.c).
 */
#ifndef KILN_REDIS_URL_H
#define KILN_REDIS_URL_H

#include <stddef.h>

/* The forms, for messages. */
#define REDIS_URL_FORMS "redis://host:port, redis://:password@host:port, " \
    "redis://[ipv6]:port or redis+unix:///path"

#define REDIS_URL_MAX 1024

/* A URL taken apart, in redis_link_conf's terms. */
struct redis_url {
    char address[REDIS_URL_MAX];    /* "host:port", "[v6]:port" or "unix:/path" */
    char password[REDIS_URL_MAX];   /* "": no AUTH */
};

/*
 * Parses `url` into *out (may be NULL: only checked).  0, or -1 with what
 * is wrong in `why` (the password never in it).  The port is 6379 when left
 * out; a trailing "/" is allowed, a path or a user name is not.
 */
int redis_url_parse(const char *url, struct redis_url *out, char *why, size_t whylen);

/* url as a message may show it: what stands before the last '@' (a
 * password, maybe a user) as "***". */
void redis_url_shown(const char *url, char *buf, size_t len);

#endif
