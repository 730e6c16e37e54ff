"""Middlewares (kiln_add_middleware): their order from [server] middlewares, befores that answer, go on or defer, afters that see and change every response (kiln's own 404/405/413 included), WebSocket upgrades refused by a before; the response-sent hook's counts; the reopen hook; functions one plugin exports to another; a middleware name taken twice."""

import asyncio
import os
import signal
import socket
import subprocess
import time

import pytest
import websockets

from conftest import RawConn, wait_until

ALL = "auth, tag, later, errors, cors, wsguard, extra"


def make(kiln_factory, order=ALL, sent=None, plugins=("middleware", "mw_peer"), start=True,
         **server):
    if order is not None:
        server["middlewares"] = order
    sections = {"middleware": {"sent_log": sent}} if sent else None
    return kiln_factory.make(start=start, plugins=plugins, server=server, sections=sections)


def get(k, path, headers=(), method="GET", body=b""):
    c = RawConn(k.port)
    head = "%s %s HTTP/1.1\r\nHost: x\r\n%s" % (method, path,
                                                "".join("%s: %s\r\n" % h for h in headers))
    if body:
        head += "Content-Length: %d\r\n" % len(body)
    c.send(head.encode() + b"\r\n" + body)
    r = c.read_response(head=method == "HEAD")
    c.close()
    return r


def sent_lines(path, n, timeout=5.0):
    """The first n lines of the response-sent log, once there are n."""
    def lines():
        try:
            with open(path) as f:
                return [l.split() for l in f.read().splitlines() if l != "reopened"]
        except FileNotFoundError:
            return []
    wait_until(lambda: len(lines()) >= n, timeout)
    got = lines()
    assert len(got) >= n, got
    return got


# ---- order -----------------------------------------------------------------------------

def test_order_follows_the_config(kiln_factory):
    k = make(kiln_factory, order="wsguard, auth, cors, later")
    r = get(k, "/mw/trace")
    assert r.status == 200
    assert r.text == "wsguard,auth,cors,later\n"
    # afters in the reverse order
    assert r.headers("X-Trace") == ["a:later", "a:cors", "a:auth", "a:wsguard"]
    assert r.header("X-Seen-Status") is None      # "tag" not listed: does not run


def test_without_the_key_all_run_in_registration_order(kiln_factory):
    k = make(kiln_factory, order=None)
    r = get(k, "/mw/trace")
    assert r.text == "auth,later,cors,wsguard\n"
    assert r.headers("X-Trace") == ["a:wsguard", "a:cors", "a:later", "a:auth"]
    assert r.header("X-Extra") == "1" and r.header("X-Seen-Status") == "200"


def test_unlisted_middleware_warns_and_does_not_run(kiln_factory):
    k = make(kiln_factory, order="auth, tag")
    k.wait_log(r'middlewares: the middleware "extra" of plugin middleware is not listed')
    r = get(k, "/mw/trace")
    assert r.text == "auth\n"
    assert r.header("X-Extra") is None
    rc, out = k.check()
    assert rc == 0, out
    assert 'the middleware "cors" of plugin middleware is not listed' in out


def test_unknown_name_fails_check_naming_file_and_line(kiln_factory):
    k = make(kiln_factory, order="auth, nosuch", start=False)
    line = k.config_text().splitlines().index("middlewares = auth, nosuch") + 1
    rc, out = k.check()
    assert rc == 1, out
    assert '%s:%d: middlewares: "nosuch" is no middleware a plugin registered' % (
        k.conf, line) in out
    k.server["middlewares"] = "auth, tag, auth"
    k.write_config()
    rc, out = k.check()
    assert rc == 1 and '"auth" is listed twice' in out, out


def test_unknown_name_refuses_to_start(kiln_factory):
    k = make(kiln_factory, order="nosuch", start=False)
    k.start(wait=False)
    k.wait_exit(10)
    assert not k.running()
    assert '"nosuch" is no middleware a plugin registered' in k.log() + k.output()


# ---- befores ---------------------------------------------------------------------------

