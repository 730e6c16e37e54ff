"""kiln under valgrind: master and workers serve HTTP and WebSocket traffic, reload and stop with no memory errors and no leaks."""

import asyncio
import glob
import os
import re
import shutil
import signal
import subprocess

import pytest

from conftest import KILN, RawConn

VALGRIND = shutil.which("valgrind")


def sanitized_build():
    """A sanitizer build cannot run under valgrind."""
    out = subprocess.run(["ldd", KILN], stdout=subprocess.PIPE, text=True).stdout
    return "libasan" in out


pytestmark = [
    pytest.mark.skipif(VALGRIND is None, reason="valgrind is not installed"),
    pytest.mark.skipif(sanitized_build(), reason="the sanitizer build runs under ASan instead"),
]


def valgrind_reports(directory):
    """(file, text) of every valgrind log that shows an error or a leak."""
    bad = []
    for path in sorted(glob.glob(os.path.join(directory, "vg.*"))):
        with open(path, errors="replace") as f:
            text = f.read()
        errors = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        if errors is None or int(errors.group(1)) != 0:
            bad.append((path, text[-6000:]))
    return bad


def test_no_errors_or_leaks_under_valgrind(kiln_factory):
    k = kiln_factory.make(start=False, plugins=("hello", "echo", "inspect"),
                          server={"workers": 1, "graceful_timeout": "20s"})
    out = open(k.out_path, "ab")
    # Definite leaks count as errors; libwebsockets' and libc's lazily kept
    # memory ("still reachable") does not.
    k.proc = subprocess.Popen(
        [VALGRIND, "--child-silent-after-fork=no",
         "--leak-check=full", "--errors-for-leak-kinds=definite",
         "--show-leak-kinds=definite", "--log-file=" + os.path.join(k.dir, "vg.%p"),
         KILN, "-c", k.conf],
        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=k.dir)
    out.close()
    k.wait_ready(1, timeout=60)

    assert k.get_text("/J%C3%BCrgen", timeout=20) == (200, "Hello, Jürgen")
    st, _, body = k.request("/inspect/body", method="POST", body=b"x" * 5000, timeout=20)
    assert (st, len(body)) == (200, 5000)
    with RawConn(k.port, timeout=20) as c:
        c.send(b"GET /a/b HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().status == 404
        assert c.read_response().status == 200
    with RawConn(k.port, timeout=20) as c:
        c.send(b"GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.read_response().status == 400

    async def ws():
        import websockets
        async with websockets.connect("ws://127.0.0.1:%d/echo" % k.port,
                                      open_timeout=20) as s:
            await s.send("valgrind")
            assert await asyncio.wait_for(s.recv(), 20) == "Hello, valgrind"
            await s.send(b"\x00\x01")
            assert await asyncio.wait_for(s.recv(), 20) == b"\x00\x01"
    asyncio.run(ws())

    mark = k.mark()
    k.signal(signal.SIGHUP)
    k.wait_ready(2, timeout=60, since=mark)
    assert k.get_text("/", timeout=20) == (200, "Hello, Anonymous")

    assert k.stop(signal.SIGTERM, timeout=60) == 0, k.describe()
    bad = valgrind_reports(k.dir)
    assert not bad, "\n\n".join("%s:\n%s" % b for b in bad)
    assert len(glob.glob(os.path.join(k.dir, "vg.*"))) >= 3   # master + two generations
