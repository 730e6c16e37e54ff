"""A real browser (headless Chromium, driven over the DevTools protocol) against kiln: its WebSocket routes (echo, permessage-deflate); a login form whose POST sets cookies (Path, HttpOnly, SameSite, Max-Age) and answers 303, the cookies the browser then sends through the redirect, and a cookie deleted by a 302; and multipart forms with a text field and files chosen in <input type=file> (one, none, several with `multiple`), read back byte-exact (tests/plugins/browser.c)."""

import asyncio
import contextlib
import os.path
import zlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse

import aiohttp
import pytest


HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM = "/usr/bin/chromium"
PAGE = os.path.join(HERE, "ws_page.html")


class Chromium:
    """A headless Chromium in its own process group, with a fresh profile."""

    def __init__(self, log_path):
        self.profile = tempfile.mkdtemp(prefix="kiln-chromium-")
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync",
             "--user-data-dir=" + self.profile, "--remote-debugging-port=0", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def devtools_port(self, timeout=20.0):
        """The DevTools port Chromium chose, from DevToolsActivePort."""
        path = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail("chromium exited with %s" % self.proc.returncode)
            try:
                with open(path) as f:
                    first = f.readline().strip()
                if first:
                    return int(first)
            except FileNotFoundError:
                pass
            time.sleep(0.1)
        pytest.fail("chromium wrote no DevToolsActivePort within %.0fs" % timeout)

    def stop(self):
        """Ends the process group this object started, then removes the profile."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)    # helpers left in the group
        except ProcessLookupError:
            pass
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


class DevTools:
    """Just enough of the DevTools protocol: one page, Runtime.evaluate."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0

    async def call(self, method, timeout=20.0, **params):
        self.next_id += 1
        my_id = self.next_id
        await self.ws.send_str(json.dumps({"id": my_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            msg = await self.ws.receive(timeout=max(deadline - time.monotonic(), 0.01))
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError("devtools connection ended: %r" % (msg,))
            data = json.loads(msg.data)
            if data.get("id") == my_id:
                if "error" in data:
                    raise AssertionError("%s failed: %r" % (method, data["error"]))
                return data["result"]

    async def evaluate(self, expression, timeout=20.0):
        r = await self.call("Runtime.evaluate", timeout=timeout, expression=expression,
                            awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            raise AssertionError("page error: %r" % r["exceptionDetails"])
        return r["result"].get("value")


@contextlib.asynccontextmanager
async def open_tab(devtools_port, url="about:blank"):
    """A new tab on `url`: its DevTools session, until the block ends."""
    base = "http://127.0.0.1:%d" % devtools_port
    async with aiohttp.ClientSession() as s:
        async with s.put(base + "/json/new?" + urllib.parse.quote(url, safe="")) as r:
            assert r.status == 200, await r.text()
            target = await r.json()
        async with s.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            yield DevTools(ws)


async def settle(dt, expression, timeout=20.0):
    """Waits until the page says `expression` is true; a page being replaced
    (its context destroyed under the call) just means not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if await dt.evaluate(expression, timeout=5):
                return
        except AssertionError:
            pass
        assert time.monotonic() < deadline, "the page never got to %s" % expression
        await asyncio.sleep(0.1)


async def leads_to(dt, path, action):
    """Runs `action` (a coroutine starting a navigation: a click, Page.navigate)
    and waits until a new document at `path` has loaded; its <pre id=out> as
    JSON, and how many redirects led there."""
    await dt.evaluate("window.kilnOld = true")
    await action
    await settle(dt, "window.kilnOld === undefined && document.readyState === 'complete'"
                 " && location.pathname === %s" % json.dumps(path))
    out = await dt.evaluate("document.getElementById('out').textContent")
    redirects = await dt.evaluate("performance.getEntriesByType('navigation')[0].redirectCount")
    return json.loads(out), redirects


async def run_page(devtools_port, url):
    """Opens `url` in a new tab and returns the page's window.result."""
    base = "http://127.0.0.1:%d" % devtools_port
    async with aiohttp.ClientSession() as s:
        async with s.put(base + "/json/new?" + urllib.parse.quote(url, safe="")) as r:
            assert r.status == 200, await r.text()
            target = await r.json()
        async with s.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            dt = DevTools(ws)
            deadline = time.monotonic() + 20
            # The new tab starts on about:blank: wait for our page's script.
            while await dt.evaluate("typeof window.result") != "object":
                assert time.monotonic() < deadline, "page did not load"
                await asyncio.sleep(0.1)
            return await dt.evaluate("window.result.then(r => JSON.stringify(r))")


def test_chromium_echo_and_deflate(kiln_factory):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("%s missing (Debian package chromium)" % CHROMIUM)
    k = kiln_factory.make(plugins=("hello", "echo", "ws_page", "ws_sub"),
                          sections={"ws_page": {"file": PAGE}})
    browser = Chromium(os.path.join(k.dir, "chromium.log"))
    try:
        port = browser.devtools_port()
        raw = asyncio.run(asyncio.wait_for(run_page(port, k.url + "/page"), 60))
    finally:
        browser.stop()
    result = json.loads(raw)
    echo, deflate = result["echo"], result["deflate"]
    assert echo["got"] == ["Hello, Chromium \u2713", [0, 1, 2, 253, 254, 255]]
    assert (echo["code"], echo["reason"], echo["clean"]) == (1000, "done", True)
    assert echo["extensions"] == ""
    assert deflate["lengthOk"] is True
    assert deflate["bytes"] == [7, 8, 9]
    assert deflate["code"] == 1000
    assert "permessage-deflate" in deflate["extensions"]
    st, body = k.get_text("/")
    assert (st, body) == (200, "Hello, Anonymous")


def browse(kiln_factory, script):
    """Starts kiln with the browser plugin and Chromium, runs script(k, port)
    (a coroutine function, port the DevTools one) within 90 s; its value."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("%s missing (Debian package chromium)" % CHROMIUM)
    k = kiln_factory.make(plugins=("browser",))
    browser = Chromium(os.path.join(k.dir, "chromium.log"))
    try:
        port = browser.devtools_port()
        return k, asyncio.run(asyncio.wait_for(script(k, port), 90))
    finally:
        browser.stop()


async def cookies_of(dt, url):
    """The cookies Chromium keeps for `url`: name -> DevTools' Cookie object."""
    r = await dt.call("Network.getCookies", urls=[url])
    return {c["name"]: c for c in r["cookies"]}


def test_chromium_cookies_through_redirects(kiln_factory):
    async def script(k, port):
        got = {}
        async with open_tab(port, k.url + "/login") as dt:
            await settle(dt, "!!document.getElementById('user')")
            await dt.evaluate("document.getElementById('user').value = 'alice'")
            got["in"] = await leads_to(dt, "/whoami",
                                       dt.evaluate("document.getElementById('go').click()"))
            got["script_sees"] = await dt.evaluate("document.cookie")
            got["jar_in"] = await cookies_of(dt, k.url + "/")
            got["jar_elsewhere"] = await cookies_of(dt, k.url + "/elsewhere/x")
            got["out"] = await leads_to(dt, "/whoami",
                                        dt.call("Page.navigate", url=k.url + "/logout"))
            got["jar_out"] = await cookies_of(dt, k.url + "/")
        return got

    before = time.time()
    k, got = browse(kiln_factory, script)
    # the POST's 303 was followed with a GET (/whoami has no POST route), and
    # that GET carried the cookies just set: not "scoped" (Path=/elsewhere)
    seen, redirects = got["in"]
    assert redirects == 1
    assert sorted(seen["cookies"]) == [["session", "alice"], ["theme", "dark"]], seen
    # HttpOnly keeps "session" from the page's script; "theme" it may read
    assert got["script_sees"] == "theme=dark"
    jar = got["jar_in"]
    assert set(jar) == {"session", "theme"}, jar
    s = jar["session"]
    assert (s["value"], s["path"], s["httpOnly"], s["sameSite"], s["session"]) == \
        ("alice", "/", True, "Lax", False), s
    assert before + 590 < s["expires"] < time.time() + 610, s     # Max-Age=600
    t = jar["theme"]
    assert (t["path"], t["httpOnly"], t["session"]) == ("/", False, True), t
    assert got["jar_elsewhere"]["scoped"]["value"] == "no"
    # /logout's deletion (Max-Age=0, Path=/) took effect before the 302's GET
    seen, redirects = got["out"]
    assert redirects == 1
    assert seen == {"cookies": [["theme", "dark"]], "cookie_header": "theme=dark"}, seen
    assert set(got["jar_out"]) == {"theme"}


def file_input(dt, element_id, paths):
    """Chooses `paths` in the page's <input type=file id=element_id>, as the
    file picker would (DOM.setFileInputFiles)."""
    async def choose():
        r = await dt.call("Runtime.evaluate",
                          expression="document.getElementById(%s)" % json.dumps(element_id))
        await dt.call("DOM.setFileInputFiles", files=[str(p) for p in paths],
                      objectId=r["result"]["objectId"])
        return await dt.evaluate("document.getElementById(%s).files.length"
                                 % json.dumps(element_id))
    return choose()


def summary(f):
    return (f["field"], f["name"], f["type"], f["size"], f["len"], f["crc"])


def test_chromium_multipart_upload_forms(kiln_factory, tmp_path):
    photo = os.urandom(200 * 1024 - 7)
    # bytes that look like the start of a boundary Chromium might choose
    photo = photo[:1000] + b"\r\n------WebKitFormBoundary\r\n\r\n--" + photo[1000:]
    photo_path = tmp_path / "photo \u00e9t\u00e9.png"
    photo_path.write_bytes(photo)
    notes = "line one\r\nline two \u2713\n".encode()
    many = [("notes.txt", notes), ("data.json", b'{"a": [1, 2]}'), ("empty.bin", b""),
            ("all.bin", bytes(range(256)) * 40)]
    for name, data in many:
        (tmp_path / name).write_bytes(data)

    async def script(k, port):
        got = {}
        async with open_tab(port, k.url + "/upload") as dt:
            await settle(dt, "!!document.getElementById('doc')")
            assert await file_input(dt, "doc", [photo_path]) == 1
            await dt.evaluate("document.getElementById('title').value = 'Summer <&> \"\u00e9t\u00e9\"'")
            got["one"], _ = await leads_to(dt, "/upload",
                                           dt.evaluate("document.getElementById('send-one').click()"))
            # the same form again with no file chosen: an empty file part
            await dt.call("Page.navigate", url=k.url + "/upload")
            await settle(dt, "document.readyState === 'complete' && !!document.getElementById('doc')")
            await dt.evaluate("document.getElementById('title').value = 'nothing'")
            got["none"], _ = await leads_to(dt, "/upload",
                                            dt.evaluate("document.getElementById('send-one').click()"))
            await dt.call("Page.navigate", url=k.url + "/upload")
            await settle(dt, "document.readyState === 'complete' && !!document.getElementById('files')")
            assert await file_input(dt, "files", [tmp_path / n for n, _ in many]) == len(many)
            await dt.evaluate("document.getElementById('note').value = 'four files\\nattached'")
            got["many"], _ = await leads_to(dt, "/upload",
                                            dt.evaluate("document.getElementById('send-many').click()"))
        return got

    _, got = browse(kiln_factory, script)
    one = got["one"]
    assert one["content_type"].startswith("multipart/form-data; boundary="), one
    assert one["error"] is None
    assert one["fields"] == [["title", 'Summer <&> "\u00e9t\u00e9"']]
    # Chromium sends the file name's UTF-8 as it is, and a type by extension
    assert [summary(f) for f in one["files"]] == [
        ("doc", "photo \u00e9t\u00e9.png", "image/png", len(photo), len(photo), zlib.crc32(photo))]
    none = got["none"]
    assert none["fields"] == [["title", "nothing"]]
    assert [summary(f) for f in none["files"]] == [
        ("doc", "", "application/octet-stream", 0, 0, 0)]
    m = got["many"]
    assert m["error"] is None
    # a textarea's line breaks are sent as CRLF
    assert m["fields"] == [["note", "four files\r\nattached"]]
    assert [(f["field"], f["name"], f["size"], f["crc"]) for f in m["files"]] == [
        ("files", n, len(d), zlib.crc32(d)) for n, d in many]
    assert [f["type"] for f in m["files"]][:2] == ["text/plain", "application/json"]
