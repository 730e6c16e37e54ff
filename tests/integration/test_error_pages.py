"""The bundled error_pages plugin: kiln's own 404 and 405 and a handler's kiln_error() answered with pages from a directory (one per status, then 4xx.html/5xx.html), {status} and {reason} filled in, the status and headers kept; a body a handler wrote itself (a JSON 400) left alone; HEAD without a body; the prefix scope; and a directory that cannot be read refused by `kiln -t`."""

from conftest import RawConn


def pages(tmp_path):
    d = tmp_path / "errors"
    d.mkdir()
    (d / "404.html").write_text("<h1>{status}: nothing here</h1><p>{reason}</p>\n")
    (d / "5xx.html").write_text("<h1>{status}</h1><p>we broke {reason} {unknown}</p>\n")
    (d / "notes.txt").write_text("not a page\n")
    return d


def start(kiln_factory, tmp_path, **keys):
    section = {"dir": str(pages(tmp_path))}
    section.update(keys)
    return kiln_factory.make(plugins=("guarded", "error_pages"),
                             sections={"error_pages": section})


def test_pages(kiln_factory, tmp_path):
    k = start(kiln_factory, tmp_path)
    st, h, body = k.request("/no/such/page")
    assert st == 404 and h["content-type"] == "text/html; charset=utf-8"
    assert body == b"<h1>404: nothing here</h1><p>404 Not Found</p>\n"
    assert h["content-length"] == str(len(body))
    st, h, body = k.request("/err/503")
    assert st == 503
    assert body == b"<h1>503</h1><p>we broke 503 Service Unavailable {unknown}</p>\n"
    st, h, body = k.request("/err/418")            # no 418.html, no 4xx.html
    assert st == 418 and h["content-type"].startswith("text/plain")
    st, h, body = k.request("/json400")             # the handler's own body stays
    assert (st, h["content-type"], body) == (400, "application/json", b'{"error":"bad"}')
    # its own JSON after kiln_json_body()'s 400 is its own too
    st, h, body = k.request("/json_own", method="POST", body=b"not json",
                            headers={"Content-Type": "application/json"})
    assert (st, h["content-type"], body) == (503, "application/json", b'{"error":"mine"}')
    assert k.request("/open")[::2] == (200, b"user=-")


def test_kiln_own_405_and_head(kiln_factory, tmp_path):
    (tmp_path / "x").mkdir()
    k = start(kiln_factory, tmp_path / "x")
    (tmp_path / "x" / "errors" / "405.html").write_text("<p>no {status}</p>")
    k.signal_command("reload")
    k.wait_ready(generation=2)
    st, h, body = k.request("/json400", method="DELETE")
    assert (st, body) == (405, b"<p>no 405</p>") and "GET" in h["allow"]
    with RawConn(k.port) as c:
        c.send(b"HEAD /missing HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response(head=True)
        assert r.status == 404 and r.header("content-type") == "text/html; charset=utf-8"
        c.send(b"GET /open HTTP/1.1\r\nHost: x\r\n\r\n")    # no body came after the head
        assert c.read_response().body == b"user=-"


def test_prefix(kiln_factory, tmp_path):
    k = start(kiln_factory, tmp_path, prefix="/err")
    assert k.request("/err/500")[2].startswith(b"<h1>500</h1>")
    assert k.request("/elsewhere")[2] == b"404 Not Found\n"


def test_bad_dir(kiln_factory, tmp_path):
    k = kiln_factory.make(start=False, plugins=("guarded", "error_pages"),
                          sections={"error_pages": {"dir": str(tmp_path / "none")}})
    rc, out = k.check()
    assert rc != 0 and "[error_pages] dir: %s: No such file" % (tmp_path / "none") in out, out
