"""Tests of process management: kiln -s, log reopening, worker count signals, binary upgrade, supervision, privileges, systemd, plugin watching and reloads under load."""

import http.client
import os
import pwd
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time

import pytest

from conftest import Background, children_of, http_request, pid_alive, plugin_path, wait_until

LOAD_MAX_SECONDS = 40       # a load loop stops by itself after this, whatever happens


# -- helpers ---------------------------------------------------------------------------


class Load:
    """A bounded HTTP load: threads sending GET requests back to back, some over
    keep-alive connections, some on a new connection each (Connection: close).

    Every request that does not end in a 200 is a failure, recorded with its
    kind (which connection, reused or not, and the exception).  Responses are
    kept as (monotonic time, kind, body) to tell which code answered when."""

    def __init__(self, port, path="/", keepalive=2, fresh=2, max_seconds=LOAD_MAX_SECONDS):
        self.port = port
        self.path = path
        self.deadline = time.monotonic() + max_seconds
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []
        self.responses = []
        self.threads = [threading.Thread(target=self._keepalive, daemon=True)
                        for _ in range(keepalive)]
        self.threads += [threading.Thread(target=self._fresh, daemon=True) for _ in range(fresh)]
        for t in self.threads:
            t.start()

    def _running(self):
        return not self.halt.is_set() and time.monotonic() < self.deadline

    def _record(self, kind, status, body):
        with self.lock:
            if status == 200:
                self.ok += 1
                self.responses.append((time.monotonic(), kind, body))
            else:
                self.failures.append((kind, "status %d %r" % (status, body[:100])))

    def _fail(self, kind, error):
        with self.lock:
            self.failures.append((kind, "%s: %s" % (type(error).__name__, error)))

    def _keepalive(self):
        conn, reused = None, False
        while self._running():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                    reused = False
                conn.request("GET", self.path)
                r = conn.getresponse()
                body = r.read()
                self._record("keep-alive", r.status, body)
                if r.will_close:
                    conn.close()
                    conn = None
                else:
                    reused = True
            except (OSError, http.client.HTTPException) as e:
                self._fail("keep-alive (%s connection)" % ("reused" if reused else "new"), e)
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def _fresh(self):
        while self._running():
            try:
                st, _, body = http_request(self.port, self.path,
                                           headers={"Connection": "close"}, timeout=5)
                self._record("new connection", st, body)
            except (OSError, http.client.HTTPException) as e:
                self._fail("new connection", e)

    def stop(self):
        self.halt.set()
        for t in self.threads:
            t.join(10)
        return self

    def report(self):
        kinds = {}
        for kind, err in self.failures:
            kinds.setdefault(kind, []).append(err)
        lines = ["%d served, %d failed" % (self.ok, len(self.failures))]
        for kind, errs in kinds.items():
            lines.append("  %d on %s, e.g. %s" % (len(errs), kind, errs[:3]))
        return "\n".join(lines)

    def check(self, k, minimum=100):
        assert not self.failures, "failed requests under load:\n%s\n%s" % (
            self.report(), k.describe())
        assert self.ok >= minimum, "load too small: %s" % self.report()


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def uid_gid(pid):
    """(uids, gids) of a process from /proc/PID/status, each a list of 4 ints."""
    with open("/proc/%d/status" % pid) as f:
        text = f.read()
    uids = [int(x) for x in re.search(r"^Uid:\s+(.*)$", text, re.M).group(1).split()]
    gids = [int(x) for x in re.search(r"^Gid:\s+(.*)$", text, re.M).group(1).split()]
    return uids, gids


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


def kiln_s(k, action, conf=None):
    """`kiln -c conf -s action`: (rc, stdout + stderr)."""
    return k.signal_command(action, conf)


def write_garbage_plugin(k, name):
    """Drops a file that is no shared object at all into the plugin dir (dot name, then rename)."""
    tmp = os.path.join(k.plugin_dir, "." + name + ".so.tmp")
    with open(tmp, "wb") as f:
        f.write(b"this is not an ELF file\n" * 10)
    dest = os.path.join(k.plugin_dir, name + ".so")
    os.rename(tmp, dest)
    return dest


