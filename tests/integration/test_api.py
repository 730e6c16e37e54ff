"""Tests of the plugin API as seen through the inspect test plugin's routes."""

import pytest

from conftest import KilnFactory, raw_exchange


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    f = KilnFactory(tmp_path_factory.mktemp("api"))
    k = f.make(plugins=("hello", "inspect"), sections={"inspect": {"greeting": "hi"}})
    yield k
    f.close()


@pytest.mark.parametrize("qs,expected", [
    ("a=1", "a=[1]\nb absent\n"),
    ("a=x+y%21&b=2", "a=[x y!]\nb=[2]\n"),
    ("b=%C3%BC&a=%2B", "a=[+]\nb=[\u00fc]\n"),
    ("a&b=", "a=[]\nb=[]\n"),
    ("a=first&a=second", "a=[first]\nb absent\n"),
    ("", "a absent\nb absent\n"),
    ("c=3", "a absent\nb absent\n"),
])
def test_query(srv, qs, expected):
    st, text = srv.get_text("/inspect/query" + ("?" + qs if qs else ""))
    assert st == 200
    assert text == expected


def test_request_accessors(srv):
    st, text = srv.get_text("/inspect/request/a%20b?x=1&y=%20")
    assert st == 200
    assert text == ("method=GET\npath=/inspect/request/a b\n"
                    "target=/inspect/request/a%20b?x=1&y=%20\nquery=x=1&y=%20\n")


@pytest.mark.parametrize("name", ["x-test", "X-Test", "X-TEST", "x-TeSt"])
def test_header_case_insensitive(srv, name):
    r, = raw_exchange(srv.port, ("GET /inspect/header HTTP/1.1\r\nHost: t\r\n%s: value %s\r\n\r\n"
                                 % (name, name)).encode())
    assert r.status == 200
    assert r.text == "value " + name


def test_header_absent_and_first(srv):
    st, _, body = srv.request("/inspect/header")
    assert (st, body) == (200, b"no x-test")
    r, = raw_exchange(srv.port, b"GET /inspect/header HTTP/1.1\r\nHost: t\r\n"
                      b"X-Test: one\r\nx-test: two\r\n\r\n")
    assert r.text == "one"


def test_header_list(srv):
    r, = raw_exchange(srv.port, b"GET /inspect/headers HTTP/1.1\r\nHost: t\r\n"
                      b"X-A: 1\r\nx-b:   spaced\r\n\r\n")
    assert r.status == 200
    assert r.text == "Host: t\nX-A: 1\nx-b: spaced\n"


@pytest.mark.parametrize("path,expected", [
    ("/inspect/items/42", "item 42"),
    ("/inspect/items/0", "item 0"),
    ("/inspect/items/abc", "name abc"),
    ("/inspect/items/42a", "name 42a"),
    ("/inspect/items/%34%32", "item 42"),
    ("/inspect/items/J%C3%BCrgen", "name J\u00fcrgen"),
])
def test_regex_before_param(srv, path, expected):
    assert srv.get_text(path) == (200, expected)


@pytest.mark.parametrize("path,expected", [
    ("/inspect/files/a/b/c.txt", (200, "files [a/b/c.txt]")),
    ("/inspect/files/one", (200, "files [one]")),
    ("/inspect/files/dir/", (200, "files [dir/]")),
    ("/inspect/files/", (200, "files []")),
    ("/inspect/files/a%20b/%C3%BC", (200, "files [a b/\u00fc]")),
    ("/inspect/files/a/./b/../c", (200, "files [a/c]")),
    ("/inspect/files", (404, "404 Not Found\n")),
    ("/inspect/files/a%2Fb", (404, "404 Not Found\n")),
    ("/inspect/files/x/a%2fb/y", (404, "404 Not Found\n")),
    ("/inspect/files/x/%2e%2e/y", (400, "400 Bad Request\n")),
])
def test_tail_capture(srv, path, expected):
    # {path:*} takes the rest of the path, decoded and with dot-segments
    # removed, never across an encoded slash.
    assert srv.get_text(path) == expected


def test_route_misses(srv):
    assert srv.request("/inspect/items")[0] == 404
    assert srv.request("/inspect/items/1/2")[0] == 404


def test_routes_across_plugins(srv):
    # Routes of two plugins live side by side in one router.
    st, _, body = srv.request("/inspect/empty")
    assert st == 204
    assert body == b""
    assert srv.get_text("/inspect") == (200, "Hello, inspect")


def test_config_value(srv):
    assert srv.get_text("/inspect/config") == (200, "hi")


def test_config_default(kiln_factory):
    k = kiln_factory.make(plugins=("inspect",))
    assert k.get_text("/inspect/config") == (200, "none")


@pytest.mark.parametrize("code", [201, 202, 299, 418, 503])
def test_custom_status_and_header(srv, code):
    st, hdrs, body = srv.request("/inspect/status/%d" % code, method="POST", body=b"")
    assert st == code
    assert hdrs["x-custom"] == "yes"
    assert body == ("status %d" % code).encode()


def test_invalid_status_is_500(srv):
    st, hdrs, _ = srv.request("/inspect/status/999", method="POST", body=b"")
    assert st == 500
    assert "x-custom" not in hdrs


def test_status_route_regex(srv):
    assert srv.request("/inspect/status/abc", method="POST", body=b"")[0] == 404


def test_put(srv):
    st, _, body = srv.request("/inspect/method", method="PUT", body=b"data")
    assert (st, body) == (200, b"put")
    st, hdrs, _ = srv.request("/inspect/method")
    assert st == 405
    assert hdrs["allow"] == "PUT"


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "PATCH", "OPTIONS"])
def test_any_method(srv, method):
    st, _, body = srv.request("/inspect/any", method=method, body=b"" if method != "GET" else None)
    assert (st, body) == (200, method.encode())


def test_handler_error_and_empty(srv):
    st, _, _ = srv.request("/inspect/fail")
    assert st == 500
    st, hdrs, body = srv.request("/inspect/empty")
    assert st == 204
    assert body == b""
    # The server keeps serving after a handler failure.
    assert srv.get_text("/") == (200, "Hello, Anonymous")
