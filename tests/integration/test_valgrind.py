"""kiln under valgrind: the master, its workers and a reload's plugin check serve HTTP (limits, a timeout), pending requests (timers, the thread pool, a pool job whose client leaves, password hashes), query pairs, cookies, forms and stored values, Redis commands (a cancel, one pending at the stop), PostgreSQL queries (errors, a cancel), JSON bodies in and out (a pending one, one whose client leaves), errors, redirects and cookies, streamed responses and Server-Sent Events (one whose client leaves), and WebSockets (closes, a size limit), replace a killed worker, reload and stop with commands and queries pending, with no memory errors and no definite or possible leaks."""

import asyncio
import glob
import gzip
import os
import re
import shutil
import signal
import time

import pytest
import websockets

from conftest import RawConn, sanitized_build, wait_until

VALGRIND = shutil.which("valgrind")
SLOW = 20           # seconds for anything to happen under valgrind

pytestmark = [
    pytest.mark.skipif(VALGRIND is None, reason="valgrind is not installed"),
    pytest.mark.skipif(sanitized_build(), reason="the sanitizer build runs under ASan instead"),
]


def valgrind_logs(directory):
    """{pid: text} of the valgrind logs (vg.PID) in `directory`."""
    out = {}
    for path in glob.glob(os.path.join(directory, "vg.*")):
        with open(path, errors="replace") as f:
            out[int(path.rsplit(".", 1)[1])] = f.read()
    return out


def bad_logs(logs):
    """(pid, tail) of the logs that do not end with "ERROR SUMMARY: 0 errors"
    (leaks of the kinds counted as errors are errors)."""
    bad = []
    for pid, text in sorted(logs.items()):
        errors = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        if errors is None or int(errors.group(1)) != 0:
            bad.append((pid, text[-8000:]))
    return bad


def expect_close(k, data, status):
    """Sends `data`: the answer is `status`, with "Connection: close" and a FIN."""
    with RawConn(k.port, timeout=SLOW) as c:
        c.send(data)
        r = c.read_response()
        assert r.status == status, r
        assert (r.header("connection") or "").lower() == "close", r
        c.assert_fin(SLOW)


