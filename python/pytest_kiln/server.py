"""A real kiln server for a test: which binary and plugins to run, a config written from Python values, the process from start to stop, and the check that neither it nor any short-lived kiln printed a sanitizer report."""

import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from .client import RawConn, http_request
from .system import children_of, pid_alive, wait_until

READY_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0

# Reports of a sanitizer build (ASan, LSan, UBSan): any of these fails the test.
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak|Undefined)Sanitizer|runtime error: |"
                              r"SUMMARY: \w+Sanitizer")

# The exit status kiln's own suite gives the sanitizers (ASAN_OPTIONS and
# UBSAN_OPTIONS exitcode=66): never kiln's own 1 or 2.
SANITIZER_EXIT = 66

try:
    from ._installed import PLUGINDIR, SBINDIR
except ImportError:         # used from a source tree, not installed
    PLUGINDIR = SBINDIR = None

# What configure() set: the binary, how plugin names become paths, the
# plugins a server loads when a test names none.
_settings = {"binary": None, "plugin_path": None, "default_plugins": ()}


def configure(binary=None, plugin_path=None, default_plugins=None):
    """Sets the kiln binary, the function that turns a plugin name into the
    path of its shared object, and the plugins of a server that names none.
    The --kiln option sets the binary too."""
    if binary is not None:
        _settings["binary"] = os.path.abspath(binary)
    if plugin_path is not None:
        _settings["plugin_path"] = plugin_path
    if default_plugins is not None:
        _settings["default_plugins"] = tuple(default_plugins)


def kiln_binary():
    """The kiln under test: --kiln or configure(), else $KILN_BINARY, else
    the installed one, else `kiln` on PATH (or in an sbin directory)."""
    found = _settings["binary"] or os.environ.get("KILN_BINARY")
    if not found and SBINDIR and os.access(os.path.join(SBINDIR, "kiln"), os.X_OK):
        found = os.path.join(SBINDIR, "kiln")
    if not found:
        path = os.environ.get("PATH", os.defpath) + ":/usr/local/sbin:/usr/sbin"
        found = shutil.which("kiln", path=path)
    return found or "kiln"


def plugin_path(name):
    """The shared object of plugin `name`: a path as it is (one holding a
    slash or ending in .so), else what configure(plugin_path=) says, else the
    installed plugin directory's NAME.so."""
    if os.sep in name or name.endswith(".so"):
        return os.path.abspath(name)
    if _settings["plugin_path"] is not None:
        return _settings["plugin_path"](name)
    return os.path.join(PLUGINDIR or "", name + ".so")


def plugin_name(name):
    """The file name (without .so) a plugin gets in a server's plugin dir."""
    base = os.path.basename(name)
    return base[:-3] if base.endswith(".so") else base


def sanitized_build():
    """Whether the kiln under test is a sanitizer build (linked with ASan)."""
    kiln = kiln_binary()
    if not os.access(kiln, os.X_OK):
        return False
    out = subprocess.run(["ldd", kiln], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
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



def require_build(plugins=()):
    """Fails the test at once, with the reason, when the binary or a plugin is missing."""
    kiln = kiln_binary()
    if not os.access(kiln, os.X_OK):
        pytest.fail("kiln binary not found at %s (build or install it, or give --kiln=PATH "
                    "or KILN_BINARY)" % kiln)
    for p in plugins:
        if not os.path.isfile(plugin_path(p)):
            pytest.fail("plugin %s not found: %s missing" % (p, plugin_path(p)))


def run_kiln(args, timeout=10, cwd=None, env=None, merge=False, expect_report=False):
    """Runs the kiln binary with `args` until it exits: (rc, stdout, stderr), as
    text (with `merge`, stderr goes into stdout and is "").

    Every test runs a kiln that is not a server through here (Kiln.start runs
    the servers): a sanitizer report in its output fails the test, whatever
    its exit status (scripts/test makes sanitizers exit with 66).  With
    `expect_report` it is the other way round: no report fails the test."""
    require_build()
    r = subprocess.run([kiln_binary()] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
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


def conf_value(v):
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


class Kiln:
    """One kiln server: its directory, config, plugin dir, process and log."""

    def __init__(self, directory, plugins=None, server=None, sections=None,
                 log_level="info", extra=""):
        """`plugins`: names or paths of shared objects (default: configure()'s
        default_plugins); `server`: [server] keys over the defaults below;
        `sections`: {"name": {"key": value}}, each a section of its own;
        `extra`: text appended to the file."""
        if plugins is None:
            plugins = _settings["default_plugins"]
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
        dest = os.path.join(self.plugin_dir, (as_name or plugin_name(name)) + ".so")
        tmp = dest + ".tmp"
        shutil.copyfile(plugin_path(name), tmp)
        os.rename(tmp, dest)
        return dest

    def remove_plugin(self, name):
        os.unlink(os.path.join(self.plugin_dir, plugin_name(name) + ".so"))

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
            self.proc = subprocess.Popen(list(wrapper) + [kiln_binary(), "-c", self.conf],
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

    def generation(self):
        """The newest generation the log says is ready (0 before the first)."""
        found = re.findall(r"generation (\d+) ready", self.log())
        return max((int(g) for g in found), default=0)

    def reload(self, config=None, timeout=READY_TIMEOUT):
        """A checked reload (SIGHUP), after rewriting the config from
        `config` ({"server": {...}, "name": {...}}) when given; waits for the
        new generation and returns its number.  A reload that kiln refuses
        ("reload failed: ...") fails the test with kiln's reason."""
        if config is not None:
            self.apply_config(config)
            self.write_config()
        since, gen = self.mark(), self.generation() + 1
        self.signal(signal.SIGHUP)
        m = self.wait_log(r"generation %d ready|reload failed: .*" % gen, timeout, since)
        if m.group(0).startswith("reload failed"):
            pytest.fail("kiln refused the reload: %s\n%s" % (m.group(0), self.describe()))
        self.seen_workers.update(self.worker_pids())
        return gen

    def apply_config(self, config):
        """Merges {"server": {...}, "name": {...}}: [server] keys over the
        current ones, each other key a whole section."""
        for name, kv in config.items():
            if name == "server":
                self.server.update(kv)
            else:
                self.sections[name] = dict(kv)

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


