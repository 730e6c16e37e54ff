"""Helpers for the tests that drive the master process: a bounded load that counts what failed, slow requests, waiting for processes to go."""

import http.client
import threading
import time

from conftest import Background, http_request, pid_alive, wait_until


LOAD_MAX_SECONDS = 40       # a load loop stops by itself after this, whatever happens


class Load:
    """A bounded HTTP load: threads sending GET requests back to back, some over
    keep-alive connections, some on a new connection each (Connection: close).

    Every request that does not end in a 200 is a failure, recorded with its
    kind (which connection, reused or not, and the exception).  Responses are
    kept as (monotonic time, kind, body) to tell which code answered when."""

    def __init__(self, port, path="/", keepalive=2, fresh=2, max_seconds=LOAD_MAX_SECONDS):
        self.port = port
        self.path = path
        self.deadline = time.monotonic() + max_seconds
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []
        self.responses = []
        self.threads = [threading.Thread(target=self._keepalive, daemon=True)
                        for _ in range(keepalive)]
        self.threads += [threading.Thread(target=self._fresh, daemon=True) for _ in range(fresh)]
        for t in self.threads:
            t.start()

    def _running(self):
        return not self.halt.is_set() and time.monotonic() < self.deadline

    def _record(self, kind, status, body):
        with self.lock:
            if status == 200:
                self.ok += 1
                self.responses.append((time.monotonic(), kind, body))
            else:
                self.failures.append((kind, "status %d %r" % (status, body[:100])))

    def _fail(self, kind, error):
        with self.lock:
            self.failures.append((kind, "%s: %s" % (type(error).__name__, error)))

    def _keepalive(self):
        conn, reused = None, False
        while self._running():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                    reused = False
                conn.request("GET", self.path)
                r = conn.getresponse()
                body = r.read()
                self._record("keep-alive", r.status, body)
                if r.will_close:
                    conn.close()
                    conn = None
                else:
                    reused = True
            except (OSError, http.client.HTTPException) as e:
                self._fail("keep-alive (%s connection)" % ("reused" if reused else "new"), e)
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def _fresh(self):
        while self._running():
            try:
                st, _, body = http_request(self.port, self.path,
                                           headers={"Connection": "close"}, timeout=5)
                self._record("new connection", st, body)
            except (OSError, http.client.HTTPException) as e:
                self._fail("new connection", e)

    def stop(self):
        self.halt.set()
        for t in self.threads:
            t.join(10)
        return self

    def report(self):
        kinds = {}
        for kind, err in self.failures:
            kinds.setdefault(kind, []).append(err)
        lines = ["%d served, %d failed" % (self.ok, len(self.failures))]
        for kind, errs in kinds.items():
            lines.append("  %d on %s, e.g. %s" % (len(errs), kind, errs[:3]))
        return "\n".join(lines)

    def check(self, k, minimum=100):
        assert not self.failures, "failed requests under load:\n%s\n%s" % (
            self.report(), k.describe())
        assert self.ok >= minimum, "load too small: %s" % self.report()


def slow_request(k, ms, timeout=15):
    return Background(lambda: http_request(k.port, "/slow?ms=%d" % ms, timeout=timeout))


def wait_gone(pids, timeout):
    return wait_until(lambda: not [p for p in pids if pid_alive(p)], timeout)
