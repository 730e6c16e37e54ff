"""Answers in one call (kiln_error, kiln_redirect), Set-Cookie
(kiln_set_cookie, kiln_delete_cookie) and JSON bodies (kiln_json_body,
kiln_json) through the answers test plugin, checked with http.client, curl
(errors, redirects, its cookie jar, --json) and Python's aiohttp client
(errors, redirects, its cookie jar, JSON), and http.cookies."""

import asyncio
import email.utils
import http.client
import http.cookies
import json
import re
import subprocess
import time

import aiohttp
import pytest

from conftest import KilnFactory, parse_curl_i

TEXT = "text/plain; charset=utf-8"
IMF_FIXDATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
                         r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
                         r"\d\d:\d\d:\d\d GMT$")


@pytest.fixture(scope="module")
def k(tmp_path_factory):
    f = KilnFactory(tmp_path_factory.mktemp("responses"))
    try:
        yield f.make(plugins=("answers",))
    finally:
        f.close()


def fetch(k, path, method="GET", body=None, headers=None):
    """(status, [(name, value)] as sent, body): repeated headers kept."""
    c = http.client.HTTPConnection("127.0.0.1", k.port, timeout=5)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        c.close()


def header(headers, name):
    values = [v for n, v in headers if n.lower() == name.lower()]
    assert len(values) <= 1, (name, headers)
    return values[0] if values else None


def set_cookies(headers):
    return [v for n, v in headers if n.lower() == "set-cookie"]


# ---- kiln_error ----------------------------------------------------------------

@pytest.mark.parametrize("status,reason", [(400, "Bad Request"), (404, "Not Found"),
                                           (418, "I'm a teapot"), (451, "Unavailable For Legal Reasons"),
                                           (503, "Service Unavailable"), (599, "Unknown")])
def test_error_reason_phrase(k, status, reason):
    st, hdrs, body = fetch(k, "/err/%d" % status)
    assert st == status
    assert body == ("%d %s\n" % (status, reason)).encode(), "the earlier body is discarded"
    assert header(hdrs, "content-type") == TEXT
    assert header(hdrs, "x-kept") == "yes", "headers added before stay"


@pytest.mark.parametrize("status", [401, 422, 500])
def test_error_message(k, status):
    st, hdrs, body = fetch(k, "/err/%d?msg=no+such+thing" % status)
    assert (st, body) == (status, b"no such thing\n")
    assert header(hdrs, "content-type") == TEXT


def test_error_head_has_no_body(k):
    st, hdrs, body = fetch(k, "/err/404", method="HEAD")
    assert (st, body) == (404, b"")
    assert header(hdrs, "content-length") == str(len("404 Not Found\n"))


@pytest.mark.parametrize("status", [200, 302, 399, 600, -1])
def test_error_bad_status_is_500(k, status):
    mark = k.mark()
    st, _, body = fetch(k, "/err/%d?msg=x" % status)
    assert (st, body) == (500, b"500 Internal Server Error\n")
    k.wait_log(r"answers: error\(%d\): not an error status" % status, since=mark)


# ---- kiln_redirect -----------------------------------------------------------------

@pytest.mark.parametrize("status,reason", [(301, "Moved Permanently"), (302, "Found"),
                                           (303, "See Other"), (307, "Temporary Redirect"),
                                           (308, "Permanent Redirect")])
def test_redirect_answer(k, status, reason):
    st, hdrs, body = fetch(k, "/redirect/%d?to=/method%%3Fa%%3D1" % status)
    assert st == status
    assert header(hdrs, "location") == "/method?a=1"
    assert body == ("%d %s\n" % (status, reason)).encode()
    assert header(hdrs, "content-type") == TEXT


@pytest.mark.parametrize("status,after", [(301, "GET 0"), (302, "GET 0"), (303, "GET 0"),
                                          (307, "POST 5"), (308, "POST 5")])
