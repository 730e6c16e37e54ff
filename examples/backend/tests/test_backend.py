"""The notes example against a real kiln and a real PostgreSQL, through aiohttp's client: logging in (cookie flags, wrong passwords), the notes API (CRUD, pagination, validation errors as JSON 400, 401, 403 across users, admin, 404), request ids, the page, a bad [backend] value, deploy/kiln.conf, clients that leave mid-answer, and a WebSocket hearing changes made over HTTP."""

import asyncio
import json
import os
import re

import aiohttp

from pytest_kiln import RawConn

from conftest import EXAMPLE, SESSION_LIFETIME, STATIC, backend_sections

PASSWORDS = {"alice": "alice-password", "bob": "bob-password", "admin": "admin-password"}


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def client():
    # unsafe: keep cookies of an IP address host (127.0.0.1)
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def call(s, k, method, path, body=None, raw=None):
    """(status, headers, parsed JSON or None) of one request."""
    kw = {"json": body} if body is not None else {"data": raw} if raw is not None else {}
    async with s.request(method, k.url + path, **kw) as r:
        text = await r.text()
        data = json.loads(text) if text else None
        if text:
            assert r.headers["Content-Type"] == "application/json", (r.status, text)
        return r.status, r.headers, data


async def login(s, k, user):
    st, _, data = await call(s, k, "POST", "/api/login",
                             {"user": user, "password": PASSWORDS[user]})
    assert st == 200, data
    return data


def test_login_sets_an_httponly_lax_session_cookie(backend):
    async def go():
        async with client() as s:
            async with s.post(backend.url + "/api/login",
                              json={"user": "alice", "password": "alice-password"}) as r:
                assert r.status == 200
                assert await r.json() == {"user": "alice", "role": "user"}
                cookies = r.headers.getall("Set-Cookie")
            assert len(cookies) == 1, cookies
            attrs = [a.strip() for a in cookies[0].split(";")]
            assert re.fullmatch(r"session=[0-9a-f]{64}", attrs[0]), attrs
            assert "HttpOnly" in attrs and "SameSite=Lax" in attrs and "Path=/" in attrs, attrs
            assert "Max-Age=%d" % SESSION_LIFETIME in attrs, attrs
            assert "Secure" not in attrs, attrs
            st, _, me = await call(s, backend, "GET", "/api/me")
            assert (st, me) == (200, {"user": "alice", "role": "user"})
            st, _, _ = await call(s, backend, "POST", "/api/logout")
            assert st == 204
            st, _, body = await call(s, backend, "GET", "/api/me")
            assert st == 401 and "not logged in" in body["error"]
    run(go())


def test_login_refuses_wrong_passwords_unknown_users_and_bad_input(backend):
    async def go():
        async with client() as s:
            for user, password in (("alice", "bob-password"), ("alice", ""),
                                   ("nobody", "not-a-password"), ("Alice", "alice-password")):
                st, h, body = await call(s, backend, "POST", "/api/login",
                                         {"user": user, "password": password or "x"})
                assert st == 401, (user, body)
                assert body["error"] == "wrong user name or password"
                assert "Set-Cookie" not in h
            st, _, body = await call(s, backend, "POST", "/api/login", {"user": "alice"})
            assert st == 400 and body["fields"] == {"password": "required"}, body
            st, _, body = await call(s, backend, "POST", "/api/login",
                                     {"user": 7, "password": ""})
            assert st == 400, body
            assert body["fields"] == {"user": "must be a string",
                                      "password": "must not be empty"}, body
            st, _, body = await call(s, backend, "POST", "/api/login", raw=b"user=alice")
            assert st == 400 and body["fields"] == {"body": "expected a JSON object"}, body
            assert len(s.cookie_jar) == 0
    run(go())


