"""Every query value, cookies, urlencoded forms and request-scoped storage, as the params test plugin reads them: repeated names in order (built by curl -G and aiohttp's params= too), no cap on the pairs, bad escapes kept as sent, cookies from curl, aiohttp's cookie jar and several Cookie lines, forms from curl and aiohttp, and each stored value freed once however its request ends."""

import asyncio
import json
import re
import subprocess
import time
import urllib.parse

import aiohttp

from conftest import RawConn, http_request


def make(kiln_factory, **server):
    return kiln_factory.make(plugins=("params",),
                             server=dict({"log_level": "info"}, **server))


def pairs(k, path="/pairs", method="GET", body=None, headers=None):
    st, _, data = http_request(k.port, path, method, body, headers)
    assert st == 200, data
    return json.loads(data.decode("utf-8", errors="surrogateescape"))


def raw_pairs(k, request):
    c = RawConn(k.port)
    c.send(request)
    r = c.read_response()
    c.close()
    assert r.status == 200, r.body
    return json.loads(r.body)


def curl(k, *args):
    out = subprocess.run(["curl", "-sS", "--max-time", "10", *args,
                          "http://127.0.0.1:%d/pairs" % k.port],
                         check=True, capture_output=True, timeout=20).stdout
    return json.loads(out)


# ---- query -----------------------------------------------------------------

def test_repeated_query_params_in_order(kiln_factory):
    k = make(kiln_factory)
    j = pairs(k, "/pairs?a=1&b=2&a=3&c&&d=")
    assert j["query"] == [["a", "1"], ["b", "2"], ["a", "3"], ["c", ""], ["d", ""]]
    assert j["query_count"] == 5 and j["query_past_end"] is True
    assert j["query_by_name"]["a"] == {"first": "1", "all": ["1", "3"]}
    assert j["query_by_name"]["c"] == {"first": "", "all": [""]}
    assert j["absent"] is True
    j = pairs(k, "/pairs")
    assert (j["query"], j["query_count"], j["query_past_end"]) == ([], 0, True)


def test_more_than_64_pairs_are_all_seen(kiln_factory):
    k = make(kiln_factory)
    qs = "&".join("k%d=%d" % (i % 250, i) for i in range(500))
    j = pairs(k, "/pairs?" + qs)
    assert j["query_count"] == 500
    assert j["query"] == [["k%d" % (i % 250), str(i)] for i in range(500)]
    assert j["query_by_name"]["k7"]["all"] == ["7", "257"]


def test_bad_escapes_are_kept_as_sent(kiln_factory):
    k = make(kiln_factory)
    j = pairs(k, "/pairs?x=%zz&y=%4&z=%00&w=%41%42&t=%&u=%%41&n%00=1")
    assert j["query"] == [["x", "%zz"], ["y", "%4"], ["z", "%00"], ["w", "AB"],
                          ["t", "%"], ["u", "%A"], ["n%00", "1"]]


def test_plus_and_escaped_space(kiln_factory):
    k = make(kiln_factory)
    j = pairs(k, "/pairs?q=a+b%20c%2Bd&%C3%A9=caf%C3%A9")
    assert j["query"] == [["q", "a b c+d"], ["\u00e9", "caf\u00e9"]]
    # kiln_query() keeps its contract: the first value
    assert j["query_by_name"]["q"]["first"] == "a b c+d"


QUERY = [("tag", "a b"), ("tag", "x&y=z"), ("q", "caf\u00e9 + 100%"), ("tag", ""), ("e", "\u2713")]


def test_query_from_curl_get_data_urlencode(kiln_factory):
    """curl -G --data-urlencode builds the query (%20 for spaces, %26, %3D):
    every pair comes back decoded, repeated names in order."""
    k = make(kiln_factory)
    args = ["-G"]
    for n, v in QUERY:
        args += ["--data-urlencode", "%s=%s" % (n, v)]
    j = curl(k, *args)
    assert [tuple(p) for p in j["query"]] == QUERY
    assert j["query_by_name"]["tag"] == {"first": "a b", "all": ["a b", "x&y=z", ""]}


