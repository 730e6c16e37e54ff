/*
 * privileges.h -- the user and group that the processes running plugins
 * (workers, and a reload's check process) switch to when the master runs as
 * root: the master keeps root to bind sockets and open log files.
 */
#ifndef KILN_PRIVILEGES_H
#define KILN_PRIVILEGES_H

#include <stddef.h>

struct config;

/*
 * Makes this process run as the config's user and group (setgid,
 * initgroups, setuid), when they are set and the process is root.  0, or
 * -1 with "CALL(NAME) failed: reason" in err.
 */
int privileges_drop(const struct config *cfg, char *err, size_t errlen);

#endif