def test_redirect_followed_by_aiohttp(k, status, after):
    """aiohttp turns a POST into a GET on 301/302/303, keeps it on 307/308."""
    async def run():
        async with aiohttp.ClientSession() as s:
            async with s.post(k.url + "/redirect/%d?to=/method" % status, data=b"hello") as r:
                return r.status, await r.text(), [h.status for h in r.history]
    assert asyncio.run(run()) == (200, after + "\n", [status])


@pytest.mark.parametrize("status,after", [(303, "GET 0"), (307, "POST 5")])
def test_redirect_followed_by_curl(k, status, after):
    url = "%s/redirect/%d?to=%s/method" % (k.url, status, k.url)
    r = subprocess.run(["curl", "-sS", "-L", "--data-binary", "hello",
                        "-w", "%{http_code} %{num_redirects}", url],
                       stdout=subprocess.PIPE, timeout=10, check=True)
    assert r.stdout.decode() == after + "\n200 1"


@pytest.mark.parametrize("to", ["/x%0D%0ASet-Cookie:%20evil=1", "/x%0Aevil", "/x%0Devil",
                                "/x%09y", "/x%7Fy", ""])
def test_redirect_refuses_header_injection(k, to):
    mark = k.mark()
    st, hdrs, body = fetch(k, "/redirect/302?to=" + to)
    assert st == 500
    assert header(hdrs, "location") is None and not set_cookies(hdrs)
    k.wait_log(r"answers: redirect\(302\): the location is empty or holds a control",
               since=mark)


@pytest.mark.parametrize("status", [200, 300, 304, 305, 400])
def test_redirect_bad_status(k, status):
    mark = k.mark()
    st, hdrs, _ = fetch(k, "/redirect/%d?to=/method" % status)
    assert st == 500 and header(hdrs, "location") is None
    k.wait_log(r"answers: redirect\(%d\): not 301" % status, since=mark)


def test_redirect_without_location(k):
    st, _, _ = fetch(k, "/redirect/302")
    assert st == 500


# ---- Set-Cookie -------------------------------------------------------------------

def parse_cookie(line):
    c = http.cookies.SimpleCookie()
    c.load(line)
    assert len(c) == 1, line
    return next(iter(c.values()))


def test_cookie_every_attribute(k):
    st, hdrs, body = fetch(k, "/cookie/set?name=sid&value=abc123&max_age=60&expires=1796205600"
                              "&path=/app&domain=example.com&secure=1&httponly=1&samesite=lax")
    assert (st, body) == (200, b"rc 0\n")
    [line] = set_cookies(hdrs)
    assert line == ("sid=abc123; Expires=Wed, 02 Dec 2026 10:00:00 GMT; Max-Age=60; "
                    "Domain=example.com; Path=/app; Secure; HttpOnly; SameSite=Lax")
    m = parse_cookie(line)
    assert (m.key, m.value) == ("sid", "abc123")
    assert m["max-age"] == "60" and m["path"] == "/app" and m["domain"] == "example.com"
    assert m["secure"] is True and m["httponly"] is True and m["samesite"] == "Lax"
    assert IMF_FIXDATE.match(m["expires"]), m["expires"]
    assert email.utils.parsedate_to_datetime(m["expires"]).timestamp() == 1796205600


def test_cookie_without_opts_is_a_session_cookie(k):
    for q in ("none=1", "max_age=0&expires=0"):
        st, hdrs, body = fetch(k, "/cookie/set?name=s&value=v&" + q)
        assert (st, body, set_cookies(hdrs)) == (200, b"rc 0\n", ["s=v"]), q


def test_several_cookies_several_lines(k):
    st, hdrs, _ = fetch(k, "/cookies")
    assert st == 200
    assert set_cookies(hdrs) == ["session=s1", "user=alice; Max-Age=600; Path=/; HttpOnly",
                                 'theme="dark"; Max-Age=600; Path=/; HttpOnly']
    jar = http.cookies.SimpleCookie()
    for line in set_cookies(hdrs):
        jar.load(line)
    assert {n: m.value for n, m in jar.items()} == {"session": "s1", "user": "alice",
                                                    "theme": "dark"}