def test_before_answering_401_skips_the_handler(kiln_factory):
    k = make(kiln_factory)
    r = get(k, "/mw/private")
    assert r.status == 401
    assert r.header("WWW-Authenticate") == 'Basic realm="test"'
    assert r.text == "401 Unauthorized\n"
    # only the afters of those whose before ran (auth), and the after-only ones
    assert r.headers("X-Trace") == ["a:auth"]
    assert r.header("X-Extra") == "1" and r.header("X-Seen-Error") == "1"
    r = get(k, "/mw/private", [("Authorization", "Basic eDp5")])
    assert (r.status, r.text) == (200, "hello\n")


def test_options_answered_by_a_before(kiln_factory):
    k = make(kiln_factory)
    r = get(k, "/mw/hello", method="OPTIONS")
    assert r.status == 204
    assert r.header("Access-Control-Allow-Origin") == "*"
    # without the middleware kiln says 405
    k2 = make(kiln_factory, order="auth")
    r = get(k2, "/mw/hello", method="OPTIONS")
    assert r.status == 405 and r.header("Allow") == "GET, HEAD"


def test_pending_before_resumed_with_next_and_ok(kiln_factory):
    k = make(kiln_factory)
    t0 = time.monotonic()
    r = get(k, "/mw/trace?defer=next")
    assert (r.status, r.text) == (200, "auth,later,cors,wsguard\n")
    assert time.monotonic() - t0 >= 0.045
    r = get(k, "/mw/trace?defer=ok")
    assert (r.status, r.text) == (202, "answered by the before\n")
    assert r.headers("X-Trace") == ["a:later", "a:auth"]
    # no route: the 404 comes after the resumed befores
    r = get(k, "/nothing?defer=next")
    assert r.status == 404 and r.header("X-Seen-Error") == "1"
    # pipelined behind a pending before
    c = RawConn(k.port)
    c.send(b"GET /mw/trace?defer=next HTTP/1.1\r\nHost: x\r\n\r\n"
           b"GET /mw/hello HTTP/1.1\r\nHost: x\r\n\r\n")
    a, b = c.read_responses(2)
    c.close()
    assert (a.status, b.status, b.text) == (200, 200, "hello\n")


# ---- afters ----------------------------------------------------------------------------

def test_after_changes_status_headers_and_body(kiln_factory):
    k = make(kiln_factory)
    r = get(k, "/mw/hello")
    assert (r.status, r.text) == (200, "hello\n")
    assert r.header("X-Seen-Length") == "6" and r.header("X-Seen-Error") == "0"
    assert r.headers("X-Remove-Me") == ["1", "2"]
    r = get(k, "/mw/hello", [("X-Rewrite", "1")])
    assert r.status == 203
    assert r.text == "rewritten (was hello)\n"
    assert r.headers("X-Remove-Me") == [] and r.header("X-Removed") == "2"
    assert int(r.header("Content-Length")) == len(r.body)


def test_afters_see_kilns_own_answers_and_kiln_error(kiln_factory):
    k = make(kiln_factory)
    r = get(k, "/nothing")
    assert (r.status, r.header("X-Seen-Status"), r.header("X-Seen-Error")) == (404, "404", "1")
    assert r.text == "404 Not Found\n"
    r = get(k, "/mw/hello", method="POST")
    assert (r.status, r.header("X-Seen-Status")) == (405, "405")
    assert r.header("Allow") == "GET, HEAD"
    r = get(k, "/mw/small", method="POST", body=b"x" * 100)
    assert (r.status, r.header("X-Seen-Status"), r.header("X-Extra")) == (413, "413", "1")
    r = get(k, "/mw/fail")
    assert (r.status, r.text, r.header("X-Seen-Error")) == (409, "conflict\n", "1")
    # an error page replaces error bodies, not a handler's own 400
    r = get(k, "/mw/fail", [("X-Error-Page", "1")])
    assert (r.status, r.text) == (409, "<h1>error 409</h1>\n")
    assert r.header("Content-Type") == "text/html"
    r = get(k, "/nothing", [("X-Error-Page", "1")])
    assert (r.status, r.text) == (404, "<h1>error 404</h1>\n")
    r = get(k, "/mw/json400", [("X-Error-Page", "1")])
    assert (r.status, r.text) == (400, '{"error":"mine"}')


def test_pending_handlers_answer_passes_the_afters(kiln_factory):
    k = make(kiln_factory)
    r = get(k, "/mw/pending")
    assert (r.status, r.text) == (200, "late\n")
    assert r.header("X-Seen-Status") == "200" and r.header("X-Extra") == "1"


