"""File responses (kiln_file(), tests/plugins/files.c serving /files/{path:*} from its root): small and 16 MiB files byte-exact through curl and aiohttp, media types, ETag and Last-Modified with 304s, Range (206, 416, several ranges, If-Range), curl -C - resuming, HEAD, 404/403 answers, a slow client that does not block the loop, a client that leaves (its fd closed), and a 4 GiB sparse file read past 2^32."""

import asyncio
import email.utils
import hashlib
import os
import socket
import subprocess
import tempfile
import time

import aiohttp
import pytest

from conftest import RawConn, wait_until

BIG = 16 * 1024 * 1024


@pytest.fixture
def served(kiln_factory, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "small.txt").write_bytes(b"hello, file\n")
    (root / "big.bin").write_bytes(os.urandom(BIG))
    for ext in ("html", "css", "js", "json"):
        (root / ("a." + ext)).write_text("x")
    (root / "dir").mkdir()
    types = tmp_path / "mime.types"
    types.write_text("text/html html\ntext/css css\ntext/javascript js\napplication/json json\n"
                     "text/plain txt\n")
    k = kiln_factory.make(plugins=("files",), server={"workers": 1, "mime_types": str(types)},
                          sections={"files": {"root": str(root)}})
    return k, root


def curl(*args):
    return subprocess.run(["curl", "-sS", *args], capture_output=True, timeout=30)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def worker_fds(k):
    (pid,) = k.worker_pids()
    return len(os.listdir("/proc/%d/fd" % pid))


def settled_fds(k, wait=0.2, timeout=5):
    """worker_fds() once it stays the same for `wait` seconds: the server's
    side of a connection the client just closed may take a moment to go."""
    last, deadline = None, time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = worker_fds(k)
        if n == last:
            return n
        last = n
        time.sleep(wait)
    return last


def test_small_and_big_files_byte_exact_with_curl_and_aiohttp(served):
    k, root = served
    r = curl("-D", "-", "-o", "/dev/null", k.url + "/files/small.txt")
    head = r.stdout.decode()
    assert head.startswith("HTTP/1.1 200"), head
    assert "Content-Length: 12\r\n" in head and "Content-Type: text/plain\r\n" in head
    assert "Accept-Ranges: bytes\r\n" in head
    out = curl(k.url + "/files/big.bin").stdout
    assert sha(out) == sha((root / "big.bin").read_bytes())

    async def fetch():
        async with aiohttp.ClientSession() as s:
            async with s.get(k.url + "/files/big.bin") as resp:
                assert resp.status == 200
                assert resp.headers["Content-Length"] == str(BIG)
                assert resp.headers["Content-Type"] == "application/octet-stream"
                return await resp.read()
    assert sha(asyncio.run(fetch())) == sha((root / "big.bin").read_bytes())


def test_media_types_and_the_handlers_own(served):
    k, _ = served
    want = {"html": "text/html", "css": "text/css", "js": "text/javascript",
            "json": "application/json"}
    for ext, t in want.items():
        st, h, body = k.request("/files/a." + ext)
        assert (st, h["content-type"], body) == (200, t, b"x")
    st, h, _ = k.request("/typed/a.html")
    assert h["content-type"] == "text/x-own"


