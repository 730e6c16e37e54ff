"""End-to-end tests of WebSocket routes: echo, fragments, limits, close codes, heartbeats, bad upgrades and load."""

import asyncio
import base64
import os
import re
import signal
import struct
import time
import zlib

import aiohttp
import pytest
import websockets

from conftest import RawConn, tcp_socket, wait_until
from wsraw import RawWS, frame

WS_PLUGINS = ("hello", "echo", "ws_flood", "ws_auth", "ws_sub", "ws_broadcast")


# -- helpers ------------------------------------------------------------------------


def make_server(kiln_factory, plugins=WS_PLUGINS, **server):
    """A started kiln with `plugins` (echo among them) and [server] overrides."""
    return kiln_factory.make(plugins=plugins, server=server or None)


def ws_url(k, path):
    return "ws://127.0.0.1:%d%s" % (k.port, path)


def connect(k, path, **kw):
    """websockets.connect with test defaults: no client pings, no size limit."""
    kw.setdefault("ping_interval", None)
    kw.setdefault("max_size", None)
    kw.setdefault("open_timeout", 5)
    kw.setdefault("close_timeout", 5)
    return websockets.connect(ws_url(k, path), **kw)


def run(coro, timeout=30):
    """Runs a coroutine with an overall time bound."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def worker_rss(k):
    """Sum of VmRSS (kB) of k's workers."""
    total = 0
    for pid in k.worker_pids():
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def assert_serving(k):
    """The server still answers plain HTTP and WebSocket echo."""
    st, body = k.get_text("/")
    assert (st, body) == (200, "Hello, Anonymous")

    async def echo():
        async with connect(k, "/echo") as ws:
            await ws.send("again")
            return await ws.recv()
    assert run(echo()) == "Hello, again"


@pytest.fixture
def server(kiln_factory):
    return make_server(kiln_factory)


# -- messages -----------------------------------------------------------------------


def test_text_binary_and_utf8_echo(server):
    async def go():
        async with connect(server, "/echo") as ws:
            out = []
            for m in ("world", "Jürgen ✓ 日本語 🎉", "", b"\x00\x01\xfe\xff", b""):
                await ws.send(m)
                out.append(await ws.recv())
            return out, ws.response_headers.get("Sec-WebSocket-Extensions")

    out, ext = run(go())
    assert out == ["Hello, world", "Hello, Jürgen ✓ 日本語 🎉", "Hello, ",
                   b"\x00\x01\xfe\xff", b""]
    assert ext is None          # /echo does not negotiate permessage-deflate


def test_aiohttp_client(server):
    async def go():
        async with aiohttp.ClientSession() as s:
            async with s.ws_connect(ws_url(server, "/echo"), autoping=True) as ws:
                await ws.send_str("aiohttp")
                t = await ws.receive_str(timeout=5)
                await ws.send_bytes(b"\x01\x02")
                b = await ws.receive_bytes(timeout=5)
                await ws.close()
                return t, b, ws.close_code

    assert run(go()) == ("Hello, aiohttp", b"\x01\x02", 1000)


def test_one_mib_binary(server):
    data = os.urandom(1 << 20)

    async def go():
        async with connect(server, "/echo") as ws:
            await ws.send(data)
            return await ws.recv()

    assert run(go()) == data


def test_text_answers_large_and_small_in_turn(server):
    # kiln_ws_send_text formats into a buffer it keeps between messages and
    # gives back past 64 KiB: small, large, small, large again, and text
    # that looks like a format, each answered whole.
    texts = ["a", "é" * 150000, "%s %d %.*s 100%", "b" * 70000, "", "c" * 10]

    async def go():
        got = []
        async with connect(server, "/echo") as ws:
            for t in texts:
                await ws.send(t)
                got.append(await ws.recv())
        return got

    assert run(go()) == ["Hello, " + t for t in texts]


