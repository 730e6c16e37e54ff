"""Who is asking, and how: kiln_peer_addr(), kiln_remote(), kiln_scheme(), kiln_host() and kiln_http_version() as real clients (raw sockets, curl, aiohttp) see them (tests/plugins/reqinfo.c echoes them), Forwarded and X-Forwarded-* ignored from an untrusted peer and read from a trusted one (nginx realip's recursive rule), trusted_proxies errors; and per-route body limits (kiln_route_max_body) above and below max_body_size, with Content-Length and chunked bodies, from raw sockets, curl and aiohttp."""

import asyncio
import os
import re
import socket

import aiohttp
import pytest

from conftest import RawConn, curl, parse_curl_i

TRUSTED = "127.0.0.1, 10.0.0.0/8, ::1, fd00::/8"


def make(kiln_factory, trusted=None, start=True, **server):
    if trusted is not None:
        server["trusted_proxies"] = trusted
    return kiln_factory.make(plugins=("reqinfo",), start=start,
                             server=dict({"max_body_size": "1k"}, **server))


def info(port, headers=(), version="1.1", host="127.0.0.1"):
    """GET /reqinfo over a raw socket: the plugin's lines as a dict."""
    with RawConn(port, host=host) if host == "127.0.0.1" else RawConn6(port) as c:
        c.send("GET /reqinfo HTTP/%s\r\nHost: kiln.test\r\n%s\r\n"
               % (version, "".join("%s: %s\r\n" % h for h in headers)))
        r = c.read_response()
    assert r.status == 200, r
    out = {}
    for line in r.body.decode().splitlines():
        for part in line.split(" "):
            k, _, v = part.partition("=")
            out[k] = v
    return out


