"""A real browser (headless Chromium, driven over the DevTools protocol) talks to kiln's WebSocket routes."""

import asyncio
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
