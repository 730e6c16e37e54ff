"""Fixtures and helpers that start a real kiln server from a temporary config and talk to it over loopback."""

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.abspath(os.environ.get("KILN_BUILD", ROOT))
SRC = os.path.abspath(os.environ.get("KILN_SRC", ROOT))
KILN = os.path.join(BUILD, "kiln")

READY_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0

# Reports of a sanitizer build (ASan, LSan, UBSan): any of these fails the test.
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak|Undefined)Sanitizer|runtime error: |"
                              r"SUMMARY: \w+Sanitizer")


# The exit status scripts/test gives the sanitizers (ASAN_OPTIONS and
# UBSAN_OPTIONS exitcode=66): never kiln's own 1 or 2.
SANITIZER_EXIT = 66


def sanitized_build():
    """Whether the kiln under test is a sanitizer build (linked with ASan)."""
    if not os.access(KILN, os.X_OK):
        return False
    out = subprocess.run(["ldd", KILN], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout
    return "libasan" in out


def sanitizer_report(text):
    """The first sanitizer report in `text`, with some context, or None."""
    m = SANITIZER_REPORT.search(text)
    if m is None:
        return None
    start = max(0, m.start() - 200)
    return text[start:start + 6000]


def fail_on_sanitizer_report(what, text):
    """Fails the test if `text` (what `what` printed or logged) holds a sanitizer report."""
    report = sanitizer_report(text)
    if report is not None:
        pytest.fail("sanitizer report from %s:\n%s" % (what, report))


# Plugins shipped with kiln (plugins/NAME/); the others are test plugins.
BUNDLED = ("hello", "echo", "sleep", "counter", "hash", "db", "static", "accesslog", "cors",
           "permissions", "error_pages")


def plugin_path(name):
    """Where the build leaves the shared object of plugin `name`."""
    if name in BUNDLED:
        return os.path.join(BUILD, "plugins", name, ".libs", name + ".so")
    return os.path.join(BUILD, "tests", "plugins", ".libs", name + ".so")


def require_build(plugins=()):
    """Fails the test at once, with the reason, when the build is missing."""
    if not os.access(KILN, os.X_OK):
        pytest.fail("kiln binary not found at %s (build first, or set KILN_BUILD)" % KILN)
    for p in plugins:
        if not os.path.isfile(plugin_path(p)):
            pytest.fail("plugin %s not built: %s missing" % (p, plugin_path(p)))


def run_kiln(args, timeout=10, cwd=None, env=None, merge=False, expect_report=False):
    """Runs the kiln binary with `args` until it exits: (rc, stdout, stderr), as
    text (with `merge`, stderr goes into stdout and is "").

    Every test runs a kiln that is not a server through here (Kiln.start runs
    the servers): a sanitizer report in its output fails the test, whatever
    its exit status (scripts/test makes sanitizers exit with 66).  With
    `expect_report` it is the other way round: no report fails the test."""
    require_build()
    r = subprocess.run([KILN] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT if merge else subprocess.PIPE,
                       timeout=timeout, cwd=cwd, env=env)
    out = r.stdout.decode(errors="replace")
    err = "" if merge else r.stderr.decode(errors="replace")
    what = "kiln %s (exit %d)" % (" ".join(args), r.returncode)
    if not expect_report:
        fail_on_sanitizer_report(what, out + err)
    elif sanitizer_report(out + err) is None:
        pytest.fail("no sanitizer report from %s:\n%s%s" % (what, out, err))
    return r.returncode, out, err


def proc_ppid(pid):
    """The parent pid of `pid` from /proc, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields follow the last ')'.
    rest = stat[stat.rfind(")") + 2:].split()
    if rest[0] == "Z":
        return None
    return int(rest[1])


def children_of(ppid):
    """Pids of the live processes whose parent is `ppid`."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and proc_ppid(int(entry)) == ppid:
            out.append(int(entry))
    return sorted(out)


TCP_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
              6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
              11: "CLOSING"}


