"""Tests of the router through the routes test plugin: typed captures, named routes and URL building, mounts, path normalization, kiln -t --routes."""

import re
import socket

import pytest

from conftest import KilnFactory, run_kiln


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    f = KilnFactory(tmp_path_factory.mktemp("router"))
    k = f.make(plugins=("routes",))
    yield k
    f.close()


@pytest.mark.parametrize("path,expected", [
    ("/notes/1", "note 1"),
    ("/notes/-42", "note -42"),
    ("/notes/0007", "note 7"),
    ("/notes/9223372036854775807", "note 9223372036854775807"),
    ("/notes/-9223372036854775808", "note -9223372036854775808"),
])
def test_int_capture(srv, path, expected):
    assert srv.get_text(path) == (200, expected)


@pytest.mark.parametrize("path", [
    "/notes/abc", "/notes/1x", "/notes/+1", "/notes/-", "/notes/1.5", "/notes/%201",
    "/notes/9223372036854775808", "/notes/-9223372036854775809",
    "/notes/99999999999999999999999",
])
def test_int_capture_refuses(srv, path):
    st, _ = srv.get_text(path)
    assert st == 404


@pytest.mark.parametrize("value,expected", [
    ("17", "17"), ("-3", "-3"), ("x", "-1"), ("12x", "-1"), ("99999999999999999999", "-1"),
])
def test_match_int_of_a_plain_capture(srv, value, expected):
    assert srv.get_text("/int/" + value) == (200, expected)


@pytest.mark.parametrize("path,expected", [
    ("/users/bob", "/users/{name} user"),
    ("/notes/3/files/a/b", "/notes/{id:int}/files/{path:*} note_file"),
    ("/plain", "/plain -"),
])
def test_route_pattern_and_name(srv, path, expected):
    assert srv.get_text(path) == (200, expected)


@pytest.mark.parametrize("query,expected", [
    ("note?id=42", "/notes/42"),
    ("note?id=-1", "/notes/-1"),
    ("user?name=a%20b", "/users/a%20b"),
    ("user?name=a%2Fb", "/users/a%2Fb"),
    ("user?name=%C3%BC%3F%23%25", "/users/%C3%BC%3F%23%25"),
    ("user?name=x:y@z", "/users/x:y@z"),
    ("note_file?id=7&path=d%20e/f.txt", "/notes/7/files/d%20e/f.txt"),
    ("note_file?path=&id=7", "/notes/7/files/"),
    ("about", "/about/"),
])
def test_url_for(srv, query, expected):
    assert srv.get_text("/url/" + query) == (200, expected)


def test_url_for_round_trip(srv):
    """The URL built for a value leads back to a route that captures it as it was."""
    st, url = srv.get_text("/url/user?name=%C3%BC%20%2F%3F%25")
    assert st == 200
    assert srv.get_text(url) == (200, "/users/{name} user")
    st, url = srv.get_text("/url/note_file?id=1&path=a%20b/c%3Fd")
    assert srv.get_text(url) == (200, "/notes/{id:int}/files/{path:*} note_file")


@pytest.mark.parametrize("query,reason", [
    ("nope", "url_for(nope): no route has this name"),
    ("note", "url_for(note): /notes/{id:int}: no value for {id}"),
    ("note?id=1&x=2", "url_for(note): /notes/{id:int}: parameter 'x' names no capture"),
    ("note?id=abc", "url_for(note): /notes/{id:int}: {id:int} is 'abc', not an integer"),
    ("note?id=99999999999999999999", "not an integer"),
    ("user?name=", "url_for(user): /users/{name}: {name} has an empty value"),
    ("user?name=..", "{name} is '..', a dot-segment"),
    ("-", "url_for((null)): no route has this name"),
])
def test_url_for_refuses(srv, query, reason):
    since = srv.mark()
    assert srv.get_text("/url/" + query) == (500, "NULL")
    srv.wait_log(r"routes: .*" + re.escape(reason), since=since)


def test_route_name_taken_by_another_plugin(kiln_factory):
    k = kiln_factory.make(start=False, plugins=("routes", "routes_b"),
                          sections={"routes_b": {"builtin": "no", "add": "GET /other note"}})
    rc, out = k.check()
    assert rc != 0, out
    assert ("routes_b: route_name(note): route name 'note' is taken by "
            "GET /notes/{id:int} of plugin routes") in out, out


def test_route_name_twice_in_one_plugin(kiln_factory):
    k = kiln_factory.make(start=False, plugins=("routes",),
                          sections={"routes": {"add": "GET /a x, GET /b x"}})
    rc, out = k.check()
    assert rc != 0, out
    assert "routes: route_name(x): route name 'x' is taken by GET /a" in out, out


