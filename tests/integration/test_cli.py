"""Tests of kiln's command line: -V, -h, bad options, -l and -w overriding the config, kiln -t next to a live server, and kiln -s."""

import http.client
import os
import re
import shlex
import signal
import socket
import time

import pytest

from conftest import SRC, Background, pid_alive, run_kiln, wait_until


# -- helpers ---------------------------------------------------------------------------


def kiln_run(*args, timeout=10):
    """Runs kiln with `args` and no server: (rc, stdout, stderr)."""
    return run_kiln(args, timeout=timeout)


def with_args(*args):
    """A start() wrapper that execs `kiln -c conf` with `args` added (same pid)."""
    return ("/bin/sh", "-c", 'exec "$@" ' + " ".join(shlex.quote(a) for a in args), "sh")


def start_with(kiln_factory, args, port=True, **kw):
    """A kiln started with extra command-line `args`.  Without `port` there is no
    127.0.0.1 listener: the addresses come from the log."""
    k = kiln_factory.make(start=False, **kw)
    if not port:
        k.port = -1                 # the fixture looks for no 127.0.0.1 line then
    k.start(wrapper=with_args(*args))
    return k


def version():
    with open(os.path.join(SRC, "include", "kiln.h")) as f:
        text = f.read()
    parts = [re.search(r"#define KILN_VERSION_%s (\d+)" % p, text) for p in
             ("MAJOR", "MINOR", "PATCH")]
    assert all(parts), "no KILN_VERSION_* in include/kiln.h"
    return "%s.%s.%s" % tuple(m.group(1) for m in parts)


