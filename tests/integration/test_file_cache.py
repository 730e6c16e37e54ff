"""The worker's file cache (KILN_FILE_CACHE, through the static plugin): files rewritten, appended to, replaced by rename, deleted and created again, missing names and .gz/.br siblings that appear, directories renamed and removed, hard and symbolic links, the size limits and the cache off, inotify's queue overflowing, answers (HEAD, 304, 206, 416) the same as without the cache, the cached files not read again, and two workers each seeing every change."""

import collections
import email.utils
import gzip
import os
import re
import shutil
import signal
import subprocess

import pytest

from conftest import RawConn, tcp_socket, wait_until


def etag_of(path, coding=None):
    """The ETag kiln gives `path` as it is now (file_cond.c's file_etag():
    inode, size, mtime seconds and nanoseconds), with the sibling's suffix."""
    st = os.stat(path)
    sec, nsec = divmod(st.st_mtime_ns, 10**9)
    tag = '"%x-%x-%x.%x' % (st.st_ino, st.st_size, sec, nsec)
    return tag + ("-%s\"" % coding if coding else '"')


def last_modified(path):
    return email.utils.formatdate(os.stat(path).st_mtime_ns // 10**9, usegmt=True)


def write(path, data, mode="wb"):
    with open(path, mode) as f:
        f.write(data)


def replace(path, data):
    """`data` at `path` the way editors and deploy tools put it: a temporary
    file in the same directory renamed over the name."""
    tmp = "%s.tmp%d" % (path, os.getpid())
    write(tmp, data)
    os.rename(tmp, path)


def served(kiln_factory, root, workers=1, server=None, **static):
    conf = {"root": str(root)}
    conf.update(static)
    srv = {"workers": workers}
    srv.update(server or {})
    return kiln_factory.make(plugins=("static",), server=srv, sections={"static": conf})


class Client:
    """One keep-alive connection: each call sends a request and reads its answer."""

    def __init__(self, k):
        self.conn = RawConn(k.port)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.conn.close()

    def send(self, name, method="GET", headers=None):
        lines = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
        self.conn.send("%s /static/%s HTTP/1.1\r\nHost: t\r\n%s\r\n" % (method, name, lines))

    def read(self, method="GET"):
        return self.conn.read_response(head=method == "HEAD")

    def get(self, name, method="GET", headers=None):
        self.send(name, method, headers)
        return self.read(method)


def assert_serves(r, path, coding=None, what=""):
    """r is the 200 of the file at `path` as it is now: its bytes, length
    and validators (those of the file's sibling for `coding`)."""
    data = open(path, "rb").read()
    assert r.status == 200, (what, r)
    assert r.body == data, "%s: stale bytes: served %r, the file holds %r" % (
        what, r.body[:80], data[:80])
    assert r.header("content-length") == str(len(data)), (what, r)
    assert r.header("etag") == etag_of(path, coding), (what, r.header("etag"))
    assert r.header("last-modified") == last_modified(path), what
    assert r.header("content-encoding") == {None: None, "gz": "gzip", "br": "br"}[coding], what


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    return r


def test_rewrites_in_place_are_seen_by_the_next_request(kiln_factory, root):
    """Each change, made just before a request on the same keep-alive
    connection, is in that request's answer: the inotify watcher goes
    before the connection's read."""
    f = root / "f.txt"
    write(f, b"first\n")
    k = served(kiln_factory, root)
    with Client(k) as c:
        assert_serves(c.get("f.txt"), f, what="first")
        assert_serves(c.get("f.txt"), f, what="again, from the cache")
        for i in range(200):
            kind = ("same length", "longer", "shorter", "append", "empty",
                    "truncate", "touch")[i % 7]
            if kind == "same length":
                write(f, b"same %06d\n" % i)
            elif kind == "longer":
                write(f, b"longer %d\n" % i * (1 + i % 50))
            elif kind == "shorter":
                write(f, b"s%d" % i)
            elif kind == "append":
                write(f, b"+%d" % i, "ab")
            elif kind == "empty":
                write(f, b"")
            elif kind == "truncate":
                write(f, b"0123456789abcdef%d" % i)
                assert_serves(c.get("f.txt"), f, what="%d %s (before)" % (i, kind))
                os.truncate(f, 7)
            else:
                # same bytes, another mtime: new validators only
                st = os.stat(f)
                os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns - 10**9 * (1 + i)))
            assert_serves(c.get("f.txt"), f, what="%d %s" % (i, kind))
            assert_serves(c.get("f.txt"), f, what="%d %s, again" % (i, kind))


