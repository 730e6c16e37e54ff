/*
 * check.h -- the plugin check: load every plugin of a config once, run its
 * init hook, unload it.  `kiln -t` runs it, and so does the throwaway process
 * a reload forks before it starts any worker, on the very files (the same
 * open snapshot) the reload's workers will load.
 */
#ifndef KILN_CHECK_H
#define KILN_CHECK_H

#include <stddef.h>

struct config;
struct plugin_files;

/*
 * Loads `files` (a snapshot of cfg->plugin_dir, see plugin_files_open) into
 * a scratch router, then unloads them (init and fini hooks run).  0, or -1
 * with the reason logged ("PATH: reason").
 */
int check_plugins(const struct config *cfg, const struct plugin_files *files);

/*
 * Makes this process run as the config's user and group (setgid,
 * initgroups, setuid), when they are set and the process is root.  0, or
 * -1 with "CALL(NAME) failed: reason" in err.
 */
int check_drop_privileges(const struct config *cfg, char *err, size_t errlen);

#endif