def test_stream_afters_change_the_head(kiln_factory):
    k = make(kiln_factory)
    r = get(k, "/mw/stream?n=3")
    assert (r.status, r.text) == (200, "tick\n" * 3)
    assert r.header("X-Seen-Stream") == "1" and r.header("X-Seen-Length") == "0"
    assert r.header("X-Stream-Header") == "1"
    r = get(k, "/mw/stream?n=2", [("X-Rewrite", "1")])
    assert (r.status, r.text) == (203, "tick\n" * 2)


# ---- WebSocket ---------------------------------------------------------------------------

def test_websocket_refused_by_a_before_or_let_through(kiln_factory):
    k = make(kiln_factory)
    url = "ws://127.0.0.1:%d/mw/ws" % k.port

    async def main():
        async with websockets.connect(url, open_timeout=5, ping_interval=None) as ws:
            await ws.send("echo me")
            got = await asyncio.wait_for(ws.recv(), 5)
        try:
            async with websockets.connect(url + "?deny=1", open_timeout=5):
                return got, None
        except websockets.InvalidStatusCode as e:
            return got, e.status_code

    assert asyncio.run(asyncio.wait_for(main(), 20)) == ("echo me", 403)
    r = get(k, "/mw/ws?deny=1", [("Connection", "Upgrade"), ("Upgrade", "websocket"),
                                 ("Sec-WebSocket-Version", "13"),
                                 ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")])
    assert (r.status, r.text) == (403, "no upgrade for you\n")
    assert r.header("Connection") == "close"


# ---- the response-sent hook --------------------------------------------------------------

def raw_exchange(port, data, timeout=5.0):
    """Sends data, reads until the server closes: every byte received."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
    s.close()
    return got


def test_sent_hook_counts_what_the_client_received(kiln_factory, tmp_path):
    log = str(tmp_path / "sent.log")
    k = make(kiln_factory, sent=log)
    req = b"GET /mw/hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    got = raw_exchange(k.port, req)
    head, body = got.split(b"\r\n\r\n", 1)
    (line,) = sent_lines(log, 1)
    assert line == ["200", "1", str(len(got)), str(len(body)), str(len(req)), "GET",
                    "/mw/hello", "1", "1"]
    req = b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    got = raw_exchange(k.port, req)
    line = sent_lines(log, 2)[1]
    assert line[:5] == ["404", "1", str(len(got)), str(len(got.split(b"\r\n\r\n", 1)[1])),
                        str(len(req))]
    req = b"GET /mw/stream?n=4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    got = raw_exchange(k.port, req)
    line = sent_lines(log, 3)[2]
    assert line[:3] == ["200", "1", str(len(got))]
    # what curl counts: its header and body bytes
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{size_header} %{size_download}",
                          "http://127.0.0.1:%d/mw/hello?from=curl" % k.port],
                         stdout=subprocess.PIPE, text=True, timeout=10).stdout.split()
    line = sent_lines(log, 4)[3]
    assert line[6] == "/mw/hello?from=curl"
    assert line[:4] == ["200", "1", str(int(out[0]) + int(out[1])), out[1]]
    body = b"hello"
    req = b"POST /mw/small HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\n"
    got = raw_exchange(k.port, req + body)
    line = sent_lines(log, 5)[4]
    assert line[:5] == ["200", "1", str(len(got)), str(len(got.split(b"\r\n\r\n", 1)[1])),
                        str(len(req) + len(body))]


def test_sent_hook_for_a_400_to_garbage_and_a_cut_stream(kiln_factory, tmp_path):
    log = str(tmp_path / "sent.log")
    k = make(kiln_factory, sent=log)
    garbage = b"\x01\x02 garbage\r\n\r\n"
    got = raw_exchange(k.port, garbage)
    assert got.startswith(b"HTTP/1.1 400 ")
    (line,) = sent_lines(log, 1)
    # method and target unread: "" (the line writes "-" for an empty target)
    assert line[:5] == ["400", "1", str(len(got)), str(len(got.split(b"\r\n\r\n", 1)[1])),
                        str(len(garbage))]
    assert line[5:] == ["-", "1", "1"], line
    # a client that leaves mid-stream: complete 0
    s = socket.create_connection(("127.0.0.1", k.port), timeout=5)
    s.sendall(b"GET /mw/stream?n=200 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert s.recv(4096).startswith(b"HTTP/1.1 200 ")
    s.close()
    line = sent_lines(log, 2)[1]
    assert line[0] == "200" and line[1] == "0", line
    assert int(line[2]) > 0


def test_sent_hook_sees_the_websocket_handshake(kiln_factory, tmp_path):
    log = str(tmp_path / "sent.log")
    k = make(kiln_factory, sent=log)

    async def main():
        async with websockets.connect("ws://127.0.0.1:%d/mw/ws" % k.port, open_timeout=5,
                                      ping_interval=None) as ws:
            await ws.send("x")
            await asyncio.wait_for(ws.recv(), 5)

    asyncio.run(asyncio.wait_for(main(), 20))
    (line,) = sent_lines(log, 1)
    assert line[:2] == ["101", "1"] and line[5:7] == ["GET", "/mw/ws"]


# ---- reopen, export/import, duplicates --------------------------------------------------

@pytest.mark.parametrize("how", ["signal", "command"])
def test_reopen_hook(kiln_factory, tmp_path, how):
    log = str(tmp_path / "sent.log")
    k = make(kiln_factory, sent=log)
    assert get(k, "/mw/hello").status == 200
    sent_lines(log, 1)
    os.rename(log, log + ".1")
    mark = k.mark()
    if how == "signal":
        for pid in k.worker_pids():
            os.kill(pid, signal.SIGUSR1)
    else:
        rc, out = k.signal_command("reopen")
        assert rc == 0, out
    wait_until(lambda: k.log().count("reopen hook ran", mark) >= 2, 5)
    assert k.log().count("middleware: reopen hook ran", mark) == 2, k.describe()
    with open(log) as f:
        assert f.read().count("reopened\n") == 2
    assert get(k, "/mw/hello").status == 200
    assert len(sent_lines(log, 1)) == 1


def test_export_and_import(kiln_factory):
    k = make(kiln_factory)
    r = get(k, "/peer/double?n=21")
    assert (r.status, r.text) == (200, "42\n")
    k2 = make(kiln_factory, order=None, plugins=("mw_peer",))
    r = get(k2, "/peer/double?n=21")
    assert r.status == 503


def test_duplicate_name_refuses_the_plugin(kiln_factory):
    k = make(kiln_factory)
    rc, out = k.check()
    assert rc == 0, out
    k.install_plugin("mw_dup")
    rc, out = k.check()
    assert rc == 1, out
    assert "mw_dup: add_middleware(auth): the name is taken by plugin middleware" in out
    mark = k.mark()
    k.signal(signal.SIGHUP)
    k.wait_log(r"the name is taken by plugin middleware", since=mark, timeout=10)
    time.sleep(0.3)
    r = get(k, "/mw/hello")
    assert (r.status, r.text) == (200, "hello\n")


def test_befores_of_a_route_reading_its_body_as_it_arrives(kiln_factory):
    import json
    import zlib
    k = make(kiln_factory, plugins=("middleware", "mw_peer", "bodyread"))
    body = os.urandom(200000)
    for q in ("", "?defer=next"):
        r = get(k, "/body" + q, method="POST", body=body)
        assert r.status == 200, r
        got = json.loads(r.text)
        assert (got["len"], got["crc"]) == (len(body), zlib.crc32(body))
        assert r.headers("X-Trace") == ["a:wsguard", "a:cors", "a:later", "a:auth"]
    # answered by the deferred before while the body is still to come
    c = RawConn(k.port)
    c.send(b"POST /body?defer=ok HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 100
           + b"GET /mw/hello HTTP/1.1\r\nHost: x\r\n\r\n")
    a, b = c.read_responses(2)
    c.close()
    assert (a.status, a.text) == (202, "answered by the before\n")
    assert (b.status, b.text) == (200, "hello\n")


def test_a_stuck_before_is_named_when_its_worker_is_killed(kiln_factory):
    k = make(kiln_factory, worker_timeout="2s")
    mark = k.mark()
    try:
        get(k, "/mw/hello", [("X-Hang", "1")])
    except (TimeoutError, ConnectionError, OSError):
        pass
    k.wait_log(r"worker \d+ stuck for \d+s in plugin middleware route BEFORE auth; killed",
               timeout=10, since=mark)
    k.wait_workers(2)
    assert get(k, "/mw/hello").status == 200
