"""Tests of reloads (SIGHUP, watch_plugins): the checked reload, what it keeps serving while it runs and when it fails, listen changes, and how old generations drain."""

import http.client
import os
import re
import signal
import socket
import time

import pytest

from conftest import Background, RawConn, wait_until
from procs import Load, slow_request, wait_gone


# -- helpers -------------------------------------------------------------------------


def write_garbage_plugin(k, name):
    """Drops a file that is no shared object at all into the plugin dir (dot name, then rename)."""
    tmp = os.path.join(k.plugin_dir, "." + name + ".so.tmp")
    with open(tmp, "wb") as f:
        f.write(b"this is not an ELF file\n" * 10)
    dest = os.path.join(k.plugin_dir, name + ".so")
    os.rename(tmp, dest)
    return dest


def answers(k, path, n):
    """The distinct (status, body) pairs of n requests to path."""
    return {k.get_text(path) for _ in range(n)}


def loopback_alias():
    """Whether 127.0.0.2 can be bound (the whole of 127/8 is loopback on Linux)."""
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.2", 0))
        return True
    except OSError:
        return False


def drain_signal_sent(k, sig, mark):
    """Sends `sig`; a function telling whether the master has begun the drain."""
    k.signal(sig)
    rx = re.compile(r"received SIGTERM, stopping gracefully" if sig == signal.SIGTERM
                    else r"generation 2 ready, generation 1 draining")
    return lambda: rx.search(k.log(), mark) is not None


def fin_time(c, timeout):
    """Waits for the server's FIN on RawConn `c`: when it came (fails on a
    reset, on data, or when still open after `timeout`)."""
    c.assert_fin(timeout)
    return time.monotonic()


# -- tests ---------------------------------------------------------------------------


def test_reload_swaps_plugin(kiln_factory):
    k = kiln_factory.make(plugins=("hello",))
    assert k.get_text("/") == (200, "Hello, Anonymous")
    old = k.wait_workers(2)
    k.install_plugin("hello2", as_name="hello")
    mark = k.mark()
    k.signal(signal.SIGHUP)
    k.wait_ready(2, timeout=10, since=mark)
    assert wait_gone(old, 8), "old workers %s did not exit after the reload\n%s" % (old, k.describe())
    new = k.wait_workers(2)
    assert not set(new) & set(old)
    assert answers(k, "/", 10) == {(200, "Hi, Anonymous")}
    assert k.get_text("/Bob") == (200, "Hi, Bob")
    assert k.running()
    assert k.stop() == 0


def test_reload_keeps_inflight_request(kiln_factory):
    k = kiln_factory.make(plugins=("hello", "slow"))
    bg = slow_request(k, 1500)
    time.sleep(0.3)
    mark = k.mark()
    k.signal(signal.SIGHUP)
    k.wait_ready(2, timeout=10, since=mark)
    assert k.get_text("/") == (200, "Hello, Anonymous")
    status, _, body = bg.result(10)
    assert (status, body) == (200, b"slow done")
    assert k.stop() == 0


def test_reload_broken_plugin_keeps_old_generation(kiln_factory):
    k = kiln_factory.make(plugins=("hello",))
    old = k.wait_workers(2)
    path = k.install_plugin("abi_major")
    mark = k.mark()
    k.signal(signal.SIGHUP)
    k.wait_log(r"reload failed", timeout=10, since=mark)
    k.wait_log(re.escape(path), timeout=2, since=mark)
    assert wait_until(lambda: k.worker_pids() == old, 5), \
        "workers changed after a failed reload: %s -> %s\n%s" % (old, k.worker_pids(), k.describe())
    assert answers(k, "/", 10) == {(200, "Hello, Anonymous")}
    assert answers(k, "/Zed", 3) == {(200, "Hello, Zed")}
    assert not re.search(r"generation 2 ready", k.log()[mark:])
    assert k.worker_pids() == old
    # Once the bad plugin is gone a reload works again.
    os.unlink(path)
    mark = k.mark()
    k.signal(signal.SIGHUP)
    k.wait_log(r"generation \d+ ready", timeout=10, since=mark)
    assert wait_gone(old, 8)
    assert k.get_text("/") == (200, "Hello, Anonymous")
    assert k.stop() == 0


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


def test_reload_bad_config_keeps_serving(kiln_factory):
    k = kiln_factory.make(plugins=("hello",))
    old = k.wait_workers(2)
    good = k.config_text()
    lines = good.rstrip("\n").split("\n")
    lines.append("[server")
    k.write_config("\n".join(lines) + "\n")
    bad_line = len(lines)
    mark = k.mark()
    k.signal(signal.SIGHUP)
    k.wait_log(r"reload failed", timeout=10, since=mark)
    k.wait_log(re.escape("%s:%d" % (k.conf, bad_line)), timeout=2, since=mark)
    assert answers(k, "/", 10) == {(200, "Hello, Anonymous")}
    assert k.worker_pids() == old
    k.write_config(good)
    mark = k.mark()
    k.signal(signal.SIGHUP)
    k.wait_log(r"generation \d+ ready", timeout=10, since=mark)
    assert k.get_text("/Again") == (200, "Hello, Again")
    assert k.stop() == 0


