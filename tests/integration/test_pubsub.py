"""End-to-end tests of publish/subscribe across a kiln's workers: rooms of WebSocket clients spread over two workers, kiln_ws_broadcast() across workers, slow subscribers closed by the policy, a worker killed, SSE subscribers, and kiln_publish()'s refusals."""

import asyncio
import os
import signal
import socket
import time

import pytest
import websockets

from conftest import wait_until
from wsraw import RawWS, frame

PLUGINS = ("pubsub",)


def ws_url(k, path):
    return "ws://127.0.0.1:%d%s" % (k.port, path)


def connect(k, path):
    return websockets.connect(ws_url(k, path), ping_interval=None, max_size=None, max_queue=None,
                              open_timeout=5, close_timeout=2)


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def open_spread(k, path, n, workers=2, limit=400):
    """n connections to path (more until they are on `workers` workers):
    [(ws, pid)], each after its "pid N" greeting."""
    conns = []
    while len(conns) < n or len({p for _, p in conns}) < workers:
        assert len(conns) < limit, "connections never spread over %d workers" % workers
        ws = await connect(k, path)
        pid = int((await asyncio.wait_for(ws.recv(), 5)).split()[1])
        conns.append((ws, pid))
    return conns


async def recv_until(ws, want, timeout=20):
    """Messages until `want` of them came (or the timeout)."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < want:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            got.append(await asyncio.wait_for(ws.recv(), left))
        except asyncio.TimeoutError:
            break
    return got


async def nothing_more(ws, wait=0.3):
    try:
        return await asyncio.wait_for(ws.recv(), wait)
    except asyncio.TimeoutError:
        return None


def check_order(got, publishers, n):
    """Every publisher's n messages exactly once, in its order."""
    for p in publishers:
        mine = [m for m in got if m.startswith("p%d-" % p)]
        assert mine == ["p%d-%d" % (p, j) for j in range(n)], (p, mine[:5], len(mine))
    assert len(got) == len(publishers) * n


@pytest.fixture
def server(kiln_factory):
    return kiln_factory.make(plugins=PLUGINS)


def test_room_of_100_clients_over_two_workers(server):
    publishers, n = (0, 1, 2, 3, 4), 40

    async def go():
        conns = await open_spread(server, "/ps/lobby", 100)
        pids = {p for _, p in conns}
        await asyncio.sleep(0.2)        # every worker's subscription reached the master
        by_worker = {p: sum(1 for _, q in conns if q == p) for p in pids}
        # publishers on both workers
        pubs = [conns[0]] + [c for c in conns if c[1] != conns[0][1]][:2] + conns[1:3]

        async def publish(i, ws):
            for j in range(n):
                await ws.send("p%d-%d" % (i, j))

        readers = [asyncio.create_task(recv_until(ws, len(publishers) * n)) for ws, _ in conns]
        await asyncio.gather(*(publish(i, pubs[i][0]) for i in publishers))
        got = await asyncio.gather(*readers)
        extra = await asyncio.gather(*(nothing_more(ws) for ws, _ in conns[:10]))
        for ws, _ in conns:
            await ws.close()
        return by_worker, got, extra

    by_worker, got, extra = run(go())
    assert len(by_worker) == 2 and min(by_worker.values()) >= 1, by_worker
    for g in got:
        check_order(g, publishers, n)
    assert extra == [None] * 10, "a subscriber got a message twice"


def test_broadcast_reaches_other_workers(server):
    async def go():
        conns = await open_spread(server, "/bc", 6)
        await asyncio.sleep(0.2)
        sender, spid = conns[0]
        await sender.send("hi all")
        got = [await asyncio.wait_for(ws.recv(), 5) for ws, _ in conns]
        extra = [await nothing_more(ws) for ws, _ in conns]
        for ws, _ in conns:
            await ws.close()
        return spid, {p for _, p in conns}, got, extra

    spid, pids, got, extra = run(go())
    assert len(pids) == 2
    assert got == ["hi all"] * len(got)
    assert extra == [None] * len(extra)