@pytest.fixture(scope="module")
def mounted(tmp_path_factory):
    f = KilnFactory(tmp_path_factory.mktemp("router_mount"))
    k = f.make(plugins=("routes", "hello"), sections={"routes": {"mount": "/api/v1   /api/v2"}})
    yield k
    f.close()


@pytest.mark.parametrize("prefix", ["/api/v1", "/api/v2"])
def test_mount_serves_under_each_prefix(mounted, prefix):
    assert mounted.get_text(prefix + "/notes/1") == (200, "note 1")
    assert mounted.get_text(prefix + "/users/x") == (200, prefix + "/users/{name} user")
    assert mounted.get_text(prefix + "/about/") == (200, prefix + "/about/ about")
    st, _ = mounted.get_text(prefix + "/notes/x")
    assert st == 404


def test_mount_not_without_prefix(mounted):
    st, _ = mounted.get_text("/notes/1")
    assert st == 404
    st, _ = mounted.get_text("/notes/1/files/a")
    assert st == 404
    assert mounted.get_text("/bob") == (200, "Hello, bob")     # another plugin, unmounted


@pytest.mark.parametrize("prefix", ["/api/v1", "/api/v2"])
def test_mount_route_settings_under_each_prefix(mounted, prefix):
    """kiln_route_max_body(POST /small, 4) holds for the route under every prefix."""
    st, _, body = mounted.request(prefix + "/small", method="POST", body=b"1234")
    assert (st, body) == (200, (prefix + "/small -").encode())
    st, _, _ = mounted.request(prefix + "/small", method="POST", body=b"12345")
    assert st == 413


@pytest.mark.parametrize("prefix", ["/api/v1", "/api/v2"])
def test_mount_url_for_under_the_current_prefix(mounted, prefix):
    assert mounted.get_text(prefix + "/url/note?id=5") == (200, prefix + "/notes/5")
    assert mounted.get_text(prefix + "/url/note_file?id=5&path=a/b") == \
        (200, prefix + "/notes/5/files/a/b")


@pytest.mark.parametrize("value,why", [
    ("api", "prefix 'api' does not start with '/'"),
    ("/api/v1 /api/", "prefix '/api/' ends with '/'"),
    ("/", "prefix '/' ends with '/'"),
    ("/api/{v}", "prefix '/api/{v}' has a brace"),
    ("/a//b", "has an empty, '.' or '..' segment"),
    ("/a/..", "has an empty, '.' or '..' segment"),
    ("/a%20b", "must percent-encode"),
])
def test_mount_config_errors(kiln_factory, value, why):
    k = kiln_factory.make(start=False, plugins=("routes",), sections={"routes": {"mount": value}})
    rc, out = k.check()
    assert rc != 0, out
    line = k.config_text().splitlines().index("mount = " + value) + 1
    assert "%s:%d: [routes] mount: %s" % (k.conf, line, why) in out or \
        ("%s:%d: [routes] mount:" % (k.conf, line) in out and why in out), out


def normalizing(kiln_factory, **server):
    return kiln_factory.make(plugins=("routes",), server=server)


def location(k, path, method="GET"):
    st, h, _ = k.request(path, method=method)
    return st, h.get("location")


def test_append_slash(kiln_factory):
    k = normalizing(kiln_factory, normalize_path="append_slash")
    assert location(k, "/about") == (308, "/about/")
    assert location(k, "/about?a=1&b=%20") == (308, "/about/?a=1&b=%20")
    assert location(k, "/about", method="POST") == (404, None)     # no POST route there
    assert location(k, "/plain") == (200, None)
    assert location(k, "/nothing") == (404, None)
    assert location(k, "//about") == (404, None)                    # merge_slashes is off
    assert location(k, "/users/a%20b/") == (404, None)


def test_remove_slash(kiln_factory):
    k = normalizing(kiln_factory, normalize_path="remove_slash")
    assert location(k, "/plain/") == (308, "/plain")
    assert location(k, "/users/a%2Fb/?x") == (308, "/users/a%2Fb?x")
    assert location(k, "/about/") == (200, None)
    assert location(k, "/about") == (404, None)
    assert k.get_text("/users/a%2Fb") == (200, "/users/{name} user")


def test_merge_slashes(kiln_factory):
    k = normalizing(kiln_factory, merge_slashes="on")
    assert location(k, "//users///bob") == (308, "/users/bob")
    assert location(k, "/notes//1?q=1") == (308, "/notes/1?q=1")
    assert location(k, "/about") == (404, None)


def test_merge_slashes_and_append(kiln_factory):
    k = normalizing(kiln_factory, merge_slashes="on", normalize_path="append_slash")
    assert location(k, "//about") == (308, "/about/")
    assert location(k, "//plain") == (308, "/plain")                # merged only