def crash_request(k):
    """GET /crash: the worker dies with the connection, so no answer comes."""
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
        k.request("/crash", timeout=5)


# -- kiln -s ---------------------------------------------------------------------------


def test_signal_command(kiln_factory):
    k = kiln_factory.make(plugins=("hello",))
    old = k.wait_workers(2)
    mark = k.mark()
    assert kiln_s(k, "reload") == (0, "")
    k.wait_ready(2, since=mark)
    assert wait_until(lambda: not [p for p in old if pid_alive(p)], 8)
    mark = k.mark()
    assert kiln_s(k, "reopen") == (0, "")
    k.wait_log(r"%d#master: log file reopened" % k.pid, since=mark)
    assert kiln_s(k, "quit") == (0, "")
    assert k.wait_exit(8) == 0, k.describe()
    assert "received SIGQUIT, stopping gracefully" in k.log()
    # The pidfile went with the master: a clear error, exit 1.
    rc, out = kiln_s(k, "reload")
    assert rc == 1 and "cannot open pidfile %s" % k.pidfile in out and "is kiln running?" in out, out
    # A pidfile left behind by a dead master names no process.
    with open(k.pidfile, "w") as f:
        f.write("%d\n" % k.pid)
    rc, out = kiln_s(k, "stop")
    assert rc == 1 and "stale pidfile" in out, out
    os.unlink(k.pidfile)


def test_signal_command_stop_is_fast(kiln_factory):
    k = kiln_factory.make(plugins=("hello", "slow"))
    bg = Background(lambda: k.request("/slow?ms=5000", timeout=10))
    time.sleep(0.3)
    t0 = time.monotonic()
    assert kiln_s(k, "stop")[0] == 0
    assert k.wait_exit(5) == 0, k.describe()
    assert time.monotonic() - t0 < 3
    assert "received SIGINT, stopping now" in k.log()
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        bg.result(10)


def test_signal_command_errors(kiln_factory):
    k = kiln_factory.make(start=False, plugins=("hello",), server={"pidfile": ""})
    rc, out = kiln_s(k, "reload")
    assert rc == 1 and "sets no pidfile" in out, out
    rc, out = kiln_s(k, "restart")
    assert rc == 2 and "expected reload, stop, quit or reopen" in out, out


# -- USR1 ------------------------------------------------------------------------------


def test_usr1_reopens_log_in_master_and_workers(kiln_factory):
    k = kiln_factory.make(plugins=("hello",))
    workers = k.wait_workers(2)
    rotated = k.log_path + ".1"
    os.rename(k.log_path, rotated)
    k.signal(signal.SIGUSR1)
    for pid in [k.pid] + workers:
        k.wait_log(r"%d#\w+: log file reopened" % pid, timeout=5)
    # New lines go to the new file, from the master and the workers alike.
    mark = k.mark()
    k.signal(signal.SIGHUP)
    k.wait_ready(2, since=mark)
    k.wait_log(r"#worker: loaded plugin hello", since=mark)
    with open(rotated) as f:
        old_text = f.read()
    assert "log file reopened" not in old_text
    assert "generation 2" not in old_text
    assert k.get_text("/") == (200, "Hello, Anonymous")
    assert k.stop() == 0


# -- TTIN / TTOU -----------------------------------------------------------------------


def test_ttin_ttou_change_worker_count(kiln_factory):
    k = kiln_factory.make(plugins=("hello", "slow"))
    two = k.wait_workers(2)
    k.signal(signal.SIGTTIN)
    three = k.wait_workers(3)
    assert set(two) < set(three)
    k.wait_log(r"generation 1 grows to 3 workers")
    assert {k.get_text("/T%d" % i)[0] for i in range(20)} == {200}
    # Two slow requests, one on each of two workers; the removed worker finishes its own.
    k.signal(signal.SIGTTOU)
    k.wait_workers(2)
    slow = []
    for _ in range(2):
        slow.append(Background(lambda: k.request("/slow?ms=1200", timeout=10)))
        time.sleep(0.2)
    mark = k.mark()
    k.signal(signal.SIGTTOU)
    k.wait_log(r"generation 1 shrinks to 1 workers", since=mark)
    for bg in slow:
        st, _, body = bg.result(10)
        assert (st, body) == (200, b"slow done")
    k.wait_workers(1, timeout=5)
    # Never below one worker.
    mark = k.mark()
    k.signal(signal.SIGTTOU)
    k.wait_log(r"SIGTTOU ignored: generation 1 already has 1 workers", since=mark)
    assert len(k.worker_pids()) == 1
    assert k.get_text("/Last") == (200, "Hello, Last")
    assert k.stop() == 0


