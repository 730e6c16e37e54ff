"""Tests that a generation serves one set of plugin files all its life: workers started inside it load what its start (or its reload's check) saw, whatever plugin_dir holds later."""

import os
import signal

from conftest import children_of, pid_alive, wait_until


# -- helpers ---------------------------------------------------------------------------


def wait_serving(k, pid, since):
    """Waits until worker `pid`, started inside a serving generation, said it is ready."""
    k.wait_log(r"worker %d of generation \d+ ready" % pid, since=since)


def add_worker(k, have):
    """SIGTTIN: one worker more; returns its pid once it serves."""
    mark = k.mark()
    k.signal(signal.SIGTTIN)
    added, = [p for p in k.wait_workers(len(have) + 1) if p not in have]
    wait_serving(k, added, mark)
    return added


def replace_worker(k, victim, have):
    """SIGKILLs worker `victim`; returns the pid of its replacement once it serves."""
    mark = k.mark()
    os.kill(victim, signal.SIGKILL)
    k.wait_log(r"worker %d killed by signal 9" % victim, since=mark)
    new, = [p for p in k.wait_workers(len(have), exclude=(victim,)) if p not in have]
    wait_serving(k, new, mark)
    return new


def workers_started_now(k):
    """Grows a one-worker server by a worker, then replaces the first one: every
    worker left was started after the caller changed plugin_dir."""
    first, = k.wait_workers(1)
    added = add_worker(k, [first])
    replacement = replace_worker(k, first, [first, added])
    return {added, replacement}


def reload(k):
    """SIGHUP; returns once generation 2 is ready and generation 1's workers are gone."""
    old = k.worker_pids()
    mark = k.mark()
    k.signal(signal.SIGHUP)
    k.wait_ready(2, since=mark)
    assert wait_until(lambda: not [p for p in old if pid_alive(p)], 8), k.describe()


def so_fds(pid):
    """What the open fds of `pid` that name a shared object point to."""
    out = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if ".so" in target:
            out.append(target)
    return sorted(out)


def answers(k, path, n=30):
    """`n` requests, each on a new connection: the set of (status, body) seen."""
    return {k.get_text(path) for _ in range(n)}


def hello_server(kiln_factory, plugins=("hello",), **kw):
    return kiln_factory.make(plugins=plugins, server={"workers": 1}, log_level="debug", **kw)


# -- tests -----------------------------------------------------------------------------


def test_replaced_file_waits_for_reload(kiln_factory):
    k = hello_server(kiln_factory)
    assert k.get_text("/") == (200, "Hello, Anonymous")
    k.install_plugin("hello2", as_name="hello")         # renamed over, no reload
    workers = workers_started_now(k)
    assert len(workers) == 2
    assert [k.get_text("/G%d" % i) for i in range(30)] == \
        [(200, "Hello, G%d" % i) for i in range(30)], k.describe()
    # The master holds generation 1's file, the one replaced in plugin_dir.
    hello = os.path.join(k.plugin_dir, "hello.so")
    assert so_fds(k.pid) == [hello + " (deleted)"]
    reload(k)
    assert answers(k, "/") == {(200, "Hi, Anonymous")}, k.describe()
    assert k.get_text("/Bob") == (200, "Hi, Bob")
    # Generation 1's file is closed with it; workers keep no plugin file open.
    assert wait_until(lambda: so_fds(k.pid) == [hello], 5), so_fds(k.pid)
    for pid in k.worker_pids():
        assert so_fds(pid) == [], (pid, so_fds(pid))
    assert k.stop() == 0


def test_removed_file_keeps_serving_until_reload(kiln_factory):
    k = hello_server(kiln_factory, plugins=("hello", "inspect"))
    assert k.get_text("/inspect/query")[0] == 200
    k.remove_plugin("inspect")                           # no reload
    workers_started_now(k)
    assert answers(k, "/inspect/query?a=1") == {(200, "a=[1]\nb absent\n")}, k.describe()
    reload(k)
    assert {st for st, _ in answers(k, "/inspect/query", 10)} == {404}, k.describe()
    assert k.get_text("/X") == (200, "Hello, X")
    assert k.stop() == 0


def test_added_file_serves_after_reload_only(kiln_factory):
    k = hello_server(kiln_factory)
    k.install_plugin("inspect")                          # no reload
    workers_started_now(k)
    assert {st for st, _ in answers(k, "/inspect/query")} == {404}, k.describe()
    reload(k)
    assert answers(k, "/inspect/query?b=2", 10) == {(200, "a absent\nb=[2]\n")}, k.describe()
    assert k.stop() == 0


def test_reload_serves_the_files_its_check_loaded(kiln_factory):
    # hello2's init sleeps, so a file can be swapped while the plugin check runs.
    k = hello_server(kiln_factory, sections={"hello": {"init_delay_ms": 1500}})
    master_children = k.wait_workers(1)
    k.install_plugin("hello2", as_name="hello")
    mark = k.mark()
    k.signal(signal.SIGHUP)
    k.wait_log(r"reloading", since=mark)
    assert wait_until(lambda: len(children_of(k.pid)) > len(master_children), 5), \
        "no plugin check process\n" + k.describe()
    k.install_plugin("hello")                            # renamed over while checked
    k.wait_ready(2, timeout=15, since=mark)
    assert wait_until(lambda: not [p for p in master_children if pid_alive(p)], 8), \
        k.describe()
    assert answers(k, "/", 10) == {(200, "Hi, Anonymous")}, k.describe()
    assert k.stop() == 0