@pytest.mark.parametrize("query,why", [
    ("name=a%20b&value=x", "the name is not a token"),
    ("name=a%3Db&value=x", "the name is not a token"),
    ("name=&value=x", "the name is not a token"),
    ("name=a&value=x%3By", "cookie-octet"),
    ("name=a&value=x%0D%0ASet-Cookie:%20evil=1", "cookie-octet"),
    ("name=a&value=x%20y", "cookie-octet"),
    ("name=a&value=x&path=/p%3B%20Secure", "the path"),
    ("name=a&value=x&path=/p%0D%0AX:1", "the path"),
    ("name=a&value=x&path=p", "the path"),
    ("name=a&value=x&domain=a.com%3B%20Secure", "the domain"),
    ("name=a&value=x&samesite=Loose", "same_site is not"),
    ("name=a&value=x&samesite=None", "SameSite=None needs Secure"),
    ("name=a&value=x&max_age=-5", "negative"),
    ("name=a&value=x&expires=253402300800", "past the year 9999"),
    ("name=__Secure-a&value=x", "__Secure-"),
    ("name=__Host-a&value=x&secure=1", "__Host-"),
])
def test_cookie_refused(k, query, why):
    mark = k.mark()
    st, hdrs, body = fetch(k, "/cookie/set?" + query)
    assert (st, body) == (200, b"rc -1\n")
    assert not set_cookies(hdrs) and header(hdrs, "x") is None
    k.wait_log(r"answers: set_cookie\([^)]*\): .*" + re.escape(why), since=mark)


def test_cookie_samesite_none_with_secure(k):
    st, hdrs, _ = fetch(k, "/cookie/set?name=a&value=x&samesite=none&secure=1")
    assert set_cookies(hdrs) == ["a=x; Secure; SameSite=None"]


def test_delete_cookie_line(k):
    st, hdrs, body = fetch(k, "/cookie/delete?name=sid&path=/app&domain=example.com")
    assert (st, body) == (200, b"rc 0\n")
    assert set_cookies(hdrs) == ["sid=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; "
                                 "Domain=example.com; Path=/app"]
    _, hdrs, _ = fetch(k, "/cookie/delete?name=__Host-id")
    assert set_cookies(hdrs) == ["__Host-id=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; "
                                 "Max-Age=0; Path=/; Secure"]
    _, hdrs, body = fetch(k, "/cookie/delete?name=a%20b")
    assert body == b"rc -1\n" and not set_cookies(hdrs)


def test_cookie_jar_keeps_then_drops(k):
    """aiohttp's client jar stores the cookies and sends them back; the
    deletion removes one of them."""
    async def run():
        jar = aiohttp.CookieJar(unsafe=True)        # 127.0.0.1 is an IP address
        async with aiohttp.ClientSession(cookie_jar=jar) as s:
            await (await s.get(k.url + "/cookies")).read()
            await (await s.get(k.url + "/cookie/set?name=sid&value=abc&path=/&max_age=60")).read()
            before = sorted(c.key for c in jar)
            async with s.get(k.url + "/method", headers={}) as r:
                sent = r.request_info.headers.get("Cookie", "")
            await (await s.get(k.url + "/cookie/delete?name=sid&path=/")).read()
            after = sorted(c.key for c in jar)
            return before, sent, after
    before, sent, after = asyncio.run(run())
    assert before == ["session", "sid", "theme", "user"]
    assert sorted(sent.split("; ")) == ["session=s1", "sid=abc", 'theme="dark"', "user=alice"]
    assert after == ["session", "theme", "user"]


# ---- JSON ---------------------------------------------------------------------------

DOC = {"name": "J\u00fcrgen \u2713 \U0001F600", "list": [1, -2, 3.5, True, False, None, "x"],
       "nested": {"a": {"b": {"c": [[], {}, [{"d": "e\"\\\n\t\u0001"}]]}}}, "n": 2 ** 53}


