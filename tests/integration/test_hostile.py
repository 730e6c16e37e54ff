"""Hostile and unusual HTTP input: smuggling attempts, folded headers, odd targets and clients that never let go, each with the answer kiln owes them."""

import time

import pytest

from conftest import KilnFactory, RawConn


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    f = KilnFactory(tmp_path_factory.mktemp("hostile"))
    k = f.make(plugins=("hello", "echo", "inspect", "ws_auth"),
               server={"keepalive_timeout": "1s", "header_timeout": "1s"})
    k.initial_workers = k.wait_workers(2)
    yield k
    f.close()


def test_upgrade_request_with_a_body_larger_than_a_read(srv):
    """An Upgrade to a protocol kiln does not speak, on a plain route, with a
    body that spans several reads: the body is the body, not more requests."""
    inner = b"POST /inspect/any?smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    body = b"A" * 20000 + inner
    head = (b"POST /inspect/body HTTP/1.1\r\nHost: x\r\nUpgrade: foo\r\n"
            b"Connection: Upgrade\r\nContent-Length: %d\r\n\r\n" % len(body))
    with RawConn(srv.port) as c:
        c.send(head + body)
        r = c.read_response()
        assert r.status == 200
        assert r.body == body
        # what follows is HTTP again, on the same connection
        c.send(b"GET /Bob HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert (r.status, r.body) == (200, b"Hello, Bob")


def test_websocket_upgrade_with_a_body_is_refused(srv):
    req = (b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           b"Content-Length: 5\r\n\r\nhello")
    with RawConn(srv.port) as c:
        c.send(req)
        r = c.read_response()
        assert r.status == 400
        assert (r.header("connection") or "").lower() == "close", r
        c.assert_fin(3)


def test_plain_get_of_a_websocket_route_does_not_run_open(srv):
    """Without an upgrade the answer is 426; the route's open() (which would
    refuse this request with 403) is not consulted."""
    with RawConn(srv.port) as c:
        c.send(b"GET /auth/room HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert r.status == 426
        assert r.header("upgrade") == "websocket"
        # a plain 426 keeps the connection
        c.send(b"GET /Ann HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().body == b"Hello, Ann"


def test_folded_header_is_400(srv):
    with RawConn(srv.port) as c:
        c.send(b"GET /inspect/header HTTP/1.1\r\nHost: x\r\nX-Test: abc\r\n defgh\r\n\r\n")
        r = c.read_response()
        assert r.status == 400
        assert r.header("connection") == "close"
        c.assert_fin(3)


def test_absolute_form_authority_ends_at_question_mark(srv):
    with RawConn(srv.port) as c:
        c.send(b"GET http://evil?/inspect/request/admin HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
    # the path is "/", so the hello plugin answers; nothing reached /inspect
    assert (r.status, r.body) == (200, b"Hello, Anonymous")


def test_absolute_form_with_a_path(srv):
    with RawConn(srv.port) as c:
        c.send(b"GET http://h.example:8080/inspect/request/x?a=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
    assert r.status == 200
    assert b"path=/inspect/request/x\n" in r.body
    assert b"query=a=1\n" in r.body


@pytest.mark.parametrize("request_bytes, status", [
    (b"HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413),
    (b"HEAD / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
])
def test_head_errors_have_no_body(srv, request_bytes, status):
    # The same error to a GET, for the length its body has.
    with RawConn(srv.port) as c:
        c.send(request_bytes.replace(b"HEAD", b"GET", 1))
        g = c.read_response()
        assert g.status == status and g.body, g
    with RawConn(srv.port) as c:
        c.send(request_bytes)
        r = c.read_response(head=True)
        assert r.status == status
        assert r.header("content-length") == str(len(g.body)), (r, g)
        assert (r.header("connection") or "").lower() == "close", r
        # nothing but the close follows the header block
        c.assert_fin(3)


def test_interim_status_from_a_handler_is_500(srv):
    """A handler cannot end a request with a 1xx: the client would wait."""
    with RawConn(srv.port) as c:
        c.send(b"POST /inspect/status/100 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        r = c.read_response()
    assert r.status == 500


def test_bare_crlfs_do_not_keep_a_connection_open(srv):
    """Empty lines between requests are tolerated, but do not reset the idle
    clock: the keep-alive timeout (1 s here) still closes the connection."""
    with RawConn(srv.port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().status == 200
        t0 = time.monotonic()
        how = False
        while not how and time.monotonic() - t0 < 6:
            try:
                c.sock.sendall(b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                how = "rst"             # only a reset makes a send fail
                break
            how = c.closed_within(0.25)
        assert how, "a connection fed only CRLFs stayed open"
        assert how == "fin", "a connection fed only CRLFs was reset, not closed"
        assert time.monotonic() - t0 < 4   # 1 s idle, then the FIN at once


def test_input_after_close_is_not_buffered(srv):
    """After a "Connection: close" request, whatever the client keeps sending
    is not parsed or answered: exactly one response, then the close."""
    with RawConn(srv.port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" +
               b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n" * 50)
        r = c.read_response()
        assert r.status == 200
        assert r.header("connection") == "close"
        c.assert_fin(3)
        assert c.buf == b""


def test_still_serving(srv):
    assert srv.get_text("/") == (200, "Hello, Anonymous")
    assert sorted(srv.worker_pids()) == sorted(srv.initial_workers)