def test_normalize_off_by_default(srv):
    assert location(srv, "/about") == (404, None)
    assert location(srv, "//plain") == (404, None)


@pytest.mark.parametrize("key,value,why", [
    ("normalize_path", "yes", "normalize_path: expected off, append_slash or remove_slash"),
    ("merge_slashes", "maybe", "merge_slashes: expected on or off"),
])
def test_normalize_config_errors(kiln_factory, key, value, why):
    k = kiln_factory.make(start=False, plugins=("routes",), server={key: value})
    rc, out = k.check()
    assert rc != 0 and why in out, out


def list_routes(k):
    """`kiln -t --routes`: (rc, the route lines split in columns, all the output)."""
    rc, out, err = run_kiln(["-t", "--routes", "-c", k.conf], cwd=k.dir)
    rows = [line.split() for line in out.splitlines()]
    return rc, rows, out + err + k.log()


def test_list_routes(kiln_factory):
    k = kiln_factory.make(start=False, plugins=("routes", "routes_b", "ws_exact"),
                          sections={"routes": {"mount": "/v1 /v2"},
                                    "routes_b": {"builtin": "no",
                                                 "add": "POST /b/{x:int} b_post, GET /b/{y}"}})
    rc, rows, out = list_routes(k)
    assert rc == 0, out
    assert rows[0] == ["METHOD", "PATTERN", "PLUGIN", "NAME"]
    assert ["GET", "/v1/notes/{id:int}", "routes", "note"] in rows
    assert ["GET", "/v2/notes/{id:int}", "routes", "note"] in rows
    assert ["GET", "/v2/plain", "routes", "-"] in rows
    assert ["POST", "/b/{x:int}", "routes_b", "b_post"] in rows
    assert ["GET", "/b/{y}", "routes_b", "-"] in rows
    assert ["GET", "/exact", "ws_exact", "-", "(WebSocket)"] in rows, out
    assert len(rows) == 1 + 8 * 2 + 2 + 2, out
    assert not any(r[1].startswith("/notes") for r in rows[1:]), "mounted only"


@pytest.mark.parametrize("add,message", [
    ("GET /notes/{id:int}",
     "routes_b: add_route(GET /notes/{id:int}): GET /notes/{id:int} is already registered "
     "of plugin routes"),
    ("GET /notes/{n:int}",
     "routes_b: add_route(GET /notes/{n:int}): GET /notes/{n:int} takes the paths of "
     "GET /notes/{id:int} of plugin routes"),
    ("GET /users/{who}/",
     None),                                       # another pattern: no collision
    ("* /users/{who}",
     None),                                       # "*" is another method
    ("GET /other user",
     "routes_b: route_name(user): route name 'user' is taken by GET /users/{name} "
     "of plugin routes"),
])
def test_collisions_across_plugins(kiln_factory, add, message):
    k = kiln_factory.make(start=False, plugins=("routes", "routes_b"),
                          sections={"routes_b": {"builtin": "no", "add": add}})
    rc, rows, out = list_routes(k)
    if message is None:
        assert rc == 0, out
        return
    assert rc != 0, out
    assert message in out, out
    assert "PATTERN" not in out, "no listing when a plugin is refused"
    # a normal start refuses with the same message, before serving anything
    since = k.mark()
    rc, _, _ = run_kiln(["-c", k.conf], cwd=k.dir, timeout=20, merge=True)
    assert rc != 0
    assert message in k.log()[since:], k.describe()


def test_routes_needs_t():
    rc, out, err = run_kiln(["--routes"])
    assert rc == 2 and "--routes goes with -t" in err


def test_mounted_websocket(kiln_factory):
    k = kiln_factory.make(plugins=("ws_exact",), sections={"ws_exact": {"mount": "/w"}})
    hs = (b"GET %s HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    for path, status in ((b"/w/exact", b"101"), (b"/exact", b"404")):
        with socket.create_connection(("127.0.0.1", k.port), timeout=5) as s:
            s.sendall(hs % path)
            assert s.recv(4096).split(b" ")[1] == status, path


def test_redirect_after_expect_continue(kiln_factory):
    """A request that asks for 100 Continue and would be redirected gets it, then the 308."""
    k = normalizing(kiln_factory, normalize_path="remove_slash")
    with socket.create_connection(("127.0.0.1", k.port), timeout=5) as s:
        s.sendall(b"POST /small/?a=b HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 100 Continue\r\n")
        s.sendall(b"ok")
        head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 308 "), head
    assert b"\r\nLocation: /small?a=b\r\n" in head, head
    with socket.create_connection(("127.0.0.1", k.port), timeout=5) as s:
        s.sendall(b"POST /nowhere/ HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 404 ")