@pytest.mark.skipif(not loopback_alias(), reason="127.0.0.2 cannot be bound")
def test_reload_applies_listen_changes(kiln_factory):
    k = kiln_factory.make(plugins=("hello",))
    old = k.wait_workers(2)
    port_a = k.port
    k.server["listen"] = "127.0.0.2:0"
    k.write_config()
    mark = k.mark()
    k.signal(signal.SIGHUP)
    k.wait_ready(2, since=mark)
    port_b = int(k.wait_log(r"listening on 127\.0\.0\.2:(\d+)", since=mark).group(1))
    k.wait_log(r"no longer listening on 127\.0\.0\.1:%d\n" % port_a, since=mark)
    c = http.client.HTTPConnection("127.0.0.2", port_b, timeout=5)
    try:
        c.request("GET", "/B")
        r = c.getresponse()
        assert (r.status, r.read()) == (200, b"Hello, B")
    finally:
        c.close()
    # Once the old generation is gone nothing holds the old socket.
    assert wait_gone(old, 8), k.describe()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port_a), timeout=2).close()
    assert k.stop() == 0


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


def test_drain_past_graceful_timeout_is_killed(kiln_factory):
    k = kiln_factory.make(plugins=("hello", "slow"),
                          server={"workers": 1, "graceful_timeout": "1s"})
    old, = k.wait_workers(1)
    t0 = time.monotonic()
    bg = slow_request(k, 4000)
    time.sleep(0.3)
    mark = k.mark()
    k.signal(signal.SIGHUP)
    k.wait_ready(2, since=mark)
    drain = time.monotonic()
    m = k.wait_log(r"worker (\d+) of generation 1 did not stop within graceful_timeout; "
                   r"killed", timeout=3, since=mark)
    killed = time.monotonic()
    assert int(m.group(1)) == old
    assert killed - drain >= 0.9, "killed %.2fs into a 1s graceful_timeout" % (killed - drain)
    # The slow request is cut, well before its 4 s.
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        bg.result(3)
    assert time.monotonic() - t0 < 3.9
    assert wait_gone([old], 2)
    assert k.running()
    assert answers(k, "/", 5) == {(200, "Hello, Anonymous")}
    assert k.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
def test_drain_of_idle_keepalive_connections(kiln_factory, sig):
    # A long keep-alive timeout: what closes the connections is the drain.
    k = kiln_factory.make(plugins=("hello",),
                          server={"workers": 1, "keepalive_timeout": "30s",
                                  "graceful_timeout": "10s"})
    busy, idle = RawConn(k.port), RawConn(k.port)
    try:
        for c in (busy, idle):
            c.send(b"GET /One HTTP/1.1\r\nHost: t\r\n\r\n")
            r = c.read_response()
            assert (r.status, r.body, r.header("connection")) == (200, b"Hello, One", None), r
        idle_since = time.monotonic()
        idle_eof = Background(lambda: fin_time(idle, 8))
        mark = k.mark()
        draining = drain_signal_sent(k, sig, mark)
        # (a) Requests keep coming on one connection: each is answered, and the
        # first sent once the drain has begun says "Connection: close".
        seen = None
        deadline = time.monotonic() + 10
        for i in range(1000):
            if seen is None and draining():
                seen = time.monotonic()
            sent = time.monotonic()
            busy.send(b"GET /N%d HTTP/1.1\r\nHost: t\r\n\r\n" % i)
            r = busy.read_response()
            assert (r.status, r.body) == (200, b"Hello, N%d" % i), r
            if (r.header("connection") or "").lower() == "close":
                break
            assert r.header("connection") is None, r
            # The master says it drains just before it tells the worker.
            assert seen is None or sent - seen < 0.3, \
                "a request %.2fs into the drain was kept alive" % (sent - seen)
            assert time.monotonic() < deadline, "no drain within 10s\n" + k.describe()
            time.sleep(0.1)
        assert draining(), k.describe()
        busy.assert_fin(3)
        # (b) The idle one is closed with a FIN after the drain's idle window
        # (1 s from its last request), not at once and not at its 30 s timeout.
        closed = idle_eof.result(10)
        if seen is None:
            seen = time.monotonic()
        assert closed - idle_since >= 0.9, "closed %.2fs after its request" % (closed - idle_since)
        assert closed <= max(idle_since + 1.0, seen) + 0.6, \
            "closed %.2fs after its request, %.2fs after the drain was seen" % (
                closed - idle_since, closed - seen)
        # A request sent into the closed connection is not answered.
        try:
            idle.sock.sendall(b"GET /Late HTTP/1.1\r\nHost: t\r\n\r\n")
            idle.sock.settimeout(3)
            late = idle.sock.recv(4096)
        except (BrokenPipeError, ConnectionResetError):
            late = b""
        assert late == b"", "a request after the FIN got %r" % late[:200]
    finally:
        busy.close()
        idle.close()
    if sig == signal.SIGTERM:
        assert k.wait_exit(5) == 0, k.describe()
    else:
        assert answers(k, "/", 3) == {(200, "Hello, Anonymous")}
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
