"""Clients of a kiln under test: one request over http.client, a raw TCP connection that parses HTTP/1.x responses, curl, and a request run in the background."""

import http.client
import re
import socket
import subprocess
import threading
import time

import pytest

from .system import tcp_socket, wait_until


def server_read_all(port, client_sock, timeout=5.0):
    """Waits until the server listening on `port` has read everything that
    `client_sock` sent it (its socket holds no unread byte); fails if not."""
    client_port = client_sock.getsockname()[1]
    if not wait_until(lambda: (tcp_socket(port, client_port) or ("", 0, 1))[2] == 0, timeout):
        pytest.fail("the server did not read what was sent within %.1fs: %r"
                    % (timeout, tcp_socket(port, client_port)))


def http_request(port, path, method="GET", body=None, headers=None, timeout=5.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()



class Background:
    """Runs fn() in a thread; result() returns its value or re-raises its exception."""

    def __init__(self, fn):
        self.value = None
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self.thread.start()

    def _run(self, fn):
        try:
            self.value = fn()
        except BaseException as e:  # handed to the test thread
            self.error = e

    def result(self, timeout):
        self.thread.join(timeout)
        if self.thread.is_alive():
            pytest.fail("background request still running after %.1fs" % timeout)
        if self.error is not None:
            raise self.error
        return self.value


# -- raw sockets ------------------------------------------------------------------


class Response:
    def __init__(self, status, reason, version, headers, body, raw):
        self.status = status
        self.reason = reason
        self.version = version
        self.header_list = headers
        self.body = body
        self.raw = raw

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.header_list:
            if k.lower() == name:
                return v
        return default

    def headers(self, name):
        name = name.lower()
        return [v for k, v in self.header_list if k.lower() == name]

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def __repr__(self):
        return "<Response %d %r %r>" % (self.status, self.header_list, self.body[:200])


class RawConn:
    """A plain TCP connection that sends bytes and parses HTTP/1.x responses.

    It tells how the peer ended the connection: `eof` once it has, and
    `reset` when that was a reset (RST) rather than a clean close (FIN)."""

    def __init__(self, port, timeout=5.0, host="127.0.0.1", rcvbuf=None):
        """`rcvbuf` sets SO_RCVBUF before connecting (a small one makes a slow reader)."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        self.reset = False

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def close(self):
        self.sock.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no response within %.1fs; got %r" % (self.timeout, self.buf[:500]))
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no response within %.1fs; got %r" % (self.timeout, self.buf[:500]))
        except ConnectionResetError:
            chunk = b""
            self.reset = True
        if not chunk:
            self.eof = True
        self.buf += chunk
        return chunk

    def _read_until(self, sep, deadline):
        while sep not in self.buf:
            if self.eof or not self._fill(deadline):
                raise ConnectionError("connection closed before %r; got %r" % (sep, self.buf[:500]))
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            if self.eof or not self._fill(deadline):
                raise ConnectionError("connection closed in a body; got %r" % self.buf[:500])
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, head=False, timeout=None):
        """Reads one response (a 1xx interim one too) and returns it."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        head_bytes = self._read_until(b"\r\n\r\n", deadline)
        lines = head_bytes[:-4].decode("latin-1").split("\r\n")
        m = re.match(r"(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
        if not m:
            raise AssertionError("bad status line %r" % lines[0])
        version, status, reason = m.group(1), int(m.group(2)), m.group(3) or ""
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
        r = Response(status, reason, version, headers, b"", head_bytes)
        if head or status < 200 or status in (204, 304):
            return r
        te = (r.header("transfer-encoding") or "").lower()
        if "chunked" in te:
            body = b""
            while True:
                size_line = self._read_until(b"\r\n", deadline)
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    self._read_until(b"\r\n", deadline)
                    break
                body += self._read_exact(size, deadline)
                self._read_exact(2, deadline)
        elif r.header("content-length") is not None:
            body = self._read_exact(int(r.header("content-length")), deadline)
        else:
            while not self.eof:
                self._fill(deadline)
            body, self.buf = self.buf, b""
        r.body = body
        r.raw += body
        return r

    def read_responses(self, n, timeout=None):
        return [self.read_response(timeout=timeout) for _ in range(n)]

    def closed_within(self, timeout):
        """How the peer ends the connection within `timeout`, with nothing more
        sent: "fin" (a clean close), "rst" (a reset), or False if it is still
        open; raises if it sends bytes.  Compare the result: "rst" is true too."""
        if self.buf:
            raise AssertionError("unexpected bytes %r" % self.buf[:200])
        if not self.eof:
            deadline = time.monotonic() + timeout
            try:
                chunk = self._fill(deadline)
            except TimeoutError:
                return False
            if chunk:
                raise AssertionError("unexpected bytes %r" % chunk[:200])
        return "rst" if self.reset else "fin"

    def assert_fin(self, timeout=2.0):
        """The peer closes with a FIN within `timeout`, sending nothing more."""
        how = self.closed_within(timeout)
        assert how is not False, "connection still open %.1fs after the response" % timeout
        assert how == "fin", "connection reset instead of closed with a FIN"

    def assert_open(self, timeout):
        """The peer neither closes nor sends anything for `timeout` seconds."""
        how = self.closed_within(timeout)
        assert how is False, "connection closed (%s) within %.1fs" % (how, timeout)

    def wait_closed(self, timeout):
        """Reads until EOF; returns everything that came (fails on timeout)."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            self._fill(deadline)
        out, self.buf = self.buf, b""
        return out


def raw_exchange(port, data, n=1, timeout=5.0, head=False):
    """Sends `data` on a new connection and reads `n` responses (without bodies if `head`)."""
    with RawConn(port, timeout) as c:
        c.send(data)
        return [c.read_response(head=head) for _ in range(n)]


def curl(*args, timeout=20):
    """Runs curl; (rc, stdout bytes, stderr text)."""
    r = subprocess.run(["curl", "-sS", "--max-time", "10"] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return r.returncode, r.stdout, r.stderr.decode(errors="replace")


def parse_curl_i(out):
    """Splits `curl -i` output into [(status, headers dict lower-cased)] and the body."""
    responses = []
    rest = out
    while rest.startswith(b"HTTP/"):
        head, _, rest = rest.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        responses.append((status, hdrs))
    return responses, rest