def test_appends_through_an_open_descriptor(kiln_factory, root):
    """A log-like file kept open by its writer and appended to."""
    f = root / "log.txt"
    write(f, b"")
    k = served(kiln_factory, root)
    with Client(k) as c, open(f, "ab", buffering=0) as out:
        assert_serves(c.get("log.txt"), f, what="empty")
        for i in range(100):
            out.write(b"line %d\n" % i)
            assert_serves(c.get("log.txt"), f, what="after line %d" % i)


def proc_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rpartition(")")[2].split()[0]


def stop(pid):
    """SIGSTOP, and waits until the process is stopped."""
    os.kill(pid, signal.SIGSTOP)
    assert wait_until(lambda: proc_state(pid) == "T", 5, 0.001), proc_state(pid)


def wait_queued(port, sock):
    """Waits until what `sock` sent is in the server's socket, unread."""
    client_port = sock.getsockname()[1]
    assert wait_until(lambda: (tcp_socket(port, client_port) or ("", 0, 0))[2] > 0, 5)


@pytest.mark.parametrize("order", ["change, then request", "request, then change"])
def test_a_change_made_while_the_worker_is_stopped(kiln_factory, root, order):
    """The change's event and the request are both waiting when the worker
    runs again (one epoll_wait returns both), whichever came first: the
    inotify watcher, at the loop's highest priority, goes first."""
    f = root / "f.txt"
    (root / "d").mkdir()
    g = root / "d" / "g.txt"
    write(f, b"before\n")
    write(g, b"in d\n")
    k = served(kiln_factory, root)
    (worker,) = k.worker_pids()
    changes = [lambda: write(f, b"after, same!\n"), lambda: write(f, b"longer, after this\n"),
               lambda: replace(f, b"renamed over\n"), lambda: os.unlink(f),
               lambda: write(f, b"back\n"), lambda: os.rename(root / "d", root / "e"),
               lambda: (root / "d").mkdir() or write(g, b"a new d\n")]
    with Client(k) as c:
        for i, change in enumerate(changes):
            assert c.get("f.txt").status in (200, 404)
            assert c.get("d/g.txt").status in (200, 404)
            try:
                stop(worker)
                if order.startswith("change"):
                    change()
                c.send("f.txt")
                c.send("d/g.txt")
                if order.startswith("request"):
                    wait_queued(k.port, c.conn.sock)
                    change()
            finally:
                os.kill(worker, signal.SIGCONT)
            for name, path in (("f.txt", f), ("d/g.txt", g)):
                r = c.read()
                if path.exists():
                    assert_serves(r, path, what="change %d, %s" % (i, name))
                else:
                    assert r.status == 404, ("change %d, %s" % (i, name), r)


def test_replaced_by_rename_is_seen(kiln_factory, root, tmp_path):
    f = root / "f.txt"
    write(f, b"v0\n")
    outside = tmp_path / "staging"
    outside.mkdir()
    k = served(kiln_factory, root)
    with Client(k) as c:
        for i in range(60):
            assert_serves(c.get("f.txt"), f, what="before %d" % i)
            if i % 2:
                replace(f, b"v%d renamed in the directory\n" % (i + 1))
            else:     # from a directory that is not watched
                write(outside / "new", b"v%d from outside\n" % (i + 1) * (i % 5 + 1))
                os.rename(outside / "new", f)
            assert_serves(c.get("f.txt"), f, what="replaced %d" % i)
        # renamed away: gone; another file renamed to the name: it
        os.rename(f, root / "old.txt")
        assert c.get("f.txt").status == 404
        assert_serves(c.get("old.txt"), root / "old.txt")
        os.rename(root / "old.txt", f)
        assert c.get("old.txt").status == 404
        assert_serves(c.get("f.txt"), f, what="renamed back")


def test_deleted_then_created_again(kiln_factory, root):
    f = root / "f.txt"
    k = served(kiln_factory, root)
    with Client(k) as c:
        for i in range(30):
            write(f, b"life %d\n" % i * (i + 1))
            assert_serves(c.get("f.txt"), f, what="created %d" % i)
            assert_serves(c.get("f.txt"), f, what="created %d, again" % i)
            os.unlink(f)
            assert c.get("f.txt").status == 404, i
            assert c.get("f.txt").status == 404, i


