"""The bundled static plugin (plugins/static, kiln_file_at()): files under a prefix through curl, aiohttp and raw sockets; index files, the 301 of a directory without its slash, listings off (403) and on (sorted, escaped, dot-files hidden), HEAD, 304, Range/206, 416, precompressed .gz and .br siblings chosen by Accept-Encoding and q-values with Vary; traversal attempts in every encoding, symbolic links per the symlinks setting, names with '%' and spaces; a configuration error naming its key; and Chromium resuming a download with Range + If-Range."""

import asyncio
import gzip
import hashlib
import json
import os
import re

import aiohttp
import pytest

from conftest import RawConn, curl, parse_curl_i

SECRET = b"TOPSECRET outside the root\n"
TEXT = b"hello, static world\n" * 20
BIG = os.urandom(300 * 1024)


def brotli_stored(data):
    """A valid brotli stream holding `data` as one uncompressed meta-block
    (RFC 7932 9.2): no brotli encoder is needed to make a .br sibling."""
    assert 0 < len(data) <= 65536
    header = ((len(data) - 1) << 4) | (1 << 20)     # WBITS 16, MNIBBLES 4, ISUNCOMPRESSED
    return header.to_bytes(3, "little") + data + b"\x03"    # ISLAST, ISLASTEMPTY


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "secret.txt").write_bytes(SECRET)
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_bytes(TEXT)
    (root / "a.txt.gz").write_bytes(gzip.compress(TEXT))
    (root / "a.txt.br").write_bytes(brotli_stored(TEXT))
    (root / "only-gz.txt").write_bytes(b"plain\n")
    (root / "only-gz.txt.gz").write_bytes(gzip.compress(b"plain\n"))
    (root / "plain.txt").write_bytes(b"no siblings\n")
    (root / "big.bin").write_bytes(BIG)
    (root / "100% sure & so.txt").write_bytes(b"percent and spaces\n")
    (root / "dir").mkdir()
    (root / "dir" / "index.html").write_bytes(b"<p>index</p>\n")
    (root / "list").mkdir()
    for name in ("b.txt", "a b.txt", "<x>&'.txt", ".hidden"):
        (root / "list" / name).write_bytes(b"x")
    (root / "list" / "sub").mkdir()
    (root / ".git").mkdir()
    (root / ".git" / "config").write_bytes(b"[core]\n")
    os.symlink("a.txt", root / "link-in")
    os.symlink("../secret.txt", root / "link-out")
    os.symlink(str(tmp_path / "secret.txt"), root / "link-abs")
    os.symlink("dir", root / "link-dir")
    (root / "page.html").write_text(PAGE)
    return root


def served(kiln_factory, root, **static):
    conf = {"root": str(root)}
    conf.update(static)
    return kiln_factory.make(plugins=("static",), server={"workers": 1},
                             sections={"static": conf})


def raw_get(k, target, headers=""):
    with RawConn(k.port) as c:
        c.send("GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n" % (target, headers))
        return c.read_response()