# -- reload checks ---------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["garbage", "init_fails", "abi_major", "no_descriptor"])
def test_reload_plugin_check_keeps_old_generation(kiln_factory, bad):
    k = kiln_factory.make(plugins=("hello",))
    old = k.wait_workers(2)
    path = write_garbage_plugin(k, "garbage") if bad == "garbage" else k.install_plugin(bad)
    mark = k.mark()
    k.signal(signal.SIGHUP)
    k.wait_log(r"reload failed: the plugin check exited with code 1", timeout=10, since=mark)
    # The throwaway process named the file; no worker was forked for the reload.
    k.wait_log(r"\d+#check: .*%s" % re.escape(path), timeout=2, since=mark)
    assert not re.search(r"#worker: ", k.log()[mark:]), k.describe()
    assert k.worker_pids() == old
    assert {k.get_text("/") for _ in range(5)} == {(200, "Hello, Anonymous")}
    os.unlink(path)
    mark = k.mark()
    k.signal(signal.SIGHUP)
    k.wait_ready(2, since=mark)
    assert k.stop() == 0


def test_draining_generations_are_capped(kiln_factory):
    k = kiln_factory.make(plugins=("hello", "slow"),
                          server={"workers": 1, "graceful_timeout": "30s"})
    held = []
    for gen in range(2, 9):
        # The only serving worker takes a long request, then a reload leaves it draining.
        held.append(Background(lambda: k.request("/slow?ms=20000", timeout=25)))
        time.sleep(0.3)
        mark = k.mark()
        k.signal(signal.SIGHUP)
        k.wait_ready(gen, timeout=10, since=mark)
    for gen in (1, 2, 3):
        k.wait_log(r"more than 4 generations draining: killing generation %d \(1 workers\)"
                   % gen)
    # The current worker plus exactly four draining ones.
    assert wait_until(lambda: len(k.worker_pids()) == 5, 5), k.describe()
    assert k.get_text("/") == (200, "Hello, Anonymous")
    # The requests of the killed generations were cut; the others still run.
    for bg in held[:3]:
        with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
            bg.result(5)
    assert all(bg.thread.is_alive() for bg in held[3:]), k.describe()
    # A fast stop cuts them too, and exits 0.
    assert k.stop(signal.SIGINT) == 0, k.describe()
    for bg in held[3:]:
        with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
            bg.result(5)


# -- supervision -----------------------------------------------------------------------


def test_crash_is_replaced_and_crash_loop_backs_off(kiln_factory):
    k = kiln_factory.make(plugins=("hello", "crash"))
    pids = k.wait_workers(2)
    mark = k.mark()
    crash_request(k)
    m = k.wait_log(r"worker (\d+) killed by signal 11 \(Segmentation fault\)(, core dumped)? "
                   r"while running plugin crash route GET /crash", since=mark)
    victim = int(m.group(1))
    assert victim in pids
    # The other worker serves meanwhile.
    assert [k.get_text("/C%d" % i) for i in range(20)] == \
        [(200, "Hello, C%d" % i) for i in range(20)]
    delays = [float(k.wait_log(r"replacing it in ([\d.]+) s", since=mark).group(1))]
    dead = [victim]
    k.wait_workers(2, exclude=dead)
    for _ in range(3):
        mark = k.mark()
        crash_request(k)
        m = k.wait_log(r"worker (\d+) killed by signal 11 .* route GET /crash", since=mark)
        dead.append(int(m.group(1)))
        delays.append(float(k.wait_log(r"replacing it in ([\d.]+) s", since=mark).group(1)))
        k.wait_workers(2, timeout=5, exclude=dead)
    assert delays == [0.1, 0.2, 0.4, 0.8], k.describe()
    assert k.get_text("/") == (200, "Hello, Anonymous")
    assert k.stop() == 0


