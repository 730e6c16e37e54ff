"""The plugin guide's code (examples/README.md) compiles and does what the guide says: its hello answers /Alice, its echo answers a WebSocket message, and its middleware answers 401 with WWW-Authenticate and adds Server-Timing, to kiln's own 404 as well; each built as a plugin author would, with -Wall -Wextra -Werror against include/kiln.h."""

import asyncio
import os
import re
import subprocess

import websockets

from conftest import SRC

GUIDE = os.path.join(SRC, "examples", "README.md")


def c_blocks():
    with open(GUIDE) as f:
        return re.findall(r"```c\n(.*?)```", f.read(), re.S)


def block_with(needle):
    found = [b for b in c_blocks() if needle in b]
    assert len(found) == 1, "examples/README.md: %d C blocks hold %r" % (len(found), needle)
    return found[0]


def build(tmp_path, name, source):
    src = tmp_path / (name + ".c")
    so = tmp_path / (name + ".so")
    src.write_text(source)
    r = subprocess.run(["cc", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror",
                        "-I", os.path.join(SRC, "include"), "-o", str(so), str(src)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, "%s does not compile:\n%s\n%s" % (name, r.stderr, source)
    return str(so)


def serve(kiln_factory, so, name):
    k = kiln_factory.make(start=False, plugins=())
    os.rename(so, os.path.join(k.plugin_dir, name + ".so"))
    k.start()
    return k


def test_hello(kiln_factory, tmp_path):
    k = serve(kiln_factory, build(tmp_path, "hello", block_with('KILN_PLUGIN("hello"')), "hello")
    assert k.get_text("/Alice") == (200, "Hello, Alice")
    assert k.get_text("/") == (200, "Hello, Anonymous")


def test_echo(kiln_factory, tmp_path):
    source = "#include <kiln.h>\n" + block_with('KILN_PLUGIN("echo"')
    k = serve(kiln_factory, build(tmp_path, "echo", source), "echo")

    async def talk():
        async with websockets.connect("ws://127.0.0.1:%d/echo" % k.port) as ws:
            await ws.send("Alice")
            text = await ws.recv()
            await ws.send(b"\x00\x01")
            return text, await ws.recv()
    assert asyncio.run(asyncio.wait_for(talk(), 20)) == ("Hello, Alice", b"\x00\x01")


def test_middleware(kiln_factory, tmp_path):
    block = block_with("kiln_add_middleware(app")
    head, _, call = block.partition("/* in init: */\n")
    source = ("#include <stdlib.h>\n#include <string.h>\n#include <kiln.h>\n\n" + head +
              "static int init(kiln_app *app)\n{\n    return " + call.strip().rstrip(";") +
              ";\n}\n\nKILN_PLUGIN(\"guide_mw\", init, NULL);\n")
    k = serve(kiln_factory, build(tmp_path, "guide_mw", source), "guide_mw")
    st, h, _ = k.request("/anything")
    assert st == 401 and h["www-authenticate"] == 'Basic realm="x"'
    assert h["server-timing"] == "app;dur=1"
    st, h, _ = k.request("/anything", headers={"Authorization": "Basic eDp5"})
    assert st == 404 and h["server-timing"] == "app;dur=1"
