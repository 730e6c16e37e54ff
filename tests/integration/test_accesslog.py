"""The bundled access log (plugins/accesslog): Apache's combined format by default, read back and parsed by GoAccess; a format with aiohttp's and Apache's directives; escaping of what a client sends; kiln's own 400s and 404s logged; buffered lines written when the buffer fills, on the flush timer and when a worker stops; whole lines from two workers under ab's load; reopened on `kiln -s reopen` and through a real logrotate run; a bad format refused by `kiln -t` with the directive and its column."""

import json
import os
import re
import subprocess
import time

from conftest import RawConn, curl, run_kiln, wait_until

# host ident user [time] "request" status bytes "referer" "user-agent"
COMBINED = re.compile(
    r'^(?P<host>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] '
    r'"(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}) (?P<bytes>\d+|-) '
    r'"(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)"$')
CLF_TIME = re.compile(r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}$")


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return f.read().decode("ascii").splitlines()


def start(kiln_factory, tmp_path, workers=1, **keys):
    log = str(tmp_path / "access.log")
    section = {"path": log, "buffer": "0"}
    section.update(keys)
    k = kiln_factory.make(plugins=("hello", "accesslog"), server={"workers": workers},
                          sections={"accesslog": section})
    return k, log


def test_combined_by_default(kiln_factory, tmp_path):
    k, log = start(kiln_factory, tmp_path)
    rc, out, err = curl("-H", "Referer: http://example.com/page", "-A", "test-agent/1.0",
                        k.url + "/Alice?x=1")
    assert rc == 0 and out == b"Hello, Alice", err
    rc, _, err = curl("-o", "/dev/null", "-X", "DELETE", k.url + "/")
    assert rc == 0, err
    wait_until(lambda: len(lines(log)) == 2, 5)
    first, second = (COMBINED.match(x) for x in lines(log))
    assert first and second, lines(log)
    assert first["host"] == "127.0.0.1" and first["ident"] == "-" and first["user"] == "-"
    assert CLF_TIME.match(first["time"]), first["time"]
    assert first["request"] == "GET /Alice?x=1 HTTP/1.1"
    assert (first["status"], first["bytes"]) == ("200", str(len(b"Hello, Alice")))
    assert (first["referer"], first["agent"]) == ("http://example.com/page", "test-agent/1.0")
    assert second["request"] == "DELETE / HTTP/1.1" and second["status"] == "405"
    assert second["referer"] == "-"


