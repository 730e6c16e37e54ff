"""The PostgreSQL client on a real server: /db and /queries against what psql reads, many requests waiting on the pools at once, cancellation (the client gone, pending_timeout) cleaning the connection on the server, statements prepared once per connection, SQLSTATEs, typed getters, the server restarted under traffic, reloads and stops with queries pending, pipelining behind a query, and kilns without a usable [postgres]."""

import asyncio
import json
import re
import signal
import socket
import subprocess
import time

import aiohttp
import pytest

from conftest import Background, RawConn, services, wait_until

ROW_SQL = "SELECT id, randomnumber FROM world WHERE id = $1"


def psql(dsn, sql):
    """Rows of `sql` as psql prints them unaligned (fields split on '|')."""
    r = subprocess.run(["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", dsn, "-c", sql],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    if r.returncode != 0:
        pytest.fail("psql: %s" % r.stderr.decode(errors="replace"))
    return [line.split("|") for line in r.stdout.decode().splitlines() if line]


_world = {}


def world(dsn):
    """{id: randomnumber} of the whole table, read once by psql."""
    if not _world:
        _world.update({int(i): int(n) for i, n in psql(dsn, "SELECT id, randomnumber FROM world")})
    return _world


_apps = iter(range(1, 1000000))


def app_name():
    """An application_name of its own for one test's pools, so that counting
    their backends sees no other kiln's."""
    return "kiln_t%d_%d" % (int(time.time()) % 100000, next(_apps))


def backends(dsn, app):
    """[(pid, state, query)] of the server's backends named `app`."""
    return [(int(p), s, q) for p, s, q in
            psql(dsn, "SELECT pid, state, query FROM pg_stat_activity "
                      "WHERE application_name = '%s' ORDER BY pid" % app)]


def make(kiln_factory, dsn, app=None, plugins=("db", "pg_probe", "hello"), postgres=None,
         **server):
    pg = {"dsn": dsn + (" application_name=%s" % app if app else "")}
    pg.update(postgres or {})
    return kiln_factory.make(plugins=plugins, sections={"postgres": pg},
                             server=dict({"log_level": "debug"}, **server))


def get(k, path, timeout=10):
    with RawConn(k.port, timeout) as c:
        c.send("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
        return c.read_response()


def check_rows(rows, dsn):
    w = world(dsn)
    for r in rows:
        assert set(r) == {"id", "randomNumber"}, r
        assert 1 <= r["id"] <= 10000 and r["randomNumber"] == w[r["id"]], r


def wait_sleeping(dsn, app, timeout=5):
    """Waits until a backend of `app` runs pg_sleep; its pid."""
    def busy():
        return [p for p, s, q in backends(dsn, app) if s == "active" and "pg_sleep" in q]
    pids = wait_until(busy, timeout)
    assert pids, backends(dsn, app)
    return pids[0]


def wait_idle(dsn, app, pid, timeout=2.5):
    """The backend `pid` of `app` is idle again within `timeout`."""
    ok = wait_until(lambda: (pid, "idle") in [(p, s) for p, s, _ in backends(dsn, app)], timeout)
    assert ok, backends(dsn, app)


# ---- /db and /queries ------------------------------------------------------------------


def test_db_and_queries_answer_rows_of_world(kiln_factory, pg_dsn):
    k = make(kiln_factory, pg_dsn)
    ids = set()
    for _ in range(30):
        st, hdrs, body = k.request("/db")
        assert st == 200 and hdrs["content-type"] == "application/json", (st, hdrs, body)
        row = json.loads(body)
        assert isinstance(row, dict), body
        check_rows([row], pg_dsn)
        assert re.fullmatch(rb'\{"id":\d+,"randomNumber":\d+\}', body), body
        ids.add(row["id"])
    assert len(ids) > 20, ids                   # random ids, not one
    # TechEmpower's clamping: missing, not an integer or < 1 is 1; > 500 is 500.
    for query, n in (("", 1), ("?n=x", 1), ("?n=0", 1), ("?n=-3", 1), ("?n=2.5", 1),
                     ("?n=1", 1), ("?n=7", 7), ("?n=500", 500), ("?n=501", 500),
                     ("?n=99999999999999999999", 500)):
        st, hdrs, body = k.request("/queries" + query)
        assert st == 200 and hdrs["content-type"] == "application/json", (query, st, body)
        rows = json.loads(body)
        assert isinstance(rows, list) and len(rows) == n, (query, body[:200])
        check_rows(rows, pg_dsn)


def test_hundreds_of_requests_wait_on_the_pools_at_once(kiln_factory, pg_dsn):
    # 300 /db and 30 /queries?n=20 at once on two workers with pools of 4:
    # every answer right, plain requests answered meanwhile, and the
    # connections of both pools used.
    app = app_name()
    k = make(kiln_factory, pg_dsn, app)

    async def main():
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
            async def one(path):
                async with s.get("http://127.0.0.1:%d%s" % (k.port, path)) as r:
                    return r.status, r.headers.get("content-type"), await r.read()
            t0 = time.monotonic()
            dbs = [asyncio.ensure_future(one("/db")) for _ in range(300)]
            qs = [asyncio.ensure_future(one("/queries?n=20")) for _ in range(30)]
            hello = await one("/Ann")
            return await asyncio.gather(*dbs), await asyncio.gather(*qs), hello, \
                time.monotonic() - t0

    dbs, qs, hello, took = asyncio.run(asyncio.wait_for(main(), 60))
    assert hello[0] == 200 and hello[2] == b"Hello, Ann"
    assert all(st == 200 and ct == "application/json" for st, ct, _ in dbs + qs)
    check_rows([json.loads(b) for _, _, b in dbs], pg_dsn)
    for _, _, b in qs:
        rows = json.loads(b)
        assert len(rows) == 20
        check_rows(rows, pg_dsn)
    assert took < 30, took
    used = [p for p, _, q in backends(pg_dsn, app) if q == ROW_SQL]
    assert len(used) > 4, backends(pg_dsn, app)       # more than one pool of 4


def test_pipelined_requests_behind_a_pending_query(kiln_factory, pg_dsn):
    k = make(kiln_factory, pg_dsn)
    w = world(pg_dsn)
    with RawConn(k.port) as c:
        c.send("GET /row/9 HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /Bob HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /queries?n=3 HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /pg-sleep?s=0.2 HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /row/10 HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_responses(5)
    assert r[0].body == b"id=9 randomnumber=%d\n" % w[9]
    assert r[1].body == b"Hello, Bob"
    assert len(json.loads(r[2].body)) == 3
    assert r[3].body == b"slept\n"
    assert r[4].body == b"id=10 randomnumber=%d\n" % w[10]


# ---- cancellation ----------------------------------------------------------------------------


def test_client_gone_cancels_the_query_on_the_server(kiln_factory, pg_dsn):
    # One connection: the client leaves while pg_sleep(5) runs; the cancel
    # callback cancels the query, the backend is idle again at once (the
    # same backend: cancelled, not closed), and the next query on that one
    # connection is right.
    app = app_name()
    k = make(kiln_factory, pg_dsn, app, postgres={"pool_size": 1}, workers=1)
    wait_until(lambda: len(backends(pg_dsn, app)) == 1, 5)
    mark = k.mark()
    c = RawConn(k.port)
    c.send("GET /pg-sleep?s=5 HTTP/1.1\r\nHost: x\r\n\r\n")
    pid = wait_sleeping(pg_dsn, app)
    t0 = time.monotonic()
    c.close()
    k.wait_log(r"pg_probe: sleep cancelled \(gone\): kiln_pg_cancel 0", since=mark)
    wait_idle(pg_dsn, app, pid)
    assert time.monotonic() - t0 < 2.5
    assert get(k, "/row/42").body == b"id=42 randomnumber=%d\n" % world(pg_dsn)[42]
    assert [p for p, _, _ in backends(pg_dsn, app)] == [pid]


def test_without_a_thread_pool_a_cancel_reopens_the_connection(kiln_factory, pg_dsn):
    # thread_pool = 0: no thread for PQcancel, so the connection is closed
    # and another opened; the next query does not wait for the old one.
    app = app_name()
    k = make(kiln_factory, pg_dsn, app, postgres={"pool_size": 1}, workers=1, thread_pool=0)
    wait_until(lambda: len(backends(pg_dsn, app)) == 1, 5)
    c = RawConn(k.port)
    c.send("GET /pg-sleep?s=3 HTTP/1.1\r\nHost: x\r\n\r\n")
    old = wait_sleeping(pg_dsn, app)
    c.close()
    t0 = time.monotonic()
    k.wait_log(r"sleep cancelled \(gone\): kiln_pg_cancel 0")
    assert get(k, "/row/7").body == b"id=7 randomnumber=%d\n" % world(pg_dsn)[7]
    assert time.monotonic() - t0 < 2
    assert wait_until(lambda: [p for p, _, _ in backends(pg_dsn, app)] not in ([], [old]), 3)
    assert wait_until(lambda: len(backends(pg_dsn, app)) == 1, 10), backends(pg_dsn, app)


def test_pending_timeout_on_a_query_answers_504_and_cancels_it(kiln_factory, pg_dsn):
    app = app_name()
    k = make(kiln_factory, pg_dsn, app, postgres={"pool_size": 1}, workers=1)
    wait_until(lambda: len(backends(pg_dsn, app)) == 1, 5)
    pid = backends(pg_dsn, app)[0][0]
    mark = k.mark()
    t0 = time.monotonic()
    with RawConn(k.port) as c:
        c.send("GET /pg-sleep-short?s=3 HTTP/1.1\r\nHost: x\r\n\r\nGET /row/3 HTTP/1.1\r\n"
               "Host: x\r\n\r\n")
        assert c.read_response().status == 504
        assert 0.4 <= time.monotonic() - t0 < 1.5
        assert c.read_response().body == b"id=3 randomnumber=%d\n" % world(pg_dsn)[3]
    assert time.monotonic() - t0 < 2
    k.wait_log(r"sleep cancelled \(deadline\): kiln_pg_cancel 0", since=mark)
    wait_idle(pg_dsn, app, pid)
    assert [p for p, _, _ in backends(pg_dsn, app)] == [pid]


def test_cancel_rules_and_callbacks_never_inside_a_query(kiln_factory, pg_dsn):
    # kiln_pg_cancel: 0 for a live query (running or queued), -1 again, -1
    # for 0 and from the query's own callback; a cancelled query's callback
    # never runs.  A
    # burst past the queue's 10000: the rest fail with 53000, every callback
    # runs from the loop, none from inside kiln_pg_query().
    k = make(kiln_factory, pg_dsn, postgres={"pool_size": 1}, workers=1)
    assert get(k, "/cancel-rules").body == \
        b"running=0 queued=0 again=-1 zero=-1 self=-1 ran=0\n"
    body = get(k, "/burst?n=10050", timeout=60).body.decode()
    m = re.fullmatch(r"ok=(\d+) 53000=(\d+) other=0\(\) inside=0\n", body)
    assert m, body
    ok, full = int(m.group(1)), int(m.group(2))
    assert ok + full == 10050 and 49 <= full <= 50, body
    assert get(k, "/row/1").status == 200


# ---- statements, errors, values -----------------------------------------------------------------


def test_statements_are_prepared_once_per_connection(kiln_factory, pg_dsn):
    k = make(kiln_factory, pg_dsn, postgres={"pool_size": 1}, workers=1)
    for i in range(1, 6):
        assert get(k, "/row/%d" % i).status == 200
    assert get(k, "/row/0").status == 404           # the same statement, no row
    lines = [l.split("|", 2) for l in get(k, "/prepared").body.decode().splitlines()]
    by_sql = {sql: (name, int(calls)) for name, calls, sql in lines}
    assert len(by_sql) == len(lines), lines         # one statement per text
    assert by_sql[ROW_SQL][1] == 6, lines           # prepared once, run six times
    assert all(re.fullmatch(r"kiln_\d+", name) for name, _, _ in lines), lines
    again = {sql: int(calls) for _, calls, sql in
             (l.split("|", 2) for l in get(k, "/prepared").body.decode().splitlines())}
    assert again[ROW_SQL] == 6 and len(again) == len(by_sql), again


def test_past_256_texts_a_connection_runs_unnamed_statements(kiln_factory, pg_dsn):
    k = make(kiln_factory, pg_dsn, postgres={"pool_size": 1}, workers=1)
    assert get(k, "/burst?n=300&distinct=1").body == b"ok=300 53000=0 other=0() inside=0\n"
    lines = [l.split("|", 2) for l in get(k, "/prepared").body.decode().splitlines()]
    assert len(lines) == 256, len(lines)        # the start hook's and 255 of the burst's
    assert len({name for name, _, _ in lines}) == 256
    assert {calls for _, calls, _ in lines} == {"1"}
    assert get(k, "/row/1").status == 200       # unnamed: right all the same


def test_errors_carry_their_sqlstate(kiln_factory, pg_dsn):
    k = make(kiln_factory, pg_dsn, postgres={"pool_size": 1}, workers=1)
    for name, want in (
            ("unique", 'error 23505 duplicate key value violates unique constraint "world_pkey"'),
            ("syntax", 'error 42601 syntax error at or near "SELEC"'),
            ("missing", 'error 42P01 relation "no_such_table" does not exist'),
            ("divzero", "error 22012 division by zero"),
            ("multi", "error 42601 cannot insert multiple commands into a prepared statement")):
        for _ in range(2):          # the failed prepare was not kept: the same again
            assert get(k, "/run/" + name).body.decode() == want + "\n", name
        assert get(k, "/row/2").status == 200
    # The failed statements were not prepared; the one that failed running was.
    sqls = [l.split("|", 2)[2] for l in get(k, "/prepared").body.decode().splitlines()]
    assert not [s for s in sqls if "SELEC 1" in s or "no_such_table" in s or "world_pkey" in s]
    assert len([s for s in sqls if "id - id" in s]) == 1, sqls


def test_results_and_typed_getters(kiln_factory, pg_dsn):
    k = make(kiln_factory, pg_dsn, workers=1)
    want = """rows=1 cols=14 error=none sqlstate=00000
i text=42 len=2 null=0 int=0:42 double=0:42 bool=-1:0
neg text=-7 len=2 null=0 int=0:-7 double=0:-7 bool=-1:0
max text=9223372036854775807 len=19 null=0 int=0:9223372036854775807 double=0:9.2233720368547758e+18 bool=-1:0
huge text=99999999999999999999 len=20 null=0 int=-1:0 double=0:1e+20 bool=-1:0
half text=1.5 len=3 null=0 int=-1:0 double=0:1.5 bool=-1:0
nan text=NaN len=3 null=0 int=-1:0 double=0:nan bool=-1:0
ninf text=-Infinity len=9 null=0 int=-1:0 double=0:-inf bool=-1:0
tiny text=1e-310 len=6 null=0 int=-1:0 double=0:9.9999999999999694e-311 bool=-1:0
yes text=t len=1 null=0 int=-1:0 double=-1:0 bool=0:1
no text=f len=1 null=0 int=-1:0 double=-1:0 bool=0:0
nothing text=(null) len=0 null=1 int=-1:0 double=-1:0 bool=-1:0
abc text=abc len=3 null=0 int=-1:0 double=-1:0 bool=-1:0
blank text= len=0 null=0 int=-1:0 double=-1:0 bool=-1:0
CamelCase text=1 len=1 null=0 int=0:1 double=0:1 bool=-1:0
outside: text=NULL text=NULL text=NULL null=1 int=-1 colname=NULL
colnum: abc=11 CamelCase=13 camelcase=-1 nope=-1
"""
    assert get(k, "/types").body.decode() == want
    assert get(k, "/params?v=h%C3%A9llo").body.decode() == "null=t text=héllo sum=42\n"
    assert get(k, "/run/affected").body == b"ok 00000 rows=0 cols=0 affected=3\n"
    assert get(k, "/run/select3").body == b"ok 00000 rows=3 cols=1 affected=3\n"
    assert get(k, "/run/empty").body == b"ok 00000 rows=0 cols=0 affected=0\n"
    # The server's notices go to kiln's log at debug, not to stderr.
    assert get(k, "/run/notice").body == b"ok 00000 rows=0 cols=0 affected=0\n"
    k.wait_log(r"\[debug\] \d+#worker: postgres: NOTICE: a notice for the log")
    assert "notice for the log" not in k.output()


def test_a_connection_left_in_a_transaction_is_replaced(kiln_factory, pg_dsn):
    # BEGIN leaves the session in a transaction, COPY waiting for data:
    # each connection is closed (a warning names the plugin) and another
    # opened, so the next query never runs inside what the last one left.
    app = app_name()
    k = make(kiln_factory, pg_dsn, app, postgres={"pool_size": 1}, workers=1)
    wait_until(lambda: len(backends(pg_dsn, app)) == 1, 5)
    first = backends(pg_dsn, app)[0][0]
    mark = k.mark()
    assert get(k, "/run/begin").body == b"ok 00000 rows=0 cols=0 affected=0\n"
    k.wait_log(r"\[warn\] .*postgres: a query of plugin pg_probe left its connection inside "
               r"a transaction", since=mark)
    assert get(k, "/run/copy").body == b"error 0A000 COPY is not supported by kiln_pg_query\n"
    k.wait_log(r"\[warn\] .*postgres: a query of plugin pg_probe started a COPY", since=mark)
    assert get(k, "/row/5").status == 200
    assert get(k, "/run/unique").body.startswith(b"error 23505")   # not 25P02: no transaction
    assert wait_until(lambda: len(backends(pg_dsn, app)) == 1, 5)
    assert backends(pg_dsn, app)[0][0] != first


# ---- the server's and the worker's life -----------------------------------------------------


def test_pools_connect_at_start_as_kiln(kiln_factory, pg_dsn):
    # Each worker opens pool_size connections named "kiln" (libpq's
    # fallback_application_name), a start hook's query is answered, init
    # and the stop hook (outside a running pool) get 0 from kiln_pg_query.
    since = psql(pg_dsn, "SELECT now()")[0][0]
    k = make(kiln_factory, pg_dsn, postgres={"pool_size": 3}, workers=2)
    k.wait_log(r"pg_probe: start query: ok started")
    assert wait_until(lambda: k.log().count("pg_probe: start query: ok started") == 2, 5)
    count = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'kiln' " \
            "AND backend_start >= '%s'" % since
    assert wait_until(lambda: psql(pg_dsn, count) == [["6"]], 5), psql(pg_dsn, count)
    assert int(get(k, "/backends").body.split()[1]) >= 6
    assert k.log().count("pg_probe: init: query id 0") == 2
    assert k.stop() == 0
    assert k.log().count("pg_probe: stop: query id 0") == 2
    assert wait_until(lambda: psql(pg_dsn, count) == [["0"]], 5), psql(pg_dsn, count)


def test_server_restarted_under_traffic(kiln_factory, pg_dsn):
    # The server stops in the middle of traffic: requests get errors at once
    # (500 naming the SQLSTATE), never a hang, no worker dies, and once the
    # server is back every request is right again within seconds.  Each
    # worker logs the loss once and the return once.
    k = make(kiln_factory, pg_dsn, log_level="info")
    pids = sorted(k.worker_pids())
    assert get(k, "/db").status == 200
    results = []
    stop = []

    def traffic():
        while not stop:
            t0 = time.monotonic()
            try:
                r = get(k, "/db", timeout=8)
                results.append((t0, time.monotonic() - t0, r.status, r.body))
            except (OSError, ConnectionError, TimeoutError) as e:
                results.append((t0, time.monotonic() - t0, 0, repr(e).encode()))
            time.sleep(0.02)

    bg = Background(traffic)
    try:
        time.sleep(0.5)
        services("down", "pg")      # returns once the server is gone
        down_at = time.monotonic()
        time.sleep(1.5)
    finally:
        services("up", "pg")        # returns once it accepts connections
    up_at = time.monotonic()
    ok_again = wait_until(lambda: [r for r in results if r[0] > up_at and r[2] == 200], 10)
    time.sleep(1)
    stop.append(1)
    bg.result(15)
    assert ok_again, results[-5:]
    assert ok_again[0][0] - up_at < 8, ok_again[0][0] - up_at
    during = [r for r in results if down_at + 0.2 < r[0] < up_at - 0.2]
    assert during, results
    assert all(r[2] == 500 and re.fullmatch(rb"database error \(SQLSTATE (08001|08006|57P01)\)\n",
                                            r[3]) for r in during), during[:5]
    assert max(r[1] for r in results) < 6, max(results, key=lambda r: r[1])
    assert all(r[2] in (200, 500) for r in results), [r for r in results if r[2] not in (200, 500)]
    # Both workers serve again, and each said once that it lost the server
    # and once that it has it back.
    assert wait_until(lambda: k.log().count("connected to database kiln_test") == 2, 10), \
        k.describe()
    for _ in range(10):
        assert get(k, "/db").status == 200
    assert sorted(k.worker_pids()) == pids
    log = k.log()
    for pid in pids:
        lost = re.findall(r"\[warn\] %d#worker: postgres: lost the connection to database "
                          r"kiln_test on 127.0.0.1 port \d+: .+; reconnecting" % pid, log)
        back = re.findall(r"\[info\] %d#worker: postgres: connected to database kiln_test on "
                          r"127.0.0.1 port \d+ again" % pid, log)
        assert (len(lost), len(back)) == (1, 1), (pid, lost, back, log[-4000:])
    assert "cannot connect" not in log
    assert "terminating connection due to administrator command" in log


def test_reload_with_queries_pending(kiln_factory, pg_dsn):
    k = make(kiln_factory, pg_dsn)
    conns = []
    for _ in range(3):
        c = RawConn(k.port, timeout=10)
        c.send("GET /pg-sleep?s=0.8 HTTP/1.1\r\nHost: x\r\n\r\n")
        conns.append(c)
    time.sleep(0.3)
    mark = k.mark()
    k.signal(signal.SIGHUP)
    k.wait_ready(2, since=mark)
    assert get(k, "/db").status == 200
    for c in conns:
        assert c.read_response().body == b"slept\n"
        c.close()
    k.wait_log(r"generation 1 stopped", timeout=10, since=mark)


def test_graceful_stop_with_queries_pending(kiln_factory, pg_dsn):
    k = make(kiln_factory, pg_dsn, graceful_timeout="10s")
    conns = []
    for path in ("/pg-sleep?s=0.8", "/queries?n=50", "/pg-sleep?s=0.5"):
        c = RawConn(k.port, timeout=10)
        c.send("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path)
        conns.append(c)
    time.sleep(0.2)
    k.signal(signal.SIGTERM)
    r = [c.read_response() for c in conns]
    assert r[0].body == b"slept\n" and r[2].body == b"slept\n"
    assert r[1].status == 200 and len(json.loads(r[1].body)) == 50
    assert k.wait_exit(10) == 0


def test_a_stop_answers_the_queries_left(kiln_factory, pg_dsn):
    # graceful_timeout passes with requests waiting on pg_sleep: their
    # cancel callbacks cancel the queries; the queries of no request get
    # their callback with 57P01; kiln_pg_query() gives 0 afterwards (the
    # stop hook); the worker exits cleanly (the sanitizer build checks for
    # leaks).
    k = make(kiln_factory, pg_dsn, postgres={"pool_size": 2}, workers=1,
             graceful_timeout="1s")
    assert get(k, "/orphan?s=4").body == b"sent\n"
    assert get(k, "/orphan?s=4").body == b"sent\n"
    assert get(k, "/orphan?s=4").body == b"sent\n"      # queued: a pool of 2
    conns = []
    for _ in range(2):
        c = RawConn(k.port)
        c.send("GET /pg-sleep?s=4 HTTP/1.1\r\nHost: x\r\n\r\n")
        conns.append(c)
    time.sleep(0.3)
    mark = k.mark()
    k.signal(signal.SIGTERM)
    assert k.wait_exit(10) == 0
    log = k.log()[mark:]
    assert log.count("pg_probe: sleep cancelled (stop): kiln_pg_cancel 0") == 2, log
    assert log.count("pg_probe: orphan: 57P01 the worker is stopping") == 3, log
    assert log.count("pg_probe: stop: query id 0") == 1, log
    for c in conns:
        c.close()


# ---- without a usable [postgres] ------------------------------------------------------------


def test_without_postgres_db_answers_503(kiln_factory):
    k = kiln_factory.make(plugins=("db", "pg_probe", "hello"))
    for path in ("/db", "/queries?n=3"):
        st, hdrs, body = k.request(path)
        assert (st, body) == (503, b"no [postgres] dsn configured\n")
        assert hdrs["content-type"].startswith("text/plain")
    assert k.request("/row/1")[0] == 503
    assert k.get_text("/Ann") == (200, "Hello, Ann")
    assert "postgres:" not in k.log()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_a_server_that_refuses_serves_everything_else(kiln_factory):
    k = kiln_factory.make(plugins=("db", "hello"), sections={"postgres": {
        "dsn": "host=127.0.0.1 port=%d dbname=nothing user=nobody" % closed_port()}})
    t0 = time.monotonic()
    st, _, body = k.request("/db")
    assert (st, body) == (500, b"database error (SQLSTATE 08001)\n")
    assert time.monotonic() - t0 < 1
    assert k.get_text("/Ann") == (200, "Hello, Ann")
    assert wait_until(lambda: k.log().count("cannot connect to database nothing") == 2, 5)
    k.wait_log(r"db: /db: .*Connection refused.* \(SQLSTATE 08001\)")
    time.sleep(2)                   # attempts go on, in silence
    assert k.log().count("cannot connect") == 2, k.log()
    assert k.request("/queries?n=2")[0] == 500


def test_a_dsn_that_does_not_parse(kiln_factory):
    k = kiln_factory.make(plugins=("db", "hello"),
                          sections={"postgres": {"dsn": "host=127.0.0.1 colour=blue"}})
    st, _, body = k.request("/db")
    assert (st, body) == (500, b"database error (SQLSTATE 08001)\n")
    assert k.get_text("/Ann") == (200, "Hello, Ann")
    k.wait_log(r'\[error\] .*\[postgres\] dsn: invalid connection option "colour": every '
               r'query fails \(08001\)')


def test_connect_timeout(kiln_factory):
    # A server that accepts TCP connections and says nothing: the attempt
    # ends after connect_timeout, and the queries waiting for it fail then.
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(64)
    try:
        k = kiln_factory.make(plugins=("db", "hello"), server={"workers": 1}, sections={
            "postgres": {"dsn": "host=127.0.0.1 port=%d dbname=mute user=x"
                         % mute.getsockname()[1], "connect_timeout": "1s"}})
        t0 = time.monotonic()
        st, _, body = k.request("/db")
        took = time.monotonic() - t0
        assert (st, body) == (500, b"database error (SQLSTATE 08001)\n")
        assert took < 1.5, took
        k.wait_log(r"cannot connect to database mute on 127.0.0.1 port \d+: timeout expired "
                   r"after 1 s \(connect_timeout\)")
        assert k.get_text("/Ann") == (200, "Hello, Ann")
    finally:
        mute.close()


def test_config_check_does_not_connect(kiln_factory):
    # kiln -t loads the plugins (their init runs, kiln_pg_query gives 0)
    # but opens no connection: the server here sees none.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.5)
    try:
        k = kiln_factory.make(start=False, plugins=("db", "pg_probe"), sections={"postgres": {
            "dsn": "host=127.0.0.1 port=%d dbname=x" % listener.getsockname()[1],
            "pool_size": 2}})
        rc, out = k.check()
        assert rc == 0, out
        assert "pg_probe: init: query id 0" in out, out
        with pytest.raises(socket.timeout):
            listener.accept()
    finally:
        listener.close()