def test_missing_names_once_created(kiln_factory, root):
    """A name answered 404 (a missing entry in the cache) is served once it
    exists, as are files in a directory that did not exist."""
    k = served(kiln_factory, root)
    with Client(k) as c:
        for name in ("new.txt", "new/f.txt", "new/deeper/f.txt", "d/f.txt"):
            assert c.get(name).status == 404, name
            assert c.get(name).status == 404, name
        write(root / "new.txt", b"now here\n")
        assert_serves(c.get("new.txt"), root / "new.txt")
        # names that come with IN_CREATE alone: an empty file, a link, a directory
        for name in ("empty.txt", "hard.txt", "soft.txt", "newdir"):
            assert c.get(name).status == 404, name
            assert c.get(name).status == 404, name
        write(root / "empty.txt", b"")
        assert_serves(c.get("empty.txt"), root / "empty.txt")
        os.link(root / "new.txt", root / "hard.txt")
        assert_serves(c.get("hard.txt"), root / "hard.txt")
        os.symlink("new.txt", root / "soft.txt")
        assert_serves(c.get("soft.txt"), root / "new.txt")
        (root / "newdir").mkdir()
        r = c.get("newdir")
        assert (r.status, r.header("location")) == (301, "/static/newdir/")
        (root / "new").mkdir()
        assert c.get("new/f.txt").status == 404
        write(root / "new" / "f.txt", b"in new\n")
        assert_serves(c.get("new/f.txt"), root / "new" / "f.txt")
        os.makedirs(root / "new" / "deeper")
        write(root / "new" / "deeper" / "f.txt", b"deeper\n")
        assert_serves(c.get("new/deeper/f.txt"), root / "new" / "deeper" / "f.txt")
        # a directory made elsewhere and renamed in
        os.makedirs(root.parent / "prepared")
        write(root.parent / "prepared" / "f.txt", b"prepared\n")
        os.rename(root.parent / "prepared", root / "d")
        assert_serves(c.get("d/f.txt"), root / "d" / "f.txt")
        # a file moved between two watched directories
        assert c.get("new/moved.txt").status == 404
        os.rename(root / "d" / "f.txt", root / "new" / "moved.txt")
        assert c.get("d/f.txt").status == 404
        assert_serves(c.get("new/moved.txt"), root / "new" / "moved.txt")
        # a directory renamed over an empty one
        (root / "empty").mkdir()
        assert c.get("empty/f.txt").status == 404
        os.makedirs(root.parent / "full")
        write(root.parent / "full" / "f.txt", b"full\n")
        os.rename(root.parent / "full", root / "empty")
        assert_serves(c.get("empty/f.txt"), root / "empty" / "f.txt")
        # a file where a directory was, and back
        shutil.rmtree(root / "new" / "deeper")
        write(root / "new" / "deeper", b"a file now\n")
        assert c.get("new/deeper/f.txt").status == 404
        assert_serves(c.get("new/deeper"), root / "new" / "deeper")
        os.unlink(root / "new" / "deeper")
        assert c.get("new/deeper").status == 404
        (root / "new" / "deeper").mkdir()
        write(root / "new" / "deeper" / "f.txt", b"deeper again\n")
        assert_serves(c.get("new/deeper/f.txt"), root / "new" / "deeper" / "f.txt")


def test_precompressed_siblings_that_appear_and_go(kiln_factory, root):
    """The .gz and .br names looked for (and found missing) for an
    Accept-Encoding are looked for again once they change."""
    x = root / "x.txt"
    text = b"the text itself\n" * 10
    write(x, text)
    k = served(kiln_factory, root)
    gz, br = root / "x.txt.gz", root / "x.txt.br"
    with Client(k) as c:
        for _ in range(2):
            r = c.get("x.txt", headers={"Accept-Encoding": "gzip, br"})
            assert_serves(r, x, what="no sibling")
            assert r.header("vary") is None         # no sibling: no Vary (test_static)
        write(gz, gzip.compress(text))
        for _ in range(2):
            r = c.get("x.txt", headers={"Accept-Encoding": "gzip, br"})
            assert_serves(r, gz, "gz", what=".gz created")
            assert r.header("vary") == "Accept-Encoding"
            assert gzip.decompress(r.body) == text
        r = c.get("x.txt", headers={"Accept-Encoding": "gzip;q=0.4, identity;q=0.5"})
        assert_serves(r, x, what="identity preferred")
        assert r.header("vary") == "Accept-Encoding"
        write(br, b"not really brotli\n")
        r = c.get("x.txt", headers={"Accept-Encoding": "gzip, br"})
        assert_serves(r, br, "br", what=".br created")
        write(br, b"another brotli\n")
        r = c.get("x.txt", headers={"Accept-Encoding": "br"})
        assert_serves(r, br, "br", what=".br rewritten")
        os.unlink(br)
        r = c.get("x.txt", headers={"Accept-Encoding": "gzip, br"})
        assert_serves(r, gz, "gz", what=".br deleted")
        replace(gz, gzip.compress(text + b"more\n"))
        r = c.get("x.txt", headers={"Accept-Encoding": "gzip"})
        assert_serves(r, gz, "gz", what=".gz replaced")
        os.unlink(gz)
        for _ in range(2):
            r = c.get("x.txt", headers={"Accept-Encoding": "gzip, br"})
            assert_serves(r, x, what=".gz deleted")
            assert r.header("vary") is None
        # the original rewritten: its own bytes, no sibling again
        write(x, b"short\n")
        r = c.get("x.txt", headers={"Accept-Encoding": "gzip"})
        assert_serves(r, x, what="rewritten")
        r = c.get("x.txt")
        assert_serves(r, x, what="no Accept-Encoding")