def test_json_round_trip_aiohttp(k):
    async def run():
        async with aiohttp.ClientSession() as s:
            async with s.post(k.url + "/json/echo", json=DOC) as r:
                return r.status, r.headers["Content-Type"], await r.read()
    st, ctype, raw = asyncio.run(run())
    assert (st, ctype) == (200, "application/json")
    assert json.loads(raw) == {"got": DOC}
    assert "J\u00fcrgen \u2713 \U0001F600".encode() in raw, "UTF-8 is sent as it is"
    assert b": " not in raw and b", " not in raw, "compact"


@pytest.mark.parametrize("body", [b"42", b'"s"', b"null", b"[]", b" {\"a\" : 1}\n"])
def test_json_any_value(k, body):
    st, hdrs, raw = fetch(k, "/json/echo", "POST", body)
    assert st == 200 and json.loads(raw) == {"got": json.loads(body)}


def test_json_sum_and_twice(k):
    st, _, raw = fetch(k, "/json/sum", "POST", b'{"a": 2, "b": 3}',
                       {"Content-Type": "text/plain"})
    assert (st, json.loads(raw)) == (200, {"sum": 5}), "the Content-Type is not checked"
    st, _, raw = fetch(k, "/json/twice", "POST", b"[1]")
    assert (st, json.loads(raw)) == (200, {"same": True})


def bad_json(k, body):
    st, hdrs, raw = fetch(k, "/json/echo", "POST", body)
    assert st == 400, raw
    assert header(hdrs, "content-type") == "application/json"
    return json.loads(raw)


def test_json_syntax_error_line_column(k):
    e = bad_json(k, b'{"a": 1,\n  "b": }')
    assert e["line"] == 2 and e["column"] == 8 and e["position"] == 17, e
    assert set(e) == {"error", "line", "column", "position"} and e["error"], e


def test_json_duplicate_key(k):
    e = bad_json(k, b'{"a": 1, "a": 2}')
    assert "duplicate" in e["error"], e


def test_json_invalid_utf8(k):
    e = bad_json(k, b'"\xff"')
    assert "unable to decode byte 0xff" in e["error"] and e["position"] == 1, e


def test_json_nul_in_string(k):
    e = bad_json(k, b'"a\\u0000b"')
    assert "NUL" in e["error"] or "\\u0000" in e["error"], e


def test_json_empty_body(k):
    assert bad_json(k, b"")["error"] == "empty body"


def test_json_depth_limit(k):
    deep = 64
    st, _, raw = fetch(k, "/json/echo", "POST", b"[" * deep + b"]" * deep)
    assert st == 200 and raw.count(b"[") == deep
    e = bad_json(k, b"[" * (deep + 1) + b"]" * (deep + 1))
    assert e["error"] == "nesting deeper than 64 arrays and objects", e
    e = bad_json(k, b'{"a":' * 100000 + b"1" + b"}" * 100000)
    assert "nesting" in e["error"], e
    # Brackets inside strings do not nest.
    st, _, raw = fetch(k, "/json/echo", "POST", json.dumps(["[{" * 200 + '\\"']).encode())
    assert st == 200, raw


def test_json_null_value_is_500(k):
    mark = k.mark()
    st, _, _ = fetch(k, "/json/null")
    assert st == 500
    k.wait_log(r"answers: json\(200\): no value", since=mark)


def test_json_kept_by_a_pending_request(k):
    st, _, raw = fetch(k, "/json/later?ms=30", "POST", b'{"k": ["v"]}')
    assert (st, json.loads(raw)) == (200, {"later": {"k": ["v"]}})
    e = bad_json(k, b"nope")
    assert e["line"] == 1, e


# ---- the same answers through curl and aiohttp ----------------------------------------