def test_stuck_worker_is_killed_by_heartbeat_timeout(kiln_factory):
    k = kiln_factory.make(plugins=("hello", "block"), server={"worker_timeout": "2s"})
    pids = k.wait_workers(2)
    mark = k.mark()
    t0 = time.monotonic()
    blocked = Background(lambda: k.request("/block", timeout=15))
    time.sleep(0.3)
    # The other worker serves while one is stuck.
    assert [k.get_text("/B%d" % i) for i in range(10)] == \
        [(200, "Hello, B%d" % i) for i in range(10)]
    m = k.wait_log(r"worker (\d+) stuck for (\d+)s in plugin block route GET /block; killed",
                   timeout=6, since=mark)
    assert time.monotonic() - t0 < 2 + 2, "killed too late"
    victim = int(m.group(1))
    assert victim in pids and int(m.group(2)) >= 2
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        blocked.result(10)
    new = k.wait_workers(2, exclude=(victim,))
    assert victim not in new
    assert k.get_text("/After") == (200, "Hello, After")
    assert k.stop() == 0


MAX_REQUESTS, JITTER = 5, 20
RECYCLES = 5        # all 5 limits drawn equal: a chance of 21**-4, about 5e-6


def test_max_requests_recycles_workers(kiln_factory):
    k = kiln_factory.make(plugins=("hello",),
                          server={"max_requests": MAX_REQUESTS,
                                  "max_requests_jitter": JITTER})
    first = k.wait_workers(2)
    recycle = re.compile(r"worker (\d+) served (\d+) requests \(max_requests (\d+)\); "
                         r"worker (\d+) starts to replace it")
    n = 0
    deadline = time.monotonic() + 20
    while len(recycle.findall(k.log())) < RECYCLES and time.monotonic() < deadline:
        for _ in range(10):
            assert k.get_text("/M%d" % n) == (200, "Hello, M%d" % n)
            n += 1
        time.sleep(0.1)             # the master looks twice a second
    found = recycle.findall(k.log())
    assert len(found) >= RECYCLES, "%d recycles after %d requests\n%s" % (
        len(found), n, k.describe())
    limits = [int(f[2]) for f in found]
    # Each worker draws its own limit in [max_requests, max_requests + jitter]
    # and is recycled only once it has served that many.
    for old, served, limit, new in found:
        assert MAX_REQUESTS <= int(limit) <= MAX_REQUESTS + JITTER, limits
        assert int(served) >= int(limit), (old, served, limit)
        assert old != new
    assert len({f[0] for f in found}) == len(found), "a worker recycled twice: %r" % found
    assert len(set(limits)) > 1, "no jitter: every limit is %d" % limits[0]
    k.wait_log(r"worker \d+ took over from worker \d+, which drains")
    assert wait_until(lambda: set(k.worker_pids()) - set(first), 5), k.describe()
    assert k.get_text("/") == (200, "Hello, Anonymous")
    assert k.stop() == 0


# -- privileges ------------------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")
def test_workers_run_as_configured_user(kiln_factory):
    nobody = pwd.getpwnam("nobody")
    plugins = tempfile.mkdtemp(prefix="kiln-user-")
    try:
        os.chmod(plugins, 0o755)
        shutil.copyfile(plugin_path("hello"), os.path.join(plugins, "hello.so"))
        os.chmod(os.path.join(plugins, "hello.so"), 0o644)
        k = kiln_factory.make(plugins=(), server={"user": "nobody", "plugin_dir": plugins})
        for pid in k.wait_workers(2):
            uids, gids = uid_gid(pid)
            assert uids == [nobody.pw_uid] * 4, uids
            assert gids == [nobody.pw_gid] * 4, gids
        assert uid_gid(k.pid)[0][0] == 0
        assert k.get_text("/Nobody") == (200, "Hello, Nobody")
        # A reload's plugin check runs as the user too, and passes.
        mark = k.mark()
        k.signal(signal.SIGHUP)
        k.wait_ready(2, since=mark)
        assert k.stop() == 0
    finally:
        shutil.rmtree(plugins, ignore_errors=True)