def http_traffic(k):
    """Plain requests, each limit (414, 431, 413) and the header timeout (408)."""
    assert k.get_text("/J%C3%BCrgen", timeout=SLOW) == (200, "Hello, Jürgen")
    st, _, body = k.request("/inspect/body", method="POST", body=b"x" * 5000, timeout=SLOW)
    assert (st, len(body)) == (200, 5000)
    with RawConn(k.port, timeout=SLOW) as c:
        c.send(b"GET /a/b HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().status == 404
        assert c.read_response().status == 200
    expect_close(k, b"GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n", 400)
    expect_close(k, b"GET /" + b"a" * 1500 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414)
    expect_close(k, b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"x" * 6000 + b"\r\n\r\n", 431)
    expect_close(k, b"POST /inspect/body HTTP/1.1\r\nHost: t\r\nContent-Length: 20000\r\n\r\n",
                 413)
    expect_close(k, b"POST /inspect/body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
                 b"\r\n\r\n" + (b"1000\r\n" + b"z" * 4096 + b"\r\n") * 3 + b"0\r\n\r\n", 413)
    expect_close(k, b"GET / HTTP/1.1\r\nHost: t\r\n", 408)           # header_timeout


def reqinfo_traffic(k):
    """The identity accessors through a trusted peer (Forwarded fields joined
    into one list), and a route's own body limit (413, with Content-Length
    and chunked)."""
    with RawConn(k.port, timeout=SLOW) as c:
        c.send(b"GET /reqinfo HTTP/1.1\r\nHost: t\r\nForwarded: for=6.6.6.6\r\n"
               b"Forwarded: for=192.0.2.1;proto=https;host=h.test, for=10.0.0.1\r\n\r\n"
               b"GET /reqinfo HTTP/1.0\r\nX-Forwarded-For: 192.0.2.2, 127.0.0.1\r\n"
               b"X-Forwarded-For: 10.0.0.2\r\nX-Forwarded-Host: x.test\r\n\r\n")
        one, two = c.read_response(), c.read_response()
    assert b"remote=192.0.2.1\nscheme=https\nhost=h.test\n" in one.body, one
    assert b"remote=192.0.2.2\nscheme=http\nhost=x.test\nversion=10\n" in two.body, two
    st, _, body = k.request("/reqinfo/big", method="POST", body=b"b" * 4096, timeout=SLOW)
    assert (st, body) == (200, b"4096\n")
    expect_close(k, b"POST /reqinfo/small HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\n\r\n",
                 413)
    expect_close(k, b"POST /reqinfo/small HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
                 b"\r\n\r\n" + b"10\r\n" + b"s" * 16 + b"\r\n1\r\ns\r\n0\r\n\r\n", 413)


def pending_traffic(k):
    """Answers from a timer and from the thread pool, pipelined behind a
    pending one, and a pending request whose client leaves (its cancel)."""
    with RawConn(k.port, timeout=SLOW) as c:
        c.send(b"GET /sleep?ms=50 HTTP/1.1\r\nHost: t\r\n\r\nGET /hash?mb=1 HTTP/1.1\r\n"
               b"Host: t\r\n\r\nGET /x HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().body == b"slept 50 ms\n"
        assert c.read_response().body.startswith(b"1 MiB: ")
        assert c.read_response().body == b"Hello, x"
    c = RawConn(k.port, timeout=SLOW)
    c.send(b"GET /late?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(0.2)
    c.close()
    k.wait_log(r"pending: late: pending NULL, resume -1", timeout=SLOW)
    # A pool job whose client leaves while it sleeps on its thread: done
    # finds no request and frees the job.
    mark = k.mark()
    c = RawConn(k.port, timeout=SLOW)
    c.send(b"GET /hash?mb=0&ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(0.2)
    c.close()
    k.wait_log(r"GET /hash\?mb=0&ms=1500: pending request cancelled \(client gone\)",
               timeout=SLOW, since=mark)


def params_traffic(k):
    """Query pairs past the old cap, cookies, a form, and stored values freed
    when their request is answered, pending, or its client leaves."""
    qs = "&".join("k%d=%%zz+%d" % (i, i) for i in range(70))
    body = b"a=1&b=x+y&a=%41"
    with RawConn(k.port, timeout=SLOW) as c:
        c.send(b"POST /pairs?" + qs.encode() + b" HTTP/1.1\r\nHost: t\r\nCookie: a=1; b=\"2\""
               b"\r\nCookie: c=3\r\nContent-Type: application/x-www-form-urlencoded\r\n"
               b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        r = c.read_response()
        assert r.status == 200 and b'"query_count": 70' in r.body, r
        assert b'"cookies_count": 3' in r.body and b'"form_count": 3' in r.body, r
        c.send(b"GET /store?tag=v1 HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /store-pending?tag=v2&ms=20 HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().body == b"v1.a2 v1.b n -\n"
        assert c.read_response().body == b"v2.a v2.b\n"
    mark = k.mark()
    c = RawConn(k.port, timeout=SLOW)
    c.send(b"GET /store-pending?tag=v3&ms=60000 HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(0.5)
    c.close()
    k.wait_log(r"params: free v3\.b", timeout=SLOW, since=mark)


def multipart_traffic(k):
    """multipart/form-data bodies on one connection: fields and files (one
    of every byte value, one larger than the pool's first chunk), one
    without its close delimiter (400), then a urlencoded form again."""
    def part(name, data, filename=None):
        fn = b'; filename="%s"' % filename if filename else b""
        return (b'--vgB\r\nContent-Disposition: form-data; name="%s"%s\r\n\r\n%s\r\n'
                % (name, fn, data))
    good = (b"preamble\r\n" + part(b"t", b"v") + part(b"f", bytes(range(256)), b"all.bin")
            + part(b"f", b"\r\n-" * 1500, b"big.bin") + b"--vgB--\r\n")
    bad = part(b"t", b"v")
    with RawConn(k.port, timeout=SLOW) as c:
        for body in (good, bad):
            c.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; "
                   b"boundary=vgB\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        r = c.read_response()
        assert r.status == 200 and b'"size": 4500' in r.body and b'"count": 1' in r.body, r
        r = c.read_response()
        assert (r.status, r.body) == (400, b"bad form: no close delimiter\n"), r
        c.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Type: application/"
               b"x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\na=1")
        assert b'"fields": [["a", "1", "1"]], "count": 1, "files": []' in c.read_response().body


def body_stream_traffic(k):
    """Bodies read as they arrive (bodyread): one whole, one paused and
    resumed, one over its limit (413, the reader's end), one answered while
    it arrives, and a client that leaves mid-body."""
    st, _, body = k.request("/body", method="POST", body=b"s" * 40000, timeout=SLOW)
    assert st == 200 and b'"len": 40000' in body, body
    with RawConn(k.port, timeout=SLOW) as c:
        c.send(b"POST /body/hold HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nabc")
        time.sleep(0.5)
        assert k.get_text("/body/release", timeout=SLOW) == (200, "released 1\n")
        c.send(b"def")
        assert b'"len": 6' in c.read_response().body
    with RawConn(k.port, timeout=SLOW) as c:
        c.send(b"POST /body/small HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3e9\r\n" + b"a" * 1001 + b"\r\n")
        assert c.read_response().status == 413
    with RawConn(k.port, timeout=SLOW) as c:
        c.send(b"POST /body/refuse HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\nabc")
        assert c.read_response().status == 409
    with RawConn(k.port, timeout=SLOW) as c:
        c.send(b"POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 9999\r\n\r\nabc")
        time.sleep(0.5)
    assert wait_until(lambda: k.get_text("/body/stats", timeout=SLOW)[1].startswith("live 0 "),
                      SLOW)


def redis_traffic(k):
    """A command answered (/counter), a reply of every type nested in one, and
    a command whose request leaves while it waits (its cancel, the reply
    dropped when it comes)."""
    name = "vg-%d-%d" % (os.getpid(), time.monotonic_ns())
    assert k.get_text("/counter/" + name, timeout=SLOW) == (200, "1\n")
    st, _, body = k.request("/redis/cmd", method="POST", timeout=SLOW,
                            body=b"|EVAL|return {1, 'x', {}, false, {err='E'}}|0")
    assert (st, body) == (200, b"array 5 [integer 1, string 1 x, array 0 [], nil, error E]\n")
    c = RawConn(k.port, timeout=SLOW)
    c.send(b"GET /redis/wait?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(0.2)
    c.close()
    k.wait_log(r"wait cancelled gone: cancel 0, again -1", timeout=SLOW)
    assert k.get_text("/counter/" + name, timeout=SLOW) == (200, "2\n")


def hash_traffic(k):
    """The hash plugin's jobs on the pool: a hash and its check.  (A client
    that leaves mid-hash is test_hash's, under ASan: under valgrind, which
    runs one thread at a time, the pool thread can finish a hash before the
    loop reads the client's FIN, so the cancel would be left to chance.)"""
    st, _, hashed = k.request("/hash", method="POST", body=b"valgrind", timeout=SLOW)
    assert st == 200 and hashed.startswith(b"$y$"), hashed
    st, _, body = k.request("/hash/verify", method="POST", body=b"valgrind\n" + hashed,
                            timeout=SLOW)
    assert (st, body) == (200, b"ok\n")


def pg_traffic(k):
    """Queries: rows, every getter, an error, and one cancelled on the server
    when its client leaves."""
    with RawConn(k.port, timeout=SLOW) as c:
        c.send(b"GET /row/5 HTTP/1.1\r\nHost: t\r\n\r\nGET /types HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /run/unique HTTP/1.1\r\nHost: t\r\n\r\nGET /db HTTP/1.1\r\n"
               b"Host: t\r\n\r\nGET /queries?n=3 HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().body.startswith(b"id=5 randomnumber=")
        assert c.read_response().body.startswith(b"rows=1 cols=14 error=none")
        assert c.read_response().body.startswith(b"error 23505 ")
        assert c.read_response().body.startswith(b'{"id":')
        assert c.read_response().body.startswith(b'[{"id":')
    mark = k.mark()
    c = RawConn(k.port, timeout=SLOW)
    c.send(b"GET /pg-sleep?s=5 HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(1)
    c.close()
    k.wait_log(r"pg_probe: sleep cancelled \(gone\): kiln_pg_cancel 0", timeout=SLOW, since=mark)
    with RawConn(k.port, timeout=SLOW) as c:
        c.send(b"GET /row/6 HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().body.startswith(b"id=6 randomnumber=")


def answers_traffic(k):
    """kiln_error, a redirect and cookies; JSON parsed and answered (the
    value the request owns freed at its end: on a kept-alive connection, in
    a pending request resumed from a timer, one whose client leaves), and
    the error answers of bad JSON."""
    st, _, body = k.request("/err/404", timeout=SLOW)
    assert (st, body) == (404, b"404 Not Found\n")
    assert k.request("/redirect/302?to=/x", timeout=SLOW)[0] == 302
    assert k.request("/cookies", timeout=SLOW)[2] == b"three\n"
    assert k.request("/json/null", timeout=SLOW)[0] == 500
    with RawConn(k.port, timeout=SLOW) as c:
        for doc in (b'{"a": [1, {"b": "\xc3\xbc"}]}', b'{"a": 1, "a": 2}', b"[" * 65, b""):
            c.send(b"POST /json/echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s"
                   % (len(doc), doc))
        assert c.read_response().body == b'{"got":{"a":[1,{"b":"\xc3\xbc"}]}}'
        for _ in range(3):
            assert c.read_response().status == 400
    st, _, body = k.request("/json/later?ms=20", method="POST", body=b'{"k": 1}', timeout=SLOW)
    assert (st, body) == (200, b'{"later":{"k":1}}')
    c = RawConn(k.port, timeout=SLOW)
    c.send(b"POST /json/later?ms=5000 HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\n\r\n[1,2,3]")
    time.sleep(0.3)
    c.close()
    k.wait_log(r"json later cancelled \(1\)", timeout=SLOW)


def stream_traffic(k):
    """A chunked stream from a timer, a known-length one started from a
    pending request with a request pipelined behind it, an SSE stream with a
    heartbeat whose client leaves (its cancel)."""
    with RawConn(k.port, timeout=SLOW) as c:
        c.send(b"GET /chunks?n=3&ms=20 HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /chunks?n=2&ms=20&len=1&defer=1 HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /sse/clock?n=2 HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().body == b"chunk 0\nchunk 1\nchunk 2\n"
        assert c.read_response().body == b"chunk 0\nchunk 1\n"
        assert c.read_response().body.count(b"event: tick") == 2
    c = RawConn(k.port, timeout=SLOW)
    c.send(b"GET /sse/beat HTTP/1.1\r\nHost: t\r\n\r\n")
    c._read_until(b": heartbeat", time.monotonic() + SLOW)
    c.close()
    k.wait_log(r"stream: sse cancelled gone after 0 events", timeout=SLOW)


def compress_traffic(k):
    """Gzipped bodies (tests/plugins/compress.c, kiln_compress() on): small,
    large (its output buffer given back), HEAD, a deferred one, one the
    client does not take, each decoded; a gzipped stream, and one whose
    client leaves (its deflate state freed by the cancel)."""
    want = lambda n: (b"the quick brown fox jumps over the lazy dog, again and again\n" * (n // 61 + 1))[:n]
    ae = b"Accept-Encoding: gzip\r\n"
    with RawConn(k.port, timeout=SLOW) as c:
        c.send(b"GET /body?n=3000&force=on HTTP/1.1\r\nHost: t\r\n" + ae + b"\r\n"
               b"GET /body?n=400000&force=on HTTP/1.1\r\nHost: t\r\n" + ae + b"\r\n"
               b"HEAD /body?n=3000&force=on HTTP/1.1\r\nHost: t\r\n" + ae + b"\r\n"
               b"GET /deferred?n=2000&force=on HTTP/1.1\r\nHost: t\r\n" + ae + b"\r\n"
               b"GET /body?n=2000&force=on HTTP/1.1\r\nHost: t\r\n\r\n")
        for n in (3000, 400000):
            r = c.read_response()
            assert r.header("content-encoding") == "gzip" and gzip.decompress(r.body) == want(n)
        r = c.read_response(head=True)
        assert (r.header("content-encoding"), r.header("content-length")) == ("gzip", None)
        assert gzip.decompress(c.read_response().body) == want(2000)
        assert c.read_response().body == want(2000)
        c.send(b"GET /stream?n=3&ms=20&force=on HTTP/1.1\r\nHost: t\r\n" + ae + b"\r\n")
        r = c.read_response()
        assert r.header("content-encoding") == "gzip" and len(gzip.decompress(r.body)) == 6000
    c = RawConn(k.port, timeout=SLOW)       # a gzipped stream whose client leaves
    c.send(b"GET /stream?n=50&ms=50&force=on HTTP/1.1\r\nHost: t\r\n" + ae + b"\r\n")
    c.read_response(head=True)
    c.close()


def files_traffic(k, root):
    """A file whole (its body by sendfile), one byte range of it, a 304."""
    data = bytes(range(256)) * 1024
    with open(os.path.join(root, "f.bin"), "wb") as f:
        f.write(data)
    with RawConn(k.port, timeout=SLOW) as c:
        c.send(b"GET /files/f.bin HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /files/f.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=-100\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.body) == (200, data)
        r2 = c.read_response()
        assert (r2.status, r2.body) == (206, data[-100:])
        c.send("GET /files/f.bin HTTP/1.1\r\nHost: t\r\nIf-None-Match: %s\r\n\r\n"
               % r.header("etag"))
        assert c.read_response().status == 304


def static_traffic(k, root):
    """The static plugin: a file, its gzip sibling, a 301, an index, a
    listing, a refused symbolic link and a traversal."""
    os.makedirs(os.path.join(root, "d"))
    with open(os.path.join(root, "s.txt"), "wb") as f:
        f.write(b"static\n")
    with open(os.path.join(root, "s.txt.gz"), "wb") as f:
        f.write(gzip.compress(b"static\n"))
    with open(os.path.join(root, "d", "index.html"), "wb") as f:
        f.write(b"<p>i</p>")
    os.symlink("/etc/passwd", os.path.join(root, "out"))
    with RawConn(k.port, timeout=SLOW) as c:
        c.send(b"GET /static/s.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br, gzip\r\n\r\n"
               b"GET /static/d HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /static/d/ HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /static/ HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /static/out HTTP/1.1\r\nHost: t\r\n\r\n"
               b"GET /static/%2e%2e/x HTTP/1.1\r\nHost: t\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.header("content-encoding")) == (200, "gzip")
        assert gzip.decompress(r.body) == b"static\n"
        assert c.read_response().status == 301
        assert c.read_response().body == b"<p>i</p>"
        assert b'href="s.txt"' in c.read_response().body
        assert c.read_response().status == 404
        assert c.read_response().status == 400


async def ws_traffic(k):
    """Echo, a client close, a server close, a message over ws_max_msg_size (1009)."""
    url = "ws://127.0.0.1:%d" % k.port
    kw = dict(open_timeout=SLOW, close_timeout=SLOW, ping_interval=None, max_size=None)
    async with websockets.connect(url + "/echo", **kw) as s:
        await s.send("valgrind")
        assert await asyncio.wait_for(s.recv(), SLOW) == "Hello, valgrind"
        await s.send(b"\x00\x01")
        assert await asyncio.wait_for(s.recv(), SLOW) == b"\x00\x01"
        await s.close(1000, "done")
    assert s.close_code == 1000
    async with websockets.connect(url + "/flood", **kw) as s:
        await s.send("close 4000 see you")
        assert await asyncio.wait_for(s.recv(), SLOW) == "bye"
        with pytest.raises(websockets.ConnectionClosed) as e:
            await asyncio.wait_for(s.recv(), SLOW)
        assert (e.value.code, e.value.reason) == (4000, "see you")
    async with websockets.connect(url + "/echo", **kw) as s:
        await s.send(b"y" * 70000)
        with pytest.raises(websockets.ConnectionClosed) as e:
            await asyncio.wait_for(s.recv(), SLOW)
        assert (e.value.code, e.value.reason) == (1009, "message too big")


def test_no_errors_or_leaks_under_valgrind(kiln_factory, redis_addr, pg_dsn, tmp_path):
    (tmp_path / "www").mkdir()              # the static plugin's root
    k = kiln_factory.make(start=False, plugins=("hello", "echo", "inspect", "ws_flood", "sleep",
                                                "pending", "counter", "redis_probe", "hash",
                                                "db", "pg_probe", "answers",
                                                "params", "reqinfo", "uploads",
                                                "stream", "files", "static", "bodyread",
                                                "compress"),
                          log_level="debug", sections={"redis": {"address": redis_addr},
                                                       "hash": {"cost": 6},
                                                       "files": {"root": str(tmp_path)},
                                                       "static": {"root": str(tmp_path / "www"),
                                                                  "listing": "on"},
                                                       "postgres": {"dsn": pg_dsn,
                                                                    "pool_size": 2}},
                          server={"workers": 1, "graceful_timeout": "20s",
                                  "max_uri_size": "1k", "max_header_size": "4k",
                                  "max_body_size": "8k", "header_timeout": "2s",
                                  "ws_max_msg_size": "64k",
                                  "upload_spool_size": "1k",
                                  "upload_dir": str(tmp_path),
                                  "trusted_proxies": "127.0.0.1 10.0.0.0/8"})
    # Definite and possible leaks are errors; what libraries keep reachable
    # until exit ("still reachable") is not.  No suppressions: neither kiln
    # nor libev, libwebsockets or zlib loses a block here.
    k.start(timeout=60, wrapper=[
        VALGRIND, "--child-silent-after-fork=no", "--leak-check=full",
        "--errors-for-leak-kinds=definite,possible", "--show-leak-kinds=definite,possible",
        "--log-file=" + os.path.join(k.dir, "vg.%p")])
    first, = k.wait_workers(1, timeout=SLOW)

    http_traffic(k)
    reqinfo_traffic(k)
    pending_traffic(k)
    params_traffic(k)
    body_stream_traffic(k)
    redis_traffic(k)
    hash_traffic(k)
    pg_traffic(k)
    asyncio.run(asyncio.wait_for(ws_traffic(k), 120))
    k.wait_log(r'flood closed 4000 "see you"', timeout=SLOW)

    # A killed worker is replaced, and the replacement serves.
    mark = k.mark()
    os.kill(first, signal.SIGKILL)
    k.wait_log(r"worker %d killed by signal 9" % first, timeout=SLOW, since=mark)
    replacement, = k.wait_workers(1, timeout=SLOW, exclude=(first,))
    k.wait_log(r"worker %d of generation 1 ready" % replacement, timeout=SLOW, since=mark)
    assert k.get_text("/Again", timeout=SLOW) == (200, "Hello, Again")

    # A reload: its plugin check, then generation 2, while the replacement drains.
    mark = k.mark()
    k.signal(signal.SIGHUP)
    check = int(k.wait_log(r"checking the plugins of .* in process (\d+)", timeout=SLOW,
                           since=mark).group(1))
    k.wait_ready(2, timeout=60, since=mark)
    m = k.wait_log(r"generation 2 ready: 1 workers \(pids (\d+)\)", since=mark)
    second = int(m.group(1))
    k.wait_log(r"generation 1 stopped", timeout=SLOW, since=mark)
    assert k.get_text("/", timeout=SLOW) == (200, "Hello, Anonymous")

    # A stop with a Redis command waiting for its reply, a query a request
    # waits for (answered before the worker exits) and one of no request
    # (answered 57P01 at the stop).  The JSON and multipart traffic runs in
    # this worker, whose exit valgrind checks for leaks (the first one is
    # killed).
    pg_traffic(k)
    answers_traffic(k)
    multipart_traffic(k)
    stream_traffic(k)
    files_traffic(k, str(tmp_path))
    static_traffic(k, str(tmp_path / "www"))
    compress_traffic(k)
    mark = k.mark()
    assert k.get_text("/redis/later?ms=0&cmd=wait", timeout=SLOW) == (200, "later\n")
    k.wait_log(r"later: WAIT sent, id yes", timeout=SLOW, since=mark)
    assert k.get_text("/orphan?s=10", timeout=SLOW) == (200, "sent\n")
    c = RawConn(k.port, timeout=SLOW)
    c.send(b"GET /pg-sleep?s=1 HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(0.3)
    assert k.stop(signal.SIGTERM, timeout=60) == 0, k.describe()
    assert c.read_response().body == b"slept\n"
    c.close()
    assert "later: reply error the worker is stopping" in k.log()[mark:], k.describe()
    assert "pg_probe: orphan: 57P01 the worker is stopping" in k.log()[mark:]
    logs = valgrind_logs(k.dir)
    # One log per process: the master, the killed worker (valgrind dies with
    # it, before any summary), its replacement, the reload's check, generation 2.
    assert set(logs) == {k.pid, first, replacement, check, second}, \
        (sorted(logs), k.pid, first, replacement, check, second)
    assert "ERROR SUMMARY" not in logs.pop(first)
    bad = bad_logs(logs)
    assert not bad, "\n\n".join("vg.%d:\n%s" % b for b in bad)
    for pid, text in logs.items():
        assert "no leaks are possible" in text or (
            "definitely lost: 0 bytes" in text and "possibly lost: 0 bytes" in text), \
            "vg.%d:\n%s" % (pid, text[-3000:])
