"""Handlers that answer later: many pending requests at once while others are served, pipelined requests behind a pending one, cancellation when the client leaves, pending_timeout's 504, graceful and fast stops with requests pending, timers, and ids that stay safe after their request is gone."""

import asyncio
import signal
import time

import aiohttp
import websockets

from conftest import RawConn, wait_until
from procs import slow_request


def make(kiln_factory, **server):
    return kiln_factory.make(plugins=("hello", "sleep", "pending"),
                             server=dict({"log_level": "debug"}, **server))


def get(k, path, timeout=10):
    c = RawConn(k.port, timeout)
    c.send("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
    r = c.read_response()
    c.close()
    return r


def test_sleep_answers_after_its_timer(kiln_factory):
    k = make(kiln_factory)
    t0 = time.monotonic()
    r = get(k, "/sleep?ms=300")
    assert (r.status, r.body) == (200, b"slept 300 ms\n")
    assert time.monotonic() - t0 >= 0.29
    assert get(k, "/sleep?ms=x").status == 400
    assert get(k, "/sleep?ms=60001").status == 400


def test_many_pending_requests_and_others_served_meanwhile(kiln_factory):
    # 400 requests wait 1 s each on two workers: they all complete in about
    # 1 s, not one after the other, and plain requests are answered at once
    # in the meantime.
    k = make(kiln_factory)

    async def main():
        conn = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=conn) as s:
            async def one(path):
                async with s.get("http://127.0.0.1:%d%s" % (k.port, path)) as r:
                    return r.status, await r.text()
            t0 = time.monotonic()
            slow = [asyncio.ensure_future(one("/sleep?ms=1000")) for _ in range(400)]
            await asyncio.sleep(0.3)
            t1 = time.monotonic()
            quick = [await one("/Ann") for _ in range(20)]
            quick_time = time.monotonic() - t1
            done = await asyncio.gather(*slow)
            return done, quick, quick_time, time.monotonic() - t0

    done, quick, quick_time, total = asyncio.run(asyncio.wait_for(main(), 30))
    assert done == [(200, "slept 1000 ms\n")] * 400
    assert quick == [(200, "Hello, Ann")] * 20
    assert quick_time < 0.7, quick_time      # not behind the pending ones
    assert total < 5, total                  # 400 s one after the other


def test_pipelined_requests_wait_for_the_pending_one(kiln_factory):
    k = make(kiln_factory)
    with RawConn(k.port) as c:
        c.send("GET /sleep?ms=200 HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /Bob HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /sleep?ms=0 HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /Cy HTTP/1.1\r\nHost: x\r\n\r\n")
        bodies = [c.read_response().body for _ in range(4)]
    assert bodies == [b"slept 200 ms\n", b"Hello, Bob", b"slept 0 ms\n", b"Hello, Cy"]


