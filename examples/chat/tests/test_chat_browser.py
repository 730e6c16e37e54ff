"""The chat page in a real browser (headless Chromium over the DevTools protocol): two tabs in one room, served by different workers (each page shows its worker), each sees what is typed in the other, markup shown as text."""

import asyncio
import json
import os

import pytest

from conftest import kiln_browser

Chromium, open_tab, settle = kiln_browser.Chromium, kiln_browser.open_tab, kiln_browser.settle


async def joined(dt):
    """Waits until the page is in its room; the pid of its worker."""
    await settle(dt, "document.getElementById('status').dataset.worker !== undefined"
                 " && !document.getElementById('text').disabled")
    return int(await dt.evaluate("document.getElementById('status').dataset.worker"))


async def say(dt, text):
    """Types `text` into the page's field and presses Enter, as a person does."""
    await dt.call("Page.bringToFront")
    await dt.evaluate("document.getElementById('text').focus()")
    await dt.call("Input.insertText", text=text)
    for kind in ("keyDown", "keyUp"):
        await dt.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter",
                      windowsVirtualKeyCode=13, text="\r" if kind == "keyDown" else "")


async def said(dt, nick, text):
    """Waits until the page's log shows `text` said by `nick`."""
    await settle(dt, "[...document.querySelectorAll('#log li.message')].some(li =>"
                 " li.querySelector('.nick').textContent === %s &&"
                 " li.querySelector('.text').textContent === %s)"
                 % (json.dumps(nick), json.dumps(text)))


def test_two_tabs_hear_each_other(chat):
    if not os.access(kiln_browser.CHROMIUM, os.X_OK):
        pytest.skip("%s missing (Debian package chromium)" % kiln_browser.CHROMIUM)
    markup = "<b>not bold</b> & \"quoted\""

    async def script(port):
        got = {}
        async with open_tab(port, chat.url + "/?room=lobby&nick=ann") as one:
            got["one"] = await joined(one)
            for _ in range(20):
                async with open_tab(port, chat.url + "/?room=lobby&nick=bob") as two:
                    got["two"] = await joined(two)
                    if got["two"] == got["one"]:
                        continue
                    await settle(one, "[...document.querySelectorAll('#log li.notice')]"
                                 ".some(li => li.textContent === 'bob joined (worker %d)')"
                                 % got["two"])
                    await say(one, "hello from tab one")
                    await said(two, "ann", "hello from tab one")
                    await say(two, markup)
                    await said(one, "bob", markup)
                    got["bold"] = await one.evaluate("document.querySelectorAll('#log b').length")
                    got["field"] = await one.evaluate("document.getElementById('text').value")
                    break
            got["status"] = await one.evaluate("document.getElementById('status').textContent")
        return got

    browser = Chromium(os.path.join(chat.dir, "chromium.log"))
    try:
        port = browser.devtools_port()
        got = asyncio.run(asyncio.wait_for(script(port), 120))
    finally:
        browser.stop()
    assert got["one"] != got["two"], "20 tabs, all served by worker %d" % got["one"]
    assert {got["one"], got["two"]} == set(chat.worker_pids())
    assert got["bold"] == 0                 # shown as text, not markup
    assert got["field"] == ""               # the field is cleared once sent
    assert got["status"] == "in room lobby as ann (worker %d)" % got["one"]