def test_a_sibling_asked_for_by_its_own_name(kiln_factory, root):
    """x.txt.gz is both a file of its own (its plain ETag) and x.txt's gzip
    representation (its ETag with "-gz"): the one cached first must not
    give its validators to the other."""
    for name in ("a.txt", "b.txt"):
        write(root / name, b"text of %s\n" % name.encode())
        write(root / (name + ".gz"), gzip.compress(b"text of %s\n" % name.encode()))
    cached = served(kiln_factory, root)
    plain = served(kiln_factory, root, cache="off")
    ae = {"Accept-Encoding": "gzip"}
    with Client(cached) as c, Client(plain) as p:
        # a.txt's sibling first, then the .gz by its name; b.txt the other way
        for name, headers in (("a.txt", ae), ("a.txt.gz", {}), ("a.txt", ae),
                              ("b.txt.gz", {}), ("b.txt", ae), ("b.txt.gz", {})):
            got, want = c.get(name, headers=headers), p.get(name, headers=headers)
            assert without_date(got) == without_date(want), (name, headers)
        assert_serves(c.get("a.txt.gz"), root / "a.txt.gz")
        assert_serves(c.get("a.txt", headers=ae), root / "a.txt.gz", "gz")
        r = c.get("b.txt", headers=ae)
        assert_serves(r, root / "b.txt.gz", "gz")
        inm = {"If-None-Match": r.header("etag")}
        assert c.get("b.txt", headers=dict(ae, **inm)).status == 304
        assert c.get("b.txt.gz", headers=inm).status == 200


def test_index_files_that_appear_and_go(kiln_factory, root):
    (root / "d").mkdir()
    index = root / "d" / "index.html"
    k = served(kiln_factory, root)
    with Client(k) as c:
        assert c.get("d/").status == 403
        write(index, b"<p>one</p>\n")
        assert_serves(c.get("d/"), index)
        assert_serves(c.get("d/index.html"), index)
        write(index, b"<p>two, longer</p>\n")
        assert_serves(c.get("d/"), index)
        os.unlink(index)
        assert c.get("d/").status == 403
        assert c.get("d/index.html").status == 404


def test_renamed_and_removed_directories(kiln_factory, root):
    sub = root / "sub"
    sub.mkdir()
    write(sub / "f.txt", b"the old sub\n")
    os.makedirs(root / "a" / "b" / "c")
    deep = root / "a" / "b" / "c" / "f.txt"
    write(deep, b"deep\n")
    k = served(kiln_factory, root)
    with Client(k) as c:
        old = (sub / "f.txt").read_bytes()
        assert_serves(c.get("sub/f.txt"), sub / "f.txt")
        assert c.get("sub/missing.txt").status == 404
        assert c.get("sub2/f.txt").status == 404
        os.rename(sub, root / "sub2")
        sub.mkdir()
        assert c.get("sub/f.txt").status == 404
        write(sub / "f.txt", b"the new sub, another length\n")
        assert_serves(c.get("sub/f.txt"), sub / "f.txt", what="new sub")
        r = c.get("sub2/f.txt")
        assert_serves(r, root / "sub2" / "f.txt", what="moved sub")
        assert r.body == old
        write(sub / "missing.txt", b"not missing\n")
        assert_serves(c.get("sub/missing.txt"), sub / "missing.txt")
        # the moved directory is watched under its new name
        write(root / "sub2" / "f.txt", b"changed in sub2\n")
        assert_serves(c.get("sub2/f.txt"), root / "sub2" / "f.txt")
        # removed, and the old one moved back
        shutil.rmtree(sub)
        assert c.get("sub/f.txt").status == 404
        assert c.get("sub/missing.txt").status == 404
        os.rename(root / "sub2", sub)
        assert c.get("sub2/f.txt").status == 404
        assert_serves(c.get("sub/f.txt"), sub / "f.txt", what="moved back")
        write(sub / "f.txt", b"changed after moving back\n")
        assert_serves(c.get("sub/f.txt"), sub / "f.txt")
        # a directory high on the path renamed, another put in its place
        assert_serves(c.get("a/b/c/f.txt"), deep)
        os.rename(root / "a", root / "a-old")
        assert c.get("a/b/c/f.txt").status == 404
        os.makedirs(root / "a" / "b" / "c")
        write(deep, b"a new deep file\n")
        assert_serves(c.get("a/b/c/f.txt"), deep)
        # an inner one renamed inside its parent
        os.rename(root / "a" / "b", root / "a" / "b2")
        assert c.get("a/b/c/f.txt").status == 404
        assert_serves(c.get("a/b2/c/f.txt"), root / "a" / "b2" / "c" / "f.txt")
        os.rename(root / "a-old" / "b", root / "a" / "b")
        assert_serves(c.get("a/b/c/f.txt"), deep, what="b from a-old")
        assert c.get("a/b/c/f.txt").body == b"deep\n"
        shutil.rmtree(root / "a")
        for name in ("a/b/c/f.txt", "a/b2/c/f.txt"):
            assert c.get(name).status == 404, name


