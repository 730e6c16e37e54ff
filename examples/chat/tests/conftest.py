"""Fixtures of the chat example's tests: pytest_kiln's (a real kiln on an ephemeral loopback port) serving chat.so with two workers, a redis-server of the test's own for [server] pubsub, and Chromium over the DevTools protocol as kiln's own browser tests drive it."""

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.dirname(HERE)
SRC = os.path.abspath(os.environ.get("KILN_SRC", os.path.dirname(os.path.dirname(EXAMPLE))))
BUILD = os.path.abspath(os.environ.get("KILN_BUILD", SRC))
STATIC = os.path.join(EXAMPLE, "static")

# pytest_kiln from this source tree, run on the build's kiln; a server that
# names no plugin loads the example's.
sys.path.insert(0, os.path.join(SRC, "python"))
pytest.register_assert_rewrite("pytest_kiln")
import pytest_kiln  # noqa: E402  (the path above first)

pytest_plugins = ["pytest_kiln"]


def plugin_path(name):
    """The build's chat.so, or a plugin bundled with kiln."""
    if name == "chat":
        return os.path.join(BUILD, "examples", "chat", ".libs", "chat.so")
    return os.path.join(BUILD, "plugins", name, ".libs", name + ".so")


pytest_kiln.configure(binary=os.path.join(BUILD, "kiln"), plugin_path=plugin_path,
                      default_plugins=("chat",))


def load(name, path):
    """The module of kiln's tests/integration/`path`, under `name`."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(SRC, "tests",
                                                                     "integration", path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# Chromium over the DevTools protocol (Chromium, open_tab, settle).
kiln_browser = load("kiln_browser", "test_browser.py")


@pytest.fixture
def chat(kiln_factory):
    """A kiln serving the chat example as examples/chat/kiln.conf does: two
    workers, the page from static/."""
    return kiln_factory.make(plugins=("chat",), server={"workers": 2},
                             sections={"chat": {"static_dir": STATIC}})


@pytest.fixture
def redis_url(tmp_path):
    """A redis-server of the test's own on a free loopback port (killed by
    pid at the end): its redis:// URL, for [server] pubsub."""
    assert shutil.which("redis-server"), "redis-server is not installed (scripts/deps --test)"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert proc.poll() is None, "redis-server on port %d exited" % port
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not listen on %d" % port
                time.sleep(0.05)
        yield "redis://127.0.0.1:%d" % port
    finally:
        proc.kill()
        proc.wait(10)
