"""Publish/subscribe across hosts through Redis ([server] pubsub): two kiln instances (two workers each) on one redis-server that the test starts on a loopback port of its own, WebSocket rooms on both, every message exactly once and in order on either side; the server killed and started again on its port (the gap, the recovery, HTTP served throughout); a bad pubsub URL refused by kiln -t."""

import asyncio
import os
import re
import shutil
import socket
import subprocess
import time

import pytest
import websockets

from conftest import wait_until

PLUGINS = ("pubsub", "hello")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server of this test's own on 127.0.0.1:port, killed by pid."""

    def __init__(self, directory):
        self.dir = str(directory)
        self.port = free_port()
        self.proc = None

    def accepting(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def start(self):
        assert shutil.which("redis-server"), "redis-server is not installed (scripts/deps --test)"
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        assert wait_until(lambda: self.accepting() or self.proc.poll() is not None, 10)
        assert self.proc.poll() is None, "redis-server on port %d exited" % self.port

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def url(self):
        return "redis://127.0.0.1:%d" % self.port


@pytest.fixture
def redis(tmp_path):
    r = RedisServer(tmp_path)
    r.start()
    yield r
    r.kill()


def two_hosts(kiln_factory, redis):
    return [kiln_factory.make(plugins=PLUGINS, server={"pubsub": redis.url(), "workers": 2})
            for _ in range(2)]


def run(coro, timeout=90):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def connect(k, path):
    return websockets.connect("ws://127.0.0.1:%d%s" % (k.port, path), ping_interval=None,
                              max_size=None, max_queue=None, open_timeout=5, close_timeout=2)


async def open_spread(k, path, n, limit=200):
    """n connections or more to k's path, until they are on both workers:
    [(ws, pid)], each after its "pid N" greeting."""
    conns = []
    while len(conns) < n or len({p for _, p in conns}) < 2:
        assert len(conns) < limit, "connections never spread over 2 workers"
        ws = await connect(k, path)
        conns.append((ws, int((await asyncio.wait_for(ws.recv(), 5)).split()[1])))
    return conns


async def recv_some(ws, want, timeout):
    """The messages until `want` of those not starting with "probe" came,
    or the timeout: (wanted ones, probes)."""
    got, probes = [], []
    deadline = time.monotonic() + timeout
    while len(got) < want:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            m = await asyncio.wait_for(ws.recv(), left)
        except asyncio.TimeoutError:
            break
        (probes if m.startswith("probe") else got).append(m)
    return got, probes


async def crossed(src, dst_conns, room, timeout=20):
    """Publishes probes on src (over HTTP, to either worker) until every
    connection of dst_conns received one of them (not one of its own host's):
    the subscriptions of dst's host reached the bus.  True, or False at the
    timeout."""
    pending = {id(ws): ws for ws, _ in dst_conns}
    deadline = time.monotonic() + timeout
    mine = "probe-%d-" % src.port
    i = 0
    while pending and time.monotonic() < deadline:
        i += 1
        st, _ = await asyncio.to_thread(src.get_text, "/publish?channel=%s&text=%s%d"
                                        % (room, mine, i))
        assert st == 200
        for key, ws in list(pending.items()):
            try:
                while True:
                    m = await asyncio.wait_for(ws.recv(), 0.05)
                    if m.startswith(mine):
                        pending.pop(key)
                        break
            except asyncio.TimeoutError:
                pass
    return not pending


def check_order(got, publishers, n):
    """Every publisher's n messages exactly once, in its order."""
    for p in publishers:
        mine = [m for m in got if m.startswith(p + "-")]
        assert mine == ["%s-%d" % (p, j) for j in range(n)], (p, mine[:5], len(mine))
    assert len(got) == len(publishers) * n, got[:10]


async def exchange(hosts, room, n=30):
    """Two publishers on each host's room send n messages each; every
    connection of both hosts must get all of them once, in order."""
    conns = {}
    for name, k in hosts.items():
        conns[name] = await open_spread(k, "/ps/" + room, 4)
    names = list(hosts)
    for a, b in ((names[0], names[1]), (names[1], names[0])):
        assert await crossed(hosts[a], conns[b], room), "%s's messages never reached %s" % (a, b)
    everyone = [ws for name in names for ws, _ in conns[name]]
    publishers = {}
    for name in names:
        pids = {}
        for ws, pid in conns[name]:
            pids.setdefault(pid, ws)
        for i, ws in enumerate(list(pids.values())[:2]):
            publishers["%s%d" % (name, i)] = ws

    async def publish(p, ws):
        for j in range(n):
            await ws.send("%s-%d" % (p, j))

    readers = [asyncio.create_task(recv_some(ws, len(publishers) * n, 20)) for ws in everyone]
    await asyncio.gather(*(publish(p, ws) for p, ws in publishers.items()))
    got = [g for g, _ in await asyncio.gather(*readers)]
    extra = await asyncio.gather(*(recv_some(ws, 1, 0.3) for ws in everyone))
    for ws in everyone:
        await ws.close()
    return sorted(publishers), got, [e for e, _ in extra]


def test_rooms_across_two_hosts(kiln_factory, redis):
    a, b = two_hosts(kiln_factory, redis)
    publishers, got, extra = run(exchange({"a": a, "b": b}, "lobby"))
    assert len(got) >= 8            # open_spread opens 4 or more on each host
    for g in got:
        check_order(g, publishers, 30)
    assert extra == [[]] * len(got), "a subscriber got a message twice"
    for k in (a, b):
        assert "[pubsub]" not in k.log(), k.describe()   # no outage, no refusal


def test_redis_restarted(kiln_factory, redis):
    a, b = two_hosts(kiln_factory, redis)
    marks = [k.mark() for k in (a, b)]

    async def before_and_during():
        ca = await open_spread(a, "/ps/r", 2)
        cb = await open_spread(b, "/ps/r", 2)
        assert await crossed(b, ca, "r") and await crossed(a, cb, "r")
        redis.kill()
        for k, mark in zip((a, b), marks):
            await asyncio.to_thread(k.wait_log, r"\[pubsub\] connection to 127\.0\.0\.1:%d lost"
                                    % redis.port, 5, mark)
        # HTTP is served, the room works on each host by itself; what b
        # publishes now never reaches a (the gap)
        for k in (a, b):
            st, body = await asyncio.to_thread(k.get_text, "/hello")
            assert st == 200, body
        for j in range(5):
            st, _ = await asyncio.to_thread(b.get_text, "/publish?channel=r&text=gap-%d" % j)
            assert st == 200
        await ca[0][0].send("local-a")
        got_a = [await recv_some(ws, 1, 5) for ws, _ in ca]
        got_b = [await recv_some(ws, 5, 5) for ws, _ in cb]
        for ws, _ in ca + cb:
            await ws.close()
        return got_a, got_b

    got_a, got_b = run(before_and_during())
    assert [g for g, _ in got_a] == [["local-a"]] * len(got_a), "a's own room during the outage"
    # each HTTP publish is a publisher of its own, on either worker: the
    # order holds per publisher only
    assert [sorted(g) for g, _ in got_b] == [["gap-%d" % j for j in range(5)]] * len(got_b)
    time.sleep(0.5)
    redis.start()
    for k, mark in zip((a, b), marks):
        k.wait_log(r"\[pubsub\] redis://127\.0\.0\.1:%d: the bus is back" % redis.port, 15, mark)
    publishers, got, extra = run(exchange({"a": a, "b": b}, "r"))
    for g in got:
        check_order(g, publishers, 30)
        assert not any(m.startswith("gap-") for m in g), "a message of the outage came late"
    assert extra == [[]] * len(extra)
    for k, mark in zip((a, b), marks):
        log = k.log()[mark:]
        assert len(re.findall(r"\[pubsub\] connection to \S+ lost", log)) == 1, k.describe()
        assert re.search(r"\[pubsub\] connected to 127\.0\.0\.1:%d again, after" % redis.port,
                         log), k.describe()
        assert re.search(r"\[pubsub\] redis://127\.0\.0\.1:%d: the bus is back, \d+ channel"
                         % redis.port, log), k.describe()
    assert re.search(r"the bus is back, \d+ channel\(s\) subscribed again; [1-9]\d* publish",
                     b.log()[marks[1]:]), "b's publishes of the outage counted as dropped"
    for k in (a, b):
        st, _ = k.get_text("/hello")
        assert st == 200


def test_bad_url_refused(kiln_factory):
    k = kiln_factory.make(start=False, plugins=("hello",), server={"pubsub": "redis://h:99999"})
    rc, out = k.check()
    assert rc != 0
    assert re.search(r"kiln\.conf:\d+: pubsub: expected redis://host:port, "
                     r"redis://:password@host:port, redis://\[ipv6\]:port or "
                     r"redis\+unix:///path, got \"redis://h:99999\": the port must be a number "
                     r"from 1 to 65535", out), out
    k.server["pubsub"] = "redis://:hunter2@127.0.0.1:0"
    k.write_config()
    rc, out = k.check()
    assert rc != 0 and "hunter2" not in out and "redis://***@127.0.0.1:0" in out, out