def test_client_gone_cancels_and_a_late_resume_is_a_no_op(kiln_factory):
    # The client leaves while /late waits; its cancel runs ("gone", the id
    # already dead), and when the plugin's timer fires later, kiln_pending()
    # gives NULL and kiln_resume() -1: nothing is written anywhere.
    k = make(kiln_factory)
    mark = k.mark()
    c = RawConn(k.port)
    c.send("GET /late?ms=400 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.1)
    c.close()
    k.wait_log(r"pending: cancelled gone: pending dead", since=mark)
    k.wait_log(r"pending: late: pending NULL, resume -1", since=mark)
    assert get(k, "/Ann").body == b"Hello, Ann"


def test_no_cancel_once_resumed(kiln_factory):
    # /late's timer resumes its request in the same loop turn as the one
    # that reads its client's end (both wait while /slow holds the worker
    # up, and libev runs the timer first): the request was answered, so its
    # cancel callback must not run (it would meet the state the timer's
    # callback freed); the connection just goes.  Then the same with the
    # pending_timeout deadline due in that turn: no 504 over the answer.
    k = kiln_factory.make(plugins=("hello", "sleep", "pending", "slow"),
                          server={"log_level": "debug", "workers": 1})
    mark = k.mark()
    c = RawConn(k.port)
    c.send("GET /late?ms=200 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.1)
    slow = slow_request(k, 600)
    time.sleep(0.3)                     # the timer is due; the worker sleeps
    c.close()
    assert slow.result(10)[0] == 200
    assert get(k, "/Ann").body == b"Hello, Ann"
    log = k.log()[mark:]
    assert "pending: cancelled" not in log, log

    k2 = kiln_factory.make(plugins=("hello", "sleep", "pending", "slow"),
                           server={"log_level": "debug", "workers": 1,
                                   "pending_timeout": "1s"})
    mark = k2.mark()
    with RawConn(k2.port) as c:
        c.send("GET /late?ms=900 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.1)
        slow = slow_request(k2, 1300)   # past both the timer and the deadline
        r = c.read_response(timeout=10)
        assert (r.status, r.body) == (200, b"late 900\n")
    assert slow.result(10)[0] == 200
    log = k2.log()[mark:]
    assert "pending: cancelled" not in log and "504" not in log, log


def test_pending_timeout_answers_504_and_cancels(kiln_factory):
    k = make(kiln_factory, pending_timeout="1s")
    mark = k.mark()
    t0 = time.monotonic()
    with RawConn(k.port) as c:
        c.send("GET /late?ms=3000 HTTP/1.1\r\nHost: x\r\n\r\nGET /Di HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert r.status == 504
        assert 0.9 <= time.monotonic() - t0 < 2.5
        assert c.read_response().body == b"Hello, Di"      # the connection goes on
    k.wait_log(r"no answer within pending_timeout \(1s\): 504", since=mark)
    k.wait_log(r"pending: cancelled deadline: pending dead", since=mark)
    k.wait_log(r"pending: late: pending NULL, resume -1", timeout=5, since=mark)


def test_resume_rules(kiln_factory):
    k = make(kiln_factory)
    mark = k.mark()
    assert (get(k, "/inside").status, get(k, "/inside").body) == (200, b"resumed inside\n")
    assert get(k, "/fails").status == 500
    assert get(k, "/empty").status == 204
    assert get(k, "/ticks").body == b"ticks 3\n"
    assert get(k, "/twice").body == b"first id, second 0\n"
    assert get(k, "/forgot").status == 500
    k.wait_log(r"returned KILN_PENDING without kiln_defer", since=mark)
    assert "cancelled" not in k.log()[mark:]


def test_graceful_stop_lets_pending_requests_finish(kiln_factory):
    k = make(kiln_factory, graceful_timeout="10s")
    c = RawConn(k.port)
    c.send("GET /sleep?ms=800 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.2)
    k.signal(signal.SIGTERM)
    r = c.read_response()
    c.close()
    assert (r.status, r.body) == (200, b"slept 800 ms\n")
    assert (r.header("connection") or "").lower() == "close"
    assert k.wait_exit(10) == 0


def test_stop_cancels_what_is_still_pending(kiln_factory):
    # graceful_timeout passes: the requests still pending are cancelled
    # ("stop"), the worker exits, and nothing leaks (the sanitizer build
    # checks that).
    k = make(kiln_factory, graceful_timeout="1s")
    mark = k.mark()
    conns = []
    for _ in range(5):
        c = RawConn(k.port)
        c.send("GET /late?ms=5000 HTTP/1.1\r\nHost: x\r\n\r\n")
        conns.append(c)
    time.sleep(0.3)
    k.signal(signal.SIGTERM)
    assert k.wait_exit(10) == 0
    log = k.log()[mark:]
    assert log.count("pending: cancelled stop: pending dead") == 5, log
    for c in conns:
        c.close()


def test_pending_requests_across_a_reload(kiln_factory):
    k = make(kiln_factory)
    c = RawConn(k.port)
    c.send("GET /sleep?ms=700 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.2)
    k.signal(signal.SIGHUP)
    assert get(k, "/Ann").body == b"Hello, Ann"
    r = c.read_response()
    c.close()
    assert (r.status, r.body) == (200, b"slept 700 ms\n")
    assert wait_until(lambda: "generation 2 ready" in k.log(), 10)


def test_worker_hooks_watchers_and_the_loop(kiln_factory):
    # The start hook runs in each worker (not in the check process kiln -t
    # runs, where init has no loop), opens a pipe and watches it; a request
    # waits for what it wrote to come back through the watcher.  The stop
    # hook runs at the stop, before fini.
    k = make(kiln_factory)
    assert wait_until(lambda: k.log().count("pending: worker start: watcher on") == 2, 5)
    assert k.log().count("pending: init: timer started, loop yes") == 2
    for msg in ("one", "two", "three"):
        r = get(k, "/pipe?msg=" + msg)
        assert (r.status, r.body) == (200, b"piped %s\n" % msg.encode())
    assert get(k, "/loop").body == b"loop yes\n"
    mark = k.mark()
    rc, out = k.check()
    assert rc == 0, out
    assert "init: timer NULL, loop no" in out, out
    assert "worker start" not in k.log()[mark:]
    k.signal(signal.SIGTERM)
    assert k.wait_exit(10) == 0
    assert k.log().count("pending: worker stop") == 2


def test_websocket_sent_to_by_id_after_its_peer_left(kiln_factory):
    # A timer sends to a WebSocket through its id: the client that stayed
    # gets the message; for the one that left, kiln_ws_get() gives NULL.
    k = make(kiln_factory)
    mark = k.mark()

    async def main():
        async with websockets.connect("ws://127.0.0.1:%d/ws-later" % k.port) as ws:
            await ws.send("later 200")
            stayed = await asyncio.wait_for(ws.recv(), 5)
        async with websockets.connect("ws://127.0.0.1:%d/ws-later" % k.port) as ws:
            await ws.send("later 300")
        return stayed

    assert asyncio.run(main()) == "later done"
    k.wait_log(r"pending: ws-later: connection gone", since=mark)
    assert get(k, "/Ann").body == b"Hello, Ann"


def expected_hash(mb):
    x = 1469598103934665603
    for i in range(mb << 20):
        x = ((x ^ ((i * 31) & 0xFF)) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return "%d MiB: %x\n" % (mb, x)


def test_thread_pool_work_does_not_block_the_loop(kiln_factory):
    # Eight checksums of 64 MiB each run on the pool threads: while they
    # run, plain requests on the same workers are answered at once.
    k = make(kiln_factory, workers=1)
    want = expected_hash(1)

    async def main():
        async with aiohttp.ClientSession() as s:
            async def one(path):
                async with s.get("http://127.0.0.1:%d%s" % (k.port, path)) as r:
                    return r.status, await r.text()
            big = [asyncio.ensure_future(one("/hash?mb=64")) for _ in range(8)]
            await asyncio.sleep(0.1)
            t0 = time.monotonic()
            quick = [await one("/Ann") for _ in range(10)]
            quick_time = time.monotonic() - t0
            small = await one("/hash?mb=1")
            return await asyncio.gather(*big), quick, quick_time, small

    big, quick, quick_time, small = asyncio.run(asyncio.wait_for(main(), 120))
    assert small == (200, want)
    assert len({b for b in big}) == 1 and big[0][0] == 200 and big[0][1].startswith("64 MiB: ")
    assert quick == [(200, "Hello, Ann")] * 10
    assert quick_time < 1.0, quick_time


def test_a_stop_drops_the_jobs_not_started(kiln_factory):
    # One pool thread, five jobs of half a second each (a sleep on the pool
    # thread, so that the machine's speed does not matter), and a stop
    # with graceful_timeout = 1s: the jobs done by then are answered, the
    # running one is waited for, the ones still queued are dropped (their
    # done runs with cancelled = 1), and the worker exits cleanly.
    k = make(kiln_factory, workers=1, thread_pool=1, graceful_timeout="1s")
    mark = k.mark()
    conns = []
    for _ in range(5):
        c = RawConn(k.port, timeout=10)
        c.send("GET /hash?mb=1&ms=500 HTTP/1.1\r\nHost: x\r\n\r\n")
        conns.append(c)
    time.sleep(0.3)
    k.signal(signal.SIGTERM)
    answered = 0
    for c in conns:
        try:
            answered += c.read_response().status == 200
        except (ConnectionError, TimeoutError):
            pass
        c.close()
    assert k.wait_exit(30) == 0
    dropped = k.log()[mark:].count("pending: hash: job dropped")
    assert dropped >= 1 and answered + dropped in (4, 5), (answered, dropped)


def test_a_route_of_its_own_pending_timeout(kiln_factory):
    k = make(kiln_factory)                  # the server's: 60 s
    t0 = time.monotonic()
    r = get(k, "/late-short?ms=3000")
    assert r.status == 504 and 0.4 <= time.monotonic() - t0 < 2.0
    k.wait_log(r"GET /late-short\?ms=3000: no answer within pending_timeout \(0.5s\): 504")