def test_without_a_session_everything_but_login_is_401_json(backend):
    async def go():
        async with client() as s:
            for method, path in (("GET", "/api/me"), ("GET", "/api/notes"),
                                 ("POST", "/api/notes"), ("GET", "/api/notes/1"),
                                 ("PUT", "/api/notes/1"), ("DELETE", "/api/notes/1"),
                                 ("POST", "/api/logout")):
                st, _, body = await call(s, backend, method, path, {"title": "x"})
                assert st == 401, (method, path, body)
                assert body["error"] == "not logged in", body
            # a cookie that names no session
            s.cookie_jar.update_cookies({"session": "ab" * 32})
            st, _, body = await call(s, backend, "GET", "/api/notes")
            assert st == 401 and body["error"] == "not logged in (the session has ended)"
    run(go())


def test_notes_crud(backend):
    async def go():
        async with client() as s:
            await login(s, backend, "alice")
            st, h, note = await call(s, backend, "POST", "/api/notes",
                                     {"title": "Tea", "body": "green, then black"})
            assert st == 201, note
            assert h["Location"] == "/api/notes/%d" % note["id"]
            assert (note["title"], note["body"], note["owner"]) == \
                ("Tea", "green, then black", "alice")
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", note["updated"]), note
            st, _, got = await call(s, backend, "GET", h["Location"])
            assert (st, got) == (200, note)
            st, _, changed = await call(s, backend, "PUT", h["Location"], {"body": "oolong"})
            assert st == 200 and (changed["title"], changed["body"]) == ("Tea", "oolong")
            st, _, changed = await call(s, backend, "PUT", h["Location"],
                                        {"title": "Tea \u00e0 la carte", "body": ""})
            assert st == 200 and (changed["title"], changed["body"]) == \
                ("Tea \u00e0 la carte", ""), changed
            st, _, got = await call(s, backend, "GET", h["Location"])
            assert got == changed
            st, _, body = await call(s, backend, "DELETE", h["Location"])
            assert (st, body) == (204, None)
            for method in ("GET", "PUT", "DELETE"):
                st, _, body = await call(s, backend, method, h["Location"], {"title": "x"})
                assert st == 404 and body["error"] == "no such note", (method, body)
    run(go())


def test_notes_pagination_with_total_and_next(backend):
    async def go():
        async with client() as s:
            await login(s, backend, "alice")
            made = []
            for i in range(5):
                st, _, note = await call(s, backend, "POST", "/api/notes", {"title": "n%d" % i})
                assert st == 201
                made.append(note["id"])
            seen = []
            link, pages = "/api/notes?per_page=3", 0
            while link:
                st, _, page = await call(s, backend, "GET", link)
                assert st == 200, page
                pages += 1
                assert page["page"] == pages and page["per_page"] == 3
                assert page["total"] == 7            # alice's 2 sample notes and 5 new
                assert len(page["notes"]) == (3 if pages < 3 else 1), page
                assert all(n["owner"] == "alice" for n in page["notes"])
                seen += [n["id"] for n in page["notes"]]
                link = page["next"]
            assert pages == 3
            assert seen == sorted(seen, reverse=True) and len(set(seen)) == 7
            assert seen[:5] == made[::-1]
            st, _, page = await call(s, backend, "GET", "/api/notes?page=9&per_page=3")
            assert (st, page["notes"], page["total"], page["next"]) == (200, [], 7, None)
            st, _, page = await call(s, backend, "GET", "/api/notes")
            assert page["per_page"] == 20 and len(page["notes"]) == 7 and page["next"] is None
            st, _, body = await call(s, backend, "GET", "/api/notes?page=0&per_page=101")
            assert st == 400, body
            assert body == {"error": "invalid input", "request_id": body["request_id"],
                            "fields": {"page": "a number from 1",
                                       "per_page": "a number from 1 to 100"}}, body
            st, _, body = await call(s, backend, "GET", "/api/notes?page=two")
            assert st == 400 and list(body["fields"]) == ["page"]
    run(go())