def test_unsubscribe(server):
    async def go():
        a = await connect(server, "/ps/u")
        b = await connect(server, "/ps/u")
        await a.recv()
        await b.recv()
        await a.send("!unsub")
        first = await a.recv()
        await a.send("!unsub")
        second = await a.recv()
        await b.send("after")
        got_b = await b.recv()
        got_a = await nothing_more(a, 0.5)
        await a.close()
        await b.close()
        return first, second, got_b, got_a

    assert run(go()) == ("unsub 0", "unsub -1", "after", None)


def test_slow_subscriber_closed(kiln_factory):
    k = kiln_factory.make(plugins=PLUGINS, server={"pubsub_subscriber_queue": "256k"})
    msg = "y" * 32768
    count = 120                         # ~4 MB: past the kernel's buffers and the queue

    slow = RawWS(k.port, "/ps/slowroom", rcvbuf=4096)
    assert slow.status == 101
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

    async def go():
        fast = await connect(k, "/ps/slowroom")
        await fast.recv()
        other = await connect(k, "/ps/slowroom")
        await other.recv()
        await asyncio.sleep(0.2)
        got_fast, got_other = [], []
        for i in range(count):          # each after the last reached both
            await fast.send("%04d" % i + msg)
            got_fast += await recv_until(fast, 1, timeout=10)
            got_other += await recv_until(other, 1, timeout=10)
        await fast.close()
        await other.close()
        return got_fast, got_other

    got_fast, got_other = run(go())
    want = ["%04d" % i + msg for i in range(count)]
    assert got_fast == want and got_other == want
    # the slow one: what reached it, then the policy's close
    code = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        f = slow.recv_frame(timeout=5)
        if f is None:
            break
        if f[1] == 8:
            code = int.from_bytes(f[2][:2], "big")
            reason = f[2][2:].decode()
            break
    assert code == 1008 and reason == "subscriber too slow", code
    assert "pubsub_subscriber_queue" in k.log()


def test_worker_killed(server):
    async def go():
        conns = await open_spread(server, "/ps/k", 12)
        await asyncio.sleep(0.2)
        victim = conns[0][1]
        mine = [ws for ws, p in conns if p == victim]
        others = [ws for ws, p in conns if p != victim]
        os.kill(victim, signal.SIGKILL)
        for ws in mine:
            try:
                await asyncio.wait_for(ws.recv(), 5)
                assert False, "a client of the killed worker still got a message"
            except websockets.ConnectionClosed:
                pass
        await others[0].send("still here")
        got = [await asyncio.wait_for(ws.recv(), 5) for ws in others]
        # the replacement worker
        new = await asyncio.get_running_loop().run_in_executor(
            None, lambda: server.wait_workers(2, timeout=10, exclude=(victim,)))
        fresh = []
        for _ in range(200):
            ws = await connect(server, "/ps/k")
            pid = int((await ws.recv()).split()[1])
            fresh.append((ws, pid))
            if pid not in {p for _, p in conns}:
                break
        await asyncio.sleep(0.2)
        newcomer = [ws for ws, p in fresh if p != victim and p not in {q for _, q in conns}]
        assert newcomer, "no connection reached the respawned worker %s" % new
        await others[0].send("again")
        got2 = [await asyncio.wait_for(ws.recv(), 5) for ws in newcomer + others]
        for ws in others + [w for w, _ in fresh]:
            await ws.close()
        return got, got2

    got, got2 = run(go())
    assert got == ["still here"] * len(got)
    assert got2 == ["again"] * len(got2)
    assert server.running()


def sse_open(k, room):
    s = socket.create_connection(("127.0.0.1", k.port), timeout=5)
    s.sendall(("GET /sse/%s HTTP/1.1\r\nHost: x\r\n\r\n" % room).encode())
    buf = b""
    while b": subscribed" not in buf:
        chunk = s.recv(65536)
        assert chunk, buf
        buf += chunk
    return s


def sse_read_until(s, needles, timeout=5):
    """What s sent until every one of needles is in it (or it closed)."""
    s.settimeout(timeout)
    buf = b""
    while not all(n in buf for n in needles):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