def get_over(sock, path):
    """One GET with "Connection: close" on a connected socket: (status, headers, body)."""
    sock.settimeout(5)
    sock.sendall(("GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path).encode())
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), hdrs, body


def unix_get(path, target):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        return get_over(s, target)


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# -- options ---------------------------------------------------------------------------


def test_version():
    rc, out, err = kiln_run("-V")
    assert (rc, err) == (0, ""), err
    lines = out.splitlines()
    assert re.fullmatch(r"kiln %s \(plugin ABI \d+\.\d+\)" % re.escape(version()), lines[0]), out
    # The built-in paths, each the default of what the config may set.
    keys = [line.split(": ", 1)[0] for line in lines[1:]]
    assert keys == ["configuration file", "plugin_dir", "pidfile", "built with"], out
    assert all(line.split(": ", 1)[1].startswith("/") for line in lines[1:4]), out
    # Which optional clients configure built in (this build: both).
    assert lines[4] == "built with: PostgreSQL (libpq) yes, Redis (hiredis) yes", out


def test_help():
    rc, out, err = kiln_run("-h")
    assert (rc, err) == (0, "")
    assert out.startswith("usage: kiln "), out
    for opt in ("-c FILE", "-l ADDR", "-w N", "-t", "-s SIGNAL", "-V", "-h"):
        assert "\n  %s " % opt in out, (opt, out)


@pytest.mark.parametrize("args, message", [
    (["-Z"], "invalid option"),
    (["-c"], "requires an argument"),
    (["-w", "0"], '-w: expected "auto" or a number'),
    (["-w", "many"], '-w: expected "auto" or a number'),
    (["-l", "nowhere:port"], '-l: bad address "nowhere:port"'),
    (["-s", "explode"], '-s: expected reload, stop, quit or reopen, got "explode"'),
    (["-c", "/nonexistent.conf", "extra"], 'unexpected argument "extra"'),
])
def test_bad_option_exits_2(args, message):
    rc, out, err = kiln_run(*args)
    assert rc == 2, (rc, out, err)
    assert out == ""
    assert message in err, err
    assert "usage: kiln " in err, err


# -- -l and -w -------------------------------------------------------------------------


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback (::1)")
def test_listen_option_ipv6_replaces_the_config(kiln_factory):
    k = start_with(kiln_factory, ["-l", "[::1]:0"], port=False, plugins=("hello",))
    port = int(k.wait_log(r"listening on \[::1\]:(\d+)").group(1))
    assert "listening on 127.0.0.1" not in k.log(), k.describe()
    c = http.client.HTTPConnection("::1", port, timeout=5)
    try:
        c.request("GET", "/Six")
        r = c.getresponse()
        assert (r.status, r.read()) == (200, b"Hello, Six")
    finally:
        c.close()
    assert k.stop() == 0


def test_listen_option_unix_socket(kiln_factory):
    path = os.path.join(kiln_factory.base, "k.sock")
    k = start_with(kiln_factory, ["-l", "unix:" + path], port=False, plugins=("hello",))
    k.wait_log(r"listening on unix:%s\n" % re.escape(path))
    assert "listening on 127.0.0.1" not in k.log(), k.describe()
    st, hdrs, body = unix_get(path, "/Unix")
    assert (st, body) == (200, b"Hello, Unix")
    assert hdrs["connection"].lower() == "close"
    # A reload keeps the command line's address, not the config's.
    mark = k.mark()
    k.signal(signal.SIGHUP)
    k.wait_ready(2, since=mark)
    assert "listening on" not in k.log()[mark:], k.describe()
    assert unix_get(path, "/Again")[::2] == (200, b"Hello, Again")
    assert k.stop() == 0
    assert not os.path.exists(path), "the socket file outlived the server"


def test_workers_option(kiln_factory):
    k = start_with(kiln_factory, ["-w", "3"], plugins=("hello",))   # the config says 2
    assert len(k.wait_workers(3)) == 3
    k.wait_log(r"kiln %s starting, 3 workers" % re.escape(version()))
    k.wait_log(r"generation 1 ready: 3 workers \(pids \d+ \d+ \d+\)")
    time.sleep(0.3)
    assert len(k.worker_pids()) == 3
    assert k.get_text("/Three") == (200, "Hello, Three")
    assert k.stop() == 0


# -- kiln -t -----------------------------------------------------------------------------


def read_file(path):
    with open(path) as f:
        return f.read()


def test_config_test_leaves_a_live_server_alone(kiln_factory):
    path = os.path.join(kiln_factory.base, "t.sock")
    k = kiln_factory.make(plugins=("hello",), server={"listen": "127.0.0.1:0 unix:" + path})
    pids = k.wait_workers(2)
    sock_ino = os.stat(path).st_ino
    pidfile = read_file(k.pidfile)
    assert pidfile.strip() == str(k.pid)
    mark = k.mark()
    rc, out = k.check()
    assert rc == 0, out
    assert "kiln: configuration file %s test is successful" % k.conf in out, out
    time.sleep(0.6)                 # what the master would do about it, it has done
    assert k.running()
    assert k.worker_pids() == pids
    assert read_file(k.pidfile) == pidfile
    after = k.log()[mark:]
    for word in ("generation", "reload", "received", "listening", "worker"):
        assert word not in after, "%r after kiln -t:\n%s" % (word, k.describe())
    assert [k.get_text("/T%d" % i) for i in range(6)] == \
        [(200, "Hello, T%d" % i) for i in range(6)]
    # The unix socket of the live server is still its own.
    assert os.stat(path).st_ino == sock_ino
    assert unix_get(path, "/U")[::2] == (200, b"Hello, U")
    assert k.worker_pids() == pids
    assert k.stop() == 0


# -- kiln -s -------------------------------------------------------------------------


def kiln_s(k, action, conf=None):
    """`kiln -c conf -s action`: (rc, stdout + stderr)."""
    return k.signal_command(action, conf)


def test_signal_command(kiln_factory):
    k = kiln_factory.make(plugins=("hello",))
    old = k.wait_workers(2)
    mark = k.mark()
    assert kiln_s(k, "reload") == (0, "")
    k.wait_ready(2, since=mark)
    assert wait_until(lambda: not [p for p in old if pid_alive(p)], 8)
    mark = k.mark()
    assert kiln_s(k, "reopen") == (0, "")
    k.wait_log(r"%d#master: log file reopened" % k.pid, since=mark)
    assert kiln_s(k, "quit") == (0, "")
    assert k.wait_exit(8) == 0, k.describe()
    assert "received SIGQUIT, stopping gracefully" in k.log()
    # The pidfile went with the master: a clear error, exit 1.
    rc, out = kiln_s(k, "reload")
    assert rc == 1 and "cannot open pidfile %s" % k.pidfile in out and "is kiln running?" in out, out
    # A pidfile left behind by a dead master names no process.
    with open(k.pidfile, "w") as f:
        f.write("%d\n" % k.pid)
    rc, out = kiln_s(k, "stop")
    assert rc == 1 and "stale pidfile" in out, out
    os.unlink(k.pidfile)


def test_signal_command_stop_is_fast(kiln_factory):
    k = kiln_factory.make(plugins=("hello", "slow"))
    bg = Background(lambda: k.request("/slow?ms=5000", timeout=10))
    time.sleep(0.3)
    t0 = time.monotonic()
    assert kiln_s(k, "stop")[0] == 0
    assert k.wait_exit(5) == 0, k.describe()
    assert time.monotonic() - t0 < 3
    assert "received SIGINT, stopping now" in k.log()
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        bg.result(10)


def test_signal_command_errors(kiln_factory):
    k = kiln_factory.make(start=False, plugins=("hello",), server={"pidfile": ""})
    rc, out = kiln_s(k, "reload")
    assert rc == 1 and "sets no pidfile" in out, out
    rc, out = kiln_s(k, "restart")
    assert rc == 2 and "expected reload, stop, quit or reopen" in out, out


# -- the documented keys -------------------------------------------------------------


def example_keys():
    """(section, key, value) of every key conf/kiln.conf.example shows, in
    [server] as set or commented out, in the other sections commented out
    under a commented-out header (#[postgres])."""
    keys, section = [], None
    for line in read_file(os.path.join(SRC, "conf", "kiln.conf.example")).splitlines():
        m = re.fullmatch(r"#?\[(\w+)\]", line)
        if m:
            section = m.group(1)
            continue
        m = re.fullmatch(r"#?(\w+) = (.*)", line)
        if m and section:
            keys.append((section, m.group(1), m.group(2)))
    return keys


def own_keys():
    """(section, key) of every key core/config_keys.c checks itself."""
    text = read_file(os.path.join(SRC, "core", "config_keys.c"))
    return set(re.findall(r'\{ "(server|postgres|redis)",\s*"(\w+)",', text))


def test_every_key_is_documented_with_a_value_that_loads(tmp_path):
    shown = example_keys()
    assert own_keys() and own_keys() <= {(s, k) for s, k, _ in shown}, \
        own_keys() - {(s, k) for s, k, _ in shown}
    # Each documented value of kiln's own sections loads (those naming
    # this machine's users and files aside, and the middlewares, which name
    # what plugins other than the bundled ones register).
    skip = {"listen", "user", "group", "plugin_dir", "pidfile", "log_file", "middlewares"}
    sections = {}
    for s, k, v in shown:
        if s in ("server", "postgres", "redis") and k not in skip:
            sections.setdefault(s, {})[k] = v
    assert set(sections) == {"server", "postgres", "redis"}, sections
    conf = tmp_path / "kiln.conf"
    with open(conf, "w") as f:
        for s, kv in sections.items():
            f.write("[%s]\n" % s)
            if s == "server":
                f.write("listen = 127.0.0.1:0\nplugin_dir = %s\npidfile =\n" %
                        os.path.join(SRC, "plugins"))
            f.writelines("%s = %s\n" % item for item in kv.items())
    rc, out, err = kiln_run("-t", "-c", str(conf), timeout=30)
    assert rc == 0, out + err
