/*
 * options.h -- the command line's options, and what every command does
 * with a config first: load it with the -l / -w overrides, and point the
 * log at it.
 */
#ifndef KILN_OPTIONS_H
#define KILN_OPTIONS_H

#include <stddef.h>

#include "config.h"

/* What the command line asked for; survives reloads. */
struct master_options {
    const char *conf_file;
    const char *listen[CONFIG_MAX_LISTEN];  /* -l, replacing the config's */
    size_t nlisten;
    int workers;                /* -w; -1: as the config says */
    char *const *argv;          /* the command line, re-executed on SIGUSR2 */
};

/*
 * Reads the config file and applies the -l / -w overrides.  Returns a
 * config to config_free() and free(), or NULL with the error in err.
 */
struct config *options_load_config(const struct master_options *o, char *err,
                                   size_t errlen);

/* Points the log at the config's file and level, then logs the config's
 * warnings (file:line).  0, or -1 with err (the log is left as it was). */
int options_apply_log(const struct config *c, char *err, size_t errlen);

/* Logs the config's warnings (what loaded but looks like a mistake). */
void options_log_warnings(const struct config *c);

#endif