def test_files_index_redirect_head_and_listing_off(kiln_factory, tree):
    k = served(kiln_factory, tree)
    st, h, body = k.request("/static/a.txt")
    assert (st, body) == (200, TEXT)
    assert h["content-type"] == "text/plain" and "content-encoding" not in h
    assert "vary" not in h                  # no Accept-Encoding: no sibling looked for
    st, h, body = k.request("/static/dir/")
    assert (st, body, h["content-type"]) == (200, b"<p>index</p>\n", "text/html")
    r = raw_get(k, "/static/dir?x=1")
    assert (r.status, r.header("location")) == (301, "/static/dir/?x=1")
    r = raw_get(k, "/static")
    assert (r.status, r.header("location")) == (301, "/static/")
    assert k.request("/static/list/")[0] == 403     # a directory, no index, no listing
    assert k.request("/static/nothere/")[0] == 404
    assert k.request("/static/nothere.txt")[0] == 404
    with RawConn(k.port) as c:
        c.send(b"HEAD /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        r = c.read_response(head=True)
        assert (r.status, r.header("content-length")) == (200, str(len(BIG)))
        c.send(b"POST /static/a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
        r = c.read_response()
        assert r.status == 405 and "GET" in r.header("allow")
    name = "/static/100%25%20sure%20%26%20so.txt"
    assert k.request(name)[2] == b"percent and spaces\n"
    rc, out, err = curl("-g", k.url + name)
    assert (rc, out) == (0, b"percent and spaces\n"), err


def test_conditional_and_ranges(kiln_factory, tree):
    k = served(kiln_factory, tree)
    st, h, _ = k.request("/static/big.bin")
    etag, lm = h["etag"], h["last-modified"]
    assert k.request("/static/big.bin", headers={"If-None-Match": etag})[0] == 304
    assert k.request("/static/big.bin", headers={"If-Modified-Since": lm})[0] == 304
    st, h, body = k.request("/static/big.bin", headers={"Range": "bytes=1000-1999"})
    assert (st, body, h["content-range"]) == (206, BIG[1000:2000],
                                              "bytes 1000-1999/%d" % len(BIG))
    st, h, _ = k.request("/static/big.bin", headers={"Range": "bytes=%d-" % len(BIG)})
    assert (st, h["content-range"]) == (416, "bytes */%d" % len(BIG))
    st, _, body = k.request("/static/big.bin", headers={"Range": "bytes=0-9",
                                                         "If-Range": '"stale"'})
    assert (st, body) == (200, BIG)

    async def fetch():
        async with aiohttp.ClientSession() as s:
            async with s.get(k.url + "/static/big.bin", headers={"Range": "bytes=-100"}) as r:
                return r.status, await r.read()
    assert asyncio.run(fetch()) == (206, BIG[-100:])


def test_precompressed_siblings(kiln_factory, tree):
    k = served(kiln_factory, tree)
    gz = (tree / "a.txt.gz").read_bytes()
    br = (tree / "a.txt.br").read_bytes()
    identity_etag = k.request("/static/a.txt")[1]["etag"]
    cases = [("gzip", "gzip", gz), ("gzip, br", "br", br), ("br;q=0.5, gzip", "gzip", gz),
             ("gzip;q=0, br;q=0", None, TEXT), ("identity", None, TEXT),
             ("gzip;q=0.4, identity;q=0.5", None, TEXT), ("*", "br", br),
             ("x-gzip", "gzip", gz)]
    for accept, coding, body in cases:
        st, h, got = k.request("/static/a.txt", headers={"Accept-Encoding": accept})
        assert (st, h.get("content-encoding"), got) == (200, coding, body), accept
        assert h["content-type"] == "text/plain", accept
        assert h["content-length"] == str(len(body))
        if coding:
            assert h["etag"] != identity_etag and h["etag"].endswith(
                "-%s\"" % ("gz" if coding == "gzip" else "br"))
            assert h["vary"] == "Accept-Encoding", accept
        else:
            assert h["etag"] == identity_etag
    # a sibling found but not chosen: Vary all the same
    st, h, _ = k.request("/static/a.txt", headers={"Accept-Encoding": "gzip;q=0.4, identity"})
    assert h["vary"] == "Accept-Encoding" and "content-encoding" not in h
    # no sibling: neither Vary nor Content-Encoding
    st, h, _ = k.request("/static/plain.txt", headers={"Accept-Encoding": "gzip, br"})
    assert "vary" not in h and "content-encoding" not in h
    st, h, got = k.request("/static/only-gz.txt", headers={"Accept-Encoding": "br, gzip"})
    assert h["content-encoding"] == "gzip" and gzip.decompress(got) == b"plain\n"
    # ranges, 304 and HEAD over the sibling's bytes
    ae = {"Accept-Encoding": "gzip"}
    st, h, got = k.request("/static/a.txt", headers=dict(ae, Range="bytes=0-9"))
    assert (st, got, h["content-range"]) == (206, gz[:10], "bytes 0-9/%d" % len(gz))
    etag = h["etag"]
    assert k.request("/static/a.txt", headers=dict(ae, **{"If-None-Match": etag}))[0] == 304
    st, h, _ = k.request("/static/a.txt", headers=dict(ae, **{"If-None-Match": etag}))
    assert h["vary"] == "Accept-Encoding"
    assert k.request("/static/a.txt", headers={"If-None-Match": etag})[0] == 200
    # real decoders: curl (gzip and brotli), aiohttp (gzip)
    for coding in ("gzip", "br"):
        rc, out, err = curl("--compressed", "-H", "Accept-Encoding: " + coding,
                            k.url + "/static/a.txt")
        assert (rc, out) == (0, TEXT), err

    async def fetch():
        async with aiohttp.ClientSession() as s:
            async with s.get(k.url + "/static/a.txt",
                             headers={"Accept-Encoding": "gzip"}) as r:
                return r.headers["Content-Encoding"], await r.read()
    assert asyncio.run(fetch()) == ("gzip", TEXT)
    # precompressed = off: the file itself, whatever the client takes
    k2 = served(kiln_factory, tree, precompressed="off")
    st, h, got = k2.request("/static/a.txt", headers={"Accept-Encoding": "gzip, br"})
    assert (got, h.get("content-encoding"), h.get("vary")) == (TEXT, None, None)


TRAVERSALS = [
    "/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/%2E%2e%2fsecret.txt",
    "/static/..%2fsecret.txt", "/static/a/../../secret.txt", "/static/%2fsecret.txt",
    "/static/x%2f..%2f..%2fsecret.txt", "/static/a.txt%00.html", "/static/%00",
    "/static/\\..\\secret.txt", "/static/%5c..%5csecret.txt", "/static/..%5csecret.txt",
    "/static//etc/passwd", "/static/%2fetc%2fpasswd", "/static///etc/passwd",
    "/static/%c0%ae%c0%ae/secret.txt", "/static/%c0%ae%c0%ae%c0%afsecret.txt",
    "/static/.%2e/secret.txt", "/static/link-out", "/static/link-abs",
    "/static/.git/config", "/static/.git/", "/static/list/.hidden",
    "/static/./../secret.txt", "/static/dir/..%2f..%2fsecret.txt",
]


def test_traversal_attempts_never_leave_the_root(kiln_factory, tree):
    k = served(kiln_factory, tree)
    for target in TRAVERSALS:
        r = raw_get(k, target)
        assert r.status in (400, 404), (target, r)
        assert b"TOPSECRET" not in r.body and b"root:" not in r.body, target
    assert raw_get(k, "/static/link-in").body == TEXT       # a link that stays inside
    assert raw_get(k, "/static/link-dir/index.html").status == 200
    assert k.request("/")[0] == 404


def test_symlinks_settings(kiln_factory, tree):
    off = served(kiln_factory, tree, symlinks="off")
    for target in ("/static/link-in", "/static/link-dir/index.html", "/static/link-out"):
        assert raw_get(off, target).status == 404, target
    assert raw_get(off, "/static/a.txt").body == TEXT
    any_ = served(kiln_factory, tree, symlinks="any")
    assert raw_get(any_, "/static/link-out").body == SECRET
    assert raw_get(any_, "/static/link-abs").body == SECRET
    for target in ("/static/%2e%2e/secret.txt", "/static//etc/passwd", "/static/.git/config"):
        assert raw_get(any_, target).status in (400, 404), target


def test_listing_on_and_hidden_files(kiln_factory, tree):
    k = served(kiln_factory, tree, listing="on", index="none.html")
    st, h, body = k.request("/static/list/")
    assert st == 200 and h["content-type"] == "text/html; charset=utf-8"
    page = body.decode()
    links = re.findall(r'<a href="([^"]*)">([^<]*)</a>', page)
    assert links == [("../", "../"), ("%3Cx%3E%26%27.txt", "&lt;x&gt;&amp;&#39;.txt"),
                     ("a%20b.txt", "a b.txt"), ("b.txt", "b.txt"), ("sub/", "sub/")], page
    assert ".hidden" not in page and "<x>" not in page     # byte order, escaped
    st, _, body = k.request("/static/")
    assert st == 200 and b'href="dir/"' in body and b".git" not in body
    with RawConn(k.port) as c:
        c.send(b"HEAD /static/list/ HTTP/1.1\r\nHost: t\r\n\r\n")
        r = c.read_response(head=True)
        assert r.status == 200 and int(r.header("content-length")) == len(page.encode())
    hidden = served(kiln_factory, tree, listing="on", hidden="on")
    assert hidden.request("/static/.git/config")[2] == b"[core]\n"
    assert b".hidden" in hidden.request("/static/list/")[2]
    assert hidden.request("/static/dir/")[2] == b"<p>index</p>\n"


def test_other_prefix_and_bad_settings(kiln_factory, tree):
    k = served(kiln_factory, tree, prefix="/media/")
    assert k.request("/media/a.txt")[2] == TEXT
    assert raw_get(k, "/media").header("location") == "/media/"
    assert k.request("/static/a.txt")[0] == 404
    for key, value, message in (("root", str(tree / "missing"), r"\[static\] root = .*missing: No such file"),
                                ("symlinks", "sometimes", r"\[static\] symlinks = sometimes"),
                                ("listing", "maybe", r"\[static\] listing = maybe: expected on or off"),
                                ("prefix", "static", r"\[static\] prefix = static"),
                                ("index", "a/b.html", r"\[static\] index = a/b.html")):
        bad = kiln_factory.make(start=False, plugins=("static",),
                                sections={"static": {"root": str(tree), key: value}})
        rc, out = bad.check()
        assert rc != 0 and re.search(message, out), (key, out)


PAGE = """<!DOCTYPE html>
<html><body><script>
async function hex(buf) {
  const d = await crypto.subtle.digest("SHA-256", buf);
  return Array.from(new Uint8Array(d)).map(b => b.toString(16).padStart(2, "0")).join("");
}
window.result = (async () => {
  const url = "/static/big.bin";
  const first = await fetch(url, {headers: {Range: "bytes=0-99999"}, cache: "no-store"});
  const etag = first.headers.get("ETag");
  const part1 = new Uint8Array(await first.arrayBuffer());
  const rest = await fetch(url, {headers: {Range: "bytes=" + part1.length + "-", "If-Range": etag},
                                 cache: "no-store"});
  const part2 = new Uint8Array(await rest.arrayBuffer());
  const whole = new Uint8Array(part1.length + part2.length);
  whole.set(part1); whole.set(part2, part1.length);
  const stale = await fetch(url, {headers: {Range: "bytes=0-9", "If-Range": '"stale"'},
                                  cache: "no-store"});
  const text = await fetch("/static/a.txt", {cache: "no-store"});
  return {s1: first.status, s2: rest.status, range2: rest.headers.get("Content-Range"),
          len: whole.length, sha: await hex(whole), stale: stale.status,
          staleLen: (await stale.arrayBuffer()).byteLength,
          text: await text.text(), coding: text.headers.get("Content-Encoding")};
})();
</script></body></html>
"""


def test_chromium_resumes_a_download_with_range_and_if_range(kiln_factory, tree):
    from test_browser import CHROMIUM, Chromium, run_page
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("%s missing (Debian package chromium)" % CHROMIUM)
    k = served(kiln_factory, tree)
    browser = Chromium(os.path.join(k.dir, "chromium.log"))
    try:
        port = browser.devtools_port()
        raw = asyncio.run(asyncio.wait_for(run_page(port, k.url + "/static/page.html"), 60))
    finally:
        browser.stop()
    r = json.loads(raw)
    assert (r["s1"], r["s2"], r["stale"]) == (206, 206, 200), r
    assert r["range2"] == "bytes 100000-%d/%d" % (len(BIG) - 1, len(BIG))
    assert (r["len"], r["sha"]) == (len(BIG), hashlib.sha256(BIG).hexdigest())
    assert r["staleLen"] == len(BIG)
    assert r["text"] == TEXT.decode()               # decoded from a sibling the browser took
    assert r["coding"] in ("gzip", "br"), r
