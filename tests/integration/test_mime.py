"""kiln_mime_type() through the inspect plugin: media types from Debian's /etc/mime.types, from a file of the config, and none."""

import os

MIME = "/inspect/mime/"


def make(kiln_factory, **server):
    return kiln_factory.make(plugins=("inspect",), server=dict(server, workers=1),
                             log_level="debug")


def test_types_from_debian_media_types(kiln_factory):
    k = make(kiln_factory)
    for path, want in (("index.html", "text/html"), ("a/b/style.CSS", "text/css"),
                       ("app.js", "text/javascript"), ("data.json", "application/json"),
                       ("logo.svg", "image/svg+xml"), ("x.tar.gz", "application/gzip"),
                       ("font.woff2", "font/woff2"), ("README", "(none)"),
                       (".profile", "(none)"), ("x.nosuchext", "(none)")):
        assert k.get_text(MIME + path) == (200, want), path
    k.wait_log(r"\[debug\] .*mime_types: \d+ extensions from /etc/mime.types")


def test_a_file_of_the_config(kiln_factory, tmp_path):
    types = tmp_path / "my.types"
    types.write_text("# mine\ntext/x-kiln kiln KLN\ntext/css css\ntext/plain css\n")
    k = make(kiln_factory, mime_types=str(types))
    assert k.get_text(MIME + "a.kiln") == (200, "text/x-kiln")
    assert k.get_text(MIME + "b.kln") == (200, "text/x-kiln")
    assert k.get_text(MIME + "c.css") == (200, "text/plain")     # the last line wins
    assert k.get_text(MIME + "d.html") == (200, "(none)")       # only this file counts


def test_none_and_a_missing_file(kiln_factory, tmp_path):
    k = make(kiln_factory, mime_types="")
    assert k.get_text(MIME + "index.html") == (200, "(none)")
    missing = os.path.join(str(tmp_path), "gone.types")
    k = make(kiln_factory, mime_types=missing)
    k.wait_log(r"\[warn\] .*mime_types: %s: No such file or directory; no media type "
               r"is known by extension" % missing)
    assert k.get_text(MIME + "index.html") == (200, "(none)")
    assert k.get_text("/inspect/items/1") == (200, "item 1")   # and it serves
