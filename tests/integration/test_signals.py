"""Tests of stopping and of the signals that are not reloads: graceful stop (SIGTERM), fast stop (SIGINT), log reopening (SIGUSR1)."""

import http.client
import os
import signal
import socket
import time

import pytest

from conftest import Background, RawConn, http_request, server_read_all
from procs import slow_request, wait_gone


# -- helpers -------------------------------------------------------------------------


def not_served(port):
    """True when a new request is refused or dropped without an answer."""
    try:
        st, _, body = http_request(port, "/", timeout=6)
    except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError,
            http.client.RemoteDisconnected):
        return True
    pytest.fail("a request made after SIGTERM was served: %s %r" % (st, body))


# -- tests ---------------------------------------------------------------------------


def test_sigterm_drains_inflight(kiln_factory):
    k = kiln_factory.make(plugins=("hello", "slow"))
    workers = k.wait_workers(2)
    bg = slow_request(k, 1500)
    time.sleep(0.3)
    t0 = time.monotonic()
    k.signal(signal.SIGTERM)
    time.sleep(0.2)
    late = Background(lambda: not_served(k.port))
    status, _, body = bg.result(10)
    assert (status, body) == (200, b"slow done")
    rc = k.wait_exit(6)
    assert rc is not None, "master did not exit after draining\n" + k.describe()
    assert rc == 0, k.describe()
    assert time.monotonic() - t0 < 6
    assert late.result(10) is True
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", k.port), timeout=2).close()
    assert wait_gone(workers, 3), "workers outlived the master"


def test_sigterm_idle_exits_quickly(kiln_factory):
    k = kiln_factory.make(plugins=("hello",))
    with RawConn(k.port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().status == 200
        t0 = time.monotonic()
        k.signal(signal.SIGTERM)
        # An idle keep-alive connection is closed at once, not kept to its timeout.
        c.assert_fin(3)
    assert k.wait_exit(3) == 0, k.describe()
    assert time.monotonic() - t0 < 3


def test_sigint_fast_exit(kiln_factory):
    k = kiln_factory.make(plugins=("hello",), server={"body_timeout": "30s"})
    workers = k.wait_workers(2)
    with RawConn(k.port) as c:
        # A request half sent: a graceful stop would wait for it, a fast one does not.
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        server_read_all(k.port, c.sock)
        t0 = time.monotonic()
        k.signal(signal.SIGINT)
        rc = k.wait_exit(3)
        assert rc is not None, "master did not exit within 3s of SIGINT\n" + k.describe()
        assert rc == 0, k.describe()
        assert time.monotonic() - t0 < 3
        # Dropped, but cleanly: the worker had read all that came, so its
        # socket closes with a FIN.
        c.assert_fin(2)
    assert wait_gone(workers, 3), "workers outlived the master"


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
