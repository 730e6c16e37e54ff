"""HTTP/1.1 to the letter of RFC 9110 and RFC 9112: header names and folds that could smuggle a request, Transfer-Encoding and Host rules, limits counted on what the client sent, versions, methods, and paths handed to plugins."""

import pytest

from conftest import KilnFactory, RawConn, server_read_all


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    f = KilnFactory(tmp_path_factory.mktemp("conformance"))
    k = f.make(plugins=("hello", "inspect"), server={"max_header_size": "16k"})
    yield k
    f.close()


def exchange(k, data, timeout=5.0):
    """Sends `data` on a new connection: (first response, the connection)."""
    c = RawConn(k.port, timeout)
    c.send(data)
    return c.read_response(), c


def refused(k, data, status=400):
    """`data` is answered `status` with Connection: close, and the connection
    ends with a FIN: whatever followed it is never read as a request."""
    r, c = exchange(k, data)
    with c:
        assert r.status == status, (data, r)
        assert (r.header("connection") or "").lower() == "close", r
        c.assert_fin()
    return r


def served(k, data):
    r, c = exchange(k, data)
    c.close()
    return r


# -- header names and folds ----------------------------------------------------------


SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize("line", [
    b"Content-Length : 38",
    b"Transfer-Encoding : chunked",
    b"Connection : close",
    b"Content-Length\t: 38",
    b"X Test: a",
    b"X\x7fTest: a",
    b"(X): a",
    b"X@Y: a",
    b": no name",
])
def test_header_name_not_a_token_is_400(srv, line):
    # RFC 9112 5.1: no whitespace between a field name and its colon; the name
    # is a token (RFC 9110 5.1).  A front end that drops the line and kiln
    # would disagree about where the next request starts.
    body = b"0\r\n\r\n" + SMUGGLED if b"chunked" in line else SMUGGLED
    refused(srv, b"POST /inspect/body HTTP/1.1\r\nHost: x\r\n" + line + b"\r\n\r\n" + body)


def test_token_characters_are_accepted(srv):
    r = served(srv, b"GET /inspect/header HTTP/1.1\r\nHost: x\r\n"
                    b"X-Test: v\r\n!#$%&'*+-.^_`|~09Az: odd but legal\r\n\r\n")
    assert (r.status, r.body) == (200, b"v")


@pytest.mark.parametrize("fold", [
    b"Content-Length:\r\n 33\r\n",                  # an empty value folded into a length
    b"Content-Length:\r\n\t33\r\n",
    b"X-Test:\r\n value\r\n",
    b"X-Test: a\r\n b\r\n",                          # a plain obs-fold
])
def test_obs_fold_is_400(srv, fold):
    refused(srv, b"POST /inspect/body HTTP/1.1\r\nHost: x\r\n" + fold + b"\r\n" + SMUGGLED)


# -- Transfer-Encoding ---------------------------------------------------------------


def test_http10_with_transfer_encoding_closes(srv):
    # RFC 9112 6.1: the connection must close after that message.
    r, c = exchange(srv, b"POST /inspect/body HTTP/1.0\r\nTransfer-Encoding: chunked\r\n"
                         b"Connection: keep-alive\r\n\r\n2\r\nhi\r\n0\r\n\r\n")
    with c:
        assert (r.status, r.body) == (200, b"hi")
        assert (r.header("connection") or "").lower() == "close", r
        c.assert_fin()


@pytest.mark.parametrize("te", [
    b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: chunked, chunked\r\n",
    b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
])
def test_chunked_twice_is_refused_in_either_form(srv, te):
    refused(srv, b"POST /inspect/body HTTP/1.1\r\nHost: x\r\n" + te + b"\r\n"
                 b"5\r\nhello\r\n0\r\n\r\n", status=501)