def test_error_through_curl_and_aiohttp(k):
    """curl --fail-with-body sees the status (exit 22) and kiln_error's body;
    aiohttp's raise_for_status() the status and reason."""
    r = subprocess.run(["curl", "-sS", "-i", "--fail-with-body", "--max-time", "10",
                        k.url + "/err/422?msg=no%20field%20name"], capture_output=True, timeout=20)
    assert r.returncode == 22, r.stderr
    responses, body = parse_curl_i(r.stdout)
    [(status, hdrs)] = responses
    assert (status, hdrs["content-type"], hdrs["x-kept"], body) == \
        (422, TEXT, "yes", b"no field name\n")

    async def run():
        async with aiohttp.ClientSession() as s:
            async with s.get(k.url + "/err/503") as r:
                got = (r.status, r.reason, r.content_type, r.charset, r.headers["X-Kept"],
                       await r.text())
                try:
                    r.raise_for_status()
                except aiohttp.ClientResponseError as e:
                    return got, e.status
    assert asyncio.run(run()) == ((503, "Service Unavailable", "text/plain", "utf-8", "yes",
                                   "503 Service Unavailable\n"), 503)


def curl_jar(path):
    """A curl cookie jar (Netscape format): name -> (domain, path, secure,
    expires, value, httponly)."""
    out = {}
    for line in path.read_text().splitlines():
        httponly = line.startswith("#HttpOnly_")
        if httponly:
            line = line[len("#HttpOnly_"):]
        elif not line or line.startswith("#"):
            continue
        domain, _, cpath, secure, expires, name, value = line.split("\t")
        out[name] = (domain, cpath, secure, int(expires), value, httponly)
    return out


def test_cookie_jar_of_curl_keeps_then_drops(k, tmp_path):
    """curl -c/-b stores kiln's Set-Cookie lines with their attributes, sends
    them back, and drops the one kiln_delete_cookie() removes."""
    jar = tmp_path / "jar"

    def run(path, *extra):
        r = subprocess.run(["curl", "-sS", "-v", "--max-time", "10", "-b", str(jar), "-c", str(jar),
                            *extra, k.url + path], capture_output=True, timeout=20)
        assert r.returncode == 0, r.stderr
        return r.stdout, [line[len(b"> Cookie: "):].decode() for line in r.stderr.splitlines()
                          if line.startswith(b"> Cookie: ")]
    t0 = int(time.time())
    run("/cookies")
    run("/cookie/set?name=sid&value=abc&path=/&max_age=60&httponly=1&samesite=Strict")
    got = curl_jar(jar)
    assert set(got) == {"session", "user", "theme", "sid"}, got
    assert got["session"][3] == 0                                  # a session cookie
    assert got["user"][:3] == ("127.0.0.1", "/", "FALSE") and got["user"][4:] == ("alice", True)
    assert t0 + 595 <= got["user"][3] <= time.time() + 605          # Max-Age=600
    assert got["theme"][4] == '"dark"'
    assert got["sid"][4:] == ("abc", True) and t0 + 55 <= got["sid"][3] <= time.time() + 65
    body, sent = run("/method")
    assert body == b"GET 0\n"
    assert len(sent) == 1 and sorted(sent[0].split("; ")) == \
        ["session=s1", "sid=abc", 'theme="dark"', "user=alice"], sent
    run("/cookie/delete?name=sid&path=/")
    assert set(curl_jar(jar)) == {"session", "user", "theme"}


def test_json_through_curl(k):
    """curl --json posts a document and reads kiln_json()'s answer; a syntax
    error is a 400 JSON body saying where."""
    def run(body, path):
        r = subprocess.run(["curl", "-sS", "--max-time", "10", "--json", body,
                            "-w", "\n%{http_code} %{content_type}", k.url + path],
                           capture_output=True, timeout=20)
        assert r.returncode == 0, r.stderr
        out, _, tail = r.stdout.rpartition(b"\n")
        return tail.decode(), json.loads(out)
    assert run('{"a": 2, "b": 40}', "/json/sum") == ("200 application/json", {"sum": 42})
    assert run(json.dumps(DOC), "/json/echo") == ("200 application/json", {"got": DOC})
    status, e = run('{"a": [1,', "/json/echo")
    assert status == "400 application/json" and e["line"] == 1 and e["error"], e
