"""The chat example against a real kiln with two workers: two WebSocket clients in one room, served by different workers (their welcome says which), hear each other's messages, joins and leaves through kiln's publish/subscribe; another room hears none of it; the Server-Sent Events feed of a room; bad messages (not JSON, no text, too long, binary) answered to the sender alone; bad rooms and nicks refused at the handshake; two kilns sharing a Redis ([server] pubsub) as one chat; the page."""

import asyncio
import json
import os
import signal

import aiohttp

from pytest_kiln.client import http_request

from conftest import STATIC

TEXT_MAX = 1000


async def join(session, k, room, nick):
    """A client in `room` as `nick`: its WebSocket and its welcome."""
    ws = await session.ws_connect("%s/ws/%s?nick=%s" % (k.url, room, nick))
    welcome = await next_json(ws)
    assert welcome["type"] == "welcome", welcome
    assert (welcome["room"], welcome["nick"]) == (room, nick)
    return ws, welcome


async def next_json(ws, timeout=10):
    msg = await ws.receive(timeout=timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


async def until(ws, want, timeout=10):
    """Reads until a notice with the items of `want`; that notice, and the
    ones read before it."""
    before = []
    while True:
        m = await next_json(ws, timeout)
        if all(m.get(key) == value for key, value in want.items()):
            return m, before
        before.append(m)


async def two_workers(session, k, room, nicks=("ann", "bob")):
    """Two clients of `room` served by different workers.  Which worker
    accepts a connection is the kernel's choice, and on a loaded machine one
    may win every time: the first client's worker is stopped (SIGSTOP) while
    the second connects, so the other one must take it."""
    a, wa = await join(session, k, room, nicks[0])
    os.kill(wa["worker"], signal.SIGSTOP)
    try:
        b, wb = await join(session, k, room, nicks[1])
    finally:
        os.kill(wa["worker"], signal.SIGCONT)
    assert wb["worker"] != wa["worker"], "a stopped worker accepted"
    assert {wa["worker"], wb["worker"]} == set(k.worker_pids())
    return a, b, wb["worker"]


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_two_workers_one_room(chat):
    async def script():
        async with aiohttp.ClientSession() as s:
            ann, bob, bob_worker = await two_workers(s, chat, "lobby")
            # ann hears bob arrive, with the worker that serves him
            await until(ann, {"type": "join", "nick": "bob", "worker": bob_worker})
            await ann.send_str(json.dumps({"text": "hello bob"}))
            said = {"type": "message", "nick": "ann", "text": "hello bob"}
            got_bob, _ = await until(bob, said)
            got_ann, _ = await until(ann, said)          # the sender hears it too
            for i in range(20):                          # in order, from each
                await bob.send_str(json.dumps({"text": "line %d" % i}))
            lines = [(await until(ann, {"type": "message", "nick": "bob"}))[0]["text"]
                     for _ in range(20)]
            await bob.close()
            left, _ = await until(ann, {"type": "leave", "nick": "bob"})
            await ann.close()
            return got_bob, got_ann, lines, left
    got_bob, got_ann, lines, left = run(script())
    assert got_bob == got_ann == {"type": "message", "nick": "ann", "text": "hello bob"}
    assert lines == ["line %d" % i for i in range(20)]
    assert left["type"] == "leave"


def test_another_room_hears_nothing(chat):
    async def script():
        async with aiohttp.ClientSession() as s:
            ann, bob, _ = await two_workers(s, chat, "lobby")
            carols = [await join(s, chat, "other", "carol") for _ in range(4)]
            await ann.send_str(json.dumps({"text": "for the lobby"}))
            await until(bob, {"text": "for the lobby"})
            # published after the lobby's message reached bob: whatever a
            # carol heard of the lobby came before her own room's marker
            await carols[0][0].send_str(json.dumps({"text": "marker"}))
            heard = []
            for ws, _ in carols:
                _, before = await until(ws, {"text": "marker"})
                heard += before
            for ws, _ in carols:
                await ws.close()
            await ann.close()
            await bob.close()
            return heard
    heard = run(script())
    assert [m for m in heard if m["type"] != "join"] == [], heard
    assert all(m["nick"] == "carol" for m in heard), heard


def test_bad_messages_answered_to_the_sender_alone(chat):
    bad = [
        ("not json", "expected"),
        (json.dumps({"txt": "typo"}), "expected"),
        (json.dumps(["text", "x"]), "expected"),
        (json.dumps({"text": 42}), "expected"),
        (json.dumps({"text": ""}), "1 to 1000 bytes"),
        (json.dumps({"text": "y" * (TEXT_MAX + 1)}), "1 to 1000 bytes"),
        (json.dumps({"text": "é" * (TEXT_MAX // 2 + 1)}), "1 to 1000 bytes"),   # bytes, not chars
    ]
    tricky = 'quote " backslash \\ newline \n tab \t <script>alert(1)</script> \u00e9\u4e2d\U0001f600'

    async def script():
        async with aiohttp.ClientSession() as s:
            ann, bob, _ = await two_workers(s, chat, "lobby")
            errors = []
            for text, _ in bad:
                await ann.send_str(text)
                errors.append((await until(ann, {"type": "error"}))[0]["error"])
            await ann.send_bytes(b'{"text": "binary"}')
            errors.append((await until(ann, {"type": "error"}))[0]["error"])
            await ann.send_str(json.dumps({"text": "x" * TEXT_MAX}))
            longest, before = await until(bob, {"type": "message", "nick": "ann"})
            await ann.send_str(json.dumps({"text": tricky}))
            odd, _ = await until(bob, {"type": "message", "nick": "ann"})
            # a message over the route's limit closes the connection (1009)
            await ann.send_str("z" * 5000)
            closed = await ann.receive(timeout=10)
            while closed.type == aiohttp.WSMsgType.TEXT:
                closed = await ann.receive(timeout=10)
            await bob.close()
            return errors, longest, odd, before, closed, ann.close_code
    errors, longest, odd, before, closed, code = run(script())
    for (text, want), got in zip(bad, errors):
        assert want in got, (text[:40], got)
    assert "expected" in errors[-1]
    assert longest["text"] == "x" * TEXT_MAX
    assert odd["text"] == tricky
    assert [m for m in before if m["type"] != "join"] == [], "bob heard: %r" % before
    assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), closed
    assert code == 1009


def test_two_hosts_one_room_through_redis(kiln_factory, redis_url):
    """Two kilns sharing a Redis ([server] pubsub) are one chat: a room
    spans them, another room on them hears none of it."""
    hosts = [kiln_factory.make(plugins=("chat",), server={"workers": 1, "pubsub": redis_url},
                               sections={"chat": {"static_dir": STATIC}}) for _ in range(2)]

    async def script():
        async with aiohttp.ClientSession() as s:
            ann, _ = await join(s, hosts[0], "lobby", "ann")
            carol, _ = await join(s, hosts[1], "other", "carol")
            # the subscription reaches Redis through the master: say hello
            # until ann hears of bob (or 10 s)
            for _ in range(50):
                bob, wb = await join(s, hosts[1], "lobby", "bob")
                try:
                    await until(ann, {"type": "join", "nick": "bob"}, timeout=0.2)
                    break
                except asyncio.TimeoutError:
                    await bob.close()
            await bob.send_str(json.dumps({"text": "from host two"}))
            got_ann, _ = await until(ann, {"type": "message", "nick": "bob"})
            await ann.send_str(json.dumps({"text": "from host one"}))
            got_bob, _ = await until(bob, {"type": "message", "nick": "ann"})
            await carol.send_str(json.dumps({"text": "marker"}))
            _, heard = await until(carol, {"text": "marker"})
            for ws in (ann, bob, carol):
                await ws.close()
            return got_ann, got_bob, heard, wb["worker"]
    got_ann, got_bob, heard, bob_worker = run(script())
    assert got_ann["text"] == "from host two" and got_bob["text"] == "from host one"
    assert bob_worker in hosts[1].worker_pids() and bob_worker not in hosts[0].worker_pids()
    assert [m for m in heard if m.get("nick") != "carol"] == [], heard


def test_handshake_refuses_bad_rooms_and_nicks(chat):
    async def upgrade(s, path):
        """The handshake's status: 101, or the refusal's."""
        try:
            ws = await s.ws_connect(chat.url + path)
        except aiohttp.WSServerHandshakeError as e:
            return e.status
        await ws.close()
        return 101

    paths = ["/ws/lobby?nick=ann", "/ws/lobby", "/ws/lobby?nick=", "/ws/lobby?nick=" + "n" * 33,
             "/ws/lobby?nick=a%0Ab", "/ws/lobby?nick=%FF%FE", "/ws/lob.by?nick=ann",
             "/ws/" + "r" * 33 + "?nick=ann", "/ws/lobby?nick=" + "n" * 32,
             "/ws/" + "r" * 32 + "?nick=%C3%A9l%C3%A8ne"]

    async def script():
        async with aiohttp.ClientSession() as s:
            return [await upgrade(s, p) for p in paths]
    assert run(script()) == [101, 400, 400, 400, 400, 400, 400, 400, 101, 101]
    assert http_request(chat.port, "/ws/lobby?nick=ann")[0] == 426


def test_server_sent_events_feed(chat):
    async def script():
        async with aiohttp.ClientSession() as s:
            async with s.get(chat.url + "/rooms/lobby/events") as feed:
                assert feed.status == 200
                assert feed.headers["Content-Type"].startswith("text/event-stream")
                ann, bob, _ = await two_workers(s, chat, "lobby")
                await ann.send_str(json.dumps({"text": "to the feed"}))
                got = []
                while not got or got[-1].get("text") != "to the feed":
                    line = await asyncio.wait_for(feed.content.readline(), 10)
                    if line.startswith(b"data:"):
                        got.append(json.loads(line[5:]))
                await ann.close()
                await bob.close()
            async with s.get(chat.url + "/rooms/lob.by/events") as r:
                missing = r.status
            return got, missing
    got, missing = run(script())
    assert {"type": "join", "nick": "ann"}.items() <= got[0].items(), got
    assert got[-1] == {"type": "message", "nick": "ann", "text": "to the feed"}
    assert missing == 404


def test_the_page(chat, kiln_factory):
    status, headers, body = http_request(chat.port, "/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert b'id="say"' in body and b"/ws/" in body
    bare = kiln_factory.make(plugins=("chat",), server={"workers": 1})
    status, _, body = http_request(bare.port, "/")
    assert (status, b"static_dir" in body) == (404, True)
