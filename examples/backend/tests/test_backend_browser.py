"""The notes example's page in a real browser (headless Chromium over the DevTools protocol), used as a person would: typing into the login form and clicking, in one tab; adding a note there and seeing it appear in a second tab over the WebSocket, then an edit made in the second tab and a deletion in the first reaching the other."""

import asyncio
import json
import os

import pytest

from conftest import kiln_browser

Chromium, open_tab, settle = kiln_browser.Chromium, kiln_browser.open_tab, kiln_browser.settle


async def click(dt, selector):
    """A mouse click in the middle of the element, as a pointer makes it, in
    the tab brought to the front first (as a person switches tabs); it waits
    until the element is what lies under that point."""
    await dt.call("Page.bringToFront")
    js = json.dumps(selector)
    await settle(dt, "(() => { const e = document.querySelector(%s); e.scrollIntoView();"
                 " const r = e.getBoundingClientRect();"
                 " const at = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);"
                 " return at === e || e.contains(at); })()" % js)
    box = await dt.evaluate("(() => { const r = document.querySelector(%s)"
                            ".getBoundingClientRect();"
                            " return [r.x + r.width / 2, r.y + r.height / 2]; })()" % js)
    for kind in ("mousePressed", "mouseReleased"):
        await dt.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1],
                      button="left", clickCount=1)


async def type_into(dt, selector, text):
    """Clicks into a field, clears it, and types `text` into it."""
    await click(dt, selector)
    await dt.evaluate("document.querySelector(%s).select()" % json.dumps(selector))
    await dt.call("Input.insertText", text=text)


def titles(dt):
    return dt.evaluate("[...document.querySelectorAll('#notes li .title')]"
                       ".map(e => e.textContent)")


async def shows(dt, title, present=True):
    """Waits until the page's list has (or no longer has) a note titled so."""
    js = json.dumps(title)
    await settle(dt, "[...document.querySelectorAll('#notes li .title')]"
                 ".some(e => e.textContent === %s) === %s" % (js, json.dumps(present)))


def test_a_note_added_in_one_tab_appears_in_the_other(backend):
    if not os.access(kiln_browser.CHROMIUM, os.X_OK):
        pytest.skip("%s missing (Debian package chromium)" % kiln_browser.CHROMIUM)

    async def script(port):
        got = {}
        async with open_tab(port, backend.url + "/") as one:
            await settle(one, "!document.getElementById('login-form').hidden")
            await type_into(one, "#login-user", "alice")
            await type_into(one, "#login-password", "bob-password")
            await click(one, "#login-button")
            await settle(one, "document.getElementById('error').textContent !== ''")
            got["refused"] = await one.evaluate("document.getElementById('error').textContent")
            await type_into(one, "#login-password", "alice-password")
            await click(one, "#login-button")
            await settle(one, "document.getElementById('live').textContent === '(live)'")
            got["me"] = await one.evaluate("document.getElementById('me').textContent")
            got["first"] = await titles(one)
            # the cookie is HttpOnly: the page's script cannot read it
            got["document_cookie"] = await one.evaluate("document.cookie")
            async with open_tab(port, backend.url + "/") as two:
                # the second tab is logged in by the cookie, and listening
                await settle(two, "document.getElementById('live').textContent === '(live)'")
                await type_into(one, "#note-title", "Written in tab one")
                await type_into(one, "#note-body", "and read in tab two")
                await click(one, "#note-save")
                await shows(two, "Written in tab one")
                got["two_after_add"] = await titles(two)
                got["body_in_two"] = await two.evaluate(
                    "document.querySelector('#notes li .body').textContent")
                # an edit in tab two reaches tab one
                await click(two, "#notes li .edit")
                await type_into(two, "#note-title", "Edited in tab two")
                await click(two, "#note-save")
                await shows(one, "Edited in tab two")
                await shows(one, "Written in tab one", present=False)
                # an answer read late (tab one's POST, on its own connection)
                # is an older version of the note: it does not undo the edit
                await one.evaluate(
                    "show({id: Number(document.querySelector('#notes li').dataset.id),"
                    " title: 'Written in tab one', body: '', owner: 'alice',"
                    " updated: '2000-01-01T00:00:00.000000Z'}, false)")
                got["one_after_stale"] = await titles(one)
                # a deletion in tab one reaches tab two
                await click(one, "#notes li .delete")
                await shows(two, "Edited in tab two", present=False)
                await shows(one, "Edited in tab two", present=False)    # its own list too
                got["two_at_end"] = await titles(two)
                got["one_at_end"] = await titles(one)
        return got

    browser = Chromium(os.path.join(backend.dir, "chromium.log"))
    try:
        port = browser.devtools_port()
        got = asyncio.run(asyncio.wait_for(script(port), 90))
    finally:
        browser.stop()
    assert got["refused"] == "wrong user name or password"
    assert got["me"] == "alice"
    assert sorted(got["first"]) == ["Reading", "Shopping"]
    assert got["document_cookie"] == ""
    assert got["two_after_add"][0] == "Written in tab one", got
    assert got["body_in_two"] == "and read in tab two"
    assert got["one_after_stale"][0] == "Edited in tab two", got
    assert sorted(got["two_at_end"]) == sorted(got["one_at_end"]) == ["Reading", "Shopping"]
