/*
 * systemd.h -- what kiln does for systemd, without libsystemd: readiness
 * datagrams to $NOTIFY_SOCKET (Type=notify) and sockets passed by socket
 * activation ($LISTEN_PID, $LISTEN_FDS).
 */
#ifndef KILN_SYSTEMD_H
#define KILN_SYSTEMD_H

/* The first descriptor socket activation passes. */
#define SYSTEMD_LISTEN_FDS_START 3

/*
 * Sends `state` (e.g. "READY=1", "RELOADING=1", "STOPPING=1"; several
 * separated by newlines) to $NOTIFY_SOCKET, a path or, with a leading '@',
 * an abstract socket name.  Nothing when the variable is unset.  0 when sent
 * or nothing to do, -1 when sending failed (logged at warn).
 */
int systemd_notify(const char *state);

/* READY=1 and the master's pid (MAINPID=, so a new binary takes over). */
void systemd_ready(void);
/* RELOADING=1 with the monotonic time systemd expects. */
void systemd_reloading(void);

/*
 * How many sockets socket activation passed to this process (0 when
 * $LISTEN_PID is not our pid).  Removes the LISTEN_* variables so that
 * children do not take them as theirs.
 */
int systemd_listen_fds(void);

#endif
