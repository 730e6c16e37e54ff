"""The Redis client (kiln_redis_*) against real redis-servers: /counter across both workers, every reply type, binary-safe arguments, cancels that keep the connection in step, the 504 deadline, db and password, a wrong password, the server restarted under traffic or down at start, connect_timeout, stops and reloads with commands pending, no [redis] address, a Unix socket."""

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import threading
import time

import aiohttp
import pytest

from conftest import Background, RawConn, services, wait_until

PLUGINS = ("hello", "counter", "redis_probe")


def make(kiln_factory, address, start=True, redis=None, **server):
    """A kiln with the Redis plugins whose [redis] section is `address` and `redis`."""
    sections = {}
    if address is not None:
        sections["redis"] = dict({"address": address}, **(redis or {}))
    return kiln_factory.make(start=start, plugins=PLUGINS, server=server, sections=sections)


def unique(what):
    return "%s-%d-%d" % (what, os.getpid(), time.monotonic_ns())


def redis_cli(*args, addr=None, sock=None, password=None, db=None):
    """redis-cli's output (stripped) for one command, on a TCP address or a socket."""
    cmd = ["redis-cli"]
    if sock:
        cmd += ["-s", sock]
    else:
        host, port = addr.rsplit(":", 1)
        cmd += ["-h", host, "-p", port]
    if password:
        cmd += ["--no-auth-warning", "-a", password]
    if db is not None:
        cmd += ["-n", str(db)]
    r = subprocess.run(cmd + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().strip()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@contextlib.contextmanager
def private_redis(directory, port=None, password=None, unixsocket=None):
    """A redis-server of the test's own on 127.0.0.1 (port 0: none) or a Unix
    socket, stopped by its pid when the block ends; yields its port."""
    port = free_port() if port is None else port
    os.makedirs(directory, exist_ok=True)
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(directory)]
    if password:
        args += ["--requirepass", password]
    if unixsocket:
        args += ["--unixsocket", unixsocket, "--unixsocketperm", "700"]
    log = open(os.path.join(directory, "redis.log"), "ab")
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        def up():
            if unixsocket:
                return os.path.exists(unixsocket)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False
        assert wait_until(up, 10), "redis-server did not start on %d" % port
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cmd(k, *args, raw=False, timeout=10):
    """POST /redis/cmd: the reply as the probe describes it (or its raw bytes)."""
    args = [a.encode() if isinstance(a, str) else a for a in args]
    sep = next(bytes([c]) for c in b"|#~^!@" if all(bytes([c]) not in a for a in args))
    st, _, body = k.request("/redis/cmd" + ("?raw=1" if raw else ""), method="POST",
                            body=sep + sep.join(args), timeout=timeout)
    assert st == 200, (st, body)
    return body if raw else body.decode().rstrip("\n")


