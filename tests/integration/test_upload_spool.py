"""Multipart uploads parsed as they arrive and spooled to temporary files (tests/plugins/uploads.c): small and large files round-trip byte-exact through kiln_upload_data() and kiln_upload_fd(), a file above upload_spool_size is on disk (spooled, a descriptor), max_upload_file_size and the body limits answer 413, kiln_upload_save() writes the file; no temporary file is left in upload_dir after a completed request, a client that aborts mid-upload or a worker killed mid-upload, and while the upload runs the worker holds exactly the nameless "(deleted)" file, which it no longer holds after; upload_dir errors name file:line."""

import asyncio
import os
import signal
import subprocess
import time
import zlib

import aiohttp

from conftest import RawConn, run_kiln, wait_until

BOUNDARY = "kilnSpoolBoundary3"
CTYPE = "multipart/form-data; boundary=" + BOUNDARY


def make(kiln_factory, tmp_path, **server):
    up = tmp_path / "up"
    up.mkdir(exist_ok=True)
    conf = {"workers": 1, "upload_dir": str(up), "upload_spool_size": "64k"}
    conf.update(server)
    k = kiln_factory.make(plugins=("uploads",), server=conf)
    return k, up


def curl_json(k, path, *args):
    import json
    out = subprocess.run(["curl", "-sS", "--max-time", "60", *args,
                          "http://127.0.0.1:%d%s" % (k.port, path)],
                         check=True, capture_output=True, timeout=90).stdout
    return json.loads(out)


def spool_fds(pid, up):
    """The worker's descriptors on a file of upload_dir: their link texts."""
    out = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith(str(up) + "/"):
            out.append(target)
    return out


def test_small_and_large_files_round_trip(kiln_factory, tmp_path):
    k, up = make(kiln_factory, tmp_path)
    small = os.urandom(1000)
    large = os.urandom(3 * 1024 * 1024 + 7)
    (tmp_path / "s.bin").write_bytes(small)
    (tmp_path / "l.bin").write_bytes(large)
    j = curl_json(k, "/upload/big", "-F", "title=x", "-F", "s=@%s" % (tmp_path / "s.bin"),
                  "-F", "l=@%s" % (tmp_path / "l.bin"))
    assert j["fields"] == [["title", "x", "x"]]
    s, l = j["files"]
    assert (s["size"], s["crc"], s["spooled"], s["fd"], s["fd_crc"]) == \
        (1000, zlib.crc32(small), 0, False, -1)
    assert (l["size"], l["len"], l["crc"], l["spooled"], l["fd"], l["fd_crc"]) == \
        (len(large), len(large), zlib.crc32(large), 1, True, zlib.crc32(large))
    assert os.listdir(up) == []


def test_aiohttp_formdata_at_the_threshold(kiln_factory, tmp_path):
    k, up = make(kiln_factory, tmp_path, upload_spool_size="1k")
    files = [os.urandom(n) for n in (1023, 1024, 1025, 200000)]

    async def go():
        form = aiohttp.FormData()
        for i, data in enumerate(files):
            form.add_field("f", data, filename="f%d.bin" % i,
                           content_type="application/octet-stream")
        form.add_field("note", "after the files")
        async with aiohttp.ClientSession() as s:
            async with s.post("http://127.0.0.1:%d/upload" % k.port, data=form) as r:
                assert r.status == 200, await r.text()
                return await r.json()

    j = asyncio.run(go())
    assert [(f["size"], f["crc"], f["spooled"]) for f in j["files"]] == [
        (len(d), zlib.crc32(d), int(len(d) > 1024)) for d in files]
    assert [f["fd_crc"] for f in j["files"] if f["spooled"]] == \
        [zlib.crc32(d) for d in files if len(d) > 1024]
    assert j["fields"] == [["note", "after the files", "after the files"]]
    assert os.listdir(up) == []


def test_every_file_spools_at_zero(kiln_factory, tmp_path):
    k, up = make(kiln_factory, tmp_path, upload_spool_size="0")
    (tmp_path / "one").write_bytes(b"1")
    (tmp_path / "none").write_bytes(b"")
    j = curl_json(k, "/upload", "-F", "a=@%s" % (tmp_path / "one"),
                  "-F", "b=@%s" % (tmp_path / "none"))
    assert [(f["size"], f["spooled"], f["crc"]) for f in j["files"]] == \
        [(1, 1, zlib.crc32(b"1")), (0, 0, 0)]


def post_status(k, path, data, headers=b""):
    with RawConn(k.port, timeout=10) as c:
        c.send(b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: %s\r\n%s"
               b"Content-Length: %d\r\n\r\n" % (path.encode(), CTYPE.encode(), headers,
                                                len(data)))
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return c.read_response().status


def body(*parts):
    out = b""
    for name, fname, data in parts:
        out += (b"--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n\r\n"
                % (BOUNDARY.encode(), name.encode(), fname.encode())) + data + b"\r\n"
    return out + b"--%s--\r\n" % BOUNDARY.encode()