def test_unknown_user_is_a_config_error(kiln_factory):
    k = kiln_factory.make(start=False, plugins=("hello",), server={"user": "no-such-user-kt"})
    rc, out = k.check()
    line = k.config_text().split("\n").index("user = no-such-user-kt") + 1
    assert rc == 1
    assert '%s:%d: user: unknown user "no-such-user-kt"' % (k.conf, line) in out, out


# -- systemd ---------------------------------------------------------------------------


def recv_until(sock, wanted, timeout=8):
    """Reads notification datagrams until one holds `wanted`; all read, in order."""
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            break
        got.append(msg)
        if wanted in msg.split("\n"):
            return got
    pytest.fail("no %r notification within %ds; got %r" % (wanted, timeout, got))


@pytest.mark.parametrize("kind", ["path", "abstract"])
def test_systemd_notify(kiln_factory, kind):
    k = kiln_factory.make(start=False, plugins=("hello",))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        if kind == "path":
            name = os.path.join(k.dir, "notify.sock")
            sock.bind(name)
        else:
            name = "@kiln-test-%d-%d" % (os.getpid(), time.monotonic_ns())
            sock.bind("\0" + name[1:])
        k.start(env={"NOTIFY_SOCKET": name})
        got = recv_until(sock, "READY=1")
        assert "MAINPID=%d" % k.pid in got[-1].split("\n")
        mark = k.mark()
        k.signal(signal.SIGHUP)
        got = recv_until(sock, "READY=1")
        assert any("RELOADING=1" in g.split("\n") for g in got), got
        k.wait_ready(2, since=mark)
        # A failed reload also ends with READY=1.
        k.install_plugin("init_fails")
        mark = k.mark()
        k.signal(signal.SIGHUP)
        k.wait_log(r"reload failed: the plugin check exited with code \d+ \(its error is "
                   r"logged above\); keeping generation 2", since=mark)
        got = recv_until(sock, "READY=1")
        assert any("RELOADING=1" in g.split("\n") for g in got), got
        k.remove_plugin("init_fails")
        k.signal(signal.SIGTERM)
        recv_until(sock, "STOPPING=1")
        assert k.wait_exit(8) == 0
        k.stop()
    finally:
        sock.close()


# Execs the rest of its arguments with the given sockets at fds 3, 4, ... and
# LISTEN_PID/LISTEN_FDS set, as systemd's socket activation does.
ACTIVATE = """
import fcntl, os, sys
n = int(sys.argv[1])
high = [fcntl.fcntl(int(a), fcntl.F_DUPFD, 100) for a in sys.argv[2:2 + n]]
for a in sys.argv[2:2 + n]:
    os.close(int(a))
for i, fd in enumerate(high):
    os.dup2(fd, 3 + i)
    os.close(fd)
os.environ["LISTEN_PID"] = str(os.getpid())
os.environ["LISTEN_FDS"] = str(n)
os.execv(sys.argv[2 + n], sys.argv[2 + n:])
"""


def listening_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    return s


def test_systemd_socket_activation(kiln_factory):
    configured, extra = listening_socket(), listening_socket()
    try:
        port, extra_port = configured.getsockname()[1], extra.getsockname()[1]
        k = kiln_factory.make(start=False, plugins=("hello",),
                              server={"listen": "127.0.0.1:%d" % port})
        fds = (configured.fileno(), extra.fileno())
        k.start(wrapper=[sys.executable, "-c", ACTIVATE, "2", str(fds[0]), str(fds[1])],
                pass_fds=fds)
        assert k.port == port
        k.wait_log(r"listening on 127\.0\.0\.1:%d \(from systemd\)" % port)
        k.wait_log(r"listening on 127\.0\.0\.1:%d \(from systemd; not in the config, served "
                   r"too\)" % extra_port)
        configured.close()
        extra.close()
        assert http_request(port, "/A")[2] == b"Hello, A"
        assert http_request(extra_port, "/B")[2] == b"Hello, B"
        # A reload keeps serving both.
        mark = k.mark()
        k.signal(signal.SIGHUP)
        k.wait_ready(2, since=mark)
        assert http_request(extra_port, "/C")[2] == b"Hello, C"
        assert http_request(port, "/D")[2] == b"Hello, D"
        assert k.stop() == 0
    finally:
        configured.close()
        extra.close()