def test_fragmented_messages(server):
    async def parts(items):
        for p in items:
            await asyncio.sleep(0.01)
            yield p

    async def go():
        async with connect(server, "/echo") as ws:
            await ws.send(parts(["frag", "men", "ted ✓"]))
            t = await ws.recv()
            await ws.send(parts([b"\x00" * 70000, b"\x01" * 5, b"\x02" * 100000]))
            b = await ws.recv()
            return t, b

    t, b = run(go())
    assert t == "Hello, fragmented ✓"
    assert b == b"\x00" * 70000 + b"\x01" * 5 + b"\x02" * 100000


def test_early_frames_in_the_handshake_packet(server):
    # The frame travels in the same write as the upgrade request: the server
    # must hand both to the WebSocket layer.
    with RawWS(server.port, after=frame(1, b"early")) as c:
        assert c.status == 101
        assert c.recv_frame() == (True, 1, b"Hello, early")


def test_upgrade_after_keepalive_request(server):
    with RawConn(server.port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().status == 200
        key = base64.b64encode(os.urandom(16)).decode()
        # A pipelined GET, then the upgrade and a frame, all in one write.
        c.send(("GET /Bob HTTP/1.1\r\nHost: t\r\n\r\n"
                "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n" % key).encode() + frame(1, b"pipe"))
        r = c.read_response()
        assert (r.status, r.body) == (200, b"Hello, Bob")
        r = c.read_response(head=True)
        assert r.status == 101
        assert c._read_exact(2 + len(b"Hello, pipe"), time.monotonic() + 5) == \
            b"\x81" + bytes([len(b"Hello, pipe")]) + b"Hello, pipe"


def test_ping_pong(server):
    async def go():
        async with connect(server, "/echo") as ws:
            waiter = await ws.ping(b"abc")
            await asyncio.wait_for(waiter, 5)
            await ws.send("after ping")
            return await ws.recv()

    assert run(go()) == "Hello, after ping"
    with RawWS(server.port) as c:
        c.send(frame(9, b"xyz"))
        assert c.recv_frame() == (True, 10, b"xyz")


# -- limits ---------------------------------------------------------------------------


def test_max_msg_size_closes_1009(kiln_factory):
    k = make_server(kiln_factory, ws_max_msg_size="64k")

    async def go(msg):
        async with connect(k, "/echo") as ws:
            await ws.send(b"x" * 1000)
            assert await ws.recv() == b"x" * 1000
            await ws.send(msg)
            with pytest.raises(websockets.ConnectionClosed) as e:
                await ws.recv()
            return e.value.code, e.value.reason

    async def parts():
        for _ in range(10):
            yield b"y" * 10000

    assert run(go(b"z" * 70000)) == (1009, "message too big")
    assert run(go(parts())) == (1009, "message too big")
    # Exactly the limit is fine.
    async def exact():
        async with connect(k, "/echo") as ws:
            await ws.send(b"e" * 65536)
            return len(await ws.recv())
    assert run(exact()) == 65536


def test_route_max_msg_size_and_a_1_0_plugin(kiln_factory):
    # /small (ABI 1.1) sets max_msg_size = 16; /abi10 comes from a plugin built
    # with the 1.0 layout, whose handlers struct ends before max_msg_size.
    k = make_server(kiln_factory, plugins=WS_PLUGINS + ("ws_abi10",))

    async def send(path, msg):
        async with connect(k, path) as ws:
            await ws.send(msg)
            try:
                return await ws.recv()
            except websockets.ConnectionClosed as e:
                return e.code, e.reason

    assert run(send("/small", b"s" * 16)) == b"s" * 16
    assert run(send("/small", b"s" * 17)) == (1009, "message too big")
    # The 1.0 plugin gets the server's limit, not the bytes behind its struct.
    assert run(send("/abi10", b"a" * 5000)) == b"a" * 5000
    assert "loaded plugin ws_abi10" in k.log()


@pytest.mark.parametrize("payload", [
    [b"\xff\xfe"],                       # never valid
    [b"\xc0\xaf"],                       # overlong
    [b"\xed\xa0\x80"],                   # a UTF-16 surrogate
    [b"ok \xe2\x82"],                    # truncated at the end
    [b"fine ", b"\xf4\x90\x80\x80"],     # above U+10FFFF, in a continuation
])
def test_invalid_utf8_closes_1007(server, payload):
    with RawWS(server.port) as c:
        for i, p in enumerate(payload):
            c.send(frame(1 if i == 0 else 0, p, fin=i == len(payload) - 1))
        got = c.recv_close()
        assert got is not None and got[0] == 1007, got
    assert_serving(server)


# What one flood command asks for: 64 MiB, 64 times ws_max_queue (1 MiB), so
# that a server without the limit would grow by far more than QUEUE_RSS_BOUND.
FLOOD_MESSAGES, FLOOD_SIZE = 1024, 65536
QUEUE_RSS_BOUND = 8 * 1024              # kB: the two clients' queues (2 MiB) and slack


def test_slow_reader_hits_the_send_queue_limit(kiln_factory):
    k = make_server(kiln_factory, ws_max_queue="1m")
    base = worker_rss(k)
    since = k.mark()
    # One client reads later, one never does; each asks for 64 MiB.
    reader = RawWS(k.port, "/flood", rcvbuf=4096)
    sleeper = RawWS(k.port, "/flood", rcvbuf=4096)
    try:
        for c in (reader, sleeper):
            c.send(frame(1, b"flood %d %d" % (FLOOD_MESSAGES, FLOOD_SIZE)))
        for _ in range(2):
            m = k.wait_log(r"flood queued (\d+) of %d" % FLOOD_MESSAGES, since=since)
            since = m.end()
            assert 8 <= int(m.group(1)) <= 17, m.group(0)
        k.wait_log(r"send queue above 1048576 bytes: closing \(1008\)")
        grown = worker_rss(k) - base
        assert grown < QUEUE_RSS_BOUND, "workers grew by %d kB" % grown
        time.sleep(0.5)
        got = reader.recv_close(timeout=10)
        assert got == (1008, "send queue full"), got
        reader.send(frame(8, struct.pack("!H", 1008)))
        assert reader.wait_eof(5)
        # The one that never reads is closed without its help: first the
        # server ends it (its close handler ran, its socket is closed) while
        # the client still holds unread bytes, and only then is it drained.
        k.wait_log(r'flood closed 1008 "send queue full"(.|\n)*'
                   r'flood closed 1008 "send queue full"', timeout=15)
        port = sleeper.sock.getsockname()[1]

        def server_closed():
            side = tcp_socket(k.port, port)
            return side is None or side[0] != "ESTABLISHED"
        assert wait_until(server_closed, 5), tcp_socket(k.port, port)
        assert tcp_socket(port, k.port)[2] > 0, "the sleeper read something"
        assert sleeper.wait_eof(15), "the sleeper's connection did not end"
    finally:
        reader.close()
        sleeper.close()
    grown = worker_rss(k) - base
    assert grown < QUEUE_RSS_BOUND, "workers grew by %d kB" % grown
    assert_serving(k)


# -- closing -------------------------------------------------------------------------


def test_close_codes_and_reasons(server):
    async def client_closes():
        async with connect(server, "/flood") as ws:
            await ws.send("echo hi")
            assert await ws.recv() == "hi"
            await ws.close(1000, "done")
            return ws.close_code

    async def server_closes():
        async with connect(server, "/flood") as ws:
            await ws.send("close 4000 see you")
            assert await ws.recv() == "bye"
            with pytest.raises(websockets.ConnectionClosed) as e:
                await ws.recv()
            return e.value.code, e.value.reason

    async def bad_code():
        async with connect(server, "/flood") as ws:
            await ws.send("close 1005")
            return await ws.recv(), await ws.recv()

    since = server.mark()
    assert run(client_closes()) == 1000
    server.wait_log(r'flood closed 1000 "done"', since=since)
    assert run(server_closes()) == (4000, "see you")
    server.wait_log(r'flood closed 4000 "see you"', since=since)
    assert run(bad_code()) == ("bye", "close refused")
    # A client that just drops the TCP connection: 1006.
    since = server.mark()
    with RawWS(server.port, "/flood") as c:
        c.send(frame(1, b"pid"))
        assert c.recv_frame()[1] == 1
    server.wait_log(r'flood closed 1006 ""', since=since)


def test_graceful_stop_sends_1001(kiln_factory):
    k = make_server(kiln_factory)
    workers = set(k.wait_workers(2))

    async def go():
        # Connections until both workers hold some (at least 20, at most 200).
        conns, pids = [], set()
        while len(conns) < 20 or (pids != workers and len(conns) < 200):
            ws = await connect(k, "/flood")
            conns.append(ws)
            await ws.send("pid")
            pids.add(int(await ws.recv()))
        k.signal(signal.SIGTERM)
        codes = []
        for ws in conns:
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except websockets.ConnectionClosed as e:
                codes.append((e.code, e.reason))
        return pids, codes, len(conns)

    pids, codes, n = run(go())
    assert pids == workers, "connections reached workers %s of %s" % (pids, workers)
    assert codes == [(1001, "server shutting down")] * n, codes
    assert k.wait_exit(10) == 0


def test_reload_sends_1001_and_new_generation_serves(kiln_factory):
    k = make_server(kiln_factory)

    async def go():
        old = [await connect(k, "/flood") for _ in range(6)]
        pids = set()
        for ws in old:
            await ws.send("pid")
            pids.add(int(await ws.recv()))
        mark = k.mark()
        k.signal(signal.SIGHUP)
        codes = []
        for ws in old:
            try:
                await asyncio.wait_for(ws.recv(), 10)
            except websockets.ConnectionClosed as e:
                codes.append(e.code)
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: k.wait_ready(2, timeout=10, since=mark))
        async with connect(k, "/flood") as ws:
            await ws.send("pid")
            new_pid = int(await ws.recv())
        return pids, codes, new_pid

    pids, codes, new_pid = run(go())
    assert codes == [1001] * 6
    assert new_pid not in pids
    assert k.running()


