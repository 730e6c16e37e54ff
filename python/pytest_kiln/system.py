"""The kernel's view that kiln tests poll: processes by pid (/proc), loopback TCP sockets (/proc/net/tcp), and waiting for a condition."""

import os
import time

def proc_ppid(pid):
    """The parent pid of `pid` from /proc, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields follow the last ')'.
    rest = stat[stat.rfind(")") + 2:].split()
    if rest[0] == "Z":
        return None
    return int(rest[1])


def children_of(ppid):
    """Pids of the live processes whose parent is `ppid`."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and proc_ppid(int(entry)) == ppid:
            out.append(int(entry))
    return sorted(out)


TCP_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
              6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
              11: "CLOSING"}


def tcp_socket(local_port, remote_port):
    """The kernel's view of the IPv4 loopback socket from `local_port` to
    `remote_port` (/proc/net/tcp): (state, bytes not yet sent or acked, bytes
    received but not read), or None when there is no such socket."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote = fields[1].split(":"), fields[2].split(":")
            if int(local[1], 16) == local_port and int(remote[1], 16) == remote_port:
                tx, rx = fields[4].split(":")
                state = int(fields[3], 16)
                return TCP_STATES.get(state, str(state)), int(tx, 16), int(rx, 16)
    return None


def pid_alive(pid):
    return proc_ppid(pid) is not None


def wait_until(pred, timeout, interval=0.05):
    """Polls pred() until it is truthy (returns its value) or timeout (returns the last value)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)

