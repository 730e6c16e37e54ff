"""HTTP/1.x protocol tests: keep-alive, pipelining, 100-continue, bodies, limits and timeouts."""

import asyncio
import time

import aiohttp
import pytest

from conftest import KilnFactory, RawConn, curl, parse_curl_i, raw_exchange

LIMITS = {
    "max_uri_size": "1k",
    "max_header_size": "4k",
    "max_headers": 20,
    "max_body_size": "1k",
    "header_timeout": "1s",
    "body_timeout": "1s",
    "keepalive_timeout": "1s",
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    f = KilnFactory(tmp_path_factory.mktemp("http"))
    k = f.make(plugins=("hello", "inspect"), server=LIMITS)
    k.initial_workers = k.wait_workers(2)
    yield k
    f.close()


def get(path, extra=""):
    return ("GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n" % (path, extra)).encode()


# -- connections ------------------------------------------------------------------


def test_keepalive_raw(srv):
    with RawConn(srv.port) as c:
        for name in ("A", "B", "C", "D"):
            c.send(get("/" + name))
            r = c.read_response()
            assert r.status == 200
            assert r.body == ("Hello, " + name).encode()
            assert (r.header("connection") or "").lower() != "close"
        c.assert_open(0.2)


def test_keepalive_curl(srv):
    rc, out, err = curl("-v", srv.url + "/", srv.url + "/Bob", srv.url + "/Carol")
    assert rc == 0, err
    assert out == b"Hello, AnonymousHello, BobHello, Carol"
    assert err.count("Re-using existing connection") == 2, err
    assert "Connected to" in err and err.count("Connected to") == 1, err


def test_keepalive_aiohttp(srv):
    async def run():
        created = []
        trace = aiohttp.TraceConfig()

        async def on_create(session, ctx, params):
            created.append(1)

        trace.on_connection_create_end.append(on_create)
        bodies = []
        conn = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=conn, trace_configs=[trace]) as s:
            for i in range(5):
                async with s.get("%s/n%d" % (srv.url, i)) as r:
                    bodies.append((r.status, await r.text()))
        return len(created), bodies

    n, bodies = asyncio.run(run())
    assert bodies == [(200, "Hello, n%d" % i) for i in range(5)]
    assert n == 1


def test_pipelining(srv):
    with RawConn(srv.port) as c:
        c.send(get("/one") + get("/two") + get("/three"))
        rs = c.read_responses(3)
    assert [r.status for r in rs] == [200, 200, 200]
    assert [r.body for r in rs] == [b"Hello, one", b"Hello, two", b"Hello, three"]


