"""Tests of kiln in the system: workers run as the configured user, systemd's readiness protocol and socket activation."""

import os
import pwd
import re
import shutil
import signal
import socket
import sys
import tempfile
import time

import pytest

from conftest import http_request, plugin_path


# -- helpers -------------------------------------------------------------------------


def uid_gid(pid):
    """(uids, gids) of a process from /proc/PID/status, each a list of 4 ints."""
    with open("/proc/%d/status" % pid) as f:
        text = f.read()
    uids = [int(x) for x in re.search(r"^Uid:\s+(.*)$", text, re.M).group(1).split()]
    gids = [int(x) for x in re.search(r"^Gid:\s+(.*)$", text, re.M).group(1).split()]
    return uids, gids


def recv_until(sock, wanted, timeout=8):
    """Reads notification datagrams until one holds `wanted`; all read, in order."""
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            break
        got.append(msg)
        if wanted in msg.split("\n"):
            return got
    pytest.fail("no %r notification within %ds; got %r" % (wanted, timeout, got))


ACTIVATE = """
import fcntl, os, sys
n = int(sys.argv[1])
high = [fcntl.fcntl(int(a), fcntl.F_DUPFD, 100) for a in sys.argv[2:2 + n]]
for a in sys.argv[2:2 + n]:
    os.close(int(a))
for i, fd in enumerate(high):
    os.dup2(fd, 3 + i)
    os.close(fd)
os.environ["LISTEN_PID"] = str(os.getpid())
os.environ["LISTEN_FDS"] = str(n)
os.execv(sys.argv[2 + n], sys.argv[2 + n:])
"""


def listening_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    return s


# -- tests ---------------------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")
def test_workers_run_as_configured_user(kiln_factory):
    nobody = pwd.getpwnam("nobody")
    plugins = tempfile.mkdtemp(prefix="kiln-user-")
    try:
        os.chmod(plugins, 0o755)
        shutil.copyfile(plugin_path("hello"), os.path.join(plugins, "hello.so"))
        os.chmod(os.path.join(plugins, "hello.so"), 0o644)
        k = kiln_factory.make(plugins=(), server={"user": "nobody", "plugin_dir": plugins})
        for pid in k.wait_workers(2):
            uids, gids = uid_gid(pid)
            assert uids == [nobody.pw_uid] * 4, uids
            assert gids == [nobody.pw_gid] * 4, gids
        assert uid_gid(k.pid)[0][0] == 0
        assert k.get_text("/Nobody") == (200, "Hello, Nobody")
        # A reload's plugin check runs as the user too, and passes.
        mark = k.mark()
        k.signal(signal.SIGHUP)
        k.wait_ready(2, since=mark)
        assert k.stop() == 0
    finally:
        shutil.rmtree(plugins, ignore_errors=True)


def test_unknown_user_is_a_config_error(kiln_factory):
    k = kiln_factory.make(start=False, plugins=("hello",), server={"user": "no-such-user-kt"})
    rc, out = k.check()
    line = k.config_text().split("\n").index("user = no-such-user-kt") + 1
    assert rc == 1
    assert '%s:%d: user: unknown user "no-such-user-kt"' % (k.conf, line) in out, out


@pytest.mark.parametrize("kind", ["path", "abstract"])
def test_systemd_notify(kiln_factory, kind):
    k = kiln_factory.make(start=False, plugins=("hello",))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        if kind == "path":
            name = os.path.join(k.dir, "notify.sock")
            sock.bind(name)
        else:
            name = "@kiln-test-%d-%d" % (os.getpid(), time.monotonic_ns())
            sock.bind("\0" + name[1:])
        k.start(env={"NOTIFY_SOCKET": name})
        got = recv_until(sock, "READY=1")
        assert "MAINPID=%d" % k.pid in got[-1].split("\n")
        mark = k.mark()
        k.signal(signal.SIGHUP)
        got = recv_until(sock, "READY=1")
        assert any("RELOADING=1" in g.split("\n") for g in got), got
        k.wait_ready(2, since=mark)
        # A failed reload also ends with READY=1.
        k.install_plugin("init_fails")
        mark = k.mark()
        k.signal(signal.SIGHUP)
        k.wait_log(r"reload failed: the plugin check exited with code \d+ \(its error is "
                   r"logged above\); keeping generation 2", since=mark)
        got = recv_until(sock, "READY=1")
        assert any("RELOADING=1" in g.split("\n") for g in got), got
        k.remove_plugin("init_fails")
        k.signal(signal.SIGTERM)
        recv_until(sock, "STOPPING=1")
        assert k.wait_exit(8) == 0
        k.stop()
    finally:
        sock.close()


def test_systemd_socket_activation(kiln_factory):
    configured, extra = listening_socket(), listening_socket()
    try:
        port, extra_port = configured.getsockname()[1], extra.getsockname()[1]
        k = kiln_factory.make(start=False, plugins=("hello",),
                              server={"listen": "127.0.0.1:%d" % port})
        fds = (configured.fileno(), extra.fileno())
        k.start(wrapper=[sys.executable, "-c", ACTIVATE, "2", str(fds[0]), str(fds[1])],
                pass_fds=fds)
        assert k.port == port
        k.wait_log(r"listening on 127\.0\.0\.1:%d \(from systemd\)" % port)
        k.wait_log(r"listening on 127\.0\.0\.1:%d \(from systemd; not in the config, served "
                   r"too\)" % extra_port)
        configured.close()
        extra.close()
        assert http_request(port, "/A")[2] == b"Hello, A"
        assert http_request(extra_port, "/B")[2] == b"Hello, B"
        # A reload keeps serving both.
        mark = k.mark()
        k.signal(signal.SIGHUP)
        k.wait_ready(2, since=mark)
        assert http_request(extra_port, "/C")[2] == b"Hello, C"
        assert http_request(port, "/D")[2] == b"Hello, D"
        assert k.stop() == 0
    finally:
        configured.close()
        extra.close()
