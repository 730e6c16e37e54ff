"""Idle keep-alive connections: what one costs the worker, and the request state that connections take in turn from the worker's cache (nothing of one request seen by the next)."""

import socket
import time

import pytest

from conftest import KilnFactory, RawConn, sanitized_build

IDLE = 1000                 # idle connections for the memory figure
MAX_BYTES_PER_IDLE = 1000   # nginx holds about 500 here; kiln with the request
                            # state kept per connection held about 2,000


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    f = KilnFactory(tmp_path_factory.mktemp("keepalive"))
    # One worker: every connection takes its request state from one cache.
    k = f.make(plugins=("hello", "inspect"), server={"workers": 1, "keepalive_timeout": "30s"})
    k.wait_workers(1)
    yield k
    f.close()


def get(path, extra=""):
    return ("GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n" % (path, extra)).encode()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def test_state_not_carried_across_connections(srv):
    """A request state given back by one connection and taken by another
    carries nothing over: headers, Expect, body, status."""
    with RawConn(srv.port) as a:
        a.send(b"POST /inspect/body HTTP/1.1\r\nHost: t\r\nX-Test: from-a\r\n"
               b"Expect: 100-continue\r\nContent-Length: 6\r\n\r\n")
        assert a.read_response().status == 100
        a.send(b"secret")
        r = a.read_response()
        assert (r.status, r.body) == (200, b"secret")
        with RawConn(srv.port) as b:
            # No Expect: no 100 Continue, the answer at once.
            b.send(b"POST /inspect/body HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok")
            r = b.read_response()
            assert (r.status, r.body) == (200, b"ok")
            b.send(get("/inspect/headers"))
            r = b.read_response()
            assert r.status == 200
            assert r.body == b"Host: t\n", r.body
            b.send(get("/inspect/header"))
            assert b.read_response().body == b"no x-test"
        # a was idle meanwhile: served again, from its own bytes only.
        a.send(get("/inspect/headers", "X-Other: 1\r\n"))
        r = a.read_response()
        assert r.body == b"Host: t\nX-Other: 1\n", r.body
        a.send(get("/Ann"))
        assert a.read_response().body == b"Hello, Ann"
        a.assert_open(0.2)


def test_idle_connection_then_error_then_reuse(srv):
    """A connection closed on an error gives back a state still holding a
    half-parsed request; the next connection parses from a clean start."""
    with RawConn(srv.port) as bad:
        bad.send(b"GET /Ann HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n")
        assert bad.read_response().status == 400
    with RawConn(srv.port) as bad:
        bad.send(b"GET /half")          # a request line cut short, then gone
    time.sleep(0.1)
    for _ in range(3):
        with RawConn(srv.port) as c:
            c.send(get("/Bob"))
            r = c.read_response()
            assert (r.status, r.body) == (200, b"Hello, Bob")


def test_idle_connection_memory(srv):
    """The worker's resident memory grows by less than MAX_BYTES_PER_IDLE per
    idle keep-alive connection (one request answered, then open), and every
    one of them is served again."""
    worker = srv.worker_pids()[0]

    def open_idle(n):
        conns = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(get("/"))
            conns.append(s)
        for s in conns:
            data = b""
            while b"Hello, Anonymous" not in data:
                chunk = s.recv(4096)
                assert chunk, "connection closed by kiln"
                data += chunk
        return conns

    for s in open_idle(20):          # the worker's caches warmed up
        s.close()
    time.sleep(0.5)
    before = rss_kb(worker)
    conns = open_idle(IDLE)
    time.sleep(0.5)
    after = rss_kb(worker)
    try:
        per_conn = (after - before) * 1024 / IDLE
        # AddressSanitizer's quarantine keeps what is freed: there the
        # figure says nothing, and the test checks that all are served.
        if not sanitized_build():
            assert per_conn < MAX_BYTES_PER_IDLE, "%.0f bytes per idle connection" % per_conn
        for s in conns:                      # each still served
            s.sendall(get("/Ann"))
        for s in conns:
            data = b""
            while b"Hello, Ann" not in data:
                chunk = s.recv(4096)
                assert chunk, "connection closed by kiln"
                data += chunk
    finally:
        for s in conns:
            s.close()
