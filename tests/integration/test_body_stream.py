"""Bodies read as they arrive (tests/plugins/bodyread.c: kiln_route_stream_body, kiln_body_stream, kiln_body_pause/resume): 200 MiB with Content-Length and chunked (curl, aiohttp) while the worker's RSS stays flat, back-pressure (a paused reader makes the client's send block, the worker's memory does not grow, then it resumes and completes), 100-continue sent when the reader attaches, the body limit (413 before the handler, or as chunks pass it, with the reader's end callback), a client that leaves mid-body (end callback, no reader left), a pause over pending_timeout (504), and answers before the body's end (the rest dropped and the connection kept when small, closed when large)."""

import asyncio
import json
import os
import socket
import subprocess
import time
import zlib

import aiohttp

from conftest import RawConn, wait_until

MIB = 1024 * 1024


def make(kiln_factory, **server):
    conf = {"workers": 1}
    conf.update(server)
    return kiln_factory.make(plugins=("bodyread",), server=conf)


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def stats(k):
    st, text = k.get_text("/body/stats")
    assert st == 200
    parts = text.split()
    return {"live": int(parts[1]), "ended": int(parts[3]), "last": int(parts[5])}


def zeros_crc(n):
    crc, block = 0, bytes(MIB)
    while n > 0:
        take = min(n, MIB)
        crc = zlib.crc32(block[:take], crc)
        n -= take
    return crc


class Sampler:
    """Samples a process's VmRSS every 0.05 s while something runs."""

    def __init__(self, pid):
        self.pid, self.peak = pid, rss(pid)

    def run(self, proc):
        while proc.poll() is None:
            self.peak = max(self.peak, rss(self.pid))
            time.sleep(0.05)


def test_200_mib_with_curl_rss_stays_flat(kiln_factory, tmp_path):
    k = make(kiln_factory)
    pid = k.worker_pids()[0]
    big = tmp_path / "zeros"
    with open(big, "wb") as f:
        f.truncate(200 * MIB)               # sparse: read as zeros
    want = {"len": 200 * MIB, "crc": zeros_crc(200 * MIB)}
    before = rss(pid)
    for args in (["-T", str(big)], ["-T", "-", "-H", "Transfer-Encoding: chunked"]):
        cmd = ["curl", "-sS", "--max-time", "120", "-X", "POST", *args,
               "http://127.0.0.1:%d/body" % k.port]
        stdin = open(big, "rb") if "-" in args else subprocess.DEVNULL
        p = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE)
        s = Sampler(pid)
        s.run(p)
        out = p.communicate(timeout=130)[0]
        j = json.loads(out)
        assert {"len": j["len"], "crc": j["crc"]} == want, j
        assert j["max_piece"] <= 65536 and j["pieces"] > 200 * MIB // 65536
        assert s.peak - before < 24 * MIB, (before, s.peak)
    assert stats(k)["live"] == 0


def test_aiohttp_chunked_generator(kiln_factory):
    k = make(kiln_factory)
    pieces = [os.urandom(n) for n in (1, 100, 65536, 3 * MIB, 7)]

    async def gen():
        for p in pieces:
            yield p
            await asyncio.sleep(0.01)

    async def go():
        async with aiohttp.ClientSession() as s:
            async with s.post("http://127.0.0.1:%d/body" % k.port, data=gen()) as r:
                assert r.status == 200
                return await r.json()

    j = asyncio.run(go())
    data = b"".join(pieces)
    assert (j["len"], j["crc"]) == (len(data), zlib.crc32(data))


def send_until_blocked(sock, data, quiet=1.5):
    """Sends data until the socket took nothing for `quiet` seconds: bytes sent."""
    sock.setblocking(False)
    sent, last = 0, time.monotonic()
    while sent < len(data) and time.monotonic() - last < quiet:
        try:
            n = sock.send(data[sent:sent + 65536])
            sent += n
            last = time.monotonic()
        except BlockingIOError:
            time.sleep(0.02)
    sock.setblocking(True)
    return sent


