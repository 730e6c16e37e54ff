"""The bundled cors plugin: a preflight answered before any route (OPTIONS to routes that have none), its 403 naming the method or header refused, Access-Control-* headers on handlers' answers and kiln's own 404s, Vary, credentials echoing the origin, an origin not listed passing without them, the prefix scope; and headless Chromium's fetch() across origins: allowed with a preflighted PUT, refused from an origin not listed."""

import asyncio
import json
import os

import pytest

from test_browser import CHROMIUM, Chromium, open_tab, settle

HERE = os.path.dirname(os.path.abspath(__file__))
APP = "https://app.example"


def cors(kiln_factory, **keys):
    section = {"origins": APP + " https://other.example", "methods": "GET, POST, PUT",
               "headers": "Content-Type, X-Token", "expose": "X-Request-Id",
               "max_age": "120", "prefix": "/api"}
    section.update(keys)
    return kiln_factory.make(plugins=("guarded", "cors"), sections={"cors": section})


def preflight(k, path, method="PUT", headers="content-type", origin=APP):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return k.request(path, method="OPTIONS", headers=h)


def test_preflight(kiln_factory):
    k = cors(kiln_factory)
    st, h, body = preflight(k, "/api/notes", headers="Content-Type, x-token")
    assert st == 204 and body == b""
    assert h["access-control-allow-origin"] == APP
    assert h["access-control-allow-methods"] == "GET, POST, PUT"
    assert h["access-control-allow-headers"] == "Content-Type, X-Token"
    assert h["access-control-max-age"] == "120"
    assert "Origin" in h["vary"]
    assert "access-control-allow-credentials" not in h
    st, _, body = preflight(k, "/api/notes", method="DELETE")
    assert st == 403 and b"method DELETE is not allowed" in body
    st, _, body = preflight(k, "/api/notes", headers="content-type, x-secret")
    assert st == 403 and b"header x-secret is not allowed" in body
    # an origin not listed, or a path outside the prefix: kiln's own answer
    # to OPTIONS (the route takes every method: the handler's)
    st, h, _ = preflight(k, "/api/notes", origin="https://evil.example")
    assert "access-control-allow-origin" not in h
    st, h, _ = preflight(k, "/open")
    assert "access-control-allow-origin" not in h


def test_actual_requests(kiln_factory):
    k = cors(kiln_factory)
    st, h, body = k.request("/api/x", headers={"Origin": "https://other.example"})
    assert (st, body) == (200, b"user=-")
    assert h["access-control-allow-origin"] == "https://other.example"
    assert h["access-control-expose-headers"] == "X-Request-Id"
    assert h["vary"] == "Origin"
    st, h, _ = k.request("/api/x", headers={"Origin": "https://evil.example"})
    assert st == 200 and "access-control-allow-origin" not in h and h["vary"] == "Origin"
    st, h, _ = k.request("/api/x")                  # same-origin: no Origin at all
    assert st == 200 and "access-control-allow-origin" not in h


def test_kiln_answers_get_headers(kiln_factory):
    """The after sees kiln's own 404 and a handler's kiln_error: a script
    can read why its request failed."""
    k = kiln_factory.make(plugins=("guarded", "cors"), sections={"cors": {"origins": APP}})
    st, h, _ = k.request("/nowhere/at/all", headers={"Origin": APP})
    assert st == 404 and h["access-control-allow-origin"] == APP
    st, h, _ = k.request("/err/503", headers={"Origin": APP})
    assert st == 503 and h["access-control-allow-origin"] == APP


def test_star_and_credentials(kiln_factory):
    k = cors(kiln_factory, origins="*", prefix="")
    st, h, _ = k.request("/open", headers={"Origin": "https://anyone.example"})
    assert h["access-control-allow-origin"] == "*" and "vary" not in h
    k2 = cors(kiln_factory, origins="*", credentials="on", prefix="")
    st, h, _ = k2.request("/open", headers={"Origin": "https://anyone.example"})
    assert h["access-control-allow-origin"] == "https://anyone.example"
    assert h["access-control-allow-credentials"] == "true" and h["vary"] == "Origin"


def test_bad_config(kiln_factory):
    k = kiln_factory.make(start=False, plugins=("guarded", "cors"),
                          sections={"cors": {"origins": "app.example"}})
    rc, out = k.check()
    assert rc != 0 and '[cors] origins: expected * or origins like' in out, out


PAGE = """<!doctype html><meta charset=utf-8><title>cors</title><pre id=out></pre>
<script>
async function attempt(url, init) {
  try {
    const r = await fetch(url, init);
    return {status: r.status, body: await r.text(), id: r.headers.get("X-Request-Id")};
  } catch (e) { return {error: String(e)}; }
}
window.run = async (api) => ({
  put: await attempt(api + "/api/notes", {method: "PUT", body: "{}",
                     headers: {"Content-Type": "application/json", "X-Token": "t"}}),
  get: await attempt(api + "/api/notes"),
});
</script>"""


def test_chromium_cross_origin(kiln_factory, tmp_path):
    """A page from kiln A fetching kiln B: allowed when B lists A's origin
    (the PUT with a JSON body is preflighted), refused by the browser
    when it does not."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("%s missing (Debian package chromium)" % CHROMIUM)
    page = tmp_path / "page.html"
    page.write_text(PAGE)
    site = kiln_factory.make(plugins=("ws_page",), sections={"ws_page": {"file": str(page)}})
    origin = "http://127.0.0.1:%d" % site.port
    api = cors(kiln_factory, origins=origin)
    stranger = cors(kiln_factory, origins="https://app.example")
    browser = Chromium(os.path.join(site.dir, "chromium.log"))

    async def script(port):
        async with open_tab(port, site.url + "/page") as dt:
            await settle(dt, "typeof window.run === 'function'")
            ok = await dt.evaluate("window.run(%s)" % json.dumps(api.url))
            refused = await dt.evaluate("window.run(%s)" % json.dumps(stranger.url))
            return ok, refused
    try:
        ok, refused = asyncio.run(asyncio.wait_for(script(browser.devtools_port()), 90))
    finally:
        browser.stop()
    assert ok["put"] == {"status": 200, "body": "user=-", "id": None}, ok
    assert ok["get"]["status"] == 200, ok
    assert "error" in refused["put"] and "error" in refused["get"], refused