def test_note_validation_errors_are_400_json_naming_the_fields(backend):
    async def go():
        async with client() as s:
            await login(s, backend, "alice")
            cases = [
                ({}, {"title": "required"}),
                ({"title": ""}, {"title": "must not be empty"}),
                ({"title": ["x"]}, {"title": "must be a string"}),
                ({"title": "x" * 201}, {"title": "at most 200 characters"}),
                ({"title": "ok", "body": "b" * 10001}, {"body": "at most 10000 characters"}),
                ({"title": None, "body": 3}, {"title": "must be a string",
                                             "body": "must be a string"}),
            ]
            for body, fields in cases:
                st, _, answer = await call(s, backend, "POST", "/api/notes", body)
                assert st == 400, (body, answer)
                assert answer["error"] == "invalid input" and answer["fields"] == fields, answer
            # 200 characters of two bytes each are fine
            st, _, note = await call(s, backend, "POST", "/api/notes", {"title": "\u00e9" * 200})
            assert st == 201, note
            st, _, answer = await call(s, backend, "PUT", "/api/notes/%d" % note["id"], {})
            assert st == 400 and answer["fields"] == {"title": "title or body required"}
            st, _, answer = await call(s, backend, "POST", "/api/notes", raw=b'{"title": "x"')
            assert st == 400 and answer["fields"] == {"body": "expected a JSON object"}
            st, _, page = await call(s, backend, "GET", "/api/notes")
            assert page["total"] == 3, page              # nothing refused was stored
    run(go())


def test_another_users_note_is_403_and_an_admin_sees_every_note(backend):
    async def go():
        async with client() as alice, client() as bob, client() as admin:
            await login(alice, backend, "alice")
            await login(bob, backend, "bob")
            me = await login(admin, backend, "admin")
            assert me == {"user": "admin", "role": "admin"}
            st, _, note = await call(alice, backend, "POST", "/api/notes", {"title": "mine"})
            path = "/api/notes/%d" % note["id"]
            for method in ("GET", "PUT", "DELETE"):
                st, _, body = await call(bob, backend, method, path, {"title": "his"})
                assert st == 403, (method, body)
                assert body["error"] == "the note belongs to another user"
            st, _, page = await call(bob, backend, "GET", "/api/notes")
            assert page["total"] == 1 and {n["owner"] for n in page["notes"]} == {"bob"}
            st, _, page = await call(admin, backend, "GET", "/api/notes")
            assert page["total"] == 4, page
            assert {n["owner"] for n in page["notes"]} == {"alice", "bob"}
            st, _, got = await call(admin, backend, "PUT", path, {"title": "edited by admin"})
            assert st == 200 and got["owner"] == "alice"
            st, _, got = await call(alice, backend, "GET", path)
            assert got["title"] == "edited by admin"
            st, _, _ = await call(admin, backend, "DELETE", path)
            assert st == 204
            st, _, body = await call(bob, backend, "GET", path)
            assert st == 404, body
            for bad in ("/api/notes/99999", "/api/notes/99999999999999999999",
                        "/api/notes/abc"):
                async with alice.get(backend.url + bad) as r:
                    assert r.status == 404, bad
    run(go())


def test_request_ids_and_timing_on_every_answer(backend):
    async def go():
        async with client() as s:
            async with s.get(backend.url + "/api/notes",
                             headers={"X-Request-Id": "abc-123.x"}) as r:
                assert r.status == 401
                assert r.headers["X-Request-Id"] == "abc-123.x"
                assert (await r.json())["request_id"] == "abc-123.x"
                assert re.fullmatch(r"app;dur=\d+\.\d\d", r.headers["Server-Timing"])
            ids = set()
            for given in ("bad id", "x" * 65, None):
                hdrs = {"X-Request-Id": given} if given else {}
                async with s.post(backend.url + "/api/login", headers=hdrs,
                                  json={"user": "alice", "password": "alice-password"}) as r:
                    assert r.status == 200
                    assert re.fullmatch(r"[0-9a-f]{16}", r.headers["X-Request-Id"])
                    ids.add(r.headers["X-Request-Id"])
            assert len(ids) == 3
    run(go())


def test_the_page_is_served(backend):
    async def go():
        async with client() as s:
            async with s.get(backend.url + "/") as r:
                assert r.status == 200
                assert r.headers["Content-Type"].startswith("text/html")
                assert "/api/ws" in await r.text()
    run(go())


def test_a_bad_backend_value_refuses_the_plugin(kiln_factory, backend_db):
    k = kiln_factory.make(start=False, plugins=("backend",),
                          sections=backend_sections(backend_db, per_page=500))
    rc, out = k.check()
    assert rc != 0, out
    assert "[backend] per_page = 500: expected a number from 1 to 100" in out, out