def test_files_with_several_hard_links(kiln_factory, root, tmp_path):
    """A file with a second link is written through that link: the
    directory of the name served sees nothing, so it must not be cached."""
    outside = tmp_path / "outside"
    outside.mkdir()
    f = root / "f.txt"
    write(f, b"linked\n")
    os.link(f, root / "same-dir.txt")
    os.link(f, outside / "other.txt")
    k = served(kiln_factory, root)
    with Client(k) as c:
        for i, via in enumerate((outside / "other.txt", root / "same-dir.txt") * 10):
            assert_serves(c.get("f.txt"), f, what="before %d" % i)
            if i % 2:
                write(via, b"written through %s, %d\n" % (via.name.encode(), i))
            else:      # in place, the same length
                with open(via, "r+b") as w:
                    w.write(b"%06d" % i)
            assert_serves(c.get("f.txt"), f, what="written through %s" % via)
        # down to one link: cacheable again, and its changes seen
        os.unlink(root / "same-dir.txt")
        os.unlink(outside / "other.txt")
        for i in range(3):
            assert_serves(c.get("f.txt"), f)
            write(f, b"one link, %d\n" % i)
            assert_serves(c.get("f.txt"), f, what="one link %d" % i)


def test_a_hard_link_made_after_the_file_was_cached(kiln_factory, root, tmp_path):
    """link(2) changes the file's link count, but inotify reports that only
    on the file itself, not to the watch on the served name's directory:
    what is then written through the new link must still be seen."""
    outside = tmp_path / "outside"
    outside.mkdir()
    k = served(kiln_factory, root)
    with Client(k) as c:
        for where in (outside, root):
            f = root / ("f-%s.txt" % where.name)
            write(f, b"one link\n")
            assert_serves(c.get(f.name), f)
            assert_serves(c.get(f.name), f, what="cached")
            os.link(f, where / "second-link.txt")
            write(where / "second-link.txt", b"written through the new link in %s\n"
                  % where.name.encode())
            assert_serves(c.get(f.name), f, what="a link made in %s, written" % where.name)
            os.unlink(where / "second-link.txt")


@pytest.mark.parametrize("symlinks", ["inside", "any"])
def test_symbolic_links_serve_their_target_fresh(kiln_factory, root, tmp_path, symlinks):
    (root / "other").mkdir()
    target = root / "other" / "target.txt"
    write(target, b"the target\n")
    os.symlink("other/target.txt", root / "link.txt")
    os.symlink("other", root / "linkdir")
    outside = tmp_path / "outside.txt"
    write(outside, b"outside the root\n")
    os.symlink(str(outside), root / "out.txt")
    k = served(kiln_factory, root, symlinks=symlinks)
    with Client(k) as c:
        for i in range(10):
            for name in ("link.txt", "linkdir/target.txt", "other/target.txt"):
                assert_serves(c.get(name), target, what="%s before %d" % (name, i))
            if i % 2:
                write(target, b"the target, %d\n" % i * (i + 1))
            else:     # through the link
                write(root / "link.txt", b"through the link, %d\n" % i)
            for name in ("other/target.txt", "link.txt", "linkdir/target.txt"):
                assert_serves(c.get(name), target, what="%s after %d" % (name, i))
        r = c.get("out.txt")
        if symlinks == "inside":
            assert r.status == 404
        else:
            assert_serves(r, outside)
            write(outside, b"outside, changed\n")
            assert_serves(c.get("out.txt"), outside, what="outside changed")
        # the link pointed elsewhere
        write(root / "other" / "second.txt", b"the second target\n")
        os.symlink("other/second.txt", root / "link.tmp")
        os.rename(root / "link.tmp", root / "link.txt")
        assert_serves(c.get("link.txt"), root / "other" / "second.txt", what="retargeted")
        # a cached file replaced by a link, and a link by a file
        write(root / "plain.txt", b"plain\n")
        assert_serves(c.get("plain.txt"), root / "plain.txt")
        os.symlink("other/target.txt", root / "plain.tmp")
        os.rename(root / "plain.tmp", root / "plain.txt")
        assert_serves(c.get("plain.txt"), target, what="now a link")
        write(target, b"the target, once more\n")
        assert_serves(c.get("plain.txt"), target, what="now a link, target changed")
        replace(root / "link.txt", b"a file now\n")
        assert_serves(c.get("link.txt"), root / "link.txt", what="now a file")
    off = served(kiln_factory, root, symlinks="off")
    with Client(off) as c:
        for _ in range(2):
            assert c.get("plain.txt").status == 404
            assert c.get("linkdir/target.txt").status == 404
        os.unlink(root / "plain.txt")
        write(root / "plain.txt", b"no longer a link\n")
        assert_serves(c.get("plain.txt"), root / "plain.txt")