def test_validators_and_304(served):
    k, root = served
    st, h, _ = k.request("/files/small.txt")
    etag, lm = h["etag"], h["last-modified"]
    s = os.stat(root / "small.txt")
    assert etag == '"%x-%x-%x.%x"' % (s.st_ino, s.st_size, s.st_mtime_ns // 10**9,
                                       s.st_mtime_ns % 10**9)
    assert lm == email.utils.formatdate(s.st_mtime_ns // 10**9, usegmt=True)
    for hdrs in ({"If-None-Match": etag}, {"If-None-Match": 'W/"zz", W/' + etag},
                 {"If-None-Match": "*"}, {"If-Modified-Since": lm}):
        for method in ("GET", "HEAD"):
            st, h, body = k.request("/files/small.txt", method=method, headers=hdrs)
            assert (st, body) == (304, b""), (hdrs, method)
            assert h["etag"] == etag and h["last-modified"] == lm
            assert "content-length" not in h
    # If-None-Match wins over If-Modified-Since; an old date does not match
    assert k.request("/files/small.txt", headers={"If-None-Match": '"other"',
                                                  "If-Modified-Since": lm})[0] == 200
    old = email.utils.formatdate(s.st_mtime - 100, usegmt=True)
    assert k.request("/files/small.txt", headers={"If-Modified-Since": old})[0] == 200
    # a changed file has a new ETag, and the old one no longer matches
    (root / "small.txt").write_bytes(b"changed content\n")
    st, h, body = k.request("/files/small.txt", headers={"If-None-Match": etag})
    assert (st, body) == (200, b"changed content\n") and h["etag"] != etag


def test_ranges(served):
    k, root = served
    data = (root / "big.bin").read_bytes()
    size = len(data)

    def get(rng, **extra):
        return k.request("/files/big.bin", headers=dict({"Range": rng}, **extra))
    st, h, body = get("bytes=0-99")
    assert (st, body, h["content-range"], h["content-length"]) == \
        (206, data[:100], "bytes 0-99/%d" % size, "100")
    st, h, body = get("bytes=-10")
    assert (st, body, h["content-range"]) == (206, data[-10:], "bytes %d-%d/%d" % (size - 10, size - 1, size))
    st, h, body = get("bytes=%d-" % (size - 5))
    assert (st, body) == (206, data[-5:])
    st, h, body = get("bytes=%d-" % size)
    assert st == 416 and h["content-range"] == "bytes */%d" % size
    for many in ("bytes=0-1,5-6", "bytes=5-1", "items=0-1", "bytes=x"):
        st, h, body = get(many)
        assert (st, len(body), "content-range" in h) == (200, size, False), many
    etag = k.request("/files/big.bin", method="HEAD")[1]["etag"]
    assert get("bytes=0-3", **{"If-Range": etag})[0] == 206
    assert get("bytes=0-3", **{"If-Range": '"nope"'})[0] == 200
    assert get("bytes=0-3", **{"If-Range": "W/" + etag})[0] == 200


def test_curl_resumes_a_partial_download(served, tmp_path):
    k, root = served
    data = (root / "big.bin").read_bytes()
    part = tmp_path / "part"
    part.write_bytes(data[:1000003])
    r = curl("-C", "-", "-o", str(part), k.url + "/files/big.bin")
    assert r.returncode == 0, r.stderr
    assert sha(part.read_bytes()) == sha(data)


def test_head_errors_and_refusals(served):
    k, root = served
    st, h, body = k.request("/files/big.bin", method="HEAD")
    assert (st, h["content-length"], body) == (200, str(BIG), b"")
    assert k.request("/files/missing")[0] == 404
    assert k.request("/files/dir")[0] == 404
    assert k.request("/files/small.txt/x")[0] == 404
    os.mkfifo(root / "fifo")
    assert k.request("/files/fifo")[0] == 404      # not opened for reading: no hang
    # the connection goes on after a file (keep-alive)
    with RawConn(k.port) as c:
        for _ in range(2):
            c.send("GET /files/small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            assert c.read_response().body == b"hello, file\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")
def test_no_permission_is_403(kiln_factory):
    root = tempfile.mkdtemp(prefix="kiln-files-")
    try:
        os.chmod(root, 0o755)
        for name, mode in (("open.txt", 0o644), ("closed.txt", 0o000)):
            with open(os.path.join(root, name), "w") as f:
                f.write("secret")
            os.chmod(os.path.join(root, name), mode)
        k = kiln_factory.make(plugins=("files",), server={"user": "nobody"},
                              sections={"files": {"root": root}})
        assert k.request("/files/open.txt")[0] == 200
        assert k.request("/files/closed.txt")[0] == 403
    finally:
        subprocess.run(["rm", "-rf", root])


def test_slow_client_does_not_block_the_loop_and_fds_are_closed(served):
    k, root = served
    wait_until(lambda: len(k.worker_pids()) == 1, 5)
    k.request("/files/small.txt")
    before = settled_fds(k)
    slow = socket.create_connection(("127.0.0.1", k.port))
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(b"GET /files/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    for _ in range(20):
        got += slow.recv(4096)
        t0 = time.monotonic()
        assert k.request("/files/small.txt")[0] == 200
        assert time.monotonic() - t0 < 0.5
        time.sleep(0.01)
    assert got.startswith(b"HTTP/1.1 200")
    # the slow socket and its file (the small requests' sockets gone)
    assert wait_until(lambda: worker_fds(k) == before + 2, 5), (worker_fds(k), before)
    slow.close()                                    # leaves mid-file
    assert wait_until(lambda: worker_fds(k) == before, 5), (worker_fds(k), before)


def test_sparse_4_gib_file_past_2_32(served):
    k, root = served
    size = 4 * 1024**3 + 4096
    with open(root / "sparse", "wb") as f:
        f.truncate(size)
        f.seek(size - 3)
        f.write(b"end")
    st, h, body = k.request("/files/sparse", method="HEAD")
    assert h["content-length"] == str(size)
    st, h, body = k.request("/files/sparse", headers={"Range": "bytes=%d-" % (2**32 + 5)})
    assert st == 206 and h["content-length"] == str(size - 2**32 - 5)
    assert len(body) == size - 2**32 - 5 and body.endswith(b"end")
    assert body[:-3] == b"\0" * (len(body) - 3)
    assert h["content-range"] == "bytes %d-%d/%d" % (2**32 + 5, size - 1, size)


def test_curl_etag_compare_if_modified_since_head_and_range(served, tmp_path):
    """curl's own conditional requests: --etag-save/--etag-compare, -z (a
    file's mtime as If-Modified-Since), -I, -r, and If-Range, on a file
    reached through {path:*} below a subdirectory, UTF-8 name and all."""
    k, root = served
    (root / "sub" / "deep").mkdir(parents=True)
    f = root / "sub" / "deep" / "n\u00e4me.txt"
    f.write_bytes(b"0123456789abcdef\n")
    url = k.url + "/files/sub/deep/n%C3%A4me.txt"
    etag_file, local = tmp_path / "etag", tmp_path / "local"

    def fetch(*args):
        r = curl("--max-time", "10", "-o", str(local), "-w", "%{http_code} %{size_download}",
                 *args, url)
        assert r.returncode == 0, r.stderr
        return r.stdout.decode()
    assert fetch("--etag-save", str(etag_file)) == "200 17"
    assert local.read_bytes() == f.read_bytes()
    etag = etag_file.read_text().strip()
    assert etag.startswith('"') and etag.endswith('"'), etag
    assert fetch("--etag-compare", str(etag_file)) == "304 0"
    mtime = os.stat(f).st_mtime
    os.utime(local, (mtime, mtime))
    assert fetch("-z", str(local)) == "304 0"
    os.utime(local, (mtime - 60, mtime - 60))
    assert fetch("-z", str(local)) == "200 17"
    assert fetch("-r", "10-15") == "206 6" and local.read_bytes() == b"abcdef"
    assert fetch("-r", "10-15", "-H", "If-Range: " + etag) == "206 6"
    assert fetch("-r", "10-15", "-H", 'If-Range: "stale"') == "200 17"
    r = curl("--max-time", "10", "-I", url)
    head = r.stdout.decode().lower()
    assert r.stdout.startswith(b"HTTP/1.1 200 ") and "content-length: 17\r\n" in head
    assert "etag: %s\r\n" % etag in head and "accept-ranges: bytes\r\n" in head


def test_aiohttp_conditional_requests_ranges_and_head(served):
    k, root = served
    data = (root / "big.bin").read_bytes()
    url = k.url + "/files/big.bin"

    async def run():
        async with aiohttp.ClientSession() as s:
            async with s.get(url) as r:
                assert r.status == 200 and sha(await r.read()) == sha(data)
                etag, lm = r.headers["ETag"], r.headers["Last-Modified"]
            got = {}
            for name, hdrs in (("inm", {"If-None-Match": etag}), ("ims", {"If-Modified-Since": lm}),
                               ("range", {"Range": "bytes=1000-1999"}),
                               ("if_range", {"Range": "bytes=-16", "If-Range": etag}),
                               ("if_range_date", {"Range": "bytes=0-9", "If-Range": lm}),
                               ("stale", {"Range": "bytes=0-9", "If-Range": '"stale"'}),
                               ("past_end", {"Range": "bytes=%d-" % len(data)})):
                async with s.get(url, headers=hdrs) as r:
                    body = await r.read()
                    got[name] = (r.status, r.headers.get("Content-Range"), len(body), sha(body))
            async with s.head(url) as r:
                got["head"] = (r.status, r.headers["Content-Length"], r.headers["ETag"],
                               await r.read())
            return etag, got
    etag, got = asyncio.run(asyncio.wait_for(run(), 60))
    size = len(data)
    assert got["inm"][:3] == got["ims"][:3] == (304, None, 0)
    assert got["range"] == (206, "bytes 1000-1999/%d" % size, 1000, sha(data[1000:2000]))
    assert got["if_range"] == (206, "bytes %d-%d/%d" % (size - 16, size - 1, size), 16,
                               sha(data[-16:]))
    assert got["if_range_date"] == (206, "bytes 0-9/%d" % size, 10, sha(data[:10]))
    assert got["stale"] == (200, None, size, sha(data))
    assert got["past_end"][:2] == (416, "bytes */%d" % size)
    assert got["head"] == (200, str(size), etag, b"")