def test_query_from_aiohttp_params(kiln_factory):
    """aiohttp's params= (a list of pairs, as a MultiDict is) through yarl's
    encoding ('+' for a literal plus kept apart from a space)."""
    k = make(kiln_factory)

    async def run():
        async with aiohttp.ClientSession() as s:
            async with s.get(k.url + "/pairs", params=QUERY) as r:
                return r.status, str(r.url), await r.json(content_type=None)
    st, url, j = asyncio.run(run())
    assert st == 200
    assert [tuple(p) for p in j["query"]] == QUERY, url
    assert j["query_by_name"]["q"]["first"] == "caf\u00e9 + 100%"


# ---- cookies -----------------------------------------------------------------

def test_cookies_from_curl(kiln_factory):
    k = make(kiln_factory)
    j = curl(k, "-b", 'a=1; b="quoted"; a=2; flag;  c = x ')
    assert j["cookies"] == [["a", "1"], ["b", "quoted"], ["a", "2"], ["c", "x"]]
    assert j["cookies_count"] == 4 and j["cookies_past_end"] is True
    assert j["cookies_by_name"]["a"]["first"] == "1"
    assert j["cookies_by_name"]["b"]["first"] == "quoted"


def test_cookies_are_not_percent_decoded(kiln_factory):
    k = make(kiln_factory)
    j = curl(k, "-b", "e=a%20b+c; j=x=y")
    assert j["cookies"] == [["e", "a%20b+c"], ["j", "x=y"]]


def test_cookies_from_aiohttp_cookie_jar(kiln_factory):
    k = make(kiln_factory)

    async def main():
        async with aiohttp.ClientSession(cookies={"sid": "abc123", "who": "Ann Lee"}) as s:
            async with s.get("http://127.0.0.1:%d/pairs" % k.port) as r:
                assert r.status == 200
                return json.loads(await r.text())

    j = asyncio.run(asyncio.wait_for(main(), 10))
    got = dict(j["cookies"])
    assert got == {"sid": "abc123", "who": "Ann Lee"}
    # aiohttp's jar quotes a value with a space: kiln hands it on unquoted
    assert any('"Ann Lee"' in h for h in j["cookie_headers"]), j["cookie_headers"]
    assert j["cookies_by_name"]["who"]["first"] == "Ann Lee"


def test_several_cookie_lines_are_joined(kiln_factory):
    k = make(kiln_factory)
    j = raw_pairs(k, "GET /pairs HTTP/1.1\r\nHost: x\r\nCookie: a=1; b=2\r\n"
                     "X-Other: 1\r\ncookie: a=3\r\nCOOKIE: c=\"4\"\r\n\r\n")
    assert j["cookies"] == [["a", "1"], ["b", "2"], ["a", "3"], ["c", "4"]]
    assert j["cookies_by_name"]["a"]["first"] == "1"
    assert len(j["cookie_headers"]) == 3
    j = pairs(k)
    assert (j["cookies"], j["cookies_count"]) == ([], 0)


# ---- forms -----------------------------------------------------------------------

def test_form_from_curl_data_urlencode(kiln_factory):
    k = make(kiln_factory)
    j = curl(k, "--data-urlencode", "name=Ann Lee", "--data-urlencode", "note=a&b=c+d%",
             "--data-urlencode", "name=Bob")
    assert j["form"] == [["name", "Ann Lee"], ["note", "a&b=c+d%"], ["name", "Bob"]]
    assert j["form_by_name"]["name"] == {"first": "Ann Lee", "all": ["Ann Lee", "Bob"]}
    assert j["form_count"] == 3 and j["form_past_end"] is True
    assert j["query"] == []


def test_form_from_aiohttp(kiln_factory):
    k = make(kiln_factory)

    async def main():
        async with aiohttp.ClientSession() as s:
            out = []
            for data in ({"a": "1", "b": "x y&z=\u00fc"}, [("t", "1"), ("t", "2"), ("u", "")]):
                async with s.post("http://127.0.0.1:%d/pairs?q=1" % k.port, data=data) as r:
                    assert r.status == 200
                    out.append(json.loads(await r.text()))
            return out

    one, two = asyncio.run(asyncio.wait_for(main(), 10))
    assert one["form"] == [["a", "1"], ["b", "x y&z=\u00fc"]]
    assert one["query"] == [["q", "1"]]
    assert two["form"] == [["t", "1"], ["t", "2"], ["u", ""]]
    assert two["form_by_name"]["t"]["all"] == ["1", "2"]