def get(k, path, timeout=10):
    with RawConn(k.port, timeout) as c:
        c.send("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
        return c.read_response()


def links(pid, port):
    """How many TCP connections process `pid` has to 127.0.0.1:`port`."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    n = 0
    with open("/proc/%d/net/tcp" % pid) as f:
        next(f)
        for line in f:
            fields = line.split()
            remote = fields[2].split(":")
            if remote[0] == "0100007F" and int(remote[1], 16) == port and fields[9] in inodes:
                n += 1
    return n


def count(k, regex, since=0):
    return len(re.findall(regex, k.log()[since:]))


# ---- the counter and the replies --------------------------------------------------


def test_counter_counts_every_hit_across_both_workers(kiln_factory, redis_addr):
    # 1000 INCRs at once on one name, through 200 connections spread over the
    # two workers: each value 1..1000 is answered once, and Redis holds 1000.
    # Each worker keeps one connection, which the start hook's PING (sent
    # while the first connect was still on) went through first.
    k = make(kiln_factory, redis_addr)
    name = unique("c")
    port = int(redis_addr.rsplit(":", 1)[1])

    async def main():
        conn = aiohttp.TCPConnector(limit=200)
        async with aiohttp.ClientSession(connector=conn) as s:
            async def one():
                async with s.get("http://127.0.0.1:%d/counter/%s" % (k.port, name)) as r:
                    return r.status, r.headers["Content-Type"], await r.text()
            return await asyncio.gather(*[one() for _ in range(1000)])

    got = asyncio.run(asyncio.wait_for(main(), 60))
    assert {(st, ct) for st, ct, _ in got} == {(200, "text/plain; charset=utf-8")}
    assert all(t.endswith("\n") for _, _, t in got)
    assert sorted(int(t) for _, _, t in got) == list(range(1, 1001))
    assert redis_cli("GET", "counter:" + name, addr=redis_addr) == "1000"
    clients = redis_cli("CLIENT", "LIST", addr=redis_addr)
    assert clients.count("cmd=incr") == 2, clients          # both workers counted
    assert [links(p, port) for p in k.worker_pids()] == [1, 1]
    assert k.log().count("redis_probe: start: PING: status PONG") == 2
    assert "callback inside its submission" not in k.log()
    assert get(k, "/counter/" + name).body == b"1001\n"


def test_every_reply_type(kiln_factory, redis_addr):
    k = make(kiln_factory, redis_addr, workers=1)
    key = unique("t")
    assert cmd(k, "PING") == "status PONG"
    assert cmd(k, "SET", key, "v") == "status OK"
    assert cmd(k, "GET", key) == "string 1 v"
    assert cmd(k, "SET", key + "e", "") == "status OK"
    assert cmd(k, "GET", key + "e") == "string 0 "
    assert cmd(k, "INCRBY", key + "n", "-5") == "integer -5"
    assert cmd(k, "GET", key + "missing") == "nil"
    assert cmd(k, "RPUSH", key + "l", "a", "bc") == "integer 2"
    assert cmd(k, "LRANGE", key + "l", "0", "-1") == "array 2 [string 1 a, string 2 bc]"
    assert cmd(k, "LRANGE", key + "missing", "0", "-1") == "array 0 []"
    assert cmd(k, "MGET", key, key + "missing") == "array 2 [string 1 v, nil]"
    assert cmd(k, "EVAL", "return {1, 'x', {2, {}}, false, {err='E1 nested'}}", "0") == \
        "array 5 [integer 1, string 1 x, array 2 [integer 2, array 0 []], nil, error E1 nested]"
    assert cmd(k, "LPUSH", key, "x") == \
        "error WRONGTYPE Operation against a key holding the wrong kind of value"
    assert cmd(k, "NOSUCHCOMMAND").startswith("error ERR unknown command")
    assert cmd(k, "DEL", key, key + "e", key + "n", key + "l") == "integer 4"
    # What would change the connection under the worker's other commands.
    for refused in (["select", "1"], ["AUTH", "x"], ["Subscribe", "ch"], ["MONITOR"],
                    ["CLIENT", "reply", "OFF"], ["HELLO", "3"], ["QUIT"]):
        assert cmd(k, *refused).startswith("error not allowed on the shared connection: "), \
            refused
    assert cmd(k, "CLIENT", "GETNAME") == "nil"
    assert cmd(k, "PING") == "status PONG"
    r = get(k, "/redis/rules")
    assert (r.status, r.text) == (200, "argc 0: 0\nnull arg0: 0\nnull argv[1]: 0\n"
                                       "cancel: 0, again: -1, id 0: -1\n"
                                       "long: integer 0, own cancel -1\n")
    assert "accessors disagree" not in k.log()
    assert "a cancelled command's callback ran" not in k.log()
    assert "callback inside its submission" not in k.log()


def test_arguments_and_replies_are_binary_safe(kiln_factory, redis_addr):
    k = make(kiln_factory, redis_addr, workers=1)
    key = unique("bin").encode() + b"\x00tail"
    value = b"a\x00b\r\n$3\r\nzz\xff\x00"
    assert cmd(k, b"SET", key, value) == "status OK"
    assert cmd(k, b"GET", key, raw=True) == value
    assert cmd(k, b"GET", key) == "string %d a\\x00b\\x0d\\x0a$3\\x0d\\x0azz\\xff\\x00" % len(value)
    assert cmd(k, b"STRLEN", key) == "integer %d" % len(value)
    assert cmd(k, b"EXISTS", key.split(b"\x00")[0]) == "integer 0"   # not cut at the NUL
    assert cmd(k, b"DEL", key) == "integer 1"
    big = b"\x00\xffbig\r\n" * 40000
    assert cmd(k, b"SET", key, big) == "status OK"
    assert cmd(k, b"GET", key, raw=True) == big
    assert cmd(k, b"DEL", key) == "integer 1"


def test_many_commands_at_once_each_get_their_own_reply(kiln_factory, redis_addr):
    k = make(kiln_factory, redis_addr)

    async def main():
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as s:
            async def one(i):
                body = "|ECHO|marker-%d" % i
                async with s.post("http://127.0.0.1:%d/redis/cmd" % k.port, data=body) as r:
                    return await r.text()
            return await asyncio.gather(*[one(i) for i in range(500)])

    got = asyncio.run(asyncio.wait_for(main(), 60))
    assert got == ["string %d marker-%d\n" % (len("marker-%d" % i), i) for i in range(500)]


# ---- cancels and the deadline ---------------------------------------------------------


def test_a_cancelled_command_keeps_the_connection_in_step(kiln_factory, redis_addr):
    # The client leaves while WAIT blocks the worker's connection: the cancel
    # runs (cancel 0, a second -1), the WAIT's reply, when it comes, is read
    # and dropped, and the ECHO sent behind it gets its own reply, not WAIT's.
    k = make(kiln_factory, redis_addr, workers=1)
    mark = k.mark()
    for i in range(5):
        c = RawConn(k.port)
        c.send("GET /redis/wait?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.05)
        c.close()
        assert wait_until(lambda: count(k, r"wait cancelled gone: cancel 0, again -1", mark)
                          == i + 1, 5), k.log()[mark:]
        t0 = time.monotonic()
        assert cmd(k, "ECHO", "after-%d" % i) == "string 7 after-%d" % i
        assert time.monotonic() - t0 >= 0.15          # it waited behind the WAIT
    time.sleep(0.5)
    log = k.log()[mark:]
    assert "wait: reply" not in log, log
    r = get(k, "/redis/wait?ms=100")
    assert (r.status, r.body) == (200, b"wait integer 0\n")


def test_the_deadline_answers_504_and_cancels_the_command(kiln_factory, redis_addr):
    k = make(kiln_factory, redis_addr, workers=1, pending_timeout="1s")
    mark = k.mark()
    t0 = time.monotonic()
    with RawConn(k.port) as c:
        c.send("GET /redis/wait?ms=1700 HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
    assert r.status == 504
    assert 0.9 <= time.monotonic() - t0 < 1.6
    k.wait_log(r"wait cancelled deadline: cancel 0, again -1", since=mark)
    assert cmd(k, "ECHO", "next") == "string 4 next"     # behind the WAIT, in step
    assert time.monotonic() - t0 >= 1.65
    assert "wait: reply" not in k.log()[mark:]


# ---- db, password, the address ------------------------------------------------------------


def test_password_and_db(kiln_factory, tmp_path):
    pw = "s3cret with spaces"
    with private_redis(tmp_path / "r", password=pw) as port:
        addr = "127.0.0.1:%d" % port
        k = make(kiln_factory, addr, redis={"password": pw, "db": 2})
        assert [get(k, "/counter/db").body for _ in range(3)] == [b"1\n", b"2\n", b"3\n"]
        assert redis_cli("GET", "counter:db", addr=addr, password=pw, db=2) == "3"
        assert redis_cli("EXISTS", "counter:db", addr=addr, password=pw, db=0) == "0"
        assert "db=2" in cmd(k, "CLIENT", "INFO")
        k.stop()


def test_a_wrong_password_is_logged_and_the_rest_serves(kiln_factory, tmp_path):
    with private_redis(tmp_path / "r", password="right") as port:
        addr = "127.0.0.1:%d" % port
        k = make(kiln_factory, addr, redis={"password": "wrong"})
        k.wait_log(r"\[error\] \d+#worker: \[redis\] password: AUTH refused by %s: WRONGPASS"
                   % re.escape(addr))
        assert get(k, "/counter/x").status == 500
        assert cmd(k, "PING") == "error not connected"
        assert get(k, "/").body == b"Hello, Anonymous"
        time.sleep(2.5)                    # several tries: still one line per worker
        assert count(k, r"\[redis\] password: AUTH refused") == 2, k.log()
        assert "[redis] connected" not in k.log()
        assert get(k, "/counter/x").status == 500
        assert "callback inside its submission" not in k.log()
        k.stop()
        # A db the server does not have: SELECT's refusal names [redis] db.
        k2 = make(kiln_factory, addr, redis={"password": "right", "db": 99})
        k2.wait_log(r"\[error\] \d+#worker: \[redis\] db = 99: SELECT refused by %s: ERR DB "
                    r"index is out of range" % re.escape(addr))
        assert get(k2, "/counter/x").status == 500
        assert redis_cli("EXISTS", "counter:x", addr=addr, password="right") == "0"
        k2.stop()


def test_a_unix_socket_address(kiln_factory, tmp_path):
    # No socket yet: the connect fails at once (ENOENT), said once; then a
    # server there is connected to within the back-off.
    sock = str(tmp_path / "redis.sock")
    k = make(kiln_factory, "unix:" + sock)
    k.wait_log(r"\[redis\] cannot connect to unix:%s: No such file or directory; retrying"
               % re.escape(sock))
    assert get(k, "/counter/u").status == 500
    with private_redis(tmp_path / "r", port=0, unixsocket=sock):
        assert wait_until(lambda: count(k, r"\[redis\] connected to unix:%s again"
                                        % re.escape(sock)) == 2, 10), k.log()
        assert count(k, r"\[redis\] cannot connect") == 2, k.log()
        assert [get(k, "/counter/u").body for _ in range(2)] == [b"1\n", b"2\n"]
        assert redis_cli("GET", "counter:u", sock=sock) == "2"
        k.stop()


def test_no_redis_address_answers_503(kiln_factory):
    k = make(kiln_factory, None)
    r = get(k, "/counter/x")
    assert (r.status, r.body) == (503, b"no [redis] address configured\n")
    st, _, body = k.request("/redis/cmd", method="POST", body=b"|PING")
    assert (st, body) == (503, b"no redis\n")
    assert k.log().count("redis_probe: start: no redis") == 2
    assert get(k, "/").body == b"Hello, Anonymous"


# ---- the server going away ----------------------------------------------------------------


def test_redis_restarted_under_traffic(kiln_factory, redis_addr):
    # Requests go on while the server stops and starts again on its port: they
    # get 500s meanwhile (not hangs), then 200s within seconds; the workers
    # do not crash, and each logs one warning when its connection is lost and
    # one line when it is back, not one per try.
    k = make(kiln_factory, redis_addr)
    pids = k.worker_pids()
    name = unique("r")
    results = []                            # (when the request started, its status)
    stop = threading.Event()

    def traffic():
        while not stop.is_set():
            t = time.monotonic()
            try:
                st = get(k, "/counter/" + name, timeout=5).status
            except Exception as e:          # a hang or a reset: recorded, fails below
                st = repr(e)
            results.append((t, st))
            time.sleep(0.01)

    bg = Background(traffic)
    mark = k.mark()
    back = r"\[info\] (\d+)#worker: \[redis\] connected to [^ ]+ again"
    try:
        time.sleep(0.5)
        services("down", "redis")
        down = time.monotonic()
        time.sleep(1.0)
    finally:
        services("up", "redis")
    up = time.monotonic()
    both = wait_until(lambda: count(k, back, mark) == 2 and time.monotonic(), 10)
    time.sleep(0.5)
    stop.set()
    bg.result(10)
    log = k.log()[mark:]
    assert both and both - up < 8, log
    assert {st for _, st in results} <= {200, 500}, {st for _, st in results}
    assert any(st == 500 for t, st in results if down + 0.1 < t < up)
    after = [st for t, st in results if t > both]
    assert after and set(after) == {200}, after
    assert k.worker_pids() == pids
    assert count(k, r"\[warn\] (\d+)#worker: \[redis\] connection to [^ ]+ lost", mark) == 2, log
    assert count(k, back, mark) == 2, log
    assert sorted(int(p) for p in re.findall(r"(\d+)#worker: \[redis\] connection to", log)) \
        == sorted(pids)
    assert "cannot connect" not in log, log


def test_redis_down_at_start_then_up(kiln_factory, tmp_path):
    # Nothing listens at first: the start hook's PING, queued for the first
    # connect, gets "not connected", so do requests (500, at once), one
    # warning per worker says so; once a server listens there, the workers
    # connect within the back-off and say so once.
    port = free_port()
    addr = "127.0.0.1:%d" % port
    k = make(kiln_factory, addr)
    k.wait_log(r"\[redis\] cannot connect to %s: Connection refused; retrying" % re.escape(addr))
    assert wait_until(lambda: k.log().count("start: PING: error not connected") == 2, 5)
    t0 = time.monotonic()
    assert get(k, "/counter/x").status == 500
    assert cmd(k, "PING") == "error not connected"
    assert time.monotonic() - t0 < 1
    time.sleep(1.5)
    assert count(k, r"\[redis\] cannot connect") == 2, k.log()
    assert "callback inside its submission" not in k.log()
    with private_redis(tmp_path / "r", port=port):
        assert wait_until(lambda: count(k, r"\[redis\] connected to %s again"
                                        % re.escape(addr)) == 2, 10), k.log()
        assert [get(k, "/counter/x").body for _ in range(2)] == [b"1\n", b"2\n"]
        k.stop()


def test_connect_timeout(kiln_factory):
    # A server that takes the connection and never answers AUTH: after
    # connect_timeout the connect counts as failed, the command that waited
    # for it gets an error (500), and the workers try again later.
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    addr = "127.0.0.1:%d" % lsock.getsockname()[1]
    try:
        k = make(kiln_factory, addr, redis={"password": "pw", "connect_timeout": "1s"})
        t0 = time.monotonic()
        r = get(k, "/counter/x")
        assert r.status == 500
        assert time.monotonic() - t0 < 1.5
        k.wait_log(r"\[warn\] \d+#worker: \[redis\] connecting to %s: no answer within "
                   r"connect_timeout \(1 s\); retrying" % re.escape(addr))
        assert get(k, "/").body == b"Hello, Anonymous"
        k.stop()
    finally:
        lsock.close()


# ---- stops and reloads --------------------------------------------------------------------


def test_graceful_stop_and_reload_with_commands_pending(kiln_factory, redis_addr):
    k = make(kiln_factory, redis_addr)
    c = RawConn(k.port)
    c.send("GET /redis/wait?ms=800 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.2)
    k.signal(signal.SIGHUP)
    r = c.read_response()
    c.close()
    assert (r.status, r.body) == (200, b"wait integer 0\n")
    k.wait_ready(2, timeout=10)
    k.wait_log(r"generation 1 stopped", timeout=10)
    assert get(k, "/counter/" + unique("g")).body == b"1\n"

    mark = k.mark()
    c = RawConn(k.port)
    c.send("GET /redis/wait?ms=800 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.2)
    k.signal(signal.SIGTERM)
    r = c.read_response()
    c.close()
    assert (r.status, r.body) == (200, b"wait integer 0\n")
    assert k.wait_exit(10) == 0
    assert k.log()[mark:].count("redis_probe: stop: kiln_redis gives 0") == 2


def test_a_stop_answers_the_commands_left(kiln_factory, redis_addr):
    # graceful_timeout passes with a request waiting for WAIT (its cancel
    # runs: "stop") and a command a timer sent with no request behind it
    # (its callback gets "the worker is stopping"); the worker exits cleanly
    # (and leaks nothing: the sanitizer build checks).
    k = make(kiln_factory, redis_addr, workers=1, graceful_timeout="1s")
    mark = k.mark()
    assert get(k, "/redis/later?ms=0&cmd=wait").body == b"later\n"
    k.wait_log(r"later: WAIT sent, id yes", since=mark)
    c = RawConn(k.port)
    c.send("GET /redis/wait?ms=5000 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)
    k.signal(signal.SIGTERM)
    assert k.wait_exit(10) == 0
    c.close()
    log = k.log()[mark:]
    assert "wait cancelled stop: cancel 0, again -1" in log, log
    assert "later: reply error the worker is stopping" in log, log
    assert "wait: reply" not in log, log
    assert log.index("later: reply error the worker is stopping") < \
        log.index("stop: kiln_redis gives 0")