def test_sse_subscribers(server):
    subs = [sse_open(server, "news") for _ in range(6)]
    time.sleep(0.2)
    assert server.request("/publish?channel=news&text=first")[0] == 200
    assert server.request("/publish?channel=news&text=bin&binary=1")[0] == 200
    assert server.request("/publish?channel=news&text=last")[0] == 200
    for s in subs:
        # three publishers (connections, either worker): no order across them
        got = sse_read_until(s, (b"data: first\n\n", b"data: last\n\n"))
        events = [line for line in got.split(b"\r\n") if line.startswith(b"data:")]
        assert b"data: first\n\n" in got and b"data: last\n\n" in got, got
        assert b"bin" not in got, got
        assert events, got
        s.close()


def test_plugin_subscription(server):
    """kiln_on_publish(): the plugin's callback runs once in each worker."""
    async def go():
        conns = await open_spread(server, "/ps/plugin-out", 2)
        await asyncio.sleep(0.2)
        st = await asyncio.get_running_loop().run_in_executor(
            None, lambda: server.request("/publish?channel=plugin-in&text=ping")[0])
        got = [sorted(await recv_until(ws, 2, timeout=5)) for ws, _ in conns]
        extra = [await nothing_more(ws) for ws, _ in conns]
        for ws, _ in conns:
            await ws.close()
        return st, {p for _, p in conns}, got, extra

    st, pids, got, extra = run(go())
    want = sorted("plugin-in %d 0: ping" % p for p in pids)
    assert st == 200 and len(pids) == 2
    assert got == [want] * len(got) and extra == [None] * len(got)


def test_slow_sse_subscriber_ended(kiln_factory):
    k = kiln_factory.make(plugins=PLUGINS, server={"pubsub_subscriber_queue": "256k"})
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", k.port))
    slow.sendall(b"GET /sse/feed HTTP/1.1\r\nHost: x\r\n\r\n")
    fast = sse_open(k, "feed")
    msg, count = "z" * 32768, 120

    got = b""
    fast.settimeout(10)

    def read_fast(n):
        """Reads the fast stream until n events came."""
        nonlocal got
        while got.count(b"data: ") < n:
            chunk = fast.recv(1 << 20)
            if not chunk:
                return
            got += chunk

    async def go():
        loop = asyncio.get_running_loop()
        pub = await connect(k, "/ps/feed")
        await pub.recv()
        await asyncio.sleep(0.3)
        for i in range(count):              # each once the fast ones have it
            await pub.send("%04d" % i + msg)
            await recv_until(pub, 1, timeout=10)
            await loop.run_in_executor(None, read_fast, i + 1)
        await pub.close()

    run(go())
    assert got.count(b"data: ") == count, got.count(b"data: ")
    assert "SSE stream:" in k.log() and "pubsub_subscriber_queue" in k.log()
    # the slow one was ended: its body ends with the last chunk
    slow.settimeout(10)
    rest = b""
    while not rest.endswith(b"0\r\n\r\n"):
        chunk = slow.recv(1 << 20)
        if not chunk:
            break
        rest += chunk
    assert rest.endswith(b"0\r\n\r\n"), rest[-100:]
    assert rest.count(b"data: ") < count
    fast.close()
    slow.close()


def test_publish_refusals(server):
    def status(q):
        return server.request("/publish?" + q)[0]

    assert status("channel=&text=x") == 400
    assert status("channel=%s&text=x" % ("a" * 256)) == 400
    assert status("channel=%s&text=x" % ("a" * 255)) == 200
    assert status("channel=c&size=65536") == 200
    assert status("channel=c&size=65537") == 400
    assert status("text=x") == 400     # no channel at all


def test_pubsub_max_message_checked(kiln_factory):
    k = kiln_factory.make(plugins=PLUGINS, start=False, server={"pubsub_max_message": "1m"})
    with pytest.raises(BaseException):
        k.start(timeout=5)
    assert "pubsub_max_message" in k.log() + open(k.out_path).read()
