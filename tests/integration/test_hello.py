"""End-to-end tests of the hello plugin through curl, aiohttp and raw sockets."""

import asyncio
import datetime
import email.utils
import re
import time

import aiohttp
import pytest

from conftest import RawConn, curl, parse_curl_i, raw_exchange


@pytest.fixture
def server(kiln_factory):
    return kiln_factory.make(plugins=("hello",))


@pytest.mark.parametrize("path,body", [
    ("/", "Hello, Anonymous"),
    ("/Alice", "Hello, Alice"),
    ("/J%C3%BCrgen", "Hello, Jürgen"),
])
def test_curl_get(server, path, body):
    rc, out, err = curl("-i", server.url + path)
    assert rc == 0, err
    responses, data = parse_curl_i(out)
    assert len(responses) == 1
    status, headers = responses[0]
    assert status == 200
    assert data.decode("utf-8") == body
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["content-length"] == str(len(body.encode("utf-8")))
    assert_date_is_now(headers["date"])


def assert_date_is_now(value, slack=5.0):
    """`value` is an IMF-fixdate (RFC 9110: "Sun, 06 Nov 1994 08:49:37 GMT")
    within `slack` seconds of now."""
    assert re.match(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|"
                    r"Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$", value), value
    when = email.utils.parsedate_to_datetime(value)
    # the same instant written back: the weekday matches the date
    assert email.utils.format_datetime(when, usegmt=True) == value, value
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((when - now).total_seconds()) <= slack, "Date %s, now %s" % (value, now)


def test_aiohttp(server):
    async def run():
        out = []
        async with aiohttp.ClientSession() as s:
            for path in ("/", "/Alice", "/J%C3%BCrgen", "/a/b"):
                async with s.get(server.url + path) as r:
                    out.append((r.status, r.headers.get("Content-Type"), await r.text()))
        return out

    got = asyncio.run(run())
    assert got[0] == (200, "text/plain; charset=utf-8", "Hello, Anonymous")
    assert got[1] == (200, "text/plain; charset=utf-8", "Hello, Alice")
    assert got[2] == (200, "text/plain; charset=utf-8", "Hello, Jürgen")
    assert got[3][0] == 404


def test_unknown_path_404(server):
    rc, out, err = curl("-i", server.url + "/a/b")
    assert rc == 0, err
    (status, headers), = parse_curl_i(out)[0]
    assert status == 404
    st, _, _ = server.request("/a/b/c")
    assert st == 404


def test_post_not_allowed(server):
    rc, out, err = curl("-i", "-X", "POST", "--data", "x=1", server.url + "/")
    assert rc == 0, err
    (status, headers), = parse_curl_i(out)[0]
    assert status == 405
    assert headers["allow"] == "GET, HEAD"
    st, hdrs, _ = server.request("/Alice", method="DELETE")
    assert st == 405
    assert hdrs["allow"] == "GET, HEAD"


def test_date_follows_the_clock(server):
    """The head of a 200 is built once a second and reused: its Date moves
    on with the clock, on one connection and on the next."""
    def date_of(c):
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        return email.utils.parsedate_to_datetime(r.header("date"))

    with RawConn(server.port) as c:
        first = date_of(c)
        time.sleep(2.2)
        second = date_of(c)
    with RawConn(server.port) as c:
        time.sleep(1.1)
        third = date_of(c)
    assert (second - first).total_seconds() >= 2
    assert (third - second).total_seconds() >= 1
    assert_date_is_now(email.utils.format_datetime(third, usegmt=True))


def test_head(server):
    r, = raw_exchange(server.port, b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n", head=True)
    assert r.status == 200
    assert r.header("content-length") == "16"
    assert r.header("content-type") == "text/plain; charset=utf-8"
    assert_date_is_now(r.header("date"))
    # Nothing may follow the header block: the bytes right after the HEAD
    # response must be the status line of the next pipelined request's answer.
    with RawConn(server.port) as c:
        c.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\nGET /Bob HTTP/1.1\r\nHost: t\r\n\r\n")
        h = c.read_response(head=True)
        assert h.status == 200
        assert h.header("content-length") == "16"
        g = c.read_response()
        assert g.status == 200
        assert g.body == b"Hello, Bob"


def test_curl_head(server):
    rc, out, err = curl("-I", server.url + "/")
    assert rc == 0, err
    responses, data = parse_curl_i(out)
    assert responses[0][0] == 200
    assert responses[0][1]["content-length"] == "16"
    assert data == b""


def test_pidfile(server):
    with open(server.pidfile) as f:
        assert int(f.read().strip()) == server.pid
    assert len(server.worker_pids()) == 2
