"""Tests of supervision: crashed and killed workers replaced with back-off, stuck workers killed, max_requests recycling, and SIGTTIN/SIGTTOU."""

import http.client
import os
import re
import signal
import time

import pytest

from conftest import Background, RawConn, wait_until


# -- helpers -------------------------------------------------------------------------


def crash_request(k):
    """GET /crash: the worker dies with the connection, so no answer comes."""
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
        k.request("/crash", timeout=5)


MAX_REQUESTS, JITTER = 5, 20


RECYCLES = 5        # all 5 limits drawn equal: a chance of 21**-4, about 5e-6


# -- tests ---------------------------------------------------------------------------


def test_killed_worker_is_replaced(kiln_factory):
    k = kiln_factory.make(plugins=("hello",))
    pids = k.wait_workers(2)
    victim = pids[0]
    mark = k.mark()
    os.kill(victim, signal.SIGKILL)
    k.wait_log(r"worker %d killed by signal 9" % victim, timeout=5, since=mark)
    new = k.wait_workers(2, timeout=5, exclude=(victim,))
    assert pids[1] in new
    assert victim not in new
    results = [k.get_text("/W%d" % i) for i in range(50)]
    assert results == [(200, "Hello, W%d" % i) for i in range(50)]
    assert k.running()
    assert k.stop() == 0


def test_crash_is_replaced_and_crash_loop_backs_off(kiln_factory):
    # Installed under another file name: the log names the plugin by its
    # descriptor ("crash"), the one name it has everywhere.
    k = kiln_factory.make(start=False, plugins=("hello",))
    k.install_plugin("crash", as_name="segv")
    k.start()
    pids = k.wait_workers(2)
    mark = k.mark()
    crash_request(k)
    m = k.wait_log(r"worker (\d+) killed by signal 11 \(Segmentation fault\)(, core dumped)? "
                   r"while running plugin crash route GET /crash", since=mark)
    assert "plugin segv" not in k.log(), k.describe()
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


def test_a_crash_while_draining_is_logged(kiln_factory):
    # A request reaches the old generation's worker after a reload began and
    # crashes it: the master says so, though the worker was on its way out.
    k = kiln_factory.make(plugins=("hello", "crash"), server={"workers": 1})
    old, = k.wait_workers(1)
    mark = k.mark()
    c = RawConn(k.port)
    try:
        c.send("GET /crash HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.2)
        k.signal(signal.SIGHUP)
        k.wait_log(r"generation 2 ready", timeout=10, since=mark)
        c.send("\r\n")
        k.wait_log(r"worker %d of generation 1 killed by signal 11 \(Segmentation fault\)"
                   r".* while draining" % old, timeout=10, since=mark)
    finally:
        c.close()
    assert k.get_text("/Ann") == (200, "Hello, Ann")