def test_form_with_parameters_and_any_case(kiln_factory):
    k = make(kiln_factory)
    body = urllib.parse.urlencode({"a": "1 2", "b": "%zz"}).replace("%25zz", "%zz")
    for ct in ("application/x-www-form-urlencoded; charset=utf-8",
               "Application/X-WWW-Form-URLEncoded",
               "application/x-www-form-urlencoded ;charset=UTF-8"):
        j = pairs(k, method="POST", body=body, headers={"Content-Type": ct})
        assert j["form"] == [["a", "1 2"], ["b", "%zz"]], ct


def test_other_content_types_have_no_form(kiln_factory):
    k = make(kiln_factory)
    for headers in ({"Content-Type": "text/plain"}, {"Content-Type": "application/json"},
                    {"Content-Type": "application/x-www-form-urlencodedx"},
                    {"Content-Type": "multipart/form-data; boundary=x"}, {}):
        j = pairs(k, method="POST", body="a=1&b=2", headers=headers)
        assert (j["form"], j["form_count"], j["form_past_end"]) == ([], 0, True), headers
        assert j["form_by_name"] == {} and j["absent"] is True


# ---- request storage ---------------------------------------------------------------

def frees(k, tag, since):
    return re.findall(r"params: free (%s\.\w+)" % re.escape(tag), k.log()[since:])


def wait_frees(k, tag, since, want, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = frees(k, tag, since)
        if sorted(got) == sorted(want):
            time.sleep(0.2)          # nothing more comes
            break
        time.sleep(0.05)
    return frees(k, tag, since)


def test_stored_values_are_freed_once(kiln_factory):
    k = make(kiln_factory)
    mark = k.mark()
    st, _, body = http_request(k.port, "/store?tag=s1")
    assert (st, body) == (200, b"s1.a2 s1.b n -\n")
    # the replaced value at once, then the others in the order set
    assert wait_frees(k, "s1", mark, ["s1.a1", "s1.a2", "s1.b"]) == ["s1.a1", "s1.a2", "s1.b"]


def test_stored_values_of_keep_alive_requests(kiln_factory):
    k = make(kiln_factory)
    mark = k.mark()
    c = RawConn(k.port)
    c.send("GET /store?tag=k1 HTTP/1.1\r\nHost: x\r\n\r\n"
           "GET /store?tag=k2 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert c.read_response().body == b"k1.a2 k1.b n -\n"
    assert c.read_response().body == b"k2.a2 k2.b n -\n"
    assert wait_frees(k, "k1", mark, ["k1.a1", "k1.a2", "k1.b"]) == ["k1.a1", "k1.a2", "k1.b"]
    assert wait_frees(k, "k2", mark, ["k2.a1", "k2.a2", "k2.b"]) == ["k2.a1", "k2.a2", "k2.b"]
    c.close()


def test_stored_value_freed_when_the_handler_fails(kiln_factory):
    k = make(kiln_factory)
    mark = k.mark()
    assert http_request(k.port, "/store-error?tag=e1")[0] == 500
    assert wait_frees(k, "e1", mark, ["e1.a"]) == ["e1.a"]


def test_stored_values_of_an_answered_pending_request(kiln_factory):
    k = make(kiln_factory)
    mark = k.mark()
    st, _, body = http_request(k.port, "/store-pending?tag=p1&ms=100")
    assert (st, body) == (200, b"p1.a p1.b\n")
    assert wait_frees(k, "p1", mark, ["p1.a", "p1.b"]) == ["p1.a", "p1.b"]
    assert "cancel p1" not in k.log()[mark:]


def test_stored_values_freed_after_the_cancel_when_the_client_leaves(kiln_factory):
    k = make(kiln_factory)
    mark = k.mark()
    c = RawConn(k.port)
    c.send("GET /store-pending?tag=g1&ms=5000 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.2)
    assert frees(k, "g1", mark) == []
    c.close()
    k.wait_log(r"params: cancel g1", since=mark)
    assert wait_frees(k, "g1", mark, ["g1.a", "g1.b"]) == ["g1.a", "g1.b"]
    log = k.log()[mark:]
    assert log.index("cancel g1") < log.index("free g1.a")


def test_stored_values_freed_at_pending_timeout(kiln_factory):
    k = make(kiln_factory, pending_timeout=0.3)
    mark = k.mark()
    assert http_request(k.port, "/store-pending?tag=d1&ms=5000")[0] == 504
    k.wait_log(r"params: cancel d1", since=mark)
    assert wait_frees(k, "d1", mark, ["d1.a", "d1.b"]) == ["d1.a", "d1.b"]
