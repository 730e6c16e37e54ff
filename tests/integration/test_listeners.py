"""Tests of the listening sockets' tuning: TCP_DEFER_ACCEPT on by default (the kernel holds a connection until its first bytes), per-address backlog= and deferred=, and a reload that retunes the socket it keeps."""

import socket
import subprocess
import time

from conftest import http_request

PLUGINS = ["hello"]


def server_states(port):
    """The TCP states of the server side of connections to `port`, from
    /proc/net/tcp (a connection the kernel holds back is still a request
    socket there: SYN_RECV, state 03; an accepted one is ESTABLISHED, 01)."""
    states = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            local, _remote, st = line.split()[1:4]
            if int(local.split(":")[1], 16) == port and st != "0A":    # 0A: LISTEN
                states.append(st)
    return states


def listen_backlog(port):
    """The backlog of the socket listening on 127.0.0.1:port, as ss reads it
    (Send-Q of a listening socket)."""
    out = subprocess.run(["ss", "-Hltn", "sport = :%d" % port], capture_output=True,
                         text=True, check=True).stdout.split()
    return int(out[2])


def idle_connection(port, wait=0.3):
    """A connection that has sent nothing, and the server-side states seen
    after `wait` seconds."""
    s = socket.create_connection(("127.0.0.1", port))
    time.sleep(wait)
    return s, server_states(port)


def served(s):
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    s.settimeout(5)
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            return data
        data += chunk


def test_deferred_by_default(kiln_factory):
    k = kiln_factory.make(plugins=PLUGINS)
    s, states = idle_connection(k.port)
    assert states == ["03"], "the kernel should hold a connection that sent nothing"
    assert served(s).startswith(b"HTTP/1.1 200 OK"), "its first bytes get it accepted"
    s.close()
    assert listen_backlog(k.port) == 511


def test_per_address_options(kiln_factory):
    k = kiln_factory.make(plugins=PLUGINS, server={
        "listen": "127.0.0.1:0 deferred=off backlog=77", "header_timeout": "1s"})
    s, states = idle_connection(k.port)
    assert states == ["01"], "deferred=off: accepted before it sends anything"
    # accepted, so the header timeout runs from the accept: closed, no answer
    s.settimeout(5)
    t0 = time.monotonic()
    assert s.recv(100) == b""
    assert time.monotonic() - t0 < 3
    assert listen_backlog(k.port) == 77


def test_reload_retunes_the_socket_it_keeps(kiln_factory):
    k = kiln_factory.make(plugins=PLUGINS, server={"listen": "127.0.0.1:0 deferred=off"})
    port = k.port
    assert idle_connection(port)[1] == ["01"]
    k.reload({"server": {"listen": "127.0.0.1:0 backlog=300"}})
    assert k.port == port
    assert listen_backlog(port) == 300
    s, states = idle_connection(port)
    assert "03" in states, "deferral back on after the reload"
    assert served(s).startswith(b"HTTP/1.1 200 OK")
    status, _, body = http_request(port, "/")
    assert status == 200


def test_option_errors_name_file_and_line(kiln_factory):
    k = kiln_factory.make(plugins=PLUGINS, start=False,
                          server={"listen": "127.0.0.1:0 deferred=sometimes"})
    rc, out = k.check()
    assert rc != 0
    assert "kiln.conf:" in out and \
        'listen: 127.0.0.1:0: deferred= expects on, off or a time up to 1h, got "sometimes"' in out