@pytest.mark.parametrize("server,static", [
    ({"max_cached_file_size": "8k", "file_cache": "64k"}, {}),
    ({"max_cached_file_size": "8k", "file_cache": "20k"}, {}),     # LRU eviction
    ({"file_cache": "0"}, {}),
    ({}, {"cache": "off"}),
], ids=["8k-files", "small-cache", "file_cache-0", "static-cache-off"])
def test_size_limits_and_the_cache_off(kiln_factory, root, server, static):
    sizes = [0, 1, 8191, 8192, 8193, 20000, 64 * 1024, 64 * 1024 + 1, 100000]
    names = ["s%d.bin" % n for n in sizes]
    for n, name in zip(sizes, names):
        write(root / name, os.urandom(n))
    k = served(kiln_factory, root, server=server, **static)
    with Client(k) as c:
        for i in range(4):
            for name in names:
                assert_serves(c.get(name), root / name, what="%s round %d" % (name, i))
                assert_serves(c.get(name), root / name, what="%s round %d again" % (name, i))
                r = c.get(name, headers={"Range": "bytes=1-"})
                if os.path.getsize(root / name) > 1:
                    assert (r.status, r.body) == (206, (root / name).read_bytes()[1:]), name
            for n, name in zip(sizes, names):
                # the same length (another mtime), then another length
                write(root / name, os.urandom(n) if i % 2 else os.urandom(n + i))
            for name in names:
                assert_serves(c.get(name), root / name, what="%s changed %d" % (name, i))


def test_bad_cache_settings_are_refused(kiln_factory, root):
    for where, key, value, message in (
            ("server", "file_cache", "lots", r"file_cache"),
            ("server", "max_cached_file_size", "-1", r"max_cached_file_size"),
            ("static", "cache", "sometimes", r"\[static\] cache = sometimes")):
        srv = {key: value} if where == "server" else {}
        sec = {"root": str(root)}
        if where == "static":
            sec[key] = value
        bad = kiln_factory.make(start=False, plugins=("static",), server=srv,
                                sections={"static": sec})
        rc, out = bad.check()
        assert rc != 0 and re.search(message, out), (key, out)


@pytest.mark.parametrize("accept", ["gzip;q=0.4, identity;q=0.5", "br, gzip;q=0.5"])
def test_a_small_cache_full_while_siblings_are_looked_for(kiln_factory, root, accept):
    """A cache with room for one file: caching the sibling looked for
    evicts the representation already chosen, which must still be
    answered with its own bytes."""
    x = root / "x.txt"
    write(x, b"I" * 5000)
    write(root / "x.txt.gz", b"G" * 5000)
    write(root / "x.txt.br", b"B" * 5000)
    chosen = root / ("x.txt.br" if accept.startswith("br") else "x.txt")
    coding = "br" if accept.startswith("br") else None
    k = served(kiln_factory, root, server={"file_cache": "8k", "max_cached_file_size": "8k"})
    with Client(k) as c:
        for i in range(6):
            r = c.get("x.txt", headers={"Accept-Encoding": accept})
            assert_serves(r, chosen, coding, what="request %d" % i)
            r = c.get("x.txt")
            assert_serves(r, x, what="no Accept-Encoding %d" % i)


