"""gzip of buffered responses (worker/compress.c, tests/plugins/compress.c): compressed when Accept-Encoding takes gzip (raw bytes gunzipped here, curl --compressed, aiohttp's decoding), not when it is absent or q=0; Vary on every eligible response, merged with the handler's; gzip_min_length and gzip_types (small bodies and image/png untouched, parameters ignored); the handler's own Content-Encoding, 204/206/304 untouched; a weak ETag; HEAD; kiln_compress() on and off against the server setting; a deferred answer; streams: not compressed unless kiln_compress() asks, then deflated write by write (the first piece decoded before the second is written), chunked, HTTP/1.0, HEAD; many responses on one connection (the deflate state reset); config errors with file:line."""

import asyncio
import gzip
import re
import time
import urllib.parse
import zlib

import aiohttp
import pytest

from conftest import RawConn, curl

LINE = b"the quick brown fox jumps over the lazy dog, again and again\n"


def text(n):
    """The plugin's body of n bytes."""
    return (LINE * (n // len(LINE) + 1))[:n]


def make(kiln_factory, **server):
    return kiln_factory.make(plugins=("compress",), server=dict({"workers": 1}, **server))


def get(k, path, headers=None, method="GET"):
    """One request on a raw connection: the parsed response (header list kept)."""
    hdrs = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    with RawConn(k.port) as c:
        c.send("%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (method, path, hdrs))
        return c.read_response(head=method == "HEAD")


GZ = {"Accept-Encoding": "gzip"}


@pytest.fixture
def on(kiln_factory):
    return make(kiln_factory, gzip="on")


def assert_gzipped(r, want):
    assert r.status == 200, r
    assert r.header("content-encoding") == "gzip", r
    assert r.headers("vary") == ["Accept-Encoding"], r
    assert r.body[:2] == b"\x1f\x8b", r
    assert int(r.header("content-length")) == len(r.body) < len(want)
    assert gzip.decompress(r.body) == want


def assert_identity(r, want, vary=True):
    assert r.status == 200, r
    assert r.header("content-encoding") is None, r
    assert r.headers("vary") == (["Accept-Encoding"] if vary else []), r
    assert int(r.header("content-length")) == len(want)
    assert r.body == want


def test_gzip_when_accepted(on):
    assert_gzipped(get(on, "/body?n=4000", GZ), text(4000))
    for ae in ("gzip, deflate, br", "*", "x-gzip", "br;q=1, gzip;q=0.5", "identity;q=0, gzip;q=0.1",
               "GZIP", "deflate, gzip;q=1.0"):
        assert_gzipped(get(on, "/body?n=4000", {"Accept-Encoding": ae}), text(4000))


def test_identity_when_not_accepted_with_vary(on):
    assert_identity(get(on, "/body?n=4000"), text(4000))
    for ae in ("", "gzip;q=0", "identity", "br", "deflate", "*;q=0, identity", "gzip;q=0.5, identity",
               "gzip;q=bad"):
        assert_identity(get(on, "/body?n=4000", {"Accept-Encoding": ae}), text(4000))


def test_accept_encoding_over_several_lines(on):
    with RawConn(on.port) as c:
        c.send("GET /body?n=4000 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br\r\n"
               "Accept-Encoding: gzip\r\n\r\n")
        assert_gzipped(c.read_response(), text(4000))


def test_off_by_default(kiln_factory):
    k = make(kiln_factory)
    assert_identity(get(k, "/body?n=4000", GZ), text(4000), vary=False)


def test_min_length(kiln_factory, on):
    assert_identity(get(on, "/body?n=100", GZ), text(100), vary=False)
    assert_identity(get(on, "/body?n=1023", GZ), text(1023), vary=False)
    assert_gzipped(get(on, "/body?n=1024", GZ), text(1024))
    k = make(kiln_factory, gzip="on", gzip_min_length="10k")
    assert_identity(get(k, "/body?n=10000", GZ), text(10000), vary=False)
    assert_gzipped(get(k, "/body?n=10240", GZ), text(10240))
    zero = make(kiln_factory, gzip="on", gzip_min_length=0)
    assert_gzipped(get(zero, "/body?n=200", GZ), text(200))
    r = get(zero, "/body?n=0", GZ)             # nothing to compress: no coding
    assert (r.status, r.header("content-encoding"), r.header("content-length")) == (200, None, "0")


def test_types(kiln_factory, on):
    for t in ("text/html", "Text/HTML; charset=utf-8", "application/json",
              "application/json ; charset=utf-8", "application/javascript", "image/svg+xml",
              "application/xml", "text/css", "application/wasm", "application/problem+json",
              "application/atom+xml"):
        assert_gzipped(get(on, "/body?n=4000&type=" + urllib.parse.quote(t), GZ), text(4000))
    for t in ("image/png", "application/octet-stream", "application/gzip", "font/woff2",
              "video/mp4"):
        assert_identity(get(on, "/body?n=4000&type=" + t, GZ), text(4000), vary=False)
    anything = make(kiln_factory, gzip="on", gzip_types="*")
    assert_gzipped(get(anything, "/body?n=4000&type=image/png", GZ), text(4000))
    only = make(kiln_factory, gzip="on", gzip_types="application/json image/*")
    assert_gzipped(get(only, "/body?n=4000&type=application/json", GZ), text(4000))
    assert_gzipped(get(only, "/body?n=4000&type=image/png", GZ), text(4000))
    assert_identity(get(only, "/body?n=4000", GZ), text(4000), vary=False)


def test_handler_content_encoding_untouched(on):
    r = get(on, "/body?n=4000&ce=br", GZ)
    assert (r.header("content-encoding"), r.headers("vary"), r.body) == ("br", [], text(4000))
    r = get(on, "/body?n=4000&ce=identity", GZ)
    assert (r.header("content-encoding"), r.body) == ("identity", text(4000))


def test_vary_merged(on):
    r = get(on, "/body?n=4000&vary=Cookie", GZ)
    assert r.headers("vary") == ["Cookie, Accept-Encoding"]
    assert gzip.decompress(r.body) == text(4000)
    r = get(on, "/body?n=4000&vary=Cookie", {})
    assert r.headers("vary") == ["Cookie, Accept-Encoding"] and r.body == text(4000)
    for v in ("accept-encoding", "Cookie,Accept-Encoding", "*"):
        r = get(on, "/body?n=4000&vary=" + v, GZ)
        assert r.headers("vary") == [v], r
        assert r.header("content-encoding") == "gzip"


def test_etag_weakened(on):
    r = get(on, '/body?n=4000&etag="v1"', GZ)
    assert (r.header("etag"), r.header("content-encoding")) == ('W/"v1"', "gzip")
    r = get(on, '/body?n=4000&etag="v1"')
    assert (r.header("etag"), r.header("content-encoding")) == ('"v1"', None)
    r = get(on, '/body?n=4000&etag=W/"v1"', GZ)
    assert (r.header("etag"), r.header("content-encoding")) == ('W/"v1"', "gzip")


def test_head_has_get_headers_without_length(on):
    with RawConn(on.port) as c:
        c.send("HEAD /body?n=4000 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"
               "GET /body?n=4000 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
        h = c.read_response(head=True)
        g = c.read_response()
    assert h.status == 200 and h.body == b""
    assert (h.header("content-encoding"), h.headers("vary"), h.header("content-length")) == \
        ("gzip", ["Accept-Encoding"], None)
    assert_gzipped(g, text(4000))              # the connection went on: no body after the HEAD
    h = get(on, "/body?n=4000", method="HEAD")
    assert (h.header("content-encoding"), h.headers("vary"), h.header("content-length")) == \
        (None, ["Accept-Encoding"], "4000")


def test_statuses_without_a_body_untouched(on):
    for status in (204, 304):
        r = get(on, "/body?n=4000&status=%d" % status, GZ)
        assert r.status == status
        assert (r.header("content-encoding"), r.headers("vary"), r.header("content-length")) == \
            (None, [], None)
    r = get(on, "/body?n=4000&status=206", GZ)
    assert (r.status, r.header("content-encoding"), r.body) == (206, None, text(4000))
    for status in (201, 404, 500):              # other statuses with a body: compressed
        r = get(on, "/body?n=4000&status=%d" % status, GZ)
        assert (r.status, r.header("content-encoding")) == (status, "gzip")
        assert gzip.decompress(r.body) == text(4000)


def test_kiln_compress_overrides_the_server(kiln_factory, on):
    off = make(kiln_factory)
    assert_gzipped(get(off, "/body?n=4000&force=on", GZ), text(4000))
    # forced on: whatever the type and size, still only for a client taking gzip
    assert_gzipped(get(off, "/body?n=100&type=image/png&force=on", GZ), text(100))
    assert_identity(get(off, "/body?n=4000&force=on"), text(4000))
    assert_identity(get(off, "/body?n=4000&force=on", {"Accept-Encoding": "gzip;q=0"}), text(4000))
    # forced off on a server with gzip on: as it is, and no Vary
    assert_identity(get(on, "/body?n=4000&force=off", GZ), text(4000), vary=False)


def test_deferred_answer_compressed(on):
    assert_gzipped(get(on, "/deferred?n=5000", GZ), text(5000))
    assert_identity(get(on, "/deferred?n=5000"), text(5000))


PIECE = (LINE * 40)[:2000]


def read_chunk(c, deadline):
    size = int(c._read_until(b"\r\n", deadline)[:-2], 16)
    data = c._read_exact(size + 2, deadline)
    assert data[-2:] == b"\r\n"
    return data[:-2]


def test_stream_not_compressed_without_kiln_compress(on):
    """gzip = on leaves streams alone: a stream asks with kiln_compress()."""
    with RawConn(on.port) as c:
        c.send("GET /stream?n=2&ms=50 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
        r = c.read_response()
    assert (r.header("content-encoding"), r.headers("vary")) == (None, [])
    assert r.body == PIECE * 2


def test_compressed_stream_arrives_piece_by_piece(kiln_factory):
    """kiln_compress(req, 1) before kiln_stream(): each write is deflated with
    a sync flush, so the first piece decodes before the handler writes the
    second."""
    k = make(kiln_factory)
    with RawConn(k.port) as c:
        c.send("GET /stream?n=3&ms=600&force=on HTTP/1.1\r\nHost: x\r\n"
               "Accept-Encoding: gzip\r\n\r\n")
        r = c.read_response(head=True)
        assert (r.header("transfer-encoding"), r.header("content-encoding"),
                r.headers("vary"), r.header("content-length")) == \
            ("chunked", "gzip", ["Accept-Encoding"], None)
        t0 = time.monotonic()
        z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        first = read_chunk(c, t0 + 2)
        assert first[:2] == b"\x1f\x8b" and len(first) < len(PIECE)
        assert z.decompress(first) == PIECE       # all of it, before the next write
        assert time.monotonic() - t0 < 0.45
        rest = b""
        while True:
            chunk = read_chunk(c, t0 + 5)
            if not chunk:
                break
            rest += chunk
        assert time.monotonic() - t0 > 1.0         # the later pieces came from the timer
        assert z.decompress(rest) == PIECE * 2 and z.eof
        assert gzip.decompress(first + rest) == PIECE * 3
        c.send("GET /body?n=10 HTTP/1.1\r\nHost: x\r\n\r\n")   # the connection goes on
        assert c.read_response().body == text(10)


def test_compressed_stream_variants(kiln_factory):
    k = make(kiln_factory)
    # not taken by the client: as written, and Vary says why
    r = get(k, "/stream?n=2&ms=20&force=on")
    assert (r.header("content-encoding"), r.headers("vary"), r.body) == \
        (None, ["Accept-Encoding"], PIECE * 2)
    # a declared length is the identity one: the gzip body goes chunked
    r = get(k, "/stream?n=2&ms=20&force=on&len=1", GZ)
    assert (r.header("content-encoding"), r.header("content-length"),
            r.header("transfer-encoding")) == ("gzip", None, "chunked")
    assert gzip.decompress(r.body) == PIECE * 2
    r = get(k, "/stream?n=2&ms=20&len=1", GZ)
    assert (r.header("content-length"), r.body) == ("4000", PIECE * 2)
    # HTTP/1.0: the close ends the gzip body
    with RawConn(k.port) as c:
        c.send("GET /stream?n=2&ms=20&force=on HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n")
        r = c.read_response()
    assert (r.header("content-encoding"), r.header("transfer-encoding")) == ("gzip", None)
    assert gzip.decompress(r.body) == PIECE * 2
    # HEAD: the headers, no body, no length
    r = get(k, "/stream?n=2&ms=20&force=on", GZ, method="HEAD")
    assert (r.header("content-encoding"), r.header("content-length")) == ("gzip", None)
    # curl and aiohttp decode it
    rc, out, err = curl("--compressed", k.url + "/stream?n=3&ms=20&force=on")
    assert (rc, out) == (0, PIECE * 3), err

    async def fetch():
        async with aiohttp.ClientSession() as s:
            async with s.get(k.url + "/stream?n=3&ms=20&force=on") as r:
                return r.headers["Content-Encoding"], await r.read()
    assert asyncio.run(fetch()) == ("gzip", PIECE * 3)


def test_many_responses_on_one_connection(on):
    """The worker's one deflate state, reset between responses of every size."""
    sizes = [4000, 300000, 1500, 2 * 1024 * 1024, 5000, 1100]
    with RawConn(on.port, timeout=10) as c:
        for n in sizes:
            c.send("GET /body?n=%d HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n" % n)
            assert_gzipped(c.read_response(), text(n))
        c.send("".join("GET /body?n=%d HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n" % n
                       for n in sizes))        # pipelined: one write for the batch
        for n, r in zip(sizes, c.read_responses(len(sizes))):
            assert_gzipped(r, text(n))


def test_level(kiln_factory):
    """gzip_level reaches zlib: level 9 is smaller than level 1 on the same body."""
    sizes = {}
    for level in (1, 9):
        k = make(kiln_factory, gzip="on", gzip_level=level)
        r = get(k, "/body?n=200000", GZ)
        assert gzip.decompress(r.body) == text(200000)
        sizes[level] = len(r.body)
    assert sizes[9] < sizes[1], sizes


def test_curl(on):
    rc, out, err = curl("--compressed", on.url + "/body?n=6000")
    assert (rc, out) == (0, text(6000)), err
    rc, out, err = curl("-i", "-H", "Accept-Encoding: gzip", on.url + "/body?n=6000")
    assert rc == 0, err
    head, _, body = out.partition(b"\r\n\r\n")
    assert re.search(rb"(?im)^content-encoding: gzip\r?$", head), head
    assert re.search(rb"(?im)^vary: accept-encoding\r?$", head), head
    assert zlib.decompress(body, 16 + zlib.MAX_WBITS) == text(6000)
    rc, out, err = curl("-i", on.url + "/body?n=6000")
    head, _, body = out.partition(b"\r\n\r\n")
    assert body == text(6000) and b"ontent-Encoding" not in head


def test_aiohttp_client(on):
    async def fetch():
        async with aiohttp.ClientSession() as s:
            async with s.get(on.url + "/body?n=8000&type=application/json") as r:
                return r.status, dict(r.headers), await r.read()
    status, headers, body = asyncio.run(fetch())
    assert status == 200
    assert (headers["Content-Encoding"], headers["Vary"]) == ("gzip", "Accept-Encoding")
    assert int(headers["Content-Length"]) < 8000
    assert body == text(8000)


@pytest.mark.parametrize("key,value,message", [
    ("gzip", "maybe", 'gzip: expected on or off, got "maybe"'),
    ("gzip_level", "0", 'gzip_level: expected a number from 1 to 9, got "0"'),
    ("gzip_level", "fast", 'gzip_level: expected a number from 1 to 9, got "fast"'),
    ("gzip_min_length", "1q", 'gzip_min_length: expected a size like 512, 8k, 1m or 1g'),
    ("gzip_types", "text/html,text/css", 'gzip_types: "text/html,text/css" is not type/subtype'),
    ("gzip_types", "html", 'gzip_types: "html" is not type/subtype'),
])
def test_config_errors_name_file_and_line(kiln_factory, key, value, message):
    k = kiln_factory.make(start=False, plugins=("compress",), server={key: value})
    rc, out = k.check()
    lines = k.config_text().splitlines()
    line = next(i for i, l in enumerate(lines, 1) if l.startswith(key + " ="))
    assert rc != 0
    assert "%s:%d: %s" % (k.conf, line, message) in out, out
