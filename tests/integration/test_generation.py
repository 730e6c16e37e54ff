"""Tests that a generation serves one set of plugin files all its life: workers started inside it load what its start (or its reload's check) saw, whatever plugin_dir holds later."""

import os
import re
import signal
import subprocess
import threading
import time

from conftest import Background, children_of, http_request, pid_alive, plugin_path, wait_until


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
    return sorted(target for _, target in so_fd_list(pid))


def so_fd_list(pid):
    """(fd path, target) of the open fds of `pid` that name a shared object."""
    out = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        path = "/proc/%d/fd/%s" % (pid, fd)
        try:
            target = os.readlink(path)
        except OSError:
            continue
        if ".so" in target:
            out.append((path, target))
    return out


def sealed_copies(pid):
    """{memfd name: bytes} of the sealed plugin copies `pid` holds open."""
    out = {}
    for path, target in so_fd_list(pid):
        assert target.startswith("/memfd:") and target.endswith(" (deleted)"), target
        with open(path, "rb") as f:
            out[target[len("/memfd:"):-len(" (deleted)")]] = f.read()
    return out


def built(name):
    with open(plugin_path(name), "rb") as f:
        return f.read()


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
    # The master holds a sealed copy of generation 1's file, the one replaced.
    assert sealed_copies(k.pid) == {"hello.so": built("hello")}
    reload(k)
    assert answers(k, "/") == {(200, "Hi, Anonymous")}, k.describe()
    assert k.get_text("/Bob") == (200, "Hi, Bob")
    # Generation 1's copy is closed with it; workers keep no plugin file open.
    assert wait_until(lambda: sealed_copies(k.pid) == {"hello.so": built("hello2")}, 5), \
        so_fds(k.pid)
    for pid in k.worker_pids():
        assert so_fds(pid) == [], (pid, so_fds(pid))
    assert k.stop() == 0


class Hammer:
    """Requests GET /NAME without a pause from two threads (new connections and
    one keep-alive connection) until stop(); counts answers by (status, body)."""

    def __init__(self, k):
        self.k = k
        self.seen = {}
        self.errors = []
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.bg = [Background(self._fresh), Background(self._keepalive)]

    def _note(self, key):
        with self.lock:
            self.seen[key] = self.seen.get(key, 0) + 1

    def _fresh(self):
        while not self.done.is_set():
            try:
                st, _, body = http_request(self.k.port, "/Ann", timeout=5)
                self._note((st, body.decode()))
            except OSError as e:
                self.errors.append(repr(e))

    def _keepalive(self):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.k.port, timeout=5)
        while not self.done.is_set():
            try:
                c.request("GET", "/Ann")
                r = c.getresponse()
                self._note((r.status, r.read().decode()))
            except (OSError, http.client.HTTPException) as e:
                self.errors.append(repr(e))
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", self.k.port, timeout=5)
        c.close()

    def stop(self):
        self.done.set()
        for b in self.bg:
            b.result(10)
        return self.seen, self.errors


def overwrite_in_place(path, data):
    """Writes `data` over the file at `path` in place (same inode), as cp does."""
    ino = os.stat(path).st_ino
    with open(path, "r+b") as f:
        f.truncate(0)
        f.write(data)
    assert os.stat(path).st_ino == ino


def test_plugin_overwritten_in_place_never_crashes(kiln_factory):
    k = kiln_factory.make(plugins=("hello",), log_level="debug")
    workers = k.wait_workers(2)
    hello = os.path.join(k.plugin_dir, "hello.so")
    hammer = Hammer(k)
    time.sleep(0.3)
    overwrite_in_place(hello, built("hello2"))          # what `cp new.so hello.so` does
    time.sleep(0.5)
    # cp(1) itself, onto the file that now holds hello2, with hello again.
    subprocess.run(["cp", plugin_path("hello"), hello], check=True)
    time.sleep(0.3)
    overwrite_in_place(hello, built("hello2"))
    time.sleep(0.5)
    seen, errors = hammer.stop()
    assert errors == [], errors[:5]
    assert set(seen) == {(200, "Hello, Ann")}, (seen, k.describe())
    assert sum(seen.values()) > 100, seen
    assert k.worker_pids() == workers, k.describe()
    assert "killed by signal" not in k.log(), k.describe()
    # Workers started now (a crash replacement, one more worker) run the checked copy.
    assert {k.get_text("/W%d" % i) for i in range(20)} == \
        {(200, "Hello, W%d" % i) for i in range(20)}
    # The in-place write is picked up by the next reload.
    reload(k)
    assert answers(k, "/Ann", 20) == {(200, "Hi, Ann")}, k.describe()
    assert sealed_copies(k.pid) == {"hello.so": built("hello2")}
    assert k.stop() == 0


def test_in_place_write_waits_for_reload_in_new_workers(kiln_factory):
    k = hello_server(kiln_factory)
    overwrite_in_place(os.path.join(k.plugin_dir, "hello.so"), built("hello2"))
    workers = workers_started_now(k)
    assert len(workers) == 2
    assert answers(k, "/Zed") == {(200, "Hello, Zed")}, k.describe()
    # Only the worker the test killed died (signal 9), none of a bad mapping.
    assert re.findall(r"killed by signal (\d+)", k.log()) == ["9"], k.describe()
    reload(k)
    assert answers(k, "/Zed") == {(200, "Hi, Zed")}, k.describe()
    assert k.stop() == 0


def test_sealed_copy_cannot_be_written(kiln_factory):
    k = hello_server(kiln_factory)
    (path, _), = so_fd_list(k.pid)
    try:
        with open(path, "r+b") as f:
            f.write(b"x")
            f.flush()
        written = True
    except PermissionError:
        written = False
    assert not written, "the master's plugin copy accepted a write"
    assert k.get_text("/") == (200, "Hello, Anonymous")
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