def exchanges(etag, lm, size):
    """The requests compared with and without the cache: (method, headers)."""
    return [
        ("GET", {}), ("HEAD", {}), ("GET", {}),
        ("GET", {"If-None-Match": etag}), ("HEAD", {"If-None-Match": etag}),
        ("GET", {"If-None-Match": '"other"'}), ("GET", {"If-None-Match": "*"}),
        ("GET", {"If-None-Match": "W/" + etag}),
        ("GET", {"If-Modified-Since": lm}),
        ("GET", {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}),
        ("GET", {"Range": "bytes=0-9"}), ("GET", {"Range": "bytes=10-19"}),
        ("GET", {"Range": "bytes=-100"}), ("GET", {"Range": "bytes=%d-" % (size - 1)}),
        ("GET", {"Range": "bytes=0-%d" % (size * 2)}), ("HEAD", {"Range": "bytes=0-9"}),
        ("GET", {"Range": "bytes=%d-" % size}),
        ("GET", {"Range": "bytes=%d-%d" % (size, size + 5)}),
        ("GET", {"Range": "bytes=5-1"}), ("GET", {"Range": "bytes=0-1,5-6"}),
        ("GET", {"Range": "bytes=0-9", "If-Range": etag}),
        ("GET", {"Range": "bytes=0-9", "If-Range": '"stale"'}),
        ("GET", {"Range": "bytes=0-9", "If-Range": lm}),
        ("GET", {"Range": "bytes=0-9", "If-None-Match": etag}),
        ("POST", {"Content-Length": "0"}), ("DELETE", {}),
        ("GET", {"Accept-Encoding": "gzip"}), ("GET", {"Accept-Encoding": "br, gzip"}),
        ("GET", {"Accept-Encoding": "gzip", "Range": "bytes=2-5"}),
        ("HEAD", {"Accept-Encoding": "gzip;q=0.1"}),
        ("GET", {"Accept-Encoding": "identity"}),
    ]


def without_date(r):
    return (r.status, [(k, v) for k, v in r.header_list if k.lower() != "date"], r.body)


def test_answers_are_those_without_the_cache(kiln_factory, root):
    """Status, headers (but Date) and body of every kind of request, from
    the cache and from a server without it, on the same files; and a HEAD
    leaves nothing behind on the connection."""
    write(root / "a.txt", os.urandom(3000))
    write(root / "a.txt.gz", os.urandom(1000))
    write(root / "plain.txt", b"no sibling\n" * 30)
    write(root / "e.txt", b"")
    write(root / "big.bin", os.urandom(200 * 1024))        # over the limit: not cached
    (root / "d").mkdir()
    write(root / "d" / "index.html", b"<p>index</p>\n")
    cached = served(kiln_factory, root)
    plain = served(kiln_factory, root, cache="off")
    names = ["a.txt", "plain.txt", "e.txt", "big.bin", "d/", "d", "missing.txt", "d/missing"]
    with Client(cached) as c, Client(plain) as p:
        for rnd in range(2):
            for name in names:
                path = root / (name + "index.html" if name.endswith("/") else name)
                exists = path.is_file()
                etag = etag_of(path) if exists else '"x"'
                lm = last_modified(path) if exists else "Thu, 01 Jan 1970 00:00:00 GMT"
                size = path.stat().st_size if exists else 10
                c.get(name)             # fills the cache
                for method, headers in exchanges(etag, lm, size):
                    want = without_date(p.get(name, method, headers))
                    got = without_date(c.get(name, method, headers))
                    assert got == want, (rnd, name, method, headers)
            for name in ("a.txt", "plain.txt", "e.txt", "a.txt.gz", "d/index.html"):
                write(root / name, os.urandom(rnd * 7 + 1))
        # HEAD and GET pipelined on one connection: only the GET's body comes
        c.send("a.txt", "HEAD")
        c.send("a.txt")
        c.send("a.txt", "HEAD")
        c.send("plain.txt")
        heads = [c.read("HEAD"), c.read(), c.read("HEAD"), c.read()]
        assert [r.status for r in heads] == [200] * 4
        assert heads[0].body == heads[2].body == b""
        assert heads[0].header("content-length") == str(os.path.getsize(root / "a.txt"))
        assert_serves(heads[1], root / "a.txt")
        assert_serves(heads[3], root / "plain.txt")
        assert c.conn.closed_within(0.2) is False


def read_bytes_of(pid):
    """The bytes the process has read (/proc/PID/io's rchar: read(2),
    pread(2) and sendfile(2) alike)."""
    with open("/proc/%d/io" % pid) as f:
        return int(re.search(r"^rchar: (\d+)", f.read(), re.M).group(1))


@pytest.mark.parametrize("server,static,cached", [
    ({}, {}, True), ({}, {"cache": "off"}, False), ({"file_cache": "0"}, {}, False),
    ({"max_cached_file_size": "32k"}, {}, False)], ids=["on", "static-off", "0", "over-max"])