def tcp_socket(local_port, remote_port):
    """The kernel's view of the IPv4 loopback socket from `local_port` to
    `remote_port` (/proc/net/tcp): (state, bytes not yet sent or acked, bytes
    received but not read), or None when there is no such socket."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote = fields[1].split(":"), fields[2].split(":")
            if int(local[1], 16) == local_port and int(remote[1], 16) == remote_port:
                tx, rx = fields[4].split(":")
                state = int(fields[3], 16)
                return TCP_STATES.get(state, str(state)), int(tx, 16), int(rx, 16)
    return None


def server_read_all(port, client_sock, timeout=5.0):
    """Waits until the server listening on `port` has read everything that
    `client_sock` sent it (its socket holds no unread byte); fails if not."""
    client_port = client_sock.getsockname()[1]
    if not wait_until(lambda: (tcp_socket(port, client_port) or ("", 0, 1))[2] == 0, timeout):
        pytest.fail("the server did not read what was sent within %.1fs: %r"
                    % (timeout, tcp_socket(port, client_port)))


def pid_alive(pid):
    return proc_ppid(pid) is not None


def wait_until(pred, timeout, interval=0.05):
    """Polls pred() until it is truthy (returns its value) or timeout (returns the last value)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def conf_value(v):
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


class Kiln:
    """One kiln server: its directory, config, plugin dir, process and log."""

    def __init__(self, directory, plugins=("hello",), server=None, sections=None,
                 log_level="info", extra=""):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.plugin_dir = os.path.join(self.dir, "plugins")
        os.makedirs(self.plugin_dir, exist_ok=True)
        self.conf = os.path.join(self.dir, "kiln.conf")
        self.log_path = os.path.join(self.dir, "kiln.log")
        self.out_path = os.path.join(self.dir, "kiln.out")
        self.pidfile = os.path.join(self.dir, "kiln.pid")
        self.server = {
            "listen": "127.0.0.1:0",
            "workers": 2,
            "plugin_dir": self.plugin_dir,
            "log_file": self.log_path,
            "log_level": log_level,
            "pidfile": self.pidfile,
            "graceful_timeout": "5s",
        }
        self.server.update(server or {})
        self.sections = sections or {}
        self.extra = extra
        self.proc = None
        self.port = None
        self.killed = False
        self.seen_workers = set()
        self.scanned = (0, 0)       # output and log offsets: reports before them were taken
        require_build(plugins)
        for p in plugins:
            self.install_plugin(p)
        self.write_config()

    # -- files ---------------------------------------------------------------

    def write_config(self, text=None):
        """Writes kiln.conf from the settings (or the given text) atomically."""
        if text is None:
            lines = ["# kiln test configuration", "[server]"]
            for k, v in self.server.items():
                if v is not None:
                    lines.append("%s = %s" % (k, conf_value(v)))
            for name, kv in self.sections.items():
                lines.append("")
                lines.append("[%s]" % name)
                for k, v in kv.items():
                    lines.append("%s = %s" % (k, conf_value(v)))
            text = "\n".join(lines) + "\n" + self.extra
        tmp = self.conf + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.conf)

    def config_text(self):
        with open(self.conf) as f:
            return f.read()

    def install_plugin(self, name, as_name=None):
        """Copies a built plugin into the plugin dir (temp name, then rename)."""
        dest = os.path.join(self.plugin_dir, (as_name or name) + ".so")
        tmp = dest + ".tmp"
        shutil.copyfile(plugin_path(name), tmp)
        os.rename(tmp, dest)
        return dest

    def remove_plugin(self, name):
        os.unlink(os.path.join(self.plugin_dir, name + ".so"))

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def output(self):
        try:
            with open(self.out_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def mark(self):
        """The log's current length, to search only what comes after."""
        return len(self.log())

    def describe(self):
        return "--- kiln.conf ---\n%s--- log ---\n%s--- stdout/stderr ---\n%s" % (
            self.config_text(), self.log()[-8000:], self.output()[-4000:])

    def wait_log(self, regex, timeout=5.0, since=0):
        """Waits for `regex` in the log (after offset `since`); the match, or fails."""
        rx = re.compile(regex)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log(), since)
            if m:
                return m
            if time.monotonic() >= deadline:
                pytest.fail("no log line matching %r within %.1fs\n%s"
                            % (regex, timeout, self.describe()))
            time.sleep(0.05)

    # -- process -------------------------------------------------------------

    def check(self, timeout=10):
        """Runs `kiln -t -c conf`: (rc, stdout + stderr + what it logged)."""
        before = self.mark()
        rc, out, _ = run_kiln(["-t", "-c", self.conf], timeout=timeout, cwd=self.dir, merge=True)
        out += self.log()[before:]
        fail_on_sanitizer_report("kiln -t -c %s" % self.conf, out)
        return rc, out

    def signal_command(self, action, conf=None, timeout=10):
        """Runs `kiln -c conf -s action`: (rc, stdout + stderr)."""
        rc, out, _ = run_kiln(["-c", conf or self.conf, "-s", action], timeout=timeout,
                              merge=True)
        return rc, out

    def start(self, wait=True, timeout=READY_TIMEOUT, env=None, wrapper=(), pass_fds=()):
        """Starts `kiln -c conf`; with `wait`, until generation 1 is ready.

        `env` adds environment variables; `wrapper` is a command that execs the
        rest of its arguments (it keeps its pid); `pass_fds` are inherited."""
        assert self.proc is None, "already started"
        full_env = dict(os.environ, **(env or {}))
        out = open(self.out_path, "ab")
        try:
            self.proc = subprocess.Popen(list(wrapper) + [KILN, "-c", self.conf],
                                         stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=self.dir,
                                         env=full_env, pass_fds=pass_fds)
        finally:
            out.close()
        if wait:
            self.wait_ready(1, timeout)
        return self

    def wait_ready(self, generation=1, timeout=READY_TIMEOUT, since=0):
        rx = re.compile(r"generation %d ready" % generation)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()
            if rx.search(text, since):
                break
            if self.proc.poll() is not None:
                pytest.fail("kiln exited with %s before generation %d was ready\n%s"
                            % (self.proc.returncode, generation, self.describe()))
            if time.monotonic() >= deadline:
                pytest.fail("generation %d not ready within %.1fs\n%s"
                            % (generation, timeout, self.describe()))
            time.sleep(0.05)
        if self.port is None:
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", text)
            if not m:
                pytest.fail("no 'listening on 127.0.0.1:PORT' line in the log\n" + self.describe())
            self.port = int(m.group(1))
        self.seen_workers.update(self.worker_pids())

    @property
    def pid(self):
        return self.proc.pid

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def signal(self, sig):
        self.proc.send_signal(sig)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def worker_pids(self):
        """Pids of the master's children (its workers)."""
        if not self.running():
            return []
        pids = children_of(self.proc.pid)
        self.seen_workers.update(pids)
        return pids

    def wait_workers(self, count=2, timeout=5.0, exclude=()):
        """Waits until the master has `count` children not in `exclude`; their pids."""
        def ok():
            p = [x for x in self.worker_pids() if x not in exclude]
            return p if len(p) == count else None
        pids = wait_until(ok, timeout)
        if not pids:
            pytest.fail("expected %d workers (not %s), have %s\n%s"
                        % (count, list(exclude), self.worker_pids(), self.describe()))
        return pids

    def wait_exit(self, timeout):
        """The exit code, or None if still running after `timeout`.  Once it
        has exited, a sanitizer report in its output fails the test."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.check_sanitizers()
        return rc

    def _reap_workers(self, timeout=5.0):
        """After the master is gone, waits for its workers; kills stragglers (by pid)."""
        left = wait_until(lambda: not [p for p in self.seen_workers if pid_alive(p)], timeout)
        if left:
            return []
        stragglers = [p for p in self.seen_workers if pid_alive(p)]
        for p in stragglers:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return stragglers

    def stop(self, sig=None, timeout=STOP_TIMEOUT):
        """Stops the server with `sig`; SIGKILL only if it hangs, and then fails the test."""
        if sig is None:
            sig = signal.SIGTERM
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.worker_pids()
            self.proc.send_signal(sig)
            if self.wait_exit(timeout) is None:
                self.proc.kill()
                self.proc.wait()
                self.killed = True
                self._reap_workers(0)
                pytest.fail("kiln did not exit within %.0fs of signal %d: killed\n%s"
                            % (timeout, sig, self.describe()))
        stragglers = self._reap_workers()
        if stragglers:
            self.killed = True
            pytest.fail("workers %s outlived their master: killed\n%s"
                        % (stragglers, self.describe()))
        self.check_sanitizers()
        return self.proc.returncode

    def _unscanned(self):
        """(output, log, their lengths): what came after the reports taken."""
        out, log = self.output(), self.log()
        return out[self.scanned[0]:], log[self.scanned[1]:], (len(out), len(log))

    def check_sanitizers(self):
        """Fails if the server's output or log holds a sanitizer report (past
        those that take_sanitizer_reports() took)."""
        out, log, _ = self._unscanned()
        fail_on_sanitizer_report("kiln's output", out)
        fail_on_sanitizer_report("kiln's log", log)

    def take_sanitizer_reports(self):
        """For a test that expects them: the output and log so far when they
        hold a sanitizer report (else None); later checks skip this part."""
        out, log, self.scanned = self._unscanned()
        text = out + "\n--- log ---\n" + log
        return text if sanitizer_report(text) else None

    # -- requests ------------------------------------------------------------

    def request(self, path, method="GET", body=None, headers=None, timeout=5.0):
        """One request on a new connection: (status, headers dict lower-cased, body bytes)."""
        return http_request(self.port, path, method, body, headers, timeout)

    def get_text(self, path, timeout=5.0):
        st, _, body = self.request(path, timeout=timeout)
        return st, body.decode("utf-8", errors="replace")

    def raw(self, timeout=5.0):
        return RawConn(self.port, timeout)


def http_request(port, path, method="GET", body=None, headers=None, timeout=5.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


class KilnFactory:
    """Makes servers in numbered subdirectories of a base dir; stops them all at close()."""

    def __init__(self, base):
        self.base = str(base)
        self.servers = []

    def make(self, start=True, **kw):
        k = Kiln(os.path.join(self.base, "kiln%d" % len(self.servers)), **kw)
        self.servers.append(k)
        if start:
            k.start()
        return k

    def close(self):
        errors = []
        for k in self.servers:
            if k.running() or (k.proc is not None and not k.killed):
                try:
                    k.stop()
                except BaseException as e:  # pytest.fail raises outside Exception
                    errors.append(str(e))
        if errors:
            pytest.fail("teardown: " + "\n".join(errors))


@pytest.fixture
def kiln_factory(tmp_path):
    f = KilnFactory(tmp_path)
    yield f
    f.close()


# -- the test services (scripts/services) ------------------------------------------

SERVICES_HINT = ("run through scripts/test, or start the services with "
                 "scripts/services start DIR and source DIR/env")


def service_env(name):
    """The value scripts/services wrote for `name` (DIR/env); fails the test
    when it is not set: a test that needs a service never skips.  DIR/env is
    read again when it exists: `services("up", ...)` rewrites it with the
    restarted server's pid."""
    value = os.environ.get(name, "")
    d = os.environ.get("KILN_TEST_SERVICES_DIR", "")
    try:
        with open(os.path.join(d, "env")) if d else open(os.devnull) as f:
            for line in f:
                m = re.match(r"export %s='?([^']*)'?$" % re.escape(name), line.strip())
                if m:
                    value = m.group(1)
    except FileNotFoundError:
        pass
    if not value:
        pytest.fail("%s is not set: %s" % (name, SERVICES_HINT))
    return value


@pytest.fixture
def pg_dsn():
    """The libpq connection string of the test PostgreSQL's kiln_test
    database ("host=127.0.0.1 port=N dbname=kiln_test user=kiln")."""
    return service_env("KILN_TEST_PG_DSN")


@pytest.fixture
def redis_addr():
    """The test redis-server's address, "127.0.0.1:N"."""
    return service_env("KILN_TEST_REDIS")


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


def services(cmd, which):
    """scripts/services down|up DIR pg|redis on the suite's services: stops
    the PostgreSQL or Redis server, or starts it again on its port with its
    data (for a test of a database restarted under traffic; the test brings
    it back up, in a finally)."""
    d = service_env("KILN_TEST_SERVICES_DIR")
    subprocess.run(["bash", os.path.join(SRC, "scripts", "services"), cmd, d, which],
                   check=True, stdin=subprocess.DEVNULL, timeout=120)