def test_goaccess_parses_it(kiln_factory, tmp_path):
    k, log = start(kiln_factory, tmp_path)
    paths = ["/", "/Bob", "/nope/deeper", "/%22quoted%22", "/Carol?q=a%20b"]
    for p in paths:
        rc, _, err = curl("-o", "/dev/null", "-A", 'agent "with" quotes', k.url + p)
        assert rc == 0, err
    with RawConn(k.port) as c:          # a request kiln cannot read: its 400
        c.send(b"GARBAGE\r\n\r\n")
        assert c.read_response().status == 400
    wait_until(lambda: len(lines(log)) == len(paths) + 1, 5)
    report = tmp_path / "report.json"
    r = subprocess.run(["goaccess", log, "--log-format=COMBINED", "--no-global-config",
                        "-o", str(report)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    general = json.loads(report.read_text())["general"]
    assert general["total_requests"] == len(paths) + 1, general
    assert general["failed_requests"] == 0, (general, lines(log))
    assert general["valid_requests"] == len(paths) + 1


def test_format_directives(kiln_factory, tmp_path):
    fmt = ('%a %{c}a %t "%r" %s %b %B %O %I "%{Referer}i" "%{User-Agent}i" %D %Tf '
           '%m %U %q %H %P "%{Content-Type}o" %v %X %%')
    k, log = start(kiln_factory, tmp_path, format=fmt)
    rc, out, err = curl("-H", "Host: example.test", "-A", "ua", k.url + "/Dan?y=2")
    assert rc == 0 and out == b"Hello, Dan", err
    wait_until(lambda: len(lines(log)) == 1, 5)
    f = lines(log)[0]
    m = re.match(r'^127\.0\.0\.1 127\.0\.0\.1 \[[^\]]+\] "GET /Dan\?y=2 HTTP/1\.1" 200 10 10 '
                 r'(\d+) (\d+) "-" "ua" (\d+) (\d+\.\d{6}) GET /Dan \?y=2 HTTP/1\.1 (\d+) '
                 r'"text/plain(?:; charset=utf-8)?" example\.test \+ %$', f)
    assert m, f
    sent, received, usec, secs, pid = m.groups()
    assert int(sent) > 10 + len("HTTP/1.1 200 OK\r\n")      # the head is counted
    assert int(received) > len("GET /Dan?y=2 HTTP/1.1\r\n")
    assert abs(int(usec) / 1e6 - float(secs)) < 1e-5
    assert int(pid) in k.worker_pids()


def test_escaping(kiln_factory, tmp_path):
    k, log = start(kiln_factory, tmp_path, format='"%r" "%{User-Agent}i" "%{X-Raw}i"')
    with RawConn(k.port) as c:
        c.send(b'GET /%7F HTTP/1.1\r\nHost: x\r\nUser-Agent: a"b\\c\r\n'
               b"X-Raw: \xff\xfe tab\there\r\n\r\n")
        assert c.read_response().status == 200
    wait_until(lambda: len(lines(log)) == 1, 5)
    assert lines(log)[0] == r'"GET /%7F HTTP/1.1" "a\"b\\c" "\xff\xfe tab\there"'


def test_kiln_answers_logged(kiln_factory, tmp_path):
    k, log = start(kiln_factory, tmp_path, format='%s "%r" %b')
    with RawConn(k.port) as c:
        c.send(b"GET /a/b/c HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().status == 404
        c.send(b"GARBAGE\r\n\r\n")
        assert c.read_response().status == 400
        c.assert_fin()
    wait_until(lambda: len(lines(log)) == 2, 5)
    assert lines(log)[0].startswith('404 "GET /a/b/c HTTP/1.1" ')
    assert lines(log)[1].startswith("400 ")


def test_buffered_until_flush(kiln_factory, tmp_path):
    """A large buffer and an hour between flushes: nothing is written while
    the worker serves; stopping it writes every line."""
    k, log = start(kiln_factory, tmp_path, buffer="1m", flush="1h")
    for i in range(20):
        assert curl("-o", "/dev/null", k.url + "/n%d" % i)[0] == 0
    time.sleep(0.5)
    assert lines(log) == []
    k.stop()
    got = lines(log)
    assert len(got) == 20 and all(COMBINED.match(x) for x in got), got


def test_flush_timer(kiln_factory, tmp_path):
    k, log = start(kiln_factory, tmp_path, buffer="1m", flush="200ms")
    assert curl("-o", "/dev/null", k.url + "/")[0] == 0
    assert wait_until(lambda: len(lines(log)) == 1, 5), "the flush timer wrote nothing"


def test_two_workers_whole_lines(kiln_factory, tmp_path):
    """ab's 2,000 keep-alive requests over two workers, 4 KiB buffers:
    2,000 lines, each whole."""
    k, log = start(kiln_factory, tmp_path, workers=2, buffer="4k", flush="100ms")
    r = subprocess.run(["ab", "-q", "-k", "-n", "2000", "-c", "8", k.url + "/Eve"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert re.search(r"Complete requests:\s+2000", r.stdout), r.stdout
    assert re.search(r"Failed requests:\s+0", r.stdout), r.stdout
    k.stop()
    got = lines(log)
    assert len(got) == 2000
    bad = [x for x in got if not COMBINED.match(x) or '"GET /Eve HTTP/1.0"' not in x]
    assert bad == [], bad[:3]


def test_reopen(kiln_factory, tmp_path):
    k, log = start(kiln_factory, tmp_path, workers=2)
    assert curl("-o", "/dev/null", k.url + "/before")[0] == 0
    wait_until(lambda: len(lines(log)) == 1, 5)
    os.rename(log, log + ".1")
    mark = k.mark()
    rc, out = k.signal_command("reopen")
    assert rc == 0, out
    k.wait_log(r"reopen", since=mark)
    # each worker reopens on its own: wait until both have (a request per
    # connection lands on either worker)
    def reopened():
        curl("-o", "/dev/null", "-H", "Connection: close", k.url + "/after")
        return len(lines(log)) >= 4
    assert wait_until(reopened, 10), lines(log)
    assert lines(log + ".1") and all("/before" in x for x in lines(log + ".1"))
    assert all("/after" in x for x in lines(log))


def test_logrotate(kiln_factory, tmp_path):
    """A real logrotate run (its own state file) renames the log and sends
    the reopen; the next lines go to a new file."""
    k, log = start(kiln_factory, tmp_path, workers=1)
    assert curl("-o", "/dev/null", k.url + "/old")[0] == 0
    wait_until(lambda: len(lines(log)) == 1, 5)
    conf = tmp_path / "logrotate.conf"
    conf.write_text("%s {\n  rotate 3\n  missingok\n  notifempty\n  sharedscripts\n"
                    "  postrotate\n    kill -USR1 $(cat %s)\n  endscript\n}\n"
                    % (log, k.pidfile))
    r = subprocess.run(["logrotate", "-f", "-s", str(tmp_path / "state"), str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert lines(log + ".1") == [x for x in lines(log + ".1") if "/old" in x] != []

    def written():
        curl("-o", "/dev/null", k.url + "/new")
        return len(lines(log)) >= 1
    assert wait_until(written, 10)
    assert "/new" in lines(log)[0]


def test_bad_format_refused(tmp_path, kiln_factory):
    k = kiln_factory.make(start=False, plugins=("hello", "accesslog"),
                          sections={"accesslog": {"path": str(tmp_path / "a.log"),
                                                  "format": "%h %Z"}})
    rc, out = k.check()
    assert rc != 0
    assert "[accesslog] format: unknown directive %Z at column 4" in out, out


def test_off_without_path(kiln_factory):
    k = kiln_factory.make(plugins=("hello", "accesslog"))
    assert k.get_text("/") == (200, "Hello, Anonymous")
    assert run_kiln(["-c", k.conf, "-t"])[0] == 0
