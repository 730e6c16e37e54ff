"""multipart/form-data bodies as the uploads test plugin reads them: fields through kiln_form*, files through kiln_file_* (every byte value and CRLFs round-tripped, UTF-8 filenames, several files under one name, empty files), posted by curl -F and by aiohttp's FormData, and malformed bodies answered 400 through kiln_form_error(); a body over max_body_size is refused 413 before the plugin sees it."""

import asyncio
import json
import subprocess
import zlib

import aiohttp

from conftest import RawConn, http_request

BOUNDARY = "kilnTestBoundary7"
CTYPE = "multipart/form-data; boundary=" + BOUNDARY
ALL_BYTES = bytes(range(256)) + b"\r\n--" + BOUNDARY.encode()[:-1] + b"\r\n\r\n--\r\n" \
    + bytes(range(255, -1, -1))


def make(kiln_factory, **server):
    return kiln_factory.make(plugins=("uploads",), server=server)


def post(k, body, ctype=CTYPE):
    return http_request(k.port, "/upload", "POST", body, {"Content-Type": ctype})


def upload(k, body, ctype=CTYPE):
    st, _, data = post(k, body, ctype)
    assert st == 200, data
    return json.loads(data)


def part(name, data, filename=None, ctype=None, disposition=None):
    if disposition is None:
        disposition = 'form-data; name="%s"' % name
        if filename is not None:
            disposition += '; filename="%s"' % filename
    head = "Content-Disposition: " + disposition + "\r\n"
    if ctype:
        head += "Content-Type: " + ctype + "\r\n"
    return b"--" + BOUNDARY.encode() + b"\r\n" + head.encode() + b"\r\n" + data + b"\r\n"


def body(*parts):
    return b"".join(parts) + b"--" + BOUNDARY.encode() + b"--\r\n"


def summary(f):
    return (f["field"], f["name"], f["type"], f["size"], f["len"], f["crc"])


def curl(k, *args):
    out = subprocess.run(["curl", "-sS", "--max-time", "10", *args,
                          "http://127.0.0.1:%d/upload" % k.port],
                         check=True, capture_output=True, timeout=20).stdout
    return json.loads(out)


def test_curl_fields_and_files(kiln_factory, tmp_path):
    k = make(kiln_factory)
    binary = tmp_path / "all.bin"
    binary.write_bytes(ALL_BYTES)
    text = tmp_path / "note.txt"
    text.write_bytes(b"line 1\r\nline 2\n")
    empty = tmp_path / "empty.dat"
    empty.write_bytes(b"")
    j = curl(k, "-F", "title=Hello world", "-F", "file=@%s;type=application/octet-stream" % binary,
             "-F", "title=again", "-F", "file=@%s;type=text/plain" % text,
             "-F", "none=@%s" % empty)
    assert j["fields"] == [["title", "Hello world", "Hello world"],
                           ["title", "again", "Hello world"]]
    assert j["count"] == 2
    assert [summary(f) for f in j["files"]] == [
        ("file", "all.bin", "application/octet-stream", len(ALL_BYTES), len(ALL_BYTES),
         zlib.crc32(ALL_BYTES)),
        ("file", "note.txt", "text/plain", 15, 15, zlib.crc32(b"line 1\r\nline 2\n")),
        ("none", "empty.dat", "application/octet-stream", 0, 0, 0)]
    assert [f["find"] for f in j["files"]] == [[0, 1], [0, 1], [2]]
    assert j["past_end"] is True


def test_aiohttp_formdata(kiln_factory):
    k = make(kiln_factory)

    async def go(quote):
        form = aiohttp.FormData(quote_fields=quote)
        form.add_field("user", "jürgen")
        form.add_field("doc", ALL_BYTES, filename="data.bin",
                       content_type="application/x-kiln")
        form.add_field("doc", b"second", filename="zwei.txt", content_type="text/plain")
        form.add_field("pic", b"\x89PNG\r\n\x1a\n" * 1000, filename="bild ä.png",
                       content_type="image/png")
        async with aiohttp.ClientSession() as s:
            async with s.post("http://127.0.0.1:%d/upload" % k.port, data=form) as r:
                assert r.status == 200, await r.text()
                return await r.json()

    # FormData percent-encodes filename= by default (quote_fields=True):
    # kiln hands it on as sent, as aiohttp's server does.
    for quote, pic in ((True, "bild%20%C3%A4.png"), (False, "bild ä.png")):
        j = asyncio.run(go(quote))
        assert j["fields"] == [["user", "jürgen", "jürgen"]]
        png = b"\x89PNG\r\n\x1a\n" * 1000
        assert [summary(f) for f in j["files"]] == [
            ("doc", "data.bin", "application/x-kiln", len(ALL_BYTES), len(ALL_BYTES),
             zlib.crc32(ALL_BYTES)),
            ("doc", "zwei.txt", "text/plain", 6, 6, zlib.crc32(b"second")),
            ("pic", pic, "image/png", len(png), len(png), zlib.crc32(png))]
        assert [f["find"] for f in j["files"]] == [[0, 1], [0, 1], [2]]