async def next_json(ws, timeout=5.0):
    msg = await ws.receive(timeout=timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


def test_websocket_hears_changes_made_over_http(backend):
    async def go():
        async with client() as alice, client() as bob, client() as admin:
            for s, user in ((alice, "alice"), (bob, "bob"), (admin, "admin")):
                await login(s, backend, user)
            wa = await alice.ws_connect(backend.url + "/api/ws")
            wb = await bob.ws_connect(backend.url + "/api/ws")
            wx = await admin.ws_connect(backend.url + "/api/ws")
            assert await next_json(wa) == {"event": "hello", "user": "alice"}
            assert await next_json(wb) == {"event": "hello", "user": "bob"}
            assert await next_json(wx) == {"event": "hello", "user": "admin"}

            st, _, note = await call(alice, backend, "POST", "/api/notes", {"title": "live"})
            assert st == 201
            for ws in (wa, wx):
                assert await next_json(ws) == {"event": "created", "note": note}
            st, _, changed = await call(alice, backend, "PUT", "/api/notes/%d" % note["id"],
                                        {"body": "now"})
            for ws in (wa, wx):
                assert await next_json(ws) == {"event": "updated", "note": changed}
            st, _, _ = await call(alice, backend, "DELETE", "/api/notes/%d" % note["id"])
            for ws in (wa, wx):
                assert await next_json(ws) == {"event": "deleted", "id": note["id"]}
            # bob heard none of alice's: his first message is his own note
            st, _, his = await call(bob, backend, "POST", "/api/notes", {"title": "bob's"})
            assert await next_json(wb) == {"event": "created", "note": his}
            assert await next_json(wx) == {"event": "created", "note": his}
            # a page that left is no longer written to
            await wa.close()
            st, _, mine = await call(alice, backend, "POST", "/api/notes", {"title": "after"})
            assert await next_json(wx) == {"event": "created", "note": mine}
            await wb.close()
            await wx.close()
    run(go())


def test_websocket_needs_a_live_session(backend):
    async def go():
        async with client() as s:
            try:
                await s.ws_connect(backend.url + "/api/ws")
                raise AssertionError("upgraded without a session cookie")
            except aiohttp.WSServerHandshakeError as e:
                assert e.status == 401
            s.cookie_jar.update_cookies({"session": "cd" * 32})
            try:
                await s.ws_connect(backend.url + "/api/ws")
                raise AssertionError("upgraded with a session that does not exist")
            except aiohttp.WSServerHandshakeError as e:
                assert e.status == 401
    run(go())


def test_the_deploy_config_serves(kiln_factory, backend_db):
    """deploy/kiln.conf as shipped, with only its paths, its database and its
    workers' user pointed at the test's: one worker, a Secure cookie."""
    with open(os.path.join(EXAMPLE, "deploy", "kiln.conf")) as f:
        text = f.read()
    assert re.search(r"^workers = 1$", text, re.M), text
    k = kiln_factory.make(start=False, plugins=("backend",))
    local = {"listen": "127.0.0.1:0", "plugin_dir": k.plugin_dir, "pidfile": k.pidfile,
             "log_file": k.log_path, "static_dir": STATIC, "dsn": backend_db}
    lines = []
    for line in text.split("\n"):
        key = line.split(" = ")[0]
        if key in ("user", "group"):
            continue
        lines.append("%s = %s" % (key, local[key]) if key in local else line)
    k.write_config("\n".join(lines))
    rc, out = k.check()
    assert rc == 0, out
    k.start()

    async def go():
        async with client() as s:
            async with s.post(k.url + "/api/login",
                              json={"user": "bob", "password": "bob-password"}) as r:
                assert r.status == 200
                assert "Secure" in [a.strip() for a in r.headers["Set-Cookie"].split(";")]
            async with s.get(k.url + "/") as r:
                assert r.status == 200
    run(go())


def test_clients_that_leave_while_their_answer_is_worked_out(backend):
    """Logins whose client leaves while the password is hashed on the pool,
    and pages whose client leaves during the query: the worker forgets them
    (a sanitizer build reports any use of what they left behind) and serves
    the next client."""
    body = json.dumps({"user": "alice", "password": "alice-password"})
    for _ in range(20):
        with RawConn(backend.port) as c:
            c.send("POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Content-Length: %d\r\n\r\n%s" % (len(body), body))

    async def login_cookie():
        async with client() as s:
            await login(s, backend, "alice")
            return "session=" + s.cookie_jar.filter_cookies(backend.url)["session"].value
    cookie = run(login_cookie())
    for _ in range(20):
        with RawConn(backend.port) as c:
            c.send("GET /api/notes HTTP/1.1\r\nHost: x\r\nCookie: %s\r\n\r\n" % cookie)
    with RawConn(backend.port) as c:
        c.send("GET /api/me HTTP/1.1\r\nHost: x\r\nCookie: %s\r\n\r\n" % cookie)
        r = c.read_response()
    assert r.status == 200 and json.loads(r.body) == {"user": "alice", "role": "user"}
    assert backend.worker_pids() == sorted(backend.seen_workers)


def test_kilns_own_errors_are_json_too(kiln_factory, backend_db):
    """404 for a path no route has, 405 for a method a route does not take,
    413 for a body over max_body_size: kiln's answers, turned into JSON by
    the middleware "backend.json_errors", with the request id."""
    k = kiln_factory.make(plugins=("backend",), server={"workers": 1, "max_body_size": "4k"},
                          sections=backend_sections(backend_db))

    async def go():
        async with client() as s:
            await login(s, k, "alice")
            for method, path, body, status, error in (
                    ("GET", "/api/nothing", None, 404, "Not Found"),
                    ("GET", "/nothing", None, 404, "Not Found"),
                    ("PATCH", "/api/notes", None, 405, "Method Not Allowed"),
                    ("POST", "/api/notes", "x" * 5000, 413, "Content Too Large")):
                async with s.request(method, k.url + path, data=body,
                                     headers={"X-Request-Id": "r-%d" % status}) as r:
                    assert r.status == status, (method, path)
                    assert r.headers["Content-Type"] == "application/json"
                    assert r.headers["X-Request-Id"] == "r-%d" % status
                    got = await r.json()
                    assert got["request_id"] == "r-%d" % status, got
                    assert got["error"] == error, got
            # a path no route has needs no login to be told so
            async with client() as anonymous:
                st, _, body = await call(anonymous, k, "GET", "/api/nothing")
                assert (st, body["error"]) == (404, "Not Found")
    run(go())


def test_under_a_mount_prefix_links_and_logins_follow(kiln_factory, backend_db):
    """[backend] mount = /v1: every route under /v1, the login check found by
    route name, Location and the next page's link built with kiln_url_for()."""
    k = kiln_factory.make(plugins=("backend",), server={"workers": 1},
                          sections=backend_sections(backend_db, mount="/v1"))

    async def go():
        async with client() as s:
            st, _, body = await call(s, k, "GET", "/v1/api/notes")
            assert (st, body["error"]) == (401, "not logged in")
            st, _, body = await call(s, k, "GET", "/api/notes")
            assert st == 404, body
            st, _, me = await call(s, k, "POST", "/v1/api/login",
                                   {"user": "alice", "password": "alice-password"})
            assert st == 200, me
            st, h, note = await call(s, k, "POST", "/v1/api/notes", {"title": "mounted"})
            assert st == 201 and h["Location"] == "/v1/api/notes/%d" % note["id"], (h, note)
            st, _, page = await call(s, k, "GET", "/v1/api/notes?per_page=1")
            assert page["next"] == "/v1/api/notes?page=2&per_page=1", page
            st, _, got = await call(s, k, "GET", h["Location"])
            assert (st, got) == (200, note)
            ws = await s.ws_connect(k.url + "/v1/api/ws")
            assert await next_json(ws) == {"event": "hello", "user": "alice"}
            await ws.close()
            async with s.get(k.url + "/v1/") as r:      # the page asks relative paths
                assert r.status == 200
                assert '"api/notes"' in await r.text()
    run(go())