def test_cached_files_are_not_read_again(kiln_factory, root, server, static, cached):
    """The worker reads a cached file once; not cached (off, or over
    max_cached_file_size), it reads the file for each request; a file over
    the limit is never cached."""
    size, n = 60 * 1024, 40
    write(root / "f.bin", os.urandom(size))
    write(root / "big.bin", os.urandom(64 * 1024 + 1))
    k = served(kiln_factory, root, server=server, **static)
    (worker,) = k.worker_pids()

    def bytes_read(name):
        before = read_bytes_of(worker)
        for _ in range(n):
            assert_serves(c.get(name), root / name)
        return read_bytes_of(worker) - before

    with Client(k) as c:
        for _ in range(3):
            assert_serves(c.get("f.bin"), root / "f.bin")
            assert_serves(c.get("big.bin"), root / "big.bin")
        read = bytes_read("f.bin")
        if not cached:
            assert read >= n * size, read
        else:
            assert read < n * 1024, "the worker read %d bytes for %d cached answers" % (read, n)
            # a change: read once more, then served from memory again
            write(root / "f.bin", os.urandom(size))
            read = bytes_read("f.bin")
            assert size <= read < size + n * 1024, read
        read = bytes_read("big.bin")
        assert read >= n * (64 * 1024 + 1), read


def test_inotify_queue_overflow_drops_everything(kiln_factory, root):
    """More events than the kernel queues while the worker is stopped: the
    change to the cached file is lost among them, and the overflow must
    drop what the cache holds."""
    with open("/proc/sys/fs/inotify/max_queued_events") as f:
        limit = int(f.read())
    f = root / "f.txt"
    write(f, b"before the flood\n")
    k = served(kiln_factory, root)
    (worker,) = k.worker_pids()
    with Client(k) as c:
        assert_serves(c.get("f.txt"), f)
        assert c.get("missing.txt").status == 404
        try:
            stop(worker)
            a = os.open(root / "junk-a", os.O_WRONLY | os.O_CREAT)
            b = os.open(root / "junk-b", os.O_WRONLY | os.O_CREAT)
            try:
                for _ in range(limit // 2 + 100):     # alternating: not merged
                    os.write(a, b"a")
                    os.write(b, b"b")
            finally:
                os.close(a)
                os.close(b)
            write(f, b"after the flood, longer\n")
            write(root / "missing.txt", b"created in the flood\n")
            c.send("f.txt")
            c.send("missing.txt")
        finally:
            os.kill(worker, signal.SIGCONT)
        assert_serves(c.read(), f, what="after an overflow")
        assert_serves(c.read(), root / "missing.txt", what="after an overflow")
        write(f, b"and after that\n")
        assert_serves(c.get("f.txt"), f, what="watched again")


def per_worker(port):
    """Established server-side connections on `port`, by the pid holding them."""
    out = subprocess.run(["ss", "-Htnp", "state", "established", "( sport = :%d )" % port],
                         capture_output=True, text=True, check=True).stdout
    return collections.Counter(int(p) for p in re.findall(r"pid=(\d+)", out))


def test_each_of_two_workers_sees_every_change(kiln_factory, root):
    f = root / "f.txt"
    write(f, b"v0\n")
    (root / "d").mkdir()
    g = root / "d" / "g.txt"
    write(g, b"g0\n")
    k = served(kiln_factory, root, workers=2)
    clients = []
    try:
        for _ in range(24):
            clients.append(Client(k))
            assert_serves(clients[-1].get("f.txt"), f)
        assert sorted(per_worker(k.port)) == sorted(k.worker_pids())
        for i in range(12):
            for c in clients:
                assert_serves(c.get("f.txt"), f, what="before change %d" % i)
                r = c.get("d/g.txt")
                assert r.status == (200 if g.exists() else 404), (i, r)
            if i % 4 == 0:
                write(f, b"v%d\n" % (i + 1))
            elif i % 4 == 1:
                replace(f, b"v%d, renamed\n" % (i + 1))
                shutil.rmtree(root / "d")
            elif i % 4 == 2:
                write(f, b"v%d appended\n" % (i + 1), "ab")
                (root / "d").mkdir()
                write(g, b"g%d\n" % i)
            else:
                os.unlink(f)
                write(f, b"v%d, deleted and made again\n" % (i + 1))
                write(g, b"g%d, rewritten\n" % i)
            for j, c in enumerate(clients):
                assert_serves(c.get("f.txt"), f, what="change %d, connection %d" % (i, j))
                r = c.get("d/g.txt")
                if g.exists():
                    assert_serves(r, g, what="change %d, connection %d" % (i, j))
                else:
                    assert r.status == 404, (i, j)
    finally:
        for c in clients:
            c.conn.close()