def test_filename_star_utf8_takes_precedence(kiln_factory):
    k = make(kiln_factory)
    j = upload(k, body(
        part("f", b"euro", disposition="form-data; name=\"f\"; filename=\"EUR.txt\"; "
                                        "filename*=UTF-8''%E2%82%AC%20r%C3%A9sum%C3%A9.txt"),
        part("g", b"q", disposition='form-data; name="g"; filename="a\\"b\\\\c"'),
        part("h", b"", disposition="form-data; name=h; filename=\"\"")))
    assert [(f["field"], f["name"], f["type"]) for f in j["files"]] == [
        ("f", "€ résumé.txt", "text/plain"), ("g", 'a"b\\c', "text/plain"),
        ("h", "", "text/plain")]
    assert j["fields"] == [] and j["count"] == 0


def test_a_part_with_crlf_and_lookalike_delimiters(kiln_factory):
    k = make(kiln_factory)
    tricky = b"\r\n--" + BOUNDARY.encode()[:5] + b"\r\n-\r\n\r\r\n--x"
    j = upload(k, b"preamble\r\n" + body(part("t", tricky), part("f", tricky, "t.bin"))
               + b"epilogue")
    assert j["fields"] == [["t", tricky.decode(), tricky.decode()]]
    assert summary(j["files"][0])[3:] == (len(tricky), len(tricky), zlib.crc32(tricky))


def test_malformed_bodies_answer_400(kiln_factory):
    k = make(kiln_factory)
    ok = part("a", b"1")
    cases = [
        (body(ok)[:-4], CTYPE, "no close delimiter"),
        (b"a=1", CTYPE, "no delimiter in the body"),
        (b"", CTYPE, "no delimiter in the body"),
        (body(ok), "multipart/form-data", "no boundary in Content-Type"),
        (body(ok), "multipart/form-data; boundary=" + "b" * 71,
         "boundary longer than 70 characters"),
        (body(part("a", b"1", disposition="form-data; filename=x")), CTYPE,
         "part without a name"),
        (body(ok).replace(b"\r\n\r\n", b"\n\n", 1), CTYPE, "bare LF in part headers"),
        (body(part("a", b"1", disposition='form-data; name="a"\r\nX: ' + "v" * 9000)), CTYPE,
         "part header block too long"),
        (body(*[ok] * 1001), CTYPE, "more than 1000 parts"),
    ]
    for data, ctype, why in cases:
        st, _, answer = post(k, data, ctype)
        assert (st, answer) == (400, b"bad form: " + why.encode() + b"\n"), (why, answer)
    j = upload(k, body(*[ok] * 1000))
    assert j["count"] == 1000


def test_not_multipart_has_no_files(kiln_factory):
    k = make(kiln_factory)
    j = upload(k, b"a=1&b=2", "application/x-www-form-urlencoded")
    assert j["fields"] == [["a", "1", "1"], ["b", "2", "2"]] and j["files"] == []
    j = upload(k, body(part("f", b"x", "x.txt")), "text/plain")
    assert j["fields"] == [] and j["files"] == [] and j["past_end"] is True


def test_over_max_body_size_is_413(kiln_factory):
    k = make(kiln_factory, max_body_size="4k")
    data = body(part("f", b"x" * 5000, "big.bin"))
    with RawConn(k.port) as c:
        c.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Type: " + CTYPE.encode()
               + b"\r\nContent-Length: %d\r\n\r\n" % len(data) + data)
        assert c.read_response().status == 413
    j = upload(k, body(part("f", b"x" * 3000, "small.bin")))
    assert j["files"][0]["size"] == 3000


def test_keep_alive_requests_do_not_share_forms(kiln_factory):
    k = make(kiln_factory)
    first = body(part("a", b"1"), part("f", b"data", "f.txt"))
    with RawConn(k.port) as c:
        for data, ctype in ((first, CTYPE), (b"x", "text/plain"), (body(ok_part()), CTYPE)):
            c.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Type: " + ctype.encode()
                   + b"\r\nContent-Length: %d\r\n\r\n" % len(data) + data)
        got = [json.loads(c.read_response().body) for _ in range(3)]
    assert [(len(g["fields"]), len(g["files"])) for g in got] == [(1, 1), (0, 0), (1, 0)]


def ok_part():
    return part("b", b"2")