# -- watch_plugins ---------------------------------------------------------------------


def test_watch_plugins_reloads_on_change(kiln_factory):
    k = kiln_factory.make(plugins=("hello",), server={"watch_plugins": True})
    k.wait_log(r"watching plugin_dir")
    assert k.get_text("/") == (200, "Hello, Anonymous")
    mark = k.mark()
    k.install_plugin("hello2", as_name="hello")         # temp name, then rename over
    k.wait_log(r"plugin_dir .* changed \(hello\.so\), reloading", since=mark)
    k.wait_ready(2, since=mark)
    assert wait_until(lambda: k.get_text("/W") == (200, "Hi, W"), 5), k.describe()
    # A broken plugin dropped in: the checked reload fails, the code in place serves on.
    workers = k.wait_workers(2)
    mark = k.mark()
    path = write_garbage_plugin(k, "broken")
    k.wait_log(r"changed \(broken\.so\), reloading", since=mark)
    k.wait_log(r"reload failed", since=mark)
    k.wait_log(re.escape(path), since=mark)
    assert k.worker_pids() == workers
    assert {k.get_text("/W") for _ in range(5)} == {(200, "Hi, W")}
    # Taking it away reloads again.
    mark = k.mark()
    os.unlink(path)
    k.wait_ready(3, since=mark)
    assert k.stop() == 0


# -- binary upgrade --------------------------------------------------------------------


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


# -- reloads under load ----------------------------------------------------------------


def test_ten_reloads_under_load_with_plugin_swap(kiln_factory):
    k = kiln_factory.make(plugins=("hello",))
    load = Load(k.port)
    swap_hup = swap_ready = None
    try:
        time.sleep(0.3)
        for i in range(10):
            if i == 4:
                k.install_plugin("hello2", as_name="hello")
                swap_hup = time.monotonic()
            mark = k.mark()
            k.signal(signal.SIGHUP)
            k.wait_ready(i + 2, timeout=10, since=mark)
            if i == 4:
                swap_ready = time.monotonic()
            time.sleep(0.2)
    finally:
        load.stop()
    load.check(k, minimum=200)
    before = {body for t, _, body in load.responses if t < swap_hup}
    assert before == {b"Hello, Anonymous"}, before
    after = [body for t, kind, body in load.responses
             if t > swap_ready + 0.2 and kind == "new connection"]
    assert after and set(after) == {b"Hi, Anonymous"}, set(after)
    assert k.stop() == 0


def test_graceful_stop_with_slow_request_and_websockets(kiln_factory):
    """SIGTERM: an HTTP request in flight completes, every open WebSocket gets
    1001, and the master exits 0 once both are done."""
    import asyncio
    import websockets

    k = kiln_factory.make(plugins=("hello", "echo", "slow"),
                          server={"graceful_timeout": "10s"})
    slow = Background(lambda: http_request(k.port, "/slow?ms=1500", timeout=10))
    time.sleep(0.3)

    async def go():
        conns = []
        for _ in range(10):
            ws = await websockets.connect("ws://127.0.0.1:%d/echo" % k.port)
            await ws.send("x")
            assert await asyncio.wait_for(ws.recv(), 5) == "Hello, x"
            conns.append(ws)
        k.signal(signal.SIGTERM)
        codes = []
        for ws in conns:
            try:
                await asyncio.wait_for(ws.recv(), 8)
            except websockets.ConnectionClosed as e:
                codes.append(e.code)
        return codes

    t0 = time.monotonic()
    assert asyncio.run(go()) == [1001] * 10
    status, _, body = slow.result(10)
    assert (status, body) == (200, b"slow done")
    assert k.wait_exit(8) == 0, k.describe()
    assert time.monotonic() - t0 < 8