class RawConn6(RawConn):
    """RawConn over IPv6 loopback."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(("::1", port))
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        self.reset = False


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# -- the peer, the version ---------------------------------------------------------


def test_peer_address_and_port_as_the_client_sees_them(kiln_factory):
    k = make(kiln_factory)
    with socket.create_connection(("127.0.0.1", k.port)) as s:
        s.sendall(b"GET /reqinfo HTTP/1.1\r\nHost: kiln.test\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        port = s.getsockname()[1]
    body = data.partition(b"\r\n\r\n")[2].decode()
    assert "peer=127.0.0.1 port=%d\n" % port in body, body
    assert "remote=127.0.0.1\n" in body and "scheme=http\n" in body, body
    assert "host=kiln.test\n" in body, body
    # curl says the same of its own end
    rc, out, err = curl("-w", "\nlocal=%{local_ip}:%{local_port}",
                        "http://127.0.0.1:%d/reqinfo" % k.port)
    assert rc == 0, err
    m = re.search(r"peer=(\S+) port=(\d+)", out.decode())
    assert "local=%s:%s" % m.groups() in out.decode(), out


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback (::1)")
def test_peer_over_ipv6(kiln_factory):
    k = make(kiln_factory, listen="127.0.0.1:0 [::1]:0")
    port6 = int(k.wait_log(r"listening on \[::1\]:(\d+)").group(1))
    with RawConn6(port6) as c:
        c.send("GET /reqinfo HTTP/1.1\r\nHost: [::1]:%d\r\n\r\n" % port6)
        r = c.read_response()
        port = c.sock.getsockname()[1]
    assert r.status == 200, r
    assert b"peer=::1 port=%d\n" % port in r.body, r.body
    assert b"remote=::1\n" in r.body and b"host=[::1]:%d\n" % port6 in r.body, r.body
    # ::1 is trusted when listed
    k2 = make(kiln_factory, trusted="::1", listen="127.0.0.1:0 [::1]:0")
    port6 = int(k2.wait_log(r"listening on \[::1\]:(\d+)").group(1))
    with RawConn6(port6) as c:
        c.send("GET /reqinfo HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 2001:db8::7\r\n\r\n")
        assert b"remote=2001:db8::7\n" in c.read_response().body


def test_peer_on_a_unix_socket(kiln_factory):
    path = os.path.join(kiln_factory.base, "k.sock")
    k = make(kiln_factory, trusted="0.0.0.0/0 ::/0", listen="127.0.0.1:0 unix:" + path)
    k.wait_log(r"listening on unix:")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        s.sendall(b"GET /reqinfo HTTP/1.0\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    body = data.partition(b"\r\n\r\n")[2]
    # a Unix peer is never a trusted proxy, and has no Host either
    assert body == b"peer=unix port=0\nremote=unix\nscheme=http\nhost=\nversion=10\n", body


def test_http_version(kiln_factory):
    k = make(kiln_factory)
    assert info(k.port, version="1.0")["version"] == "10"
    assert info(k.port, version="1.1")["version"] == "11"
    rc, out, err = curl("--http1.0", "http://127.0.0.1:%d/reqinfo" % k.port)
    assert b"version=10\n" in out, (out, err)
    rc, out, err = curl("http://127.0.0.1:%d/reqinfo" % k.port)
    assert b"version=11\n" in out, (out, err)


def test_absolute_form_target_is_the_host(kiln_factory):
    k = make(kiln_factory)
    with RawConn(k.port) as c:
        c.send("GET http://other.test:81/reqinfo HTTP/1.1\r\nHost: kiln.test\r\n\r\n")
        assert b"host=other.test:81\n" in c.read_response().body


# -- forwarding headers -------------------------------------------------------------

SPOOF = [("Forwarded", 'for=192.0.2.1;proto=https;host=evil.test'),
         ("X-Forwarded-For", "192.0.2.2"), ("X-Forwarded-Proto", "https"),
         ("X-Forwarded-Host", "evil.test")]


def test_headers_ignored_without_trusted_proxies(kiln_factory):
    k = make(kiln_factory)
    for h in SPOOF:
        got = info(k.port, [h])
        assert (got["remote"], got["scheme"], got["host"]) == \
            ("127.0.0.1", "http", "kiln.test"), (h, got)


def test_headers_ignored_when_the_peer_is_not_listed(kiln_factory):
    k = make(kiln_factory, trusted="10.0.0.0/8 ::1 127.0.0.2")
    got = info(k.port, SPOOF[1:])
    assert (got["remote"], got["scheme"], got["host"]) == ("127.0.0.1", "http", "kiln.test")


def test_forwarded_honoured_from_a_trusted_proxy(kiln_factory):
    k = make(kiln_factory, trusted=TRUSTED)
    got = info(k.port, [("Forwarded", 'for=192.0.2.60;proto=https;host="shop.test:8443"')])
    assert (got["remote"], got["scheme"], got["host"]) == ("192.0.2.60", "https", "shop.test:8443")
    assert got["peer"] == "127.0.0.1"
    got = info(k.port, [("Forwarded", 'for="[2001:db8:cafe::17]:4711"')])
    assert (got["remote"], got["scheme"], got["host"]) == ("2001:db8:cafe::17", "http", "kiln.test")
    assert info(k.port, [("Forwarded", "for=unknown")])["remote"] == "unknown"
    assert info(k.port, [("Forwarded", "for=_gw1")])["remote"] == "_gw1"
    # Forwarded wins over X-Forwarded-For
    got = info(k.port, [("Forwarded", "for=192.0.2.61"), ("X-Forwarded-For", "192.0.2.62")])
    assert got["remote"] == "192.0.2.61"


def test_x_forwarded_honoured_from_a_trusted_proxy(kiln_factory):
    k = make(kiln_factory, trusted=TRUSTED)
    got = info(k.port, SPOOF[1:])
    assert (got["remote"], got["scheme"], got["host"]) == ("192.0.2.2", "https", "evil.test")
    # the rightmost proto/host (what the peer wrote); only http(s); a valid host
    got = info(k.port, [("X-Forwarded-Proto", "http, HTTPS"), ("X-Forwarded-Host", "a.test, b.test")])
    assert (got["scheme"], got["host"]) == ("https", "b.test")
    got = info(k.port, [("X-Forwarded-Proto", "gopher"), ("X-Forwarded-Host", "bad host")])
    assert (got["scheme"], got["host"]) == ("http", "kiln.test")
    # curl through the same rules
    rc, out, err = curl("-H", "X-Forwarded-For: 198.51.100.9", "-H", "X-Forwarded-Proto: https",
                        "http://127.0.0.1:%d/reqinfo" % k.port)
    assert b"remote=198.51.100.9\nscheme=https\n" in out, (out, err)


def test_recursive_rule_and_spoofed_leftmost_entries(kiln_factory):
    k = make(kiln_factory, trusted=TRUSTED)
    # trusted hops are skipped from the right; what the client put left of
    # itself is never read
    xff = info(k.port, [("X-Forwarded-For", "6.6.6.6, 203.0.113.5, 10.1.1.1, 127.0.0.1")])
    assert xff["remote"] == "203.0.113.5"
    fwd = info(k.port, [("Forwarded", "for=6.6.6.6;proto=https;host=evil.test"),
                        ("Forwarded", "for=203.0.113.5;proto=http;host=real.test, for=10.1.1.1")])
    assert (fwd["remote"], fwd["scheme"], fwd["host"]) == ("203.0.113.5", "http", "real.test")
    # X-Forwarded-For fields are one list, in order
    two = info(k.port, [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "203.0.113.6, 10.0.0.9")])
    assert two["remote"] == "203.0.113.6"
    # every hop trusted: the leftmost
    assert info(k.port, [("X-Forwarded-For", "10.9.9.9, 10.0.0.1")])["remote"] == "10.9.9.9"
    # garbage left of the client does not matter either
    assert info(k.port, [("X-Forwarded-For", "not an address, 203.0.113.7")])["remote"] == \
        "203.0.113.7"


@pytest.mark.parametrize("name, value", [
    ("Forwarded", "for="),
    ("Forwarded", 'for="[2001:db8::1'),
    ("Forwarded", "for=[2001:db8::1]"),
    ("Forwarded", "garbage"),
    ("Forwarded", "for=192.0.2.1;for=192.0.2.2"),
    ("Forwarded", "proto=https"),
    ("Forwarded", ",".join(["for=10.0.0.1"] * 40)),
    ("X-Forwarded-For", "203.0.113.9, garbage"),
    ("X-Forwarded-For", "203.0.113.9:"),
    ("X-Forwarded-For", "[2001:db8::1"),
    ("X-Forwarded-For", ", ,,,"),
    ("X-Forwarded-For", ",".join(["10.0.0.1"] * 40)),
    ("X-Forwarded-For", "1" * 2000),
])
def test_malformed_headers_fall_back_to_the_peer(kiln_factory, name, value):
    k = make(kiln_factory, trusted=TRUSTED)
    got = info(k.port, [(name, value), ("X-Forwarded-Proto", "https")] if name == "Forwarded"
               else [(name, value)])
    assert got["remote"] == "127.0.0.1", got
    if name == "Forwarded":
        assert got["scheme"] == "http", got     # X-Forwarded-* not read beside it


def test_bad_trusted_proxies_is_a_config_error_naming_the_line(kiln_factory):
    k = make(kiln_factory, trusted="127.0.0.1, 10.0.0.0/33", start=False)
    rc, out = k.check()
    lines = k.config_text().splitlines()
    line = next(i for i, l in enumerate(lines, 1) if l.startswith("trusted_proxies"))
    assert rc != 0, out
    assert "%s:%d: trusted_proxies: \"10.0.0.0/33\" is not an address or a prefix" \
        % (k.conf, line) in out, out
    k.server["trusted_proxies"] = "::1 fd00::/8 192.168.0.0/16"
    k.write_config()
    rc, out = k.check()
    assert rc == 0, out


# -- per-route body limits -------------------------------------------------------------


def post_raw(port, path, body, chunked=False, chunk=10):
    with RawConn(port) as c:
        if chunked:
            c.send("POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" % path)
            for i in range(0, len(body), chunk):
                part = body[i:i + chunk]
                c.send(b"%x\r\n%s\r\n" % (len(part), part))
            c.send(b"0\r\n\r\n")
        else:
            c.send(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                   % (path.encode(), len(body), body))
        r = c.read_response()
        if r.status == 413:
            c.assert_fin()
        return r.status, r.body


@pytest.mark.parametrize("chunked", [False, True])
def test_route_body_limits_over_raw_sockets(kiln_factory, chunked):
    k = make(kiln_factory)          # max_body_size 1k
    p = k.port
    cases = [("/reqinfo/big", 3000, 200), ("/reqinfo/big", 4096, 200), ("/reqinfo/big", 4097, 413),
             ("/reqinfo/small", 16, 200), ("/reqinfo/small", 17, 413),
             ("/reqinfo/default", 1024, 200), ("/reqinfo/default", 1025, 413),
             ("/reqinfo/none", 0, 200), ("/reqinfo/none", 1, 413)]
    for path, n, status in cases:
        st, body = post_raw(p, path, b"x" * n, chunked=chunked, chunk=100 if n > 100 else 5)
        assert st == status, (path, n, chunked, st, body)
        if status == 200:
            assert body == b"%d\n" % n


def test_route_body_limit_refuses_before_the_body(kiln_factory):
    # Content-Length over the route's limit: 413 before a byte of the body
    # is sent, and the connection closed
    k = make(kiln_factory)
    with RawConn(k.port) as c:
        c.send("POST /reqinfo/small HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n")
        r = c.read_response()
        assert r.status == 413 and r.header("connection").lower() == "close", r
        c.assert_fin()
    # above max_body_size but within the route's: the server waits for the body
    with RawConn(k.port) as c:
        c.send("POST /reqinfo/big HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n")
        c.assert_open(0.5)
        c.send(b"y" * 2000)
        assert c.read_response().body == b"2000\n"
    # chunked: answered once the chunks pass the limit, before the last one
    with RawConn(k.port) as c:
        c.send("POST /reqinfo/small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "a\r\n0123456789\r\n")
        c.assert_open(0.3)
        c.send("a\r\n0123456789\r\n")
        assert c.read_response().status == 413
        c.assert_fin()


@pytest.mark.parametrize("chunked", [False, True])
def test_route_body_limits_with_curl(kiln_factory, tmp_path, chunked):
    k = make(kiln_factory)
    extra = ["-H", "Transfer-Encoding: chunked"] if chunked else []
    for path, n, status in [("/reqinfo/big", 3000, 200), ("/reqinfo/big", 5000, 413),
                            ("/reqinfo/small", 16, 200), ("/reqinfo/small", 40, 413),
                            ("/reqinfo/default", 2000, 413)]:
        f = tmp_path / ("body%d" % n)
        f.write_bytes(b"z" * n)
        rc, out, err = curl("-i", "--data-binary", "@%s" % f, *extra,
                            "http://127.0.0.1:%d%s" % (k.port, path))
        responses, body = parse_curl_i(out)
        assert responses and responses[-1][0] == status, (path, n, out, err)
        if status == 200:
            assert body == b"%d\n" % n
        else:
            assert responses[-1][1]["connection"].lower() == "close"


def test_route_body_limit_for_a_route_of_no_one_refuses_the_plugin(kiln_factory):
    k = kiln_factory.make(plugins=("reqinfo",), sections={"reqinfo": {"bad": "yes"}}, start=False)
    rc, out = k.check()
    assert rc != 0, out
    assert "reqinfo: route_max_body(POST /elsewhere): no such route of this plugin" in out, out


# -- the same through aiohttp's client --------------------------------------------------


def parse_info(text):
    out = {}
    for line in text.splitlines():
        for part in line.split(" "):
            key, _, v = part.partition("=")
            out[key] = v
    return out


def test_identity_and_forwarding_through_aiohttp(kiln_factory):
    """aiohttp's connection as kiln sees it (the source port it was given),
    the Host it sends, and a proxy's Forwarded honoured only when the peer
    is trusted."""
    plain = make(kiln_factory)
    proxied = make(kiln_factory, trusted=TRUSTED)

    async def run():
        got = {}
        with socket.socket() as probe:          # a source port aiohttp is told to use
            probe.bind(("127.0.0.1", 0))
            local = probe.getsockname()
        conn = aiohttp.TCPConnector(local_addr=local)
        async with aiohttp.ClientSession(connector=conn) as s:
            async with s.get(plain.url + "/reqinfo") as r:
                got["plain"] = (parse_info(await r.text()), local)
        async with aiohttp.ClientSession() as s:
            fwd = {"Forwarded": 'for="[2001:db8::9]";proto=https;host=shop.test',
                   "X-Forwarded-For": "192.0.2.99"}
            for name, k in (("ignored", plain), ("honoured", proxied)):
                async with s.get(k.url + "/reqinfo", headers=fwd) as r:
                    got[name] = parse_info(await r.text())
        return got
    got = asyncio.run(asyncio.wait_for(run(), 20))
    info_, local = got["plain"]
    assert (info_["peer"], info_["port"]) == (local[0], str(local[1]))
    assert (info_["remote"], info_["scheme"], info_["host"], info_["version"]) == \
        ("127.0.0.1", "http", "127.0.0.1:%d" % plain.port, "11")
    assert (got["ignored"]["remote"], got["ignored"]["scheme"]) == ("127.0.0.1", "http")
    h = got["honoured"]
    assert (h["remote"], h["scheme"], h["host"], h["peer"]) == \
        ("2001:db8::9", "https", "shop.test", "127.0.0.1")


@pytest.mark.parametrize("chunked", [False, True])
def test_route_body_limits_through_aiohttp(kiln_factory, chunked):
    """aiohttp posting (a bytes body, or chunked from a generator) under and
    over each route's limit: the length back, or the 413 with its close."""
    k = make(kiln_factory)

    async def run():
        out = []
        async with aiohttp.ClientSession() as s:
            for path, n in (("/reqinfo/big", 4096), ("/reqinfo/big", 4500),
                            ("/reqinfo/small", 16), ("/reqinfo/small", 17),
                            ("/reqinfo/default", 1024), ("/reqinfo/default", 1500)):
                async def gen(n=n):
                    for i in range(0, n, 500):
                        yield b"q" * min(500, n - i)
                data = gen() if chunked else b"q" * n
                async with s.post(k.url + path, data=data) as r:
                    out.append((path, n, r.status, r.headers.get("Connection", "").lower(),
                                await r.text()))
        return out
    for path, n, status, connection, text in asyncio.run(asyncio.wait_for(run(), 30)):
        limit = {"/reqinfo/big": 4096, "/reqinfo/small": 16, "/reqinfo/default": 1024}[path]
        if n <= limit:
            assert (status, text) == (200, "%d\n" % n), (path, n, status, text)
        else:
            assert (status, connection) == (413, "close"), (path, n, status, text)