def test_pipelining_mixed_methods(srv):
    with RawConn(srv.port) as c:
        c.send(b"POST /inspect/body HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
               + get("/x")
               + b"PUT /inspect/method HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
        rs = c.read_responses(3)
    assert [(r.status, r.body) for r in rs] == [(200, b"abc"), (200, b"Hello, x"), (200, b"put")]


def test_http10_closes(srv):
    with RawConn(srv.port) as c:
        c.send(b"GET /Old HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.body == b"Hello, Old"
        c.assert_fin(2)


def test_http10_keepalive(srv):
    with RawConn(srv.port) as c:
        c.send(b"GET /Old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.header("connection").lower() == "keep-alive"
        assert r.header("content-length") == "10"
        c.assert_open(0.3)
        c.send(b"GET /Again HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.body == b"Hello, Again"


def test_connection_close(srv):
    with RawConn(srv.port) as c:
        c.send(get("/Bye", "Connection: close\r\n"))
        r = c.read_response()
        assert r.status == 200
        assert r.body == b"Hello, Bye"
        assert r.header("connection").lower() == "close"
        c.assert_fin(2)


# -- bodies -----------------------------------------------------------------------


def test_expect_continue_raw(srv):
    with RawConn(srv.port) as c:
        c.send(b"POST /inspect/body HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
               b"Expect: 100-continue\r\n\r\n")
        r = c.read_response()
        assert r.status == 100
        assert r.raw.startswith(b"HTTP/1.1 100 Continue\r\n")
        c.send(b"hello")
        r = c.read_response()
        assert r.status == 200
        assert r.body == b"hello"
        assert r.header("x-body-length") == "5"


def test_expect_continue_curl(srv):
    rc, out, err = curl("-i", "-v", "-H", "Expect: 100-continue", "--data", "hello",
                        srv.url + "/inspect/body")
    assert rc == 0, err
    assert "HTTP/1.1 100 Continue" in err
    responses, body = parse_curl_i(out)
    assert responses[-1][0] == 200
    assert responses[-1][1]["x-body-length"] == "5"
    assert body == b"hello"


def test_chunked_upload(srv):
    with RawConn(srv.port) as c:
        c.send(b"POST /inspect/body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b"5\r\nhello\r\n", b"8\r\n, chun", b"ks\r\n", b"1;ext=1\r\n!\r\n", b"0\r\n\r\n"):
            c.send(piece)
            time.sleep(0.02)
        r = c.read_response()
    assert r.status == 200
    assert r.body == b"hello, chunks!"
    assert r.header("x-body-length") == "14"


def test_content_length_body_binary(srv):
    data = bytes(range(256)) * 3
    st, hdrs, body = srv.request("/inspect/body", method="POST", body=data)
    assert st == 200
    assert body == data
    assert hdrs["x-body-length"] == "768"
    assert hdrs["content-type"] == "application/octet-stream"


def test_empty_body(srv):
    r, = raw_exchange(srv.port, b"POST /inspect/body HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
    assert r.status == 200
    assert r.header("x-body-length") == "0"
    assert r.body == b""


# -- limits and errors --------------------------------------------------------------


def expect_error(port, data, status, closes=True):
    """Sends `data` on a new connection: the answer is `status`.  With `closes`
    it says "Connection: close" and a FIN follows; without, the connection
    stays open and answers the next request."""
    with RawConn(port) as c:
        c.send(data)
        r = c.read_response()
        assert r.status == status, r
        if closes:
            assert (r.header("connection") or "").lower() == "close", r
            c.assert_fin(2)
        else:
            assert (r.header("connection") or "").lower() != "close", r
            c.send(get("/Next"))
            n = c.read_response()
            assert (n.status, n.body) == (200, b"Hello, Next"), n
    return r


def test_malformed_request_line(srv):
    expect_error(srv.port, b"BOGUS\r\n\r\n", 400)
    expect_error(srv.port, b"GET / HTTP/1.1 trailing\r\nHost: t\r\n\r\n", 400)


def test_malformed_header(srv):
    expect_error(srv.port, b"GET / HTTP/1.1\r\nHost t\r\n\r\n", 400)


def test_uri_limit(srv):
    ok = srv.request("/inspect/request/" + "a" * 900)
    assert ok[0] == 200
    expect_error(srv.port, get("/" + "a" * 1500), 414)


def test_header_size_limit(srv):
    st, _, body = srv.request("/inspect/header", headers={"X-Test": "b" * 2000})
    assert (st, body) == (200, b"b" * 2000)
    expect_error(srv.port, get("/", "X-Big: %s\r\n" % ("x" * 6000)), 431)


def test_too_many_headers(srv):
    few = "".join("X-H%d: v\r\n" % i for i in range(15))
    r, = raw_exchange(srv.port, get("/", few))
    assert r.status == 200
    many = "".join("X-H%d: v\r\n" % i for i in range(30))
    expect_error(srv.port, get("/", many), 431)


def test_body_limit_content_length(srv):
    ok = srv.request("/inspect/body", method="POST", body=b"y" * 1000)
    assert ok[0] == 200 and ok[1]["x-body-length"] == "1000"
    expect_error(srv.port, b"POST /inspect/body HTTP/1.1\r\nHost: t\r\n"
                 b"Content-Length: 2000\r\n\r\n", 413)


def test_body_limit_expect_continue(srv):
    with RawConn(srv.port) as c:
        c.send(b"POST /inspect/body HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n"
               b"Expect: 100-continue\r\n\r\n")
        r = c.read_response()
        assert r.status == 413, "expected 413 without 100 Continue first, got %r" % r
        assert (r.header("connection") or "").lower() == "close", r
        c.assert_fin(2)


def test_body_limit_chunked(srv):
    chunk = b"200\r\n" + b"z" * 512 + b"\r\n"
    with RawConn(srv.port) as c:
        c.send(b"POST /inspect/body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               + chunk * 3 + b"0\r\n\r\n")
        r = c.read_response()
        assert r.status == 413
        assert (r.header("connection") or "").lower() == "close", r
        c.assert_fin(2)


def test_transfer_encoding_gzip(srv):
    expect_error(srv.port, b"POST /inspect/body HTTP/1.1\r\nHost: t\r\n"
                 b"Transfer-Encoding: gzip\r\n\r\n", 501)


def test_bad_percent_escape(srv):
    # A target that does not decode is a bad request like any other: closed.
    expect_error(srv.port, get("/%zz"), 400)
    expect_error(srv.port, get("/%4"), 400)


def test_route_misses_keep_the_connection(srv):
    # A handler-level answer, not a broken request: the next one is served.
    expect_error(srv.port, get("/a/b/c"), 404, closes=False)
    expect_error(srv.port, b"DELETE /Alice HTTP/1.1\r\nHost: t\r\n\r\n", 405, closes=False)


# -- timeouts ---------------------------------------------------------------------


def test_header_timeout(srv):
    with RawConn(srv.port) as c:
        t0 = time.monotonic()
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\n")
        r = c.read_response(timeout=5)
        elapsed = time.monotonic() - t0
        assert r.status == 408
        assert 0.8 <= elapsed < 4, elapsed
        assert (r.header("connection") or "").lower() == "close", r
        c.assert_fin(2)


def test_body_timeout(srv):
    with RawConn(srv.port) as c:
        t0 = time.monotonic()
        c.send(b"POST /inspect/body HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        r = c.read_response(timeout=5)
        elapsed = time.monotonic() - t0
        assert r.status == 408
        assert 0.8 <= elapsed < 4, elapsed
        assert (r.header("connection") or "").lower() == "close", r
        c.assert_fin(2)


def test_keepalive_timeout(srv):
    with RawConn(srv.port) as c:
        c.send(get("/"))
        assert c.read_response().status == 200
        t0 = time.monotonic()
        c.assert_fin(5)
        elapsed = time.monotonic() - t0
        assert 0.8 <= elapsed < 4, elapsed


# -- last: nothing above hurt the server ------------------------------------------------


def test_zz_still_serving(srv):
    assert srv.get_text("/") == (200, "Hello, Anonymous")
    assert srv.worker_pids() == srv.initial_workers
    assert "generation 2" not in srv.log()