def test_back_pressure_pause_and_resume(kiln_factory):
    k = make(kiln_factory)
    pid = k.worker_pids()[0]
    size = 64 * MIB
    data = os.urandom(MIB) * 64
    with RawConn(k.port, timeout=20) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        c.send(b"POST /body/hold HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % size)
        before = rss(pid)
        sent = send_until_blocked(c.sock, data)
        # paused after the first piece: the kernel's buffers hold what was sent
        assert sent < 16 * MIB, sent
        assert rss(pid) - before < 4 * MIB
        assert stats(k)["live"] == 1
        assert k.get_text("/body/release") == (200, "released 1\n")
        c.sock.sendall(data[sent:])
        r = c.read_response()
        j = json.loads(r.body)
        assert (r.status, j["len"], j["crc"]) == (200, size, zlib.crc32(data))
    assert stats(k) == {"live": 0, "ended": 0, "last": -1}


def test_paused_on_the_last_piece(kiln_factory):
    k = make(kiln_factory)
    for framing, data in ((b"Content-Length: 3\r\n\r\n", b"abc"),
                          (b"Transfer-Encoding: chunked\r\n\r\n", b"3\r\nabc\r\n0\r\n\r\n")):
        with RawConn(k.port) as c:
            # the whole body, and a request pipelined behind it, in one write
            c.send(b"POST /body/hold HTTP/1.1\r\nHost: t\r\n" + framing + data +
                   b"GET /body/stats HTTP/1.1\r\nHost: t\r\n\r\n")
            assert wait_until(lambda: stats(k)["live"] == 1, 3)
            c.assert_open(0.3)
            assert k.get_text("/body/release") == (200, "released 1\n")
            r1, r2 = c.read_responses(2)
            assert (r1.status, json.loads(r1.body)["len"], r2.status) == (200, 3, 200)


def test_expect_100_continue_when_the_reader_attaches(kiln_factory):
    k = make(kiln_factory)
    with RawConn(k.port) as c:
        c.send(b"POST /body HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
               b"Content-Length: 5\r\n\r\n")
        assert c.read_response().status == 100
        c.send(b"hello")
        r = c.read_response()
        assert json.loads(r.body)["crc"] == zlib.crc32(b"hello")
        # a handler that answers without a reader: no 100, and the connection closes
        c.send(b"POST /body/early HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
               b"Content-Length: 5\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.header("connection")) == (403, "close")
        c.assert_fin()


def test_limit_413(kiln_factory):
    k = make(kiln_factory)
    # by Content-Length: before the handler runs
    with RawConn(k.port) as c:
        c.send(b"POST /body/small HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n")
        assert c.read_response().status == 413
    assert stats(k) == {"live": 0, "ended": 0, "last": -1}
    # chunked: as the chunks pass it, the reader's end says why
    with RawConn(k.port) as c:
        c.send(b"POST /body/small HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3e8\r\n" + b"a" * 1000 + b"\r\n")
        time.sleep(0.2)
        c.send(b"1\r\nb\r\n0\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.header("connection")) == (413, "close")
    assert stats(k) == {"live": 0, "ended": 1, "last": 4}
    # within it
    with RawConn(k.port) as c:
        c.send(b"POST /body/small HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n" +
               b"a" * 1000)
        assert json.loads(c.read_response().body)["len"] == 1000


def test_client_leaving_mid_body_ends_the_reader(kiln_factory):
    k = make(kiln_factory)
    for path in ("/body", "/body/hold"):
        with RawConn(k.port) as c:
            c.send(b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n"
                   % path.encode() + b"x" * 5000)
            assert wait_until(lambda: stats(k)["live"] == 1, 3)
        if path == "/body/hold":
            # paused, kiln reads nothing: it sees the close once resumed
            time.sleep(0.3)
            assert stats(k)["live"] == 1
            assert k.get_text("/body/release") == (200, "released 1\n")
        assert wait_until(lambda: stats(k)["live"] == 0, 5)
    assert stats(k) == {"live": 0, "ended": 2, "last": 1}


def test_a_pause_over_pending_timeout_is_504(kiln_factory):
    k = make(kiln_factory, pending_timeout="1s")
    with RawConn(k.port) as c:
        c.send(b"POST /body/hold HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        r = c.read_response(timeout=5)
        assert r.status == 504
    assert stats(k) == {"live": 0, "ended": 1, "last": 2}


def test_answers_before_the_body_ended(kiln_factory):
    k = make(kiln_factory)
    with RawConn(k.port) as c:
        # small: the rest is read and dropped, the next request is served
        c.send(b"POST /body/early HTTP/1.1\r\nHost: t\r\nContent-Length: 3000\r\n\r\n" +
               b"y" * 3000 + b"GET /body/stats HTTP/1.1\r\nHost: t\r\n\r\n")
        r1, r2 = c.read_responses(2)
        assert (r1.status, r1.header("connection"), r2.status) == (403, None, 200)
        # large: answered, then closed
        c.send(b"POST /body/early HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n"
               + b"y" * 1000)
        r = c.read_response()
        assert (r.status, r.header("connection")) == (403, "close")
    with RawConn(k.port) as c:
        # kiln_resume() while the body arrives (chunked): answered, closed
        c.send(b"POST /body/refuse HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n")
        r = c.read_response()
        assert (r.status, r.body, r.header("connection")) == \
            (409, b"refused after 5 bytes\n", "close")
        c.assert_fin()
    assert stats(k) == {"live": 0, "ended": 0, "last": -1}
