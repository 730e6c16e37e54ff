"""Tests of the binary upgrade (SIGUSR2, SIGWINCH): under load, rolled back, and a new binary that fails to start."""

import os
import re
import signal
import time

import pytest

from conftest import children_of, pid_alive, wait_until
from procs import Load


# -- helpers -------------------------------------------------------------------------


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def kill_tree(pid):
    """Kills a master we did not start directly (a new binary's) and its workers, by pid."""
    for p in children_of(pid) + [pid]:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def stop_foreign_master(k, pid, timeout=10):
    """Stops, with SIGTERM, a master that is not the fixture's process; fails if it hangs."""
    workers = children_of(pid)
    os.kill(pid, signal.SIGTERM)
    if not wait_until(lambda: not pid_alive(pid), timeout):
        kill_tree(pid)
        pytest.fail("master %d did not stop within %ds\n%s" % (pid, timeout, k.describe()))
    assert wait_until(lambda: not [w for w in workers if pid_alive(w)], 5), \
        "workers of master %d outlived it" % pid
    k.check_sanitizers()


def start_upgrade(k):
    """Sends SIGUSR2 and waits until the new binary's generation 1 serves; its master's pid."""
    mark = k.mark()
    k.signal(signal.SIGUSR2)
    m = k.wait_log(r"binary upgrade, started .* as pid (\d+)", since=mark)
    new = int(m.group(1))
    k.wait_log(r"%d#master: generation 1 ready" % new, timeout=10, since=mark)
    assert wait_until(lambda: read_pid(k.pidfile) == new, 3), k.describe()
    assert read_pid(k.pidfile + ".oldbin") == k.pid
    assert wait_until(lambda: len(children_of(new)) == 2, 5)
    return new


# -- tests ---------------------------------------------------------------------------


def test_usr2_upgrade_under_load(kiln_factory):
    k = kiln_factory.make(plugins=("hello",))
    load = Load(k.port)
    new = None
    try:
        time.sleep(0.3)
        new = start_upgrade(k)
        time.sleep(0.5)                                 # both masters serve
        k.signal(signal.SIGWINCH)
        assert wait_until(lambda: children_of(k.pid) == [new], 8), k.describe()
        time.sleep(0.3)
        k.signal(signal.SIGQUIT)
        assert k.wait_exit(8) == 0, k.describe()
        time.sleep(0.3)
        load.stop()
        load.check(k)
        assert pid_alive(new) and read_pid(k.pidfile) == new
        assert not os.path.exists(k.pidfile + ".oldbin")
        assert k.get_text("/") == (200, "Hello, Anonymous")
        stop_foreign_master(k, new)
        new = None
    finally:
        load.stop()
        if new is not None:
            kill_tree(new)


def test_usr2_rollback_under_load(kiln_factory):
    k = kiln_factory.make(plugins=("hello",))
    load = Load(k.port)
    new = None
    try:
        time.sleep(0.3)
        new = start_upgrade(k)
        k.signal(signal.SIGWINCH)
        assert wait_until(lambda: children_of(k.pid) == [new], 8), k.describe()
        # Roll back: the old master starts workers again, then the new master goes.
        mark = k.mark()
        k.signal(signal.SIGHUP)
        k.wait_ready(2, since=mark)
        os.kill(new, signal.SIGQUIT)
        k.wait_log(r"the new binary's master \(pid %d\) exited with code 0" % new, since=mark)
        k.wait_log(r"pidfile %s restored" % re.escape(k.pidfile), since=mark)
        new = None
        time.sleep(0.3)
        load.stop()
        load.check(k)
        assert read_pid(k.pidfile) == k.pid
        assert not os.path.exists(k.pidfile + ".oldbin")
        assert wait_until(lambda: len(k.worker_pids()) == 2, 5)
        assert k.stop() == 0
    finally:
        load.stop()
        if new is not None:
            kill_tree(new)


def test_usr2_failed_start_restores_pidfile(kiln_factory):
    k = kiln_factory.make(plugins=("hello",))
    workers = k.wait_workers(2)
    good = k.config_text()
    k.write_config(good + "[server\n")
    mark = k.mark()
    k.signal(signal.SIGUSR2)
    m = k.wait_log(r"the new binary's master \(pid (\d+)\) exited with code 1", since=mark)
    k.wait_log(r"pidfile %s restored" % re.escape(k.pidfile), since=mark)
    assert not pid_alive(int(m.group(1)))
    assert read_pid(k.pidfile) == k.pid
    assert not os.path.exists(k.pidfile + ".oldbin")
    assert k.worker_pids() == workers
    assert k.get_text("/") == (200, "Hello, Anonymous")
    k.write_config(good)
    assert k.stop() == 0