def test_limits_answer_413(kiln_factory, tmp_path):
    k, up = make(kiln_factory, tmp_path, max_upload_file_size="100k", max_body_size="1m")
    ok = body(("a", "a", b"x" * 100 * 1024), ("b", "b", b"y" * 100 * 1024))
    assert post_status(k, "/upload", ok) == 200
    assert post_status(k, "/upload", body(("a", "a", b"x" * (100 * 1024 + 1)))) == 413
    # the total: max_body_size on /upload, the route's own 2 GiB on /upload/big
    many = body(*[("f%d" % i, "f", b"z" * 90 * 1024) for i in range(12)])
    assert post_status(k, "/upload", many) == 413
    assert post_status(k, "/upload/big", many) == 200
    assert os.listdir(up) == []
    assert spool_fds(k.worker_pids()[0], up) == []


def test_save(kiln_factory, tmp_path):
    k, up = make(kiln_factory, tmp_path)
    large, small = os.urandom(500000), b"tiny"
    (tmp_path / "l").write_bytes(large)
    (tmp_path / "s").write_bytes(small)
    for dest in (tmp_path / "same-fs", "/dev/shm/kiln-save-%d" % os.getpid()):
        os.makedirs(dest, exist_ok=True)
        try:
            out = subprocess.run(["curl", "-sS", "-F", "l=@%s" % (tmp_path / "l"),
                                  "-F", "s=@%s" % (tmp_path / "s"),
                                  "http://127.0.0.1:%d/upload/save?dir=%s" % (k.port, dest)],
                                 check=True, capture_output=True, timeout=30).stdout
            assert out == b"saved 2\n"
            assert open(os.path.join(dest, "0"), "rb").read() == large
            assert open(os.path.join(dest, "1"), "rb").read() == small
            assert os.stat(os.path.join(dest, "0")).st_mode & 0o777 == 0o600
        finally:
            if str(dest).startswith("/dev/shm/"):
                subprocess.run(["rm", "-rf", str(dest)])
    assert os.listdir(up) == []
    out = subprocess.run(["curl", "-sS", "-F", "l=@%s" % (tmp_path / "l"),
                          "http://127.0.0.1:%d/upload/save?dir=/nonexistent" % k.port],
                         check=True, capture_output=True, timeout=30).stdout
    assert out.startswith(b"error: 2 ")


def start_upload(k, size):
    """A raw upload of one `size`-byte file to /upload/big, its first 1 MiB
    sent: (connection, the rest of the body)."""
    data = body(("f", "big.bin", b"q" * size))
    c = RawConn(k.port, timeout=10)
    c.send(b"POST /upload/big HTTP/1.1\r\nHost: t\r\nContent-Type: %s\r\n"
           b"Content-Length: %d\r\n\r\n" % (CTYPE.encode(), len(data)))
    c.send(data[:1024 * 1024])
    return c, data[1024 * 1024:]


def held(k, up):
    pid = k.worker_pids()[0]
    assert wait_until(lambda: spool_fds(pid, up), 5), "no temporary file held"
    fds = spool_fds(pid, up)
    assert len(fds) == 1 and fds[0].endswith("(deleted)"), fds
    assert os.listdir(up) == []         # nameless: nothing to see in the directory
    return pid


def test_no_file_left_after_a_completed_request(kiln_factory, tmp_path):
    k, up = make(kiln_factory, tmp_path)
    c, rest = start_upload(k, 4 * 1024 * 1024)
    pid = held(k, up)
    c.send(rest)
    assert c.read_response().status == 200
    c.close()
    assert wait_until(lambda: spool_fds(pid, up) == [], 5)
    assert os.listdir(up) == []


def test_no_file_left_after_a_client_abort(kiln_factory, tmp_path):
    k, up = make(kiln_factory, tmp_path)
    c, _ = start_upload(k, 4 * 1024 * 1024)
    pid = held(k, up)
    c.close()
    assert wait_until(lambda: spool_fds(pid, up) == [], 5), spool_fds(pid, up)
    assert os.listdir(up) == []
    assert k.request("/upload/big", "POST", b"")[0] == 200   # the worker serves on


def test_no_file_left_after_a_killed_worker(kiln_factory, tmp_path):
    k, up = make(kiln_factory, tmp_path)
    c, _ = start_upload(k, 4 * 1024 * 1024)
    pid = held(k, up)
    os.kill(pid, signal.SIGKILL)

    def fds_gone():
        try:
            return not os.listdir("/proc/%d/fd" % pid)
        except FileNotFoundError:       # reaped meanwhile
            return True
    assert wait_until(fds_gone, 5)
    c.close()
    k.wait_workers(1, exclude=(pid,))
    assert os.listdir(up) == []


def test_upload_dir_errors_name_the_line(tmp_path):
    for value, why in ((tmp_path / "missing", "No such file or directory"),
                       (tmp_path / "file", "not a directory")):
        (tmp_path / "file").write_text("x")
        conf = tmp_path / "k.conf"
        conf.write_text("[server]\nworkers = 1\nupload_dir = %s\n" % value)
        rc, out, _ = run_kiln(["-t", "-c", str(conf)], merge=True)
        assert rc != 0
        assert "%s:3: upload_dir: %s: %s" % (conf, value, why) in out, out