def test_trailer_split_across_reads(srv):
    with RawConn(srv.port) as c:
        c.send(b"POST /inspect/body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n0\r\nX-Trailer: one")
        server_read_all(srv.port, c.sock)   # the first half is read on its own
        c.send(b"-two\r\nX-More: 3\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.body) == (200, b"hello")
        c.send(b"GET /Bob HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().body == b"Hello, Bob"


# -- Host ---------------------------------------------------------------------------


@pytest.mark.parametrize("host", [
    b"",                                     # no Host header at all
    b"Host: a\r\nHost: b\r\n",
    b"Host: a b\r\n",
    b"Host: a/b\r\n",
    b"Host: a@b\r\n",
    b"Host: [::1\r\n",
])
def test_bad_or_missing_host_is_400(srv, host):
    refused(srv, b"GET /Ann HTTP/1.1\r\n" + host + b"\r\n")


@pytest.mark.parametrize("host", [b"example.com", b"example.com:8080", b"[::1]:80",
                                  b"127.0.0.1", b"xn--d1acufc.xn--p1ai", b""])
def test_valid_hosts_are_served(srv, host):
    r = served(srv, b"GET /Ann HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    assert (r.status, r.body) == (200, b"Hello, Ann")


def test_http10_needs_no_host(srv):
    assert served(srv, b"GET /Ann HTTP/1.0\r\n\r\n").status == 200


def test_absolute_form_authority_is_the_host(srv):
    # RFC 9112 3.2.2: the target's authority wins over the Host header.
    r = served(srv, b"GET http://real.example:81/inspect/headers HTTP/1.1\r\n"
                    b"Host: other.example\r\nX-A: 1\r\n\r\n")
    assert r.status == 200
    assert b"Host: real.example:81\n" in r.body and b"other.example" not in r.body, r.body


# -- limits -------------------------------------------------------------------------


def test_header_block_counts_whitespace(srv):
    # 79,000 spaces of padding in a value: what the client sent counts.
    refused(srv, b"GET /Ann HTTP/1.1\r\nHost: x\r\nX-Pad:" + b" " * 79000 + b"a\r\n\r\n",
            status=431)


def test_header_block_of_padding_only(srv):
    refused(srv, b"GET /Ann HTTP/1.1\r\nHost: x\r\nX-Pad:" + b" " * 40000 + b"\r\n\r\n",
            status=431)


def test_header_block_just_under_the_limit(srv):
    pad = 16 * 1024 - 200
    r = served(srv, b"GET /Ann HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * pad + b"\r\n\r\n")
    assert r.status == 200


# -- versions and methods ------------------------------------------------------------


@pytest.mark.parametrize("version", [b"HTTP/2.0", b"HTTP/3.0", b"HTTP/9.9"])
def test_unsupported_versions_are_505(srv, version):
    refused(srv, b"GET /Ann " + version + b"\r\nHost: x\r\n\r\n", status=505)


def test_http09_request_is_not_served(srv):
    with RawConn(srv.port) as c:
        c.send(b"GET /Ann\r\n\r\n")
        out = c.wait_closed(5)
    assert b"Hello, Ann" not in out
    assert out.startswith(b"HTTP/1.1 400 "), out


def test_http_1_2_is_served_as_1_1(srv):
    r = served(srv, b"GET /Ann HTTP/1.2\r\nHost: x\r\n\r\n")
    assert (r.status, r.version) == (200, "HTTP/1.1")


@pytest.mark.parametrize("method", [b"FOO", b"BREW", b"X-CUSTOM"])
def test_unknown_method_is_501(srv, method):
    refused(srv, method + b" /Ann HTTP/1.1\r\nHost: x\r\n\r\n", status=501)


def test_malformed_method_is_400(srv):
    refused(srv, b"G(T /Ann HTTP/1.1\r\nHost: x\r\n\r\n")


# -- paths handed to plugins ---------------------------------------------------------


@pytest.mark.parametrize("target", [
    b"/%2e%2e%2f%2e%2e%2fetc%2fpasswd",      # an encoded traversal in one segment
    b"/%2e%2e/etc/passwd",
    b"/inspect/items/%2e",
    b"/inspect/items/.%2E",
    b"/../etc/passwd",                       # climbs above the root
    b"/inspect/../../etc",
])
def test_traversal_is_400(srv, target):
    refused(srv, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")


@pytest.mark.parametrize("target, name", [
    (b"/inspect/./items/bob", b"bob"),
    (b"/inspect/x/../items/bob", b"bob"),
    (b"/a/b/../../inspect/items/bob", b"bob"),
    (b"/inspect/items/a%2Fb", b"a/b"),        # an encoded '/' stays in its segment
])
def test_dot_segments_are_removed_before_routing(srv, target, name):
    r = served(srv, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (r.status, r.body) == (200, b"name " + name), r


def test_dot_segments_seen_by_the_plugin(srv):
    r = served(srv, b"GET /inspect/x/./../request/y/../z HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.status == 200, r
    assert b"path=/inspect/request/z\n" in r.body, r.body
    # A trailing ".." leaves a trailing slash: /inspect/items/bob/.. is /inspect/items/
    r = served(srv, b"GET /inspect/items/bob/.. HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.status == 404, r


def test_fragment_is_not_part_of_the_path(srv):
    r = served(srv, b"GET /inspect/items/bob#frag HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (r.status, r.body) == (200, b"name bob")
    r = served(srv, b"GET /inspect/query?a=1#b=2 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.status == 200 and b"a=[1]" in r.body and b"b absent" in r.body, r.body