def test_a_reload_sends_what_is_queued_before_its_1001(kiln_factory):
    # 40 messages of 64 KiB are queued for a client that does not read yet;
    # the reload's 1001 follows all of them, none is dropped.
    k = make_server(kiln_factory)
    since = k.mark()
    ws = RawWS(k.port, "/flood", rcvbuf=4096)
    try:
        ws.send(frame(1, b"flood 40 65536"))
        k.wait_log(r"flood queued 40 of 40", since=since)
        k.signal(signal.SIGHUP)
        k.wait_log(r"generation 2 ready", timeout=10, since=since)
        got = 0
        while True:
            f = ws.recv_frame(10)
            assert f is not None, "EOF after %d messages" % got
            if f[1] == 8:
                break
            got += f[0] and f[1] in (0, 2)
        assert got == 40
        assert struct.unpack("!H", f[2][:2])[0] == 1001
    finally:
        ws.close()


def test_an_upgrade_that_completes_during_a_drain_is_opened_then_closed_1001(kiln_factory):
    # A connection the old generation accepted before a reload sends the
    # rest of its upgrade once it drains: it gets its 101 (not a 503), then
    # the 1001 every WebSocket of a stopping worker gets.
    k = make_server(kiln_factory, workers=1)
    since = k.mark()
    key = base64.b64encode(os.urandom(16)).decode()
    c = RawConn(k.port)
    try:
        c.send("GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        time.sleep(0.2)
        k.signal(signal.SIGHUP)
        k.wait_log(r"generation 2 ready", timeout=10, since=since)
        c.send("Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % key)
        r = c.read_response(head=True)
        assert r.status == 101, r
        ws = RawWS.__new__(RawWS)
        ws.sock, ws.buf, ws.eof, ws.reset, ws.timeout = c.sock, c.buf, c.eof, c.reset, c.timeout
        assert ws.recv_close(10) == (1001, "server shutting down")
    finally:
        c.close()
    assert_serving(k)


# -- heartbeat and idle ------------------------------------------------------------------


def test_heartbeat_drops_a_peer_that_does_not_pong(kiln_factory):
    k = make_server(kiln_factory, ws_heartbeat="400ms")
    since = k.mark()

    async def alive():
        # websockets answers pings by itself: it must outlive several periods.
        async with connect(k, "/flood") as ws:
            await asyncio.sleep(1.6)
            await ws.send("echo still here")
            return await ws.recv()

    with RawWS(k.port, "/flood") as c:
        t0 = time.monotonic()
        f = c.recv_frame(timeout=3)
        assert f is not None and f[1] == 9, f      # a ping
        assert c.wait_eof(3), "not dropped"
        assert time.monotonic() - t0 < 2.5
    assert run(alive()) == "still here"
    k.wait_log(r'flood closed 1006 ""', since=since)
    k.wait_log(r"no pong within 0.2s: dropping it", since=since)


def test_idle_timeout_closes_1001(kiln_factory):
    k = make_server(kiln_factory, ws_idle_timeout="600ms")

    async def idle():
        async with connect(k, "/echo") as ws:
            t0 = time.monotonic()
            with pytest.raises(websockets.ConnectionClosed) as e:
                await ws.recv()
            return e.value.code, e.value.reason, time.monotonic() - t0

    async def chatty():
        async with connect(k, "/echo") as ws:
            for i in range(8):
                await ws.send(str(i))
                assert await ws.recv() == "Hello, %d" % i
                await asyncio.sleep(0.2)
            return "kept"

    async def both():
        return await asyncio.gather(idle(), chatty())

    (code, reason, took), kept = run(both())
    assert (code, reason) == (1001, "idle timeout")
    assert 0.5 < took < 2.0
    assert kept == "kept"


# -- bad upgrades -----------------------------------------------------------------------


def upgrade_request(path="/echo", key=True, version="13", extra="", upgrade=True):
    lines = ["GET %s HTTP/1.1" % path, "Host: t"]
    if upgrade:
        lines += ["Upgrade: websocket", "Connection: Upgrade"]
    if key is True:
        lines.append("Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)).decode())
    elif key:
        lines.append("Sec-WebSocket-Key: " + key)
    if version:
        lines.append("Sec-WebSocket-Version: " + version)
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


@pytest.mark.parametrize("name,request_bytes,status,header", [
    ("missing key", upgrade_request(key=None), 400, None),
    ("short key", upgrade_request(key="abc"), 400, None),
    ("wrong version", upgrade_request(version="8"), 400, ("sec-websocket-version", "13")),
    ("no version", upgrade_request(version=None), 400, ("sec-websocket-version", "13")),
    ("unknown subprotocol", upgrade_request("/sub", extra="Sec-WebSocket-Protocol: x, y\r\n"),
     400, None),
    ("subprotocol on a route without any", upgrade_request(extra="Sec-WebSocket-Protocol: chat.v1\r\n"),
     400, None),
    ("oversized headers", upgrade_request(extra="X-Big: %s\r\n" % ("a" * 20000)), 431, None),
    ("plain GET", b"GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", 426, ("upgrade", "websocket")),
    ("no Connection: upgrade",
     b"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", 426, ("upgrade", "websocket")),
    ("POST", upgrade_request().replace(b"GET", b"POST", 1), 405, None),
])
def test_bad_upgrades(server, name, request_bytes, status, header):
    with RawConn(server.port) as c:
        c.send(request_bytes)
        r = c.read_response()
    assert r.status == status, (name, r)
    if header:
        assert (r.header(header[0]) or "").lower() == header[1], (name, r)
    assert_serving(server)


def test_upgrade_on_a_plain_route_is_plain_http(server):
    with RawConn(server.port) as c:
        c.send(upgrade_request("/"))
        r = c.read_response()
    assert (r.status, r.body) == (200, b"Hello, Anonymous")


def test_open_refuses(server):
    async def status(path):
        try:
            async with connect(server, path):
                return 101
        except websockets.InvalidStatusCode as e:
            return e.status_code

    assert run(status("/auth/lobby")) == 403
    assert run(status("/auth/lobby?token=wrong")) == 403
    assert run(status("/auth/teapot?token=secret")) == 418

    async def ok():
        async with connect(server, "/auth/l%C3%B6bby?token=secret") as ws:
            hello = await ws.recv()
            await ws.send("hi")
            return hello, await ws.recv()

    since = server.mark()
    assert run(ok()) == ("welcome to löbby", "löbby@/auth/löbby: hi")
    server.wait_log(r'auth closed 1000 ""', since=since)
    assert_serving(server)


def test_subprotocol_negotiation(server):
    async def go(protos):
        async with connect(server, "/sub", subprotocols=protos) as ws:
            await ws.send("which")
            return ws.subprotocol, await ws.recv()

    assert run(go(["chat.v1"])) == ("chat.v1", "chat.v1")
    # The route's preference wins over the client's order.
    assert run(go(["chat.v1", "chat.v2"])) == ("chat.v2", "chat.v2")
    assert run(go(["x", "chat.v1"])) == ("chat.v1", "chat.v1")
    assert run(go(None)) == (None, "(none)")


def test_permessage_deflate(server):
    text = "compress me " * 5000
    blob = os.urandom(300000)

    async def go():
        async with connect(server, "/deflate") as ws:
            ext = ws.response_headers.get("Sec-WebSocket-Extensions") or ""
            out = []
            for m in (text, blob, "small", b""):
                await ws.send(m)
                out.append(await ws.recv())
            return ext, out

    ext, out = run(go())
    assert "permessage-deflate" in ext
    assert out == [text, blob, "small", b""]


def recv_message_bits(c, timeout=5.0):
    """One whole message from RawWS `c`: ((rsv1, opcode) of its first frame,
    the payload of its frames joined, as on the wire)."""
    first, parts = None, []
    while True:
        f = c.recv_frame_bits(timeout)
        assert f is not None, "connection closed in a message"
        fin, rsv1, op, payload = f
        if first is None:
            first = (rsv1, op)
        else:
            assert (rsv1, op) == (False, 0), f[:3]     # continuations
        parts.append(payload)
        if fin:
            return first, b"".join(parts)


DEFLATE_OFFER = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"


def test_permessage_deflate_on_the_wire(server):
    """With deflate negotiated kiln compresses what it sends (RSV1 set, far
    fewer bytes than the message) and inflates what the client compressed."""
    text = ("compress me " * 5000).encode()
    with RawWS(server.port, "/deflate", extra=DEFLATE_OFFER) as c:
        assert c.status == 101, c.head
        m = re.search(r"(?im)^sec-websocket-extensions:[ \t]*(.*?)\r?$", c.head)
        assert m and m.group(1).startswith("permessage-deflate"), c.head
        fresh = "server_no_context_takeover" in m.group(1)
        inflate = zlib.decompressobj(-15)
        c.send(frame(1, text))
        (rsv1, op), wire = recv_message_bits(c)
        assert (rsv1, op) == (True, 1), "a text reply not marked compressed"
        assert len(wire) < len(text) // 20, "%d bytes on the wire for %d" % (len(wire), len(text))
        assert inflate.decompress(wire + b"\x00\x00\xff\xff") == text
        # A message the client compressed (a fresh context, always allowed).
        msg = ("compress you " * 3000).encode()
        z = zlib.compressobj(wbits=-15)
        data = z.compress(msg) + z.flush(zlib.Z_SYNC_FLUSH)
        assert data.endswith(b"\x00\x00\xff\xff")
        c.send(frame(1, data[:-4], rsv1=True))
        (rsv1, op), wire = recv_message_bits(c)
        assert (rsv1, op) == (True, 1)
        if fresh:
            inflate = zlib.decompressobj(-15)
        assert inflate.decompress(wire + b"\x00\x00\xff\xff") == msg
    # A route without deflate declines the offer and sends plain frames.
    with RawWS(server.port, "/echo", extra=DEFLATE_OFFER) as c:
        assert c.status == 101, c.head
        assert "sec-websocket-extensions" not in c.head.lower(), c.head
        c.send(frame(1, text))
        assert recv_message_bits(c) == ((False, 1), b"Hello, " + text)


def test_broadcast(server):
    """kiln_ws_broadcast() reaches the route's connections in every worker,
    each once; it counts (and logs) this worker's."""
    async def go():
        by_pid = {}
        conns = []
        for _ in range(48):
            ws = await connect(server, "/room")
            conns.append(ws)
            pid = int((await ws.recv()).split()[1])
            by_pid.setdefault(pid, []).append(ws)
            if len(by_pid) == 2 and all(len(v) >= 3 for v in by_pid.values()):
                break
        pid, group = next((p, v) for p, v in by_pid.items() if len(v) >= 3)
        others = [ws for p, v in by_pid.items() if p != pid for ws in v]
        await asyncio.sleep(0.2)            # the other worker joined the route's channel
        await group[0].send("hi all")
        got = [await asyncio.wait_for(ws.recv(), 5) for ws in group + others]
        twice = []
        for ws in conns:
            try:
                twice.append(await asyncio.wait_for(ws.recv(), 0.2))
            except asyncio.TimeoutError:
                pass
        for ws in conns:
            await ws.close()
        return pid, len(group), len(others), got, twice

    pid, n, n_others, got, twice = run(go())
    assert n_others > 0
    assert got == ["%d: hi all" % pid] * (n + n_others)
    assert twice == []
    assert "broadcast to %d" % n in server.log()


# -- load -----------------------------------------------------------------------------------


def test_500_connections_and_http_meanwhile(server):
    async def client(i):
        async with connect(server, "/flood", open_timeout=20) as ws:
            await ws.send("pid")
            pid = int(await ws.recv())
            for j in range(5):
                await ws.send("echo %d-%d" % (i, j))
                assert await ws.recv() == "%d-%d" % (i, j)
            return pid

    async def http(stop):
        """GET / back to back until `stop`: (requests answered, slowest in s)."""
        n, slowest = 0, 0.0
        async with aiohttp.ClientSession() as s:
            while not stop.is_set():
                t0 = time.monotonic()
                async with s.get(server.url + "/") as r:
                    assert r.status == 200
                    assert await r.text() == "Hello, Anonymous"
                slowest = max(slowest, time.monotonic() - t0)
                n += 1
        return n, slowest

    async def go():
        stop = asyncio.Event()
        h = asyncio.ensure_future(http(stop))
        pids = await asyncio.gather(*(client(i) for i in range(500)))
        stop.set()
        return pids, await h

    pids, (gets, slowest) = run(go(), timeout=90)
    workers = set(server.worker_pids())
    assert set(pids) <= workers
    assert len(set(pids)) == 2, "all 500 connections went to one worker"
    # HTTP was served all along, never held for long behind the WebSockets
    # (the client shares the event loop with the 500, hence the slack).
    assert gets >= 5, gets
    assert slowest < 5, "an HTTP request took %.1fs" % slowest
    assert_serving(server)
