/*
 * config_private.h -- what config.c (reading the file) and config_keys.c
 * (kiln's own keys) share while one config_load() runs; private to core/.
 */
#ifndef KILN_CONFIG_PRIVATE_H
#define KILN_CONFIG_PRIVATE_H

#include <stddef.h>
#include <stdio.h>

#include "log.h"

struct config;

/* inih's longest line (INI_MAX_LINE; config.c checks that they agree). */
#define CONFIG_LINE_MAX 200

/* What one config_load() call knows while inih runs. */
struct parse_state {
    struct config *c;
    const char *file;
    FILE *fp;
    int line;                   /* line of the text last handed to inih */
    int at_bol;                 /* the next fgets starts a new line */
    int long_line;              /* a line too long for inih, or 0 */
    int listen_seen;            /* a listen key replaced the default */
    char *err;
    size_t errlen;
    int err_line;               /* line of the first error, 0 if none */
};

/* Records "file:line: message" unless an earlier error was recorded.
 * Returns 0, the value an inih handler returns for an error. */
int KILN_PRINTF(2, 3) config_fail(struct parse_state *st, const char *fmt, ...);

/* Keeps "file:line: message" in the config's warnings (dropped on out of
 * memory). */
void KILN_PRINTF(2, 3) config_warn(struct parse_state *st, const char *fmt, ...);

/* Sets key `name` of kiln's own `section` (config_own_section()) from
 * `value`: 1, or 0 with the error recorded. */
int config_key(struct parse_state *st, const char *section, const char *name,
               const char *value);

/* A [server] listen line: addresses, each followed by its options
 * (config_listen.c).  1, or 0 with the error recorded. */
int config_set_listen(struct parse_state *st, const char *value);

/* Whether `name` is a [server] key (to warn when a plugin section has one). */
int config_is_server_key(const char *name);

#endif
